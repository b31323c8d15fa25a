package graph

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/r2go/r2/r2/names"
)

// splitter pushes a packet whose first byte is b to next index b%3: 0 is
// Drop, 1 "B", 2 a node that is not in the graph (so Drop as well).
type splitter struct{ NoControl }

func (splitter) Name() string         { return "S" }
func (splitter) NextNames() []string  { return []string{names.Drop, "B", "Missing"} }
func (splitter) Clone(*CloneCtx) Node { return splitter{} }
func (splitter) Dispatch(d *Dispatch) {
	for p := d.Pop(); p != nil; p = d.Pop() {
		d.Push(int(p.Data()[0])%3, p)
	}
}

var _ Node = splitter{}

func TestEdgeCountsAndRuntime(t *testing.T) {
	g, reg := newTestGraph(t, 64)
	obs := &Obs{}
	g.ctx.Obs = obs
	b := &sink{name: "B", size: 256}
	g.Add(splitter{})
	g.Add(b)
	g.Finalize()
	h, err := NewCapture(CaptureSpec{Node: "B", From: "S"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	obs.AddCapture(h)
	obs.SetRuntime(true)
	g.Finalize() // the thread applies the capture
	for i := 0; i < 9; i++ {
		inject(t, g, "S", byte(i))
	}
	g.Run()
	var s NodeInfo
	for _, n := range g.Snapshot() {
		if n.Name == "S" {
			s = n
		}
	}
	want := []EdgeInfo{{To: "Drop", Pkts: 6}, {To: "B", Pkts: 3}, {To: "Drop", Pkts: 0}}
	if diff := cmp.Diff(want, s.Edges); diff != "" {
		t.Errorf("S's edges (-want +got):\n%s", diff)
	}
	if s.Enq != 9 {
		t.Errorf("S enq %d", s.Enq)
	}
	recs, matched, lost := h.Read(100, 1<<20)
	if len(recs) != 3 || matched != 3 || lost != 0 || recs[0].Data[14] != 1 || recs[2].Data[14] != 7 {
		t.Errorf("capture: %d records %d matched %d lost: %+v", len(recs), matched, lost, recs)
	}
	es := reg.Snapshot()
	for _, c := range []struct {
		name string
		want uint64
	}{{"S/rt_pkts", 9}, {"S/rt_calls", 1}, {"B/rt_pkts", 3}, {"B/rt_calls", 1}} {
		for _, e := range es {
			if e.Name == c.name && e.Values[0] != c.want {
				t.Errorf("%s = %d, want %d", c.name, e.Values[0], c.want)
			}
		}
	}
	for _, p := range b.got {
		g.pool.Free(p)
	}
}

// TestCaptureDrops checks that a capture on Drop sees what a node drops
// with Dispatch.Drop as well as what it pushes to Drop.
func TestCaptureDrops(t *testing.T) {
	g, _ := newTestGraph(t, 64)
	obs := &Obs{}
	g.ctx.Obs = obs
	g.Add((&fwdNode{name: "A", next: "Nowhere"}).Clone(&g.ctx))
	c, _ := NewCapture(CaptureSpec{Node: names.Drop, From: "A"}, 1)
	obs.AddCapture(c)
	g.Finalize()
	inject(t, g, "A", 0xFF) // dropped with Dispatch.Drop
	inject(t, g, "A", 1)    // pushed to an edge that leads to Drop
	g.Run()
	recs, _, _ := c.Read(10, 1<<20)
	if len(recs) != 2 || recs[0].Data[14] != 0xFF || recs[1].Data[14] != 1 {
		t.Errorf("captured %+v", recs)
	}
}
