// Package engine runs R2's forwarding threads and the control side that
// configures them.
//
// New builds the graph once (L3Parse, IPv4Fwd, IPv4Local, EncapMux) and
// clones it into N forwarding threads: goroutines locked to OS threads,
// optionally pinned to CPUs, each with its own packet pool, counters and
// epoll set. Interfaces are added at runtime: the control side opens the
// driver, builds the interface's IfNode, EtherDecap and EtherEncap, clones
// them for every thread and sends each thread its clones in a message.
//
// Control to forwarding: each thread has a message queue that it drains
// between graph runs; Broadcast sends one message per thread, kicks idle
// threads through their eventfd and waits until every thread has handled
// it. That acknowledgement is what the route table's double-copy protocol
// (fwd.IPv4RIB) needs: the control side changes the inactive copy, publishes
// it, waits, and only then touches the copy the threads stopped using.
// Forwarding threads never take a lock.
//
// Forwarding to control: nodes report learned MACs on a bounded channel
// (msg.Uplink); the engine's relay goroutine keeps the control-side
// neighbour table and relays news to every thread's EtherEncap.
//
// A thread with nothing to do sleeps in epoll_wait on its interfaces' fds
// and its eventfd, following poll.Waker's protocol so that no wakeup is
// lost and a busy thread costs its producers no syscalls. Busy polling is a
// per-engine option.
//
// All exported methods of Engine are safe for concurrent use: they take the
// engine's lock (the R2 context lock).
package engine
