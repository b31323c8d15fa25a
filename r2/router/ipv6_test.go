//go:build linux

package router

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/r2go/r2/r2/ctl"
	"github.com/r2go/r2/r2/hdr"
)

func a16(s string) [16]byte { return netip.MustParseAddr(s).As16() }

// ip6Frame builds an Ethernet/IPv6 frame with payload (next header nh).
func ip6Frame(dstMAC, srcMAC [6]byte, src, dst string, hop uint8, nh uint8, payload []byte) []byte {
	b := make([]byte, hdr.EtherLen+hdr.IPv6Len+len(payload))
	eth := hdr.Ether(b)
	eth.SetDst(dstMAC)
	eth.SetSrc(srcMAC)
	eth.SetType(hdr.EtherTypeIPv6)
	s, d := a16(src), a16(dst)
	hdr.PutIPv6(b[hdr.EtherLen:], 0, len(payload), nh, hop, &s, &d)
	copy(b[hdr.EtherLen+hdr.IPv6Len:], payload)
	return b
}

// icmp6Frame builds an ICMPv6 message frame with a valid checksum.
func icmp6Frame(dstMAC, srcMAC [6]byte, src, dst string, hop uint8, msg []byte) []byte {
	f := ip6Frame(dstMAC, srcMAC, src, dst, hop, hdr.ProtoICMPv6, msg)
	ip := hdr.IPv6(f[hdr.EtherLen:])
	m := f[hdr.EtherLen+hdr.IPv6Len:]
	binary.BigEndian.PutUint16(m[2:], 0)
	binary.BigEndian.PutUint16(m[2:], hdr.ICMPv6Checksum(ip.Src(), ip.Dst(), m))
	return f
}

// na is h's Neighbor Advertisement for target, to R2's MAC.
func na(dstMAC, hMAC [6]byte, target, to string) []byte {
	m := make([]byte, 32)
	m[0] = hdr.ICMPv6NeighAdvert
	m[4] = 0x60 // solicited, override
	t := a16(target)
	copy(m[8:24], t[:])
	m[24], m[25] = 2, 1 // target link-layer address option
	copy(m[26:32], hMAC[:])
	return icmp6Frame(dstMAC, hMAC, target, to, 255, m)
}

func newRig6(t *testing.T, threads int) *rig {
	t.Helper()
	r := newRig(t, threads)
	must(t, r.e.AddAddr("if0", netip.MustParsePrefix("2001:db8:1::2/64")))
	must(t, r.e.AddAddr("if1", netip.MustParsePrefix("2001:db8:2::2/64")))
	return r
}

// waitNS waits for R2's Neighbor Solicitation for target on d.
func (r *rig) answerNS(t *testing.T, target string) {
	t.Helper()
	f := waitFrames(t, r.d1, 1)[0]
	eth := hdr.Ether(f)
	ip := hdr.IPv6(f[hdr.EtherLen:])
	m := f[hdr.EtherLen+hdr.IPv6Len:]
	tgt := a16(target)
	sn := hdr.SolicitedNode(tgt[:])
	if eth.Type() != hdr.EtherTypeIPv6 || ip.NextHeader() != hdr.ProtoICMPv6 || m[0] != hdr.ICMPv6NeighSolicit ||
		[16]byte(ip.Dst()) != sn || [16]byte(m[8:24]) != a16(target) || ip.HopLimit() != 255 {
		t.Fatalf("want a neighbour solicitation for %s, got %x", target, f)
	}
	r.d1.Inject(na(macR1, macH2, target, netip.AddrFrom16([16]byte(ip.Src())).String()))
}

