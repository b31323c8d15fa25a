// Package netnsx runs code in network namespaces safely from Go and creates
// and removes named namespaces. Both r2/topo (test topologies, the benchmark
// tool) and r2/internal/nstest (driver tests) build on it.
//
// A namespace belongs to an OS thread, not to a goroutine, so every switch
// happens on a dedicated locked thread that is switched back afterwards; a
// thread that cannot be switched back is left locked and dies with its
// goroutine, so no other goroutine ever runs in the wrong namespace.
package netnsx
