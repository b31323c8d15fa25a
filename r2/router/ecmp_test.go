//go:build linux

package router

import (
	"net/netip"
	"testing"

	"github.com/r2go/r2/r2/ctl"
)

// TestMultipath: a route with several paths is one group, shown with its
// paths and weights; routes with the same paths share the group; a bad
// path refuses the whole route; deleting an interface a path uses deletes
// the route.
func TestMultipath(t *testing.T) {
	r := newRig(t, 1)
	paths := []ctl.Path{{NextHop: netip.MustParseAddr("10.1.0.1"), Ifname: "if0", Weight: 1},
		{NextHop: netip.MustParseAddr("10.2.0.1"), Ifname: "if1", Weight: 3}}
	p1, p2 := netip.MustParsePrefix("20.0.0.0/8"), netip.MustParsePrefix("30.0.0.0/8")
	must(t, r.e.AddRoutes([]ctl.Route{{Prefix: p1, Paths: paths}, {Prefix: p2, Paths: paths}}))
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
	must(t, r.e.DelInterface("if1"))
	for _, a := range []string{"20.1.2.3", "2001:db8::1"} {
		if _, err := r.e.LookupRoute(netip.MustParseAddr(a)); err == nil {
			t.Errorf("multipath route to %s through a deleted interface still there", a)
		}
	}
}
