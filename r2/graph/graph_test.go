package graph

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

// fwdNode pushes every packet to its single next node (or drops packets
// whose first byte is 0xFF, counted).
type fwdNode struct {
	name, next string
	bad        counters.Counter
	seen       int
	msgs       int
	wake       int64
	NoControl
}

func (n *fwdNode) Name() string        { return n.name }
func (n *fwdNode) NextNames() []string { return []string{names.Drop, n.next} }
func (n *fwdNode) Clone(c *CloneCtx) Node {
	return &fwdNode{name: n.name, next: n.next, bad: c.Counter(n.name, "bad"), wake: n.wake}
}
func (n *fwdNode) Dispatch(d *Dispatch) {
	if n.wake > 0 {
		d.WakeIn(n.wake)
	}
	for p := d.Pop(); p != nil; p = d.Pop() {
		n.seen++
		if p.Data()[0] == 0xFF {
			d.Drop(p, n.bad)
			continue
		}
		d.Push(1, p)
	}
}
func (n *fwdNode) Control(m msg.Msg) { n.msgs++ }

// sink keeps packets it receives until the test frees them.
type sink struct {
	NoControl
	name string
	got  []*packet.Packet
	size int
}

func (s *sink) Name() string         { return s.name }
func (s *sink) NextNames() []string  { return []string{names.Drop} }
func (s *sink) Clone(*CloneCtx) Node { return &sink{name: s.name, size: s.size} }
func (s *sink) VecSize() int         { return s.size }
func (s *sink) Dispatch(d *Dispatch) {
	for p := d.Pop(); p != nil; p = d.Pop() {
		s.got = append(s.got, p)
	}
}

