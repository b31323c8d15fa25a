package graph

import (
	"errors"
	"fmt"
	"time"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/logs"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
	"github.com/r2go/r2/r2/store"
)

const (
	// VecSize is the dispatch vector of an ordinary node: 256 packets is the
	// batch size at which per-batch costs (a virtual call, a table swap
	// check) vanish while the vector still fits in L1 (2 KiB of pointers).
	VecSize = 256
	// IfVecSize is the vector of an interface node, which collects Tx from
	// every encapsulation node and ARP replies, so it is larger.
	IfVecSize = 1024
)

// Drop is index 0 in every node's next list: a push to it frees the packet.
const Drop = 0

// Node is a graph node. Clone is called on the control side; Dispatch and
// Control on the forwarding thread that owns the clone.
type Node interface {
	// Name is the node's unique name, from package names.
	Name() string
	// NextNames lists the next nodes; index 0 must be names.Drop. It is
	// called again at every Finalize, so a node whose next nodes change (the
	// encapsulation mux when interfaces come and go) returns the new list.
	NextNames() []string
	// Clone makes the instance for another thread, with its own counters;
	// shared read-only state (tables, configs) is shared, not copied.
	Clone(c *CloneCtx) Node
	// Dispatch processes the packets in the node's vector (d.Pop) and
	// pushes each to a next node or drops it.
	Dispatch(d *Dispatch)
	// Control handles a control message between graph runs. Nodes that need
	// none embed NoControl.
	Control(m msg.Msg)
}

// NoControl is embedded by nodes that ignore control messages.
type NoControl struct{}

// Control does nothing.
func (NoControl) Control(msg.Msg) {}

// VecSizer is implemented by nodes that want a vector other than VecSize.
type VecSizer interface{ VecSize() int }

// Pender is implemented by nodes that receive input outside the graph (a
// handoff ring from other threads); Pending reports whether any is waiting,
// so a thread does not go to sleep with work queued.
type Pender interface{ Pending() bool }

// Ranker is implemented by nodes that say where they sit on the packet
// path. Run visits nodes by ascending rank (ties: order of addition), so a
// received packet crosses the whole graph in one run instead of one node
// per run. Nodes without a rank run last.
type Ranker interface{ Rank() int }

// Ranks of the standard stages.
const (
	RankInput    = 0  // interface Rx/Tx
	RankL2In     = 10 // link-layer decapsulation
	RankL3Parse  = 20
	RankL3Fwd    = 30
	RankL3Local  = 40
	RankMux      = 50
	RankL2Out    = 60 // link-layer encapsulation
	rankUnranked = 1000
)

// Remover is implemented by nodes that hold resources on the thread (a
// polled fd, packets in a ring); Removed is called on the thread when the
// node leaves its graph.
type Remover interface{ Removed(pool *packet.Pool) }

// FdOwner is implemented by nodes whose owner thread must poll a file
// descriptor (an interface's socket): the thread adds PollFd to its epoll
// set when the node is added on thread Owner.
type FdOwner interface {
	Owner() int
	PollFd() int
}

// SideFdOwner is an FdOwner with a second descriptor to poll (an AF_XDP
// interface's socket of neighbour copies, driver.SideFder): the thread adds
// SidePollFd to its epoll set too, unless it is -1.
type SideFdOwner interface {
	SidePollFd() int
}

// A Waiter is an input node that can tell whether a frame waits for it
// that is not part of a standing queue: its driver kept up with it so far
// (a ping's echo request, a reply, a routing protocol's packet beside a
// flood). A Sender with a long vector sends it in parts and stops early
// when one waits (Dispatch.Waiting), so the run goes on to receive it
// instead of finishing a flood's batch first.
type Waiter interface {
	Waiting() bool
}

// Quieter is an FdOwner whose descriptor can stop signalling while its
// thread is busy and polls the node every run anyway (driver.Quieter): the
// thread calls Quiet(true) after running a while without sleeping, once
// its own epoll set no longer watches PollFd, and Quiet(false) before it
// watches it again to sleep.
type Quieter interface {
	Quiet(on bool) error
}

// Drainer is implemented by nodes that can hold packets outside any
// thread's graph (a handoff ring between threads); Drain frees them once no
// thread runs the node any more.
type Drainer interface{ Drain() }

