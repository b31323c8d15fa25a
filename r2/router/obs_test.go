//go:build linux

package router

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/ctl"
	"github.com/r2go/r2/r2/engine"
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/names"
)

// obsRig is the path rig with one route and 64 frames to forward.
func obsRig(t testing.TB) (*pathRig, [][]byte) {
	r := newPathRig(t)
	if err := r.e.AddRoutes([]ctl.Route{{Prefix: netip.MustParsePrefix("198.51.0.0/24"), NextHop: netip.MustParseAddr("10.2.0.1"), Ifname: "if1"}}); err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	for i := 0; i < 64; i++ {
		frames = append(frames, udpFrame(macR0, macH1, "10.1.0.1", "198.51.0."+itoa(i+1), 64, 18+i))
	}
	return r, frames
}

func itoa(i int) string { return netip.AddrFrom4([4]byte{0, 0, 0, byte(i)}).String()[6:] }

// forward runs the thread's graph over frames for runs runs, then until
// every vector is empty, and returns the counters before and after, read
// on the thread itself.
func forward(t testing.TB, r *pathRig, frames [][]byte, runs int) (before, after map[string]uint64) {
	t.Helper()
	snap := func() map[string]uint64 {
		m := map[string]uint64{}
		for _, e := range r.e.Counters().Snapshot() {
			if e.Thread == 0 {
				m[e.Name] = e.Values[0]
			}
		}
		return m
	}
	r.e.Engine().OnThread(0, func(th *engine.Thread) {
		for work, _ := th.Graph().Run(); work; work, _ = th.Graph().Run() {
		}
		before = snap()
		r.d0.Generate(frames)
		for i := 0; i < runs; i++ {
			th.Graph().Run()
		}
		r.d0.Generate(nil)
		for work, _ := th.Graph().Run(); work; work, _ = th.Graph().Run() {
		}
		after = snap()
	})
	return before, after
}

// TestRuntimeStatsAddUp checks that with runtime statistics on, every
// node's packets equal its enq counter over the same interval (plus what an
// interface received), and that time and calls are counted.
func TestRuntimeStatsAddUp(t *testing.T) {
	r, frames := obsRig(t)
	r.e.SetRuntime(true)
	before, after := forward(t, r, frames, 40)
	d := func(name string) uint64 { return after[name] - before[name] }
	busy := 0
	for name := range after {
		node, ok := strings.CutSuffix(name, "/"+graph.RTPkts)
		if !ok {
			continue
		}
		want := d(node + "/enq")
		if strings.HasPrefix(node, "IfNode:") {
			want += d(node + "/" + names.IfRx)
		}
		if got := d(name); got != want {
			t.Errorf("%s: rt_pkts grew by %d, enq (+rx) by %d", node, got, want)
		}
		if d(name) > 0 {
			busy++
			if d(node+"/"+graph.RTCalls) == 0 || d(node+"/"+graph.RTNs) == 0 {
				t.Errorf("%s: %d packets in %d calls and %d ns", node, d(name), d(node+"/"+graph.RTCalls), d(node+"/"+graph.RTNs))
			}
		}
	}
	if busy < 6 {
		t.Errorf("%d nodes handled packets, want the 6 of the path", busy)
	}
	if got := d(names.IfNodeCounter("if1", names.IfTx)); got == 0 {
		t.Fatalf("nothing forwarded")
	}
	// Off: nothing moves.
	r.e.SetRuntime(false)
	before, after = forward(t, r, frames, 10)
	for name := range after {
		if strings.HasSuffix(name, "/"+graph.RTPkts) && d(name) != 0 {
			t.Errorf("%s grew by %d with runtime statistics off", name, d(name))
		}
	}
}

// TestGraphEdgeCounts checks the live graph: the packets pushed along the
// edges into a node add up to its enq counter, and IPv4Fwd's edge to the
// mux carries exactly what if1 sent.
func TestGraphEdgeCounts(t *testing.T) {
	r, frames := obsRig(t)
	g0, err := r.e.Graph(0)
	if err != nil {
		t.Fatal(err)
	}
	before, after := forward(t, r, frames, 30)
	g1, err := r.e.Graph(0)
	if err != nil {
		t.Fatal(err)
	}
	edge := func(g []graph.NodeInfo, from, to string) uint64 {
		for _, n := range g {
			if n.Name == from {
				for _, e := range n.Edges {
					if e.To == to {
						return e.Pkts
					}
				}
			}
		}
		t.Fatalf("no edge %s -> %s", from, to)
		return 0
	}
	sent := after[names.IfNodeCounter("if1", names.IfTx)] - before[names.IfNodeCounter("if1", names.IfTx)]
	if got := edge(g1, names.IPv4Fwd, names.EncapMux) - edge(g0, names.IPv4Fwd, names.EncapMux); got != sent || sent == 0 {
		t.Errorf("IPv4Fwd -> EncapMux carried %d, if1 sent %d", got, sent)
	}
	in := map[string]uint64{}
	for _, n := range g1 {
		for _, e := range n.Edges {
			in[e.To] += e.Pkts
		}
	}
	for _, n := range g1 {
		if in[n.Name] != n.Enq {
			t.Errorf("%s: edges into it carried %d, enq %d", n.Name, in[n.Name], n.Enq)
		}
	}
}

