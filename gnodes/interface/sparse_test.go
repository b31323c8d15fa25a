package ifnode_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	ifnode "github.com/r2go/r2/gnodes/interface"
	"github.com/r2go/r2/r2/graph"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

// tagged is a test frame: its number, and the receive queue and sparse
// mark its packet carries.
type tagged struct {
	n      int
	ifidx  int32
	queue  uint32
	sparse bool
}

func (f tagged) packet(h *gt.Harness) *packet.Packet {
	p := h.Frame(frame(f.n))
	p.InIfindex = f.ifidx
	p.Meta = f.queue << packet.MetaRxQueueShift
	if f.sparse {
		p.Meta |= packet.MetaSparse
	}
	return p
}

// sentOrder runs eth0's IfNode (mem driver) on frames and returns the
// numbers of the frames the driver sent, in order.
func sentOrder(t *testing.T, frames []tagged) ([]int, *gt.Harness) {
	t.Helper()
	h := gt.New(t, gt.Options{})
	drv := newDriver(t, 8)
	gt.Add(h, ifnode.New(7, "eth0", 0, drv, &waker{}))
	h.Sink(dname)
	for _, f := range frames {
		h.Inject(iname, f.packet(h))
	}
	h.RunUntilIdle()
	byFrame := map[string]int{}
	for _, f := range frames {
		byFrame[string(frame(f.n))] = f.n
	}
	var out []int
	for _, b := range drv.Frames() {
		n, ok := byFrame[string(b)]
		if !ok {
			t.Fatalf("driver sent an unknown frame %q", b)
		}
		out = append(out, n)
	}
	if len(out) != len(frames) {
		t.Fatalf("driver sent %d frames, want %d", len(out), len(frames))
	}
	return out, h
}

// Sparse flows' packets go first, unless a packet of their own receive
// queue is ahead of them; everything else keeps its order.
func TestTxSparseFirst(t *testing.T) {
	var frames []tagged
	for i := range 10 {
		frames = append(frames, tagged{n: i, ifidx: 3}) // a flood, queue 0
	}
	frames = append(frames,
		tagged{n: 10, ifidx: 3, queue: 1, sparse: true}, // a ping: first
		tagged{n: 11, ifidx: 3, sparse: true},           // queue 0 is ahead: stays
		tagged{n: 12, ifidx: 4, queue: 1, sparse: true}, // another interface's queue 1: first
		tagged{n: 13, ifidx: 3, queue: 1, sparse: true}, // behind 10 in its queue, ahead of the rest
	)
	got, h := sentOrder(t, frames)
	want := []int{10, 12, 13, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sent %v, want %v", got, want)
	}
	if n := h.Counter(iname + "/tx_sparse"); n != 3 {
		t.Errorf("tx_sparse %d, want 3", n)
	}
	h.Done()
}

// Random mixes of queues and sparse marks: every queue's packets leave in
// the order they came (so every flow's), and a sparse packet with no
// packet of its queue ahead of it leaves before every packet that is not.
func TestTxSparseKeepsQueueOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		n := 1 + rng.IntN(300)
		frames := make([]tagged, n)
		for i := range frames {
			frames[i] = tagged{n: i, ifidx: int32(1 + rng.IntN(3)), queue: uint32(rng.IntN(4)), sparse: rng.IntN(4) == 0}
		}
		got, h := sentOrder(t, frames)
		key := func(f tagged) [2]int { return [2]int{int(f.ifidx), int(f.queue)} }
		last := map[[2]int]int{}
		ahead := map[[2]int]bool{} // queues with a packet seen so far
		eligible := map[int]bool{}
		for _, f := range frames {
			k := key(f)
			if f.sparse && !ahead[k] {
				eligible[f.n] = true
				continue
			}
			ahead[k] = true
		}
		lastEligible, firstOther := -1, len(got)
		for pos, i := range got {
			k := key(frames[i])
			if p, ok := last[k]; ok && p > i {
				t.Fatalf("round %d: frame %d of queue %v after frame %d: reordered (%v)", round, i, k, p, got)
			}
			last[k] = i
			if eligible[i] {
				lastEligible = pos
			} else if pos < firstOther {
				firstOther = pos
			}
		}
		// A hash collision of two queues may keep an eligible packet in
		// order: allowed, never the other way round.
		if lastEligible > firstOther {
			collide := false
			for _, f := range frames {
				for _, g := range frames {
					if key(f) != key(g) && (uint32(f.ifidx)*131+f.queue)&63 == (uint32(g.ifidx)*131+g.queue)&63 {
						collide = true
					}
				}
			}
			if !collide {
				t.Fatalf("round %d: an eligible sparse packet at %d after another at %d: %v", round, lastEligible, firstOther, got)
			}
		}
		h.Done()
	}
}

// waitNode is an input that says a light flow's frame waits when waiting.
type waitNode struct {
	graph.NoControl
	waiting bool
}

func (w *waitNode) Name() string                     { return "Waiter" }
func (w *waitNode) NextNames() []string              { return []string{names.Drop} }
func (w *waitNode) Clone(*graph.CloneCtx) graph.Node { return w }
func (w *waitNode) Rank() int                        { return graph.RankInput }
func (w *waitNode) Dispatch(*graph.Dispatch)         {}
func (w *waitNode) Waiting() bool                    { return w.waiting }

// A long vector goes out in parts; when an input has a light flow's frame
// waiting, transmit stops after the part, keeps the rest for the next run
// and counts a yield; the rest then leaves in order.
func TestTxYield(t *testing.T) {
	h := gt.New(t, gt.Options{})
	drv := newDriver(t, 8)
	gt.Add(h, ifnode.New(7, "eth0", 0, drv, &waker{}))
	w := &waitNode{waiting: true}
	h.AddRaw(w)
	h.Sink(dname)
	const n = 100
	for i := range n {
		h.Inject(iname, h.Frame(frame(i)))
	}
	// The harness's source queues the frames in the first run; the
	// IfNode sends from the second.
	var first [][]byte
	for run := 0; run < 3 && len(first) == 0; run++ {
		h.Run()
		first = drv.Frames()
	}
	if len(first) != 64 {
		t.Fatalf("first run sent %d frames, want one part of 64 (an input waits)", len(first))
	}
	if y := h.Counter(iname + "/tx_yields"); y != 1 {
		t.Errorf("tx_yields %d, want 1", y)
	}
	w.waiting = false
	h.RunUntilIdle()
	all := append(first, drv.Frames()...)
	if len(all) != n {
		t.Fatalf("sent %d frames in all, want %d", len(all), n)
	}
	for i, b := range all {
		if !bytes.Equal(b, frame(i)) {
			t.Fatalf("frame %d sent as %q: out of order", i, b)
		}
	}
	if y := h.Counter(iname + "/tx_yields"); y != 1 {
		t.Errorf("tx_yields %d, want 1", y)
	}
	h.Done()
}
