//go:build linux

package afxdp

import (
	"errors"
	"fmt"
	"math/bits"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/driver/vnet"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

// refuseVnet is a test hook: Open acts as if the socket for super-frames
// could not be opened.
var refuseVnet bool

// zcCloseGrace is how long Close waits, in zero-copy mode, between closing
// the socket and giving the frames the device held back to the pool. The
// kernel detaches the buffer pool from the device queue in a work item
// that may run after close(2) returns; until it has, the NIC may still DMA
// into frames of the fill ring. Copy mode needs no wait: the kernel stops
// writing frames when the socket is released, before close(2) returns.
const zcCloseGrace = 50 * time.Millisecond

// Driver is an AF_XDP interface driver. Recv, Send and Pending are for the
// owner thread only (the thread that owns Config.Pool); Stats is safe from
// any goroutine; Close must be called once the owner has stopped using the
// driver.
type Driver struct {
	cfg    Config           // defaults filled in; read-only
	cnt    driver.Counters  // written by the owner thread only
	copies counters.Counter // frames of other pools copied before Tx
	pool   *packet.Pool     // cfg.Pool: the UMEM
	npkts  uint32           // pool size: frames in the UMEM
	fd     int              // the XDP socket; -1 once closed

	active     string   // ActiveMode
	mb         multiBuf // frames of several descriptors (multibuf_linux.go)
	zc         bool     // bound in zero-copy mode
	needWakeup bool     // bound with XDP_USE_NEED_WAKEUP (zero-copy only)
	csumCheck  bool     // complete partial checksums on Rx (Config.CsumCheck)
	veth       bool     // the interface is a veth end (isVeth)
	shared     bool     // bound with XDP_SHARED_UMEM to another driver's UMEM

	// The rings, owned by the owner thread. rx has a ring per socket
	// (Config.RxRings): rx[i] is fds[i]'s, and fds[0] is fd, the socket
	// that owns the fill, completion and Tx rings; the others share
	// them (see flowhash_linux.go).
	fill, comp addrRing
	rx         []descRing
	tx         descRing
	fds        []int
	sched      driver.RxSched  // serves the rx rings (Recv)
	clockOff   int64           // wall clock minus the stamps' clock (shed_linux.go)
	clockCalls int             // HeadTime calls since clockOff was measured
	poll       *driver.PollSet // with several sockets: Fd, holding them all

	maxFrame   uint32 // longest frame accepted on Rx and Tx
	fillTarget uint32 // packets to keep lent to the kernel for Rx
	txBudget   uint32 // frames one Tx kick sends in copy mode
	fillHeld   uint32 // packets lent for Rx (fill ring, kernel, Rx ring)
	txHeld     uint32 // packets on the Tx ring or awaiting completion
	primed     bool   // the fill ring has been filled once
	txKick     bool   // Tx descriptors the kernel has not taken yet
	stampSkip  uint32 // bytes of stamp in front of each received frame (stampsInData)

	// held has bit i set while pool packet i belongs to the kernel
	// through this socket (fill or Tx). Recv and the completion reaper
	// hand back only packets whose bit is set, and Close returns every
	// packet whose bit is still set to the pool.
	held []uint64

	prog   *ifProg // the interface's program, shared with its other queues' drivers
	group  *umemGroup
	promFd int // AF_PACKET socket holding promiscuous mode, or -1
	// readMarks are the read marks of the driver's rings, ring i's at i
	// (readmark_linux.go); nil without light-flow steering.
	readMarks []uint64

	// Host-owned mode (hostowned_linux.go): the classifier program,
	// built at the first SetHostOwned(true), whether it runs (under mu),
	// and the socket of the neighbour copies (neigh_linux.go).
	host   *hostProg
	hostOn bool
	neigh  *neighSock

	// vnet sends super-frames and frames with a checksum to finish whole,
	// through an AF_PACKET socket of the interface (Offloads); nil if
	// Config.NoSuperFrames or it could not be opened (vnetWhy says why).
	vnet    *vnet.Sender
	vnetWhy string
	// The order of the two send paths (order_linux.go): the socket sent
	// last, and may still have frames in the kernel; frames held until
	// the Tx ring is empty, in order, in waitBuf (orderHold long).
	vnetSent bool
	waiting  []*packet.Packet
	waitBuf  []*packet.Packet

	// sup receives the super-frames the program passes to the stack
	// (super_linux.go); nil when it does not (supWhy says why).
	sup    *superSock
	supWhy string
	// carry holds frames Recv read, in order, and had no room for
	// (mergeSuper); the next Recv hands them out first. mergeBuf is
	// mergeSuper's scratch batch.
	carry, mergeBuf []*packet.Packet

	mu     sync.Mutex // guards closed, stats and the fd against Close
	closed bool
	// supDropped accumulates the super-frame socket's PACKET_STATISTICS
	// drops (Stats.SuperDropped); guarded by mu.
	supDropped uint64
}

// umemGroup is the set of drivers sharing one UMEM: the drivers of one
// pool (one forwarding thread), bound with XDP_SHARED_UMEM to the socket
// that registered it, or to any member since (the kernel counts the
// UMEM's users, so it outlives the socket that registered it).
type umemGroup struct {
	zc      bool // the UMEM's mode, which shared sockets inherit
	sg      bool // the UMEM was bound with XDP_USE_SG, which shared sockets inherit
	members []*Driver
}

// groups maps pools to their UMEM group. Open and Close take groupsMu for
// their whole run, so a member never closes while another Open binds to
// it.
var (
	groupsMu sync.Mutex
	groups   = map[*packet.Pool]*umemGroup{}
)

// Open opens an AF_XDP socket on queue c.Queue of the interface c
// describes, with c.Pool's memory as UMEM, loads and attaches the redirect
// XDP program, and returns the driver, which must be closed. Call it on a
// locked thread in the interface's network namespace. It does not touch
// the pool: the fill ring is filled by the first Recv, on the owner thread
// (Pending is true until then).
//
// When the kernel or the device refuses every mode c.Mode allows, the
// error wraps ErrUnsupported and says why for each mode.
func Open(c Config) (*Driver, error) {
	name := c.Ifname
	if name == "" {
		name = "ifindex " + strconv.Itoa(c.Ifindex)
	}
	fail := func(err error) (*Driver, error) {
		return nil, fmt.Errorf("open af_xdp %s: %w", name, err)
	}
	// Always look the interface up, even with Ifindex, MTU and name
	// given: a missing interface deserves a clear error, not a bind
	// failure dressed as ErrUnsupported.
	var ifi *net.Interface
	var err error
	if c.Ifindex == 0 {
		ifi, err = net.InterfaceByName(c.Ifname)
	} else {
		ifi, err = net.InterfaceByIndex(c.Ifindex)
	}
	if err != nil {
		return fail(fmt.Errorf("no such interface: %w", err))
	}
	c.Ifindex = ifi.Index
	if c.Ifname == "" {
		c.Ifname = ifi.Name
	}
	c, err = c.withDefaults(ifi.MTU)
	if err != nil {
		if errors.Is(err, errMTUTooBig) {
			err = fmt.Errorf("%w: %w", ErrUnsupported, err)
		}
		return fail(err)
	}
	if stampsInData() && c.MTU > maxMTU-stampLen && (c.NoMultiBuffer || c.Pool.Big() == nil) {
		// The stamp in front of the data takes stampLen of the chunk.
		return fail(fmt.Errorf("%w: MTU %d: want at most %d without multi-buffer frames (and a big-packet pool) on this kernel, whose XDP programs stamp frames in front of their data", ErrUnsupported, c.MTU, maxMTU-stampLen))
	}
	if !pageAligned(c.Pool.Mem(), os.Getpagesize()) {
		return fail(errors.New("pool memory is not page-aligned (make the pool with pagemem.NewPool)"))
	}
	if !countersValid(c.Counters) || !c.TxCopies.Valid() || !c.RxMultiBuf.Valid() || !c.TxMultiBuf.Valid() || !c.TxVnet.Valid() || !c.TxOrderHeld.Valid() || !c.RxVnet.Valid() {
		cnt, reg, err := privateCounters(c.Ifname)
		if err != nil {
			return fail(err)
		}
		if !countersValid(c.Counters) {
			c.Counters = cnt
		}
		for _, x := range []struct {
			c    *counters.Counter
			name string
		}{{&c.TxCopies, driver.DrvTxCopies}, {&c.RxMultiBuf, driver.DrvRxMultiBuf}, {&c.TxMultiBuf, driver.DrvTxMultiBuf}, {&c.TxVnet, driver.DrvTxVnet}, {&c.TxOrderHeld, driver.DrvTxOrderHeld}, {&c.RxVnet, driver.DrvRxVnet}} {
			if !x.c.Valid() {
				*x.c = reg.Counter(0, names.Counter(privateNode(c.Ifname), x.name))
			}
		}
	}
	if !c.NeighCopies.Valid() || !c.NeighErrors.Valid() {
		if c.NeighCopies, c.NeighErrors, err = neighCounters(c.Ifname); err != nil {
			return fail(err)
		}
	}
	d := &Driver{
		cfg:        c,
		cnt:        c.Counters,
		copies:     c.TxCopies,
		pool:       c.Pool,
		npkts:      uint32(c.Pool.Size()),
		fd:         -1,
		promFd:     -1,
		maxFrame:   uint32(c.maxFrame()),
		stampSkip:  stampSkip(),
		fillTarget: uint32(c.FillSize),
		held:       make([]uint64, (c.Pool.Size()+63)/64),
		mb: multiBuf{
			want: !c.NoMultiBuffer && c.Pool.Big() != nil,
			big:  c.Pool.Big(),
			rx:   c.RxMultiBuf,
			tx:   c.TxMultiBuf,
		},
		veth: isVeth(c.Ifname),
	}
	d.csumCheck = c.CsumCheck == CsumOn || c.CsumCheck == CsumAuto && d.veth
	if c.Promisc {
		if err := d.promisc(); err != nil {
			d.release()
			return fail(err)
		}
	}
	if d.neigh, err = openNeigh(c.Ifindex, c.NeighCopies, c.NeighErrors); err != nil {
		d.release()
		return fail(fmt.Errorf("%w: %w", ErrUnsupported, err))
	}
	if c.noVnetTx {
		d.vnetWhy = "the thread sends through its first queue"
	} else if !c.NoSuperFrames {
		// Without it the driver only stops offering super-frames: the
		// GSO node cuts them first, as before the sender existed.
		if refuseVnet {
			d.vnetWhy = "vnet sender: refused by a test"
		} else if d.vnet, err = vnet.Open(c.Ifindex); err != nil {
			d.vnetWhy = err.Error()
		} else {
			d.waitBuf = make([]*packet.Packet, orderHold)
			d.waiting = d.waitBuf[:0]
		}
	} else {
		d.vnetWhy = "off (Config.NoSuperFrames)"
	}
	d.openSuper(ifi.HardwareAddr)
	groupsMu.Lock()
	defer groupsMu.Unlock()
	if err := d.open(); err != nil {
		d.release()
		return fail(err)
	}
	if on, why := d.MultiBuffer(); c.MTU > maxMTU && !on {
		d.release()
		return fail(fmt.Errorf("%w: MTU %d needs frames of several UMEM chunks: %s", ErrUnsupported, c.MTU, why))
	}
	if d.shared {
		d.group = groups[d.pool]
	} else if g := groups[d.pool]; g == nil || len(g.members) == 0 {
		// First driver of the pool: its UMEM is the one later drivers
		// share. (A driver that had to register a UMEM of its own
		// beside an existing group, in another mode, stays out of it.)
		d.group = &umemGroup{zc: d.zc, sg: d.mb.sg}
		groups[d.pool] = d.group
	}
	if d.group != nil {
		d.group.members = append(d.group.members, d)
	}
	return d, nil
}

// promisc opens an AF_PACKET socket of protocol 0 (it receives nothing)
// whose only job is a PACKET_MR_PROMISC membership on the interface.
func (d *Driver) promisc() error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("promiscuous mode: socket: %w", err)
	}
	d.promFd = fd
	mr := unix.PacketMreq{Ifindex: int32(d.cfg.Ifindex), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mr); err != nil {
		return fmt.Errorf("promiscuous mode: %w", err)
	}
	return nil
}

