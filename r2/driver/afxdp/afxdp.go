package afxdp

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/internal/bpfasm"
	"github.com/r2go/r2/r2/packet"
)

// Defaults of Config.
const (
	// DefaultRingSize is the number of entries of each of the four rings
	// (fill, completion, Rx, Tx). 2048 entries of 2 KiB frames absorb
	// about 200 µs of 10 Mpps while the owner thread is busy elsewhere,
	// and measured best on the 2-core machines R2 is tuned on (larger
	// rings only add cache misses).
	DefaultRingSize = 2048
	// DefaultTxBudget is the XDP_MAX_TX_SKB_BUDGET asked for: how many
	// Tx descriptors one sendto(2) kick turns into skbs in copy mode. The
	// kernel's own default is 32 (TX_BATCH_SIZE), so a batch of 256
	// frames would need 8 kicks; 512 covers two full batches in one call
	// and measured +18% Tx throughput over 32.
	DefaultTxBudget = 512
	// DefaultMTU is used when Config.MTU is 0 and the interface cannot be
	// asked.
	DefaultMTU = 1500
)

// MaxRxRings is the most receive rings (sockets) a driver binds on its
// queue (Config.RxRings).
const MaxRxRings = 8

// minRxRing is the smallest Rx ring: RingSize/RxRings entries.
const minRxRing = 64

// FrameSize is the UMEM chunk size: one pool packet buffer.
const FrameSize = packet.BufSize

// xdpPacketHeadroom is XDP_PACKET_HEADROOM (include/uapi/linux/bpf.h): the
// kernel writes a received frame this far into its chunk (the UMEM
// headroom R2 registers is 0), so a frame can be at most
// FrameSize-xdpPacketHeadroom bytes long (1792).
const xdpPacketHeadroom = 256

// maxHeader is what a received frame may carry beyond the MTU: an Ethernet
// header (14) and one 802.1Q tag (4).
const maxHeader = 14 + 4

// maxMTU is the largest MTU whose frames (with an Ethernet header and a
// VLAN tag) fit a UMEM chunk after the kernel's headroom: 1774.
const maxMTU = FrameSize - xdpPacketHeadroom - maxHeader

// errMTUTooBig is wrapped by the configuration error of an MTU above
// maxMTU, which Open reports as ErrUnsupported (AF_PACKET may do).
var errMTUTooBig = errors.New("frames would not fit a 2 KiB UMEM chunk")

// Mode selects how the socket moves frames and where the XDP program runs.
type Mode int

const (
	// ModeAuto tries ModeZeroCopy, then ModeCopy, then ModeSKB, and keeps
	// the first that the kernel and the device accept; on a veth end
	// of one queue ModeSKB before ModeCopy (see attempts).
	ModeAuto Mode = iota
	// ModeZeroCopy binds with XDP_ZEROCOPY and attaches the program in
	// driver (native) mode: the NIC DMAs straight into pool packets.
	// Needs a driver with AF_XDP zero-copy support (i40e, ice, mlx5, ...).
	ModeZeroCopy
	// ModeCopy binds with XDP_COPY and attaches the program in driver
	// mode: the kernel copies each frame once between its own buffers
	// and the pool. Needs native XDP (veth, virtio_net and most NICs).
	ModeCopy
	// ModeSKB binds with XDP_COPY and attaches the program in generic
	// (SKB) mode, which works on any interface, after the kernel has
	// built an skb: the slowest mode, still faster than AF_PACKET.
	ModeSKB
)

