package afpacket

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/driver/vnet"
	"github.com/r2go/r2/r2/internal/bpfasm"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

// RingVersion is the layout of the receive ring shared with the kernel
// (the TPACKET version), chosen at Open. The two differ in when a frame
// reaches user space: see the package documentation for the trade-off.
type RingVersion uint8

const (
	// RingDefault means DefaultRingVersion.
	RingDefault RingVersion = iota
	// RingV2 is a TPACKET_V2 ring of Config.Frames slots of
	// Config.FrameSize bytes, one frame per slot, each with its own
	// status word: the kernel hands every frame over as soon as it is
	// written and wakes the poller at once.
	RingV2
	// RingV3 is a TPACKET_V3 ring of Config.Blocks blocks of
	// Config.BlockSize bytes, frames packed back to back: the kernel
	// hands a block over when it is full or Config.BlockTimeout after its
	// first frame.
	RingV3
)

// String is "default", "v2" or "v3".
func (v RingVersion) String() string {
	switch v {
	case RingDefault:
		return "default"
	case RingV2:
		return "v2"
	case RingV3:
		return "v3"
	}
	return "RingVersion(" + strconv.Itoa(int(v)) + ")"
}

// Defaults of Config.
const (
	// DefaultRingVersion is TPACKET_V2: it hands each frame over at once,
	// where TPACKET_V3 makes a frame wait up to BlockTimeout (1 ms) for
	// its block to retire at low rates, and under load it forwards about
	// 10% fewer frames per second than V3 (numbers in the package
	// documentation). A router wants the low latency.
	DefaultRingVersion = RingV2
	// DefaultFrames is the number of slots of a TPACKET_V2 ring: 4096
	// frames (8 MiB with 2 KiB slots) absorb a few milliseconds of a
	// 1 Mframe/s burst while the owner thread is busy.
	DefaultFrames = 4096
	// DefaultBlockSize (TPACKET_V3): 64 KiB holds about 40 full-size
	// frames or 400 minimum-size ones, so a block fills (and is handed
	// over) quickly under load and a full ring (DefaultBlocks of them,
	// 4 MiB) absorbs a few milliseconds of line rate while the owner
	// thread is busy.
	DefaultBlockSize = 64 << 10
	// DefaultBlocks: see DefaultBlockSize.
	DefaultBlocks = 64
	// DefaultBlockTimeout is the retire timeout of a partly filled
	// TPACKET_V3 block: the added latency at low rates. 1 ms is the
	// smallest the kernel takes (tp_retire_blk_tov counts milliseconds).
	DefaultBlockTimeout = time.Millisecond
	// DefaultFrameSize is tp_frame_size. A TPACKET_V2 slot holds a
	// header of up to v2FrameOverhead bytes and the frame: 2048 leaves
	// room for the largest frame a packet takes (packet.MaxData), and
	// two slots fill a page. TPACKET_V3 packs frames of any size into
	// blocks, so there it only sets the frame count the kernel
	// validates.
	DefaultFrameSize = 2048
	// CopyRcvBuf is the receive buffer (SO_RCVBUF) of a TPACKET_V2 socket
	// with vnet headers, which bounds the super-frames waiting on its
	// queue (see the package documentation, "Frames longer than a slot"):
	// the kernel charges a 64 KiB GSO frame about 65 to 130 KiB, so 32 MiB
	// (which the kernel doubles, as it does every SO_RCVBUF) queue 500 to
	// 1000 of them, the depth the 1024 68-KiB slots of the previous layout
	// had. Memory is only taken while frames wait.
	CopyRcvBuf = 32 << 20
	// DefaultVnetBlockSize is the TPACKET_V3 block size with vnet
	// headers: a block must hold a whole super-frame.
	DefaultVnetBlockSize = 128 << 10
	// DefaultRxQueues is the number of receive queues of an interface:
	// one socket, as a plain AF_PACKET user expects. The daemon asks for
	// more ([afpacket] rx_queues).
	DefaultRxQueues = 1
	// MaxRxQueues bounds Config.RxQueues: as many as a large NIC has
	// RSS queues, each at least a page of ring.
	MaxRxQueues = 64
	// DefaultMTU is used when Config.MTU is 0 and the interface cannot be
	// asked.
	DefaultMTU = 1500
)

// DefaultLightGap is the least time between two frames of a flow for the
// later one to count as sparse and possibly change ring (Config.LightGap).
// It must exceed the longest a frame waits unread in a ring, or a flow
// that changes ring could be reordered: under a standing queue the shedder
// bounds that wait (ifnode's default target 1 ms).
const DefaultLightGap = 2 * time.Millisecond

