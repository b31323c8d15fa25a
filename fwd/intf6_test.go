package fwd

import (
	"net/netip"
	"testing"
)

func TestLinkLocalFromMAC(t *testing.T) {
	for _, tc := range []struct {
		mac  [6]byte
		want string
	}{
		{[6]byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}, "fe80::5054:ff:fe12:3456"},
		{[6]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}, "fe80::ff:fe00:1"},
		{[6]byte{0x00, 0x1b, 0x21, 0x3c, 0x4d, 0x5e}, "fe80::21b:21ff:fe3c:4d5e"},
		{[6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "fe80::fdff:ffff:feff:ffff"},
	} {
		if got := LinkLocalFromMAC(tc.mac); got != netip.MustParseAddr(tc.want) {
			t.Errorf("LinkLocalFromMAC(%x) = %s, want %s", tc.mac, got, tc.want)
		}
	}
}

func a16(s string) [16]byte { return netip.MustParseAddr(s).As16() }

func TestInterface6(t *testing.T) {
	mac := [6]byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
	i := &Interface{Ifindex: 1, Name: "eth0", MAC: mac, MTU: 1500, Addrs: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.1/24"),
		netip.MustParsePrefix("2001:db8:1::1/64"),
		netip.MustParsePrefix("2001:db8:2::1/48"),
	}}
	for _, tc := range []struct {
		name      string
		ip        string
		has, link bool
		src       string
	}{
		{"EUI-64 link-local", "fe80::5054:ff:fe12:3456", true, true, "fe80::5054:ff:fe12:3456"},
		{"other link-local", "fe80::1", false, true, "fe80::5054:ff:fe12:3456"},
		{"global of ours", "2001:db8:1::1", true, true, "2001:db8:1::1"},
		{"on the first prefix", "2001:db8:1::77", false, true, "2001:db8:1::1"},
		{"on the /48", "2001:db8:2:ff::9", false, true, "2001:db8:2::1"},
		{"just off the /48", "2001:db8:3::9", false, false, "fe80::5054:ff:fe12:3456"},
		{"IPv4-mapped", "::ffff:10.0.0.1", false, false, "fe80::5054:ff:fe12:3456"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ip := a16(tc.ip)
			if got := i.HasAddr6(ip); got != tc.has {
				t.Errorf("HasAddr6 = %v", got)
			}
			if got := i.OnLink6(ip); got != tc.link {
				t.Errorf("OnLink6 = %v", got)
			}
			if got := i.SrcFor6(ip); got != a16(tc.src) {
				t.Errorf("SrcFor6 = %s, want %s", netip.AddrFrom16(got), tc.src)
			}
		})
	}
	// A configured link-local address is preferred to the EUI-64 one.
	j := i.Clone()
	j.Addrs = append(j.Addrs, netip.MustParsePrefix("fe80::1/64"))
	if got := j.LinkLocal(); got != a16("fe80::1") {
		t.Errorf("LinkLocal = %s", netip.AddrFrom16(got))
	}
	if !j.HasAddr6(a16("fe80::1")) || !j.HasAddr6(a16("fe80::5054:ff:fe12:3456")) {
		t.Error("configured or EUI-64 link-local not ours")
	}
	if got := len(i.Addrs6()); got != 2 {
		t.Errorf("Addrs6 has %d prefixes", got)
	}
	for _, tc := range []struct {
		mac  [6]byte
		want bool
	}{
		{[6]byte{0x33, 0x33, 0xff, 0x12, 0x34, 0x56}, true},  // EUI-64 link-local
		{[6]byte{0x33, 0x33, 0xff, 0x00, 0x00, 0x01}, true},  // 2001:db8:{1,2}::1
		{[6]byte{0x33, 0x33, 0xff, 0x00, 0x00, 0x02}, false}, // nobody
		{[6]byte{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}, false}, // all-nodes is not solicited-node
		{[6]byte{0x01, 0x00, 0x5e, 0x12, 0x34, 0x56}, false},
	} {
		if got := i.IsSolicitedNodeMAC(tc.mac[:]); got != tc.want {
			t.Errorf("IsSolicitedNodeMAC(%x) = %v", tc.mac, got)
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		i.HasAddr6(a16("2001:db8:2::1"))
		i.SrcFor6(a16("2001:db8:2::5"))
		i.IsSolicitedNodeMAC([]byte{0x33, 0x33, 0xff, 0, 0, 1})
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

func TestSamePrefix6(t *testing.T) {
	a, b := a16("2001:db8::"), a16("2001:db9::")
	for bits, want := range map[int]bool{0: true, 8: true, 16: true, 30: true, 31: true, 32: false, 128: false, 129: false, -1: false} {
		if got := samePrefix6(&a, &b, bits); got != want {
			t.Errorf("bits %d: %v", bits, got)
		}
	}
}

func TestInterfaceIPv6Helpers(t *testing.T) {
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
	if ll := i.LinkLocal(); ll != a16("fe80::2") {
		t.Errorf("LinkLocal = %v", ll)
	}
	if g, ok := i.Global6(a16("2001:db8:9::55")); !ok || g != a16("2001:db8:9::2") {
		t.Errorf("Global6 near 9:: = %v %v", netip.AddrFrom16(g), ok)
	}
	if g, ok := i.Global6(a16("2001:db8:7::55")); !ok || g != a16("2001:db8:1::2") {
		t.Errorf("Global6 far = %v %v", netip.AddrFrom16(g), ok)
	}
	v4 := &Interface{Addrs: []netip.Prefix{netip.MustParsePrefix("10.1.0.2/24")}}
	if ll := v4.LinkLocal(); ll != LinkLocalFromMAC(v4.MAC).As16() {
		t.Error("LinkLocal of an IPv4-only interface is not its EUI-64 address")
	}
	if _, ok := v4.Global6([16]byte{}); ok {
		t.Error("Global6 on an IPv4-only interface")
	}
	if n := testing.AllocsPerRun(100, func() { i.HasAddr6(a16("2001:db8:9::2")); i.OnLink6(a16("fe80::1")) }); n != 0 {
		t.Errorf("%v allocs", n)
	}
}
