package hfsc

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

const mbit = 1e6

func lin(bps uint64) *Curve { return &Curve{M1: bps, M2: bps} }

// curveTime is when curve c, started at 0, has served n bytes (seconds).
func curveTime(c Curve, n float64) float64 {
	bitsN, d := 8*n, c.D.Seconds()
	if c.M1 == c.M2 || d == 0 {
		return bitsN / float64(c.M2)
	}
	if first := float64(c.M1) * d; bitsN <= first {
		return bitsN / float64(c.M1)
	} else {
		return d + (bitsN-first)/float64(c.M2)
	}
}

// curveBytes is what curve c serves in t seconds.
func curveBytes(c Curve, t float64) float64 {
	d := c.D.Seconds()
	if c.M1 == c.M2 || t <= d {
		if c.M1 == c.M2 {
			return float64(c.M2) * t / 8
		}
		return float64(c.M1) * t / 8
	}
	return (float64(c.M1)*d + float64(c.M2)*(t-d)) / 8
}

// A real-time class gets its curve: with a greedy link-sharing class
// competing, each packet of a burst leaves by the time the curve, started
// at the burst, has served it, plus one maximum-size packet in flight.
func TestRealTimeDelayBound(t *testing.T) {
	tests := []struct {
		name  string
		rt    Curve
		burst int // packets
		size  int
	}{
		{"concave", Curve{M1: 5 * mbit, D: 10 * time.Millisecond, M2: 1 * mbit}, 20, 1000},
		{"linear", Curve{M1: 2 * mbit, M2: 2 * mbit}, 30, 500},
		{"convex", Curve{M1: 500e3, D: 20 * time.Millisecond, M2: 3 * mbit}, 40, 300},
		{"nearly the link", Curve{M1: 9 * mbit, M2: 9 * mbit}, 50, 1500},
	}
	const link = 10 * mbit
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newSim(t, link, []ClassConfig{
				{Name: "rt", Leaf: true, QLimit: 100, RT: &tc.rt},
				{Name: "bulk", Leaf: true, QLimit: 50, LS: lin(link)},
			})
			m.greedy[1] = 1500
			starts := []int64{ms(10), ms(800)}
			var arr []arrival
			for _, st := range starts {
				for i := 0; i < tc.burst; i++ {
					arr = append(arr, arrival{st, 0, tc.size})
				}
			}
			m.run(arr, ms(1600))
			slack := 1500*8/float64(link) + 1e-6 // bulk packet in flight
			n := 0
			for _, d := range m.deps {
				if d.p.cls != 0 {
					continue
				}
				b, k := 0, n%tc.burst+1
				st := starts[n/tc.burst]
				b = k * tc.size
				due := float64(st)/1e9 + curveTime(tc.rt, float64(b)) + slack
				if got := float64(d.t) / 1e9; got > due {
					t.Errorf("burst %d packet %d left at %.6f s, due by %.6f s", n/tc.burst, k, got, due)
				}
				n++
			}
			if n != 2*tc.burst {
				t.Fatalf("%d real-time packets sent, want %d", n, 2*tc.burst)
			}
		})
	}
}

type shareCase struct {
	name    string
	classes []ClassConfig
	greedy  map[string]int     // leaf -> packet size
	want    map[string]float64 // class -> bits/s (leaves only)
}

func runShares(t *testing.T, link uint64, tc shareCase, dur time.Duration) {
	m := newSim(t, link, tc.classes)
	for n, sz := range tc.greedy {
		m.greedy[m.index(n)] = sz
	}
	m.run(nil, int64(dur))
	got := m.bytesBy(0, int64(dur))
	for n, w := range tc.want {
		rate := got[m.index(n)] * 8 / dur.Seconds()
		t.Logf("%s: %.4f Mbit/s (want %.4f)", n, rate/1e6, w/1e6)
		if math.Abs(rate-w) > 0.01*w {
			t.Errorf("%s: %.0f bits/s, want %.0f (±1%%)", n, rate, w)
		}
	}
	// The link is never committed beyond its rate.
	var sum float64
	for _, b := range got {
		sum += b
	}
	if rate := sum * 8 / dur.Seconds(); rate > float64(link)*1.0001 {
		t.Errorf("link carried %.0f bits/s above its %d", rate, link)
	}
}

