// Package packet holds R2's packet buffers and the per-thread pools they come
// from.
//
// A Packet is metadata plus a fixed 2048-byte buffer. The data starts after
// Headroom bytes so that encapsulation (Ethernet, and later VLAN or tunnel
// headers) is prepended in place, never copied.
//
// Every forwarding thread owns one Pool, preallocated at start: Get never
// allocates and never blocks; when the pool is empty it returns nil and the
// caller (the interface Rx path) drops at the entry of the graph and counts
// it. A packet may be freed on another thread than the one that allocated it
// (it was handed to another thread's interface for Tx); it then goes back to
// its owner through a bounded lock-free return ring sized to hold the whole
// pool, so a return can never fail. The owner reclaims returned packets when
// its free stack runs low and at the start of each graph run.
//
// Go has no destructors, so packet lifetime is explicit: every path through
// the graph ends in a push to another node or in Free. Pools count gets,
// frees and double frees so a test can prove that nothing leaks.
package packet
