// Graph: operating the forwarding graph. Runtime statistics per node
// (calls, packets, time; the values are counters in shared memory, see
// r2/graph/runtime.go), each thread's live graph with per-edge packet
// counts, and packet captures on a node's input or on one edge.

include "common.thrift"

namespace go graphapi
namespace py r2api.graph

// Edge is one of a node's next nodes and the packets pushed along it.
struct Edge {
  1: string to
  2: i64 pkts
}

// Node is a node of a thread's graph, in run order.
struct Node {
  1: string name
  2: i32 rank         // pipeline stage (graph.Rank*); 1000: unranked
  3: i64 enq          // packets pushed into it (Drop: packets dropped by pushes)
  4: list<Edge> edges // by next index; index 0 is Drop
}

// ThreadGraph is one forwarding thread's graph.
struct ThreadGraph {
  1: i32 thread
  2: i32 threads      // how many forwarding threads there are
  3: list<Node> nodes
}

// BpfInsn is one classic BPF instruction (struct sock_filter; tcpdump -dd
// prints them as { code, jt, jf, k }).
struct BpfInsn {
  1: i32 code
  2: i32 jt
  3: i32 jf
  4: i64 k
}

// CaptureSpec says what to capture.
struct CaptureSpec {
  1: string node           // packets pushed to this node
  2: string from_node = "" // only those pushed by this node (one edge); "": any
  3: list<BpfInsn> filter  // run on the Ethernet frame; empty: everything
  4: i32 snap = 0          // bytes kept per packet; 0: the whole frame
  5: i32 lease_ms = 5000   // stop if capture_read is not called this long
  6: i32 ring_kb = 0       // ring per thread; 0: 1024
}

// Packet is one captured frame. Frames seen before their Ethernet header is
// written (made at layer 3) get a zero Ethernet header.
struct Packet {
  1: i64 ts_ns      // unix time of the graph run that pushed it
  2: i32 orig_len   // the frame's length (data may be shorter: snap)
  3: i32 thread
  4: binary data
}

// CaptureBatch is what capture_read returns.
struct CaptureBatch {
  1: list<Packet> pkts
  2: i64 matched    // packets that passed the filter so far
  3: i64 lost       // of those, dropped because a ring was full
}

service Graph {
  // set_runtime turns the per-node runtime statistics on or off.
  void set_runtime(1: bool on) throws (1: common.ApiErr err)

  // runtime reports whether they are on.
  bool runtime() throws (1: common.ApiErr err)

  // graph returns thread's graph with per-edge packet counts.
  ThreadGraph graph(1: i32 thread) throws (1: common.ApiErr err)

  // capture_start starts a capture and returns its handle. At most 8 run
  // at once (BUSY beyond).
  i64 capture_start(1: CaptureSpec spec) throws (1: common.ApiErr err)

  // capture_read takes up to max captured packets (oldest first) and
  // renews the capture's lease. NOT_FOUND once the capture is stopped or
  // its lease ran out.
  CaptureBatch capture_read(1: i64 handle, 2: i32 max) throws (1: common.ApiErr err)

  // capture_stop stops a capture.
  void capture_stop(1: i64 handle) throws (1: common.ApiErr err)
}
