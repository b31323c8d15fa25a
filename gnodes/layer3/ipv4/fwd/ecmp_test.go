package ipv4fwd_test

import (
	"fmt"
	"math/rand"
	"net/netip"
	"testing"

	"github.com/r2go/r2/fwd"
	ipv4fwd "github.com/r2go/r2/gnodes/layer3/ipv4/fwd"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
	"github.com/r2go/r2/r2/routedata"
)

func gw(ifindex int32, nh string) fwd.Adjacency {
	return fwd.Adjacency{Kind: fwd.AdjGateway, Ifindex: ifindex, NextHop: gt.IP(nh)}
}

func group(t testing.TB, weights []int, members ...fwd.Adjacency) fwd.Adjacency {
	g, err := fwd.NewGroup(members, weights)
	if err != nil {
		t.Fatal(err)
	}
	return fwd.Multipath(g)
}

// ecmpSetup is IPv4Fwd with 20.0.0.0/8 through adjacency a.
func ecmpSetup(t *testing.T, a fwd.Adjacency) (*gt.Harness, *gt.Sink) {
	rib := newRIB(t, nil)
	if err := rib.Add(fwd.Route{Prefix: netip.MustParsePrefix("20.0.0.0/8"), Adj: a}); err != nil {
		t.Fatal(err)
	}
	h, mux, _ := setup(t, rib.Active())
	return h, mux
}

// flowPkt is a UDP (or TCP) packet of flow i: sources and ports vary.
func flowPkt(i int, proto uint8) []byte {
	src := fmt.Sprintf("10.1.%d.%d", 1+i/250, 1+i%250)
	dst := fmt.Sprintf("20.%d.0.1", i%7)
	b := gt.IPv4(gt.IP(src), gt.IP(dst), 64, proto, gt.UDP(uint16(10000+i), 443, gt.Bytes(20)))
	return b
}

// spread forwards one packet of each of n flows and returns the next hops
// chosen, by flow.
func spread(t *testing.T, h *gt.Harness, mux *gt.Sink, n int, mk func(i int) []byte) []uint32 {
	out := make([]uint32, 0, n)
	for i := 0; i < n; i += 200 {
		for j := i; j < min(n, i+200); j++ {
			h.Inject(names.IPv4Fwd, pkt(h, mk(j), 0))
		}
		h.RunUntilIdle()
		ps := mux.Take()
		for _, p := range ps {
			out = append(out, p.NextHop)
		}
		h.Free(ps...)
	}
	if len(out) != n {
		t.Fatalf("%d of %d packets forwarded", len(out), n)
	}
	return out
}

func TestECMPSpread(t *testing.T) {
	for _, members := range [][]fwd.Adjacency{
		{gw(1, "10.1.0.10"), gw(2, "10.2.0.10")},
		{gw(1, "10.1.0.10"), gw(1, "10.1.0.11"), gw(2, "10.2.0.10"), gw(2, "10.2.0.11")},
	} {
		t.Run(fmt.Sprintf("%d next hops", len(members)), func(t *testing.T) {
			h, mux := ecmpSetup(t, group(t, nil, members...))
			const flows = 1000
			got := spread(t, h, mux, flows, func(i int) []byte { return flowPkt(i, hdr.ProtoUDP) })
			count := map[uint32]int{}
			for _, nh := range got {
				count[nh]++
			}
			even := flows / len(members)
			for _, m := range members {
				c := count[m.NextHop]
				t.Logf("%s: %d flows (even: %d)", fwd.U32ToIPv4(m.NextHop), c, even)
				if c < even*9/10 || c > even*11/10 {
					t.Errorf("%s carries %d of %d flows; want %d ± 10%%", fwd.U32ToIPv4(m.NextHop), c, flows, even)
				}
			}
			// A flow keeps its next hop.
			again := spread(t, h, mux, flows, func(i int) []byte { return flowPkt(i, hdr.ProtoUDP) })
			for i := range got {
				if got[i] != again[i] {
					t.Fatalf("flow %d moved from %s to %s", i, fwd.U32ToIPv4(got[i]), fwd.U32ToIPv4(again[i]))
				}
			}
			h.Done()
		})
	}
}

func TestECMPWeights(t *testing.T) {
	h, mux := ecmpSetup(t, group(t, []int{1, 3}, gw(1, "10.1.0.10"), gw(2, "10.2.0.10")))
	const flows = 4000
	got := spread(t, h, mux, flows, func(i int) []byte { return flowPkt(i, hdr.ProtoTCP) })
	heavy := 0
	for _, nh := range got {
		if nh == gt.IP("10.2.0.10") {
			heavy++
		}
	}
	if share := float64(heavy) / flows; share < 0.70 || share > 0.80 {
		t.Errorf("weight 3 of 4 carries %.1f%% of the flows; want 75%% ± 5", 100*share)
	}
	h.Done()
}

