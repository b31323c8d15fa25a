//go:build linux

package afpacket

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/packet"
)

// sndBuf is the socket send buffer asked for. Frames sent with the qdisc
// bypassed are charged to it until the device has taken them; a batch of
// TxBatch full-size frames needs about 600 KiB (payload plus skb overhead),
// more than the 208 KiB default, or the end of a big batch fails with
// EAGAIN. 4 MiB leaves room for several batches in flight.
const sndBuf = 4 << 20

// Driver is an AF_PACKET interface driver. Recv, Send and Pending are for
// the owner thread only; Stats is safe from any goroutine; Close must be
// called once the owner has stopped using the driver.
type Driver struct {
	cfg Config          // defaults filled in; read-only
	cnt driver.Counters // written by the owner thread only
	// fd is the socket Send transmits on, the first receive queue's; -1
	// once closed.
	fd int
	// gsoFd sends super-frames (vnet headers only; else -1): a second
	// socket, bound to the interface with protocol 0 (it receives
	// nothing), that does not bypass the qdisc. With the qdisc bypassed the
	// kernel drops a super-frame the device cannot segment itself
	// (__dev_direct_xmit refuses what validate_xmit_skb segmented: a veth
	// or NIC with TSO off), where dev_queue_xmit segments it in software.
	gsoFd int
	// plainFd sends the frames that need no virtio_net_hdr (vnet headers
	// only; else -1): a third socket, bound with protocol 0, without
	// PACKET_VNET_HDR and with the qdisc bypassed, as fd is. fd has the
	// option (its receive ring needs it) and then takes a header on every
	// frame it sends, which the kernel parses: measured 4-7% of R2's CPU
	// per plain frame.
	plainFd int
	// vnet says the receive rings' frames start with a virtio_net_hdr
	// and frames for gsoFd must (PACKET_VNET_HDR); read-only.
	vnet bool

	// qs are the receive queues (Config.RxQueues), each a socket with
	// its own Rx ring, walked by the owner thread; none before Open has
	// made them and after Close.
	qs []rxq
	// poll is an epoll instance holding the sockets of all queues, which
	// the owner thread polls in their place (Fd) when there are several;
	// nil with one queue.
	poll *driver.PollSet
	// sched serves the rings of qs (Recv): deficit round robin, light
	// rings first.
	sched driver.RxSched

	// Tx message headers, preallocated and reused to avoid allocations:
	// msgs[i].Hdr.Iov points at iovs[i] for the life of the driver, and
	// Send points iovs[i] at the data of the i-th packet of a batch.
	msgs [TxBatch]unix.Mmsghdr
	iovs [TxBatch]unix.Iovec
	// txSock is the socket each frame of a batch goes through (sendBatch).
	txSock [TxBatch]int32

	mu     sync.Mutex // guards closed, stats and the fds against Close
	closed bool
	stats  Stats // accumulated PACKET_STATISTICS of all queues

	// filt is the interface's tcx ingress filter (Config.KernelRxFilter),
	// nil if not asked for or not attached; filtErr says why not.
	// Read-only after Open; closed with the driver.
	filt    *tcxFilter
	filtErr error
	// steer is the fanout group's light-flow steering program
	// (Config.LightGap), nil if not asked for or not loaded; steerErr
	// says why not. Read-only after Open; closed with the driver.
	steer    *steerer
	steerErr error
	// steerGroup: a later member (Config.Member) that joined a
	// steering group, whose program member 0 holds.
	steerGroup bool
}

// rxq is one receive queue: a socket and its Rx ring.
type rxq struct {
	fd  int    // -1 once closed
	mem []byte // the ring's mapping
	rx  rxRing // noRing until the ring exists
}