// Link-sharing splits what is left among saturated siblings in the ratio of
// their curves, through the hierarchy, counting real-time service.
func TestLinkShare(t *testing.T) {
	const link = 10 * mbit
	tests := []shareCase{
		{
			name: "siblings 3:1",
			classes: []ClassConfig{
				{Name: "a", Leaf: true, QLimit: 20, LS: lin(6 * mbit)},
				{Name: "b", Leaf: true, QLimit: 20, LS: lin(2 * mbit)},
			},
			greedy: map[string]int{"a": 1500, "b": 1500},
			want:   map[string]float64{"a": 7.5 * mbit, "b": 2.5 * mbit},
		},
		{
			name: "hierarchy",
			classes: []ClassConfig{
				{Name: "p", LS: lin(6 * mbit)},
				{Name: "p1", Parent: "p", Leaf: true, QLimit: 20, LS: lin(1 * mbit)},
				{Name: "p2", Parent: "p", Leaf: true, QLimit: 20, LS: lin(2 * mbit)},
				{Name: "q", Leaf: true, QLimit: 20, LS: lin(4 * mbit)},
			},
			greedy: map[string]int{"p1": 1000, "p2": 1500, "q": 700},
			want:   map[string]float64{"p1": 2 * mbit, "p2": 4 * mbit, "q": 4 * mbit},
		},
		{
			name: "small and large packets",
			classes: []ClassConfig{
				{Name: "a", Leaf: true, QLimit: 20, LS: lin(5 * mbit)},
				{Name: "b", Leaf: true, QLimit: 20, LS: lin(5 * mbit)},
			},
			greedy: map[string]int{"a": 1500, "b": 64},
			want:   map[string]float64{"a": 5 * mbit, "b": 5 * mbit},
		},
		{
			// b's real-time service counts as link-sharing service: the
			// two end with equal totals, b's 2 Mbit/s guarantee included.
			name: "real-time counts",
			classes: []ClassConfig{
				{Name: "a", Leaf: true, QLimit: 20, LS: lin(1 * mbit)},
				{Name: "b", Leaf: true, QLimit: 20, RT: lin(2 * mbit), LS: lin(1 * mbit)},
			},
			greedy: map[string]int{"a": 1500, "b": 1500},
			want:   map[string]float64{"a": 5 * mbit, "b": 5 * mbit},
		},
		{
			// a guaranteed more than its share: it keeps its guarantee.
			name: "real-time above share",
			classes: []ClassConfig{
				{Name: "a", Leaf: true, QLimit: 20, RT: lin(7 * mbit), LS: lin(1 * mbit)},
				{Name: "b", Leaf: true, QLimit: 20, LS: lin(1 * mbit)},
			},
			greedy: map[string]int{"a": 1000, "b": 1000},
			want:   map[string]float64{"a": 7 * mbit, "b": 3 * mbit},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runShares(t, link, tc, 5*time.Second) })
	}
}

