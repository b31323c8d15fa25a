package hfsc

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Sched is an HFSC scheduler for one link, queueing items of type T. It is
// owned by one thread: no method is safe for concurrent use.
type Sched[T any] struct {
	core
	size  func(T) int // bytes an item occupies on the link
	items [][]T       // per class id: the leaf's ring (lengths in class.lens)
}

// New returns a scheduler for a link of linkRate bits/s with only the root
// class. size gives an item's length in bytes on the link.
func New[T any](linkRate uint64, size func(T) int) (*Sched[T], error) {
	if linkRate == 0 {
		return nil, fmt.Errorf("%w: link rate 0", ErrInvalid)
	}
	s := &Sched[T]{size: size}
	s.linkRate = linkRate
	s.ulSlack = defaultULSlack
	root := &class{name: RootName, cfg: ClassConfig{Name: RootName}}
	root.init()
	s.root = root
	s.byName = map[string]*class{RootName: root}
	s.classes, s.gens, s.items = []*class{root}, []uint32{1}, [][]T{nil}
	root.gen = 1
	s.ready.kind, s.pend.kind = hReady, hPend
	return s, nil
}

// SetLinkQueue lets the link accept an item while up to d of earlier
// transmission is still pending (the device's own queue), so the owner
// thread can hand over a batch per wakeup. 0, the default, releases an item
// only once the previous one has left.
func (s *Sched[T]) SetLinkQueue(d time.Duration) {
	s.linkQueue = max(int64(d), 0)
}

// SetULSlack sets how far behind its upper-limit curve a class may fall
// (held back by siblings, or by its owner thread waking late) and still
// catch up, 1 ms by default; negative values count as 0.
func (s *Sched[T]) SetULSlack(d time.Duration) {
	s.ulSlack = max(int64(d), 0)
}

// Lookup returns the handle of a leaf for Enqueue.
func (s *Sched[T]) Lookup(name string) (Handle, bool) {
	c := s.byName[name]
	if c == nil || !c.leaf {
		return Handle{}, false
	}
	return Handle{c.id, c.gen}, true
}

// Len is the number of items queued in all leaves.
func (s *Sched[T]) Len() int { return s.npkts }

// parentOf resolves cfg.Parent for a new or changed class.
func (s *Sched[T]) parentOf(cfg *ClassConfig) (*class, error) {
	name := cfg.Parent
	if name == "" {
		name = RootName
	}
	p := s.byName[name]
	if p == nil {
		return nil, fmt.Errorf("%w: parent %q of class %q", ErrNotFound, name, cfg.Name)
	}
	if p.leaf {
		return nil, fmt.Errorf("%w: parent %q of class %q is a leaf", ErrInvalid, name, cfg.Name)
	}
	return p, nil
}

// setCurves copies cfg's curves into c (the caller's pointers are not kept).
func (c *class) setCurves(cfg ClassConfig) {
	copyCurve := func(p *Curve) *Curve {
		if p == nil {
			return nil
		}
		v := *p
		return &v
	}
	cfg.RT, cfg.LS, cfg.UL = copyCurve(cfg.RT), copyCurve(cfg.LS), copyCurve(cfg.UL)
	c.cfg = cfg
	c.hasRT, c.hasLS, c.hasUL = cfg.RT != nil, cfg.LS != nil, cfg.UL != nil
	c.rt, c.ls, c.ul = sc{}, sc{}, sc{}
	if c.hasRT {
		c.rt = newSC(*cfg.RT)
	}
	if c.hasLS {
		c.ls = newSC(*cfg.LS)
	}
	if c.hasUL {
		c.ul = newSC(*cfg.UL)
	}
	// Runtime curves start afresh with the new shapes.
	c.rtUsed, c.ulUsed, c.pperiod = false, false, 0
}

