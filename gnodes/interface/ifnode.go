// Package ifnode is IfNode, the graph node of one interface: it transmits
// the packets queued to it (Send: the graph lets every interface send
// before any receives) and receives frames from the interface's driver
// (Dispatch).
//
// Every thread has a clone of every IfNode, but only the owner thread
// touches the driver. An interface served by several threads has a
// driver.Group: each serving thread's clone drives its own driver (Rx and
// Tx; the kernel's fanout keeps a flow on one of them), and the owner is
// the group's first thread. On other threads IfNode hands its Tx packets to the
// owner through a bounded lock-free MPSC ring shared by all clones, and wakes
// the owner only if the owner announced it may be going to sleep. A full ring
// drops and counts. Rx is throttled to the room left in EtherDecap's vector,
// so under overload frames stay in the driver (and the kernel drops them)
// instead of being dropped inside the graph. Each received batch goes
// through software GRO (package gro, unless GRO is off) before it enters
// the graph: a TCP flow's segments become one super-frame.
//
// Beside a flood a light flow's packets are not kept behind the flood's
// batch: Send transmits packets marked packet.MetaSparse first (none ever
// overtakes a packet of its own receive queue, so no flow is reordered),
// and sends long vectors in parts of 64, stopping between two when a
// light flow's frame waits at an input (graph.Waiter: a ring the driver
// counts as light, driver.FreshPender), so that frame is forwarded in the
// next run instead of after the whole batch; the rest waits in the
// vector, and the graph admits no more than the vector can hold again.
package ifnode

import (
	"time"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/gnodes/interface/gro"
	"github.com/r2go/r2/gnodes/internal/handoff"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
	"github.com/r2go/r2/r2/ring"
)

// Waker wakes a forwarding thread (poll.Waker in the engine).
type Waker = handoff.Waker

// ShedTarget bounds how long a frame may wait in a driver's receive queue
// once the queue stands (ShedInterval): older frames of heavy flows are
// shed from the head of the queue (of a heavy TCP flow, one per
// ShedInterval: see there), uncopied, before the next batch is read
// (drivers with driver.Shedder: AF_PACKET, both ring versions, and AF_XDP,
// whose XDP program stamps each frame), so the ring keeps
// room for new arrivals and a light flow's frame (a ping, a routing
// protocol) is neither dropped by the kernel at a full ring nor kept
// waiting behind a ring of flood. Shedding an uncopied frame is cheap
// enough that the thread catches up with the queue head within a run.
// 0 turns shedding off. Set it (daemon: rx_shed_us) before interfaces are
// added; it is read when a clone is made.
var ShedTarget = DefaultShedTarget

// ShedInterval is how long the queue head's age must stay at or above
// ShedTarget, the queue never emptying, before shedding starts
// (driver.ShedControl): a burst the thread catches up with, such as the
// ring it finds after losing its CPU for a while, is forwarded, not shed.
// It is also how often a heavy TCP flow in the standing queue loses a
// frame (driver.FlowMeter.TCPGap): one loss makes its sender slow down, so
// it is signalled rather than cut back. Daemon: rx_shed_interval_us.
var ShedInterval = DefaultShedInterval

// Defaults of ShedTarget and ShedInterval (README, Latency: measured
// beside a 64 B flood).
const (
	DefaultShedTarget   = time.Millisecond
	DefaultShedInterval = 10 * time.Millisecond
)

// GRO turns software GRO on (package gro): the TCP segments of each
// received batch are merged into super-frames before they enter the graph,
// so they leave as one frame for the kernel (or the GSO node) to cut again.
// Set it (daemon: gro) before interfaces are added; it is read when a clone
// is made. Batches are merged only while some interface's driver sends
// super-frames whole (fwd.Interfaces.AnyOffload, from the last
// msg.Interfaces): on a router of AF_XDP interfaces alone the GSO node
// would cut every one again, and merging and cutting cost more than the
// graph saves on the merged frame (TCP through two AF_XDP interfaces:
// 2.69 Gbit/s without the merge against 2.36 with it, 2026-12-05).
var GRO = true