// attempt is one way of opening: a socket mode and the XDP attach modes to
// try with it, in order.
type attempt struct {
	zc     bool
	attach []link.XDPAttachFlags
}

// attempts lists what m allows, best first. On a veth end of one queue
// (genericFirst), auto takes generic XDP before driver mode: a veth's
// "native" XDP is no NIC
// path but its own NAPI instance, which turns the peer's TSO off (every
// TCP segment then crosses separately: 0.35x the kernel with the hosts'
// offloads on, against 0.66x in generic mode, which takes the peer's
// super-frames whole, super_linux.go) and runs a flood's XDP where R2's
// own transmissions schedule it (a ping beside a 64 B flood: p99 12.9x
// the kernel, against 1.7x); r2bench, 2026-12-06, README "Performance").
// Not with several queues: generic XDP takes a veth frame's queue from
// the sender's transmit queue, one off (skb_get_rx_queue of a queue
// mapping never recorded as a receive queue), so one queue gets two
// queues' frames and the last none.
func attempts(m Mode, genericFirst bool) []attempt {
	zc := attempt{zc: true, attach: []link.XDPAttachFlags{link.XDPDriverMode}}
	drv := attempt{attach: []link.XDPAttachFlags{link.XDPDriverMode}}
	skb := attempt{attach: []link.XDPAttachFlags{link.XDPGenericMode}}
	switch m {
	case ModeZeroCopy:
		return []attempt{zc}
	case ModeCopy:
		return []attempt{drv}
	case ModeSKB:
		return []attempt{skb}
	}
	both := attempt{attach: []link.XDPAttachFlags{link.XDPDriverMode, link.XDPGenericMode}}
	if genericFirst {
		both.attach = []link.XDPAttachFlags{link.XDPGenericMode, link.XDPDriverMode}
	}
	return []attempt{zc, both}
}