// IPv6 through two threads: neighbour discovery, hop limit, MACs.
func TestForwardIPv6(t *testing.T) {
	for _, threads := range []int{1, 2} {
		t.Run(map[int]string{1: "one-thread", 2: "two-threads"}[threads], func(t *testing.T) {
			r := newRig6(t, threads)
			udp := make([]byte, 8+50)
			binary.BigEndian.PutUint16(udp[4:], uint16(len(udp)))
			r.d0.Inject(ip6Frame(macR0, macH1, "2001:db8:1::1", "2001:db8:2::1", 64, hdr.ProtoUDP, udp))
			r.answerNS(t, "2001:db8:2::1")
			check := func(f []byte, hop uint8) {
				t.Helper()
				eth := hdr.Ether(f)
				ip := hdr.IPv6(f[hdr.EtherLen:])
				if !hdr.MACEqual(eth.Dst(), macH2) || !hdr.MACEqual(eth.Src(), macR1) || eth.Type() != hdr.EtherTypeIPv6 ||
					ip.HopLimit() != hop || [16]byte(ip.Dst()) != a16("2001:db8:2::1") {
					t.Fatalf("bad forwarded frame %x", f)
				}
			}
			check(waitFrames(t, r.d1, 1)[0], 63)
			for i := 0; i < 20; i++ {
				r.d0.Inject(ip6Frame(macR0, macH1, "2001:db8:1::1", "2001:db8:2::1", 9, hdr.ProtoUDP, udp))
			}
			for _, f := range waitFrames(t, r.d1, 20) {
				check(f, 8)
			}
			if v := r.counter("IPv6Fwd/forwarded"); v != 21 {
				t.Fatalf("IPv6Fwd/forwarded = %d, want 21", v)
			}
			// A route through a link-local next hop (as routing daemons
			// announce them): resolved by ND on if1 like any neighbour.
			must(t, r.e.AddRoutes([]ctl.Route{{Prefix: netip.MustParsePrefix("2001:db8:99::/48"),
				NextHop: netip.MustParseAddr("fe80::99"), Ifname: "if1"}}))
			r.d0.Inject(ip6Frame(macR0, macH1, "2001:db8:1::1", "2001:db8:99::5", 64, hdr.ProtoUDP, udp))
			r.answerNS(t, "fe80::99")
			check2 := waitFrames(t, r.d1, 1)[0]
			if ip := hdr.IPv6(check2[hdr.EtherLen:]); [16]byte(ip.Dst()) != a16("2001:db8:99::5") || ip.HopLimit() != 63 {
				t.Fatalf("via fe80::99: %x", check2)
			}
			checkNoLeak(t, r.e)
		})
	}
}

// The router answers pings to its global and EUI-64 link-local addresses.
func TestIPv6EchoAndLinkLocal(t *testing.T) {
	r := newRig6(t, 1)
	must(t, r.e.AddNeighbour("if0", netip.MustParseAddr("2001:db8:1::1"), macH1))
	must(t, r.e.AddNeighbour("if0", netip.MustParseAddr("fe80::1"), macH1))
	infos, err := r.e.Interfaces("if0")
	must(t, err)
	ll := netip.PrefixFrom(netip.AddrFrom16(a16("fe80::ff:fe00:10")), 64) // EUI-64 of 02:00:00:00:00:10
	found := false
	for _, p := range infos[0].Addrs {
		found = found || p == ll
	}
	if !found {
		t.Fatalf("if0 addresses %v lack the link-local %s", infos[0].Addrs, ll)
	}
	for _, tc := range []struct{ src, dst string }{
		{"2001:db8:1::1", "2001:db8:1::2"},
		{"2001:db8:1::1", "2001:db8:2::2"}, // the far interface's address
		{"fe80::1", ll.Addr().String()},
	} {
		echo := make([]byte, 16)
		echo[0] = hdr.ICMPv6EchoRequest
		echo[7] = 9
		r.d0.Inject(icmp6Frame(macR0, macH1, tc.src, tc.dst, 64, echo))
		f := waitFrames(t, r.d0, 1)[0]
		ip := hdr.IPv6(f[hdr.EtherLen:])
		m := f[hdr.EtherLen+hdr.IPv6Len:]
		if m[0] != hdr.ICMPv6EchoReply || [16]byte(ip.Src()) != a16(tc.dst) || [16]byte(ip.Dst()) != a16(tc.src) ||
			hdr.ICMPv6Checksum(ip.Src(), ip.Dst(), m) != 0 && hdr.ICMPv6Checksum(ip.Src(), ip.Dst(), m) != 0xffff {
			t.Fatalf("%s -> %s: bad echo reply %x", tc.src, tc.dst, f)
		}
	}
	checkNoLeak(t, r.e)
}

