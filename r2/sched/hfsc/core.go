package hfsc

import "time"

// defaultULSlack bounds how far behind its upper-limit curve a class may
// fall and still catch up: a class held back longer (by busier siblings)
// does not then burst above its limit to recover the lost service. 1 ms
// absorbs a late wakeup of the owner thread without letting a class run
// greedy; SetULSlack changes it.
const defaultULSlack = int64(time.Millisecond)

// core is the scheduler without the items: the class tree, the heaps and
// the link. It is not generic, so one copy of the code serves every T.
type core struct {
	linkRate  uint64 // bits/s
	linkQueue int64  // ns of transmission the link may hold beyond now
	ulSlack   int64  // see defaultULSlack
	linkStart int64  // start of the link's current busy period
	linkBytes uint64 // bytes accepted since linkStart
	linkFree  int64  // when the link will have sent them
	now       int64  // latest time seen; control operations act at it

	root    *class
	byName  map[string]*class // includes the root
	classes []*class          // by id; nil for a free slot
	gens    []uint32          // generation of each slot
	free    []uint32          // free slots
	nrt     int               // leaves with a real-time curve

	ready heap // eligible real-time leaves, by deadline
	pend  heap // not yet eligible real-time leaves, by eligible time

	npkts int // items queued in all leaves
}

// clock returns now, or the latest time seen if now is older: time never
// goes backwards for the scheduler.
func (s *core) clock(now int64) int64 {
	if now < s.now {
		return s.now
	}
	s.now = now
	return now
}

// ---- link ----

func (s *core) linkReady(now int64) bool { return s.linkFree-now <= s.linkQueue }

func (s *core) linkSend(l uint64, now int64) {
	if now > s.linkFree {
		s.linkStart, s.linkBytes = now, 0
	}
	s.linkBytes += l
	s.linkFree = addX(s.linkStart, segY2X(s.linkBytes, s.linkRate))
}

// ---- real-time criterion ----

// rtActivate places the deadline and eligible curves of leaf c, whose queue
// just became non-empty, and files c by its eligible time.
func (s *core) rtActivate(c *class, now int64) {
	if c.rtUsed {
		c.deadline.min(c.rt, now, c.cumul)
	} else {
		c.deadline.place(c.rt, now, c.cumul)
		c.rtUsed = true
	}
	c.elig = c.deadline
	if !c.rt.concave() {
		// A convex curve's slow first piece only delays the deadlines:
		// service ahead of it at rate m2 cannot hurt other guarantees.
		c.elig.dx, c.elig.dy = 0, 0
	}
	c.e = c.elig.y2x(c.cumul)
	c.d = c.deadline.y2x(c.cumul + uint64(c.lens[c.head]))
	s.rtPlace(c, now)
}

// rtPlace files c in the ready or the pending heap by its eligible time.
func (s *core) rtPlace(c *class, now int64) {
	if c.e <= now {
		if s.pend.has(c) {
			s.pend.remove(c)
		}
		s.ready.update(c, c.d)
		return
	}
	if s.ready.has(c) {
		s.ready.remove(c)
	}
	s.pend.update(c, c.e)
}

func (s *core) rtRemove(c *class) {
	if s.ready.has(c) {
		s.ready.remove(c)
	}
	if s.pend.has(c) {
		s.pend.remove(c)
	}
}

// ---- link-sharing criterion ----

// cfmin is the earliest fit time among c's active children: 0 (any time
// is late enough) if one of them may be served already.
func cfmin(c *class) int64 {
	if c.leaf || c.fit.len() > 0 {
		return 0
	}
	_, f := c.wait.top()
	return f
}

// refit recomputes c's fit time and files c in its parent's fit or wait
// heap. It reports whether the parent's own fit time may have changed.
func (s *core) refit(c *class, now int64) bool {
	f := cfmin(c)
	if c.hasUL && c.myf > f {
		f = c.myf
	}
	c.f = f
	p := c.parent
	if f <= now {
		if p.fit.has(c) {
			p.fit.update(c, c.vt)
			return false
		}
		if p.wait.has(c) {
			p.wait.remove(c)
		}
		p.fit.push(c, c.vt)
		return true
	}
	if p.fit.has(c) {
		p.fit.remove(c)
	}
	if i := c.hidx[hWait]; i >= 0 && p.wait.a[i].key == f {
		return false
	}
	p.wait.update(c, f)
	return true
}

// lsActivate makes c (a leaf that just got its first item) active in its
// parent, and each ancestor that was not active yet in its own parent,
// giving each a virtual time among its active siblings.
func (s *core) lsActivate(c *class, now int64) {
	for p := c.parent; p != nil; c, p = p, p.parent {
		newly := !c.active
		if newly {
			var vt int64
			if p.nactive == 0 {
				// A new backlog period of p's children: their virtual
				// times start again from 0.
				p.period++
				p.cvtmin = 0
			} else {
				// Halfway between the smallest virtual time served and the
				// largest active one: a newcomer neither jumps ahead of
				// everyone nor waits behind everyone.
				_, k := p.vmax.top()
				hi, lo := -k, p.cvtmin
				if lo > hi {
					lo = hi
				}
				vt = lo + (hi-lo)/2
				if c.pperiod == p.period && c.vt > vt {
					vt = c.vt // no gain from pausing within a period
				}
			}
			if c.pperiod == p.period {
				c.virt.min(c.ls, vt, c.total)
			} else {
				c.virt.place(c.ls, vt, c.total)
			}
			c.pperiod = p.period
			c.vt = c.virt.y2x(c.total)
			if c.hasUL {
				if c.ulUsed {
					c.ulim.minUnder(c.ul, now, c.total)
				} else {
					c.ulim.place(c.ul, now, c.total)
					c.ulUsed = true
				}
				c.myf = c.ulim.y2x(c.total)
			}
			c.active = true
			p.nactive++
			p.vmax.push(c, -c.vt)
		}
		if !s.refit(c, now) && !newly {
			return
		}
		if p == s.root {
			return
		}
	}
}