// open gets the interface's program (shared with the drivers of its
// other queues) and tries the modes cfg.Mode allows until one works.
// groupsMu is held.
func (d *Driver) open() error {
	c := &d.cfg
	var pass superPass
	if d.sup != nil {
		pass = superPass{on: true, mac: d.sup.mac, maxLen: int(d.maxFrame)}
	}
	prog, err := acquireProg(c.Ifindex, c.Queue, c.RxRings, c.LightGap, d.mb.want, pass)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	d.prog = prog
	d.readMarks = prog.read.of(c.Queue, c.RxRings)
	var errs []error
	genericFirst := false
	if d.veth {
		n, err := RxQueues(c.Ifname)
		genericFirst = err == nil && n == 1
	}
	for _, a := range attempts(c.Mode, genericFirst) {
		what := "copy"
		if a.zc {
			what = "zero-copy"
		}
		if prog.attached && !slices.Contains(a.attach, prog.mode) {
			continue // another queue's driver attached it in another mode
		}
		if err := d.openSocket(a.zc); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
			continue
		}
		if err := d.setSockets(prog); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
			d.closeSocket()
			continue
		}
		for _, flags := range a.attach {
			if prog.attached && flags != prog.mode {
				continue
			}
			err := prog.attachShared(c.Ifindex, flags)
			if err == nil {
				d.active = activeName(a.zc, flags)
				return nil
			}
			errs = append(errs, fmt.Errorf("%s: attach XDP (%s): %w", what, attachName(flags), err))
		}
		d.closeSocket()
	}
	if len(errs) == 0 {
		errs = append(errs, fmt.Errorf("mode %v: the interface's program runs in XDP %s mode", c.Mode, attachName(prog.mode)))
	}
	return fmt.Errorf("%w: %w", ErrUnsupported, errors.Join(errs...))
}

