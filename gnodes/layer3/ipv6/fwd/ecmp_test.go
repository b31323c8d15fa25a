package ipv6fwd_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/r2go/r2/fwd"
	v6 "github.com/r2go/r2/gnodes/internal/v6test"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/names"
)

func gw6(ifindex int32, nh string) fwd.Adjacency6 {
	return fwd.Adjacency6{Kind: fwd.AdjGateway, Ifindex: ifindex, NextHop: netip.MustParseAddr(nh).As16()}
}

// TestECMP: flows to a multipath route spread evenly over its paths, keep
// their path, and avoid a path whose interface is down (eth2, ifindex 3).
func TestECMP(t *testing.T) {
	for _, tc := range []struct {
		name    string
		members []fwd.Adjacency6
		unused  string // a next hop that must carry nothing
	}{
		{name: "2 paths", members: []fwd.Adjacency6{gw6(1, "fe80::a"), gw6(2, "fe80::b")}},
		{name: "4 paths", members: []fwd.Adjacency6{gw6(1, "fe80::a"), gw6(1, "fe80::c"), gw6(2, "fe80::b"), gw6(2, "fe80::d")}},
		{name: "one down", members: []fwd.Adjacency6{gw6(1, "fe80::a"), gw6(3, "fe80::e"), gw6(2, "fe80::b")}, unused: "fe80::e"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := fwd.NewGroup6(tc.members, nil)
			if err != nil {
				t.Fatal(err)
			}
			rib := fwd.NewIPv6RIB(func(*fwd.IPv6Table) {})
			if err := rib.AddBatch(append(append([]fwd.Route6(nil), v6.Routes...),
				fwd.Route6{Prefix: netip.MustParsePrefix("2001:db8:77::/48"), Adj: fwd.Multipath6(g)})); err != nil {
				t.Fatal(err)
			}
			h, mux, _ := setup(t, rib.Active())
			const flows = 1000
			run := func() []netip.Addr {
				var out []netip.Addr
				for i := 0; i < flows; i += 200 {
					for j := i; j < i+200; j++ {
						src := fmt.Sprintf("2001:db8:1::%x", 1+j%300)
						ip := v6.IPv6(src, fmt.Sprintf("2001:db8:77::%x", 1+j%7), 64, hdr.ProtoUDP,
							v6.UDP(src, "2001:db8:77::1", uint16(10000+j), 443, v6.Bytes(20)))
						h.Inject(names.IPv6Fwd, pkt(h, ip, 0))
					}
					h.RunUntilIdle()
					ps := mux.Take()
					for _, p := range ps {
						out = append(out, netip.AddrFrom16(p.NextHop6))
					}
					h.Free(ps...)
				}
				return out
			}
			got := run()
			if len(got) != flows {
				t.Fatalf("%d of %d forwarded", len(got), flows)
			}
			count := map[netip.Addr]int{}
			for _, a := range got {
				count[a]++
			}
			used := len(tc.members)
			if tc.unused != "" {
				used--
				if c := count[netip.MustParseAddr(tc.unused)]; c != 0 {
					t.Errorf("%d flows through the down interface", c)
				}
			}
			for _, m := range tc.members {
				a := netip.AddrFrom16(m.NextHop)
				if a.String() == tc.unused {
					continue
				}
				even := flows / used
				t.Logf("%s: %d flows (even: %d)", a, count[a], even)
				if tc.unused == "" && (count[a] < even*9/10 || count[a] > even*11/10) {
					t.Errorf("%s carries %d of %d flows; want %d ± 10%%", a, count[a], flows, even)
				}
			}
			again := run()
			for i := range got {
				if got[i] != again[i] {
					t.Fatalf("flow %d moved from %s to %s", i, got[i], again[i])
				}
			}
			h.Done()
		})
	}
}
