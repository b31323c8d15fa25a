// Package afpacket is R2's driver for ordinary Linux interfaces: a raw
// AF_PACKET socket bound to one interface, with a receive ring shared with
// the kernel (TPACKET_V2 by default, or TPACKET_V3) and batched
// transmission through sendmmsg(2).
//
// # Receive
//
// The kernel writes received frames into a ring mapped into the process,
// and Recv copies them, in ring order, into packets of the caller's pool.
// Config.Version chooses the ring's layout at Open (the driver then walks
// it with code of that version only; Recv makes one interface call per
// batch):
//
//   - RingV2 (the default): Config.Frames slots of Config.FrameSize bytes
//     (4096 of 2 KiB, 8 MiB), one frame per slot. The kernel marks each
//     slot TP_STATUS_USER as soon as it has written the frame into it, and
//     wakes the poller; Recv gives each slot back (tp_status =
//     TP_STATUS_KERNEL) right after copying its frame. When the ring is
//     full the kernel drops frame by frame until a slot comes back.
//   - RingV3: Config.Blocks blocks of Config.BlockSize bytes (64 of
//     64 KiB, 4 MiB), frames packed back to back. The kernel fills one
//     block at a time and hands it over (block_status = TP_STATUS_USER)
//     when it is full or when Config.BlockTimeout has passed since the
//     block got its first frame; Recv gives the block back once every
//     frame in it has been copied. When the ring is full the kernel
//     freezes it, dropping, until a block comes back.
//
// Either way the give-back is an atomic store, which orders the reads of
// the slot or block before it, and the socket polls readable while the
// kernel has handed something over that Recv has not taken. A batch may
// end anywhere: the driver remembers its place, and Pending reports true
// while frames wait, so the owner thread keeps calling Recv instead of
// sleeping. Recv makes no system call, except one per frame longer than a
// TPACKET_V2 slot (see "Frames longer than a slot").
//
// Copying (rather than lending ring memory to the graph) keeps slots and
// blocks short lived: they go back to the kernel as soon as they are read,
// whatever the graph does with the packets, so a slow consumer cannot pin
// the ring.
//
// # TPACKET_V2 or TPACKET_V3
//
// The price of TPACKET_V3 is latency at low rates: a block that is not full
// reaches user space only when its retire timer fires, up to BlockTimeout
// after its first frame (on Linux 6.18, 0.6 to 1 ms with the 1 ms default,
// the timer running periodically; kernels whose timer counts jiffies round
// it up to a tick, 4 ms with HZ=250). Every hop through R2 then adds that
// much: a ping through R2 took about 1.7 ms where the kernel forwards in
// 0.05 ms, and TCP, whose window is paced by round trips, suffers too.
// Under load, blocks fill long before the timer and the timeout costs
// nothing. TPACKET_V2 hands each frame over at once, at the cost of some
// kernel work per frame (a slot status to look up and a wakeup check for
// each frame rather than each block) and of a ring whose capacity counts
// frames, not bytes (4096 frames whatever their size, where V3's 4 MiB
// hold about 25000 minimum-size frames or 2500 full-size ones).
//
// Measured on Linux 6.18 (a VM with 2 vCPUs shared with other work, so
// the medians matter, not the tails), veth pair between two namespaces:
//
//   - one-way latency of a lone 64-byte frame, peer's send(2) to Recv's
//     return on a thread woken from poll(2) (BenchmarkRecvLatency, 200
//     frames 10 ms apart, median of 5 runs): V2 p50 55 µs, p90 126 µs;
//     V3 p50 601 µs, p90 988 µs, p99 1.6 ms; a plain AF_PACKET socket
//     read with recvfrom(2), the floor, p50 63 µs, p90 116 µs. (The p99
//     of V2 and of the plain socket, 0.5 to 30 ms, was the machine's
//     scheduling noise.)
//   - forwarding throughput, Recv then Send back on the same veth end,
//     with the peer's driver generating and sinking on the benchmark's
//     single thread (BenchmarkRecvSend, 30 alternating runs, medians):
//     64-byte frames V2 156k frames/s (6.4 µs of CPU per frame, both
//     ends' kernel work included), V3 176k (5.4 µs); 1514-byte frames V2
//     133k (7.0 µs), V3 154k (6.4 µs). Paired run by run, V2 forwards 9
//     to 10% fewer frames per second. Recv alone costs about the same in
//     both (BenchmarkRecv: 40 to 60 ns per 64-byte frame, about 100 ns per
//     1514-byte one); the difference is the kernel's (in a profile of V2,
//     packet_lookup_frame, which reads the next slot's status word, takes
//     7% of the time).
//
// R2 defaults to V2: a router is idle or lightly loaded most of the time,
// where V3 adds a millisecond per hop, and V2's cost under load is about
// 10%. Choose V3 for an interface that carries a steady high rate of small
// frames, where its denser ring and lower per-frame cost matter more than
// latency.
//
// Frames are checked before they use a packet: a frame the kernel truncated
// (tp_snaplen < tp_len, larger than a V3 block, or than a V2 slot without
// vnet headers or without room on the copy path's queue) or longer than MTU+18 bytes
// (Ethernet header plus one 802.1Q tag; never more than packet.MaxData) is
// dropped and counted in RxErrors. The kernel strips a VLAN tag into the
// frame's metadata on receive; Recv puts it back, so the graph sees the
// frame as it was on the wire (and a router without VLANs drops it, rather
// than routing a tagged frame as if it were untagged). When the pool is
// empty Recv stops, counts RxNoBuf once per call and leaves the frame in
// the ring for a later call.
//
// # Vnet headers (GSO/GRO)
//
// On interfaces whose peer uses offloads (a veth whose other end belongs to
// a local stack, with the default checksum offload, TSO and GSO; a NIC
// with GRO), the kernel hands over super-frames of up to 64 KiB and frames
// whose TCP or UDP checksum is not yet computed (TP_STATUS_CSUMNOTREADY).
// By default the socket has PACKET_VNET_HDR (set before the ring, which the
// kernel requires): every frame comes with a virtio_net_hdr just before it
// (at tp_mac-10) that Recv turns into packet.GSO. A frame that does not
// fit a normal packet goes into a big one (packet.Pool.SetBig). A
// super-frame that arrived without NEEDS_CSUM (GRO) is given the
// pseudo-header sum so that all super-frames leave in the same state.
// Only plain frames are held to MTU+18 bytes; super-frames are checked
// segment by segment by forwarding. Send prepends a virtio_net_hdr
// (written in the packet's headroom, no extra iovec) describing the
// packet's GSO metadata, so the kernel segments and finishes checksums
// (zeros for a plain packet).
//
// # Frames longer than a slot (the copy path)
//
// A TPACKET_V2 slot holds one frame, so slots that could take a 64 KiB
// super-frame (17 pages each, as the previous layout had) would make every
// frame, 64 bytes or 1500, land on new pages and a 1024-slot ring take
// 68 MiB per interface. The slots stay 2 KiB instead (Config.FrameSize,
// whatever fits a normal packet), and the socket has PACKET_COPY_THRESH:
// for a frame longer than a slot the kernel still fills the next slot with
// the header, the virtio_net_hdr and the part that fits, marks it
// TP_STATUS_COPY, and queues the whole frame (a reference to the skb, no
// copy) on the socket's ordinary receive queue. Recv reads such a frame
// with one recvmsg(2) straight into a big packet, where copying it out of
// a big slot cost two copies (into the slot, then into the packet). Slots
// and queue entries are made under the same lock, so the n-th
// TP_STATUS_COPY slot stands for the n-th queued frame and order is kept
// with the short frames around it; whatever drops such a slot (a frame over
// the MTU, no big pool, Shed) reads its queue entry too, so the pairing
// holds, and a length that differs from the slot's tp_len is counted in
// RxErrors. The queue is bounded by the receive buffer (CopyRcvBuf, set
// with SO_RCVBUFFORCE): a long frame that arrives while it is full gets
// a truncated slot without TP_STATUS_COPY, dropped and counted in
// RxErrors. Frames read this way are counted in Config.RxLong
// (drv_rx_long) and each costs one system call (Syscalls); short frames
// still cost none. TPACKET_V3 has no copy path (the kernel implements it
// for V1 and V2 only): its 128 KiB blocks hold super-frames.
//
// Measured against slots of 68 KiB that hold a whole super-frame (the
// layout before; Config{FrameSize: 17 << 12, Frames: 1024} still gives it)
// on a 2-vCPU VM shared with other work, BenchmarkRecvSendLong, both layouts
// interleaved, 18 rounds, CPU time per frame forwarded (both drivers and
// the kernel's veth work): 64 KiB TCP super-frames 41.8 µs against 48.8
// (medians; per-round ratios 0.95, 0.63 to 1.25), 16 KiB 16.1 against
// 17.8, 1514-byte frames 5.9 against 6.3. Recv alone (BenchmarkRecv) takes
// a quarter less per frame with the small slots. The README's performance
// section has the system figures (r2bench).
//
// With Config.NoVnetHdr (daemon key [afpacket] vnet_hdr = false) Recv
// instead completes checksums left partial (counted in RxCsumFixed), as
// hardware would have, and drops super-frames as oversized (RxErrors):
// turn TSO/GSO off on such links. Real NICs without GRO hand over wire
// frames.
//
// The socket ignores outgoing frames (PACKET_IGNORE_OUTGOING): R2 does not
// read back what it sends, nor what the kernel itself sends on the
// interface. A fanout group (several receive queues or threads) is made
// with PACKET_FANOUT_FLAG_IGNORE_OUTGOING, since the members' option does
// not reach the group's hook; a ring that gets an outgoing frame anyway
// (a kernel without the flag) gives it back unread, counted in
// Config.RxOutgoing (drv_rx_outgoing). Super-frames, sent through the
// qdisc, pass the interface's packet taps and would otherwise come back
// whole. It enables promiscuous mode with a PACKET_MR_PROMISC
// membership, which the kernel drops when the socket closes, so the
// interface's promiscuity is restored even if R2 dies.
//
// # Several receive queues
//
// With Config.RxQueues K above 1 the driver opens K sockets on the
// interface, each with its own ring (of Frames/K slots or Blocks/K
// blocks, so the memory stays that of one ring), in one PACKET_FANOUT_HASH
// group: the kernel puts every frame of a flow (its flow hash of addresses
// and ports) into the same ring, so a flow keeps its order, and frames of
// different flows into rings chosen by the hash, as a NIC's RSS spreads
// flows over its receive queues. Recv serves the rings by deficit round
// robin, a quantum of len(pkts)/K frames each in turn, and a ring whose
// turn the end of a batch cut short finishes it first at the next call.
// A flood fills and overflows only its own ring; a light flow in another
// ring is neither dropped at the full ring nor queued behind it: its frame
// waits at most one batch of the other rings. The hash is the kernel's,
// seeded randomly at boot, so a light flow shares the flood's ring with
// probability about 1/K, and then fares as with one ring.
//
// Light rings go first. Each ring keeps a moving average of its visits
// that took all they asked for (the ring stood); one such visit makes it
// heavy at once, about six visits that empty it make it light again. A
// call serves the light rings with frames before the round robin (a ring
// whose turn it was has taken its turn), and tags the frames of every
// ring with the ring's index in packet.Meta (MetaRxQueueMask) and, for a
// light ring's visit of at most eight frames, packet.MetaSparse: the
// output interface sends such packets ahead of other rings' packets
// (IfNode), as fq_codel serves sparse flows first. FreshPending reports
// a frame in a light ring, so a busy thread that is sending a flood's
// batch stops between two parts and receives it (graph.Waiter).
//
// # Light flows steered to ring 0
//
// The kernel's hash puts a light flow (a ping, a shell, a routing
// protocol's hellos) into a flood's ring on one boot in K. With
// Config.LightGap (the daemon's [afpacket] light_gap_us, 2 ms by default)
// the group runs an eBPF program of the driver's instead
// (PACKET_FANOUT_EBPF, newSteerer) that keeps ring 0 for light flows: it
// hashes a frame's addresses, protocol and ports (not an IPv4 fragment's
// ports, which later fragments lack) into one of 4096 buckets, and notes
// in the bucket the time of its last frame. A frame that comes at least
// LightGap after its bucket's previous one is sparse; at the second
// sparse frame in a row the flow moves to ring 0 (a new flow's first frame
// is sparse too, and a flood's first frame must not take it there), and
// at a frame closer to the previous one it stays in its ring, whichever:
// the program moves a flow only across a gap, when none of its frames can
// still wait in a ring, so flows keep their order. Every other flow goes
// to one of the rings 1 to K-1 by the hash, so a flood never shares ring
// 0, which the scheduler finds light and serves first. A flow in ring 0
// that turns dense (a shell that starts a bulk copy, or a flood whose
// bucket a light flow had left light) stays there for 63 frames, a light
// flow's burst, and then goes to its home ring: that move is not across a
// gap, so its frames still in ring 0 may be read after its next ones, but
// ring 0 is light and served first, so they are few, and it happens once
// a dense run. Ring 0 itself is gated (bpfasm.SteerGate): once it takes 16
// frames in a millisecond, a flow not already in it stays in its home ring
// however sparse, and while it stays that busy the flows that moved there
// within the second before go back home at their next sparse frame, so a
// flood of many flows, each as sparse as a ping, cannot fill it flow by
// flow; the flows that had it longer (a routing session, a monitoring
// ping) keep it. A flow sent back moves without a gap, as after a dense
// run. Two flows in one bucket count as one. The gap must exceed the
// longest a frame waits in its ring, which the shedder bounds under a
// standing queue (rx_shed_us, 1 ms): a thread kept off its CPU longer
// than the gap may still see a flow's frame moved ahead of an older one
// waiting in its previous ring. (AF_XDP's program checks how far the
// driver has read the ring before it moves a flow, by the stamps its
// frames carry; frames here carry none of the program's clock.) With several drivers (threads) in the
// group (Config.Members) the program picks the driver by a hash alone, so
// a flow never changes thread, and the ring there as above. That hash is
// symmetric (addresses and ports combined so that swapping source and
// destination gives the same value) and seeded once per process, so a
// flow's replies, coming in on another interface, take the same member
// index there, as the kernel's own symmetric hash would have them. It numbers
// rings as the group's members in the order they joined: member m's ring
// r is m*K+r, so the drivers are opened one after the other, the first
// loading the program and attaching it once its own sockets have joined
// (the kernel takes the program's answer modulo the members there are,
// so until the last driver has joined flows map anew, as they do in hash
// mode). A later driver joins in eBPF mode, or in hash mode if the first
// could not load the program (the group refuses a member of another
// mode, which is how the later one finds out). If the program cannot be
// loaded (no BPF) the group keeps the kernel's hash and Driver.Steering
// says why.
//
// The owner thread polls one descriptor (Fd): with several queues an epoll
// instance of the driver's own holding the K sockets, level-triggered, so
// it polls readable while any ring holds a frame. Send transmits on the
// first socket. Stats sum the sockets' statistics; Shed and HeadTime work
// on every ring (HeadTime is the oldest head). A flow's ring is fixed only
// while the group's membership is: when a socket joins or leaves
// (an interface added with more threads, or removed), the hash maps flows
// anew.
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
// Super-frames are the exception: they leave through a second socket
// (vnet headers, bound to the interface with protocol 0, so it receives
// nothing) that goes through the qdisc. With the qdisc bypassed the
// kernel drops a super-frame the device cannot segment itself (a veth or
// NIC with TSO off): __dev_direct_xmit refuses what validate_xmit_skb
// had to segment, and counts it in the device's tx dropped. dev_queue_xmit
// segments it in software and sends the segments.
//
// With vnet headers the first socket takes a virtio_net_hdr on every frame
// it sends (the option is per socket, and its receive ring needs it), which
// the kernel parses; plain frames (no segmentation, no checksum left to
// finish) therefore leave bare through a third socket (protocol 0, the
// qdisc bypassed, no vnet headers): BenchmarkSend 5-20% less per frame, UDP
// 1500 B through R2 7-11% less CPU per frame. Frames whose checksum the
// kernel must finish keep the first socket. Runs of each socket's frames go
// out in batch order, one sendmmsg each.
//
// The kernel copies each frame into a new skb; for a 64 KiB super-frame
// that copy is the largest single cost of forwarding it. A PACKET_TX_RING
// would not remove it on a veth: BenchmarkSendLong measured 1.8 times the
// CPU per super-frame of sendmmsg, as the frame must first be copied into
// the ring slot and the kernel copies the slot's pages again
// (skb_copy_ubufs) before the peer's stack gets them.
//
// # Kernel receive filter (tcx)
//
// The packet tap gives R2 a copy of every frame, and the kernel's own
// receive path still runs on the frame afterwards. With forwarding off,
// which R2 requires, the kernel IP-receives every transit frame, looks its
// destination up and drops it (ip_error, ip6_forward: InAddrErrors), about
// 0.6 us a frame, spent in the sender's softirq (on a veth, often R2's own
// CPU). With Config.KernelRxFilter the driver attaches a tcx ingress
// program to the interface (newFilterProg) that drops those copies first:
// tc runs after the packet taps, so R2 has its copy already. It drops only
// unicast (destination MAC without the group bit), untagged, well-formed
// IPv4 and IPv6 frames, of a family the kernel does not forward on the
// interface (read at attach), whose destination is not one of the
// namespace's local addresses; everything else goes on (TCX_NEXT) to
// other tcx programs and the stack. The local addresses are one set per
// network namespace (localSet: two hash maps, both families) shared by
// the filters of every interface, because Linux accepts a frame for the
// address of any of its interfaces on any interface (the weak host model);
// it is filled from a dump before the first filter is attached and kept
// current by an address subscription, with a new dump when the
// subscription overflows. An IPv4 address brings its subnet's broadcast
// and network addresses with it. What the set does not know is treated as
// transit: local routes that are not addresses (ip route add local, AnyIP),
// netfilter DNAT or TPROXY to this host, and policy routing into a local
// table of its own need the filter turned off. A new address is honoured
// once its notification has been applied (microseconds to a few
// milliseconds, measured in TestKernelFilterNetns); frames for it before
// that are dropped.
//
// The tcx link is a file descriptor of the process, never pinned: the
// kernel detaches the program when the driver closes it or the process
// exits, crashes included. If the kernel has no tcx (before 6.6) or the
// attach fails, the driver works without the filter (KernelFilter says
// why). If the maps cannot hold every local address, every filter of the
// namespace is detached for good and the reason logged.
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