// Fragments of a flow hash on addresses only: every fragment (first or
// not, whatever its "ports") takes the same path.
func TestECMPFragments(t *testing.T) {
	h, mux := ecmpSetup(t, group(t, nil, gw(1, "10.1.0.10"), gw(1, "10.1.0.11"), gw(2, "10.2.0.10"), gw(2, "10.2.0.11")))
	got := spread(t, h, mux, 64, func(i int) []byte {
		b := gt.IPv4(gt.IP("10.1.0.1"), gt.IP("20.1.2.3"), 64, hdr.ProtoUDP, gt.UDP(uint16(i), uint16(i*7), gt.Bytes(20)))
		gt.SetFlagsFrag(b, hdr.IPv4FlagMF|uint16(i%3))
		return b
	})
	for _, nh := range got[1:] {
		if nh != got[0] {
			t.Fatalf("fragments of one packet took %s and %s", fwd.U32ToIPv4(got[0]), fwd.U32ToIPv4(nh))
		}
	}
	h.Done()
}

// A member whose interface is down carries nothing: the others take its
// flows.
func TestECMPInterfaceDown(t *testing.T) {
	h, mux := ecmpSetup(t, group(t, nil, gw(1, "10.1.0.10"), gw(3, "10.3.0.10"), gw(2, "10.2.0.10")))
	got := spread(t, h, mux, 300, func(i int) []byte { return flowPkt(i, hdr.ProtoUDP) })
	n := map[uint32]int{}
	for _, nh := range got {
		n[nh]++
	}
	if n[gt.IP("10.3.0.10")] != 0 || n[gt.IP("10.1.0.10")] == 0 || n[gt.IP("10.2.0.10")] == 0 {
		t.Errorf("next hops used with eth2 down: %v", n)
	}
	h.Done()
}

// BenchmarkIPv4FwdTier1 forwards random destinations of the tier1 table
// through IPv4Fwd, every route single-path or every route through a group
// of 2 or 4 next hops. The ECMP cost is the flow hash and the member pick.
func BenchmarkIPv4FwdTier1(b *testing.B) {
	path, err := routedata.Find()
	if err != nil {
		b.Fatal(err)
	}
	ps, err := routedata.LoadIPv4(path)
	if err != nil {
		b.Fatal(err)
	}
	hosts := routedata.RandomHosts(ps, 4096, 1)
	for _, tc := range []struct {
		name string
		adj  func(b *testing.B) fwd.Adjacency
	}{
		{"single", func(*testing.B) fwd.Adjacency { return gw(2, "10.2.0.10") }},
		{"ecmp2", func(b *testing.B) fwd.Adjacency { return group(b, nil, gw(1, "10.1.0.10"), gw(2, "10.2.0.10")) }},
		{"ecmp4", func(b *testing.B) fwd.Adjacency {
			return group(b, nil, gw(1, "10.1.0.10"), gw(1, "10.1.0.11"), gw(2, "10.2.0.10"), gw(2, "10.2.0.11"))
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			rib := fwd.NewIPv4RIB(func(*fwd.IPv4Table) {})
			a := tc.adj(b)
			rs := make([]fwd.Route, 0, len(ps))
			for _, p := range ps {
				if !p.Overlaps(netip.MustParsePrefix("10.0.0.0/8")) {
					rs = append(rs, fwd.Route{Prefix: p, Adj: a})
				}
			}
			if err := rib.AddBatch(rs); err != nil {
				b.Fatal(err)
			}
			h := gt.New(b, gt.Options{PoolSize: 1024})
			gt.Add(h, ipv4fwd.New(rib.Active(), intfs()))
			mux := h.Sink(names.EncapMux)
			h.Sink(names.IPv4Local)
			rng := rand.New(rand.NewSource(2))
			frames := make([][]byte, len(hosts))
			for i, d := range hosts {
				frames[i] = gt.Ether(gt.MAC("02:00:00:00:00:01"), gt.MAC("02:00:00:00:00:99"), hdr.EtherTypeIPv4,
					gt.IPv4(gt.IP("10.1.0.1"), fwd.IPv4ToU32(d), 64, hdr.ProtoUDP, gt.UDP(uint16(rng.Intn(65536)), 53, gt.Bytes(18))))
			}
			pkts := make([]*packet.Packet, 0, 256)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				pkts = pkts[:0]
				for range 256 {
					p := h.L3(frames[i&(len(frames)-1)])
					p.InIfindex = 1
					pkts = append(pkts, p)
					i++
				}
				h.Inject(names.IPv4Fwd, pkts...)
				h.RunUntilIdle()
				h.Free(mux.Take()...)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*256), "ns/pkt")
		})
	}
}