// CloneCtx is what a node clone gets from its thread.
type CloneCtx struct {
	// Thread is the index of the forwarding thread the clone runs on.
	Thread int
	// Counters allocates the clone's counters (tagged with Thread).
	Counters *counters.Registry
	// Uplink carries reports to the control side.
	Uplink *msg.Uplink
	// Logs holds the forwarding-path log rings (nil: logging discarded).
	Logs *logs.File
	// Store is the thread's view of the keyed store that extension nodes
	// share state through (nil: an empty store).
	Store *store.Thread
	// Obs is the observability state shared by every thread of an engine:
	// the runtime statistics switch and the packet captures (nil: none).
	Obs *Obs
}

// Logger is the thread's forwarding-path logger (a discarding one when the
// engine has no log file).
func (c *CloneCtx) Logger() *logs.Logger {
	if c.Logs == nil || c.Thread < 0 || c.Thread >= c.Logs.Threads() {
		return logs.Discard()
	}
	return c.Logs.Logger(c.Thread)
}

// LogFormat registers a log format (idempotent; the zero Format when there
// is no log file or the format table is full).
func (c *CloneCtx) LogFormat(format string) logs.Format {
	if c.Logs == nil {
		return logs.Format(0)
	}
	f, err := c.Logs.Register(format)
	if err != nil {
		return logs.Format(0)
	}
	return f
}

// Counter allocates a single counter named "<node>/<what>" for the thread.
func (c *CloneCtx) Counter(node, what string) counters.Counter {
	return c.Counters.Counter(c.Thread, node+"/"+what)
}

// PktByte allocates a packets+bytes counter named "<node>/<what>".
func (c *CloneCtx) PktByte(node, what string) counters.PktByte {
	return c.Counters.PktByte(c.Thread, node+"/"+what)
}

// vector is a node's dispatch vector: a power-of-two ring that never grows.
type vector struct {
	pkts       []*packet.Packet
	mask       uint32
	head, tail uint32
}

func newVector(n int) vector {
	size := 1
	for size < n {
		size <<= 1
	}
	return vector{pkts: make([]*packet.Packet, size), mask: uint32(size - 1)}
}

func (v *vector) len() int   { return int(v.tail - v.head) }
func (v *vector) space() int { return len(v.pkts) - v.len() }

// slot is a node in one thread's graph with its vector and resolved edges.
// The fields a Push touches (vec, drop) come first, so that pushing to a
// node reads one cache line of its slot.
type slot struct {
	vec vector
	// taps are the captures on this node's input (nil: none, the common
	// case, tested once per push on the line the push reads anyway).
	taps *tapSet
	drop bool // the Drop slot
	// ordinary nodes have a VecSize vector; their occupancy limits how much
	// the interfaces may admit in a run.
	ordinary bool
	// counted is the vector tail already added to enq: pushes are counted
	// once per run from the tail instead of one shared-memory write each.
	counted uint32
	rank    int
	next    []edge
	node    Node
	name    string
	// enq counts packets pushed into this node; full counts pushes that
	// found the vector full.
	enq, full counters.Counter
	// rt are the runtime statistics, written only while they are on.
	rt rtCounters
}

// edge is one resolved next node and the packets pushed along it (a plain
// count in the thread's memory, read through Graph.Snapshot on the thread).
// Pushes are counted per dispatch, not per push: mark is the target's
// vector tail before the node's Dispatch, and what the tail grew by is
// what the node pushed there (only the dispatching node pushes while it
// runs).
type edge struct {
	to   *slot
	pkts uint64
	mark uint64
	// dup marks an edge whose target an earlier index already leads to
	// (several names resolved to Drop, say): its pushes are counted on the
	// first one.
	dup bool
}

