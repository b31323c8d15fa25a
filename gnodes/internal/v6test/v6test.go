// Package v6test builds IPv6 packets and a small router configuration for
// the tests of the IPv6 nodes. It is for tests only and allocates freely.
package v6test

import (
	"encoding/binary"
	"net/netip"

	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
)

var be = binary.BigEndian

// A parses an IPv6 address; it panics on a malformed one.
func A(s string) [16]byte { return netip.MustParseAddr(s).As16() }

// IPv6 returns an IPv6 packet: a 40-byte header (traffic class 0, flow
// label 0) followed by payload, whose first header is next.
func IPv6(src, dst string, hop, next uint8, payload []byte) []byte {
	b := make([]byte, hdr.IPv6Len+len(payload))
	s, d := A(src), A(dst)
	hdr.PutIPv6(b, 0, len(payload), next, hop, &s, &d)
	copy(b[hdr.IPv6Len:], payload)
	return b
}

// UDP returns a UDP datagram from src to dst with a valid checksum.
func UDP(src, dst string, sport, dport uint16, data []byte) []byte {
	b := make([]byte, 8+len(data))
	be.PutUint16(b[0:], sport)
	be.PutUint16(b[2:], dport)
	be.PutUint16(b[4:], uint16(len(b)))
	copy(b[8:], data)
	s, d := A(src), A(dst)
	c := hdr.Checksum(b, hdr.PseudoSum6(s[:], d[:], len(b), hdr.ProtoUDP))
	if c == 0 {
		c = 0xffff
	}
	be.PutUint16(b[6:], c)
	return b
}

// UDPPacket is an IPv6/UDP packet with n bytes of data.
func UDPPacket(src, dst string, hop uint8, n int) []byte {
	return IPv6(src, dst, hop, hdr.ProtoUDP, UDP(src, dst, 4000, 5000, Bytes(n)))
}

// ICMP returns an ICMPv6 message from src to dst with a valid checksum:
// type, code, the four bytes of rest and data.
func ICMP(src, dst string, typ, code uint8, rest uint32, data []byte) []byte {
	b := make([]byte, 8+len(data))
	b[0], b[1] = typ, code
	be.PutUint32(b[4:], rest)
	copy(b[8:], data)
	s, d := A(src), A(dst)
	be.PutUint16(b[2:], hdr.ICMPv6Checksum(s[:], d[:], b))
	return b
}

// Echo is an IPv6 packet carrying an echo request.
func Echo(src, dst string, id, seq uint16, data []byte) []byte {
	return IPv6(src, dst, 64, hdr.ProtoICMPv6, ICMP(src, dst, hdr.ICMPv6EchoRequest, 0, uint32(id)<<16|uint32(seq), data))
}

// Ext returns an 8-byte-unit extension header (hop-by-hop, destination
// options, routing): next header, then body padded with zeros to a multiple
// of 8 bytes after the two leading bytes. body starts at the header's third
// byte (options, or routing type and segments left).
func Ext(next uint8, body ...byte) []byte {
	n := (2 + len(body) + 7) / 8 * 8
	b := make([]byte, n)
	b[0] = next
	b[1] = uint8(n/8 - 1)
	copy(b[2:], body)
	return b
}

// Frag returns a fragment header with offset off (in 8-byte units) and
// the more-fragments flag.
func Frag(next uint8, off uint16, more bool) []byte {
	b := make([]byte, 8)
	b[0] = next
	v := off << 3
	if more {
		v |= 1
	}
	be.PutUint16(b[2:], v)
	be.PutUint32(b[4:], 0xcafe)
	return b
}

