package hfsc

import (
	"errors"
	"fmt"
	"math/bits"
)

// RootName names the root class every scheduler starts with. A ClassConfig
// whose Parent is empty hangs below it.
const RootName = "root"

// MaxQLimit bounds a leaf's queue (its ring is allocated in full).
const MaxQLimit = 1 << 20

// ClassConfig describes a class. Leaves hold a queue of at most QLimit
// items; interior classes hold none. RT (real-time, leaves only) is a
// guarantee; LS (link-sharing) says how a class shares what the real-time
// guarantees leave over with its siblings, and is required on interior
// classes; UL (upper limit, needs LS) caps link-sharing service.
type ClassConfig struct {
	Name, Parent string
	QLimit       int
	Leaf         bool
	RT, LS, UL   *Curve
}

// Handle names a class on the data path without a map lookup. A handle of a
// deleted class stays invalid even if the name is reused.
type Handle struct {
	id, gen uint32
}

// Errors returned by the configuration methods, wrapped with details.
var (
	ErrExists   = errors.New("class exists")
	ErrNotFound = errors.New("no such class")
	ErrInvalid  = errors.New("invalid class configuration")
	ErrCapacity = errors.New("curves exceed capacity")
	ErrBusy     = errors.New("class in use")
)

// class is one node of the tree. All of it is owned by the scheduler's
// thread. The fields the data path touches come first, so that serving a
// class reads few cache lines; configuration comes last.
type class struct {
	parent *class
	hidx   [nHeaps]int32 // position in the heap of each kind, -1 if absent
	id     uint32        // slot in core.classes and Sched.items
	leaf   bool
	hasRT  bool
	hasLS  bool
	hasUL  bool
	active bool // has a backlogged link-sharing leaf below (or is one)

	// Leaf queue: a ring of item lengths; the items live in Sched.items.
	head, n int
	lens    []uint32
	qbytes  uint64

	// Counters.
	pkts, bytes uint64

	total   uint64 // bytes served by either criterion
	vt      int64  // virtual time
	myf     int64  // when ulim allows the service already received
	f       int64  // fit time: max(myf, earliest fit time of the children)
	cvtmin  int64  // vt of the child last chosen by link-sharing
	nactive int    // active children
	cumul   uint64 // bytes served by the real-time criterion
	e, d    int64  // eligible time and deadline of the head item

	virt     rc   // virtual curve: total service against virtual time
	ulim     rc   // upper-limit curve
	deadline rc   // deadline curve
	elig     rc   // eligible curve
	fit      heap // active children, by vt, that may be served now
	wait     heap // active children, by f, held back by an upper limit
	vmax     heap // active children by -vt

	// Activation and configuration.
	period  uint64 // bumped when nactive goes 0 -> 1
	pperiod uint64 // parent.period when this class was last activated
	rtUsed  bool   // deadline curve placed at least once
	ulUsed  bool   // ulim placed at least once
	drops   uint64
	rt      sc // valid if hasRT
	ls      sc
	ul      sc
	name    string
	kids    []*class // control path only
	gen     uint32
	cfg     ClassConfig
}

func (c *class) init() {
	for i := range c.hidx {
		c.hidx[i] = -1
	}
	c.fit.kind, c.wait.kind, c.vmax.kind = hFit, hWait, hVMax
}

func checkCurve(name, which string, c *Curve) error {
	if c == nil {
		return nil
	}
	if c.D < 0 {
		return fmt.Errorf("%w: class %q: %s negative d", ErrInvalid, name, which)
	}
	if c.M2 == 0 {
		return fmt.Errorf("%w: class %q: %s m2 is 0", ErrInvalid, name, which)
	}
	return nil
}

// checkConfig validates what a configuration says about the class alone.
func checkConfig(cfg *ClassConfig) error {
	n := cfg.Name
	switch {
	case n == "":
		return fmt.Errorf("%w: empty class name", ErrInvalid)
	case n == RootName:
		return fmt.Errorf("%w: %q is the root", ErrExists, n)
	case cfg.Leaf && (cfg.QLimit <= 0 || cfg.QLimit > MaxQLimit):
		return fmt.Errorf("%w: leaf %q: queue limit %d not in 1..%d", ErrInvalid, n, cfg.QLimit, MaxQLimit)
	case !cfg.Leaf && cfg.QLimit != 0:
		return fmt.Errorf("%w: interior class %q cannot have a queue (qlimit %d)", ErrInvalid, n, cfg.QLimit)
	case !cfg.Leaf && cfg.RT != nil:
		return fmt.Errorf("%w: interior class %q cannot have a real-time curve", ErrInvalid, n)
	case !cfg.Leaf && cfg.LS == nil:
		return fmt.Errorf("%w: interior class %q needs a link-sharing curve", ErrInvalid, n)
	case cfg.Leaf && cfg.RT == nil && cfg.LS == nil:
		return fmt.Errorf("%w: leaf %q needs a real-time or link-sharing curve", ErrInvalid, n)
	case cfg.UL != nil && cfg.LS == nil:
		return fmt.Errorf("%w: class %q: an upper limit needs a link-sharing curve", ErrInvalid, n)
	}
	if err := checkCurve(n, "rt", cfg.RT); err != nil {
		return err
	}
	if err := checkCurve(n, "ls", cfg.LS); err != nil {
		return err
	}
	return checkCurve(n, "ul", cfg.UL)
}