// Graph is one thread's forwarding graph.
type Graph struct {
	ctx    CloneCtx
	pool   *packet.Pool
	slots  []*slot // slots[0] is Drop
	byName map[string]*slot
	disp   Dispatch
	// admitted: the last Run took in packets.
	admitted bool
	// dropped counts packets pushed to Drop (unconnected edges, removed
	// nodes); removed counts packets freed out of a removed node's vector.
	dropped, removed counters.Counter
	epoch            time.Time
	// epochNs is epoch as wall-clock unix ns: capture time stamps are
	// epochNs plus the run's monotonic time.
	epochNs   int64
	finalized bool
	// intercepts maps a node name to the nodes inserted in front of it, in
	// order: an edge to the name goes to the first of them, and each of
	// them continues to the next (the last to the node itself).
	intercepts map[string][]string
	// inputs is the number of RankInput nodes, which lead the run order;
	// rot rotates which of them admits packets first, so that a flooded
	// interface cannot take every run's admission budget from the others.
	inputs, rot int
	// senders are the input slots whose nodes are Senders, and
	// sendOrder the order they send in this run (sendPhase).
	senders, sendOrder []*slot
	// waiters are the input nodes that are Waiters (Dispatch.Waiting).
	waiters []Waiter
	// reserve is how much of a run's admission budget each input keeps
	// for the inputs after it in the rotation (Dispatch.Budget).
	reserve int
	// admit caps a run's admission (SetAdmission); 0: VecSize.
	admit int
}

// SetAdmission caps at n the packets the inputs take in per run (n <= 0
// or n >= VecSize: VecSize, the vector's size). Smaller runs serve a light flow beside a
// flooded interface sooner (a run is one batch's receive, forwarding and
// send); bigger ones amortize more per packet and give software GRO more
// segments to merge.
func (g *Graph) SetAdmission(n int) {
	g.admit = 0
	if n > 0 && n < VecSize {
		g.admit = n
	}
	g.setReserve()
}

// admission is the most packets a run admits when every vector is empty.
func (g *Graph) admission() int {
	if g.admit > 0 {
		return g.admit
	}
	return VecSize
}

// setReserve sizes reserve for the inputs and admission.
func (g *Graph) setReserve() {
	g.reserve = 0
	if g.inputs > 1 {
		g.reserve = min(maxInputReserve, g.admission()/(2*(g.inputs-1)))
	}
}

// A Sender is an input node that transmits apart from receiving. Every run
// first lets each Sender send what its vector holds, those with the fewest
// packets waiting first, and only then lets the inputs receive (Dispatch):
// so a reply that came in during a big batch's send is taken in the same
// run, and the few packets queued for one interface do not wait behind the
// many queued for another (a ping's reply behind a flood's batch).
type Sender interface {
	Send(d *Dispatch)
}

// maxInputReserve bounds Graph.reserve: an input leaves at most this many
// packets of a run's admission to each input after it, so a light
// interface is served in every run beside a flooded one while the flooded
// one still takes most of the vector.
const maxInputReserve = 32

// ErrDuplicate is returned when a node name is already in the graph.
var ErrDuplicate = errors.New("graph: duplicate node name")

// New makes an empty graph for one thread: only the Drop node.
func New(ctx CloneCtx, pool *packet.Pool) *Graph {
	now := time.Now()
	g := &Graph{ctx: ctx, pool: pool, byName: map[string]*slot{}, epoch: now, epochNs: now.UnixNano()}
	d := &slot{node: dropNode{}, name: names.Drop, drop: true}
	g.dropped = ctx.Counter(names.Drop, "pkts")
	g.removed = ctx.Counter(names.Drop, "removed_node")
	g.slots = []*slot{d}
	g.byName[names.Drop] = d
	g.disp.g = g
	return g
}

// Thread is the forwarding thread the graph belongs to.
func (g *Graph) Thread() int { return g.ctx.Thread }

// Pool is the thread's packet pool.
func (g *Graph) Pool() *packet.Pool { return g.pool }

