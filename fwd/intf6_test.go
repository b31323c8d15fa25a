package fwd

import (
	"net/netip"
	"testing"
)

func TestInterfaceIPv6Helpers(t *testing.T) {
	a16 := func(s string) [16]byte { return netip.MustParseAddr(s).As16() }
	i := &Interface{Addrs: []netip.Prefix{
		netip.MustParsePrefix("10.1.0.2/24"),
		netip.MustParsePrefix("2001:db8:1::2/64"),
		netip.MustParsePrefix("fe80::2/64"),
		netip.MustParsePrefix("2001:db8:9::2/64"),
	}}
	for _, tc := range []struct {
		name string
		got  bool
		want bool
	}{
		{"HasAddr6 global", i.HasAddr6(a16("2001:db8:1::2")), true},
		{"HasAddr6 link-local", i.HasAddr6(a16("fe80::2")), true},
		{"HasAddr6 other", i.HasAddr6(a16("2001:db8:1::3")), false},
		{"HasAddr6 IPv4-mapped", i.HasAddr6(a16("::ffff:10.1.0.2")), false},
		{"HasAddr still IPv4 only", i.HasAddr(0x0a010002), true},
		{"OnLink6 in prefix", i.OnLink6(a16("2001:db8:1::77")), true},
		{"OnLink6 link-local", i.OnLink6(a16("fe80::1234")), true},
		{"OnLink6 off-link", i.OnLink6(a16("2001:db8:2::1")), false},
		{"solicited-node of global", i.HasSolicitedNode6(a16("ff02::1:ff00:2")), true},
		{"solicited-node of nobody", i.HasSolicitedNode6(a16("ff02::1:ff00:3")), false},
		{"not solicited-node form", i.HasSolicitedNode6(a16("ff02::2:ff00:2")), false},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if ll, ok := i.LinkLocal(); !ok || ll != a16("fe80::2") {
		t.Errorf("LinkLocal = %v %v", ll, ok)
	}
	if g, ok := i.Global6(a16("2001:db8:9::55")); !ok || g != a16("2001:db8:9::2") {
		t.Errorf("Global6 near 9:: = %v %v", netip.AddrFrom16(g), ok)
	}
	if g, ok := i.Global6(a16("2001:db8:7::55")); !ok || g != a16("2001:db8:1::2") {
		t.Errorf("Global6 far = %v %v", netip.AddrFrom16(g), ok)
	}
	v4 := &Interface{Addrs: []netip.Prefix{netip.MustParsePrefix("10.1.0.2/24")}}
	if _, ok := v4.LinkLocal(); ok {
		t.Error("LinkLocal on an IPv4-only interface")
	}
	if _, ok := v4.Global6([16]byte{}); ok {
		t.Error("Global6 on an IPv4-only interface")
	}
	if n := testing.AllocsPerRun(100, func() { i.HasAddr6(a16("2001:db8:9::2")); i.OnLink6(a16("fe80::1")) }); n != 0 {
		t.Errorf("%v allocs", n)
	}
}