// setSockets puts the driver's sockets in the program's map, ring i's in
// slot i of its queue.
func (d *Driver) setSockets(prog *ifProg) error {
	for i, fd := range d.fds {
		if err := prog.setSocket(d.cfg.Queue, i, fd); err != nil {
			return err
		}
	}
	return nil
}

// activeName is the ActiveMode of a socket in zero-copy mode or not with
// the program attached with flags.
func activeName(zc bool, flags link.XDPAttachFlags) string {
	switch {
	case zc:
		return ActiveZeroCopy
	case flags == link.XDPGenericMode:
		return ActiveCopySKB
	}
	return ActiveCopyDrv
}

// attachName names an XDP attach mode in errors.
func attachName(f link.XDPAttachFlags) string {
	if f == link.XDPGenericMode {
		return "generic"
	}
	return "driver"
}

// forceOwnUMEM makes openSocket register a UMEM of its own even when it
// could share: for tests of the fallback.
var forceOwnUMEM bool

// openSocket creates the socket in zero-copy or copy mode, sharing the
// pool's UMEM group if there is one in that mode (and falling back to a
// UMEM of its own if the kernel refuses the sharing).
func (d *Driver) openSocket(zc bool) error {
	if g := groups[d.pool]; g != nil && len(g.members) > 0 && g.zc == zc && !forceOwnUMEM {
		err := d.socket(zc, g.members[0].fd)
		if err == nil {
			return nil
		}
		d.closeSocket()
		if err2 := d.socket(zc, -1); err2 != nil {
			return fmt.Errorf("shared UMEM: %w; own UMEM: %w", err, err2)
		}
		return nil
	}
	return d.socket(zc, -1)
}