// Add puts n in the graph. Call Finalize before the next Run.
func (g *Graph) Add(n Node) error {
	name := n.Name()
	if _, ok := g.byName[name]; ok {
		return fmt.Errorf("%w: %s", ErrDuplicate, name)
	}
	size := VecSize
	if vs, ok := n.(VecSizer); ok {
		size = vs.VecSize()
	}
	s := &slot{
		node: n,
		name: name,
		vec:  newVector(size),
		enq:  g.ctx.Counter(name, "enq"),
		full: g.ctx.Counter(name, "vec_full"),
		rt:   newRTCounters(&g.ctx, name),
	}
	s.rank = rankUnranked
	if r, ok := n.(Ranker); ok {
		s.rank = r.Rank()
	}
	s.ordinary = len(s.vec.pkts) <= VecSize
	// Insert after every node of the same or lower rank.
	at := len(g.slots)
	for at > 1 && g.slots[at-1].rank > s.rank {
		at--
	}
	g.slots = append(g.slots, nil)
	copy(g.slots[at+1:], g.slots[at:])
	g.slots[at] = s
	g.byName[name] = s
	g.finalized = false
	return nil
}

// Remove takes the node called name out of the graph, frees the packets in
// its vector (counted in Drop/removed_node), releases its counters, and
// re-finalizes. It reports whether the node was there.
func (g *Graph) Remove(name string) bool {
	s, ok := g.byName[name]
	if !ok || s == g.slots[0] {
		return false
	}
	s.enq.Add(uint64(s.vec.tail - s.counted))
	for s.vec.len() > 0 {
		p := s.vec.pkts[s.vec.head&s.vec.mask]
		s.vec.pkts[s.vec.head&s.vec.mask] = nil
		s.vec.head++
		g.removed.Inc()
		g.pool.Free(p)
	}
	if r, ok := s.node.(Remover); ok {
		r.Removed(g.pool)
	}
	delete(g.byName, name)
	for i, x := range g.slots {
		if x == s {
			g.slots = append(g.slots[:i], g.slots[i+1:]...)
			break
		}
	}
	g.ctx.Counters.Release(g.ctx.Thread, name+"/")
	g.Finalize()
	return true
}

// Intercept inserts the nodes called chain, in order, in front of the node
// called target: every edge to target from a node outside chain leads to
// chain[0], chain[i]'s edge to target leads to chain[i+1], and the last one's
// to target itself. Members of chain absent from the graph are skipped. An
// empty chain removes the interception. This is how a node is added to the
// packet path without changing the nodes before it (VPP's feature arcs do
// the same for a whole arc). Call Finalize afterwards.
func (g *Graph) Intercept(target string, chain []string) {
	if g.intercepts == nil {
		g.intercepts = map[string][]string{}
	}
	if len(chain) == 0 {
		delete(g.intercepts, target)
	} else {
		g.intercepts[target] = append([]string(nil), chain...)
	}
	g.finalized = false
}

// resolve is the slot an edge named name of node from leads to.
func (g *Graph) resolve(from, name string) *slot {
	if chain, ok := g.intercepts[name]; ok {
		k := 0
		for i, c := range chain {
			if c == from {
				k = i + 1
				break
			}
		}
		for ; k < len(chain); k++ {
			if t, ok := g.byName[chain[k]]; ok && chain[k] != from {
				return t
			}
		}
	}
	if t, ok := g.byName[name]; ok {
		return t
	}
	return g.slots[0]
}

// Finalize resolves every node's next names to nodes (through any
// interceptions); absent names resolve to Drop.
func (g *Graph) Finalize() {
	g.inputs = 0
	for _, s := range g.slots[1:] {
		if s.rank != RankInput {
			break
		}
		g.inputs++
	}
	g.senders = g.senders[:0]
	g.waiters = g.waiters[:0]
	for _, s := range g.slots[1 : 1+g.inputs] {
		if _, ok := s.node.(Sender); ok {
			g.senders = append(g.senders, s)
		}
		if w, ok := s.node.(Waiter); ok {
			g.waiters = append(g.waiters, w)
		}
	}
	g.sendOrder = append(g.sendOrder[:0], g.senders...)
	g.setReserve()
	for _, s := range g.slots[1:] {
		nn := s.node.NextNames()
		old := s.next
		next := make([]edge, len(nn))
		for i, name := range nn {
			next[i].to = g.resolve(s.name, name)
			for j := 0; j < i; j++ {
				next[i].dup = next[i].dup || next[j].to == next[i].to
			}
			// An edge that still leads to the same node keeps its count.
			if i < len(old) && old[i].to == next[i].to {
				next[i].pkts = old[i].pkts
			}
		}
		s.next = next
	}
	g.applyTaps()
	g.finalized = true
}