// shedMax bounds the frames shed in one run, so one run stays short.
const shedMax = 4096

// HandoffSize is the Tx handoff ring between threads: two full IfNode
// vectors, enough to absorb a burst while the owner finishes its run.
const HandoffSize = 2 * graph.IfVecSize

const (
	nextDrop = iota // graph.Drop
	nextDecap
	numNext
)

// Node is IfNode for one interface.
type Node struct {
	ifindex int32
	ifname  string
	name    string
	owner   int
	drv     driver.Driver
	shed    driver.Shedder             // drv, if it can shed; else nil
	group   *driver.Group              // drv, if several threads serve
	handoff *ring.MPSC[*packet.Packet] // shared by all clones
	wake    Waker                      // the owner thread's

	// Per clone.
	thread int
	// serve: this clone drives drv (the owner, or a thread of the
	// interface's driver.Group); drains: it empties the handoff ring
	// (the owner only: the ring has one consumer).
	serve, drains bool
	batch         []*packet.Packet // reused to avoid allocations
	rest          []*packet.Packet // sparseFirst's scratch, as long as batch
	// backlog: the last Recv filled what it was offered, so frames may be
	// queued in the driver; only then is the queue head's age checked.
	backlog bool
	meter   driver.FlowMeter // flows of the shed frames
	// ctl says when the queue stands (ShedTarget and ShedInterval when
	// the clone was made).
	ctl driver.ShedControl
	// gro merges each received batch's TCP segments (GRO); nil: off.
	gro *gro.Coalescer
	// superOut says some interface sends super-frames whole
	// (fwd.Interfaces.AnyOffload): gro merges only then. True until the
	// first msg.Interfaces says otherwise.
	superOut bool
	c        cntrs
}

type cntrs struct {
	rx, tx      counters.PktByte
	txErr       counters.Counter // refused by the driver
	handoff     counters.Counter // handed to the owner thread
	handoffFull counters.Counter // handoff ring full: dropped
	noDriver    counters.Counter // queued while the interface has no driver
	rxThrottled counters.Counter // runs where EtherDecap had no room
	rxShed      counters.Counter // frames shed from the Rx queue head (ShedTarget)
	shedEps     counters.Counter // times the Rx queue started to stand
	shedSignals counters.Counter // of rxShed, TCP frames shed as signals
	txYields    counters.Counter // sends stopped early for a light flow's frame (transmit)
	txSparse    counters.Counter // packets sent ahead as sparse flows' (sparseFirst)
	groPackets  counters.Counter // super-frames GRO built
	groSegments counters.Counter // segments merged into them
	groCsumBad  counters.Counter // segments not merged: bad TCP checksum
	groNoBuf    counters.Counter // merges given up: no big packet
}

// New makes the IfNode of interface ifindex/ifname owned by thread owner,
// driving drv (nil: the interface is not attached; Tx is dropped). wake
// wakes the owner thread.
func New(ifindex int32, ifname string, owner int, drv driver.Driver, wake Waker) *Node {
	n := &Node{
		ifindex: ifindex,
		ifname:  ifname,
		name:    names.IfNode(ifname),
		owner:   owner,
		drv:     drv,
		handoff: ring.NewMPSC[*packet.Packet](HandoffSize),
		wake:    wake,
		thread:  -1,
	}
	if g, ok := drv.(*driver.Group); ok {
		n.group = g
	}
	n.shed, _ = drv.(driver.Shedder)
	return n
}

// Name implements graph.Node.
func (n *Node) Name() string { return n.name }

// Control implements graph.Node: an interface snapshot says whether a
// merged super-frame can leave whole anywhere (superOut).
func (n *Node) Control(m msg.Msg) {
	if m, ok := m.(msg.Interfaces); ok {
		n.superOut = m.Snapshot.AnyOffload()
	}
}