// Open opens an AF_PACKET socket on the interface c describes, sets up its
// receive ring and binds it. Call it on a thread in the interface's network
// namespace. The returned driver must be closed.
func Open(c Config) (*Driver, error) {
	name := c.Ifname
	if name == "" {
		name = "ifindex " + strconv.Itoa(c.Ifindex)
	}
	fail := func(err error) (*Driver, error) {
		return nil, fmt.Errorf("open af_packet %s: %w", name, err)
	}
	mtu := 0
	if c.Ifindex == 0 || c.MTU == 0 {
		var ifi *net.Interface
		var err error
		if c.Ifindex == 0 {
			ifi, err = net.InterfaceByName(c.Ifname)
		} else {
			ifi, err = net.InterfaceByIndex(c.Ifindex)
		}
		if err != nil {
			return fail(err)
		}
		c.Ifindex, mtu = ifi.Index, ifi.MTU
		if c.Ifname == "" {
			c.Ifname = ifi.Name
		}
	}
	c, err := c.withDefaults(mtu, os.Getpagesize())
	if err != nil {
		return fail(err)
	}
	if !countersValid(c.Counters) || !c.RxLong.Valid() || !c.RxOutgoing.Valid() {
		cnt, long, outgoing, err := privateCounters(c.Ifname)
		if err != nil {
			return fail(err)
		}
		if !countersValid(c.Counters) {
			c.Counters = cnt
		}
		if !c.RxLong.Valid() {
			c.RxLong = long
		}
		if !c.RxOutgoing.Valid() {
			c.RxOutgoing = outgoing
		}
	}
	d := &Driver{cfg: c, cnt: c.Counters, fd: -1, gsoFd: -1, plainFd: -1, vnet: !c.NoVnetHdr}
	for i := range d.msgs {
		d.msgs[i].Hdr.Iov = &d.iovs[i]
		d.msgs[i].Hdr.SetIovlen(1)
	}
	if err := d.open(); err != nil {
		d.release()
		return fail(err)
	}
	if c.KernelRxFilter {
		// After the socket is bound: tcx runs after the packet taps, so
		// R2 still sees every frame the filter drops.
		d.filt, d.filtErr = attachFilter(c.Ifindex, c.Ifname, c.Logf)
	}
	return d, nil
}

// open creates the receive queues' sockets, all in one fanout group when
// there are several, and the epoll instance that watches them. The first
// socket is the one Send transmits on.
func (d *Driver) open() error {
	c := &d.cfg
	fan := fanout{join: c.Fanout != 0 || c.RxQueues > 1, id: c.Fanout, mode: unix.PACKET_FANOUT_HASH}
	later := false // a later member of a group asked to steer
	switch {
	case c.LightGap <= 0 || c.RxQueues < 2:
	case c.Member == 0:
		// Loaded before the sockets join: if it cannot be, the group
		// is made in hash mode instead (in eBPF mode without a
		// program every frame would go to the first ring).
		if d.steer, d.steerErr = newSteerer(c.RxQueues, c.Members, c.LightGap); d.steerErr == nil && refuseSteer {
			d.steer.close()
			d.steer, d.steerErr = nil, errors.New("refused by a test")
		}
		if d.steerErr == nil {
			fan.mode = unix.PACKET_FANOUT_EBPF
		}
	default:
		// A later member joins the group in the mode member 0 made
		// it: eBPF, unless its program did not load. The kernel
		// refuses a member of another mode (EINVAL), so the first
		// join tells.
		fan.mode, fan.probe, later = unix.PACKET_FANOUT_EBPF, true, true
	}
	if fan.join && fan.id == 0 {
		// No group given: the kernel picks an id no other group of
		// the namespace has (which may be 0), and the other queues
		// join it by that id.
		fan.flags = unix.PACKET_FANOUT_FLAG_UNIQUEID
	}
	// PACKET_IGNORE_OUTGOING on a member does not reach the group's hook,
	// so without this flag every frame the interface sends, R2's
	// super-frames too (they pass the qdisc and its taps), is copied into
	// a ring and dropped there (RxOutgoing).
	fan.flags |= unix.PACKET_FANOUT_FLAG_IGNORE_OUTGOING
	d.qs = make([]rxq, 0, c.RxQueues)
	d.sched = driver.NewRxSched(c.RxQueues)
	d.sched.SetRingCounters(c.RxRingCounters)
	for i := range c.RxQueues {
		d.qs = append(d.qs, rxq{fd: -1, rx: noRing{}}) // release closes what exists
		if err := d.openQueue(&d.qs[i], i == 0, &fan); err != nil {
			if c.RxQueues > 1 {
				return fmt.Errorf("receive queue %d of %d: %w", i+1, c.RxQueues, err)
			}
			return err
		}
		if fan.flags&unix.PACKET_FANOUT_FLAG_UNIQUEID != 0 {
			v, err := unix.GetsockoptInt(d.qs[i].fd, unix.SOL_PACKET, unix.PACKET_FANOUT)
			if err != nil {
				return fmt.Errorf("PACKET_FANOUT group id: %w", err)
			}
			fan.id, fan.flags = uint16(v), fan.flags&^unix.PACKET_FANOUT_FLAG_UNIQUEID
		}
	}
	d.fd = d.qs[0].fd
	if later {
		d.steerGroup = fan.mode == unix.PACKET_FANOUT_EBPF
		if !d.steerGroup {
			d.steerErr = errors.New("the fanout group runs the kernel's hash: its first member's steering program did not load")
		}
	}
	if len(d.qs) == 1 {
		return nil
	}
	if d.steer != nil {
		// This driver's queues have joined, so the program's ring
		// numbers are theirs (until now frames went to the first
		// ring); later members' rings join after them, in order.
		if err := unix.SetsockoptInt(d.qs[0].fd, unix.SOL_PACKET, unix.PACKET_FANOUT_DATA, d.steer.prog.FD()); err != nil {
			return fmt.Errorf("PACKET_FANOUT_DATA (light-flow steering program): %w", err)
		}
	}
	fds := make([]int, len(d.qs))
	for i := range d.qs {
		fds[i] = d.qs[i].fd
	}
	var err error
	d.poll, err = driver.NewPollSet("af_packet "+d.cfg.Ifname, fds)
	return err
}

