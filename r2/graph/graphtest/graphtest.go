// Package graphtest drives graph nodes in unit tests: a single-thread graph
// with a real counters registry and packet pool, sources that inject packets
// into any node's vector, sinks that stand in for a node's next nodes and
// keep what reaches them, exact counter checks and pool accounting.
//
// A typical test:
//
//	h := graphtest.New(t, graphtest.Options{})
//	n := graphtest.Add(h, parse.New())       // cloned with the harness's context
//	out := h.Sink(names.IPv4Fwd)             // stands in for the next node
//	h.Inject(names.L3Parse, h.Frame(frame))  // through a source node
//	h.RunUntilIdle()
//	h.ExpectCounters(map[string]uint64{"L3Parse/enq": 1, "IPv4Fwd/enq": 1})
//	... check out.Take() ...
//	h.Done()                                 // frees sink packets, checks the pool
//
// The harness is for tests only: it allocates freely and fails the test on
// any misuse.
package graphtest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
	"github.com/r2go/r2/r2/store"
)

// Options configure a Harness; the zero value is a thread-0 graph with a
// pool of DefaultPoolSize packets, its own registry and no uplink.
type Options struct {
	// Thread is the forwarding thread the graph stands for.
	Thread int
	// PoolSize is the number of packets in the thread's pool.
	PoolSize int
	// Registry, when set, is shared (e.g. by the harnesses of two threads);
	// otherwise the harness makes one and closes it at cleanup.
	Registry *counters.Registry
	// Uplink is given to node clones (EtherDecap reports on it).
	Uplink *msg.Uplink
	// Store is the thread's keyed-store view given to node clones (default:
	// an empty one of its own).
	Store *store.Thread
}

// DefaultPoolSize is the pool size when Options.PoolSize is 0: enough for a
// few full vectors.
const DefaultPoolSize = 1024

// Harness is one thread's graph under test.
type Harness struct {
	T    testing.TB
	Reg  *counters.Registry
	Pool *packet.Pool
	G    *graph.Graph
	// Ctx is the context node clones get.
	Ctx graph.CloneCtx

	sinks []*Sink
	srcs  map[string]*source
}

// New makes a harness; its registry (if it made one) is closed at cleanup.
func New(t testing.TB, o Options) *Harness {
	t.Helper()
	reg := o.Registry
	if reg == nil {
		r, err := counters.NewMem(counters.Sizes{Entries: 4096, Names: 256 << 10, Values: 16384})
		if err != nil {
			t.Fatal(err)
		}
		reg = r
		t.Cleanup(func() { reg.Close() })
	}
	size := o.PoolSize
	if size == 0 {
		size = DefaultPoolSize
	}
	st := o.Store
	if st == nil {
		st = store.NewThread(nil)
	}
	ctx := graph.CloneCtx{Thread: o.Thread, Counters: reg, Uplink: o.Uplink, Store: st}
	pool := packet.NewPool(o.Thread, size)
	return &Harness{T: t, Reg: reg, Pool: pool, G: graph.New(ctx, pool), Ctx: ctx, srcs: map[string]*source{}}
}

// Add clones n for the harness's thread (as the engine does), adds the
// clone to the graph and returns it with n's type.
func Add[N graph.Node](h *Harness, n N) N {
	h.T.Helper()
	c, ok := n.Clone(&h.Ctx).(N)
	if !ok {
		h.T.Fatalf("graphtest: clone of %s has type %T, not %T", n.Name(), c, n)
	}
	h.AddRaw(c)
	return c
}

// AddRaw adds n itself, without cloning it.
func (h *Harness) AddRaw(n graph.Node) {
	h.T.Helper()
	if err := h.G.Add(n); err != nil {
		h.T.Fatal(err)
	}
}

// Sink adds a sink called name with the default vector size.
func (h *Harness) Sink(name string) *Sink { return h.SinkSize(name, graph.VecSize) }

// SinkSize adds a sink called name whose vector holds size packets.
func (h *Harness) SinkSize(name string, size int) *Sink {
	h.T.Helper()
	s := &Sink{name: name, size: size}
	h.AddRaw(s)
	h.sinks = append(h.sinks, s)
	return s
}

// Frame returns a packet from the pool holding a copy of b at Headroom.
func (h *Harness) Frame(b []byte) *packet.Packet {
	h.T.Helper()
	p := h.Pool.Get()
	if p == nil {
		h.T.Fatal("graphtest: packet pool empty")
	}
	if !p.SetData(b) {
		h.T.Fatalf("graphtest: frame of %d bytes does not fit a packet", len(b))
	}
	return p
}

// L3 returns a packet as EtherDecap leaves it for L3Parse: frame is a whole
// Ethernet frame, and the packet's data starts after its 14-byte header
// (so the Ethernet type sits in the two bytes before the data).
func (h *Harness) L3(frame []byte) *packet.Packet {
	h.T.Helper()
	p := h.Frame(frame)
	if !p.Pull(14) {
		h.T.Fatalf("graphtest: frame of %d bytes has no Ethernet header", len(frame))
	}
	p.L3 = p.Head()
	return p
}

// Inject queues pkts for the node called node. They are pushed into its
// vector by a source node at the source's turn in the next Run. Sources
// have no rank, so they run after every ranked node (graph.Ranker): the
// packets are processed from the Run after that.
func (h *Harness) Inject(node string, pkts ...*packet.Packet) {
	h.T.Helper()
	s, ok := h.srcs[node]
	if !ok {
		s = &source{name: "graphtest.Source:" + node, target: node}
		h.AddRaw(s)
		h.srcs[node] = s
	}
	s.q = append(s.q, pkts...)
}