// AddClass adds a class below cfg.Parent (the root if empty). On error
// nothing changes.
func (s *Sched[T]) AddClass(cfg ClassConfig) error {
	if err := checkConfig(&cfg); err != nil {
		return err
	}
	if s.byName[cfg.Name] != nil {
		return fmt.Errorf("%w: %q", ErrExists, cfg.Name)
	}
	p, err := s.parentOf(&cfg)
	if err != nil {
		return err
	}
	if err := s.checkCapacity(&cfg, p); err != nil {
		return err
	}
	c := &class{name: cfg.Name, parent: p, leaf: cfg.Leaf}
	c.init()
	c.setCurves(cfg)
	if n := len(s.free); n > 0 {
		c.id = s.free[n-1]
		s.free = s.free[:n-1]
	} else {
		c.id = uint32(len(s.classes))
		s.classes, s.gens, s.items = append(s.classes, nil), append(s.gens, 0), append(s.items, nil)
	}
	s.gens[c.id]++
	c.gen = s.gens[c.id]
	s.classes[c.id] = c
	if c.leaf {
		c.lens = make([]uint32, cfg.QLimit)
		s.items[c.id] = make([]T, cfg.QLimit)
	}
	s.byName[c.name] = c
	p.kids = append(p.kids, c)
	// Room in every heap c can be in, so the data path never grows one.
	p.fit.ensure(len(p.kids))
	p.wait.ensure(len(p.kids))
	p.vmax.ensure(len(p.kids))
	if c.hasRT {
		s.nrt++
		s.ready.ensure(s.nrt)
		s.pend.ensure(s.nrt)
	}
	return nil
}

// ChangeClass replaces the curves and queue limit of an existing class at
// time now; its Parent and Leaf must stay the same, and a leaf's new limit
// must hold what it queues. The class's runtime curves restart from its
// current service at now. On error nothing changes.
func (s *Sched[T]) ChangeClass(cfg ClassConfig, now int64) error {
	if cfg.Name == RootName {
		return fmt.Errorf("%w: the root's curve is the link rate", ErrInvalid)
	}
	if err := checkConfig(&cfg); err != nil {
		return err
	}
	c := s.byName[cfg.Name]
	if c == nil {
		return fmt.Errorf("%w: %q", ErrNotFound, cfg.Name)
	}
	p, err := s.parentOf(&cfg)
	if err != nil {
		return err
	}
	if p != c.parent || cfg.Leaf != c.leaf {
		return fmt.Errorf("%w: class %q: parent and leaf cannot change (delete and add it)", ErrInvalid, cfg.Name)
	}
	if c.leaf && cfg.QLimit < c.n {
		return fmt.Errorf("%w: leaf %q queues %d items, above the new limit %d", ErrBusy, cfg.Name, c.n, cfg.QLimit)
	}
	if err := s.checkCapacity(&cfg, p); err != nil {
		return err
	}
	now = s.clock(now)
	backlogged := c.leaf && c.n > 0
	if backlogged {
		s.deactivate(c, now)
	}
	if c.hasRT {
		s.nrt--
	}
	if c.leaf && cfg.QLimit != len(c.lens) {
		lens, items := make([]uint32, cfg.QLimit), make([]T, cfg.QLimit)
		old := s.items[c.id]
		for i := 0; i < c.n; i++ {
			j := (c.head + i) % len(c.lens)
			lens[i], items[i] = c.lens[j], old[j]
		}
		c.lens, s.items[c.id], c.head = lens, items, 0
	}
	c.setCurves(cfg)
	if c.hasRT {
		s.nrt++
		s.ready.ensure(s.nrt)
		s.pend.ensure(s.nrt)
	}
	if backlogged {
		s.activate(c, now)
	}
	if !c.leaf && c.active {
		// An active interior class keeps its virtual time and goes on
		// from its current service with the new curves.
		c.virt.place(c.ls, c.vt, c.total)
		c.pperiod = p.period
		if c.hasUL {
			c.ulim.place(c.ul, now, c.total)
			c.ulUsed = true
			c.myf = c.ulim.y2x(c.total)
		}
		for k := c; k != s.root; k = k.parent {
			if !s.refit(k, now) && k != c {
				break
			}
		}
	}
	return nil
}