// MaxFanoutMembers is the most sockets a PACKET_FANOUT group joined as
// the driver joins it holds (the kernel's default max_num_members):
// Config.Members times Config.RxQueues.
const MaxFanoutMembers = 256

// MaxLightGap is the longest Config.LightGap: the program compares the gap
// with a 32-bit immediate.
const MaxLightGap = bpfasm.SteerMaxGap

// v2FrameOverhead is what a TPACKET_V2 slot holds before the frame's
// network header: the tpacket2_hdr and sockaddr_ll (TPACKET2_HDRLEN, 52
// bytes) and room for a link header of up to 16 bytes, aligned to 16
// (the kernel's netoff). The Ethernet header starts 14 bytes before it,
// so a slot of v2FrameOverhead+n bytes holds any frame of n bytes.
const v2FrameOverhead = 80

// minVnetSlot is the smallest TPACKET_V2 slot accepted with vnet headers:
// the header, the virtio_net_hdr and a minimum Ethernet frame. Longer
// frames are read from the socket's queue.
const minVnetSlot = v2FrameOverhead + vnetHdrLen + 60

// vnetHdrLen is the size of the virtio_net_hdr that precedes every frame,
// received and sent, with PACKET_VNET_HDR.
const vnetHdrLen = vnet.HdrLen

// maxGSOFrame is the longest super-frame accepted with vnet headers: the
// largest IP packet in an Ethernet frame with one 802.1Q tag.
const maxGSOFrame = 65535 + maxHeader

// maxHeader is what a received frame may carry beyond the MTU: an Ethernet
// header (14) and one 802.1Q tag (4), the tag being one the kernel stripped
// and Recv put back, or one of a frame of a VLAN-unaware peer.
const maxHeader = 14 + 4

// TxBatch is the largest batch Send gives to one sendmmsg call; longer
// batches take one call per TxBatch frames. It matches the graph's vector
// size (256), the most a node hands to the driver at once.
const TxBatch = 256