// NextNames implements graph.Node.
func (n *Node) NextNames() []string {
	return []string{nextDrop: names.Drop, nextDecap: names.EtherDecap(n.ifname)}
}

// VecSize implements graph.VecSizer.
func (n *Node) VecSize() int { return graph.IfVecSize }

// Owner is the thread that drives the interface; on a clone of a thread
// of the interface's driver.Group, that thread (its own driver's fd is
// polled there).
func (n *Node) Owner() int {
	if n.serve {
		return n.thread
	}
	return n.owner
}

// Clone implements graph.Node.
func (n *Node) Clone(c *graph.CloneCtx) graph.Node {
	x := *n
	x.thread = c.Thread
	x.batch = make([]*packet.Packet, graph.IfVecSize)
	x.rest = make([]*packet.Packet, graph.IfVecSize)
	x.drains = c.Thread == n.owner
	x.serve = x.drains
	if n.group != nil {
		if d := n.group.ThreadDriver(c.Thread); d != nil {
			x.drv, x.serve = d, true
		} else {
			x.drv = nil // a thread that does not serve never touches one
		}
		x.shed, _ = x.drv.(driver.Shedder)
	}
	x.ctl = driver.ShedControl{Target: int64(ShedTarget), Interval: int64(ShedInterval)}
	// A TCP flow in a standing queue loses one frame per ShedInterval,
	// the time the queue must stand before shedding: its sender halves
	// its window at the loss.
	x.meter.TCPGap = int64(ShedInterval)
	if ShedTarget <= 0 {
		x.shed = nil
	}
	x.gro = nil
	if GRO && x.serve {
		x.gro = gro.New(graph.IfVecSize)
	}
	x.superOut = true
	x.c = cntrs{
		rx:          c.PktByte(n.name, names.IfRx),
		tx:          c.PktByte(n.name, names.IfTx),
		txErr:       c.Counter(n.name, names.IfTxErrors),
		handoff:     c.Counter(n.name, "handoff"),
		handoffFull: c.Counter(n.name, names.IfHandoffFull),
		noDriver:    c.Counter(n.name, names.IfNoDriver),
		rxThrottled: c.Counter(n.name, "rx_throttled"),
		rxShed:      c.Counter(n.name, names.IfRxShed),
		shedEps:     c.Counter(n.name, names.IfRxShedEpisodes),
		shedSignals: c.Counter(n.name, names.IfRxShedSignals),
		txYields:    c.Counter(n.name, "tx_yields"),
		txSparse:    c.Counter(n.name, "tx_sparse"),
		groPackets:  c.Counter(n.name, names.IfRxGROPackets),
		groSegments: c.Counter(n.name, names.IfRxGROSegments),
		groCsumBad:  c.Counter(n.name, "rx_gro_csum_bad"),
		groNoBuf:    c.Counter(n.name, "rx_gro_nobuf"),
	}
	return &x
}

// Dispatch implements graph.Node.
func (n *Node) Dispatch(d *graph.Dispatch) {
	if n.serve && n.drv != nil {
		n.receive(d)
	}
}

// Send implements graph.Sender: the graph calls it on every interface
// before any receives. It transmits the vector (with no driver: drops it),
// or hands it to the owner thread if this thread does not serve the
// interface.
func (n *Node) Send(d *graph.Dispatch) {
	if !n.serve {
		n.handOff(d)
		return
	}
	if n.drv == nil {
		for p := d.Pop(); p != nil; p = d.Pop() {
			d.Drop(p, n.c.noDriver)
		}
		for {
			p, ok := n.handoff.Dequeue()
			if !ok {
				break
			}
			d.Drop(p, n.c.noDriver)
		}
		return
	}
	n.transmit(d)
}

// handOff moves Tx packets to the owner thread.
func (n *Node) handOff(d *graph.Dispatch) {
	handoff.Send(d, n.handoff, n.wake, n.c.handoff, n.c.handoffFull)
}

