// Package afpacket is R2's driver for ordinary Linux interfaces: a raw
// AF_PACKET socket bound to one interface, with a TPACKET_V3 receive ring
// shared with the kernel and batched transmission through sendmmsg(2).
//
// # Receive
//
// The kernel writes received frames into a ring of Config.Blocks blocks of
// Config.BlockSize bytes mapped into the process. It fills one block at a
// time and hands it to user space (block_status = TP_STATUS_USER) when the
// block is full or when Config.BlockTimeout has passed since the block got
// its first frame; the socket then polls readable. Recv copies the frames
// of ready blocks, in order, into packets of the caller's pool and gives
// each block back (block_status = TP_STATUS_KERNEL, an atomic store that
// orders the reads of the block before it) once every frame in it has been
// copied. A batch may end in the middle of a block: the driver remembers
// its place, and Pending reports true while frames wait, so the owner
// thread keeps calling Recv instead of sleeping. Recv makes no system call.
//
// Copying (rather than lending ring memory to the graph) keeps blocks short
// lived: a block goes back to the kernel as soon as it is read, whatever
// the graph does with the packets, so a slow consumer cannot pin the ring.
//
// The price of TPACKET_V3 is latency at low rates: a block that is not full
// reaches user space only when its retire timer fires, up to BlockTimeout
// after its first frame (measured on Linux 6.18: 0.6 to 1 ms with the 1 ms
// default, the timer running periodically; kernels whose timer counts
// jiffies round it up to a tick, 4 ms with HZ=250). Under load, blocks
// fill long before the timer and the timeout costs nothing.
//
// Frames are checked before they use a packet: a frame the kernel truncated
// (tp_snaplen < tp_len, larger than a block) or longer than MTU+18 bytes
// (Ethernet header plus one 802.1Q tag; never more than packet.MaxData) is
// dropped and counted in RxErrors. The kernel strips a VLAN tag into the
// frame's metadata on receive; Recv puts it back, so the graph sees the
// frame as it was on the wire (and a router without VLANs drops it, rather
// than routing a tagged frame as if it were untagged). When the pool is
// empty Recv stops, counts RxNoBuf once per call and leaves the frame in
// the ring for a later call.
//
// On interfaces whose peer uses offloads (a veth whose other end belongs to
// a local stack, with the default checksum offload, TSO and GSO), frames
// may arrive with their TCP or UDP checksum not yet computed
// (TP_STATUS_CSUMNOTREADY): Recv completes it (counted in RxCsumFixed), as
// hardware would have. Super-frames above the MTU (TSO/GSO) are dropped as
// oversized: turn those offloads off on such links, as r2/topo does. Real
// NICs hand over wire frames.
//
// The socket ignores outgoing frames (PACKET_IGNORE_OUTGOING): R2 does not
// read back what it sends, nor what the kernel itself sends on the
// interface. It enables promiscuous mode with a PACKET_MR_PROMISC
// membership, which the kernel drops when the socket closes, so the
// interface's promiscuity is restored even if R2 dies.
//
// # Transmit
//
// Send gives a batch to the kernel with one sendmmsg(2) call whose iovecs
// point straight at the packets' data (no copy in user space). The message
// headers are preallocated in the Driver. Transmission bypasses the qdisc
// (PACKET_QDISC_BYPASS): the frame goes straight to the driver's xmit, as
// a router wants (no second queue, no head-of-line blocking behind local
// traffic); a side effect is that packet taps (tcpdump) on the same
// interface do not see R2's transmissions. A full device (EAGAIN, ENOBUFS)
// drops and counts the rest of the batch in TxErrors: Send never waits.
//
// # Threads
//
// Recv, Send and Pending belong to the owner thread. Stats may be called
// from any goroutine. Close must be called after the owner has stopped.
//
// Open must run on a thread in the network namespace of the interface: the
// socket stays bound to that namespace's device whatever thread uses it
// later.
package afpacket