// An upper limit caps link-sharing service even when the link is otherwise
// idle.
func TestUpperLimit(t *testing.T) {
	const link = 10 * mbit
	concave := Curve{M1: 8 * mbit, D: 100 * time.Millisecond, M2: 2 * mbit}
	tests := []shareCase{
		{
			name:    "alone",
			classes: []ClassConfig{{Name: "a", Leaf: true, QLimit: 20, LS: lin(5 * mbit), UL: lin(2 * mbit)}},
			greedy:  map[string]int{"a": 1500},
			want:    map[string]float64{"a": 2 * mbit},
		},
		{
			name: "with a sibling",
			classes: []ClassConfig{
				{Name: "a", Leaf: true, QLimit: 20, LS: lin(5 * mbit), UL: lin(2 * mbit)},
				{Name: "b", Leaf: true, QLimit: 20, LS: lin(5 * mbit)},
			},
			greedy: map[string]int{"a": 1500, "b": 1500},
			want:   map[string]float64{"a": 2 * mbit, "b": 8 * mbit},
		},
		{
			name: "interior limit",
			classes: []ClassConfig{
				{Name: "p", LS: lin(5 * mbit), UL: lin(3 * mbit)},
				{Name: "p1", Parent: "p", Leaf: true, QLimit: 20, LS: lin(1 * mbit)},
				{Name: "p2", Parent: "p", Leaf: true, QLimit: 20, LS: lin(2 * mbit)},
				{Name: "q", Leaf: true, QLimit: 20, LS: lin(5 * mbit), UL: lin(1 * mbit)},
			},
			greedy: map[string]int{"p1": 1500, "p2": 1000, "q": 1500},
			want:   map[string]float64{"p1": 1 * mbit, "p2": 2 * mbit, "q": 1 * mbit},
		},
		{
			name:    "concave limit",
			classes: []ClassConfig{{Name: "a", Leaf: true, QLimit: 20, LS: lin(5 * mbit), UL: &concave}},
			greedy:  map[string]int{"a": 1000},
			want:    map[string]float64{"a": curveBytes(concave, 5) * 8 / 5},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runShares(t, link, tc, 5*time.Second) })
	}
}

// A concave real-time curve gives a small, sparse flow a lower delay than
// a linear curve of the same long-term rate, and than the bulk flow.
func TestConcaveLowersDelay(t *testing.T) {
	const link = 10 * mbit
	delays := func(rt Curve) (small, bulkMean, smallMean float64) {
		m := newSim(t, link, []ClassConfig{
			{Name: "small", Leaf: true, QLimit: 10, RT: &rt},
			{Name: "bulk", Leaf: true, QLimit: 30, RT: lin(5 * mbit), LS: lin(link)},
		})
		m.greedy[1] = 1500
		var arr []arrival
		for t := ms(5); t < ms(2000); t += ms(20) {
			arr = append(arr, arrival{t, 0, 200})
		}
		m.run(arr, ms(2100))
		var n [2]float64
		var sum [2]float64
		for _, d := range m.deps {
			dl := float64(d.t-d.p.arr) / 1e9
			n[d.p.cls]++
			sum[d.p.cls] += dl
			if d.p.cls == 0 {
				small = max(small, dl)
			}
		}
		if n[0] != float64(len(arr)) {
			t.Fatalf("%v small packets sent, want %d", n[0], len(arr))
		}
		return small, sum[1] / n[1], sum[0] / n[0]
	}
	concave := Curve{M1: 4 * mbit, D: 5 * time.Millisecond, M2: 500e3}
	cMax, bulkMean, cMean := delays(concave)
	lMax, _, _ := delays(Curve{M1: 500e3, M2: 500e3})
	inFlight := 1500 * 8 / float64(link)
	if bound := 200*8/4e6 + inFlight + 1e-6; cMax > bound {
		t.Errorf("concave: max delay %.6f s above the bound %.6f s", cMax, bound)
	}
	if cMax >= lMax {
		t.Errorf("concave max delay %.6f s not below linear %.6f s", cMax, lMax)
	}
	if cMean >= bulkMean {
		t.Errorf("small flow mean delay %.6f s not below the bulk flow's %.6f s", cMean, bulkMean)
	}
	t.Logf("small flow max delay: concave %.3f ms, linear %.3f ms; bulk mean %.3f ms", cMax*1e3, lMax*1e3, bulkMean*1e3)
}