// detach removes active c from its parent's heaps.
func (s *core) detach(c *class) {
	p := c.parent
	if p.fit.has(c) {
		p.fit.remove(c)
	}
	if p.wait.has(c) {
		p.wait.remove(c)
	}
	p.vmax.remove(c)
	c.active = false
	p.nactive--
}

// lsDeactivate detaches c, which has no backlogged link-sharing leaf below
// any more, and every ancestor left without an active child; the ancestors
// still active then get their fit times recomputed.
func (s *core) lsDeactivate(c *class, now int64) {
	p := c.parent
	for {
		s.detach(c)
		if p.nactive > 0 || p == s.root {
			break
		}
		c, p = p, p.parent
	}
	for ; p != s.root; p = p.parent {
		if !s.refit(p, now) {
			break
		}
	}
}

// ---- both ----

// activate is called when leaf c's queue goes from empty to one item.
func (s *core) activate(c *class, now int64) {
	if c.hasRT {
		s.rtActivate(c, now)
	}
	if c.hasLS {
		s.lsActivate(c, now)
	}
}

// deactivate takes a leaf that still holds items out of every heap.
func (s *core) deactivate(c *class, now int64) {
	if c.hasRT {
		s.rtRemove(c)
	}
	if c.active {
		s.lsDeactivate(c, now)
	}
}

// pick chooses the leaf to serve at now: the eligible real-time leaf with
// the earliest deadline, or else the link-sharing leaf reached from the
// root through the smallest virtual times among classes within their upper
// limits. rt says which criterion chose it.
func (s *core) pick(now int64) (c *class, rt bool) {
	for s.pend.len() > 0 {
		c, e := s.pend.top()
		if e > now {
			break
		}
		s.pend.remove(c)
		s.ready.push(c, c.d)
	}
	if c, _ := s.ready.top(); c != nil {
		return c, true
	}
	p := s.root
	for {
		for p.wait.len() > 0 {
			c, f := p.wait.top()
			if f > now {
				break
			}
			p.wait.remove(c)
			p.fit.push(c, c.vt)
		}
		c, _ := p.fit.top()
		if c == nil {
			return nil, false
		}
		if c.vt > p.cvtmin {
			p.cvtmin = c.vt
		}
		if c.leaf {
			return c, false
		}
		if p != s.root {
			p.f = cfmin(p)
			if p.hasUL && p.myf > p.f {
				p.f = p.myf
			}
		}
		p = c
	}
}

// served accounts for the head item (l bytes) of leaf c, sent at now,
// removing it from c's ring.
func (s *core) served(c *class, l uint64, now int64, rt bool) {
	if c.head++; c.head == len(c.lens) {
		c.head = 0
	}
	c.n--
	c.qbytes -= l
	c.pkts++
	c.bytes += l
	s.npkts--
	if rt {
		c.cumul += l
	}
	if c.hasRT {
		if c.n == 0 {
			s.rtRemove(c)
		} else {
			if rt {
				c.e = c.elig.y2x(c.cumul)
			}
			c.d = c.deadline.y2x(c.cumul + uint64(c.lens[c.head]))
			s.rtPlace(c, now)
		}
	}
	// Bottom up: every ancestor's total grows, whichever criterion
	// served; those active in link-sharing move in their parent's heaps.
	passive := c.active && c.n == 0
	for k := c; k != s.root; k = k.parent {
		k.total += l
		if !k.active {
			continue
		}
		k.vt = k.virt.y2x(k.total)
		if k.hasUL {
			k.myf = k.ulim.y2x(k.total)
			if k.myf < now-s.ulSlack {
				k.ulim.minUnder(k.ul, now-s.ulSlack, k.total)
				k.myf = k.ulim.y2x(k.total)
			}
		}
		p := k.parent
		if passive {
			s.detach(k)
			passive = p.nactive == 0
			continue
		}
		p.vmax.update(k, -k.vt)
		s.refit(k, now)
	}
	s.root.total += l
}

// nextEvent is when the scheduler can next release an item: now if at
// once, -1 if it holds none.
func (s *core) nextEvent(now int64) int64 {
	if s.npkts == 0 {
		return -1
	}
	t := int64(inf)
	if s.ready.len() > 0 || s.root.fit.len() > 0 {
		t = now
	} else {
		if c, e := s.pend.top(); c != nil {
			t = e
		}
		if c, f := s.root.wait.top(); c != nil && f < t {
			t = f
		}
	}
	if t < now {
		t = now
	}
	if lf := s.linkFree - s.linkQueue; lf > t {
		t = lf
	}
	return t
}
