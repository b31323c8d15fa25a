//go:build linux

package router

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/r2go/r2/r2/ctl"
	"github.com/r2go/r2/r2/driver/mem"
	"github.com/r2go/r2/r2/names"
)

// addIf2 attaches a third interface, if2 (10.3.0.2/24, 2001:db8:3::2/64).
func (r *rig) addIf2(t *testing.T) {
	t.Helper()
	d2, _ := mem.New("if2", 64)
	must(t, r.e.AddInterface(Interface{Name: "if2", Ifindex: -1, MAC: [6]byte{2, 0, 0, 0, 0, 0x22}, Owner: 0}, d2))
	must(t, r.e.AddAddr("if2", netip.MustParsePrefix("10.3.0.2/24")))
	must(t, r.e.AddAddr("if2", netip.MustParsePrefix("2001:db8:3::2/64")))
}

// TestMultipath: a route with several paths is one group, shown with its
// paths and weights; routes with the same paths share the group; a bad
// path refuses the whole route; deleting an interface a path uses takes
// only that path out (a group of the others, or a single-path route),
// logged and counted, and the groups left go with their last routes.
func TestMultipath(t *testing.T) {
	r := newRig(t, 1)
	r.addIf2(t)
	paths := []ctl.Path{{NextHop: netip.MustParseAddr("10.1.0.1"), Ifname: "if0", Weight: 1},
		{NextHop: netip.MustParseAddr("10.2.0.1"), Ifname: "if1", Weight: 3}}
	paths3 := append(append([]ctl.Path(nil), paths...), ctl.Path{NextHop: netip.MustParseAddr("10.3.0.1"), Ifname: "if2", Weight: 2})
	p1, p2, p3 := netip.MustParsePrefix("20.0.0.0/8"), netip.MustParsePrefix("30.0.0.0/8"), netip.MustParsePrefix("50.0.0.0/8")
	must(t, r.e.AddRoutes([]ctl.Route{{Prefix: p1, Paths: paths}, {Prefix: p2, Paths: paths}, {Prefix: p3, Paths: paths3}}))
	got, err := r.e.LookupRoute(netip.MustParseAddr("20.1.2.3"))
	must(t, err)
	want := ctl.Route{Prefix: p1, NextHop: paths[0].NextHop, Ifname: "if0", Kind: ctl.KindGateway, Paths: paths}
	if !got.Equal(want) {
		t.Errorf("lookup: %v, want %v", got, want)
	}
	r.e.mu.Lock()
	a1, _ := r.e.rib.Get(p1)
	a2, _ := r.e.rib.Get(p2)
	r.e.mu.Unlock()
	if a1.Adj.Group == nil || a1.Adj.Group != a2.Adj.Group {
		t.Error("routes with the same paths do not share one group")
	}
	// A later route with the same paths, in a request of its own, too.
	p4 := netip.MustParsePrefix("60.0.0.0/8")
	must(t, r.e.AddRoutes([]ctl.Route{{Prefix: p4, Paths: paths}}))
	r.e.mu.Lock()
	a4, _ := r.e.rib.Get(p4)
	r.e.mu.Unlock()
	if a4.Adj.Group != a1.Adj.Group {
		t.Error("a route added later with the same paths has another group")
	}
	must(t, r.e.DelRoutes([]ctl.Route{{Prefix: p4}}))
	bad := []ctl.Path{paths[0], {NextHop: netip.MustParseAddr("10.9.0.1"), Ifname: "if1"}}
	if err := r.e.AddRoutes([]ctl.Route{{Prefix: netip.MustParsePrefix("40.0.0.0/8"), Paths: bad}}); err == nil {
		t.Error("a path with an off-link next hop was accepted")
	}
	p6 := netip.MustParsePrefix("2001:db8::/32")
	paths6 := []ctl.Path{{NextHop: netip.MustParseAddr("fe80::1"), Ifname: "if0", Weight: 1},
		{NextHop: netip.MustParseAddr("fe80::2"), Ifname: "if1", Weight: 2}}
	must(t, r.e.AddRoutes([]ctl.Route{{Prefix: p6, Paths: paths6}}))
	got6, err := r.e.LookupRoute(netip.MustParseAddr("2001:db8::1"))
	must(t, err)
	if want6 := (ctl.Route{Prefix: p6, NextHop: paths6[0].NextHop, Ifname: "if0", Kind: ctl.KindGateway, Paths: paths6}); !got6.Equal(want6) {
		t.Errorf("lookup: %v, want %v", got6, want6)
	}
	groups := func() (uint64, uint64) {
		return r.counter(names.Counter(names.Control, names.ECMPGroups)), r.counter(names.Counter(names.Control, names.ECMPGroups6))
	}
	if g4, g6 := groups(); g4 != 2 || g6 != 1 {
		t.Errorf("group counters %d, %d; want 2, 1", g4, g6)
	}

	must(t, r.e.DelInterface("if1"))
	for _, tc := range []struct {
		addr string
		want ctl.Route
	}{
		{"20.1.2.3", ctl.Route{Prefix: p1, NextHop: paths[0].NextHop, Ifname: "if0", Kind: ctl.KindGateway}},
		{"30.1.2.3", ctl.Route{Prefix: p2, NextHop: paths[0].NextHop, Ifname: "if0", Kind: ctl.KindGateway}},
		{"50.1.2.3", ctl.Route{Prefix: p3, NextHop: paths[0].NextHop, Ifname: "if0", Kind: ctl.KindGateway,
			Paths: []ctl.Path{paths3[0], paths3[2]}}},
		{"2001:db8::1", ctl.Route{Prefix: p6, NextHop: paths6[0].NextHop, Ifname: "if0", Kind: ctl.KindGateway}},
	} {
		got, err := r.e.LookupRoute(netip.MustParseAddr(tc.addr))
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("after deleting if1: %s takes %v (%v), want %v", tc.addr, got, err, tc.want)
		}
	}
	if n := r.counter(names.Counter(names.Control, names.ECMPShrunk)); n != 4 {
		t.Errorf("%s = %d, want 4", names.ECMPShrunk, n)
	}
	if g4, g6 := groups(); g4 != 1 || g6 != 0 {
		t.Errorf("group counters %d, %d after deleting if1; want 1, 0", g4, g6)
	}
	// The last path of the 2-path route through if2 goes with if2; the
	// route through if0 alone with if0.
	must(t, r.e.DelInterface("if2"))
	if got, err := r.e.LookupRoute(netip.MustParseAddr("50.1.2.3")); err != nil || len(got.Paths) != 0 || got.Ifname != "if0" {
		t.Errorf("after deleting if2: %v, %v", got, err)
	}
	must(t, r.e.DelInterface("if0"))
	for _, a := range []string{"20.1.2.3", "30.1.2.3", "50.1.2.3", "2001:db8::1"} {
		if got, err := r.e.LookupRoute(netip.MustParseAddr(a)); err == nil {
			t.Errorf("route %v left with no interface", got)
		}
	}
	if g4, g6 := groups(); g4 != 0 || g6 != 0 {
		t.Errorf("group counters %d, %d at the end", g4, g6)
	}
}