func TestDelClassReturnsQueued(t *testing.T) {
	m := newSim(t, 10*mbit, []ClassConfig{
		{Name: "p", LS: lin(5 * mbit)},
		{Name: "a", Parent: "p", Leaf: true, QLimit: 10, RT: lin(1 * mbit), LS: lin(2 * mbit)},
		{Name: "b", Leaf: true, QLimit: 10, LS: lin(2 * mbit)},
	})
	s := m.s
	for i := 0; i < 5; i++ {
		m.offer(1, 100+i, 0)
	}
	for i := 0; i < 3; i++ {
		m.offer(2, 200+i, 0)
	}
	if _, err := s.DelClass("p"); !errors.Is(err, ErrBusy) {
		t.Fatalf("DelClass(p) with a child: %v", err)
	}
	first, ok := s.Dequeue(0) // a is eligible for real time at once
	if !ok || first.cls != 1 || first.size != 100 {
		t.Fatalf("first Dequeue = %+v %v", first, ok)
	}
	got, err := s.DelClass("a")
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, p := range got {
		sizes = append(sizes, p.size)
	}
	if want := []int{101, 102, 103, 104}; !slices.Equal(sizes, want) {
		t.Fatalf("DelClass returned %v, want %v", sizes, want)
	}
	if s.Len() != 3 {
		t.Fatalf("Len = %d after delete, want 3", s.Len())
	}
	if s.Enqueue(m.hs[1], pkt{size: 1}, 0) {
		t.Fatal("Enqueue on a deleted class's handle succeeded")
	}
	if _, err := s.DelClass("p"); err != nil {
		t.Fatalf("DelClass(p) once empty: %v", err)
	}
	// The name is free again, and the old handle stays dead.
	if err := s.AddClass(ClassConfig{Name: "a", Leaf: true, QLimit: 1, LS: lin(1 * mbit)}); err != nil {
		t.Fatal(err)
	}
	if s.Enqueue(m.hs[1], pkt{size: 1}, 0) {
		t.Fatal("stale handle reached the new class")
	}
	var rest []int
	for now := int64(0); s.Len() > 0; now = s.NextEvent(now) {
		for p, ok := s.Dequeue(now); ok; p, ok = s.Dequeue(now) {
			rest = append(rest, p.size)
		}
	}
	if want := []int{200, 201, 202}; !slices.Equal(rest, want) {
		t.Fatalf("remaining items %v, want %v", rest, want)
	}
	if ne := s.NextEvent(ms(100)); ne != -1 {
		t.Fatalf("NextEvent on an empty scheduler = %d", ne)
	}
	st, _ := s.Stats(RootName)
	if st.Total != 100+200+201+202 {
		t.Fatalf("root total %d", st.Total)
	}
}