// String names the mode as in configuration files.
func (m Mode) String() string {
	switch m {
	case ModeAuto:
		return "auto"
	case ModeZeroCopy:
		return "zero-copy"
	case ModeCopy:
		return "copy"
	case ModeSKB:
		return "skb"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode is the inverse of Mode.String.
func ParseMode(s string) (Mode, error) {
	for m := ModeAuto; m <= ModeSKB; m++ {
		if m.String() == s {
			return m, nil
		}
	}
	return ModeAuto, fmt.Errorf("afxdp mode %q: want auto, zero-copy, copy or skb", s)
}

// Active modes, as ActiveMode reports them.
const (
	ActiveZeroCopy = "zero-copy"
	ActiveCopyDrv  = "copy (driver XDP)"
	ActiveCopySKB  = "copy (generic XDP)"
)

// Errors.
var (
	// ErrClosed is returned by methods of a closed Driver.
	ErrClosed = os.ErrClosed
	// ErrUnsupported is wrapped by the error of Open when the kernel or
	// the device refuses AF_XDP (no AF_XDP sockets, no XDP, a mode the
	// device lacks, another XDP program in the way); the error says why
	// for each mode tried. The caller falls back to AF_PACKET.
	ErrUnsupported = errors.ErrUnsupported
)

// Config describes a driver to Open.
type Config struct {
	// Ifname is the interface name, used in error messages and, with
	// Ifindex 0, to find the interface.
	Ifname string
	// Ifindex is the Linux ifindex of the interface in the namespace of
	// the thread calling Open; 0 means look Ifname up.
	Ifindex int
	// Queue is the receive (and transmit) queue the socket binds to.
	// Frames the device steers to queues without a socket go to the
	// kernel's stack (see the package documentation): open one driver
	// per queue (the registered open does, spreading the queues over the
	// threads serving the interface). Drivers of one interface's queues
	// share its XDP program; queues 0 to 255.
	Queue int
	// MTU is the largest L3 payload accepted: longer frames than
	// MTU+18 are dropped on Rx (RxErrors) and refused on Tx (TxErrors).
	// 0 means the interface's MTU. At most 1774 without multi-buffer
	// frames (a received frame must fit a 2 KiB chunk after the kernel's
	// 256-byte XDP headroom), at most 36,846 with them (see
	// multibuf_linux.go); Open fails with ErrUnsupported above what it
	// gets, and AF_PACKET may serve the interface instead.
	MTU int
	// Pool is the owner thread's packet pool, made by
	// r2/internal/pagemem.NewPool: its memory becomes the socket's UMEM, so
	// received frames are pool packets and packets of the pool are sent
	// without a copy. Drivers opened with the same pool share one UMEM.
	// Its companion pool of big packets (Pool.Big), if any, takes frames
	// received in several UMEM chunks.
	Pool *packet.Pool
	// NoMultiBuffer keeps the socket to frames of one UMEM chunk, as
	// before Linux 6.6: no xdp.frags program, no XDP_USE_SG.
	NoMultiBuffer bool
	// CsumCheck looks for TCP and UDP checksums a veth peer left partial
	// and marks them to finish (see markPartial). CsumAuto (the zero
	// value) does it on veth interfaces only.
	CsumCheck CsumCheck
	// RingSize is the number of entries of the fill, completion, Rx and
	// Tx rings, a power of two. 0 means DefaultRingSize.
	RingSize int
	// FillSize is how many pool packets the driver keeps lent to the
	// kernel for reception. 0 means RingSize or a quarter of the pool,
	// whichever is smaller, so that a thread owning a few interfaces
	// keeps packets for the graph.
	FillSize int
	// TxBudget is XDP_MAX_TX_SKB_BUDGET (copy mode, kernel 6.17+; older
	// kernels keep their 32). 0 means DefaultTxBudget, capped to
	// RingSize.
	TxBudget int
	// RxRings is the number of receive rings (sockets) on the queue, a
	// power of two up to MaxRxRings; 0 means 1. With several, the XDP
	// program spreads flows over them by a hash of their addresses,
	// protocol and ports, and Recv serves them light rings first, then
	// in turn, so a flood fills only its own ring (flowhash_linux.go).
	// Each ring has RingSize/RxRings entries and all share the fill
	// ring, so a flood's ring cannot hold every buffer lent. The
	// drivers of one interface's queues must have the same RxRings.
	RxRings int
	// LightGap, when above 0 and with several receive rings, steers light
	// flows to ring 0 of their queue: the XDP program puts a flow whose
	// frames come at least LightGap apart into ring 0 and every other
	// flow into one of rings 1 to RxRings-1 by its hash, and changes a
	// flow's ring only across such a gap (or once after a dense run in
	// ring 0), so flows keep their order (bpfasm.SteerBucket; the
	// AF_PACKET driver's package documentation, "Light flows steered to
	// ring 0", has the rule). It must exceed the longest a frame waits in
	// a ring. The drivers of one interface's queues must agree on it.
	// 0: the hash alone; at most about 2.1 s.
	LightGap time.Duration
	// Mode is the AF_XDP mode to use; ModeAuto picks the best that works.
	Mode Mode
	// Counters are the driver counters, allocated by the caller with
	// driver.NewCounters. If any is missing (the zero value), the driver
	// allocates them all in a small private registry, which stays mapped
	// for the life of the process so they remain readable after Close.
	Counters driver.Counters
	// Promisc puts the interface in promiscuous mode while the driver is
	// open, so that a NIC's MAC filter lets through frames for the MACs
	// R2 uses (XDP sees only what the device accepted). It is held by a
	// PACKET_MR_PROMISC membership of an idle AF_PACKET socket, which the
	// kernel drops when the socket closes, even if R2 dies.
	Promisc bool
	// TxCopies counts frames of other threads' pools that Send copied
	// into a packet of Pool before transmitting them (for example
	// "IfNode:<ifname>/drv_tx_copies"). If the zero value, the driver
	// allocates it privately, like Counters.
	TxCopies counters.Counter
	// RxRingCounters, one per receive ring, count the frames taken from
	// each (driver.DrvRxRing); nil: not counted.
	RxRingCounters []counters.Counter
	// RxMultiBuf and TxMultiBuf count frames received and sent in
	// several descriptors ("drv_rx_multibuf", "drv_tx_multibuf"); the
	// zero value: allocated privately, like Counters.
	RxMultiBuf, TxMultiBuf counters.Counter
	// NoSuperFrames keeps GSO super-frames and frames whose checksum is
	// left to finish away from the driver (it is then no
	// driver.Offloader: the GSO node segments and checksums them in
	// software first). By default they leave whole through a
	// transmit-only AF_PACKET socket of the interface with
	// PACKET_VNET_HDR (package vnet), which AF_XDP itself cannot do.
	NoSuperFrames bool
	// TxVnet counts the frames sent through that socket
	// ("drv_tx_vnet"), and TxOrderHeld those held back or sent through
	// the other path to keep a flow's order ("drv_tx_order_held"; see
	// order_linux.go); the zero value: allocated privately, like
	// Counters.
	TxVnet, TxOrderHeld counters.Counter
	// RxVnet counts the super-frames received whole through an
	// AF_PACKET socket of the interface ("drv_rx_vnet"; generic mode,
	// see super_linux.go), which NoSuperFrames also turns off; the zero
	// value: allocated privately, like Counters.
	RxVnet counters.Counter

	// noVnetTx keeps the socket that sends super-frames closed (the
	// registered open's queues but a thread's first: it sends through
	// that one), not the one that receives them.
	noVnetTx bool
	// NeighCopies and NeighErrors count the copies of the host's ARP and
	// ND frames that Recv fed into the graph, and those it dropped, in
	// host-owned mode (see Driver.SetHostOwned; e.g.
	// "IfNode:<ifname>/drv_neigh_copies"). If the zero value, the driver
	// allocates them privately.
	NeighCopies, NeighErrors counters.Counter
}

// CsumCheck says when Recv looks for partial checksums (and marks them
// to finish, markPartial).
type CsumCheck int

const (
	// CsumAuto looks on veth interfaces, whose peers hand over
	// frames with checksums left to offload; NICs put frames on the wire
	// complete.
	CsumAuto CsumCheck = iota
	// CsumOn looks on any interface.
	CsumOn
	// CsumOff never looks.
	CsumOff
)

// withDefaults fills in defaults and checks c; mtu is the interface's MTU
// (0 if unknown).
// rxRingSize is the entries of each Rx ring.
func (c *Config) rxRingSize() int { return c.RingSize / c.RxRings }

func (c Config) withDefaults(mtu int) (Config, error) {
	if c.RingSize == 0 {
		c.RingSize = DefaultRingSize
	}
	if c.MTU == 0 {
		c.MTU = mtu
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.RxRings == 0 {
		c.RxRings = 1
	}
	switch {
	case c.RxRings < 1 || c.RxRings > MaxRxRings || c.RxRings&(c.RxRings-1) != 0:
		return c, fmt.Errorf("receive rings %d: want a power of two from 1 to %d", c.RxRings, MaxRxRings)
	case c.LightGap < 0 || c.LightGap > bpfasm.SteerMaxGap:
		return c, fmt.Errorf("light-flow gap %v: want 0 (off) to %v", c.LightGap, bpfasm.SteerMaxGap)
	case c.Pool == nil:
		return c, errors.New("no packet pool")
	case c.RingSize < 64 || c.RingSize > 1<<16 || c.RingSize&(c.RingSize-1) != 0:
		return c, fmt.Errorf("ring size %d: want a power of two from 64 to 65536", c.RingSize)
	case c.RingSize/c.RxRings < minRxRing:
		return c, fmt.Errorf("ring size %d: want at least %d entries for each of %d receive rings", c.RingSize, minRxRing, c.RxRings)
	case c.Queue < 0:
		return c, fmt.Errorf("queue %d: want 0 or more", c.Queue)
	case c.MTU < 68:
		return c, fmt.Errorf("MTU %d: want 68 to %d", c.MTU, maxMTU)
	case c.MTU > maxMTU && (c.NoMultiBuffer || c.Pool.Big() == nil):
		return c, fmt.Errorf("MTU %d: want at most %d without multi-buffer frames (and a big-packet pool): %w", c.MTU, maxMTU, errMTUTooBig)
	case c.MTU > maxSGMTU:
		return c, fmt.Errorf("MTU %d: want at most %d: %w", c.MTU, maxSGMTU, errMTUTooBig)
	case c.Mode < ModeAuto || c.Mode > ModeSKB:
		return c, fmt.Errorf("mode %v: unknown", c.Mode)
	}
	if c.FillSize == 0 {
		c.FillSize = min(c.RingSize, c.Pool.Size()/4)
	}
	if c.FillSize < 1 || c.FillSize > c.RingSize || c.FillSize > c.Pool.Size() {
		return c, fmt.Errorf("fill size %d: want 1 to the ring size %d and the pool size %d", c.FillSize, c.RingSize, c.Pool.Size())
	}
	if c.TxBudget == 0 {
		c.TxBudget = min(DefaultTxBudget, c.RingSize)
	}
	if c.TxBudget < 32 || c.TxBudget > c.RingSize {
		return c, fmt.Errorf("Tx budget %d: want 32 to the ring size %d", c.TxBudget, c.RingSize)
	}
	return c, nil
}

// maxFrame is the longest frame Recv accepts and Send transmits for c.
func (c Config) maxFrame() int { return c.MTU + maxHeader }

// countersValid reports whether all of c are allocated.
func countersValid(c driver.Counters) bool {
	return c.RxNoBuf.Valid() && c.RxErrors.Valid() && c.TxErrors.Valid() && c.Syscalls.Valid() && c.RxBatches.Valid()
}

// privateCounters allocates the driver's counters in a registry of their
// own, for callers that gave none. The registry (one page) is never
// unmapped, so the counters stay valid after Close.
func privateCounters(ifname string) (driver.Counters, *counters.Registry, error) {
	reg, err := counters.NewMem(counters.Sizes{Entries: 16, Names: 1024, Values: 16})
	if err != nil {
		return driver.Counters{}, nil, err
	}
	return driver.NewCounters(reg, 0, privateNode(ifname)), reg, nil
}

// privateNode is the node name of privately allocated counters.
func privateNode(ifname string) string { return "afxdp:" + ifname }

// Stats are the socket's statistics: the kernel's (XDP_STATISTICS, counted
// since Open) and the driver's own.
type Stats struct {
	// RxDropped are frames the kernel dropped for want of a fill ring
	// buffer or because they did not fit a chunk.
	RxDropped uint64
	// RxInvalidDescs and TxInvalidDescs are descriptors the kernel
	// rejected (a driver bug if not 0).
	RxInvalidDescs, TxInvalidDescs uint64
	// RxRingFull are frames dropped because the Rx ring was full: the
	// owner thread fell behind.
	RxRingFull uint64
	// RxFillRingEmpty counts the times the kernel found the fill ring
	// empty.
	RxFillRingEmpty uint64
	// TxRingEmpty counts the times the kernel found the Tx ring empty
	// when kicked.
	TxRingEmpty uint64
	// SuperDropped are super-frames the kernel dropped at the socket that
	// receives them whole (its ring or queue was full; generic mode, see
	// super_linux.go).
	SuperDropped uint64
	// FillHeld is the number of pool packets lent to the kernel for Rx,
	// TxHeld those on their way out (Tx ring or awaiting completion).
	FillHeld, TxHeld int
}

// Name is the driver's name in the registry (driver.Register), in
// configuration files and in the API: "afxdp".
const Name = "afxdp"

// Kind is Name.
func (d *Driver) Kind() string { return Name }

// KernelDrops implements driver.KernelDropper: the frames the kernel
// dropped for want of a fill ring buffer or because the Rx ring was full
// (Stats.RxDropped + Stats.RxRingFull).
func (d *Driver) KernelDrops() (uint64, error) {
	s, err := d.Stats()
	return s.RxDropped + s.RxRingFull + s.SuperDropped, err
}

// Counters are the driver's counters (the caller's, or the private ones
// allocated by Open).
func (d *Driver) Counters() driver.Counters { return d.cnt }

// TxCopies counts frames of other pools copied before Tx.
func (d *Driver) TxCopies() uint64 { return d.copies.Value() }

// Config is the configuration the driver was opened with, defaults filled
// in.
func (d *Driver) Config() Config { return d.cfg }

var (
	_ driver.Driver          = (*Driver)(nil)
	_ driver.KernelDropper   = (*Driver)(nil)
	_ driver.ModeReporter    = (*Driver)(nil)
	_ driver.HostPasser      = (*Driver)(nil)
	_ driver.SideFder        = (*Driver)(nil)
	_ driver.HostPassCounter = (*Driver)(nil)
	_ driver.MultiBuffer     = (*Driver)(nil)
)