func newTestGraph(t *testing.T, poolSize int) (*Graph, *counters.Registry) {
	t.Helper()
	reg, err := counters.NewMem(counters.Sizes{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	return New(CloneCtx{Thread: 0, Counters: reg}, packet.NewPool(0, poolSize)), reg
}

func inject(t *testing.T, g *Graph, name string, b byte) {
	t.Helper()
	s := g.byName[name]
	p := g.pool.Get()
	if p == nil {
		t.Fatal("pool empty")
	}
	p.SetData([]byte{b})
	g.disp.s = s
	// Enter through a fake edge so the enq counter is exercised.
	s.vec.pkts[s.vec.tail&s.vec.mask] = p
	s.vec.tail++
}

func value(reg *counters.Registry, name string) uint64 {
	v, _ := counters.Value(reg.Snapshot(), name)
	return v
}

func TestPathAndCounters(t *testing.T) {
	g, reg := newTestGraph(t, 64)
	a := &fwdNode{name: "A", next: "B"}
	out := &sink{name: "B", size: 8}
	if err := g.Add(a.Clone(&g.ctx)); err != nil {
		t.Fatal(err)
	}
	g.Add(out)
	if err := g.Add(out); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate add: %v", err)
	}
	g.Finalize()
	for _, b := range []byte{1, 2, 0xFF, 3} {
		inject(t, g, "A", b)
	}
	if work, _ := g.Run(); work {
		t.Fatal("work pending after one run of a two-node chain")
	}
	if len(out.got) != 3 {
		t.Fatalf("sink got %d packets, want 3", len(out.got))
	}
	if v := value(reg, "A/bad"); v != 1 {
		t.Fatalf("A/bad = %d", v)
	}
	if v := value(reg, "B/enq"); v != 3 {
		t.Fatalf("B/enq = %d", v)
	}
	for _, p := range out.got {
		g.pool.Free(p)
	}
	if s := g.pool.Stats(); s.InFlight != 0 {
		t.Fatalf("leak: %+v", s)
	}
}

func TestFullVectorDropsAndCounts(t *testing.T) {
	g, reg := newTestGraph(t, 64)
	g.Add(&fwdNode{name: "A", next: "B"})
	out := &sink{name: "B", size: 4}
	g.Add(out)
	g.Finalize()
	out.size = 0
	for i := 0; i < 10; i++ {
		inject(t, g, "A", 1)
	}
	// B runs after A in the same Run, so it absorbs 4 and the other 6 hit
	// a full vector.
	g.Run()
	if len(out.got) != 4 || value(reg, "B/vec_full") != 6 {
		t.Fatalf("sink got %d, vec_full %d", len(out.got), value(reg, "B/vec_full"))
	}
	for _, p := range out.got {
		g.pool.Free(p)
	}
	if s := g.pool.Stats(); s.InFlight != 0 {
		t.Fatalf("leak: %+v", s)
	}
}

func TestUnresolvedAndRemovedNodesDrop(t *testing.T) {
	g, reg := newTestGraph(t, 64)
	g.Add(&fwdNode{name: "A", next: "B"})
	g.Add(&fwdNode{name: "B", next: "nowhere"})
	g.Finalize()
	inject(t, g, "A", 1)
	inject(t, g, "B", 1)
	g.Run()
	if v := value(reg, "Drop/pkts"); v != 2 {
		t.Fatalf("Drop/pkts = %d, want 2 (both reach B, whose next is absent)", v)
	}
	// Packets sitting in B's vector when it is removed are freed and counted.
	inject(t, g, "B", 1)
	inject(t, g, "B", 1)
	if !g.Remove("B") || g.Remove("B") {
		t.Fatal("Remove result wrong")
	}
	if v := value(reg, "Drop/removed_node"); v != 2 {
		t.Fatalf("removed_node = %d", v)
	}
	if _, ok := counters.Value(reg.Snapshot(), "B/enq"); ok {
		t.Fatal("B's counters still live after removal")
	}
	// A now pushes to a name that is gone: dropped, nothing breaks.
	inject(t, g, "A", 1)
	g.Run()
	if v := value(reg, "Drop/pkts"); v != 3 {
		t.Fatalf("Drop/pkts = %d after removal, want 3", v)
	}
	if s := g.pool.Stats(); s.InFlight != 0 {
		t.Fatalf("leak: %+v", s)
	}
	// Re-adding under the same name works and is wired at Finalize.
	out := &sink{name: "B", size: 8}
	g.Add(out)
	inject(t, g, "A", 1)
	g.Run()
	if len(out.got) != 1 {
		t.Fatalf("re-added node got %d packets", len(out.got))
	}
	g.pool.Free(out.got[0])
}

func TestCloneIsIndependent(t *testing.T) {
	g, reg := newTestGraph(t, 16)
	g.Add(&fwdNode{name: "A", next: "B"})
	g.Add(&sink{name: "B", size: 8})
	g.Finalize()
	c := g.Clone(CloneCtx{Thread: 1, Counters: reg}, packet.NewPool(1, 16))
	if c.Node("A") == g.Node("A") || c.Thread() != 1 {
		t.Fatal("clone shares node instances")
	}
	inject(t, c, "A", 0xFF)
	c.Run()
	es := reg.Snapshot()
	for _, e := range es {
		if e.Name == "A/bad" && e.Thread == 1 && e.Values[0] != 1 {
			t.Fatalf("thread 1 A/bad = %d", e.Values[0])
		}
		if e.Name == "A/bad" && e.Thread == 0 && e.Values[0] != 0 {
			t.Fatal("thread 0 counter written by thread 1's clone")
		}
	}
	c.Control(msg.Store{})
	if c.Node("A").(*fwdNode).msgs != 1 || g.Node("A").(*fwdNode).msgs != 0 {
		t.Fatal("control message not delivered to the clone only")
	}
}

func TestRunReportsWake(t *testing.T) {
	g, _ := newTestGraph(t, 4)
	g.Add(&fwdNode{name: "A", next: "B", wake: 5000})
	g.Add(&fwdNode{name: "C", next: "B", wake: 700})
	g.Finalize()
	if work, wake := g.Run(); work || wake != 700 {
		t.Fatalf("Run = %v, %d; want false, 700", work, wake)
	}
}

func BenchmarkPushPop(b *testing.B) {
	reg, _ := counters.NewMem(counters.Sizes{})
	defer reg.Close()
	g := New(CloneCtx{Counters: reg}, packet.NewPool(0, 512))
	g.Add(&fwdNode{name: "A", next: "B"})
	g.Add(&fwdNode{name: "B", next: "A"})
	g.Finalize()
	s := g.byName["A"]
	for i := 0; i < VecSize; i++ {
		p := g.pool.Get()
		p.SetData([]byte{1})
		s.vec.pkts[s.vec.tail&s.vec.mask] = p
		s.vec.tail++
	}
	b.ReportAllocs()
	for b.Loop() {
		g.Run()
	}
	// Each run moves every packet through two nodes.
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N*VecSize), "ns/hop")
}

// greedyInput takes as much as the admission budget allows every run, like
// an interface under a flood.
type greedyInput struct {
	NoControl
	name  string
	taken int
	runs  int
}