// joinFanout joins fd to fan's group, settling fan's mode and flags on
// what the group took. A mismatch of either is EINVAL: a kernel that
// refuses PACKET_FANOUT_FLAG_IGNORE_OUTGOING makes the group (and every
// socket joining it, whose flags must match) go without, and the rings
// drop outgoing frames themselves; a later member probing for eBPF mode
// falls back to the kernel's hash.
func joinFanout(fd int, fan *fanout) error {
	modes := []int{fan.mode}
	if fan.probe {
		modes = append(modes, unix.PACKET_FANOUT_HASH)
	}
	flags := []int{fan.flags}
	if fan.flags&unix.PACKET_FANOUT_FLAG_IGNORE_OUTGOING != 0 {
		flags = append(flags, fan.flags&^unix.PACKET_FANOUT_FLAG_IGNORE_OUTGOING)
	}
	var err error
	for _, fl := range flags {
		for _, mode := range modes {
			err = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, int(fan.id)|(mode|fl)<<16)
			if err == nil {
				fan.mode, fan.flags, fan.probe = mode, fl, false
				return nil
			}
			if !errors.Is(err, unix.EINVAL) {
				return err
			}
		}
	}
	return err
}

// Quiet implements driver.Quieter: with several receive queues it takes
// their sockets out of the driver's epoll instance (on) or puts them back.
// With one queue Fd is the socket itself, which the owner thread's epoll
// set watches directly: nothing to do here.
func (d *Driver) Quiet(on bool) error { return d.poll.Quiet(on) }

// fanout is the PACKET_FANOUT group the sockets join, if join: id, with
// mode and flags for the first socket. probe says that the group may be
// in hash mode instead of mode (a later member's): the first join finds
// out.
type fanout struct {
	join  bool
	id    uint16
	mode  int // PACKET_FANOUT_HASH, or _EBPF when steering
	flags int
	probe bool
}