// socket creates and binds the socket. With sharedFd >= 0 it binds with
// XDP_SHARED_UMEM to that socket's UMEM; it still has fill and completion
// rings of its own, which the kernel requires of a socket sharing a UMEM
// on another device or queue (Linux 5.10+; sharing the same device and
// queue would share the rings too, and R2 never does that: one driver per
// interface). A shared socket gets no mode flags: it inherits the UMEM's
// (XDP_COPY, XDP_ZEROCOPY or XDP_USE_NEED_WAKEUP with XDP_SHARED_UMEM is
// EINVAL).
func (d *Driver) socket(zc bool, sharedFd int) error {
	c := &d.cfg
	fd, err := unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	d.fd = fd
	d.fds = append(d.fds[:0], fd)
	if sharedFd < 0 {
		if err := registerUMEM(fd, d.pool.Mem()); err != nil {
			return fmt.Errorf("XDP_UMEM_REG of %d frames: %w", d.npkts, err)
		}
	}
	rxSize := c.rxRingSize()
	for _, o := range []struct {
		opt  int
		name string
		size int
	}{
		{unix.XDP_UMEM_FILL_RING, "XDP_UMEM_FILL_RING", c.RingSize},
		{unix.XDP_UMEM_COMPLETION_RING, "XDP_UMEM_COMPLETION_RING", c.RingSize},
		{unix.XDP_RX_RING, "XDP_RX_RING", rxSize},
		{unix.XDP_TX_RING, "XDP_TX_RING", c.RingSize},
	} {
		if err := unix.SetsockoptInt(fd, unix.SOL_XDP, o.opt, o.size); err != nil {
			return fmt.Errorf("%s %d: %w", o.name, o.size, err)
		}
	}
	off, err := getMmapOffsets(fd)
	if err != nil {
		return err
	}
	if d.fill, err = mapAddrRing(fd, unix.XDP_UMEM_PGOFF_FILL_RING, off.Fr, c.RingSize); err != nil {
		return fmt.Errorf("mmap fill ring: %w", err)
	}
	if d.comp, err = mapAddrRing(fd, unix.XDP_UMEM_PGOFF_COMPLETION_RING, off.Cr, c.RingSize); err != nil {
		return fmt.Errorf("mmap completion ring: %w", err)
	}
	rx, err := mapDescRing(fd, unix.XDP_PGOFF_RX_RING, off.Rx, rxSize)
	if err != nil {
		return fmt.Errorf("mmap Rx ring: %w", err)
	}
	d.rx = append(d.rx[:0], rx)
	if d.tx, err = mapDescRing(fd, unix.XDP_PGOFF_TX_RING, off.Tx, c.RingSize); err != nil {
		return fmt.Errorf("mmap Tx ring: %w", err)
	}
	// Best effort: kernels before 6.17 do not know the option
	// (ENOPROTOOPT) and keep their budget of 32 (TX_BATCH_SIZE). A
	// shared socket has its own budget too: it is per socket.
	d.txBudget = kernelTxBudget
	if !zc && unix.SetsockoptInt(fd, unix.SOL_XDP, unix.XDP_MAX_TX_SKB_BUDGET, c.TxBudget) == nil {
		d.txBudget = uint32(c.TxBudget)
	}
	sa := &unix.SockaddrXDP{Ifindex: uint32(c.Ifindex), QueueID: uint32(c.Queue)}
	switch {
	case sharedFd >= 0:
		sa.Flags = unix.XDP_SHARED_UMEM
		sa.SharedUmemFD = uint32(sharedFd)
	case zc:
		// Need-wakeup lets the driver sleep when the fill ring is
		// empty and saves a syscall per Tx batch while it is busy.
		sa.Flags = unix.XDP_ZEROCOPY | unix.XDP_USE_NEED_WAKEUP
	default:
		// No need-wakeup in copy mode: Tx is only ever driven by a
		// kick, and Rx never sleeps, so the flag would buy nothing.
		sa.Flags = unix.XDP_COPY
	}
	if err := d.bindSG(fd, sa); err != nil {
		return fmt.Errorf("bind to queue %d (flags %#x): %w", c.Queue, sa.Flags, err)
	}
	if sharedFd >= 0 {
		d.mb.sg = groups[d.pool].sg
	}
	d.zc = zc
	d.needWakeup = zc // a shared socket inherits it with the UMEM's mode
	d.shared = sharedFd >= 0
	for i := 1; i < c.RxRings; i++ {
		if err := d.rxSocket(rxSize); err != nil {
			return fmt.Errorf("receive ring %d of %d: %w", i, c.RxRings, err)
		}
	}
	pollFds := slices.Clone(d.fds)
	if d.sup != nil {
		pollFds = append(pollFds, d.sup.fd)
	}
	if len(pollFds) > 1 {
		p, err := driver.NewPollSet("af_xdp "+c.Ifname, pollFds)
		if err != nil {
			return err
		}
		d.poll = p
	}
	d.sched = driver.NewRxSched(c.RxRings)
	d.sched.SetRingCounters(c.RxRingCounters)
	return nil
}