// Errors.
var (
	// ErrClosed is returned by methods of a closed Driver.
	ErrClosed = os.ErrClosed
	// ErrUnsupported is returned by Open on systems without AF_PACKET.
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
	// MTU is the largest L3 payload accepted: frames longer than
	// MTU+18 are dropped (RxErrors). 0 means the interface's MTU.
	MTU int
	// Version is the Rx ring layout; RingDefault (0) means
	// DefaultRingVersion. Frames applies to RingV2 only; BlockSize,
	// Blocks and BlockTimeout to RingV3 only (the other version's fields
	// are ignored, and left as given); FrameSize to both.
	Version RingVersion
	// Frames (RingV2) is the number of ring slots, shared evenly by the
	// RxQueues rings and rounded up so that each fills whole pages. 0
	// means DefaultFrames.
	Frames int
	// FrameSize is tp_frame_size, a power of two. For RingV2 it is the
	// size of a slot, which must hold a frame of MTU+18 bytes after its
	// header (v2FrameOverhead); 0 means the smallest power of two from
	// DefaultFrameSize up that does. For RingV3 it must be at least 128
	// and divide BlockSize; 0 means DefaultFrameSize.
	FrameSize int
	// BlockSize (RingV3) is the size of an Rx ring block, a power of two
	// and a multiple of the page size. 0 means DefaultBlockSize.
	BlockSize int
	// Blocks (RingV3) is the number of Rx ring blocks, shared evenly by
	// the RxQueues rings (rounded up to whole blocks each). 0 means
	// DefaultBlocks.
	Blocks int
	// BlockTimeout (RingV3) is how long the kernel waits before handing
	// over a block that is not full; it is rounded up to whole
	// milliseconds. 0 means DefaultBlockTimeout.
	BlockTimeout time.Duration
	// Counters are the driver counters, allocated by the caller with
	// driver.NewCounters. If any is missing (the zero value), the driver
	// allocates them all in a small private registry, which stays mapped
	// for the life of the process so they remain readable after Close.
	Counters driver.Counters
	// RxLong counts frames longer than a TPACKET_V2 slot that Recv read
	// from the socket's queue (driver.DrvRxLong); the zero value means a
	// private counter, as for Counters.
	RxLong counters.Counter
	// RxOutgoing counts frames the interface itself sent that reached a
	// receive ring anyway (driver.DrvRxOutgoing), dropped unread; the
	// zero value means a private counter, as for Counters.
	RxOutgoing counters.Counter
	// RxRingCounters, one per receive queue, count the frames taken from
	// each (driver.DrvRxRing); nil: not counted.
	RxRingCounters []counters.Counter
	// Promisc puts the interface in promiscuous mode while the driver is
	// open. R2 sets it: a router receives frames for its own MACs only
	// because it says so, not because the kernel filters for it.
	Promisc bool
	// Fanout, when not 0, joins the sockets (one per receive queue) to the
	// interface's PACKET_FANOUT group of that id in hash mode: several
	// sockets on one interface, RxQueues per serving thread, share its
	// frames, and the kernel sends all frames of a flow (its flow hash:
	// addresses and ports) to the same socket, so a flow stays on one
	// thread, in one ring and in order. Each driver still transmits on
	// its own socket. Ids are per network namespace; sockets of one group
	// must be bound to the same interface.
	Fanout uint16
	// RxQueues is the number of receive queues: sockets with a ring each,
	// in one PACKET_FANOUT_HASH group, that Recv serves in turn. The group
	// is Fanout's; with Fanout 0 the kernel picks an id no group of the
	// namespace has yet (PACKET_FANOUT_FLAG_UNIQUEID), which a caller
	// naming its own groups may later want: the daemon names it. The kernel's flow hash keeps a flow in
	// one ring, in order, and a flood fills only its own ring: a light
	// flow hashed to another is neither dropped at the full ring nor
	// queued behind it, as with a NIC's RSS queues. 0 means
	// DefaultRxQueues; at most MaxRxQueues.
	RxQueues int
	// LightGap, when above 0 and with several receive queues, steers light
	// flows to ring 0 (see the package documentation, "Light flows steered
	// to ring 0"): an eBPF program (PACKET_FANOUT_EBPF) replaces the
	// kernel's hash and puts a flow whose frames come at least LightGap
	// apart into ring 0, every other flow into one of the rings 1 to
	// RxQueues-1 by a hash of its addresses and ports. A flow changes ring
	// only at a frame that came LightGap after its last, so it must exceed
	// the longest a frame waits in a ring (DefaultLightGap; at most about
	// 2.1 s). With Members drivers in Fanout's group the program also
	// picks the flow's driver (thread) by the hash, and its ring there by
	// the gap. 0: the kernel's hash. If the program cannot be loaded the
	// driver uses the kernel's hash (Driver.Steering says why).
	LightGap time.Duration
	// Members is the number of drivers whose sockets share Fanout's group
	// (one per thread serving the interface, each with RxQueues sockets),
	// and Member this driver's place among them (0 to Members-1); 0 or 1
	// Members: the group is this driver's alone. They matter for LightGap
	// only: the steering program numbers rings as the group's members in
	// the order they joined, so the drivers must be opened one after the
	// other, Member 0 first (which loads the program), and each later one
	// joins the group in the mode Member 0 chose (eBPF, or the kernel's
	// hash if its program did not load).
	Members, Member int
	// NoVnetHdr turns PACKET_VNET_HDR off. With it on (the default), the
	// socket receives GSO/GRO super-frames whole, with a virtio_net_hdr
	// that Recv turns into packet.GSO, and Send hands packets with
	// packet.GSO set to the kernel to segment and checksum; with RingV2
	// the slots stay small and a frame longer than a slot is read from
	// the socket's queue (PACKET_COPY_THRESH). Off, frames
	// longer than MTU+18 are dropped (RxErrors) and checksums left
	// partial are finished on receipt.
	NoVnetHdr bool
	// KernelRxFilter attaches a tcx ingress program to the interface that
	// drops the kernel's copies of transit frames, which a kernel with
	// forwarding off would drop after its route lookup anyway (see the
	// package documentation, "Kernel receive filter"). The filter is per
	// interface: with Fanout, set it on one socket of the group only. If
	// it cannot be attached the driver works without it
	// (Driver.KernelFilter says why).
	KernelRxFilter bool
	// Logf logs what an operator should know about the filter (its
	// address notifications failing, resyncs); nil logs nothing.
	Logf func(format string, args ...any)
}