// Node returns the node called name, or nil.
func (g *Graph) Node(name string) Node {
	if s, ok := g.byName[name]; ok {
		return s.node
	}
	return nil
}

// Edges returns the names of the nodes that node name's next indices lead
// to after Finalize (index 0 is Drop), or nil if there is no such node.
func (g *Graph) Edges(name string) []string {
	s, ok := g.byName[name]
	if !ok {
		return nil
	}
	out := make([]string, len(s.next))
	for i, e := range s.next {
		out[i] = e.to.name
	}
	return out
}

// Nodes lists the nodes in run order (Drop first).
func (g *Graph) Nodes() []Node {
	out := make([]Node, len(g.slots))
	for i, s := range g.slots {
		out[i] = s.node
	}
	return out
}

// Clone makes the graph for another thread: every node is cloned with ctx.
func (g *Graph) Clone(ctx CloneCtx, pool *packet.Pool) *Graph {
	c := New(ctx, pool)
	c.admit = g.admit
	for t, chain := range g.intercepts {
		c.Intercept(t, chain)
	}
	for _, s := range g.slots[1:] {
		if err := c.Add(s.node.Clone(&ctx)); err != nil {
			panic(err) // names were unique in g
		}
	}
	c.Finalize()
	return c
}

// Control hands m to every node.
func (g *Graph) Control(m msg.Msg) {
	for _, s := range g.slots[1:] {
		s.node.Control(m)
	}
}

// Pending reports whether any node has input waiting outside the graph or
// packets in its vector.
func (g *Graph) Pending() bool {
	for _, s := range g.slots[1:] {
		if s.vec.len() > 0 {
			return true
		}
		if p, ok := s.node.(Pender); ok && p.Pending() {
			return true
		}
	}
	return false
}

// Admitted reports whether the last Run took in packets.
func (g *Graph) Admitted() bool { return g.admitted }

// Now is monotonic nanoseconds since the graph was made.
func (g *Graph) Now() int64 { return int64(time.Since(g.epoch)) }

// Run visits every node once. It returns whether work is pending and the
// earliest wake-up requested by a node, in ns from now (-1: none).
func (g *Graph) Run() (work bool, wakeNs int64) {
	if !g.finalized {
		g.Finalize()
	}
	d := &g.disp
	d.now = g.Now()
	d.wake = -1
	d.more = false
	// Admission: a run takes in at most what the fullest ordinary vector can
	// still hold, so packets that loop back (an ICMP reply re-entering
	// forwarding) or converge from several interfaces never overflow a
	// vector in the middle of the graph: overload is refused at the entry.
	fullest := 0
	for _, s := range g.slots[1:] {
		if s.ordinary && s.vec.len() > fullest {
			fullest = s.vec.len()
		}
	}
	d.budget = min(VecSize-fullest, g.admission())
	budget0 := d.budget
	if g.inputs > 1 {
		g.rot++
		if g.rot >= g.inputs {
			g.rot = 0
		}
	}
	// The runtime statistics switch is read once per run: off, it costs
	// this one predictable branch.
	timed := g.ctx.Obs != nil && g.ctx.Obs.runtime.Load()
	if len(g.senders) > 0 {
		g.sendPhase(d, timed)
		// A Sender that stopped early (Waiting) kept the rest of its
		// vector: the run takes in no more than it could then hold
		// again, so what waits stays in the drivers' queues (where
		// shedding and the kernel's drops act) rather than in a
		// growing vector here.
		left := 0
		for _, s := range g.senders {
			left = max(left, s.vec.len())
		}
		if left > 0 {
			d.budget = max(0, min(d.budget, VecSize-left))
			budget0 = d.budget
		}
	}
	if timed {
		g.runTimed(d)
	} else {
		for i := 1; i < len(g.slots); i++ {
			s := g.slots[i]
			d.after = 0
			if i <= g.inputs {
				s = g.slots[1+(i-1+g.rot)%g.inputs]
				d.after = g.inputs - i
			}
			g.enter(d, s)
			s.node.Dispatch(d)
			g.countEdges(s)
			// A node that did not drain its vector keeps the rest for the
			// next run; the vector length below reports it as work.
		}
	}
	d.s = nil
	d.after = 0
	// Inputs spend the budget on what they admit.
	g.admitted = d.budget < budget0
	if d.more {
		return true, d.wake
	}
	for _, s := range g.slots[1:] {
		if s.vec.len() > 0 {
			return true, d.wake
		}
	}
	return false, d.wake
}