// sendPart is how many frames transmit sends before it asks whether a
// frame of a light flow waits at an input (graph.Dispatch.Waiting): about
// 110 µs of a 64 B flood's sends on veth, where each frame's receive by
// the peer runs inside the send.
const sendPart = 64

// transmit sends the vector, then what other threads handed over, sparse
// flows' packets first (sparseFirst). It sends in parts of sendPart and
// stops early, putting the rest back in its vector for the next run, when
// a frame of a light flow waits at an input (graph.Waiter): so a ping's
// echo request beside a flood is received and forwarded now, not after
// the flood's whole batch, and its reply likewise.
func (n *Node) transmit(d *graph.Dispatch) {
	k := 0
	for p := d.Pop(); p != nil; p = d.Pop() {
		n.batch[k] = p
		k++
	}
	if n.drains {
		k += n.handoff.DequeueBatch(n.batch[k:])
		if n.handoff.Len() > 0 {
			d.More()
		}
	}
	if k == 0 {
		return
	}
	b := n.batch[:k]
	first := n.sparseFirst(b)
	for sent := 0; sent < k; {
		end := min(k, sent+sendPart)
		if sent == 0 && first > 0 {
			// Alone, so a reply they cause is not kept waiting
			// behind the rest of a part.
			end = min(first, sendPart)
			n.c.txSparse.Add(uint64(first))
		}
		n.send(d, b[sent:end])
		sent = end
		if sent < k && d.Waiting() {
			n.c.txYields.Inc()
			d.PutBack(b[sent:])
			d.More()
			break
		}
	}
	clear(b)
}

// sparseFirst moves to the front of b, in order, the packets marked
// packet.MetaSparse that follow no other packet of their receive queue
// (same interface, same queue, in packet.MetaRxQueueMask): a flow's
// packets all come through one queue, so no flow is reordered. It returns
// how many it moved; without sparse packets it only reads b.
func (n *Node) sparseFirst(b []*packet.Packet) int {
	any := false
	for _, p := range b {
		if p.Meta&packet.MetaSparse != 0 {
			any = true
			break
		}
	}
	if !any {
		return 0
	}
	// seen has a bit for each queue (hashed) with a packet that stays
	// in order; a collision only keeps a sparse packet in order.
	var seen uint64
	e, m := 0, 0
	for _, p := range b {
		key := uint32(p.InIfindex)*131 + (p.Meta&packet.MetaRxQueueMask)>>packet.MetaRxQueueShift
		bit := uint64(1) << (key & 63)
		if p.Meta&packet.MetaSparse != 0 && seen&bit == 0 {
			b[e] = p
			e++
			continue
		}
		seen |= bit
		n.rest[m] = p
		m++
	}
	copy(b[e:], n.rest[:m])
	clear(n.rest[:m])
	return e
}

func (n *Node) send(d *graph.Dispatch, b []*packet.Packet) {
	bytes := 0
	for _, p := range b {
		bytes += p.Len()
	}
	sent := n.drv.Send(d.Pool(), b)
	n.c.tx.AddN(sent, bytes) // bytes of refused frames are few; not worth a second pass
	if sent < len(b) {
		n.c.txErr.Add(uint64(len(b) - sent))
	}
}

// receive reads up to the room EtherDecap has.
func (n *Node) receive(d *graph.Dispatch) {
	room := min(d.Space(nextDecap), d.Budget(), len(n.batch))
	if room <= 0 {
		n.c.rxThrottled.Inc()
		d.More()
		return
	}
	if n.backlog && n.shed != nil {
		n.shedHead()
	}
	got := n.drv.Recv(d.Pool(), n.batch[:room])
	n.backlog = got == room
	if !n.backlog {
		n.ctl.Drained() // caught up: whatever queued was no standing queue
	}
	d.Admitted(got)
	bytes := 0
	for _, p := range n.batch[:got] {
		bytes += p.Len()
	}
	n.c.rx.AddN(got, bytes) // once per batch: counters live in shared memory
	k := got
	if n.gro != nil && n.superOut && got > 1 {
		var st gro.Stats
		k, st = n.gro.Merge(d.Pool(), n.batch[:got])
		if st != (gro.Stats{}) {
			n.c.groPackets.Add(uint64(st.Packets))
			n.c.groSegments.Add(uint64(st.Segments))
			n.c.groCsumBad.Add(uint64(st.CsumBad))
			n.c.groNoBuf.Add(uint64(st.NoBuf))
		}
	}
	for _, p := range n.batch[:k] {
		p.InIfindex = n.ifindex
		p.L2 = p.Head()
		d.Push(nextDecap, p)
	}
	clear(n.batch[:got])
	if got == room {
		d.More() // maybe more frames waiting
	}
}

