// Package engine runs R2's forwarding threads.
//
// New builds one graph from the node registry (package registry: every
// per-graph node, with the declared interceptions) and clones it into N
// forwarding threads: goroutines locked to OS threads, optionally pinned to
// CPUs, each with its own packet pool, counters, store view and epoll set.
// AddInterface builds an interface's nodes from the per-interface
// declarations, clones them for every thread and sends each thread its
// clones in one message; DelInterface removes exactly those nodes.
//
// Control to forwarding: each thread has a message queue that it drains
// between graph runs; Publish sends one message per thread, kicks idle
// threads through their eventfd and waits until every thread has handled
// it. That acknowledgement is what the route tables' double-copy protocol
// (fwd.IPv4RIB) needs: the control side changes the inactive copy,
// publishes it, waits, and only then touches the copy the threads stopped
// using. Forwarding threads never take a lock.
//
// Forwarding to control: nodes report on a bounded channel (Uplink); the
// router reads it and relays what it decides to all threads with Send.
//
// What the messages say (which routes an address implies, whether a route
// is valid, which neighbours to trust) is not decided here but by package
// router, the engine's user.
//
// A thread with nothing to do sleeps in epoll_wait on its interfaces' fds
// and its eventfd, following poll.Waker's protocol so that no wakeup is
// lost and a busy thread costs its producers no syscalls. For Config.Warm
// after its last packet a thread sleeps in short slices and, with
// Config.WarmRawWait, through a system call the Go runtime does not see,
// so that the next packet finds it holding its P; a cold thread's wait is
// an ordinary system call, which lets the runtime idle. Busy polling is a
// per-engine option.
//
// All exported methods of Engine are safe for concurrent use.
package engine
