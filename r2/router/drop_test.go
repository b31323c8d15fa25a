//go:build linux

package router

import (
	"net/netip"
	"testing"

	"github.com/r2go/r2/r2/ctl"
)

// TestDropRoutes: a drop route (a routing daemon's blackhole) has no
// interface, shows as such, survives the deletion of interface 0 and is
// deleted by prefix.
func TestDropRoutes(t *testing.T) {
	r := newRig(t, 1)
	p4, p6 := netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8:dead::/48")
	must(t, r.e.AddRoutes([]ctl.Route{{Prefix: p4, Kind: ctl.KindDrop}, {Prefix: p6, Kind: ctl.KindDrop}}))
	for _, a := range []string{"192.0.2.9", "2001:db8:dead::1"} {
		got, err := r.e.LookupRoute(netip.MustParseAddr(a))
		must(t, err)
		if got.Kind != ctl.KindDrop || got.Ifname != "" || got.NextHop.IsValid() {
			t.Errorf("lookup %s: %+v, want a drop route", a, got)
		}
	}
	must(t, r.e.DelInterface("if0")) // R2 ifindex 0
	if got, err := r.e.LookupRoute(netip.MustParseAddr("192.0.2.9")); err != nil || got.Kind != ctl.KindDrop {
		t.Errorf("after deleting if0: %+v %v", got, err)
	}
	must(t, r.e.DelRoutes([]ctl.Route{{Prefix: p4}, {Prefix: p6}}))
	if _, err := r.e.LookupRoute(netip.MustParseAddr("192.0.2.9")); err == nil {
		t.Error("drop route still there after deletion")
	}
}
