// Package afxdp is R2's fast interface driver: an AF_XDP socket on a
// queue of the interface (one per queue when several threads serve it),
// whose UMEM (the memory the kernel reads and
// writes frames in) is the owner thread's packet pool. A received frame is
// a pool packet from the start, and a packet of the pool is transmitted
// from where it lies, so a frame that enters on one interface of a thread
// and leaves on another is never copied by R2.
//
// # XDP program
//
// A socket receives only what an XDP program redirects to it. Open builds
// that program at run time with cilium/ebpf's asm package (R2 needs no
// clang nor any compiled object):
//
//	return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
//
// with an XSKMAP holding the socket at index Config.Queue; with
// Config.RxRings K > 1 the index is Queue*K plus a hash of the frame's
// flow modulo K, and K sockets on the queue share its buffers
// (flowhash_linux.go). It attaches the
// program through a BPF link, in driver (native) mode if the device has
// it, else in generic (SKB) mode; a link goes away with its file
// descriptor, so the interface is left clean by Close and also when R2
// dies. One program serves the interface: the drivers of its other queues
// share it and put their sockets in its map (ifprog_linux.go); the last
// to close detaches it. It is an xdp.frags program (BPF_F_XDP_HAS_FRAGS)
// when the driver wants multi-buffer frames and the kernel loads it
// (multibuf_linux.go). An interface that already has an XDP program refuses the link
// (EBUSY), and Open fails with ErrUnsupported.
//
// The action when the map has no socket for the frame's queue is XDP_PASS,
// not XDP_DROP. R2 owns the interface and the kernel has no address on it,
// so passed frames die in the kernel's stack anyway (and are counted
// there); but a multi-queue NIC whose traffic lands on queues R2 has no
// socket on then behaves as it does without R2 (AF_PACKET taps and the
// kernel's counters still see those frames) instead of black-holing them
// before anything can notice. The registered open puts a socket on every
// queue (see "Threads and namespaces"); Open itself binds one.
//
// # Host-owned mode
//
// When the interface's addresses belong to the Linux host (R2's host-owned
// mode, driver.HostPasser), SetHostOwned swaps, on the same BPF link, a
// second program in (hostprog_linux.go): it passes to the kernel
// (XDP_PASS) ARP, ICMPv6 ND and MLD (types 130-137 and 143, as the first
// header after IPv6's), IPv4 224.0.0.0/24 and the limited broadcast, IPv6
// ff02::/16, 802.1Q and 802.1ad tagged frames (R2 drops them; the host may
// have VLAN devices), and unicast IPv4 and IPv6 frames to one of the
// interface's addresses or IPv4 subnet broadcasts, kept by the router in
// two BPF hash maps; it redirects everything else as the plain program
// does, frames too short for their headers included (R2 counts and drops
// them). It counts what it passes in a per-CPU array (HostPassed,
// published as IfNode:IF/drv_host_passed). Switched off, the plain
// program is back: an interface that is not host-owned pays nothing.
//
// R2 still resolves its next hops, but their ARP replies and neighbour
// advertisements now go to the kernel only. A small AF_PACKET socket per
// driver (neigh_linux.go: a classic BPF filter keeping untagged ARP and
// ICMPv6 NS/NA, ignoring outgoing frames, a 16-slot TPACKET_V2 ring so
// that a waiting frame costs Recv one load and no system call) receives
// copies of them from the kernel's receive path, and Recv returns them
// after the XDP socket's frames, so EtherDecap learns from them as with
// AF_PACKET (in host-owned mode it answers none). The socket is bound to
// protocol 0 (no tap in the kernel) while the interface is not
// host-owned; its descriptor is the driver's SideFd, polled by the owner
// thread beside Fd. Copies are counted in Config.NeighCopies
// (drv_neigh_copies) and NeighErrors.
//
// The classifier costs 24 ns per IPv4 transit frame and 29 per IPv6 one
// over the plain program (36 ns; BenchmarkXDPProg, medians of 9
// alternating rounds, ranges 20-30 and 20-32), mostly its hash lookup;
// on the whole forwarding path that is below this machine's noise
// (BenchmarkForwardHostOwned).
//
// # Modes
//
// Config.Mode picks how frames move; ActiveMode tells what Open got:
//
//   - "zero-copy" (ModeZeroCopy): XDP_ZEROCOPY bind, driver-mode program;
//     the NIC DMAs into pool packets. Needs driver support (i40e, ice,
//     mlx5, ...). Bound with XDP_USE_NEED_WAKEUP: the driver may sleep,
//     and Recv/Send wake it (recvfrom, sendto) only when the fill or Tx
//     ring asks.
//   - "copy (driver XDP)" (ModeCopy): XDP_COPY bind, driver-mode program;
//     the kernel copies each frame once into or out of the pool. Any
//     device with native XDP, veth included.
//   - "copy (generic XDP)" (ModeSKB): XDP_COPY bind, generic-mode
//     program, after the kernel has built an skb; any device.
//
// ModeAuto tries them in that order. When every mode allowed fails, the
// error wraps ErrUnsupported and lists each mode's reason, so the caller
// can log it and fall back to AF_PACKET. On veth (Linux 6.18) zero-copy
// fails with EOPNOTSUPP at bind, and ModeAuto gets "copy (driver XDP)".
//
// # Buffer ownership
//
// Every pool packet is, at any time, either R2's or the kernel's through
// exactly one socket; a bitmap per driver (one bit per pool packet)
// records the latter. The driver lends the kernel Config.FillSize packets
// on the fill ring (by default the ring size or a quarter of the pool,
// whichever is smaller, so a thread with several interfaces keeps packets
// for its graph). An Rx descriptor's address gives the packet (addr/2048)
// and the data's offset in it (addr%2048: 256, XDP_PACKET_HEADROOM, in
// copy mode), and Recv hands the packet over with SetHeadLen, then lends
// as many fresh ones from the pool; when the pool is empty it counts
// RxNoBuf, and frames keep coming until the kernel's stock runs out (then
// the kernel drops, Stats.RxDropped). A descriptor for a packet the driver
// did not lend is never handed out (RxErrors), nor is a frame longer than
// MTU+18, whose buffer goes straight back to the fill ring.
//
// Send puts a packet of the pool on the Tx ring as it is (address
// index*2048+Head, length Len) and frees it to the pool when the
// completion ring returns its address, which Recv and Send both reap. A
// packet of another pool (another thread's, handed over) is copied into a
// packet of this pool first, counted in Config.TxCopies, and freed to the
// caller's pool at once, which sends it home. Frames longer than MTU+18,
// and frames for which the Tx ring or the pool has no room, are dropped
// and counted in TxErrors: Send never waits.
//
// Open does not touch the pool (it may run while the owner thread uses
// it): the first Recv fills the fill ring, and Pending is true until then.
// Close gives back every packet the kernel still holds through the socket
// (fill ring, Rx ring, Tx ring, awaiting completion) with Packet.Return,
// which is safe while the owner thread keeps running other interfaces; in
// a quiet pool, after Reclaim, Stats().InFlight is 0. In zero-copy mode
// Close first waits briefly: the kernel detaches the buffer pool from the
// NIC queue in a work item that may run after close(2) has returned.
//
// # Shared UMEM
//
// Interfaces owned by one thread share its pool, so their sockets share
// one UMEM. The first driver of a pool registers it (XDP_UMEM_REG: the
// pool memory, 2048-byte chunks, no headroom); later drivers of the pool
// bind with XDP_SHARED_UMEM and the fd of a socket of the group. The
// kernel insists that such a bind carry no other flag (XDP_COPY,
// XDP_ZEROCOPY or XDP_USE_NEED_WAKEUP with it is EINVAL): a shared socket
// inherits the UMEM's mode. Because it is on another device (or queue),
// it has fill and completion rings of its own (Linux 5.10+), so each
// driver keeps its own accounting. A driver's extra receive sockets
// (Config.RxRings) are on the same device and queue as its first, and
// bind to that one: they share its fill and completion rings (and the
// driver's accounting), adding only an Rx ring each. The kernel counts the UMEM's users, so the group survives
// the close of the socket that registered it. A driver whose mode differs
// from the group's (a copy-only device beside a zero-copy group), or whose
// shared bind fails, registers a UMEM of its own over the same memory
// instead: the kernel pins the pages twice, and forwarding between the two
// still copies nothing in R2 (SharedUMEM reports which case applies).
//
// # Kicks and readiness
//
// In copy mode the kernel transmits only inside a sendto(fd, NULL, 0,
// MSG_DONTWAIT) kick, at most XDP_MAX_TX_SKB_BUDGET frames per kick. R2
// raises that budget (Linux 6.17+) from the kernel's 32 to Config.TxBudget,
// 512 by default, so one kick sends a whole batch; Send kicks once per call
// and again while the kernel progresses and leaves frames behind, within a
// bound. Need-wakeup is not used in copy mode: Tx needs the kick anyway
// and Rx never sleeps.
//
// Fd is the socket (with several receive rings, an epoll instance holding
// their sockets, driver.PollSet): it polls readable when an Rx ring has
// frames.
// Pending is true while the fill ring was never filled, the Rx ring has
// frames, completions wait to be reaped, or frames remain on the Tx ring
// after the kicks; not for frames merely in flight, whose completions need
// no action and are reaped by the next Recv or Send (waiting for them
// would make the owner thread spin). A down interface stops the kicks
// rather than spinning; its frames wait on the Tx ring, and Send drops
// once it is full.
//
// # Kernel facts found on the way (Linux 6.18)
//
//   - A queue stays busy (bind: EBUSY) for a moment after its socket is
//     closed: the kernel releases the buffer pool after an RCU grace period
//     in a work item. Open retries EBUSY for up to a second, so an
//     interface can be reopened at once; a queue held by a live socket
//     still fails, after that second.
//   - A copy-mode UMEM frame holds at most 2048-256 = 1792 bytes. Larger
//     frames (MTU up to 36,846) come in several descriptors with
//     XDP_USE_SG and an xdp.frags program (Linux 6.6+), assembled into a
//     big packet of the thread's companion pool; without them the MTU is
//     at most 1774 and larger frames are dropped by the kernel
//     (multibuf_linux.go).
//   - On veth, attaching any XDP program to one end, an xdp.frags one
//     included, turns the peer's TSO off ("off [fixed]" in ethtool -k;
//     checked on 6.18, TestAFXDPJumbo logs it); GSO stays on, so the peer
//     segments in software before the veth and no super-frame reaches the
//     socket. Nothing larger than the MTU arrives.
//   - XDP sees frames before VLAN tag stripping: tagged frames arrive as
//     on the wire.
//   - XDP loses the "checksum not yet computed" mark (CHECKSUM_PARTIAL)
//     that a local sender's veth hands over when the sender uses checksum
//     offload, which AF_PACKET reports. On veth interfaces (CsumAuto) Recv
//     therefore takes a TCP or UDP checksum whose field holds the
//     pseudo-header sum, the partial state, for what it is and gives the
//     packet the metadata AF_PACKET's vnet header would
//     (packet.GSONeedsCsum; markPartial; counted in RxCsumFixed): GRO
//     merges such segments without checking them, an output that offloads
//     (AF_PACKET, or this driver's super-frame socket) hands them on
//     partial, and the GSO node finishes them for any other. Hosts with
//     checksum offload on work through AF_XDP, and no checksum is
//     computed where none is needed. (Until 2026-12-05 Recv completed
//     every such checksum, and GRO verified it again.)
//     NICs hand over frames as they were on the wire, with complete
//     checksums, and are not looked at.
//   - AF_XDP Tx in copy mode on veth builds an ordinary skb, which the peer
//     receives whether or not it has an XDP program. What needs an XDP
//     program (or GRO) on the receiving veth is XDP_REDIRECT to it through
//     a devmap and XDP_TX: AttachPass provides a minimal XDP_PASS program
//     for such topologies and for the benchmark tool. The tests run both
//     with and without it on the peer.
//   - XDP sees everything the device accepts: veth filters nothing, but a
//     NIC's MAC filter does, so Config.Promisc holds promiscuous mode
//     through an idle AF_PACKET socket's PACKET_MR_PROMISC membership.
//
// # Super-frames
//
// AF_XDP sockets send frames as they are: no segmentation and, in copy
// mode, no checksum offload. A driver therefore also opens a transmit-only
// AF_PACKET socket of the interface with PACKET_VNET_HDR (package
// r2/driver/vnet) and reports itself a driver.Offloader: GSO super-frames
// and frames with a checksum left to finish leave whole through it, the
// kernel (or the device's TSO) cutting and checksumming them; everything
// else takes the Tx ring. Send keeps a flow's order across the two: plain
// frames follow the socket while it still has frames in the kernel (a
// qdisc holds them; the Tx ring bypasses it), and a frame for the socket
// waits in the driver while the device has left descriptors on the Tx
// ring (order_linux.go; counter drv_tx_order_held).
//
// In generic mode super-frames also arrive: a veth peer's TSO or a NIC's
// GRO hands the program 64 KiB TCP frames that an XDP socket would take
// without their GSO metadata. The program passes those addressed to the
// interface to the stack with their destination MAC marked (and stamped,
// and their ring noted), where another AF_PACKET socket of the driver,
// with PACKET_VNET_HDR, takes them whole before the IP layer, which drops
// them as not its own; Recv puts them back in their flow's order among
// the ring's frames (super_linux.go; counter drv_rx_vnet).
// Config.NoSuperFrames turns both sockets off: the GSO node segments
// first, and received super-frames are dropped as oversized.
//
// # Threads and namespaces
//
// Every receive queue of an interface gets a socket, since frames of a
// queue without one would go to the kernel's stack. An interface served
// by several threads (the registered open with a group, r2intf add
// --threads) spreads its queues over them: member i of the group binds
// every queue q with q mod members == i, and each thread receives and
// sends on its own sockets with its own pool as UMEM. Threads beyond the
// interface's queues do not serve it (driver.ErrNotServing; they hand
// their packets for it to the owner). A thread with several queues (one
// thread on a multi-queue NIC, two threads on four queues) drives their
// sockets as one driver (queueSet): they share its UMEM, each with its
// own fill ring, lent an equal share of the fill packets one queue would
// get, and Recv serves the queues in turn.
//
// Recv, Send and Pending belong to the owner thread of Config.Pool (the
// pool passed to them must be that pool). Stats may be called from any
// goroutine. Close must be called after the owner has stopped using the
// driver. Open, AttachPass and the program attach resolve the interface
// in the network namespace of the calling OS thread: call them on a
// locked thread in the interface's namespace. The socket stays bound to
// that namespace's device whatever thread uses it later.
//
// # Performance
//
// Measured on a shared 2-core VM (Linux 6.18, veth, copy mode with driver
// XDP; a getpid(2) costs 230 ns there, and a single AF_PACKET write of a
// 64-byte frame 3.5 µs), figures varying by up to 2x with the machine's
// load:
//
//   - Recv: 23 to 25 ns per frame of user-space work, batches of 256
//     (BenchmarkRecv/queues=1); one thread's set of two queues, both fed,
//     24 to 28 ns (queues=2).
//   - Forwarding between two interfaces of one thread (shared UMEM, no
//     copy in R2): 2.2 to 3.2 µs per frame for the forwarder, nearly all
//     of it the kernel's copy-mode transmission and the peer's receive
//     inside the Tx kick, at 0.004 syscalls per frame; the whole loop,
//     generator and sink included on one goroutine, 150 to 220 thousand
//     frames per second (BenchmarkForward).
//   - Send alone: 300 to 800 thousand frames per second; raising the Tx
//     budget from 32 to 512 cuts the kicks per frame from 1/32 to 1/256,
//     but its throughput gain is lost in this machine's noise
//     (BenchmarkSend).
//   - Zero allocations per Recv and Send.
package afxdp