// sendPhase lets every Sender transmit, fewest waiting packets first
// (insertion sort, stable from run to run: a thread serves few
// interfaces; past 16 they send in graph order, unsorted).
func (g *Graph) sendPhase(d *Dispatch, timed bool) {
	order := g.sendOrder
	if len(order) <= 16 {
		for i := 1; i < len(order); i++ {
			for j := i; j > 0 && order[j].vec.len() < order[j-1].vec.len(); j-- {
				order[j], order[j-1] = order[j-1], order[j]
			}
		}
	}
	last := int64(0)
	if timed {
		last = nanotime()
	}
	for _, s := range order {
		head := s.vec.head
		g.enter(d, s)
		s.node.(Sender).Send(d)
		g.countEdges(s)
		if timed {
			now := nanotime()
			s.rt.ns.Add(uint64(now - last))
			last = now
			// Signed: a Sender that puts back more than it took
			// (handed-over packets) moved head back.
			if n := int32(s.vec.head - head); n > 0 {
				s.rt.calls.Inc()
				s.rt.pkts.Add(uint64(n))
			}
		}
	}
}

// enter prepares d for s's turn: it counts what was queued to s since its
// last turn (enq), points d at s's vector and marks s's edges.
func (g *Graph) enter(d *Dispatch, s *slot) {
	if s.vec.tail != s.counted {
		s.enq.Add(uint64(s.vec.tail - s.counted))
		s.counted = s.vec.tail
	}
	d.s = s
	d.n = s.vec.len()
	g.markEdges(s)
}

// markEdges notes where s's targets' vectors end before s runs.
func (g *Graph) markEdges(s *slot) {
	for i := range s.next {
		e := &s.next[i]
		if e.to.drop {
			e.mark = g.dropped.Value()
		} else {
			e.mark = uint64(e.to.vec.tail)
		}
	}
}

// countEdges adds what s pushed along each edge while it ran: per
// dispatch, so a push costs nothing more.
func (g *Graph) countEdges(s *slot) {
	for i := range s.next {
		e := &s.next[i]
		if e.dup {
			continue
		}
		if e.to.drop {
			e.pkts += g.dropped.Value() - e.mark
		} else {
			e.pkts += uint64(uint32(e.to.vec.tail) - uint32(e.mark))
		}
	}
}

// Dispatch is what a node works with during Dispatch: its own vector and its
// resolved next nodes.
type Dispatch struct {
	g    *Graph
	s    *slot
	n    int // packets left to pop in this run
	now  int64
	wake int64
	more bool
	// budget is how many packets the input nodes may still admit in this
	// run; after is how many inputs follow the one dispatching in this
	// run's rotation (0 outside the inputs), each owed Graph.reserve.
	budget, after int
}

// Pop returns the next packet of the node's vector, or nil when the packets
// that were queued at the start of this Dispatch are done (packets a node
// pushes to itself wait for the next run).
func (d *Dispatch) Pop() *packet.Packet {
	if d.n == 0 {
		return nil
	}
	d.n--
	v := &d.s.vec
	// The slot is not cleared: packets belong to a pool for the life of
	// the engine, so a stale pointer keeps nothing alive, and skipping the
	// store saves a write barrier check per packet and hop.
	p := v.pkts[v.head&v.mask]
	v.head++
	return p
}

// PutBack puts pkts at the front of the node's vector, in order, for the
// next run: a Sender that stops early returns what it took and did not
// send. The vector must have room for them (a Sender that popped its
// whole vector has its size).
func (d *Dispatch) PutBack(pkts []*packet.Packet) {
	v := &d.s.vec
	v.head -= uint32(len(pkts))
	for i, p := range pkts {
		v.pkts[(v.head+uint32(i))&v.mask] = p
	}
}

// Peek returns the packet Pop would return next, without taking it, or nil.
func (d *Dispatch) Peek() *packet.Packet {
	if d.n == 0 {
		return nil
	}
	v := &d.s.vec
	return v.pkts[v.head&v.mask]
}

