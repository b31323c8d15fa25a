package qos_test

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/gnodes/qos"
	"github.com/r2go/r2/r2/graph"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/packet"
	"github.com/r2go/r2/r2/sched/hfsc"
)

const (
	qname = "QoS:eth0"
	iname = "IfNode:eth0"
)

func lin(bps uint64) *hfsc.Curve { return &hfsc.Curve{M1: bps, M2: bps} }

// udpFrame is an Ethernet+IPv4+UDP frame of size bytes to dport.
func udpFrame(size int, dport uint16) []byte {
	f := make([]byte, size)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0], ip[9] = 0x45, 17
	copy(ip[12:], []byte{10, 1, 0, 1})
	copy(ip[16:], []byte{10, 2, 0, 1})
	binary.BigEndian.PutUint16(ip[20:], 1000)
	binary.BigEndian.PutUint16(ip[22:], dport)
	return f
}

// clock is a fake monotonic clock.
type clock struct{ ns int64 }

func (c *clock) now() int64 { return c.ns }

// setup makes a harness with the QoS node of eth0 (owner thread 0) on a
// fake clock, and a sink for IfNode.
func setup(t testing.TB) (*gt.Harness, *qos.Node, *gt.Sink, *clock) {
	h := gt.New(t, gt.Options{PoolSize: 4096})
	c := &clock{}
	n := gt.Add(h, qos.New("eth0", 0, nil))
	n.SetClock(c.now)
	return h, n, h.SinkSize(iname, graph.IfVecSize), c
}

