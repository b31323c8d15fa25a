//go:build linux

package router

import (
	"net/netip"
	"testing"
	"time"

	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/r2/engine"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/routedata"
)

// BenchmarkPathECMPAlternating is the whole path of BenchmarkIPv4Path and
// BenchmarkIPv6Path with the tier1 table single-path, 10% multipath and
// 100% multipath (two next hops on if1, chosen as in benchRoute), all three
// tables built up front and handed to the one forwarding thread in turn,
// 100 graph runs (25,600 packets) each, summing each table's thread CPU
// time (threadClock: getrusage lags up to a tick, as long as one turn). Alternating every few milliseconds cancels the machine's drift,
// which between sub-benchmarks run seconds apart exceeds the cost
// measured. Reports cpu-ns per delivered packet of each table and the
// ratio to single-path (x-NAME).
func BenchmarkPathECMPAlternating(b *testing.B) {
	path, err := routedata.Find()
	if err != nil {
		b.Fatal(err)
	}
	shares := []int{0, 10, 100}
	names := []string{"single", "ecmp10", "ecmp100"}
	for _, fam := range []string{"ipv4", "ipv6"} {
		b.Run(fam, func(b *testing.B) {
			r := newPathRig6(b)
			nh, nh2 := netip.MustParseAddr("10.2.0.1"), netip.MustParseAddr("10.2.0.3")
			r.addNeighbour(b, "if1", nh2)
			r.addNeighbour(b, "if1", h3v6)
			var frames [][]byte
			var publish []func()
			if fam == "ipv4" {
				ps, err := routedata.LoadIPv4(path)
				if err != nil {
					b.Fatal(err)
				}
				var routed []netip.Prefix
				for _, p := range ps {
					if p.Bits() > 0 && !p.Overlaps(netip.MustParsePrefix("10.0.0.0/8")) {
						routed = append(routed, p)
					}
				}
				g, err := fwd.NewGroup([]fwd.Adjacency{{Kind: fwd.AdjGateway, Ifindex: 1, NextHop: fwd.IPv4ToU32(nh)},
					{Kind: fwd.AdjGateway, Ifindex: 1, NextHop: fwd.IPv4ToU32(nh2)}}, nil)
				if err != nil {
					b.Fatal(err)
				}
				for _, share := range shares {
					rib := fwd.NewIPv4RIB(func(*fwd.IPv4Table) {})
					rs := make([]fwd.Route, len(routed))
					for i, p := range routed {
						rs[i] = fwd.Route{Prefix: p, Adj: fwd.Adjacency{Kind: fwd.AdjGateway, Ifindex: 1, NextHop: fwd.IPv4ToU32(nh)}}
						if len(benchRoute(p, share, nh, nh2).Paths) > 0 {
							rs[i].Adj = fwd.Multipath(g)
						}
					}
					if err := rib.AddBatch(rs); err != nil {
						b.Fatal(err)
					}
					publish = append(publish, func() { r.e.Engine().Publish(msg.IPv4Table{Table: rib.Active()}) })
				}
				frames = r.frames(routedata.RandomHosts(routed, 8192, 2))
			} else {
				ps, err := routedata.LoadIPv6(path)
				if err != nil {
					b.Fatal(err)
				}
				own := netip.MustParsePrefix("2001:db8::/32")
				var routed []netip.Prefix
				seen := map[netip.Prefix]bool{}
				for _, p := range ps {
					if p.Bits() > 0 && !p.Overlaps(own) && !p.Addr().IsMulticast() && !p.Addr().IsLinkLocalUnicast() && !seen[p] {
						seen[p] = true
						routed = append(routed, p)
					}
				}
				g, err := fwd.NewGroup6([]fwd.Adjacency6{{Kind: fwd.AdjGateway, Ifindex: 1, NextHop: h2v6.As16()},
					{Kind: fwd.AdjGateway, Ifindex: 1, NextHop: h3v6.As16()}}, nil)
				if err != nil {
					b.Fatal(err)
				}
				for _, share := range shares {
					rib := fwd.NewIPv6RIB(func(*fwd.IPv6Table) {})
					rs := make([]fwd.Route6, len(routed))
					for i, p := range routed {
						rs[i] = fwd.Route6{Prefix: p, Adj: fwd.Adjacency6{Kind: fwd.AdjGateway, Ifindex: 1, NextHop: h2v6.As16()}}
						if len(benchRoute(p, share, h2v6, h3v6).Paths) > 0 {
							rs[i].Adj = fwd.Multipath6(g)
						}
					}
					if err := rib.AddBatch(rs); err != nil {
						b.Fatal(err)
					}
					publish = append(publish, func() { r.e.Engine().Publish(msg.IPv6Table{Table: rib.Active()}) })
				}
				frames = frames6(routedata.RandomHosts(routed, 8192, 2))
			}
			var cpu [3]time.Duration
			var pkts [3]uint64
			var allocs float64
			turn := func(v int, warm bool) {
				publish[v]()
				r.e.Engine().OnThread(0, func(t *engine.Thread) {
					r.d0.Generate(frames)
					defer r.d0.Generate(nil)
					if warm {
						for range 100 {
							t.Graph().Run()
						}
						allocs = max(allocs, testing.AllocsPerRun(20, func() { t.Graph().Run() }))
						return
					}
					before := r.d1.Stats().TxPkts
					c0 := threadClock()
					for range 100 {
						t.Graph().Run()
					}
					cpu[v] += threadClock() - c0
					pkts[v] += r.d1.Stats().TxPkts - before
				})
			}
			for v := range publish {
				turn(v, true)
			}
			if allocs != 0 {
				b.Fatalf("%v allocations per graph run", allocs)
			}
			for b.Loop() {
				for v := range publish {
					turn(v, false)
				}
			}
			for v, name := range names {
				if pkts[v] == 0 {
					b.Fatalf("%s: nothing delivered", name)
				}
				ns := float64(cpu[v].Nanoseconds()) / float64(pkts[v])
				b.ReportMetric(ns, "cpu-ns/pkt-"+name)
				if v > 0 {
					b.ReportMetric(ns/(float64(cpu[0].Nanoseconds())/float64(pkts[0])), "x-"+name)
				}
			}
			b.Logf("%s: %d, %d, %d packets delivered", fam, pkts[0], pkts[1], pkts[2])
		})
	}
}