// rxSocket adds a receive-only socket on the driver's queue, sharing the
// first socket's buffer pool: bound with XDP_SHARED_UMEM to it on the same
// device and queue, it has no fill or completion ring of its own (the
// kernel refuses them: EINVAL) and takes its buffers from the shared fill
// ring, and it needs no Tx ring (the first socket sends).
func (d *Driver) rxSocket(size int) error {
	c := &d.cfg
	fd, err := unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	d.fds = append(d.fds, fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_XDP, unix.XDP_RX_RING, size); err != nil {
		return fmt.Errorf("XDP_RX_RING %d: %w", size, err)
	}
	off, err := getMmapOffsets(fd)
	if err != nil {
		return err
	}
	rx, err := mapDescRing(fd, unix.XDP_PGOFF_RX_RING, off.Rx, size)
	if err != nil {
		return fmt.Errorf("mmap Rx ring: %w", err)
	}
	d.rx = append(d.rx, rx)
	sa := &unix.SockaddrXDP{Flags: unix.XDP_SHARED_UMEM, Ifindex: uint32(c.Ifindex), QueueID: uint32(c.Queue), SharedUmemFD: uint32(d.fd)}
	if err := bind(fd, sa); err != nil {
		return fmt.Errorf("bind to queue %d sharing the first socket's rings: %w", c.Queue, err)
	}
	return nil
}