// twoClasses is an 8 Mbit/s link (1 byte/us) shared 3:1 by "a" (UDP port
// 1) and "b" (the default).
func twoClasses(t testing.TB, qlimit int) *fwd.QoS {
	q, err := fwd.NewQoS("eth0", 8e6, 0, []hfsc.ClassConfig{
		{Name: "a", Leaf: true, QLimit: qlimit, LS: lin(6e6)},
		{Name: "b", Leaf: true, QLimit: qlimit, LS: lin(2e6)},
	}, []fwd.QoSRule{{Prio: 1, Class: "a", DSCP: -1, Proto: 17, Dport: [2]uint16{1, 1}}}, "b")
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// runFor runs the graph on the fake clock until limit, jumping to each
// requested wakeup; it fails if the node asks to spin while holding
// packets it cannot send.
func runFor(t testing.TB, h *gt.Harness, c *clock, limit int64) (runs, sleeps int) {
	for c.ns < limit {
		work, wake := h.Run()
		runs++
		if work {
			continue
		}
		if wake < 0 {
			return runs, sleeps
		}
		if wake == 0 {
			t.Fatalf("asked to be woken at once without work at %d", c.ns)
		}
		sleeps++
		c.ns += wake
	}
	return runs, sleeps
}

func count(s *gt.Sink) (a, b int) {
	for _, p := range s.Take() {
		if binary.BigEndian.Uint16(p.Data()[14+22:]) == 1 {
			a++
		} else {
			b++
		}
		p.Pool().Free(p)
	}
	return a, b
}

func TestShareThroughNode(t *testing.T) {
	h, n, out, c := setup(t)
	h.Control(msg.QoS{Ifname: "eth0", Config: twoClasses(t, 200)})
	var pkts []*packet.Packet
	for i := 0; i < 200; i++ {
		pkts = append(pkts, h.Frame(udpFrame(1000, 1)), h.Frame(udpFrame(1000, 2)))
	}
	h.Inject(qname, pkts...)
	// 100 ms at 1 byte/us: 100 packets of 1000 bytes, 75 of a and 25 of b.
	_, sleeps := runFor(t, h, c, 100e6)
	a, b := count(out)
	if a+b < 99 || a+b > 101 || a < 73 || a > 77 {
		t.Errorf("in 100 ms: a %d b %d, want 75 and 25", a, b)
	}
	if sleeps < 90 {
		t.Errorf("%d timer sleeps for ~100 paced packets", sleeps)
	}
	if got := h.Counter(qname + "/rule/1"); got != 200 {
		t.Errorf("rule 1 matched %d, want 200", got)
	}
	if got := h.Counter(qname + "/unmatched"); got != 200 {
		t.Errorf("unmatched %d, want 200", got)
	}
	now, st := n.Stats()
	if now > c.ns || now < c.ns-2e6 || len(st) != 3 || st[0].Name != "root" || st[1].QLen != 200-a || st[2].QLen != 200-b {
		t.Errorf("stats at %d: %+v", now, st)
	}
	// Deleting the configuration frees what is queued and counts it.
	h.Control(msg.QoS{Ifname: "eth0"})
	h.RunUntilIdle()
	if got, want := h.Counter(qname+"/deleted"), uint64(400-a-b); got != want {
		t.Errorf("deleted %d, want %d", got, want)
	}
	if n.Queued() != 0 {
		t.Errorf("%d still queued", n.Queued())
	}
	h.Done()
}

// A class deleted while it queues packets frees them, counted in its
// drops; the other class keeps its queue.
func TestDeleteClassWithQueue(t *testing.T) {
	h, n, out, c := setup(t)
	cfg := twoClasses(t, 50)
	h.Control(msg.QoS{Ifname: "eth0", Config: cfg})
	for i := 0; i < 60; i++ {
		h.Inject(qname, h.Frame(udpFrame(1000, 1)), h.Frame(udpFrame(1000, 2)))
	}
	h.Run()
	h.Run()
	if got := h.Counter(qname + "/class/a/drops"); got != 10 {
		t.Errorf("a's drops %d, want 10 (queue limit 50)", got)
	}
	sent := out.Len()
	queued := n.Queued()
	// Remove class a (and its rule): b only.
	cfg2, err := fwd.NewQoS("eth0", 8e6, 0, cfg.Classes[1:], nil, "b")
	if err != nil {
		t.Fatal(err)
	}
	h.Control(msg.QoS{Ifname: "eth0", Config: cfg2})
	_, st := n.Stats()
	if len(st) != 2 || st[1].Name != "b" {
		t.Fatalf("stats after delete: %+v", st)
	}
	qa := queued - st[1].QLen
	h.Run()
	if got := h.Counter(qname + "/deleted"); got != uint64(qa) {
		t.Errorf("deleted %d, want %d (a's queue)", got, qa)
	}
	runFor(t, h, c, 1e9)
	if got := out.Len(); got != sent+st[1].QLen {
		t.Errorf("sent %d after the delete, want %d", got-sent, st[1].QLen)
	}
	count(out)
	h.Done()
}

// On a thread that does not own the interface the node hands packets over.
func TestHandoff(t *testing.T) {
	h0, n0, out, c := setup(t)
	h1 := gt.New(t, gt.Options{Thread: 1, Registry: h0.Reg})
	n1 := gt.Add(h1, n0) // a clone on thread 1 shares the ring
	h0.Control(msg.QoS{Ifname: "eth0", Config: twoClasses(t, 100)})
	h1.Control(msg.QoS{Ifname: "eth0", Config: twoClasses(t, 100)})
	for i := 0; i < 10; i++ {
		h1.Inject(qname, h1.Frame(udpFrame(100, 1)))
	}
	h1.RunUntilIdle()
	if !n0.Pending() || n1.Pending() {
		t.Errorf("pending: owner %v other %v", n0.Pending(), n1.Pending())
	}
	runFor(t, h0, c, 1e9)
	if out.Len() != 10 {
		t.Errorf("owner sent %d of 10 handed over", out.Len())
	}
	for _, p := range out.Take() {
		h0.Free(p)
	}
	h1.RunUntilIdle()
	h1.Done()
	h0.Done()
}

// With no configuration the node passes packets through.
func TestPassThrough(t *testing.T) {
	h, _, out, _ := setup(t)
	h.Inject(qname, h.Frame(udpFrame(100, 1)))
	h.RunUntilIdle()
	if out.Len() != 1 {
		t.Fatalf("sent %d", out.Len())
	}
	count(out)
	h.Done()
}

// Reconfiguring curves keeps the queues; a new rate starts afresh.
func TestChangeKeepsQueue(t *testing.T) {
	h, n, out, _ := setup(t)
	cfg := twoClasses(t, 100)
	h.Control(msg.QoS{Ifname: "eth0", Config: cfg})
	for i := 0; i < 20; i++ {
		h.Inject(qname, h.Frame(udpFrame(1000, 1)))
	}
	h.Run()
	h.Run()
	q := n.Queued()
	cl := append([]hfsc.ClassConfig(nil), cfg.Classes...)
	cl[0].LS = lin(5e6)
	cl[0].QLimit = 150
	cfg2, _ := fwd.NewQoS("eth0", 8e6, 0, cl, cfg.Rules, "b")
	h.Control(msg.QoS{Ifname: "eth0", Config: cfg2})
	if n.Queued() != q {
		t.Errorf("queued %d after a change, want %d", n.Queued(), q)
	}
	cfg3, _ := fwd.NewQoS("eth0", 16e6, 0, cl, cfg.Rules, "b")
	h.Control(msg.QoS{Ifname: "eth0", Config: cfg3})
	h.Run()
	if n.Queued() != 0 || h.Counter(qname+"/deleted") != uint64(q) {
		t.Errorf("after a rate change: queued %d, deleted %d, want 0 and %d", n.Queued(), h.Counter(qname+"/deleted"), q)
	}
	count(out)
	h.Done()
}

// feeder pushes preallocated frames into the QoS node: n per run.
type feeder struct {
	graph.NoControl
	frames [][]byte
	n, i   int
}

func (f *feeder) Name() string                     { return "feeder" }
func (f *feeder) NextNames() []string              { return []string{"Drop", qname} }
func (f *feeder) Clone(*graph.CloneCtx) graph.Node { return f }
func (f *feeder) Dispatch(d *graph.Dispatch) {
	for k := 0; k < f.n; k++ {
		p := d.Pool().Get()
		p.SetData(f.frames[f.i%len(f.frames)])
		f.i++
		d.Push(1, p)
	}
	f.n = 0
}

// freeSink stands in for IfNode and frees what it gets.
type freeSink struct {
	graph.NoControl
	got int
}

func (s *freeSink) Name() string                     { return iname }
func (s *freeSink) NextNames() []string              { return []string{"Drop"} }
func (s *freeSink) Clone(*graph.CloneCtx) graph.Node { return s }
func (s *freeSink) VecSize() int                     { return graph.IfVecSize }
func (s *freeSink) Dispatch(d *graph.Dispatch) {
	for p := d.Pop(); p != nil; p = d.Pop() {
		s.got++
		d.Free(p)
	}
}

// pipe is a graph with a feeder, the QoS node and a freeing sink.
func pipe(t testing.TB, cfg *fwd.QoS, frames [][]byte) (*gt.Harness, *feeder, *freeSink, *clock) {
	h := gt.New(t, gt.Options{PoolSize: 8192})
	c := &clock{}
	n := gt.Add(h, qos.New("eth0", 0, nil))
	n.SetClock(c.now)
	f := &feeder{frames: frames}
	s := &freeSink{}
	h.AddRaw(f)
	h.AddRaw(s)
	h.Control(msg.QoS{Ifname: "eth0", Config: cfg})
	return h, f, s, c
}

func TestZeroAllocs(t *testing.T) {
	h, f, s, c := pipe(t, twoClasses(t, 1000), [][]byte{udpFrame(200, 1), udpFrame(200, 2)})
	h.Run()
	allocs := testing.AllocsPerRun(500, func() {
		f.n = 32
		h.Run() // feed and queue
		h.Run() // send what the link allows
		c.ns += 1e6
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per run", allocs)
	}
	if s.got < 500 { // one per run: the fake clock stands still within a round
		t.Errorf("only %d sent", s.got)
	}
	runFor(t, h, c, c.ns+10e9)
	h.Done()
}

// BenchmarkEnqueueDequeue pushes packets through the node spread evenly
// over n leaves, each with its own rule (so classification scans half the
// rules on average), on a link that takes everything.
func BenchmarkEnqueueDequeue(b *testing.B) {
	for _, leaves := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("leaves=%d", leaves), func(b *testing.B) {
			var classes []hfsc.ClassConfig
			var rules []fwd.QoSRule
			frames := make([][]byte, leaves)
			for i := 0; i < leaves; i++ {
				name := fmt.Sprintf("c%d", i)
				classes = append(classes, hfsc.ClassConfig{Name: name, Leaf: true, QLimit: 64, LS: lin(1e6)})
				rules = append(rules, fwd.QoSRule{Prio: i, Class: name, DSCP: -1, Proto: 17, Dport: [2]uint16{uint16(i + 1), uint16(i + 1)}})
				frames[i] = udpFrame(64, uint16(i+1))
			}
			q, err := fwd.NewQoS("eth0", 100e9, time.Second, classes, rules, "c0")
			if err != nil {
				b.Fatal(err)
			}
			h, f, s, c := pipe(b, q, frames)
			const batch = 64
			b.ReportAllocs()
			for b.Loop() {
				f.n = batch
				h.Run()
				h.Run()
				c.ns += 1e6
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/pkt")
			if s.got == 0 {
				b.Fatal("nothing sent")
			}
		})
	}
}
