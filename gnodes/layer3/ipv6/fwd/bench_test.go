package ipv6fwd_test

import (
	"testing"

	"github.com/r2go/r2/fwd"
	v6 "github.com/r2go/r2/gnodes/internal/v6test"
	ipv6fwd "github.com/r2go/r2/gnodes/layer3/ipv6/fwd"
	"github.com/r2go/r2/r2/graph"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/names"
)

// recycler stands in for EncapMux: it sends every packet back to IPv6Fwd
// with its hop limit restored, so the same vector circulates for ever.
type recycler struct{ graph.NoControl }

func (recycler) Name() string                     { return names.EncapMux }
func (recycler) NextNames() []string              { return []string{names.Drop, names.IPv6Fwd} }
func (recycler) Clone(*graph.CloneCtx) graph.Node { return recycler{} }
func (recycler) Dispatch(d *graph.Dispatch) {
	for p := d.Pop(); p != nil; p = d.Pop() {
		p.Data()[7] = 64
		p.Meta = 0
		d.Push(1, p)
	}
}

// circulating is IPv6Fwd with a full vector of packets to 16 destinations
// (connected and gateway routes, 64 to 814-byte packets) going round; with
// hbh, each carries a hop-by-hop header (router alert and padding).
func circulating(tb testing.TB, table *fwd.IPv6Table, hbh bool) *gt.Harness {
	h := gt.New(tb, gt.Options{})
	gt.Add(h, ipv6fwd.New(table, v6.Intfs()))
	h.AddRaw(recycler{})
	dsts := []string{"2001:db8:2::1%x", "2001:db8:50:%x::1"}
	for i := 0; i < graph.VecSize; i++ {
		dst := fmtAddr(dsts[i%2], i%8)
		ip := udp(h1, dst, 64, 16+(i%16)*50)
		if hbh {
			ip = v6.IPv6(h1, dst, 64, hdr.ProtoHopByHop, v6.Cat(v6.Ext(hdr.ProtoUDP, 5, 2, 0, 0, 1, 0), ip[40:]))
		}
		h.Inject(names.IPv6Fwd, pkt(h, ip, 0))
	}
	for i := 0; i < 3; i++ {
		h.Run()
	}
	return h
}

func fmtAddr(f string, i int) string {
	const hex = "0123456789abcdef"
	out := []byte{}
	for j := 0; j < len(f); j++ {
		if f[j] == '%' {
			out = append(out, hex[i&15])
			j++
			continue
		}
		out = append(out, f[j])
	}
	return string(out)
}

// TestZeroAllocs: forwarding a vector allocates nothing.
func TestZeroAllocs(t *testing.T) {
	for _, hbh := range []bool{false, true} {
		h := circulating(t, v6.Table(), hbh)
		before := h.Counter("IPv6Fwd/forwarded")
		if a := testing.AllocsPerRun(100, func() { h.Run() }); a != 0 {
			t.Errorf("hbh %v: %v allocations per Run, want 0", hbh, a)
		}
		if n := h.Counter("IPv6Fwd/forwarded") - before; n != 101*graph.VecSize {
			t.Errorf("hbh %v: forwarded %d packets in 101 runs", hbh, n)
		}
		h.CheckPool(graph.VecSize)
	}
}

// BenchmarkIPv6Fwd measures IPv6Fwd alone per packet, in 256-packet
// vectors (the route table is the stand-in linear scan over 9 routes
// until the real one lands; the recycler's cost is included).
func BenchmarkIPv6Fwd(b *testing.B) {
	for _, hbh := range []bool{false, true} {
		name := "plain"
		if hbh {
			name = "hop-by-hop"
		}
		b.Run(name, func(b *testing.B) {
			h := circulating(b, v6.Table(), hbh)
			b.ReportAllocs()
			runs := 0
			for b.Loop() {
				h.Run()
				runs++
			}
			pkts := float64(runs * graph.VecSize)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/pkts, "ns/pkt")
			b.ReportMetric(pkts/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}