// kernelTxBudget is the kernel's default Tx budget per kick in copy mode
// (TX_BATCH_SIZE in net/xdp/xsk.c).
const kernelTxBudget = 32

// bindBusyWait bounds how long bind retries EBUSY. A socket closed on the
// same queue keeps the queue busy until the kernel has released its buffer
// pool, which it does after an RCU grace period, in a work item, after
// close(2) has returned; reopening an interface at once (a test, the link
// watcher re-adding it) would otherwise fail. A queue held by a live
// socket stays busy and fails after the wait.
const bindBusyWait = time.Second

// bind binds the socket, retrying while the queue is busy (see
// bindBusyWait). A failed bind leaves the socket as it was, so it can be
// retried.
func bind(fd int, sa *unix.SockaddrXDP) error {
	deadline := time.Now().Add(bindBusyWait)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		err := unix.Bind(fd, sa)
		if err != unix.EBUSY || time.Now().After(deadline) {
			return err
		}
		time.Sleep(wait)
	}
}

// closeSocket unmaps the rings and closes the socket, whatever exists of
// them; the kernel takes it out of the XSKMAP.
func (d *Driver) closeSocket() error {
	err := errors.Join(d.fill.unmap(), d.comp.unmap(), d.tx.unmap(), d.poll.Close())
	d.poll = nil
	for i := range d.rx {
		err = errors.Join(err, d.rx[i].unmap())
	}
	d.rx = d.rx[:0]
	for _, fd := range d.fds {
		err = errors.Join(err, unix.Close(fd))
	}
	d.fds = d.fds[:0]
	d.fd = -1
	d.sched = driver.RxSched{}
	d.zc, d.needWakeup, d.shared, d.mb.sg = false, false, false, false
	return err
}

// ActiveMode says how the driver runs: ActiveZeroCopy, ActiveCopyDrv or
// ActiveCopySKB ("" once closed).
func (d *Driver) ActiveMode() string { return d.active }

// SharedUMEM reports whether the socket shares its UMEM with an earlier
// driver of the same pool (XDP_SHARED_UMEM).
func (d *Driver) SharedUMEM() bool { return d.shared }

// Fd is the XDP socket, or with several receive rings (or the socket of
// received super-frames) an epoll instance holding their sockets. It
// polls readable when an Rx ring has frames.
func (d *Driver) Fd() int {
	if d.poll != nil {
		return d.poll.Fd()
	}
	return d.fd
}

// Quiet implements driver.Quieter: with several receive rings it takes
// their sockets out of the driver's epoll instance (on) or puts them back.
func (d *Driver) Quiet(on bool) error { return d.poll.Quiet(on) }

// RxRings is the number of receive rings (sockets) the driver reads.
func (d *Driver) RxRings() int { return len(d.rx) }

// Stats reads the socket's statistics. Safe from any goroutine; FillHeld
// and TxHeld are the owner thread's and exact only while it is stopped.
func (d *Driver) Stats() (Stats, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return Stats{}, ErrClosed
	}
	if d.sup != nil {
		// PACKET_STATISTICS counts since the last read: accumulated.
		st, err := unix.GetsockoptTpacketStats(d.sup.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
		if err != nil {
			return Stats{}, fmt.Errorf("af_xdp %s: PACKET_STATISTICS of the super-frame socket: %w", d.cfg.Ifname, err)
		}
		d.supDropped += uint64(st.Drops)
	}
	s := Stats{FillHeld: int(d.fillHeld), TxHeld: int(d.txHeld), SuperDropped: d.supDropped}
	for i, fd := range d.fds {
		st, err := getStatistics(fd)
		if err != nil {
			return Stats{}, fmt.Errorf("af_xdp %s: XDP_STATISTICS of ring %d: %w", d.cfg.Ifname, i, err)
		}
		s.RxDropped += st.Rx_dropped
		s.RxInvalidDescs += st.Rx_invalid_descs
		s.TxInvalidDescs += st.Tx_invalid_descs
		s.RxRingFull += st.Rx_ring_full
		if i == 0 {
			// The others share its fill ring and have no Tx
			// ring: the kernel reports the same count for each.
			s.RxFillRingEmpty = st.Rx_fill_ring_empty_descs
			s.TxRingEmpty = st.Tx_ring_empty_descs
		}
	}
	return s, nil
}

