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
// Packets larger than a buffer (GSO/GRO super-frames of up to 64 KiB that
// AF_PACKET hands over with vnet headers, jumbo frames) come from a second,
// smaller pool of the same thread: big packets, one contiguous buffer of
// BigBufSize (68 KiB) each (NewBigPool, Pool.SetBig). A driver takes a big
// packet only for a frame that does not fit a normal one, and Free sends a
// big packet back to its pool. The alternative, chains of 2 KiB buffers,
// was rejected: every node that reads a header or sums a checksum would
// have to handle a header split across buffers, and drivers would gather
// iovecs per chain; a contiguous buffer keeps every node unchanged, and the
// 64-byte path pays only one more compare in Free for packets of another
// pool and a 10-byte clear of the GSO metadata in Get (BenchmarkIPv4Path in
// r2/router, 2026-12-02, interleaved runs: median 81.7 cpu-ns a packet
// before, 83.5 after, inside the spread of 78–96; 0 allocations). Chains
// were not built, so their cost on this path is not measured. A 64 KiB super-frame costs
// one copy out of the ring (as every frame does) and, when the output
// cannot take it whole, about 11 µs of software segmentation into 45
// normal packets (BenchmarkSegment in gnodes/layer3/gso: ~240 cpu-ns a
// 1448-byte segment). Big packets are 256 per thread by default; as fresh
// zero pages they take memory only once used.
//
// Packet.GSO carries the virtio_net_hdr facts of a super-frame or of a
// frame whose TCP/UDP checksum was left to offload (type, segment size,
// checksum start and offset, NEEDS_CSUM, DATA_VALID) through the graph:
// forwarding checks the MTU against one segment, and an output that cannot
// take such a packet gets it from the GSO node, segmented and checksummed.
//
// Go has no destructors, so packet lifetime is explicit: every path through
// the graph ends in a push to another node or in Free. Pools count gets,
// frees and double frees so a test can prove that nothing leaks.
package packet
