package hfsc

import (
	"math"
	"math/bits"
	"time"
)

// Curve is a two-piece service curve: a class is promised M1 bits/s during
// the first D of a backlog period, then M2 bits/s. M1 > M2 (concave) buys a
// lower delay for the first bytes of a burst, M1 < M2 (convex) delays them;
// D == 0 or M1 == M2 is a plain rate M2.
type Curve struct {
	M1 uint64        // bits/s during the first D
	D  time.Duration // length of the first piece
	M2 uint64        // bits/s afterwards
}

const (
	inf     = math.MaxInt64 // a time that never comes
	bitsSec = 8 * uint64(time.Second)
)

// Curves are computed exactly in integers: bytes are ns × bits/s / 8e9,
// rounded down, and times bytes × 8e9 / (bits/s), rounded up, through
// 128-bit intermediates, so no rate and no time span overflows them (a
// result beyond 64 bits saturates).

// segX2Y is how many bytes bps bits/s serves in dx ns, rounded down.
func segX2Y(dx int64, bps uint64) uint64 {
	if dx <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(bps, uint64(dx))
	if hi >= bitsSec {
		return math.MaxUint64
	}
	q, _ := bits.Div64(hi, lo, bitsSec)
	return q
}

// segY2X is the shortest time in which bps bits/s serves dy bytes (so that
// segX2Y of the result is at least dy), saturated at inf.
func segY2X(dy uint64, bps uint64) int64 {
	if dy == 0 {
		return 0
	}
	hi, lo := bits.Mul64(dy, bitsSec)
	if hi >= bps { // also bps == 0
		return inf
	}
	q, r := bits.Div64(hi, lo, bps)
	if r != 0 {
		q++
	}
	if q > inf {
		return inf
	}
	return int64(q)
}

func addY(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return math.MaxUint64
}

func addX(a, b int64) int64 {
	if b > inf-a {
		return inf
	}
	return a + b
}

// sc is a Curve in internal units: the first piece is dx ns long and serves
// dy bytes at slope m1, the rest has slope m2.
type sc struct {
	m1 uint64
	dx int64
	dy uint64
	m2 uint64
}

func newSC(c Curve) sc {
	s := sc{m1: c.M1, m2: c.M2, dx: int64(c.D)}
	if s.dx <= 0 || s.m1 == s.m2 {
		s.m1, s.dx = s.m2, 0
	}
	s.dy = segX2Y(s.dx, s.m1)
	return s
}

func (s sc) concave() bool { return s.m1 > s.m2 }

// rc is a runtime curve: a service curve placed at the point (x, y) of a
// (time, cumulative bytes) plane, possibly with a shortened first piece
// after being combined with later placements (see min). x is real time for
// the deadline, eligible and upper-limit curves and virtual time for the
// link-sharing curve.
type rc struct {
	x  int64  // origin time
	y  uint64 // bytes served at x
	dx int64  // first piece: duration
	dy uint64 // first piece: bytes
	m1 uint64 // first piece: slope
	m2 uint64 // slope after x+dx
}

// place sets r to the service curve s starting at (x, y).
func (r *rc) place(s sc, x int64, y uint64) {
	*r = rc{x: x, y: y, dx: s.dx, dy: s.dy, m1: s.m1, m2: s.m2}
}

// x2y is the cumulative service the curve allows at time t.
func (r *rc) x2y(t int64) uint64 {
	switch {
	case t <= r.x:
		return r.y
	case t-r.x <= r.dx:
		return addY(r.y, segX2Y(t-r.x, r.m1))
	default:
		return addY(addY(r.y, r.dy), segX2Y(t-r.x-r.dx, r.m2))
	}
}

// y2x is the earliest time at which the curve reaches v bytes.
func (r *rc) y2x(v uint64) int64 {
	switch {
	case v <= r.y:
		return r.x
	case v-r.y <= r.dy:
		return addX(r.x, segY2X(v-r.y, r.m1))
	default:
		return addX(addX(r.x, r.dx), segY2X(v-r.y-r.dy, r.m2))
	}
}

// min replaces r, for times from x on, by the lower envelope of r and the
// service curve s placed at (x, y). This is how a class that becomes active
// again gets a curve that is neither more generous than the one it already
// had (it cannot gain a fresh burst by pausing briefly) nor stingier than a
// fresh one (a long pause is not held against it).
//
// r is always s itself (placed earlier, its first piece possibly cut), so
// the envelope is again a two-piece curve, except for convex s where the
// exact envelope may need three pieces: there the lower of the two at x is
// kept, which may grant slightly more than the exact minimum later on.
func (r *rc) min(s sc, x int64, y uint64) {
	y1 := r.x2y(x)
	if y1 <= y {
		// The old curve is lower at x. For a concave s it stays lower: it
		// is at least as far into its slower piece as the new one.
		if s.concave() || y1 < y {
			return
		}
	}
	if !s.concave() {
		r.place(s, x, y)
		return
	}
	// Concave, the new curve starts lower. If it is still lower at the end
	// of its first piece it is lower everywhere (both have slope m2 then).
	if r.x2y(addX(x, s.dx)) >= addY(y, s.dy) {
		r.place(s, x, y)
		return
	}
	// They cross while the new curve is in its steep piece and the old one
	// in its slow piece: the old one keeps slope m1 until its own break
	// point (the gap y1-y stays constant), then the gap closes at m1-m2.
	dx := segY2X(y1-y, s.m1-s.m2)
	if b := r.x + r.dx - x; b > 0 {
		dx = addX(dx, b)
	}
	if dx > s.dx {
		dx = s.dx
	}
	*r = rc{x: x, y: y, dx: dx, dy: segX2Y(dx, s.m1), m1: s.m1, m2: s.m2}
}

// minUnder is min for a limit, where granting more than the lower envelope
// is not acceptable: for a convex s it places s at x below both curves
// (at the lower of the two values there; its slope is never above the old
// curve's), so the result may grant less than the exact minimum, never more.
func (r *rc) minUnder(s sc, x int64, y uint64) {
	if s.concave() {
		r.min(s, x, y)
		return
	}
	r.place(s, x, min(y, r.x2y(x)))
}
