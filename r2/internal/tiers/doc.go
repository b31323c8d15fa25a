// Package tiers holds a test that enforces R2's package tiers (see
// README.md): a package imports only from tiers above it, and the
// forwarding objects, graph and nodes stay free of system calls, netlink
// and Thrift, which belong to drivers, the engine and the control plane.
package tiers
