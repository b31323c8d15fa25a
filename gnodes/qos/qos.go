package qos

import (
	"strconv"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/gnodes/internal/handoff"
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
	"github.com/r2go/r2/r2/ring"
	"github.com/r2go/r2/r2/sched/hfsc"
)

// Waker wakes a forwarding thread (poll.Waker in the engine).
type Waker = handoff.Waker

// HandoffSize is the ring other threads hand packets to the owner through:
// two interface vectors, as IfNode's.
const HandoffSize = 2 * graph.IfVecSize

// Rank puts the node right after the encapsulation nodes, so a packet
// crosses encapsulation and scheduling in one graph run.
const Rank = graph.RankL2Out + 5

const (
	nextDrop = iota // graph.Drop
	nextIf
	numNext
)

// Node is the QoS node of one interface.
type Node struct {
	ifname  string
	name    string
	owner   int
	handoff *ring.MPSC[*packet.Packet] // shared by all clones
	wake    Waker                      // the owner thread's

	// Per clone.
	thread int
	// clock, when set, replaces the graph's clock (tests).
	clock func() int64
	batch []*packet.Packet // reused to avoid allocations
	c     cntrs

	// Owner only: the scheduler and what the configuration maps to.
	cfg     *fwd.QoS
	sched   *hfsc.Sched[*packet.Packet]
	handles []hfsc.Handle // per cfg.Classes index (leaves)
	classC  []classCntrs  // per cfg.Classes index
	ruleC   []counters.PktByte
	// byName and byPrio keep counters across configurations; control
	// only.
	byName map[string]classCntrs
	byPrio map[int]counters.PktByte
	// garbage holds packets a reconfiguration took out of the scheduler,
	// freed (and counted) at the next Dispatch, which has the pool.
	garbage []*packet.Packet
	reg     *counters.Registry
	lastNow int64
	// due is when the node asked to be run again (0: not asked); a run
	// later than that by more than 1 ms counts in c.late.
	due int64
}

type cntrs struct {
	handoff     counters.Counter // handed to the owner thread
	handoffFull counters.Counter // handoff ring full: dropped
	noClass     counters.Counter // no rule matched and no default class
	deleted     counters.Counter // freed from a deleted class or scheduler
	unmatched   counters.PktByte // matched no rule (default class)
	sent        counters.PktByte // released to IfNode
	late        counters.Counter // timer wakeups more than 1 ms late
	late10      counters.Counter // ... more than 10 ms late
}

// classCntrs are a class's counters in shared memory.
type classCntrs struct {
	enq   counters.PktByte // queued
	drops counters.Counter // queue full, or freed with the class
}

// New makes the QoS node of interface ifname owned by thread owner; wake
// wakes the owner.
func New(ifname string, owner int, wake Waker) *Node {
	return &Node{
		ifname:  ifname,
		name:    names.QoS(ifname),
		owner:   owner,
		handoff: ring.NewMPSC[*packet.Packet](HandoffSize),
		wake:    wake,
		thread:  -1,
	}
}

// Name implements graph.Node.
func (n *Node) Name() string { return n.name }

// NextNames implements graph.Node.
func (n *Node) NextNames() []string {
	return []string{nextDrop: names.Drop, nextIf: names.IfNode(n.ifname)}
}

// VecSize implements graph.VecSizer: it takes what IfNode would.
func (n *Node) VecSize() int { return graph.IfVecSize }

// Rank implements graph.Ranker.
func (n *Node) Rank() int { return Rank }

// SetClock makes the node read time from now instead of the graph (tests);
// call it on the clone.
func (n *Node) SetClock(now func() int64) { n.clock = now }

