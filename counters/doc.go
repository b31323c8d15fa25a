// Package counters keeps R2's counters in a shared-memory file that other
// processes (r2cnt) map read-only, so reading counters never asks the daemon
// anything and never slows the forwarding threads.
//
// Every node clone allocates its own counters, tagged with its thread, from
// the control side (allocation takes a lock; it happens when a graph or a node
// is cloned, never per packet). A forwarding thread then writes its own
// 64-bit slots with plain stores: no atomics, no locks, no sharing of cache
// lines with other threads' hot counters in the common case. Readers accept
// that a value may be a few packets old.
//
// # File layout
//
// All integers are little-endian; offsets are in bytes from the start of the
// file unless said otherwise.
//
//	Header (128 bytes)
//	  0  [8]byte  magic "R2CNTRS\x00"
//	  8  uint32   version (1)
//	 12  uint32   entry size in bytes (32)
//	 16  uint64   directory offset
//	 24  uint64   directory capacity (entries)
//	 32  uint64   names offset
//	 40  uint64   names capacity (bytes)
//	 48  uint64   values offset (8-byte aligned)
//	 56  uint64   values capacity (uint64 slots)
//	 64  uint64   directory entries in use; written after the entry it
//	              covers, so a reader never sees a half-made entry
//	 72  uint64   names bytes in use
//	 80  uint64   generation: bumped on every allocation or release
//	 88..127      reserved (zero)
//
//	Directory entry (32 bytes)
//	  0  uint32   name offset within the names area
//	  4  uint16   name length
//	  6  uint8    kind: 1 single value, 2 packets+bytes pair, 3 array
//	  7  uint8    flags: bit 0 set while the entry is live (a released
//	              entry stays in the directory with the bit cleared)
//	  8  uint32   forwarding thread that writes the values
//	 12  uint32   number of values
//	 16  uint64   index of the first value, in uint64 slots from the start
//	              of the values area
//	 24  uint64   reserved
//
// Names are UTF-8, not NUL-terminated, conventionally "node/counter", for
// example "IPv4Fwd/no_route" or "IfNode:veth0/rx". The same name appears once
// per thread; readers sum the threads for a total.
//
// Every graph node also has "<node>/enq" (packets pushed into it),
// "<node>/vec_full", and the runtime statistics, single values that move
// only while they are switched on (API Graph.set_runtime; r2top does it):
// "<node>/rt_calls" (dispatches that handled packets), "<node>/rt_pkts"
// (packets handled, including those an interface node received) and
// "<node>/rt_ns" (monotonic nanoseconds spent in the node). Package graph
// (runtime.go) says how they are measured.
package counters
