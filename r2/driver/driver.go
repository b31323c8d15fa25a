// Package driver defines how R2 talks to a network interface.
//
// A Driver is bound to one interface and used by exactly one forwarding
// thread, the interface's owner, so it needs no locks. It works in batches:
// Recv fills up to len(pkts) packets from the thread's pool, Send transmits a
// batch and gives every packet back to its pool. A driver never blocks: the
// thread waits for readiness on Fd with epoll (or busy-polls) and then calls
// Recv until it returns less than a full batch.
//
// Implementations: r2/driver/mem (in memory, for tests and benchmarks),
// r2/driver/afpacket (TPACKET_V2 or V3 rings, the default for real interfaces) and
// r2/driver/afxdp (XDP sockets, the fast path).
//
// # Registry
//
// The drivers the daemon can attach interfaces with are a table: a driver
// package calls [Register] in its init with its name and an [OpenFunc], and
// may name a Fallback driver to open when it is refused (afxdp falls back to
// afpacket). [Names] lists them for the API and the configuration checks,
// and [Open] opens one by name. Adding a driver is its package, one Register
// call, and a blank import where the binary is built (r2/daemon).
//
// # Optional capabilities
//
// Capabilities that some drivers have are small named interfaces beside
// Driver ([KernelDropper], [ModeReporter], [HostPasser], [SideFder],
// [KernelFilterCounter], [Quieter]), as wireguard-go's conn package
// declares Bind's: callers type-assert the capability, never a concrete
// driver type.
package driver