// Clone implements graph.Node.
func (n *Node) Clone(c *graph.CloneCtx) graph.Node {
	x := &Node{ifname: n.ifname, name: n.name, owner: n.owner, handoff: n.handoff, wake: n.wake,
		thread: c.Thread, clock: n.clock, reg: c.Counters,
		batch:  make([]*packet.Packet, graph.VecSize),
		byName: map[string]classCntrs{}, byPrio: map[int]counters.PktByte{}}
	x.c = cntrs{
		handoff:     c.Counter(n.name, "handoff"),
		handoffFull: c.Counter(n.name, "handoff_full"),
		noClass:     c.Counter(n.name, "no_class"),
		deleted:     c.Counter(n.name, "deleted"),
		unmatched:   c.PktByte(n.name, "unmatched"),
		sent:        c.PktByte(n.name, "sent"),
		late:        c.Counter(n.name, "late_1ms"),
		late10:      c.Counter(n.name, "late_10ms"),
	}
	return x
}

// Dispatch implements graph.Node.
func (n *Node) Dispatch(d *graph.Dispatch) {
	if n.thread != n.owner {
		n.handOff(d)
		return
	}
	for i, p := range n.garbage {
		n.garbage[i] = nil
		d.Drop(p, n.c.deleted)
	}
	n.garbage = n.garbage[:0]
	now := d.Now()
	if n.clock != nil {
		now = n.clock()
	}
	n.lastNow = now
	if n.due > 0 {
		if late := now - n.due; late > 1e6 {
			n.c.late.Inc()
			if late > 10e6 {
				n.c.late10.Inc()
			}
		}
		n.due = 0
	}
	if n.sched == nil {
		n.passThrough(d)
		return
	}
	for p := d.Pop(); p != nil; p = d.Pop() {
		n.enqueue(d, p, now)
	}
	k := n.handoff.DequeueBatch(n.batch)
	for i, p := range n.batch[:k] {
		n.batch[i] = nil
		n.enqueue(d, p, now)
	}
	if n.handoff.Len() > 0 {
		d.More()
	}
	n.dequeue(d, now)
}

// passThrough forwards everything to IfNode: the state between a
// configuration's removal and the node leaving the packet path.
func (n *Node) passThrough(d *graph.Dispatch) {
	for p := d.Pop(); p != nil; p = d.Pop() {
		d.Push(nextIf, p)
	}
	room := min(d.Space(nextIf), len(n.batch))
	k := n.handoff.DequeueBatch(n.batch[:room])
	for i, p := range n.batch[:k] {
		n.batch[i] = nil
		d.Push(nextIf, p)
	}
	if n.handoff.Len() > 0 {
		d.More()
	}
}

// handOff moves packets to the owner thread, as IfNode does.
func (n *Node) handOff(d *graph.Dispatch) {
	handoff.Send(d, n.handoff, n.wake, n.c.handoff, n.c.handoffFull)
}

// enqueue classifies p and queues it in its leaf.
func (n *Node) enqueue(d *graph.Dispatch, p *packet.Packet, now int64) {
	rule, ci := n.cfg.Classify(p.Data())
	l := p.Len()
	if rule >= 0 {
		n.ruleC[rule].Add(l)
	} else {
		n.c.unmatched.Add(l)
	}
	if ci < 0 {
		d.Drop(p, n.c.noClass)
		return
	}
	cc := n.classC[ci]
	if !n.sched.Enqueue(n.handles[ci], p, now) {
		d.Drop(p, cc.drops)
		return
	}
	cc.enq.Add(l)
}

// dequeue releases what the scheduler allows to IfNode and asks to be run
// again when the scheduler next can release something.
func (n *Node) dequeue(d *graph.Dispatch, now int64) {
	room := d.Space(nextIf)
	for ; room > 0; room-- {
		p, ok := n.sched.Dequeue(now)
		if !ok {
			break
		}
		n.c.sent.Add(p.Len())
		d.Push(nextIf, p)
	}
	if n.sched.Len() == 0 {
		return
	}
	if room == 0 {
		d.More() // IfNode's vector is full; it empties it next run
		return
	}
	if t := n.sched.NextEvent(now); t <= now {
		d.More()
	} else {
		d.WakeIn(t - now)
		n.due = t
	}
}

// Pending implements graph.Pender: packets handed over keep the owner
// awake. Packets the scheduler holds do not; the node asks for a timer.
func (n *Node) Pending() bool {
	return n.thread == n.owner && n.handoff.Len() > 0
}