// openQueue creates and sets up the socket of q; tx says it is the one
// Send transmits on (and the one holding the promiscuous membership); it
// joins fan's group if fan.join. The order
// matters: the socket is created with protocol 0, which receives nothing,
// and gets ETH_P_ALL only at bind, after the ring exists. A socket created
// with ETH_P_ALL would queue frames of every interface on its plain receive
// queue until then, and those stale frames would keep it polling readable
// for ever (poll reports the receive queue as well as the ring).
func (d *Driver) openQueue(q *rxq, tx bool, fan *fanout) error {
	c := &d.cfg
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	q.fd = fd
	if !c.NoVnetHdr {
		// Before the ring: the kernel refuses it (EBUSY) once a ring
		// exists, and sizes the ring's frame offsets with it.
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
			return fmt.Errorf("PACKET_VNET_HDR: %w", err)
		}
	}
	switch c.Version {
	case RingV2:
		err = d.setupV2(q)
	case RingV3:
		err = d.setupV3(q)
	default: // withDefaults let no other through
		err = fmt.Errorf("ring version %v", c.Version)
	}
	if err != nil {
		return err
	}
	// Outgoing frames (the kernel's own on this interface) are not R2's
	// to forward. Our own transmissions never come back to this socket in
	// any case: the kernel does not loop a socket's frames to itself, and
	// with the qdisc bypassed they skip the packet taps altogether.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		return fmt.Errorf("PACKET_IGNORE_OUTGOING: %w", err)
	}
	if tx {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1); err != nil {
			return fmt.Errorf("PACKET_QDISC_BYPASS: %w", err)
		}
		// SO_SNDBUFFORCE passes net.core.wmem_max but needs
		// CAP_NET_ADMIN; without it take what SO_SNDBUF gives (best
		// effort: a small buffer only makes big batches fail sooner,
		// and that is counted).
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, sndBuf) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, sndBuf)
		}
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: c.Ifindex}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("bind to ifindex %d: %w", c.Ifindex, err)
	}
	// Fanout needs a bound socket. Hash mode without ROLLOVER: a flow must
	// never move to another socket (ring, thread) when its ring is full,
	// or its frames would be reordered; without DEFRAG: a router forwards
	// fragments as they are (a datagram's later fragments, which carry no
	// ports, may reach another ring than its first).
	if tx && !c.NoVnetHdr {
		if err := d.openTxSocket(&d.gsoFd, "super-frames", unix.PACKET_VNET_HDR, "PACKET_VNET_HDR"); err != nil {
			return err
		}
		if err := d.openTxSocket(&d.plainFd, "plain frames", unix.PACKET_QDISC_BYPASS, "PACKET_QDISC_BYPASS"); err != nil {
			return err
		}
	}
	if fan.join {
		if err := joinFanout(fd, fan); err != nil {
			return fmt.Errorf("PACKET_FANOUT group %d: %w", fan.id, err)
		}
	}
	if tx && c.Promisc {
		mr := unix.PacketMreq{Ifindex: int32(c.Ifindex), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mr); err != nil {
			return fmt.Errorf("promiscuous mode: %w", err)
		}
	}
	return nil
}

// mapRing maps the Rx ring of size bytes the kernel has just set up on q.
func mapRing(q *rxq, size int) error {
	mem, err := unix.Mmap(q.fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("mmap Rx ring: %w", err)
	}
	q.mem = mem
	return nil
}

// htons converts v to network byte order.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// Fd is the descriptor the owner thread polls: the socket, or with
// several receive queues an epoll instance holding their sockets (an epoll
// fd polls readable while any of its fds does, and nests in the thread's
// own epoll set). A socket polls readable when its ring holds a frame for
// Recv (TPACKET_V2 signals each frame as soon as it is written, TPACKET_V3
// a block when the kernel retires it, full or timed out), and stays
// readable while the last frame or block handed over is not given back.
func (d *Driver) Fd() int {
	if d.poll != nil {
		return d.poll.Fd()
	}
	return d.fd
}

// Pending reports whether Recv would find a frame now in any ring: the
// next frame (TPACKET_V2) or the current block (TPACKET_V3) is ready, or
// the current block has unread frames. At most one atomic load per ring.
func (d *Driver) Pending() bool {
	for i := range d.qs {
		if d.qs[i].rx.pending() {
			return true
		}
	}
	return false
}

// FreshPending implements driver.FreshPender: a light ring has a frame.
func (d *Driver) FreshPending() bool { return d.sched.FreshPending(d) }

// RecvRing implements driver.RxRings: it copies up to len(pkts) frames of
// queue i's ring into packets of pool.
func (d *Driver) RecvRing(i int, pool *packet.Pool, pkts []*packet.Packet) int {
	return d.qs[i].rx.recv(pool, pkts, &d.cnt)
}