import (
	"net/netip"
	"strconv"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

// Driver moves frames between an interface and packets.
type Driver interface {
	// Kind names the implementation ("mem", "afpacket", "afxdp").
	Kind() string
	// Fd is a descriptor that polls readable when Recv has frames, or -1 if
	// the driver must be polled (its Pending says when).
	Fd() int
	// Recv fills pkts[:n] with received frames, data starting at the
	// packet's Headroom, allocated from pool. It never blocks. When the pool
	// is empty it stops early, leaving the frames in the driver (the Rx
	// throttling of the graph) and counts the shortage.
	Recv(pool *packet.Pool, pkts []*packet.Packet) (n int)
	// Send transmits pkts and frees every one of them to pool (the caller's
	// pool; packets of other threads' pools go home through it). It returns
	// how many were accepted by the interface; the rest were dropped and
	// counted by the driver.
	Send(pool *packet.Pool, pkts []*packet.Packet) (sent int)
	// Pending reports whether Recv has frames waiting that Fd would not
	// signal, or Tx work is unfinished.
	Pending() bool
	// Close releases the interface. The owner thread must have stopped
	// using the driver.
	Close() error
}

// KernelDropper is a driver whose kernel side counts frames it dropped
// before R2 saw them (a full receive ring, a fill ring left empty). The
// forwarding thread cannot see those drops, and reading them is a system
// call with a lock, so the control side polls KernelDrops off the
// forwarding path and publishes the total as DrvKernelDrops. KernelDrops is
// safe to call concurrently with the owner thread's Recv and Send, until
// Close.
type KernelDropper interface {
	// KernelDrops is the number of frames the kernel dropped since the
	// driver was opened.
	KernelDrops() (uint64, error)
}

// ModeReporter is a driver that chose among ways of working when it was
// opened (AF_XDP: zero-copy, copy, generic XDP) and reports which one.
type ModeReporter interface {
	// ActiveMode describes the mode in use, for logs and r2intf show.
	ActiveMode() string
}

// Shedder is a driver that can drop frames from the head of its receive
// queue without copying them, by the time they arrived. The IfNode uses it
// to bound its standing queue in time rather than in frames: under overload
// a ring of 1024 frames at 30 kpps holds 34 ms, and every packet behind it,
// a ping included, waits that long.
type Shedder interface {
	// Shed drops, at most max, the frames at the head of the receive queue
	// that arrived before cutoff (Unix ns, CLOCK_REALTIME, as the kernel
	// stamps them). It stops at the first frame that arrived later, and at
	// the first one m does not let it drop (FlowMeter.Sheddable: a light
	// flow, a ping or a routing protocol, is forwarded, not shed; a TCP
	// flow loses one frame per FlowMeter.TCPGap). Owner thread only.
	Shed(cutoff int64, max int, m *FlowMeter) (n int)
	// HeadTime is the arrival time (Unix ns, as Shed's cutoff) of the
	// frame at the head of the receive queue; ok is false if the queue is
	// empty or does not stamp frames. Owner thread only.
	HeadTime() (ns int64, ok bool)
}

// MultiBuffer is a driver that can take frames larger than one of its
// buffers in several (AF_XDP multi-buffer) and reports whether it does.
type MultiBuffer interface {
	// MultiBuffer reports whether such frames are received and, if not,
	// why (for the log).
	MultiBuffer() (on bool, why string)
}

// Offloader is a driver that can send GSO super-frames (packet.GSO.Size
// set) and frames whose TCP or UDP checksum is left to finish
// (packet.GSONeedsCsum) as they are. Packets for an interface whose driver
// is not one, or says false, are segmented and checksummed in software
// first (gnodes/layer3/gso).
type Offloader interface {
	// Offloads reports whether the driver takes such packets.
	Offloads() bool
}

// HostPasser is a driver that decides itself which received frames reach
// the Linux host's stack, so it must know an interface's host-owned mode
// (fwd.Interface.HostOwned) and addresses. AF_PACKET needs nothing: the
// kernel gets a copy of every frame. AF_XDP redirects frames away from the
// kernel, so in host-owned mode its XDP program passes ARP, ND, MLD,
// link-local multicast and what is addressed to addrs to the host instead.
// The router calls SetHostOwned whenever the mode or the addresses of the
// interface change, before the threads see the change; it is safe
// concurrently with the owner thread's Recv and Send.
type HostPasser interface {
	// SetHostOwned switches the mode and, when on, makes addrs (the
	// interface's addresses and IPv4 subnet broadcasts) the host's. On
	// error the driver works as before the call.
	SetHostOwned(on bool, addrs []netip.Addr) error
}

// HostPassCounter is a HostPasser that counts the frames it passed to the
// host. Like KernelDrops, reading it is a system call, so the control side
// polls it off the forwarding path and publishes it as DrvHostPassed.
type HostPassCounter interface {
	HostPassed() (uint64, error)
}

// FreshPender is a driver with several receive queues that can tell a
// frame in a queue that its last Recv emptied (a light flow's) from the
// frames of a queue that stands (a flood's): graph.Waiter for the
// interface. Owner thread only.
type FreshPender interface {
	FreshPending() bool
}

// Quieter is a driver whose Fd wraps several descriptors (AF_PACKET's
// receive queues' sockets in an epoll instance of its own). A thread that
// is busy reads the rings every run anyway, so the kernel's signal of each
// frame written (the socket's wake-up callbacks, with interrupts off) is
// pure cost; the owner thread calls Quiet(true) when it has run a while
// without sleeping, which takes the inner descriptors out of the driver's
// epoll instance, and Quiet(false) before it sleeps again, which puts them
// back (a frame that came meanwhile makes Fd readable at once). Owner
// thread only.
type Quieter interface {
	Quiet(on bool) error
}

// KernelFilterCounter is a driver that drops the kernel's copies of
// transit frames before its IP layer (AF_PACKET's tcx ingress filter) and
// counts them. Like KernelDrops, reading the count is a system call, so
// the control side polls it off the forwarding path and publishes it as
// DrvKernelFiltered.
type KernelFilterCounter interface {
	KernelFiltered() (uint64, error)
}

// SideFder is a driver with a second descriptor that the owner thread must
// poll besides Fd: frames that arrive there are returned by Recv too
// (AF_XDP: the copies of the host's neighbour frames in host-owned mode).
type SideFder interface {
	// SideFd is the descriptor, -1 if none. It does not change while the
	// driver is open.
	SideFd() int
}

// Names of the driver counters of an interface, kept under its IfNode node:
// names.IfNodeCounter(ifname, DrvRxErrors) is "IfNode:eth0/drv_rx_errors".
const (
	DrvRxNoBuf     = "drv_rx_nobuf"      // Counters.RxNoBuf
	DrvRxErrors    = "drv_rx_errors"     // Counters.RxErrors
	DrvTxErrors    = "drv_tx_errors"     // Counters.TxErrors
	DrvSyscalls    = "drv_syscalls"      // Counters.Syscalls
	DrvRxBatches   = "drv_rx_batches"    // Counters.RxBatches
	DrvRxCsumFixed = "drv_rx_csum_fixed" // Counters.RxCsumFixed
	// DrvKernelDrops is a KernelDropper's KernelDrops, published by the
	// control side.
	DrvKernelDrops = "drv_kernel_drops"
	// DrvTxCopies counts frames of other threads' pools an AF_XDP driver
	// copied into its own pool before Tx.
	DrvTxCopies = "drv_tx_copies"
	// DrvTxVnet counts super-frames and frames with a checksum to finish
	// that an AF_XDP driver sent whole through its interface's AF_PACKET
	// socket (package vnet).
	DrvTxVnet = "drv_tx_vnet"
	// DrvRxVnet counts super-frames that an AF_XDP driver received whole
	// through its interface's AF_PACKET socket (generic XDP mode: the
	// program passes them to the stack, whose GSO metadata an XDP socket
	// would lose).
	DrvRxVnet = "drv_rx_vnet"
	// DrvTxOrderHeld counts frames an AF_XDP driver held back, or sent
	// through the other of its two send paths (Tx ring, AF_PACKET
	// socket), so that they did not overtake frames sent before them.
	DrvTxOrderHeld = "drv_tx_order_held"
	// DrvRxMultiBuf and DrvTxMultiBuf count frames an AF_XDP driver
	// received or sent in several descriptors (multi-buffer).
	DrvRxMultiBuf = "drv_rx_multibuf"
	DrvTxMultiBuf = "drv_tx_multibuf"
	// DrvMultiBufOff counts opens of a driver that wanted multi-buffer
	// frames and did not get them from the kernel (the reason is logged).
	DrvMultiBufOff = "drv_multibuf_off"
	// DrvNeighCopies counts copies of ARP and ND frames that a HostPasser
	// (AF_XDP in host-owned mode) fed into the graph from the host's
	// receive path, and DrvNeighErrors those it dropped (malformed,
	// truncated).
	DrvNeighCopies = "drv_neigh_copies"
	DrvNeighErrors = "drv_neigh_errors"
	// DrvHostPassed is a HostPassCounter's HostPassed, published by the
	// control side: frames handed to the Linux host in host-owned mode.
	DrvHostPassed = "drv_host_passed"
	// DrvKernelFiltered is a KernelFilterCounter's KernelFiltered,
	// published by the control side: the kernel's copies of transit
	// frames dropped before its IP layer.
	DrvKernelFiltered = "drv_kernel_filtered"
	// DrvKernelFilterOff counts opens of a driver asked for a kernel
	// receive filter that runs without one (the reason is logged).
	DrvKernelFilterOff = "drv_kernel_filter_off"
	// DrvSteeringOff counts opens of a driver asked to steer light flows
	// to a ring of their own (AF_PACKET's light_gap_us) that runs with
	// the kernel's hash instead (the reason is logged).
	DrvSteeringOff = "drv_steering_off"
	// DrvRxLong counts frames an AF_PACKET driver read from its socket's
	// queue because they were longer than a receive ring slot
	// (super-frames, with vnet headers).
	DrvRxLong = "drv_rx_long"
	// DrvRxOutgoing counts frames an AF_PACKET driver was handed that
	// the interface itself sent (PACKET_OUTGOING: the kernel's own, or
	// R2's super-frames, which pass the packet taps) and dropped unread.
	// The kernel filters them before they are copied where it can
	// (PACKET_FANOUT_FLAG_IGNORE_OUTGOING); this counts what is left.
	DrvRxOutgoing = "drv_rx_outgoing"
	// DrvRxRing followed by a ring's index ("drv_rx_ring0") counts the
	// frames taken from that receive ring of an interface with several
	// (RxSched.SetRingCounters; RxRingCounter names them).
	DrvRxRing = "drv_rx_ring"
)

// RxRingCounter is the name of receive ring i's DrvRxRing counter.
func RxRingCounter(i int) string { return DrvRxRing + strconv.Itoa(i) }

// Counters are the driver counters every implementation keeps, allocated
// for the owner thread under "IfNode:<ifname>/drv_*" (the Drv* names).
type Counters struct {
	RxNoBuf   counters.Counter // frames left in the driver: packet pool empty
	RxErrors  counters.Counter // truncated, oversized or otherwise bad frames dropped
	TxErrors  counters.Counter // frames the interface refused
	Syscalls  counters.Counter // system calls made by Recv and Send
	RxBatches counters.Counter // Recv calls that returned frames
	// RxCsumFixed counts frames whose TCP/UDP checksum a local sender left
	// to offload and the driver found without metadata saying so: it
	// completed them (AF_PACKET without vnet headers) or marked them to
	// be finished where they leave (AF_XDP, packet.GSONeedsCsum).
	RxCsumFixed counters.Counter
}

// NewCounters allocates a driver's counters.
func NewCounters(reg *counters.Registry, thread int, ifnode string) Counters {
	c := func(what string) counters.Counter { return reg.Counter(thread, names.Counter(ifnode, what)) }
	return Counters{
		RxNoBuf:     c(DrvRxNoBuf),
		RxErrors:    c(DrvRxErrors),
		TxErrors:    c(DrvTxErrors),
		Syscalls:    c(DrvSyscalls),
		RxBatches:   c(DrvRxBatches),
		RxCsumFixed: c(DrvRxCsumFixed),
	}
}