// Control implements graph.Node: the owner reconciles its scheduler with a
// new configuration for its interface.
func (n *Node) Control(m msg.Msg) {
	q, ok := m.(msg.QoS)
	if !ok || q.Ifname != n.ifname || n.thread != n.owner {
		return
	}
	n.reconfigure(q.Config)
}

// reconfigure makes the scheduler match cfg. Classes that went away are
// deleted with their queued packets (freed and counted at the next
// Dispatch); changed ones keep their queue; a new link rate starts a new
// scheduler.
func (n *Node) reconfigure(cfg *fwd.QoS) {
	now := n.lastNow
	if n.clock != nil {
		now = n.clock()
	}
	old := n.cfg
	if cfg == nil || old == nil || n.sched == nil || cfg.Rate != old.Rate || cfg.LinkQueue != old.LinkQueue ||
		!n.apply(old, cfg, now) {
		n.rebuild(cfg)
	}
	n.cfg = cfg
	n.bind()
}

// rebuild starts a new scheduler for cfg (none for nil), freeing what the
// old one queued.
func (n *Node) rebuild(cfg *fwd.QoS) {
	n.flush()
	if cfg == nil {
		return
	}
	s, err := hfsc.New[*packet.Packet](cfg.Rate, pktLen)
	if err != nil {
		return // the control side validated the rate
	}
	s.SetLinkQueue(cfg.LinkQueue)
	s.SetULSlack(cfg.LinkQueue)
	for _, c := range cfg.Classes {
		s.AddClass(c) // validated by the control side on a scheduler like this one
	}
	n.sched = s
}

// apply changes the scheduler from old to cfg class by class, so that
// classes that stay keep their queues and state. It reports false if a
// step failed (the caller rebuilds).
func (n *Node) apply(old, cfg *fwd.QoS, now int64) bool {
	newIdx := make(map[string]int, len(cfg.Classes))
	for i, c := range cfg.Classes {
		newIdx[c.Name] = i
	}
	oldIdx := make(map[string]int, len(old.Classes))
	for i, c := range old.Classes {
		oldIdx[c.Name] = i
	}
	// Deletions, children before parents; a class whose place in the tree
	// changed is deleted and added again.
	for i := len(old.Classes) - 1; i >= 0; i-- {
		oc := old.Classes[i]
		j, ok := newIdx[oc.Name]
		if ok && cfg.Classes[j].Parent == oc.Parent && cfg.Classes[j].Leaf == oc.Leaf {
			continue
		}
		n.delClass(oc.Name)
	}
	for _, c := range cfg.Classes {
		if _, err := n.sched.Stats(c.Name); err != nil {
			if n.sched.AddClass(c) != nil {
				return false
			}
			continue
		}
		if oi, ok := oldIdx[c.Name]; ok && sameClass(old.Classes[oi], c) {
			continue
		}
		if err := n.sched.ChangeClass(c, now); err != nil {
			// The new limit is below what the class queues: start it
			// afresh.
			n.delClass(c.Name)
			if n.sched.AddClass(c) != nil {
				return false
			}
		}
	}
	return true
}

