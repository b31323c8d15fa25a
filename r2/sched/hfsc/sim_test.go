package hfsc

import (
	"testing"
	"time"
)

// pkt is the item the tests queue.
type pkt struct {
	cls  int   // index into the simulation's classes
	size int   // bytes
	arr  int64 // enqueue time
	seq  int
}

func pktSize(p pkt) int { return p.size }

// arrival is one packet offered to a class at a time.
type arrival struct {
	t    int64
	cls  int
	size int
}

// dep is one packet released by the scheduler.
type dep struct {
	t int64
	p pkt
}

// sim drives a scheduler on a simulated clock: it offers the arrivals in
// time order, keeps each greedy class's queue full (packets of greedy[i]
// bytes, 0 meaning not greedy) until the end, releases packets whenever
// Dequeue allows and jumps to the next arrival or NextEvent. It fails the
// test if NextEvent says "now" and Dequeue refuses.
type sim struct {
	t       testing.TB
	s       *Sched[pkt]
	hs      []Handle
	names   []string
	greedy  []int
	refused []int
	deps    []dep
	seq     int
}

func newSim(t testing.TB, link uint64, cfgs []ClassConfig) *sim {
	t.Helper()
	s, err := New[pkt](link, pktSize)
	if err != nil {
		t.Fatal(err)
	}
	m := &sim{t: t, s: s}
	for _, c := range cfgs {
		if err := s.AddClass(c); err != nil {
			t.Fatalf("AddClass(%s): %v", c.Name, err)
		}
		h, ok := s.Lookup(c.Name)
		if !ok && c.Leaf {
			t.Fatalf("Lookup(%s) failed", c.Name)
		}
		m.hs = append(m.hs, h)
		m.names = append(m.names, c.Name)
	}
	m.greedy = make([]int, len(cfgs))
	m.refused = make([]int, len(cfgs))
	return m
}

func (m *sim) index(name string) int {
	for i, n := range m.names {
		if n == name {
			return i
		}
	}
	m.t.Fatalf("no class %q", name)
	return -1
}

func (m *sim) offer(cls, size int, now int64) bool {
	p := pkt{cls: cls, size: size, arr: now, seq: m.seq}
	if !m.s.Enqueue(m.hs[cls], p, now) {
		m.refused[cls]++
		return false
	}
	m.seq++
	return true
}

// run simulates until the end time (or until everything is sent when the
// end is 0 and no class is greedy).
func (m *sim) run(arr []arrival, end int64) {
	m.t.Helper()
	now, ai := int64(0), 0
	for {
		for ; ai < len(arr) && arr[ai].t <= now; ai++ {
			m.offer(arr[ai].cls, arr[ai].size, now)
		}
		if end == 0 || now < end {
			for i, g := range m.greedy {
				for g > 0 && m.s.Enqueue(m.hs[i], pkt{cls: i, size: g, arr: now, seq: m.seq}, now) {
					m.seq++
				}
			}
		}
		for {
			p, ok := m.s.Dequeue(now)
			if !ok {
				break
			}
			m.deps = append(m.deps, dep{now, p})
		}
		next := m.s.NextEvent(now)
		if next == now {
			m.t.Fatalf("at %d: NextEvent says now but Dequeue refuses (%d queued)", now, m.s.Len())
		}
		if next < 0 {
			next = inf
		}
		if ai < len(arr) && arr[ai].t < next {
			next = arr[ai].t
		}
		if next == inf || (end > 0 && next > end) {
			return
		}
		if next < now {
			m.t.Fatalf("at %d: next event %d in the past", now, next)
		}
		now = next
	}
}

// bytesBy sums the bytes each class sent in [from, to).
func (m *sim) bytesBy(from, to int64) []float64 {
	b := make([]float64, len(m.names))
	for _, d := range m.deps {
		if d.t >= from && d.t < to {
			b[d.p.cls] += float64(d.p.size)
		}
	}
	return b
}

func ms(n float64) int64 { return int64(n * float64(time.Millisecond)) }