// TestMultipathGroupLifetime adds, replaces and deletes 100,000 multipath
// routes of each family with varying sets of paths through the router, as
// a follower under BGP churn would: the live group count (the
// Control/ecmp_groups counters) follows the routes and returns to 0.
func TestMultipathGroupLifetime(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	r := newRig(t, 2)
	r.addIf2(t)
	ifs := []string{"if0", "if1", "if2"}
	rng := rand.New(rand.NewPCG(9, 10))
	// 2-4 of 9 next hops (3 per interface), weights 1..3.
	paths := func(v6 bool) []ctl.Path {
		k := 2 + rng.IntN(3)
		out := make([]ctl.Path, k)
		for i, j := range rng.Perm(9)[:k] {
			nh := netip.MustParseAddr(fmt.Sprintf("10.%d.0.%d", 1+j/3, 10+j%3))
			if v6 {
				nh = netip.MustParseAddr(fmt.Sprintf("fe80::%d", 10+j))
			}
			out[i] = ctl.Path{NextHop: nh, Ifname: ifs[j/3], Weight: 1 + rng.IntN(3)}
		}
		return out
	}
	prefix := func(i int, v6 bool) netip.Prefix {
		if v6 {
			return netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 16), byte(i >> 8), byte(i)}), 56)
		}
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{20 + byte(i>>16), byte(i >> 8), byte(i), 0}), 24)
	}
	live := func() (int, int) {
		r.e.mu.Lock()
		defer r.e.mu.Unlock()
		g4, g6 := r.e.rib.GroupStats(), r.e.rib6.GroupStats()
		if c := r.counter(names.Counter(names.Control, names.ECMPGroups)); c != uint64(g4.Live) {
			t.Fatalf("counter %d, RIB %d live IPv4 groups", c, g4.Live)
		}
		if c := r.counter(names.Counter(names.Control, names.ECMPGroups6)); c != uint64(g6.Live) {
			t.Fatalf("counter %d, RIB %d live IPv6 groups", c, g6.Live)
		}
		return g4.Live, g6.Live
	}
	const batch = 4096 // r2follow's batch
	load := func(every int) {
		var rs []ctl.Route
		for i := 0; i < n; i += every {
			rs = append(rs, ctl.Route{Prefix: prefix(i, false), Paths: paths(false)}, ctl.Route{Prefix: prefix(i, true), Paths: paths(true)})
			if len(rs) >= batch {
				must(t, r.e.AddRoutes(rs))
				rs = rs[:0]
			}
		}
		must(t, r.e.AddRoutes(rs))
	}
	load(1)
	g4, g6 := live()
	if g4 == 0 || g6 == 0 {
		t.Fatalf("%d, %d groups after adding %d routes of each family", g4, g6, n)
	}
	load(2) // every other route gets another set of paths
	live()
	var rs []ctl.Route
	for i := 0; i < n; i++ {
		rs = append(rs, ctl.Route{Prefix: prefix(i, false)}, ctl.Route{Prefix: prefix(i, true)})
		if len(rs) >= batch {
			must(t, r.e.DelRoutes(rs))
			rs = rs[:0]
		}
	}
	must(t, r.e.DelRoutes(rs))
	if g4, g6 := live(); g4 != 0 || g6 != 0 {
		t.Fatalf("%d IPv4 and %d IPv6 groups left after deleting every route", g4, g6)
	}
	r.e.mu.Lock()
	s4, s6 := r.e.rib.GroupStats(), r.e.rib6.GroupStats()
	r.e.mu.Unlock()
	if s4.Made != s4.Freed || s6.Made != s6.Freed {
		t.Errorf("made and freed differ: %+v, %+v", s4, s6)
	}
	t.Logf("%d routes of each family; groups made and freed: IPv4 %d, IPv6 %d; live after the first load %d, %d", n, s4.Made, s6.Made, g4, g6)
}