// Finalize resolves the graph's edges (Run also does it when needed).
func (h *Harness) Finalize() { h.G.Finalize() }

// Run runs the graph once.
func (h *Harness) Run() (work bool, wakeNs int64) { return h.G.Run() }

// RunUntilIdle runs the graph until Run reports no work, at most 100 times,
// and returns the number of runs.
func (h *Harness) RunUntilIdle() int {
	h.T.Helper()
	for i := 1; i <= 100; i++ {
		if work, _ := h.G.Run(); !work {
			return i
		}
	}
	h.T.Fatal("graphtest: graph still busy after 100 runs")
	return 0
}

// Control hands m to every node, as a thread does between runs.
func (h *Harness) Control(m msg.Msg) { h.G.Control(m) }

// Counter is the value of the counter called name on the harness's thread
// (packets for a packets+bytes counter), 0 if there is none.
func (h *Harness) Counter(name string) uint64 {
	for _, e := range h.Reg.Snapshot() {
		if e.Thread == h.Ctx.Thread && e.Name == name && len(e.Values) > 0 {
			return e.Values[0]
		}
	}
	return 0
}

// Counters returns every non-zero counter of the harness's thread. A
// packets+bytes counter "x" appears as "x" (packets) and "x#bytes".
func (h *Harness) Counters() map[string]uint64 {
	m := map[string]uint64{}
	for _, e := range h.Reg.Snapshot() {
		if e.Thread != h.Ctx.Thread {
			continue
		}
		for i, v := range e.Values {
			if v == 0 {
				continue
			}
			name := e.Name
			if e.Kind == counters.KindPktByte && i == 1 {
				name += "#bytes"
			} else if i > 0 {
				continue
			}
			m[name] += v
		}
	}
	return m
}

// ExpectCounters fails the test unless the non-zero counters of the thread
// are exactly want.
func (h *Harness) ExpectCounters(want map[string]uint64) {
	h.T.Helper()
	if diff := cmp.Diff(want, h.Counters()); diff != "" {
		h.T.Errorf("counters (-want +got):\n%s", diff)
	}
}

// ExpectCountersPrefix is ExpectCounters restricted to the counters whose
// name starts with one of prefixes.
func (h *Harness) ExpectCountersPrefix(want map[string]uint64, prefixes ...string) {
	h.T.Helper()
	got := map[string]uint64{}
	for k, v := range h.Counters() {
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				got[k] = v
				break
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		h.T.Errorf("counters %v (-want +got):\n%s", prefixes, diff)
	}
}

// Free gives packets back to the pool.
func (h *Harness) Free(pkts ...*packet.Packet) {
	for _, p := range pkts {
		h.Pool.Free(p)
	}
}

// Done frees what the sinks kept, reclaims packets returned by other
// threads and fails the test if any packet of the pool is still in flight
// or was freed twice.
func (h *Harness) Done() {
	h.T.Helper()
	for _, s := range h.sinks {
		h.Free(s.Take()...)
	}
	for _, s := range h.srcs {
		h.Free(s.q...)
		s.q = nil
	}
	h.CheckPool(0)
}

// CheckPool reclaims returned packets and fails the test unless exactly
// inFlight packets are allocated and none was freed twice.
func (h *Harness) CheckPool(inFlight int) {
	h.T.Helper()
	h.Pool.Reclaim()
	if st := h.Pool.Stats(); st.InFlight != inFlight || st.DoubleFrees != 0 {
		h.T.Errorf("pool: %d packets in flight (want %d), %d double frees: %+v", st.InFlight, inFlight, st.DoubleFrees, st)
	}
}

// Sink is a node that keeps every packet that reaches it until the test
// takes them. While Paused it leaves its vector alone, so the vector fills
// up as a slow node's would.
type Sink struct {
	graph.NoControl
	name   string
	size   int
	Paused bool
	got    []*packet.Packet
}

// Name implements graph.Node.
func (s *Sink) Name() string { return s.name }

// NextNames implements graph.Node.
func (s *Sink) NextNames() []string { return []string{names.Drop} }

// Clone implements graph.Node.
func (s *Sink) Clone(*graph.CloneCtx) graph.Node { return &Sink{name: s.name, size: s.size} }

// VecSize implements graph.VecSizer.
func (s *Sink) VecSize() int { return s.size }

// Dispatch implements graph.Node.
func (s *Sink) Dispatch(d *graph.Dispatch) {
	if s.Paused {
		return
	}
	for p := d.Pop(); p != nil; p = d.Pop() {
		s.got = append(s.got, p)
	}
}

// Len is the number of packets kept.
func (s *Sink) Len() int { return len(s.got) }

// Take returns the packets kept so far and forgets them; the caller frees
// them (or leaves it to Harness.Done by not taking them).
func (s *Sink) Take() []*packet.Packet {
	g := s.got
	s.got = nil
	return g
}

// Datas returns a copy of the data of the packets kept so far, without
// taking them.
func (s *Sink) Datas() [][]byte {
	out := make([][]byte, len(s.got))
	for i, p := range s.got {
		out[i] = append([]byte(nil), p.Data()...)
	}
	return out
}

// source pushes queued packets into one node's vector.
type source struct {
	graph.NoControl
	name, target string
	q            []*packet.Packet
}

func (s *source) Name() string                     { return s.name }
func (s *source) NextNames() []string              { return []string{names.Drop, s.target} }
func (s *source) Clone(*graph.CloneCtx) graph.Node { return &source{name: s.name, target: s.target} }
func (s *source) Dispatch(d *graph.Dispatch) {
	for _, p := range s.q {
		d.Push(1, p)
	}
	clear(s.q)
	s.q = s.q[:0]
}