// bind maps the configuration's classes and rules to scheduler handles and
// counters, releasing the counters of what went away.
func (n *Node) bind() {
	n.handles, n.classC, n.ruleC = nil, nil, nil
	keepC := map[string]bool{}
	keepR := map[int]bool{}
	if n.cfg != nil {
		n.handles = make([]hfsc.Handle, len(n.cfg.Classes))
		n.classC = make([]classCntrs, len(n.cfg.Classes))
		for i, c := range n.cfg.Classes {
			n.handles[i], _ = n.sched.Lookup(c.Name)
			cc, ok := n.byName[c.Name]
			if !ok {
				p := n.name + "/class/" + c.Name + "/"
				cc = classCntrs{enq: n.reg.PktByte(n.thread, p+"enq"), drops: n.reg.Counter(n.thread, p+"drops")}
				n.byName[c.Name] = cc
			}
			n.classC[i] = cc
			keepC[c.Name] = true
		}
		n.ruleC = make([]counters.PktByte, len(n.cfg.Rules))
		for i, r := range n.cfg.Rules {
			rc, ok := n.byPrio[r.Prio]
			if !ok {
				rc = n.reg.PktByte(n.thread, n.name+"/rule/"+strconv.Itoa(r.Prio))
				n.byPrio[r.Prio] = rc
			}
			n.ruleC[i] = rc
			keepR[r.Prio] = true
		}
	}
	for name := range n.byName {
		if !keepC[name] {
			delete(n.byName, name)
			n.reg.Release(n.thread, n.name+"/class/"+name+"/")
		}
	}
	for prio := range n.byPrio {
		if !keepR[prio] {
			delete(n.byPrio, prio)
			n.reg.Release(n.thread, n.name+"/rule/"+strconv.Itoa(prio))
		}
	}
}

// delClass deletes a class, keeping its packets for the next Dispatch to
// free and counting them as the class's drops.
func (n *Node) delClass(name string) {
	pkts, err := n.sched.DelClass(name)
	if err != nil {
		return
	}
	if cc, ok := n.byName[name]; ok {
		cc.drops.Add(uint64(len(pkts)))
	}
	n.garbage = append(n.garbage, pkts...)
}

// flush deletes every class of the scheduler (leaves first) and drops it.
func (n *Node) flush() {
	if n.sched == nil {
		return
	}
	if n.cfg != nil {
		for i := len(n.cfg.Classes) - 1; i >= 0; i-- {
			n.delClass(n.cfg.Classes[i].Name)
		}
	}
	n.sched = nil
}

func sameClass(a, b hfsc.ClassConfig) bool {
	eq := func(x, y *hfsc.Curve) bool { return x == nil && y == nil || x != nil && y != nil && *x == *y }
	return a.Name == b.Name && a.Parent == b.Parent && a.QLimit == b.QLimit && a.Leaf == b.Leaf &&
		eq(a.RT, b.RT) && eq(a.LS, b.LS) && eq(a.UL, b.UL)
}

// pktLen is a packet's size on the link: the frame as queued (Ethernet
// header included, no FCS or preamble), as Linux's qdiscs count it.
func pktLen(p *packet.Packet) int { return p.Len() }

// ClassStats is a snapshot of one class of the scheduler.
type ClassStats struct {
	Name string
	hfsc.Stats
}

// Stats describes the scheduler's classes in configuration order (the
// root first), and the node's time when taken. Owner thread only (the
// engine's OnThread); nil when the interface has no scheduler.
func (n *Node) Stats() (now int64, out []ClassStats) {
	if n.sched == nil {
		return n.lastNow, nil
	}
	add := func(name string) {
		if s, err := n.sched.Stats(name); err == nil {
			out = append(out, ClassStats{Name: name, Stats: s})
		}
	}
	add(hfsc.RootName)
	for _, c := range n.cfg.Classes {
		add(c.Name)
	}
	return n.lastNow, out
}

// Queued is the number of packets the scheduler holds (owner thread).
func (n *Node) Queued() int {
	if n.sched == nil {
		return 0
	}
	return n.sched.Len()
}

// Removed implements graph.Remover: the owner frees everything it holds.
func (n *Node) Removed(pool *packet.Pool) {
	if n.thread != n.owner {
		return
	}
	n.flush()
	n.cfg = nil
	for _, p := range n.garbage {
		n.c.deleted.Inc()
		pool.Free(p)
	}
	n.garbage = nil
	packet.FreeRing(n.handoff, pool)
}

// Drain implements graph.Drainer: packets handed over after the owner let
// go of the node go back to their pools.
func (n *Node) Drain() { packet.ReturnRing(n.handoff) }

var (
	_ graph.Node    = (*Node)(nil)
	_ graph.Pender  = (*Node)(nil)
	_ graph.Remover = (*Node)(nil)
	_ graph.Drainer = (*Node)(nil)
)