// RingPending implements driver.RxRings.
func (d *Driver) RingPending(i int) bool { return d.qs[i].rx.pending() }

// Stats reads the kernel's receive statistics of the sockets, summed over
// the receive queues and accumulated since Open. Safe from any goroutine.
func (d *Driver) Stats() (Stats, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return d.stats, ErrClosed
	}
	for i := range d.qs {
		// A TPACKET_V2 socket fills only the first two fields
		// (struct tpacket_stats), leaving Freeze_q_cnt 0.
		s, err := unix.GetsockoptTpacketStatsV3(d.qs[i].fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
		if err != nil {
			return d.stats, fmt.Errorf("af_packet %s: PACKET_STATISTICS: %w", d.cfg.Ifname, err)
		}
		// tp_packets already includes tp_drops (the kernel adds them).
		d.stats.Packets += uint64(s.Packets)
		d.stats.Drops += uint64(s.Drops)
		d.stats.FreezeQueue += uint64(s.Freeze_q_cnt)
	}
	return d.stats, nil
}

// Close unmaps the rings and closes the sockets; the kernel drops the
// promiscuous membership with them. Calling it again does nothing.
func (d *Driver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	var err error
	if d.filt != nil {
		// Before the socket: no frame of the interface is filtered
		// without R2 having had its copy.
		err = d.filt.close()
	}
	if e := d.release(); e != nil {
		err = e
	}
	return err
}

// Steering reports whether light flows are steered to ring 0
// (Config.LightGap) and, if they were asked to be and are not, why.
func (d *Driver) Steering() (on bool, why error) { return d.steer != nil || d.steerGroup, d.steerErr }

// KernelFilter reports whether the tcx ingress filter is attached and,
// if Config.KernelRxFilter asked for it and it is not, why.
func (d *Driver) KernelFilter() (on bool, why error) {
	if d.filt != nil {
		if d.filt.attached() {
			return true, nil
		}
		return false, d.filt.detachedWhy()
	}
	return false, d.filtErr
}

// KernelFiltered implements driver.KernelFilterCounter: the transit
// frames the tcx filter dropped before the kernel's IP layer (0 without
// a filter). Safe from any goroutine.
func (d *Driver) KernelFiltered() (uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return 0, ErrClosed
	}
	if d.filt == nil {
		return 0, nil
	}
	return d.filt.droppedFrames()
}

// openTxSocket opens a transmit-only socket: bound to the interface with
// protocol 0 so it never receives, the socket buffer of the main socket,
// and the option opt (PACKET_VNET_HDR for gsoFd, PACKET_QDISC_BYPASS for
// plainFd). *fdp holds it as soon as it exists, so release closes it
// whatever fails after.
func (d *Driver) openTxSocket(fdp *int, what string, opt int, optName string) error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket for %s: %w", what, err)
	}
	*fdp = fd
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, opt, 1); err != nil {
		return fmt.Errorf("%s: %w", optName, err)
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, sndBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, sndBuf)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: d.cfg.Ifindex}); err != nil {
		return fmt.Errorf("bind the socket for %s to ifindex %d: %w", what, d.cfg.Ifindex, err)
	}
	return nil
}

// release frees the rings, the sockets and the epoll instance, whatever
// exists of them.
func (d *Driver) release() error {
	var err error
	keep := func(e error) {
		if e != nil && err == nil {
			err = fmt.Errorf("af_packet %s: %w", d.cfg.Ifname, e)
		}
	}
	if d.gsoFd >= 0 {
		keep(unix.Close(d.gsoFd))
		d.gsoFd = -1
	}
	if d.plainFd >= 0 {
		keep(unix.Close(d.plainFd))
		d.plainFd = -1
	}
	keep(d.poll.Close())
	d.poll = nil
	for i := range d.qs {
		q := &d.qs[i]
		q.rx = noRing{}
		if q.mem != nil {
			keep(unix.Munmap(q.mem))
			q.mem = nil
		}
		if q.fd >= 0 {
			keep(unix.Close(q.fd))
			q.fd = -1
		}
	}
	d.qs, d.sched = nil, driver.RxSched{}
	d.fd = -1
	// The group holds its own reference to the program.
	d.steer.close()
	return err
}
