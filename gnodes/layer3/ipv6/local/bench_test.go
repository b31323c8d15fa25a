package local_test

import (
	"testing"

	v6 "github.com/r2go/r2/gnodes/internal/v6test"
	"github.com/r2go/r2/gnodes/layer3/ipv6/local"
	"github.com/r2go/r2/r2/graph"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

// freeSink stands in for IPv6Fwd and frees what it gets.
type freeSink struct{ graph.NoControl }

func (freeSink) Name() string                     { return names.IPv6Fwd }
func (freeSink) NextNames() []string              { return []string{names.Drop} }
func (freeSink) Clone(*graph.CloneCtx) graph.Node { return freeSink{} }
func (freeSink) Dispatch(d *graph.Dispatch) {
	for p := d.Pop(); p != nil; p = d.Pop() {
		d.Free(p)
	}
}

// feeder pushes a copy of each of its frames into IPv6Local at every run,
// as IPv6Fwd would.
type feeder struct {
	graph.NoControl
	frames [][]byte
	meta   uint32
}

func (f *feeder) Name() string                     { return "feeder" }
func (f *feeder) NextNames() []string              { return []string{names.Drop, names.IPv6Local} }
func (f *feeder) Clone(*graph.CloneCtx) graph.Node { return f }
func (f *feeder) Dispatch(d *graph.Dispatch) {
	for _, b := range f.frames {
		p := d.Pool().Get()
		p.SetData(b)
		p.Pull(14)
		p.L3 = p.Head()
		p.InIfindex = 1
		p.Meta = f.meta
		d.Push(1, p)
	}
}

func fed(tb testing.TB, meta uint32, ip []byte) (*gt.Harness, *feeder) {
	h := gt.New(tb, gt.Options{})
	gt.Add(h, local.New(v6.Intfs()))
	h.AddRaw(freeSink{})
	f := &feeder{meta: meta}
	frame := append(make([]byte, 14), ip...)
	for i := 0; i < 64; i++ {
		f.frames = append(f.frames, frame)
	}
	h.AddRaw(f)
	h.Run()
	return h, f
}

// TestZeroAllocs: echo replies and errors allocate nothing.
func TestZeroAllocs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		meta    uint32
		ip      []byte
		counter string
	}{
		{"echo", 0, v6.Echo(h1, v6.Eth0Global, 1, 1, make([]byte, 56)), "IPv6Local/echo_replies"},
		{"time exceeded", icmpErr(3, 0), v6.UDPPacket(h1, "2001:db8:99::9", 1, 100), "IPv6Local/icmp_errors_sent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := fed(t, tc.meta, tc.ip)
			if a := testing.AllocsPerRun(100, func() { h.Run() }); a != 0 {
				t.Errorf("%v allocations per Run, want 0", a)
			}
			if h.Counter(tc.counter) == 0 {
				t.Errorf("counters %v", h.Counters())
			}
		})
	}
}

// BenchmarkIPv6LocalEcho measures an echo reply per packet (with the cost
// of making the request packet).
func BenchmarkIPv6LocalEcho(b *testing.B) {
	h, f := fed(b, 0, v6.Echo(h1, v6.Eth0Global, 1, 1, make([]byte, 56)))
	b.ReportAllocs()
	runs := 0
	for b.Loop() {
		h.Run()
		runs++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(runs*len(f.frames)), "ns/pkt")
}

var _ = packet.MetaIPv6