func (n *greedyInput) Name() string         { return n.name }
func (n *greedyInput) NextNames() []string  { return []string{names.Drop} }
func (n *greedyInput) Clone(*CloneCtx) Node { return &greedyInput{name: n.name} }
func (n *greedyInput) Rank() int            { return RankInput }
func (n *greedyInput) Dispatch(d *Dispatch) {
	n.runs++
	if b := d.Budget(); b > 0 {
		d.Admitted(b)
		n.taken += b
	}
}

// Two flooded inputs share the admission budget: neither starves.
func TestInputsShareAdmission(t *testing.T) {
	g, _ := newTestGraph(t, 4)
	a := &greedyInput{name: "A"}
	b := &greedyInput{name: "B"}
	g.Add(a)
	g.Add(b)
	g.Add(&fwdNode{name: "X", next: "Y"}) // an ordinary node after them
	g.Finalize()
	for i := 0; i < 100; i++ {
		g.Run()
	}
	if a.taken == 0 || b.taken == 0 || a.taken != b.taken {
		t.Fatalf("admission split A %d, B %d; want equal shares", a.taken, b.taken)
	}
	if a.runs != 100 || b.runs != 100 {
		t.Fatalf("runs A %d, B %d", a.runs, b.runs)
	}
}

// lightInput receives at most one packet a run, like an interface carrying
// a ping beside a flooded one; got counts the runs in which it could.
type lightInput struct {
	greedyInput
	got int
}

func (n *lightInput) Clone(*CloneCtx) Node {
	return &lightInput{greedyInput: greedyInput{name: n.name}}
}
func (n *lightInput) Dispatch(d *Dispatch) {
	n.runs++
	if d.Budget() > 0 {
		d.Admitted(1)
		n.got++
	}
}

// A flooded input leaves the inputs after it their reserve: a light input
// is served in every run, whichever receives first, and the flooded one
// still takes all but the reserve.
func TestInputReserve(t *testing.T) {
	g, _ := newTestGraph(t, 4)
	a := &greedyInput{name: "A"}
	b := &lightInput{greedyInput: greedyInput{name: "B"}}
	g.Add(a)
	g.Add(b)
	g.Finalize()
	const runs = 100
	for range runs {
		g.Run()
	}
	if b.got != runs {
		t.Errorf("light input served in %d of %d runs", b.got, runs)
	}
	// Half the runs A goes first and leaves 32, half it takes what B left.
	if want := runs/2*(VecSize-32) + runs/2*(VecSize-1); a.taken != want {
		t.Errorf("flooded input took %d, want %d", a.taken, want)
	}
}

// sendLog records the order of Send and Dispatch calls of sendInputs.
type sendLog []string

// sendInput is an input that is a Sender: it pops its whole vector in Send
// and logs both calls.
type sendInput struct {
	greedyInput // name, edges and rank
	log         *sendLog
}

func (n *sendInput) Clone(*CloneCtx) Node {
	return &sendInput{greedyInput: greedyInput{name: n.name}, log: n.log}
}
func (n *sendInput) Send(d *Dispatch) {
	k := 0
	for p := d.Pop(); p != nil; p = d.Pop() {
		d.Free(p)
		k++
	}
	*n.log = append(*n.log, fmt.Sprintf("send %s %d", n.name, k))
}
func (n *sendInput) Dispatch(d *Dispatch) {
	*n.log = append(*n.log, "recv "+n.name)
}

// Every Sender sends before any input receives, the one with the fewest
// packets waiting first, whatever the receive rotation.
func TestSendPhase(t *testing.T) {
	var log sendLog
	g, _ := newTestGraph(t, 16)
	for _, name := range []string{"A", "B", "C"} {
		g.Add(&sendInput{greedyInput: greedyInput{name: name}, log: &log})
	}
	g.Finalize()
	for run, waiting := range [][3]int{{3, 1, 2}, {0, 2, 1}, {1, 1, 0}} {
		for i, name := range []string{"A", "B", "C"} {
			for range waiting[i] {
				inject(t, g, name, byte(i))
			}
		}
		log = log[:0]
		g.Run()
		want := map[int][]string{
			0: {"send B 1", "send C 2", "send A 3"},
			1: {"send A 0", "send C 1", "send B 2"},
			2: {"send C 0", "send A 1", "send B 1"},
		}[run]
		if !slices.Equal(log[:3], want) {
			t.Errorf("run %d: %q, want the sends %q first, fewest waiting first", run, log, want)
		}
		for _, e := range log[3:] {
			if !strings.HasPrefix(e, "recv ") {
				t.Errorf("run %d: %q after the sends: want receives only", run, e)
			}
		}
		if len(log) != 6 {
			t.Errorf("run %d: %d calls (%q), want 3 sends and 3 receives", run, len(log), log)
		}
	}
}