// udpFilter is "udp" for IPv4 over Ethernet, as tcpdump -dd compiles it.
var udpFilter = mustAssemble([]bpf.Instruction{
	bpf.LoadAbsolute{Off: 12, Size: 2},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0800, SkipFalse: 3},
	bpf.LoadAbsolute{Off: 23, Size: 1},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 17, SkipFalse: 1},
	bpf.RetConstant{Val: 262144},
	bpf.RetConstant{Val: 0},
})

var icmpFilter = mustAssemble([]bpf.Instruction{
	bpf.LoadAbsolute{Off: 23, Size: 1},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 1, SkipFalse: 1},
	bpf.RetConstant{Val: 262144},
	bpf.RetConstant{Val: 0},
})

func mustAssemble(ins []bpf.Instruction) []bpf.RawInstruction {
	raw, err := bpf.Assemble(ins)
	if err != nil {
		panic(err)
	}
	return raw
}

// TestCapture captures the forwarded flow on a node's input and on one
// edge, with filters, and checks what a small ring loses.
func TestCapture(t *testing.T) {
	r, frames := obsRig(t)
	tests := []struct {
		name   string
		spec   graph.CaptureSpec
		ring   int
		want   int // records; -1: as many as if1 sent
		frames bool
	}{
		{name: "node input", spec: graph.CaptureSpec{Node: names.EtherEncap("if1")}, want: -1, frames: true},
		{name: "node input, udp", spec: graph.CaptureSpec{Node: names.EtherEncap("if1"), Filter: udpFilter}, want: -1},
		{name: "node input, icmp", spec: graph.CaptureSpec{Node: names.EtherEncap("if1"), Filter: icmpFilter}, want: 0},
		{name: "edge", spec: graph.CaptureSpec{Node: names.EncapMux, From: names.IPv4Fwd}, want: -1},
		{name: "edge never taken", spec: graph.CaptureSpec{Node: names.EncapMux, From: names.L3Parse}, want: 0},
		{name: "snap", spec: graph.CaptureSpec{Node: names.L3Parse, Snap: 34}, want: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := r.e.StartCapture(tc.spec, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			before, after := forward(t, r, frames, 2)
			recs, matched, lost, err := r.e.ReadCapture(h, 1<<20, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			if matched != uint64(len(recs)) || lost != 0 {
				t.Errorf("%d records, %d matched, %d lost", len(recs), matched, lost)
			}
			if err := r.e.StopCapture(h); err != nil {
				t.Fatal(err)
			}
			// A stopped capture is gone.
			if _, _, _, err := r.e.ReadCapture(h, 1, 1); err == nil {
				t.Errorf("read of a stopped capture succeeded")
			}
			sent := int(after[names.IfNodeCounter("if1", names.IfTx)] - before[names.IfNodeCounter("if1", names.IfTx)])
			want := tc.want
			if want < 0 {
				want = sent
			}
			if len(recs) != want {
				t.Fatalf("captured %d packets, want %d", len(recs), want)
			}
			for i, rec := range recs {
				f := frames[int(rec.Data[min(33, len(rec.Data)-1)]+63)%64] // by destination 198.51.0.(i+1)
				if tc.spec.Snap > 0 {
					f = frames[0]
				}
				if tc.spec.Snap > 0 {
					if len(rec.Data) != tc.spec.Snap || rec.OrigLen < len(f) {
						t.Fatalf("record %d: %d of %d bytes, want %d of %d", i, len(rec.Data), rec.OrigLen, tc.spec.Snap, len(f))
					}
					continue
				}
				// At EtherEncap's input the frame still has the header it
				// arrived with; the IP header has its TTL decremented.
				if tc.frames && (len(rec.Data) != len(f) || !bytes.Equal(rec.Data[:22], f[:22]) || !bytes.Equal(rec.Data[34:], f[34:]) || rec.Data[22] != f[22]-1) {
					t.Fatalf("record %d:\n got %x\nwant %x", i, rec.Data, f)
				}
			}
		})
	}
}

// TestCaptureLossAndLease checks that a full ring loses packets (counted,
// never delaying forwarding) and that an unread capture stops by itself.
func TestCaptureLossAndLease(t *testing.T) {
	r, frames := obsRig(t)
	h, err := r.e.StartCapture(graph.CaptureSpec{Node: names.L3Parse, RingBytes: 4096}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	before, after := forward(t, r, frames, 4)
	recs, matched, lost, err := r.e.ReadCapture(h, 1<<20, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	sent := after[names.IfNodeCounter("if1", names.IfTx)] - before[names.IfNodeCounter("if1", names.IfTx)]
	if lost == 0 || matched != uint64(len(recs))+lost || matched != sent {
		t.Errorf("%d records, %d matched, %d lost, %d forwarded", len(recs), matched, lost, sent)
	}
	if _, err := r.e.StartCapture(graph.CaptureSpec{Node: "NoSuchNode"}, time.Second); err == nil {
		t.Errorf("capture on a missing node started")
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.e.Engine().Captures() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("unread capture still running after its lease")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, _, _, err := r.e.ReadCapture(h, 1, 1); err == nil {
		t.Errorf("read of an expired capture succeeded")
	}
}

// TestObsNoAllocs checks that runtime statistics and a capture with a
// filter allocate nothing per graph run.
func TestObsNoAllocs(t *testing.T) {
	r, frames := obsRig(t)
	r.e.SetRuntime(true)
	if _, err := r.e.StartCapture(graph.CaptureSpec{Node: names.EtherEncap("if1"), Filter: udpFilter, RingBytes: 4096}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := r.e.StartCapture(graph.CaptureSpec{Node: names.EncapMux, From: names.IPv4Fwd}, time.Minute); err != nil {
		t.Fatal(err)
	}
	var allocs float64
	r.e.Engine().OnThread(0, func(th *engine.Thread) {
		r.d0.Generate(frames)
		for i := 0; i < 20; i++ {
			th.Graph().Run()
		}
		allocs = testing.AllocsPerRun(50, func() { th.Graph().Run() })
		r.d0.Generate(nil)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run", allocs)
	}
}

// BenchmarkIPv4PathObs is BenchmarkIPv4Path (10 routes) with runtime
// statistics off and on, and with a capture on a node the path does not
// take (the cost of a tapped push test) or on EtherEncap with a filter
// that matches nothing (the filter's cost per packet).
func BenchmarkIPv4PathObs(b *testing.B) {
	for _, mode := range []string{"off", "runtime", "off2", "runtime2", "capture-filtered"} {
		b.Run(mode, func(b *testing.B) {
			r, frames := obsRig(b)
			r.e.SetRuntime(strings.HasPrefix(mode, "runtime"))
			if mode == "capture-filtered" {
				if _, err := r.e.StartCapture(graph.CaptureSpec{Node: names.EtherEncap("if1"), Filter: icmpFilter}, time.Hour); err != nil {
					b.Fatal(err)
				}
			}
			for len(frames) < 1024 {
				frames = append(frames, frames...)
			}
			r.run(b, frames)
		})
	}
}

// BenchmarkRuntimeOverhead measures the runtime statistics' cost on the
// IPv4 path by alternating them off and on every 200 graph runs of the
// same rig and summing the thread's CPU time per mode, so that the noise
// of a shared machine hits both modes alike. It reports CPU ns per packet
// off and on and the overhead in percent.
func BenchmarkRuntimeOverhead(b *testing.B) {
	r, frames := obsRig(b)
	for len(frames) < 1024 {
		frames = append(frames, frames...)
	}
	var cpu [2]time.Duration
	var pkts [2]uint64
	r.e.Engine().OnThread(0, func(th *engine.Thread) {
		g := th.Graph()
		r.d0.Generate(frames)
		for i := 0; i < 100; i++ {
			g.Run()
		}
		b.ResetTimer()
		mode := 0
		for b.Loop() {
			r.e.SetRuntime(mode == 1)
			tx := r.d1.Stats().TxPkts
			c := threadClock()
			for i := 0; i < 200; i++ {
				g.Run()
			}
			cpu[mode] += threadClock() - c
			pkts[mode] += r.d1.Stats().TxPkts - tx
			mode ^= 1
		}
		r.d0.Generate(nil)
	})
	if pkts[0] == 0 || pkts[1] == 0 {
		b.Fatal("too few iterations: run with -benchtime of at least 2x")
	}
	off := float64(cpu[0].Nanoseconds()) / float64(pkts[0])
	on := float64(cpu[1].Nanoseconds()) / float64(pkts[1])
	b.ReportMetric(off, "off-cpu-ns/pkt")
	b.ReportMetric(on, "on-cpu-ns/pkt")
	b.ReportMetric(100*(on-off)/off, "overhead-%")
}

// threadClock is the calling thread's CPU clock: exact, unlike getrusage,
// which advances by scheduler ticks.
func threadClock() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