// dump describes the tree for before/after comparisons.
func dump(s *Sched[pkt]) string {
	var lines []string
	for n, c := range s.byName {
		p := ""
		if c.parent != nil {
			p = c.parent.name
		}
		cs := func(c *Curve) string {
			if c == nil {
				return "-"
			}
			return fmt.Sprint(*c)
		}
		lines = append(lines, fmt.Sprintf("%s<%s q%d/%d leaf=%v rt=%s ls=%s ul=%s kids=%d active=%v",
			n, p, c.n, c.cfg.QLimit, c.leaf, cs(c.cfg.RT), cs(c.cfg.LS), cs(c.cfg.UL), len(c.kids), c.active))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + fmt.Sprintf("\nnpkts=%d nrt=%d", s.npkts, s.nrt)
}

func TestValidation(t *testing.T) {
	const link = 10 * mbit
	base := func(t *testing.T) *Sched[pkt] {
		s, err := New[pkt](link, pktSize)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []ClassConfig{
			{Name: "p", LS: lin(6 * mbit)},
			{Name: "a", Parent: "p", Leaf: true, QLimit: 4, RT: lin(3 * mbit), LS: lin(3 * mbit)},
			{Name: "b", Parent: "p", Leaf: true, QLimit: 4, RT: &Curve{M1: 5 * mbit, D: time.Millisecond, M2: 1 * mbit}, LS: lin(2 * mbit)},
			{Name: "c", Leaf: true, QLimit: 4, LS: lin(4 * mbit)},
		} {
			if err := s.AddClass(c); err != nil {
				t.Fatalf("base tree: %v", err)
			}
		}
		h, _ := s.Lookup("a")
		s.Enqueue(h, pkt{size: 100}, 0)
		s.Enqueue(h, pkt{size: 100}, 0)
		return s
	}
	leaf := func(name, parent string) ClassConfig {
		return ClassConfig{Name: name, Parent: parent, Leaf: true, QLimit: 4, LS: lin(100)}
	}
	with := func(c ClassConfig, f func(*ClassConfig)) ClassConfig { f(&c); return c }
	type op func(s *Sched[pkt]) error
	add := func(c ClassConfig) op { return func(s *Sched[pkt]) error { return s.AddClass(c) } }
	chg := func(c ClassConfig) op { return func(s *Sched[pkt]) error { return s.ChangeClass(c, 0) } }
	del := func(n string) op { return func(s *Sched[pkt]) error { _, err := s.DelClass(n); return err } }
	tests := []struct {
		name string
		op   op
		err  error
		msg  string // part of the message
	}{
		{"unknown parent", add(leaf("x", "nope")), ErrNotFound, `parent "nope"`},
		{"duplicate name", add(leaf("a", "p")), ErrExists, `"a"`},
		{"root name", add(leaf(RootName, "")), ErrExists, "root"},
		{"empty name", add(leaf("", "p")), ErrInvalid, "empty"},
		{"leaf given children", add(leaf("x", "a")), ErrInvalid, "is a leaf"},
		{"interior with a queue", add(ClassConfig{Name: "x", QLimit: 5, LS: lin(100)}), ErrInvalid, "cannot have a queue"},
		{"interior with real-time", add(ClassConfig{Name: "x", RT: lin(100), LS: lin(100)}), ErrInvalid, "real-time"},
		{"interior without link-sharing", add(ClassConfig{Name: "x"}), ErrInvalid, "needs a link-sharing"},
		{"leaf without curves", add(with(leaf("x", ""), func(c *ClassConfig) { c.LS = nil })), ErrInvalid, "needs a real-time or link-sharing"},
		{"leaf without queue", add(with(leaf("x", ""), func(c *ClassConfig) { c.QLimit = 0 })), ErrInvalid, "queue limit"},
		{"upper limit without link-sharing", add(with(leaf("x", ""), func(c *ClassConfig) { c.LS, c.RT, c.UL = nil, lin(100), lin(100) })), ErrInvalid, "upper limit needs"},
		{"zero m2", add(with(leaf("x", ""), func(c *ClassConfig) { c.LS = &Curve{M1: 100, D: 1} })), ErrInvalid, "m2 is 0"},
		{"negative d", add(with(leaf("x", ""), func(c *ClassConfig) { c.LS = &Curve{M1: 100, D: -1, M2: 100} })), ErrInvalid, "negative"},
		{"real-time m2 above link", add(with(leaf("x", ""), func(c *ClassConfig) { c.RT = &Curve{D: time.Second, M2: 6*mbit + 1} })), ErrCapacity, "real-time"},
		{"real-time m1 above link", add(with(leaf("x", ""), func(c *ClassConfig) { c.RT = &Curve{M1: 2*mbit + 1, D: time.Second, M2: 100} })), ErrCapacity, "real-time"},
		{"link-sharing above parent", add(with(leaf("x", "p"), func(c *ClassConfig) { c.LS = lin(1*mbit + 1) })), ErrCapacity, `children of "p"`},
		{"link-sharing above link", add(with(leaf("x", ""), func(c *ClassConfig) { c.LS = lin(4*mbit + 1) })), ErrCapacity, `children of "root"`},
		{"link-sharing burst above parent", add(with(leaf("x", "p"), func(c *ClassConfig) { c.LS = &Curve{M1: 2 * mbit, D: time.Millisecond, M2: 1} })), ErrCapacity, "link-sharing"},
		{"change: parent below children", chg(ClassConfig{Name: "p", LS: lin(4 * mbit)}), ErrCapacity, "its children's"},
		{"change: move", chg(with(leaf("c", "p"), func(c *ClassConfig) { c.LS = lin(1) })), ErrInvalid, "cannot change"},
		{"change: leaf to interior", chg(ClassConfig{Name: "c", LS: lin(100)}), ErrInvalid, "cannot change"},
		{"change: limit below queue", chg(with(leaf("a", "p"), func(c *ClassConfig) { c.QLimit = 1 })), ErrBusy, "queues 2"},
		{"change: unknown", chg(leaf("zz", "")), ErrNotFound, "zz"},
		{"change: root", chg(ClassConfig{Name: RootName, LS: lin(1)}), ErrInvalid, "link rate"},
		{"change: real-time above link", chg(with(leaf("c", ""), func(c *ClassConfig) { c.RT = lin(3 * mbit) })), ErrCapacity, "real-time"},
		{"delete root", del(RootName), ErrInvalid, "root"},
		{"delete with children", del("p"), ErrBusy, "children"},
		{"delete unknown", del("zz"), ErrNotFound, "zz"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := base(t)
			before := dump(s)
			err := tc.op(s)
			if !errors.Is(err, tc.err) || !strings.Contains(fmt.Sprint(err), tc.msg) {
				t.Fatalf("error %v, want %v containing %q", err, tc.err, tc.msg)
			}
			if after := dump(s); after != before {
				t.Fatalf("state changed on error:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
	if _, err := New[pkt](0, pktSize); !errors.Is(err, ErrInvalid) {
		t.Errorf("New with link rate 0: %v", err)
	}
	// The accepted changes: a queue limit above the queue, curves.
	s := base(t)
	if err := s.ChangeClass(ClassConfig{Name: "a", Parent: "p", Leaf: true, QLimit: 2, LS: lin(1 * mbit)}, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.ChangeClass(ClassConfig{Name: "p", LS: lin(3 * mbit), UL: lin(3 * mbit)}, 0); err != nil {
		t.Fatal(err)
	}
	var n int
	for now := int64(0); s.Len() > 0; now = s.NextEvent(now) {
		for _, ok := s.Dequeue(now); ok; _, ok = s.Dequeue(now) {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d items left after changes, want 2", n)
	}
}

// The scheduler paces the link: one item per transmission time, or a
// batch as deep as the link queue allows; NextEvent says when.
func TestLinkPacing(t *testing.T) {
	tests := []struct {
		name  string
		queue time.Duration
		want  []int64 // release times of five 1250-byte items queued at 0
	}{
		// 1250 bytes at 10 Mbit/s take 1 ms.
		{"no queue", 0, []int64{0, ms(1), ms(2), ms(3), ms(4)}},
		{"two items of queue", 2 * time.Millisecond, []int64{0, 0, 0, ms(1), ms(2)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := New[pkt](10*mbit, pktSize)
			s.SetLinkQueue(tc.queue)
			if err := s.AddClass(ClassConfig{Name: "a", Leaf: true, QLimit: 10, LS: lin(10 * mbit)}); err != nil {
				t.Fatal(err)
			}
			h, _ := s.Lookup("a")
			for i := 0; i < 5; i++ {
				s.Enqueue(h, pkt{size: 1250, seq: i}, 0)
			}
			var got []int64
			for now := int64(0); now >= 0; now = s.NextEvent(now) {
				for p, ok := s.Dequeue(now); ok; p, ok = s.Dequeue(now) {
					if p.seq != len(got) {
						t.Fatalf("item %d out of order", p.seq)
					}
					got = append(got, now)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("released at %v, want %v", got, tc.want)
			}
		})
	}
}

// Stats report the real-time and link-sharing state, and a clock that
// goes backwards is taken as the latest time seen.
func TestStatsAndClock(t *testing.T) {
	s, _ := New[pkt](10*mbit, pktSize)
	if err := s.AddClass(ClassConfig{Name: "a", Leaf: true, QLimit: 2, RT: lin(1 * mbit), LS: lin(1 * mbit), UL: lin(2 * mbit)}); err != nil {
		t.Fatal(err)
	}
	h, _ := s.Lookup("a")
	s.Enqueue(h, pkt{size: 125}, ms(10))
	s.Enqueue(h, pkt{size: 125}, ms(5)) // earlier clock: taken as 10 ms
	if s.Enqueue(h, pkt{size: 125}, ms(10)) {
		t.Fatal("Enqueue above the queue limit succeeded")
	}
	st, _ := s.Stats("a")
	// 125 bytes at 1 Mbit/s take 1 ms: the head is due at 11 ms.
	want := Stats{Drops: 1, QLen: 2, QBytes: 250, Active: true, Eligible: ms(10), Deadline: ms(11), Fit: ms(10)}
	if st != want {
		t.Fatalf("Stats = %+v, want %+v", st, want)
	}
	if _, ok := s.Dequeue(ms(10)); !ok {
		t.Fatal("Dequeue refused")
	}
	st, _ = s.Stats("a")
	// Sent by real time: the next is eligible at 11 ms, due at 12 ms;
	// the upper limit (2 Mbit/s) allows more at 10.5 ms.
	want = Stats{Packets: 1, Bytes: 125, Drops: 1, QLen: 1, QBytes: 125, Total: 125, Cumul: 125,
		Active: true, VT: ms(1), Eligible: ms(11), Deadline: ms(12), Fit: ms(10.5)}
	if st != want {
		t.Fatalf("Stats = %+v, want %+v", st, want)
	}
	if _, err := s.Stats("zz"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Stats of an unknown class: %v", err)
	}
}

// A class held below its upper limit by a real-time class does not burst
// above the limit once the link frees up: it keeps at most ulSlack of
// credit.
func TestUpperLimitNoCatchUp(t *testing.T) {
	const link = 10 * mbit
	m := newSim(t, link, []ClassConfig{
		{Name: "r", Leaf: true, QLimit: 5, RT: lin(9 * mbit)},
		{Name: "a", Leaf: true, QLimit: 20, LS: lin(5 * mbit), UL: lin(2 * mbit)},
	})
	m.greedy[1] = 1500
	var arr []arrival
	for t := int64(0); t < ms(1000); t += ms(0.8) {
		arr = append(arr, arrival{t, 0, 1000}) // 10 Mbit/s offered
	}
	m.run(arr, ms(1200))
	busy := m.bytesBy(ms(100), ms(1000))
	if got := busy[1] * 8 / 0.9; math.Abs(got-1*mbit) > 0.02*mbit {
		t.Fatalf("while r is busy a gets %.0f bits/s, want the 1 Mbit/s left", got)
	}
	after := m.bytesBy(ms(1010), ms(1110))
	limit := 2*mbit*0.1/8 + 2*mbit*0.001/8 + 2*1500 // 100 ms, ulSlack of credit, 2 items
	if after[1] > limit {
		t.Fatalf("a sent %.0f bytes in the 100 ms after r stopped, limit %.0f", after[1], limit)
	}
	t.Logf("a: %.0f bytes in 100 ms after r stopped (limit %.0f)", after[1], limit)
}

// A class that becomes backlogged late gets its share from then on, with
// no catch-up burst for the time it was idle.
func TestLinkShareLateJoiner(t *testing.T) {
	const link = 10 * mbit
	m := newSim(t, link, []ClassConfig{
		{Name: "a", Leaf: true, QLimit: 20, LS: lin(5 * mbit)},
		{Name: "b", Leaf: true, QLimit: 20, LS: lin(5 * mbit)},
	})
	m.greedy[0] = 1500
	var arr []arrival
	for t := ms(1000); t < ms(2000); t += ms(0.6) {
		arr = append(arr, arrival{t, 1, 1500}) // 20 Mbit/s offered: b stays backlogged
	}
	m.run(arr, ms(2000))
	for _, w := range []struct{ from, to int64 }{{ms(1000), ms(1050)}, {ms(1050), ms(2000)}} {
		got := m.bytesBy(w.from, w.to)
		if share := got[1] / (got[0] + got[1]); math.Abs(share-0.5) > 0.02 {
			t.Errorf("b's share in [%d, %d) ms: %.3f, want 0.5", w.from/ms(1), w.to/ms(1), share)
		}
	}
}
