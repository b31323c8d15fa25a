// Package daemon is the R2 router daemon: it reads the configuration, starts
// the forwarding threads, serves the Thrift configuration APIs on a Unix
// socket (and optionally TCP), attaches Linux interfaces through the
// registered drivers, and keeps counters and forwarding-path logs in shared
// memory for r2cnt and r2log.
//
// The r2 command is only
//
//	func main() { os.Exit(daemon.Main(os.Args[1:])) }
//
// so another module can build its own router binary the same way: import
// this package, register its own graph nodes and drivers (a driver package
// calls driver.Register in its init, so a blank import is enough), and call
// Main. Run is Main with the standard error and the stop signal given, for
// tests and for programs that embed the daemon.
//
// Usage:
//
//	r2 [-c FILE] [-i INSTANCE] [flags]
//
// The configuration file uses the original R2 INI format ([general] threads,
// pkts, particles, particle_sz, plus R2-in-Go keys documented in README.md);
// flags override it and are checked exactly like the keys they override.
// SIGINT or SIGTERM stop the daemon: interfaces are released (their
// promiscuous mode ends with the sockets), and the API socket and
// shared-memory files are removed.
//
// The daemon needs Linux (epoll, AF_PACKET, AF_XDP); elsewhere Main and Run
// only report that and return 1.
package daemon