// u128 is an unsigned 128-bit value for the capacity checks.
type u128 struct{ hi, lo uint64 }

func (a u128) add(b u128) u128 {
	lo, c := bits.Add64(a.lo, b.lo, 0)
	hi, o := bits.Add64(a.hi, b.hi, c)
	if o != 0 {
		return u128{^uint64(0), ^uint64(0)}
	}
	return u128{hi, lo}
}

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

// curveAt is c's service at t ns in bit-ns/s (exact, 128 bits).
func curveAt(c Curve, t uint64) u128 {
	d := uint64(c.D)
	if c.M1 == c.M2 {
		d = 0
	}
	if t <= d {
		hi, lo := bits.Mul64(c.M1, t)
		return u128{hi, lo}
	}
	h1, l1 := bits.Mul64(c.M1, d)
	h2, l2 := bits.Mul64(c.M2, t-d)
	return u128{h1, l1}.add(u128{h2, l2})
}

// fits reports whether the sum of the curves stays at or below limit at
// every instant. All are piecewise linear from 0, so comparing at every
// break point and comparing the final slopes is enough.
func fits(cs []Curve, limit Curve) bool {
	var m2 u128
	for _, c := range cs {
		m2 = m2.add(u128{0, c.M2})
	}
	if (u128{0, limit.M2}).less(m2) {
		return false
	}
	pts := append(make([]uint64, 0, len(cs)+1), uint64(limit.D))
	for _, c := range cs {
		pts = append(pts, uint64(c.D))
	}
	for _, t := range pts {
		var sum u128
		for _, c := range cs {
			sum = sum.add(curveAt(c, t))
		}
		if curveAt(limit, t).less(sum) {
			return false
		}
	}
	return true
}

// checkCapacity validates the tree as it would be with cfg in place of the
// class named cfg.Name (or added, if absent): real-time curves together
// within the link rate (each of m1 and m2), and the link-sharing curves of
// the children of cfg's parent and of cfg itself within their parent's.
func (s *core) checkCapacity(cfg *ClassConfig, parent *class) error {
	// Real-time: all leaves.
	var m1, m2 u128
	for _, c := range s.byName {
		rt := c.cfg.RT
		if c.name == cfg.Name {
			rt = cfg.RT
		}
		if rt != nil {
			m1, m2 = m1.add(u128{0, rt.M1}), m2.add(u128{0, rt.M2})
		}
	}
	if s.byName[cfg.Name] == nil && cfg.RT != nil {
		m1, m2 = m1.add(u128{0, cfg.RT.M1}), m2.add(u128{0, cfg.RT.M2})
	}
	link := u128{0, s.linkRate}
	if link.less(m1) || link.less(m2) {
		return fmt.Errorf("%w: class %q: real-time curves would sum above the link rate %d bits/s", ErrCapacity, cfg.Name, s.linkRate)
	}
	// Link-sharing: cfg's siblings under the parent.
	if cfg.LS != nil {
		var cs []Curve
		for _, k := range parent.kids {
			if k.name != cfg.Name && k.cfg.LS != nil {
				cs = append(cs, *k.cfg.LS)
			}
		}
		cs = append(cs, *cfg.LS)
		if !fits(cs, s.lsOf(parent)) {
			return fmt.Errorf("%w: class %q: link-sharing curves of the children of %q would exceed its own", ErrCapacity, cfg.Name, parent.name)
		}
	}
	// Link-sharing: cfg's own children, when it is changed.
	if old := s.byName[cfg.Name]; old != nil && len(old.kids) > 0 {
		var cs []Curve
		for _, k := range old.kids {
			if k.cfg.LS != nil {
				cs = append(cs, *k.cfg.LS)
			}
		}
		if !fits(cs, *cfg.LS) {
			return fmt.Errorf("%w: class %q: its children's link-sharing curves would exceed its new one", ErrCapacity, cfg.Name)
		}
	}
	return nil
}

// lsOf is the link-sharing curve children of c share: the link for the root.
func (s *core) lsOf(c *class) Curve {
	if c == s.root {
		return Curve{M1: s.linkRate, M2: s.linkRate}
	}
	return *c.cfg.LS
}