// Close detaches the XDP program, closes the socket and gives every pool
// packet the driver held (fill ring, Rx ring, Tx ring, awaiting
// completion) back to the pool, through Packet.Return: Close may run on
// any goroutine while the owner thread keeps using the pool for other
// interfaces; the owner takes them back at its next Get or Reclaim.
// Calling it again does nothing.
func (d *Driver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	groupsMu.Lock()
	if g := d.group; g != nil {
		for i, m := range g.members {
			if m == d {
				g.members = append(g.members[:i], g.members[i+1:]...)
				break
			}
		}
		if len(g.members) == 0 && groups[d.pool] == g {
			delete(groups, d.pool)
		}
		d.group = nil
	}
	defer groupsMu.Unlock()
	return d.release()
}

// release frees everything that exists of the driver. groupsMu is held
// if the driver has a program.
func (d *Driver) release() error {
	var err error
	if d.prog != nil {
		// Detach first (the last driver of the interface): no frame is
		// redirected to the socket after. A shared program stays; the
		// socket leaves its map when it closes.
		if e := releaseProg(d.prog); e != nil {
			err = fmt.Errorf("af_xdp %s: detach XDP program: %w", d.cfg.Ifname, e)
		}
		d.prog = nil
		d.readMarks = nil
	}
	if d.host != nil {
		if e := d.host.close(); e != nil && err == nil {
			err = fmt.Errorf("af_xdp %s: close host-owned program: %w", d.cfg.Ifname, e)
		}
		d.host, d.hostOn = nil, false
	}
	if d.neigh != nil {
		if e := d.neigh.close(); e != nil && err == nil {
			err = fmt.Errorf("af_xdp %s: close neighbour socket: %w", d.cfg.Ifname, e)
		}
		d.neigh = nil
	}
	if e := d.vnet.Close(); e != nil && err == nil {
		err = fmt.Errorf("af_xdp %s: close the super-frame socket: %w", d.cfg.Ifname, e)
	}
	if d.sup != nil {
		if e := d.sup.close(); e != nil && err == nil {
			err = fmt.Errorf("af_xdp %s: close the socket of received super-frames: %w", d.cfg.Ifname, e)
		}
		d.sup = nil
	}
	zc := d.zc
	if e := d.closeSocket(); e != nil && err == nil {
		err = fmt.Errorf("af_xdp %s: close socket: %w", d.cfg.Ifname, e)
	}
	if d.promFd >= 0 {
		if e := unix.Close(d.promFd); e != nil && err == nil {
			err = fmt.Errorf("af_xdp %s: close promiscuous socket: %w", d.cfg.Ifname, e)
		}
		d.promFd = -1
	}
	if zc {
		time.Sleep(zcCloseGrace)
	}
	for w, word := range d.held {
		for word != 0 {
			i := bits.TrailingZeros64(word)
			word &^= 1 << i
			d.pool.Packet(uint32(w*64 + i)).Return()
		}
		d.held[w] = 0
	}
	for i, p := range d.waiting {
		p.Return()
		d.waiting[i] = nil
	}
	for i, p := range d.carry {
		p.Return()
		d.carry[i] = nil
	}
	d.carry = d.carry[:0]
	d.waiting = d.waitBuf[:0]
	d.fillHeld, d.txHeld, d.txKick = 0, 0, false
	d.mb.drop()
	d.active = ""
	return err
}