// Push queues p to next node number next. A push into a full vector, or to
// an out-of-range index, frees p, counts it and returns false.
func (d *Dispatch) Push(next int, p *packet.Packet) bool {
	if uint(next) >= uint(len(d.s.next)) {
		next = Drop
	}
	t := d.s.next[next].to
	if t.taps != nil {
		d.capture(t, p)
	}
	if t.drop {
		d.g.dropped.Inc()
		d.g.pool.Free(p)
		return false
	}
	v := &t.vec
	if v.tail-v.head == uint32(len(v.pkts)) {
		t.full.Inc()
		d.g.pool.Free(p)
		return false
	}
	v.pkts[v.tail&v.mask] = p
	v.tail++
	return true
}

// Space is the room left in next node number next's vector.
func (d *Dispatch) Space(next int) int {
	if uint(next) >= uint(len(d.s.next)) || next == Drop || d.s.next[next].to.drop {
		return VecSize // pushes there are freed at once
	}
	return d.s.next[next].to.vec.space()
}

// Queued is how many packets wait in next node number next's vector (0
// for the drop node and out-of-range indexes). A node that sends some
// packets of a flow through a side node (GSO) and others straight on asks
// it, so a later packet does not overtake the side node's queue.
func (d *Dispatch) Queued(next int) int {
	if uint(next) >= uint(len(d.s.next)) || next == Drop || d.s.next[next].to.drop {
		return 0
	}
	v := &d.s.next[next].to.vec
	return int(v.tail - v.head)
}

// Budget is how many packets an input node may still take in during this
// run; after receiving n packets it calls Admitted(n). It leaves each input
// after this one in the run's rotation its reserve, so a light interface
// beside a flooded one is served in every run.
func (d *Dispatch) Budget() int {
	return max(0, d.budget-d.after*d.g.reserve)
}

// Admitted records that an input node took in n packets.
func (d *Dispatch) Admitted(n int) { d.budget -= n }

// Drop frees p and counts it in c: the way a node discards a packet.
func (d *Dispatch) Drop(p *packet.Packet, c counters.Counter) {
	c.Inc()
	// A capture on Drop sees these drops too, not only pushes to Drop.
	if t := d.g.slots[0]; t.taps != nil {
		d.capture(t, p)
	}
	d.g.pool.Free(p)
}

// Free gives p back to the pool without counting (it was consumed, e.g.
// turned into a reply).
func (d *Dispatch) Free(p *packet.Packet) { d.g.pool.Free(p) }

// Pool is the thread's packet pool, for nodes that make packets (ARP).
func (d *Dispatch) Pool() *packet.Pool { return d.g.pool }

// Thread is the index of the forwarding thread.
func (d *Dispatch) Thread() int { return d.g.ctx.Thread }

// Now is monotonic nanoseconds, read once at the start of Run.
func (d *Dispatch) Now() int64 { return d.now }

// WakeIn asks for service within ns nanoseconds (a timer, a shaper).
func (d *Dispatch) WakeIn(ns int64) {
	if d.wake < 0 || ns < d.wake {
		d.wake = ns
	}
}

// Left is how many packets of the node's vector Pop has still to return
// in this Dispatch.
func (d *Dispatch) Left() int { return d.n }

// Waiting reports whether a frame waits at an input that has kept up
// (Waiter): a Sender between two parts of a long vector asks, and stops
// early if so.
func (d *Dispatch) Waiting() bool {
	for _, w := range d.g.waiters {
		if w.Waiting() {
			return true
		}
	}
	return false
}

// More tells Run that the node has work beyond its vector (an Rx batch was
// full, a ring was not drained), so the thread must not sleep.
func (d *Dispatch) More() { d.more = true }

// dropNode is the sink at index 0. Nothing is ever queued to it: Push frees
// packets sent there directly.
type dropNode struct{ NoControl }

func (dropNode) Name() string         { return names.Drop }
func (dropNode) NextNames() []string  { return nil }
func (dropNode) Clone(*CloneCtx) Node { return dropNode{} }
func (dropNode) Dispatch(d *Dispatch) {}