// DelClass deletes a class without children and returns the items it
// queued, oldest first, for the caller to free and count. The root cannot
// be deleted. It acts at the latest time the scheduler has seen. On error
// nothing changes.
func (s *Sched[T]) DelClass(name string) ([]T, error) {
	c := s.byName[name]
	switch {
	case c == nil:
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	case c == s.root:
		return nil, fmt.Errorf("%w: the root cannot be deleted", ErrInvalid)
	case len(c.kids) > 0:
		return nil, fmt.Errorf("%w: class %q has %d children", ErrBusy, name, len(c.kids))
	}
	var out []T
	if c.leaf && c.n > 0 {
		s.deactivate(c, s.now)
		q := s.items[c.id]
		out = make([]T, 0, c.n)
		var zero T
		for ; c.n > 0; c.n-- {
			out = append(out, q[c.head])
			q[c.head] = zero
			if c.head++; c.head == len(q) {
				c.head = 0
			}
		}
		s.npkts -= len(out)
		c.qbytes = 0
	}
	if c.hasRT {
		s.nrt--
	}
	p := c.parent
	p.kids = slices.DeleteFunc(p.kids, func(k *class) bool { return k == c })
	delete(s.byName, name)
	s.classes[c.id], s.items[c.id] = nil, nil
	s.gens[c.id]++
	s.free = append(s.free, c.id)
	return out, nil
}

// Enqueue appends item to leaf h's queue at time now (ns, the caller's
// monotonic clock). It returns false, counting a drop, if the queue is full
// (or false if h is not a current leaf); the caller then frees the item.
func (s *Sched[T]) Enqueue(h Handle, item T, now int64) bool {
	if int(h.id) >= len(s.classes) {
		return false
	}
	c := s.classes[h.id]
	if c == nil || c.gen != h.gen || !c.leaf {
		return false
	}
	if c.n == len(c.lens) {
		c.drops++
		return false
	}
	now = s.clock(now)
	l := s.size(item)
	if l < 0 {
		l = 0
	} else if l > math.MaxUint32 {
		l = math.MaxUint32
	}
	i := c.head + c.n
	if i >= len(c.lens) {
		i -= len(c.lens)
	}
	s.items[c.id][i] = item
	c.lens[i] = uint32(l)
	c.n++
	c.qbytes += uint64(l)
	s.npkts++
	if c.n == 1 {
		s.activate(c, now)
	}
	return true
}

// Dequeue releases the next item at time now, if the link is free and some
// class may send: by its real-time curve, or by link-sharing within the
// upper limits. When it returns false with items queued, NextEvent says
// when to try again.
func (s *Sched[T]) Dequeue(now int64) (T, bool) {
	var zero T
	if s.npkts == 0 {
		return zero, false
	}
	now = s.clock(now)
	if !s.linkReady(now) {
		return zero, false
	}
	c, rt := s.pick(now)
	if c == nil {
		return zero, false
	}
	q := s.items[c.id]
	item := q[c.head]
	q[c.head] = zero
	l := uint64(c.lens[c.head])
	s.linkSend(l, now)
	s.served(c, l, now, rt)
	return item, true
}

// NextEvent returns the earliest time at or after now at which Dequeue can
// release an item: now if it can at once, a later time when the link is
// busy or every backlogged class waits for its eligible time or its upper
// limit, and -1 when nothing is queued.
func (s *Sched[T]) NextEvent(now int64) int64 {
	return s.nextEvent(s.clock(now))
}

// Stats is a snapshot of one class. Times are in the caller's nanoseconds,
// except VT (virtual time, comparable among siblings only).
type Stats struct {
	Packets, Bytes uint64 // sent
	Drops          uint64 // refused by Enqueue: queue full
	QLen           int    // items queued
	QBytes         uint64 // bytes queued
	Total          uint64 // bytes sent by the subtree, by either criterion
	Cumul          uint64 // bytes sent by the real-time criterion
	Active         bool   // backlogged for link-sharing
	VT             int64  // virtual time
	Eligible       int64  // real-time: when the head item becomes eligible
	Deadline       int64  // real-time: when the head item is due
	Fit            int64  // when the upper limits below allow service
}

// Stats returns a snapshot of class name.
func (s *Sched[T]) Stats(name string) (Stats, error) {
	c := s.byName[name]
	if c == nil {
		return Stats{}, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return Stats{
		Packets: c.pkts, Bytes: c.bytes, Drops: c.drops,
		QLen: c.n, QBytes: c.qbytes,
		Total: c.total, Cumul: c.cumul,
		Active: c.active, VT: c.vt,
		Eligible: c.e, Deadline: c.d, Fit: c.f,
	}, nil
}