// Bad IPv6 requests are refused with a reason and change nothing.
func TestIPv6ControlValidation(t *testing.T) {
	r := newRig6(t, 1)
	e := r.e
	pfx, addr := netip.MustParsePrefix, netip.MustParseAddr
	for _, tc := range []struct {
		name string
		do   func() error
		want string
		kind error
	}{
		{"host bits", func() error {
			return e.AddRoutes([]ctl.Route{{Prefix: pfx("2001:db8:9::1/48"), NextHop: addr("2001:db8:2::1"), Ifname: "if1"}})
		}, "did you mean 2001:db8:9::/48", ctl.ErrInvalid},
		{"off-link next hop", func() error {
			return e.AddRoutes([]ctl.Route{{Prefix: pfx("2001:db8:9::/48"), NextHop: addr("2001:db8:7::1"), Ifname: "if1"}})
		}, "not on a connected prefix of if1", ctl.ErrInvalid},
		{"own address as next hop", func() error {
			return e.AddRoutes([]ctl.Route{{Prefix: pfx("2001:db8:9::/48"), NextHop: addr("2001:db8:2::2"), Ifname: "if1"}})
		}, "is an address of if1 itself", ctl.ErrInvalid},
		{"link-local destination", func() error {
			return e.AddRoutes([]ctl.Route{{Prefix: pfx("fe80::/64"), Ifname: "if1"}})
		}, "never routed", ctl.ErrInvalid},
		{"zone of another interface", func() error {
			return e.AddRoutes([]ctl.Route{{Prefix: pfx("2001:db8:9::/48"), NextHop: addr("fe80::1%if0"), Ifname: "if1"}})
		}, "names interface if0", ctl.ErrInvalid},
		{"over a connected prefix", func() error {
			return e.AddRoutes([]ctl.Route{{Prefix: pfx("2001:db8:2::/64"), NextHop: addr("fe80::1"), Ifname: "if1"}})
		}, "connected or local route", ctl.ErrExists},
		{"mixed batch with one bad route", func() error {
			return e.AddRoutes([]ctl.Route{
				{Prefix: pfx("10.99.0.0/16"), NextHop: addr("10.2.0.1"), Ifname: "if1"},
				{Prefix: pfx("2001:db8:9::/48"), NextHop: addr("2001:db8:7::1"), Ifname: "if1"}})
		}, "not on a connected prefix", ctl.ErrInvalid},
		{"same address twice", func() error { return e.AddAddr("if1", pfx("2001:db8:1::2/64")) }, "already on if0", ctl.ErrExists},
		{"multicast address", func() error { return e.AddAddr("if1", pfx("ff02::5/64")) }, "not a unicast", ctl.ErrInvalid},
		{"del missing", func() error { return e.DelRoutes([]ctl.Route{{Prefix: pfx("2001:db8:77::/48")}}) }, "no such route", ctl.ErrNotFound},
		{"del connected", func() error { return e.DelRoutes([]ctl.Route{{Prefix: pfx("2001:db8:1::/64")}}) }, "belongs to an interface address", ctl.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, rs, _ := e.Routes(0, 1000)
			err := tc.do()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, tc.kind) {
				t.Fatalf("error %v, want %q (%v)", err, tc.want, tc.kind)
			}
			after, rs2, _ := e.Routes(0, 1000)
			if before != after || len(rs) != len(rs2) {
				t.Fatalf("routes changed: %d -> %d", before, after)
			}
		})
	}
	// Lookup and listing cover both families; delete with its next hop.
	must(t, e.AddRoutes([]ctl.Route{{Prefix: pfx("2001:db8:9::/48"), NextHop: addr("fe80::1"), Ifname: "if1"}}))
	got, err := e.LookupRoute(addr("2001:db8:9::42"))
	must(t, err)
	if got.Prefix != pfx("2001:db8:9::/48") || got.NextHop != addr("fe80::1") || got.Ifname != "if1" || got.Kind != ctl.KindGateway {
		t.Fatalf("lookup: %+v", got)
	}
	total, all, _ := e.Routes(0, 1000)
	var v4, v6 int
	for _, x := range all {
		if x.Prefix.Addr().Is4() {
			v4++
		} else {
			v6++
		}
	}
	// IPv4: 2 connected, 2 local, 2 broadcast; IPv6: 2 connected, 2 local, 1 static.
	if total != 11 || v4 != 6 || v6 != 5 {
		t.Fatalf("listing: total %d, %d IPv4, %d IPv6: %v", total, v4, v6, all)
	}
	// Paging across the family boundary.
	_, page, _ := e.Routes(5, 2)
	if len(page) != 2 || !page[0].Prefix.Addr().Is4() || page[1].Prefix.Addr().Is4() {
		t.Fatalf("page across families: %v", page)
	}
	must(t, e.DelRoutes([]ctl.Route{{Prefix: pfx("2001:db8:9::/48"), NextHop: addr("fe80::1"), Ifname: "if1"}}))
	must(t, e.DelAddr("if1", pfx("2001:db8:2::2/64")))
	if _, err := e.LookupRoute(addr("2001:db8:2::1")); !errors.Is(err, ctl.ErrNotFound) {
		t.Fatalf("connected route survived its address: %v", err)
	}
	// Detaching an interface removes its IPv6 routes.
	must(t, e.DelInterface("if0"))
	if total, _, _ := e.Routes(0, 1000); total != 3 {
		t.Fatalf("%d routes after detaching if0, want 3 (if1's IPv4)", total)
	}
}
