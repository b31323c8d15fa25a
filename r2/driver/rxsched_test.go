package driver

import (
	"testing"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/packet"
)

// fakeRings holds a count of waiting frames per ring.
type fakeRings struct{ pending []int }

func (f *fakeRings) RecvRing(i int, pool *packet.Pool, pkts []*packet.Packet) int {
	n := 0
	for n < len(pkts) && f.pending[i] > 0 {
		p := pool.Get()
		if p == nil {
			break
		}
		pkts[n] = p
		n++
		f.pending[i]--
	}
	return n
}

func (f *fakeRings) RingPending(i int) bool { return f.pending[i] > 0 }

// With ring counters set, every frame Recv takes is counted in its ring's
// counter, light rings' first visits included; counters of the wrong
// number, an invalid one, or a single ring are not used.
func TestRxSchedRingCounters(t *testing.T) {
	reg, err := counters.NewMem(counters.Sizes{Entries: 8, Names: 1024, Values: 8})
	if err != nil {
		t.Fatal(err)
	}
	a := OpenArgs{Registry: reg, Node: "IfNode:eth0"}
	cs := a.RxRingCounters(3)
	if len(cs) != 3 {
		t.Fatalf("RxRingCounters(3) gave %d counters", len(cs))
	}
	if a.RxRingCounters(1) != nil || (OpenArgs{}).RxRingCounters(3) != nil {
		t.Error("counters for one ring, or without a registry")
	}
	s := NewRxSched(3)
	s.SetRingCounters(cs)
	pool := packet.NewPool(0, 1024)
	rings := &fakeRings{pending: []int{500, 3, 0}}
	pkts := make([]*packet.Packet, 64)
	total := 0
	for range 20 {
		n := s.Recv(rings, pool, pkts)
		total += n
		for _, p := range pkts[:n] {
			pool.Free(p)
		}
		if n == 0 {
			break
		}
	}
	if total != 503 {
		t.Fatalf("took %d frames, want 503", total)
	}
	for i, want := range []uint64{500, 3, 0} {
		if got := cs[i].Value(); got != want {
			t.Errorf("ring %d counted %d frames, want %d", i, got, want)
		}
	}
	found := false
	for _, e := range reg.Snapshot() {
		if e.Name == "IfNode:eth0/drv_rx_ring1" {
			found = true
			if len(e.Values) != 1 || e.Values[0] != 3 {
				t.Errorf("%s = %v in the registry, want [3]", e.Name, e.Values)
			}
		}
	}
	if !found {
		t.Error("no IfNode:eth0/drv_rx_ring1 in the registry")
	}

	// Not used: too few counters, an invalid one, one ring.
	for _, tc := range []struct {
		name  string
		rings int
		cs    []counters.Counter
	}{
		{"two counters for three rings", 3, cs[:2]},
		{"an invalid counter", 3, []counters.Counter{cs[0], {}, cs[2]}},
		{"one ring", 1, cs[:1]},
	} {
		before := cs[0].Value()
		s := NewRxSched(tc.rings)
		s.SetRingCounters(tc.cs)
		rings := &fakeRings{pending: make([]int, tc.rings)}
		rings.pending[0] = 10
		n := s.Recv(rings, pool, pkts)
		for _, p := range pkts[:n] {
			pool.Free(p)
		}
		if n != 10 || cs[0].Value() != before {
			t.Errorf("%s: took %d (want 10), ring 0's counter %d -> %d", tc.name, n, before, cs[0].Value())
		}
	}
	if a := testing.AllocsPerRun(100, func() {
		rings.pending[0], rings.pending[1] = 64, 1
		n := s.Recv(rings, pool, pkts)
		for _, p := range pkts[:n] {
			pool.Free(p)
		}
	}); a != 0 {
		t.Errorf("Recv with ring counters allocates %.1f", a)
	}
}
