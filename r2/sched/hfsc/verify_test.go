package hfsc

import "fmt"

// verify checks the scheduler's internal invariants: heap order and
// positions, which classes are in which heaps, the active counts, the fit
// times and the queue totals.
func (s *core) verify() error {
	heaps := func(c *class) []*heap { return []*heap{&c.fit, &c.wait, &c.vmax} }
	check := func(h *heap, owner string) error {
		for i, e := range h.a {
			if int(e.c.hidx[h.kind]) != i {
				return fmt.Errorf("%s heap %d: %s at %d thinks it is at %d", owner, h.kind, e.c.name, i, e.c.hidx[h.kind])
			}
			if i > 0 && h.a[(i-1)/2].key > e.key {
				return fmt.Errorf("%s heap %d: order broken at %d", owner, h.kind, i)
			}
		}
		return nil
	}
	if err := check(&s.ready, "ready"); err != nil {
		return err
	}
	if err := check(&s.pend, "pend"); err != nil {
		return err
	}
	for _, e := range s.ready.a {
		if e.key != e.c.d || e.c.e > s.now {
			return fmt.Errorf("ready: %s key %d d %d e %d now %d", e.c.name, e.key, e.c.d, e.c.e, s.now)
		}
	}
	for _, e := range s.pend.a {
		if e.key != e.c.e {
			return fmt.Errorf("pend: %s key %d e %d", e.c.name, e.key, e.c.e)
		}
	}
	npkts := 0
	for _, c := range s.byName {
		for _, h := range heaps(c) {
			if err := check(h, c.name); err != nil {
				return err
			}
		}
		npkts += c.n
		if c.leaf {
			inRT := s.ready.has(c) || s.pend.has(c)
			if want := c.hasRT && c.n > 0; inRT != want || s.ready.has(c) && s.pend.has(c) {
				return fmt.Errorf("leaf %s: in real-time heaps %v, want %v", c.name, inRT, want)
			}
			if want := c.hasLS && c.n > 0; c.active != want {
				return fmt.Errorf("leaf %s: active %v, want %v", c.name, c.active, want)
			}
		}
		n := 0
		for _, k := range c.kids {
			if !k.active {
				if c.fit.has(k) || c.wait.has(k) || c.vmax.has(k) {
					return fmt.Errorf("passive %s still in %s's heaps", k.name, c.name)
				}
				continue
			}
			n++
			if c.fit.has(k) == c.wait.has(k) || !c.vmax.has(k) {
				return fmt.Errorf("active %s: fit %v wait %v vmax %v", k.name, c.fit.has(k), c.wait.has(k), c.vmax.has(k))
			}
			if c.vmax.a[k.hidx[hVMax]].key != -k.vt {
				return fmt.Errorf("%s: stale vmax key", k.name)
			}
			if c.fit.has(k) && c.fit.a[k.hidx[hFit]].key != k.vt {
				return fmt.Errorf("%s: stale fit key", k.name)
			}
			f := cfmin(k)
			if k.hasUL && k.myf > f {
				f = k.myf
			}
			if c.wait.has(k) && (c.wait.a[k.hidx[hWait]].key != f || f != k.f) {
				return fmt.Errorf("%s: wait key %d, fit time %d (stored %d)", k.name, c.wait.a[k.hidx[hWait]].key, f, k.f)
			}
			if c.fit.has(k) && f > s.now {
				return fmt.Errorf("%s: in fit heap with fit time %d after now %d", k.name, f, s.now)
			}
		}
		if n != c.nactive {
			return fmt.Errorf("%s: nactive %d, %d active children", c.name, c.nactive, n)
		}
		if !c.leaf && c != s.root && c.active != (n > 0) {
			return fmt.Errorf("%s: active %v with %d active children", c.name, c.active, n)
		}
	}
	if npkts != s.npkts {
		return fmt.Errorf("npkts %d, leaves hold %d", s.npkts, npkts)
	}
	return nil
}
