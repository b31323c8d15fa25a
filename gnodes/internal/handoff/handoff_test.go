package handoff_test

import (
	"testing"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/gnodes/internal/handoff"
	"github.com/r2go/r2/r2/graph"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
	"github.com/r2go/r2/r2/ring"
)

const name = "HandoffTest"

// sender is a node that hands everything it gets to q.
type sender struct {
	graph.NoControl
	q          *ring.MPSC[*packet.Packet]
	wake       handoff.Waker
	sent, full counters.Counter
}

func (s *sender) Name() string        { return name }
func (s *sender) NextNames() []string { return []string{names.Drop} }
func (s *sender) Clone(c *graph.CloneCtx) graph.Node {
	x := *s
	x.sent, x.full = c.Counter(name, "handoff"), c.Counter(name, "handoff_full")
	return &x
}
func (s *sender) Dispatch(d *graph.Dispatch) { handoff.Send(d, s.q, s.wake, s.sent, s.full) }

type waker struct{ n int }

func (w *waker) Wake() { w.n++ }

func setup(t testing.TB, size int, w handoff.Waker) (*gt.Harness, *ring.MPSC[*packet.Packet]) {
	h := gt.New(t, gt.Options{Thread: 1})
	q := ring.NewMPSC[*packet.Packet](size)
	gt.Add(h, &sender{q: q, wake: w})
	return h, q
}

func drain(h *gt.Harness, q *ring.MPSC[*packet.Packet]) int {
	k := 0
	for p, ok := q.Dequeue(); ok; p, ok = q.Dequeue() {
		h.Free(p)
		k++
	}
	return k
}

// TestSend: packets go to the ring in order, a full ring drops and
// counts, and the owner is woken once per run that handed something over.
func TestSend(t *testing.T) {
	w := &waker{}
	h, q := setup(t, 4, w)
	var in []*packet.Packet
	for i := range 6 {
		in = append(in, h.Frame([]byte{byte(i)}))
	}
	h.Inject(name, in...)
	h.RunUntilIdle()
	if w.n != 1 {
		t.Errorf("woken %d times, want 1", w.n)
	}
	for i := range 4 {
		p, ok := q.Dequeue()
		if !ok || p.Data()[0] != byte(i) {
			t.Fatalf("ring entry %d: %v %v, want frame %d", i, p, ok, i)
		}
		h.Free(p)
	}
	h.ExpectCounters(map[string]uint64{name + "/enq": 6, name + "/handoff": 4, name + "/handoff_full": 2})

	// A full ring takes nothing: no wake for a run that handed nothing.
	for range 4 {
		h.Inject(name, h.Frame([]byte{9}))
	}
	h.RunUntilIdle()
	h.Inject(name, h.Frame([]byte{9}))
	h.RunUntilIdle()
	if w.n != 2 {
		t.Errorf("woken %d times, want 2 (the last run found the ring full)", w.n)
	}
	h.ExpectCounters(map[string]uint64{name + "/enq": 11, name + "/handoff": 8, name + "/handoff_full": 3})
	drain(h, q)
	h.Done()
}

// TestSendNilWaker: without a waker (tests with no threads) Send still
// hands over.
func TestSendNilWaker(t *testing.T) {
	h, q := setup(t, 4, nil)
	h.Inject(name, h.Frame([]byte{1}))
	h.RunUntilIdle()
	if k := drain(h, q); k != 1 {
		t.Errorf("%d packets handed over, want 1", k)
	}
	h.Done()
}

// TestZeroAllocs: handing a vector over allocates nothing.
func TestZeroAllocs(t *testing.T) {
	w := &waker{}
	h, q := setup(t, 64, w)
	frame := make([]byte, 60)
	run := func() {
		for range 32 {
			h.Inject(name, h.Frame(frame))
		}
		h.Run()
		h.Run()
		drain(h, q)
	}
	run()
	if a := testing.AllocsPerRun(200, run); a != 0 {
		t.Errorf("%v allocations per run, want 0", a)
	}
	if got := h.Counter(name + "/handoff"); got != 202*32 { // run, AllocsPerRun's warm-up, 200 runs
		t.Errorf("handoff = %d, want %d", got, 202*32)
	}
	h.Done()
}
