// Package graph is R2's forwarding graph runtime.
//
// A graph is a set of nodes, each with a fixed-size dispatch vector. A node
// declares the names of its next nodes; Finalize resolves them to the nodes
// present, and a name that is absent resolves to the Drop node at index 0 (an
// unconnected gate drops, as in BESS). Dispatch hands a node the packets in
// its vector; the node pushes each to one of its next nodes by local index.
// A push into a full vector drops the packet and counts the drop against the
// receiving node: drops inside the graph show which node is too slow, and
// the interface nodes throttle Rx to the room downstream so that overload is
// refused at the entry of the graph rather than in the middle.
//
// main builds one graph and clones it into every forwarding thread; Clone
// calls Clone on every node so each thread has its own node instances with
// their own counters. Nodes appear and disappear at runtime (interfaces come
// and go): the control side builds the node, clones it per thread and sends
// it in a message; each thread adds it and re-finalizes. Removing a node
// frees whatever sits in its vector (counted) and re-finalizes so nothing
// points at it any more.
//
// Run visits every node once. It reports whether packets are still queued
// (call it again right away) and the earliest time, in nanoseconds from now,
// at which some node asked to be serviced (-1 for none).
//
// Observability, shared by an engine's threads through CloneCtx.Obs (an
// Obs): runtime statistics per node (runtime.go: calls, packets and
// nanoseconds in counters "<node>/rt_*", switched per run), per-edge packet
// counts (taken once per dispatch from the targets' vector ends; Snapshot
// reports them with the graph), and packet captures on a node's input or
// one edge (capture.go: a tap pointer tested per push, a cBPF filter and a
// per-thread ring that never blocks the thread).
//
// A Graph belongs to one forwarding thread and is not safe for concurrent
// use.
package graph