// Cat concatenates byte slices.
func Cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// Bytes returns n bytes counting up from 0.
func Bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// SlowChecksum6 is the ICMPv6 checksum of msg (its checksum field taken as
// zero) between src and dst, computed the obvious way (RFC 1071 over the
// RFC 8200 8.1 pseudo-header), independently of package hdr. A message
// whose stored checksum is right gives its stored value.
func SlowChecksum6(src, dst, msg []byte) uint16 {
	ph := make([]byte, 0, 40)
	ph = append(ph, src...)
	ph = append(ph, dst...)
	ph = append(ph, byte(len(msg)>>24), byte(len(msg)>>16), byte(len(msg)>>8), byte(len(msg)))
	ph = append(ph, 0, 0, 0, hdr.ProtoICMPv6)
	m := append([]byte(nil), msg...)
	m[2], m[3] = 0, 0
	return graphtest.RefChecksum(ph, m)
}

// The test router:
//
//	eth0 ifindex 1 MTU 1500: 2001:db8:1::2/64, fe80::1:2/64 (and 10.1.0.2/24)
//	eth1 ifindex 2 MTU 1400: 2001:db8:2::2/64, fe80::2:2/64
//	eth2 ifindex 3 MTU 1500, down: 2001:db8:3::2/64
//	eth3 ifindex 4 MTU 1280: fe80::4:2/64 only
const (
	Eth0Global = "2001:db8:1::2"
	Eth0LL     = "fe80::1:2"
	Eth1Global = "2001:db8:2::2"
	Eth1LL     = "fe80::2:2"
	Eth3LL     = "fe80::4:2"
)

// Intfs is the test router's interfaces.
func Intfs() *fwd.Interfaces {
	mk := func(ifindex int32, name string, mtu int, up bool, addrs ...string) *fwd.Interface {
		i := &fwd.Interface{Ifindex: ifindex, Name: name, MAC: [6]byte{2, 0, 0, 0, 0, byte(ifindex)}, MTU: mtu, Up: up}
		for _, a := range addrs {
			i.Addrs = append(i.Addrs, netip.MustParsePrefix(a))
		}
		return i
	}
	var s *fwd.Interfaces
	s = s.With(mk(1, "eth0", 1500, true, "10.1.0.2/24", Eth0Global+"/64", Eth0LL+"/64"))
	s = s.With(mk(2, "eth1", 1400, true, Eth1Global+"/64", Eth1LL+"/64"))
	s = s.With(mk(3, "eth2", 1500, false, "2001:db8:3::2/64"))
	s = s.With(mk(4, "eth3", 1280, true, Eth3LL+"/64"))
	return s
}

func route(p string, kind fwd.AdjKind, ifindex int32, nh string) fwd.Route6 {
	r := fwd.Route6{Prefix: netip.MustParsePrefix(p), Adj: fwd.Adjacency6{Kind: kind, Ifindex: ifindex}}
	if nh != "" {
		r.Adj.NextHop = A(nh)
	}
	return r
}

// Routes are the test router's routes (no default route): connected and
// local for each global address, a gateway route 2001:db8:50::/48 via
// fe80::2:1 on eth1, a route to a missing ifindex 9 (2001:db8:60::/48) and
// a drop route (2001:db8:70::/48).
var Routes = []fwd.Route6{
	route("2001:db8:1::/64", fwd.AdjConnected, 1, ""),
	route("2001:db8:2::/64", fwd.AdjConnected, 2, ""),
	route("2001:db8:3::/64", fwd.AdjConnected, 3, ""),
	route(Eth0Global+"/128", fwd.AdjLocal, 1, ""),
	route(Eth1Global+"/128", fwd.AdjLocal, 2, ""),
	route("2001:db8:3::2/128", fwd.AdjLocal, 3, ""),
	route("2001:db8:50::/48", fwd.AdjGateway, 2, "fe80::2:1"),
	route("2001:db8:60::/48", fwd.AdjConnected, 9, ""),
	route("2001:db8:70::/48", fwd.AdjDrop, 0, ""),
}

// Table returns an IPv6 table holding Routes.
func Table() *fwd.IPv6Table {
	rib := fwd.NewIPv6RIB(func(*fwd.IPv6Table) {})
	if err := rib.AddBatch(Routes); err != nil {
		panic(err)
	}
	return rib.Active()
}
