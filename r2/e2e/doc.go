// Package e2e holds R2's end-to-end tests: they build the real r2 daemon
// and utilities, create the h1 - r2 - h2 topology in network namespaces
// (r2/topo), configure the router only through the utilities, and check
// real traffic: ping, traceroute, a TCP transfer with a checksum, malformed
// frames from a raw socket, runtime changes under traffic, counters, logs
// and a clean shutdown. They need root, as CI has.
package e2e