// shedHead sheds old frames of heavy flows from the head of the receive
// queue if the queue stands (n.ctl).
func (n *Node) shedHead() {
	head, ok := n.shed.HeadTime()
	if !ok {
		return
	}
	now := time.Now().UnixNano()
	ep := n.ctl.Episode()
	cutoff, ok := n.ctl.Check(now, head)
	if !ok {
		return
	}
	if n.ctl.Episode() != ep {
		n.c.shedEps.Inc()
	}
	n.meter.Now, n.meter.Episode = now, n.ctl.Episode()
	sig := n.meter.Signals
	if k := n.shed.Shed(cutoff, shedMax, &n.meter); k > 0 {
		n.c.rxShed.Add(uint64(k))
		if s := n.meter.Signals - sig; s > 0 {
			n.c.shedSignals.Add(s)
		}
	}
}

// Pending implements graph.Pender: on the owner, handed-over packets or
// driver work keep the thread awake.
func (n *Node) Pending() bool {
	if !n.serve {
		return false
	}
	return (n.drains && n.handoff.Len() > 0) || (n.drv != nil && n.drv.Pending())
}

// Removed implements graph.Remover: the owner frees what waits in the
// handoff ring. Packets other threads enqueue later are freed by Drain
// once every thread has let go of the node.
func (n *Node) Removed(pool *packet.Pool) {
	if n.drains {
		packet.FreeRing(n.handoff, pool)
	}
}

// Drain implements graph.Drainer: it frees (back to their pools) packets
// left in the handoff ring. Only call it when no thread runs the node any
// more.
func (n *Node) Drain() { packet.ReturnRing(n.handoff) }

var (
	_ graph.Node        = (*Node)(nil)
	_ graph.FdOwner     = (*Node)(nil)
	_ graph.SideFdOwner = (*Node)(nil)
	_ graph.Drainer     = (*Node)(nil)
	_ graph.Quieter     = (*Node)(nil)
	_ graph.Waiter      = (*Node)(nil)
)

// PollFd is the driver's pollable descriptor (-1: none), registered in the
// owner thread's epoll set.
func (n *Node) PollFd() int {
	if n.drv == nil {
		return -1
	}
	return n.drv.Fd()
}

// SidePollFd implements graph.SideFdOwner: the driver's second
// descriptor (driver.SideFder), -1 if it has none.
func (n *Node) SidePollFd() int {
	if s, ok := n.drv.(driver.SideFder); ok {
		return s.SideFd()
	}
	return -1
}

// Waiting implements graph.Waiter: a frame waits in a receive queue that
// this interface's last Recv emptied (driver.FreshPender), or, for a
// driver without several queues, the last Recv emptied the driver and a
// frame waits again.
func (n *Node) Waiting() bool {
	if !n.serve || n.drv == nil {
		return false
	}
	if f, ok := n.drv.(driver.FreshPender); ok {
		return f.FreshPending()
	}
	return !n.backlog && n.drv.Pending()
}

// Quiet implements graph.Quieter for a driver with descriptors of its
// own behind PollFd (driver.Quieter).
func (n *Node) Quiet(on bool) error {
	if q, ok := n.drv.(driver.Quieter); ok && n.serve {
		return q.Quiet(on)
	}
	return nil
}

// Rank implements graph.Ranker.
func (n *Node) Rank() int { return graph.RankInput }
