package hfsc

import (
	"fmt"
	"testing"
	"time"
)

// benchSched builds a scheduler on a 10 Gbit/s link with n leaves sharing
// it (every fourth also with a small real-time curve, every eighth with an
// upper limit), in groups of up to 32 under interior classes when n > 32,
// each leaf holding two 1000-byte items.
func benchSched(tb testing.TB, n int) (*Sched[pkt], []Handle) {
	const link = 10e9
	s, err := New[pkt](link, pktSize)
	if err != nil {
		tb.Fatal(err)
	}
	groups := 1
	if n > 32 {
		groups = (n + 31) / 32
		for g := 0; g < groups; g++ {
			if err := s.AddClass(ClassConfig{Name: fmt.Sprint("g", g), LS: lin(link / uint64(groups))}); err != nil {
				tb.Fatal(err)
			}
		}
	}
	per := uint64(link / n)
	if groups > 1 {
		per = uint64(link / (32 * groups))
	}
	hs := make([]Handle, n)
	for i := range n {
		cfg := ClassConfig{Name: fmt.Sprint("l", i), Leaf: true, QLimit: 8, LS: lin(per)}
		if groups > 1 {
			cfg.Parent = fmt.Sprint("g", i/32)
		}
		if i%4 == 0 {
			cfg.RT = &Curve{M1: per, D: time.Millisecond, M2: per / 4}
		}
		if i%8 == 0 {
			cfg.UL = lin(per * 2)
		}
		if err := s.AddClass(cfg); err != nil {
			tb.Fatal(err)
		}
		hs[i], _ = s.Lookup(cfg.Name)
		for k := 0; k < 2; k++ {
			s.Enqueue(hs[i], pkt{cls: i, size: 1000}, 0)
		}
	}
	return s, hs
}

// benchStep releases one item (waiting for the link or a curve if need be)
// and queues it again at the next leaf, so leaves drain and refill.
func benchStep(s *Sched[pkt], hs []Handle, now *int64) {
	p, ok := s.Dequeue(*now)
	if !ok {
		*now = s.NextEvent(*now)
		p, ok = s.Dequeue(*now)
		if !ok {
			panic("NextEvent and Dequeue disagree")
		}
	}
	p.cls++
	if p.cls == len(hs) {
		p.cls = 0
	}
	if !s.Enqueue(hs[p.cls], p, *now) {
		// The target leaf is full: put it back where it came from.
		p.cls = (p.cls + len(hs) - 1) % len(hs)
		s.Enqueue(hs[p.cls], p, *now)
	}
}

func BenchmarkEnqueueDequeue(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("leaves=%d", n), func(b *testing.B) {
			s, hs := benchSched(b, n)
			var now int64
			b.ReportAllocs()
			for b.Loop() {
				benchStep(s, hs, &now)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}

func TestNoAllocs(t *testing.T) {
	for _, n := range []int{10, 1000} {
		s, hs := benchSched(t, n)
		var now int64
		for range 10 * n {
			benchStep(s, hs, &now)
		}
		if a := testing.AllocsPerRun(5000, func() { benchStep(s, hs, &now) }); a != 0 {
			t.Errorf("%d leaves: %.2f allocations per enqueue+dequeue", n, a)
		}
	}
}