// SetAdmission caps what the inputs take in per run, and the reserve
// scales with it; a clone keeps the cap.
func TestSetAdmission(t *testing.T) {
	g, _ := newTestGraph(t, 4)
	a := &greedyInput{name: "A"}
	b := &lightInput{greedyInput: greedyInput{name: "B"}}
	g.Add(a)
	g.Add(b)
	g.SetAdmission(64)
	g.Finalize()
	const runs = 10
	for range runs {
		g.Run()
	}
	// A leaves B 32 (64/2) when first, and takes 63 when second.
	if want := runs/2*(64-32) + runs/2*(64-1); a.taken != want || b.got != runs {
		t.Errorf("admission 64: A took %d (want %d), B served in %d of %d runs", a.taken, want, b.got, runs)
	}
	c := g.Clone(CloneCtx{Thread: 1, Counters: g.ctx.Counters}, packet.NewPool(1, 4))
	ca := c.Node("A").(*greedyInput)
	for range runs {
		c.Run()
	}
	if ca.taken > runs*64 || ca.taken == 0 {
		t.Errorf("clone: A took %d in %d runs, want at most 64 a run", ca.taken, runs)
	}
	g.SetAdmission(0)
	a.taken = 0
	g.Run()
	g.Run()
	if a.taken != (VecSize-32)+(VecSize-1) {
		t.Errorf("admission back to %d: A took %d in two runs", VecSize, a.taken)
	}
}

// partSender sends at most part packets of its vector per run and, when
// an input has a light flow's frame waiting (Dispatch.Waiting), puts the
// rest back, as IfNode does; its receive records the budget it is offered.
type partSender struct {
	greedyInput
	part   int
	sent   []byte
	budget int
}

func (n *partSender) Clone(*CloneCtx) Node {
	return &partSender{greedyInput: n.greedyInput, part: n.part}
}
func (n *partSender) VecSize() int { return IfVecSize } // not an ordinary vector, as IfNode's
func (n *partSender) Send(d *Dispatch) {
	var took []*packet.Packet
	for p := d.Pop(); p != nil; p = d.Pop() {
		took = append(took, p)
	}
	for i, p := range took {
		if i == n.part && d.Waiting() {
			d.PutBack(took[i:])
			return
		}
		n.sent = append(n.sent, p.Data()[0])
		d.Free(p)
	}
}
func (n *partSender) Dispatch(d *Dispatch) { n.budget = d.Budget() + d.after*d.g.reserve }

// waitInput is an input whose Waiting says what waiting holds.
type waitInput struct {
	greedyInput
	waiting bool
}

func (n *waitInput) Clone(*CloneCtx) Node { return &waitInput{greedyInput: n.greedyInput} }
func (n *waitInput) Dispatch(*Dispatch)   {}
func (n *waitInput) Waiting() bool        { return n.waiting }

// A Sender that stops early puts the rest of its vector back, in order,
// for the next run; that run's admission leaves room for it; Waiting asks
// the inputs that are Waiters.
func TestPutBackWaiting(t *testing.T) {
	g, _ := newTestGraph(t, 16)
	s := &partSender{greedyInput: greedyInput{name: "S"}, part: 4}
	w := &waitInput{greedyInput: greedyInput{name: "W"}}
	g.Add(s)
	g.Add(w)
	g.Finalize()
	for i := range 10 {
		inject(t, g, "S", byte(i))
	}
	w.waiting = true
	g.Run()
	if want := []byte{0, 1, 2, 3}; !slices.Equal(s.sent, want) {
		t.Fatalf("first run sent %v, want %v (then stopped: an input waits)", s.sent, want)
	}
	if n := g.byName["S"].vec.len(); n != 6 {
		t.Fatalf("%d packets back in the vector, want 6", n)
	}
	if s.budget != VecSize-6 {
		t.Errorf("admission with 6 packets put back: %d, want %d", s.budget, VecSize-6)
	}
	w.waiting = false
	g.Run()
	if want := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}; !slices.Equal(s.sent, want) {
		t.Errorf("sent %v, want %v: the rest in order in the next run", s.sent, want)
	}
	if s.budget != VecSize {
		t.Errorf("admission with nothing put back: %d, want %d", s.budget, VecSize)
	}
	if st := g.pool.Stats(); st.Free != 16 {
		t.Errorf("pool: %+v, want all 16 free", st)
	}
}
