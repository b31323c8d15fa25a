package pathtest

import (
	"net/netip"
	"testing"

	"github.com/r2go/r2/fwd"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/msg"
)

// ecmpWorld is generated() with the default route (which the generated
// destinations take) spread over two next hops on eth1.
func ecmpWorld(t testing.TB) *world {
	w := generated(t)
	g, err := fwd.NewGroup([]fwd.Adjacency{
		{Kind: fwd.AdjGateway, Ifindex: 1, NextHop: gt.IP("10.2.0.1")},
		{Kind: fwd.AdjGateway, Ifindex: 1, NextHop: gt.IP("10.2.0.3")},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := fwd.NewIPv4RIB(func(*fwd.IPv4Table) {})
	conn := func(p string, ifindex int32) fwd.Route {
		return fwd.Route{Prefix: netip.MustParsePrefix(p), Adj: fwd.Adjacency{Kind: fwd.AdjConnected, Ifindex: ifindex}}
	}
	if err := r.AddBatch([]fwd.Route{conn("10.1.0.0/24", 0), conn("10.2.0.0/24", 1),
		{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Adj: fwd.Multipath(g)}}); err != nil {
		t.Fatal(err)
	}
	w.h.Control(msg.IPv4Table{Table: r.Active()})
	w.h.Control(msg.MACLearned{Ifindex: 1, IP: gt.IP("10.2.0.3"), MAC: h2MAC})
	return w
}

// TestZeroAllocsECMP: the whole path with a multipath route allocates
// nothing either.
func TestZeroAllocsECMP(t *testing.T) {
	w := ecmpWorld(t)
	for i := 0; i < 10; i++ {
		w.h.Run()
	}
	before := w.drv1.Stats().TxPkts
	if a := testing.AllocsPerRun(200, func() { w.h.Run() }); a != 0 {
		t.Errorf("%v allocations per Run, want 0", a)
	}
	if sent := w.drv1.Stats().TxPkts - before; sent < 200*(256-32) { // as in TestZeroAllocs
		t.Errorf("only %d packets forwarded in 201 runs", sent)
	}
	w.close()
}

// BenchmarkForwardPathECMP is BenchmarkForwardPath with the destinations'
// route spread over two next hops: compare the two for the cost of ECMP.
func BenchmarkForwardPathECMP(b *testing.B) {
	w := ecmpWorld(b)
	for i := 0; i < 10; i++ {
		w.h.Run()
	}
	before := w.drv1.Stats().TxPkts
	b.ReportAllocs()
	for b.Loop() {
		w.h.Run()
	}
	pkts := w.drv1.Stats().TxPkts - before
	b.ReportMetric(float64(pkts)/b.Elapsed().Seconds(), "pkts/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(pkts), "ns/pkt")
	w.close()
}