// withDefaults fills in defaults and checks c; mtu is the interface's MTU
// (0 if unknown).
func (c Config) withDefaults(mtu int, pageSize int) (Config, error) {
	if c.Version == RingDefault {
		c.Version = DefaultRingVersion
	}
	if c.MTU == 0 {
		c.MTU = mtu
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.MTU < 68 || c.MTU > 65535 {
		return c, fmt.Errorf("MTU %d: want 68 to 65535", c.MTU)
	}
	if c.RxQueues == 0 {
		c.RxQueues = DefaultRxQueues
	}
	if c.RxQueues < 1 || c.RxQueues > MaxRxQueues {
		return c, fmt.Errorf("%d receive queues: want 1 to %d", c.RxQueues, MaxRxQueues)
	}
	if c.LightGap < 0 || c.LightGap > MaxLightGap {
		return c, fmt.Errorf("light-flow gap %v: want 0 (off) to %v", c.LightGap, MaxLightGap)
	}
	if c.Members < 0 || c.Members > MaxFanoutMembers {
		return c, fmt.Errorf("%d fanout group members: want 0 to %d", c.Members, MaxFanoutMembers)
	}
	if c.Member < 0 || c.Member >= max(c.Members, 1) {
		return c, fmt.Errorf("fanout group member %d: want 0 to %d", c.Member, max(c.Members, 1)-1)
	}
	if c.Members*c.RxQueues > MaxFanoutMembers {
		return c, fmt.Errorf("%d fanout group members of %d receive queues each: the kernel takes %d sockets in a group", c.Members, c.RxQueues, MaxFanoutMembers)
	}
	switch c.Version {
	case RingV2:
		return c.withV2Defaults(pageSize)
	case RingV3:
		return c.withV3Defaults(pageSize)
	}
	return c, fmt.Errorf("ring version %v: want v2 or v3", c.Version)
}

// withV2Defaults fills in and checks the fields of a TPACKET_V2 ring.
// Without vnet headers a slot must hold the longest frame accepted; with
// them, frames that do not fit a slot take the copy path, so the default
// slot holds what fits a normal packet and any slot of minVnetSlot bytes
// or more is accepted.
func (c Config) withV2Defaults(pageSize int) (Config, error) {
	need := c.maxFrame() + v2FrameOverhead
	least := need
	if !c.NoVnetHdr {
		need = min(c.maxFrame(), packet.MaxData) + v2FrameOverhead + vnetHdrLen
		least = minVnetSlot
	}
	if c.FrameSize == 0 {
		c.FrameSize = DefaultFrameSize
		for c.FrameSize < need {
			c.FrameSize *= 2
		}
	}
	if c.Frames == 0 {
		c.Frames = DefaultFrames
	}
	pow2 := c.FrameSize&(c.FrameSize-1) == 0
	switch {
	case c.FrameSize < least || !pow2 && c.FrameSize%pageSize != 0:
		return c, fmt.Errorf("frame size %d: want a power of two or a multiple of the page size, of at least %d (a %d-byte frame and its header)", c.FrameSize, least, least-v2FrameOverhead)
	case c.Frames < 1 || int64(c.Frames)*int64(c.FrameSize) > 1<<32:
		return c, fmt.Errorf("%d frames of %d bytes: want 1 or more, and at most 4 GiB in all", c.Frames, c.FrameSize)
	}
	perPage := max(1, pageSize/c.FrameSize)
	perRing := (c.Frames + c.RxQueues - 1) / c.RxQueues
	c.Frames = (perRing + perPage - 1) / perPage * perPage * c.RxQueues
	return c, nil
}

// withV3Defaults fills in and checks the fields of a TPACKET_V3 ring.
func (c Config) withV3Defaults(pageSize int) (Config, error) {
	if c.BlockSize == 0 {
		c.BlockSize = DefaultBlockSize
		if !c.NoVnetHdr {
			c.BlockSize = DefaultVnetBlockSize
		}
	}
	if c.Blocks == 0 {
		c.Blocks = DefaultBlocks
	}
	if c.BlockTimeout == 0 {
		c.BlockTimeout = DefaultBlockTimeout
	}
	if c.FrameSize == 0 {
		c.FrameSize = DefaultFrameSize
	}
	switch {
	case c.BlockSize < pageSize || c.BlockSize&(c.BlockSize-1) != 0:
		return c, fmt.Errorf("block size %d: want a power of two of at least the page size %d", c.BlockSize, pageSize)
	case c.Blocks < 1 || int64(c.Blocks)*int64(c.BlockSize) > 1<<32:
		return c, fmt.Errorf("%d blocks of %d bytes: want 1 or more, and at most 4 GiB in all", c.Blocks, c.BlockSize)
	case c.FrameSize < 128 || c.FrameSize%16 != 0 || c.FrameSize > c.BlockSize || c.BlockSize%c.FrameSize != 0:
		return c, fmt.Errorf("frame size %d: want a multiple of 16, at least 128, dividing the block size %d", c.FrameSize, c.BlockSize)
	case c.BlockTimeout < 0 || c.BlockTimeout > time.Minute:
		return c, fmt.Errorf("block timeout %v: want 0 to 1m", c.BlockTimeout)
	}
	c.Blocks = (c.Blocks + c.RxQueues - 1) / c.RxQueues * c.RxQueues
	return c, nil
}

// maxFrame is the longest plain frame (not a super-frame) Recv accepts for
// c: with vnet headers, longer ones than a normal packet holds go into big
// packets.
func (c Config) maxFrame() int {
	if c.NoVnetHdr {
		return min(c.MTU+maxHeader, packet.MaxData)
	}
	return min(c.MTU+maxHeader, packet.MaxBigData)
}

// rxOpts is what the Rx ring needs of c.
func (c Config) rxOpts() rxOpts {
	return rxOpts{maxFrame: c.maxFrame(), maxGSO: min(maxGSOFrame, packet.MaxBigData), vnet: !c.NoVnetHdr, outgoing: c.RxOutgoing}
}

// blockTimeoutMs is c.BlockTimeout in whole milliseconds, rounded up.
func (c Config) blockTimeoutMs() uint32 {
	return uint32((c.BlockTimeout + time.Millisecond - 1) / time.Millisecond)
}

// countersValid reports whether all of c are allocated.
func countersValid(c driver.Counters) bool {
	return c.RxNoBuf.Valid() && c.RxErrors.Valid() && c.TxErrors.Valid() && c.Syscalls.Valid() && c.RxBatches.Valid() && c.RxCsumFixed.Valid()
}

// privateCounters allocates the driver's counters in a registry of their
// own, for callers that gave none. The registry (one page) is never
// unmapped, so the counters stay valid after Close.
func privateCounters(ifname string) (cnt driver.Counters, long, outgoing counters.Counter, err error) {
	reg, err := counters.NewMem(counters.Sizes{Entries: 8, Names: 512, Values: 8})
	if err != nil {
		return cnt, long, outgoing, err
	}
	node := "afpacket:" + ifname
	return driver.NewCounters(reg, 0, node), reg.Counter(0, names.Counter(node, driver.DrvRxLong)),
		reg.Counter(0, names.Counter(node, driver.DrvRxOutgoing)), nil
}

// Stats are the kernel's receive statistics of the socket
// (PACKET_STATISTICS), accumulated since Open: the kernel resets its own
// copy on every read.
type Stats struct {
	// Packets is every frame the socket was offered, including Drops.
	Packets uint64
	// Drops are frames lost because the ring was full (the owner thread
	// fell behind) or memory was short.
	Drops uint64
	// FreezeQueue counts the times a TPACKET_V3 ring filled up and the
	// kernel froze it until a block came back (tp_freeze_q_cnt); always
	// 0 with TPACKET_V2, which drops frame by frame while the ring is
	// full.
	FreezeQueue uint64
}

// Name is the driver's name in the registry (driver.Register), in
// configuration files and in the API: "afpacket".
const Name = "afpacket"

// Kind is Name.
func (d *Driver) Kind() string { return Name }

// KernelDrops implements driver.KernelDropper: the frames the kernel
// dropped because the ring was full or memory short (Stats.Drops).
func (d *Driver) KernelDrops() (uint64, error) {
	s, err := d.Stats()
	return s.Drops, err
}

// Counters are the driver's counters (the caller's, or the private ones
// allocated by Open).
func (d *Driver) Counters() driver.Counters { return d.cnt }

// RxLong counts the frames longer than a TPACKET_V2 slot that Recv read
// from the socket's queue (Config.RxLong, or the private counter).
func (d *Driver) RxLong() counters.Counter { return d.cfg.RxLong }

// Config is the configuration the driver was opened with, defaults filled
// in.
func (d *Driver) Config() Config { return d.cfg }

var (
	_ driver.Driver        = (*Driver)(nil)
	_ driver.KernelDropper = (*Driver)(nil)
)

// Offloads implements driver.Offloader: with vnet headers the driver
// sends super-frames and frames with a checksum left to finish as they
// are, for the kernel to segment and checksum.
func (d *Driver) Offloads() bool { return !d.cfg.NoVnetHdr }

var _ driver.Offloader = (*Driver)(nil)
