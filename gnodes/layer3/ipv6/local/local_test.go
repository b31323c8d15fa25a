package local_test

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/r2go/r2/fwd"
	v6 "github.com/r2go/r2/gnodes/internal/v6test"
	"github.com/r2go/r2/gnodes/layer3/ipv6/local"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

var be = binary.BigEndian

func setup(t testing.TB, o gt.Options) (*gt.Harness, *gt.Sink) {
	h := gt.New(t, o)
	gt.Add(h, local.New(v6.Intfs()))
	return h, h.Sink(names.IPv6Fwd)
}

// pkt is an IPv6 packet as IPv6Fwd passes it on, received on eth0.
func pkt(h *gt.Harness, ip []byte, meta, info uint32) *packet.Packet {
	p := h.L3(gt.Ether(gt.MAC("02:00:00:00:00:01"), gt.MAC("02:00:00:00:00:99"), hdr.EtherTypeIPv6, ip))
	p.InIfindex = 1
	p.Meta = meta
	p.NextHop = info
	return p
}

func icmpErr(typ, code uint8) uint32 {
	return packet.MetaICMPError | packet.MetaIPv6 | uint32(typ)<<8 | uint32(code)
}

const h1 = "2001:db8:1::1" // a host on eth0's link

// checkICMPv6 checks the framing of an ICMPv6 message the node sent: IPv6
// header, payload length, next header, hop limit and, independently of
// package hdr, the checksum.
func checkICMPv6(t *testing.T, b []byte) {
	t.Helper()
	if len(b) < 48 || b[0]>>4 != 6 || int(be.Uint16(b[4:]))+40 != len(b) || b[6] != hdr.ProtoICMPv6 || b[7] != 64 {
		t.Fatalf("bad IPv6 framing: %x", b)
	}
	if got, want := be.Uint16(b[42:]), v6.SlowChecksum6(b[8:24], b[24:40], b[40:]); got != want {
		t.Errorf("ICMPv6 checksum %#04x, want %#04x", got, want)
	}
}

func TestEchoReply(t *testing.T) {
	data := []byte("hello r2, 0123456789")
	echo := func(src, dst string) []byte { return v6.Echo(src, dst, 0x77, 3, data) }
	withExt := func(src, dst string) []byte {
		return v6.IPv6(src, dst, 64, hdr.ProtoHopByHop, v6.Cat(v6.Ext(hdr.ProtoIPv6DstOpts, 5, 2, 0, 0), v6.Ext(hdr.ProtoICMPv6, 1, 2),
			v6.ICMP(src, dst, hdr.ICMPv6EchoRequest, 0, 0x770003, data)))
	}
	tests := []struct {
		name     string
		req      []byte
		inIf     int32
		src, dst string // of the reply
		tclass   uint8
	}{
		{name: "to eth0's global address", req: echo(h1, v6.Eth0Global), src: v6.Eth0Global, dst: h1},
		{name: "to another interface's address, from afar", req: echo("2001:db8:99::1", v6.Eth1Global),
			src: v6.Eth1Global, dst: "2001:db8:99::1"},
		{name: "to our link-local address", req: echo("fe80::99", v6.Eth0LL), src: v6.Eth0LL, dst: "fe80::99"},
		{name: "to all-nodes from a link-local address", req: echo("fe80::99", "ff02::1"), src: v6.Eth0LL, dst: "fe80::99"},
		{name: "to all-nodes from a global address", req: echo(h1, "ff02::1"), src: v6.Eth0Global, dst: h1},
		{name: "to all-routers on an interface without a global address: a global one of the router", req: echo(h1, "ff02::2"), inIf: 4,
			src: v6.Eth0Global, dst: h1},
		{name: "to our solicited-node address", req: echo(h1, "ff02::1:ff00:2"), src: v6.Eth0Global, dst: h1},
		{name: "traffic class kept", req: func() []byte { b := echo(h1, v6.Eth0Global); b[0], b[1] = 0x6b, 0x80; return b }(),
			src: v6.Eth0Global, dst: h1, tclass: 0xb8},
		{name: "extension headers dropped", req: withExt(h1, v6.Eth0Global), src: v6.Eth0Global, dst: h1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, out := setup(t, gt.Options{})
			p := pkt(h, tc.req, 0, 0)
			if tc.inIf != 0 {
				p.InIfindex = tc.inIf
			}
			inIf := p.InIfindex
			h.Inject(names.IPv6Local, p)
			h.RunUntilIdle()
			ps := out.Take()
			if len(ps) != 1 {
				t.Fatalf("IPv6Fwd got %d packets; counters %v", len(ps), h.Counters())
			}
			p = ps[0]
			got := p.Data()
			if p.Meta != packet.MetaLocalOrigin|packet.MetaIPv6 || p.InIfindex != inIf {
				t.Errorf("Meta %#x InIfindex %d", p.Meta, p.InIfindex)
			}
			checkICMPv6(t, got)
			reqICMP := tc.req[len(tc.req)-8-len(data):]
			want := make([]byte, 40+len(reqICMP))
			s, d := v6.A(tc.src), v6.A(tc.dst)
			hdr.PutIPv6(want, tc.tclass, len(reqICMP), hdr.ProtoICMPv6, 64, &s, &d)
			copy(want[40:], reqICMP)
			want[40] = hdr.ICMPv6EchoReply
			want[42], want[43] = 0, 0
			be.PutUint16(want[42:], v6.SlowChecksum6(s[:], d[:], want[40:]))
			if !bytes.Equal(got, want) {
				t.Errorf("reply\n%x\nwant\n%x", got, want)
			}
			h.Free(p)
			h.ExpectCounters(map[string]uint64{"IPv6Local/enq": 1, "IPv6Fwd/enq": 1, "IPv6Local/echo_replies": 1})
			h.Done()
		})
	}
}

// TestDeliverDrops covers what the router does not answer.
func TestDeliverDrops(t *testing.T) {
	us := v6.Eth0Global
	badSum := v6.Echo(h1, us, 1, 1, []byte("x"))
	badSum[42] ^= 1
	icmp := func(typ, code uint8, n int) []byte {
		return v6.IPv6(h1, us, 255, hdr.ProtoICMPv6, v6.ICMP(h1, us, typ, code, 0, make([]byte, n)))
	}
	short := func(b []byte) []byte { // an ICMPv6 message of len(b) bytes with a valid checksum
		s, d := v6.A(h1), v6.A(us)
		m := append([]byte(nil), b...)
		be.PutUint16(m[2:], hdr.ICMPv6Checksum(s[:], d[:], m))
		return v6.IPv6(h1, us, 64, hdr.ProtoICMPv6, m)
	}
	long := []byte{}
	for i := 0; i < 9; i++ {
		long = append(long, v6.Ext(hdr.ProtoIPv6DstOpts)...)
	}
	long[len(long)-8] = hdr.ProtoICMPv6
	tests := []struct {
		name    string
		ip      []byte
		inIf    int32
		counter string
	}{
		{name: "TCP", ip: v6.IPv6(h1, us, 64, hdr.ProtoTCP, make([]byte, 20)), counter: "tcp"},
		{name: "UDP", ip: v6.IPv6(h1, us, 64, hdr.ProtoUDP, v6.UDP(h1, us, 1, 53, nil)), counter: "udp"},
		{name: "UDP behind destination options", ip: v6.IPv6(h1, us, 64, hdr.ProtoIPv6DstOpts,
			v6.Cat(v6.Ext(hdr.ProtoUDP), v6.UDP(h1, us, 1, 53, nil))), counter: "udp"},
		{name: "GRE", ip: v6.IPv6(h1, us, 64, 47, make([]byte, 8)), counter: "other_proto"},
		{name: "no next header", ip: v6.IPv6(h1, us, 64, hdr.ProtoIPv6NoNext, nil), counter: "other_proto"},
		{name: "chain longer than followed", ip: v6.IPv6(h1, us, 64, hdr.ProtoIPv6DstOpts, long), counter: "other_proto"},
		{name: "first fragment", ip: v6.IPv6(h1, us, 64, hdr.ProtoIPv6Frag, v6.Cat(v6.Frag(hdr.ProtoICMPv6, 0, true),
			v6.ICMP(h1, us, hdr.ICMPv6EchoRequest, 0, 1, nil))), counter: "fragment"},
		{name: "non-first fragment", ip: v6.IPv6(h1, us, 64, hdr.ProtoIPv6Frag, v6.Cat(v6.Frag(hdr.ProtoICMPv6, 9, false),
			make([]byte, 16))), counter: "fragment"},
		{name: "atomic fragment", ip: v6.IPv6(h1, us, 64, hdr.ProtoIPv6Frag, v6.Cat(v6.Frag(hdr.ProtoUDP, 0, false),
			v6.UDP(h1, us, 1, 2, nil))), counter: "fragment"},
		{name: "not our address", ip: v6.Echo(h1, "2001:db8:1::99", 1, 1, nil), counter: "not_our_addr"},
		{name: "not our link-local address", ip: v6.Echo("fe80::99", "fe80::1:99", 1, 1, nil), counter: "not_our_addr"},
		{name: "another solicited-node address", ip: v6.Echo(h1, "ff02::1:ff00:99", 1, 1, nil), counter: "not_our_addr"},
		{name: "all-nodes on an unknown interface", ip: v6.Echo(h1, "ff02::1", 1, 1, nil), inIf: 9, counter: "not_our_addr"},
		{name: "other multicast", ip: v6.Echo(h1, "ff05::2", 1, 1, nil), counter: "not_our_addr"},
		{name: "bad ICMPv6 checksum", ip: badSum, counter: "bad_icmp"},
		{name: "ICMPv6 shorter than 4 bytes", ip: v6.IPv6(h1, us, 64, hdr.ProtoICMPv6, []byte{128, 0, 0}), counter: "bad_icmp"},
		{name: "echo request shorter than 8 bytes", ip: short([]byte{128, 0, 0, 0, 1, 2}), counter: "bad_icmp"},
		{name: "echo request with code 1", ip: icmp(hdr.ICMPv6EchoRequest, 1, 4), counter: "bad_icmp"},
		{name: "echo reply to us", ip: icmp(hdr.ICMPv6EchoReply, 0, 4), counter: "other_icmp"},
		{name: "destination unreachable to us", ip: icmp(hdr.ICMPv6DestUnreach, 0, 48), counter: "other_icmp"},
		{name: "MLD query", ip: icmp(130, 0, 20), counter: "other_icmp"},
		{name: "router solicitation", ip: icmp(hdr.ICMPv6RouterSolicit, 0, 8), counter: "nd_unexpected"},
		{name: "router advertisement", ip: icmp(hdr.ICMPv6RouterAdvert, 0, 16), counter: "nd_unexpected"},
		{name: "neighbour solicitation", ip: icmp(hdr.ICMPv6NeighSolicit, 0, 24), counter: "nd_unexpected"},
		{name: "neighbour advertisement", ip: icmp(hdr.ICMPv6NeighAdvert, 0, 24), counter: "nd_unexpected"},
		{name: "redirect", ip: icmp(hdr.ICMPv6Redirect, 0, 40), counter: "nd_unexpected"},
		{name: "all-nodes echo from a link-local address on an unknown interface", ip: v6.Echo("fe80::99", "ff02::1", 1, 1, nil),
			inIf: 9, counter: "not_our_addr"},
		{name: "echo from the unspecified address", ip: v6.Echo("::", us, 1, 1, nil), counter: "bad_src"},
		{name: "echo from a multicast address", ip: v6.Echo("ff02::1", us, 1, 1, nil), counter: "bad_src"},
		{name: "shorter than the header", ip: v6.Echo(h1, us, 1, 1, nil)[:39], counter: "bad_header"},
		{name: "not version 6", ip: func() []byte { b := v6.Echo(h1, us, 1, 1, nil); b[0] = 0x45; return b }(), counter: "bad_header"},
		{name: "payload length beyond the frame", ip: v6.Echo(h1, us, 1, 1, nil)[:47], counter: "bad_header"},
		{name: "extension header past the end", ip: v6.IPv6(h1, us, 64, hdr.ProtoIPv6DstOpts, []byte{58, 1, 0, 0, 0, 0, 0, 0}),
			counter: "bad_ext_hdr"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, out := setup(t, gt.Options{})
			p := pkt(h, tc.ip, 0, 0)
			if tc.inIf != 0 {
				p.InIfindex = tc.inIf
			}
			h.Inject(names.IPv6Local, p)
			h.RunUntilIdle()
			if out.Len() != 0 {
				t.Errorf("IPv6Fwd got %d packets", out.Len())
			}
			h.ExpectCounters(map[string]uint64{"IPv6Local/enq": 1, "IPv6Local/" + tc.counter: 1})
			h.Done()
		})
	}
}

func TestICMPError(t *testing.T) {
	udp := func(src string, n int) []byte { return v6.UDPPacket(src, "2001:db8:99::9", 1, n) }
	tests := []struct {
		name  string
		orig  []byte
		meta  uint32
		info  uint32
		inIf  int32
		l2bc  bool
		src   string // error source
		quote int    // bytes of orig quoted
		rest  uint32 // ICMPv6 bytes 4-7
	}{
		{name: "no route", orig: udp(h1, 10), meta: icmpErr(1, 0), src: v6.Eth0Global, quote: 58},
		{name: "address unreachable", orig: udp(h1, 10), meta: icmpErr(1, 3), src: v6.Eth0Global, quote: 58},
		{name: "beyond scope, to a link-local source", orig: udp("fe80::99", 10), meta: icmpErr(1, 2),
			src: v6.Eth0LL, quote: 58},
		{name: "packet too big carries the MTU", orig: udp(h1, 1352), meta: icmpErr(2, 0), info: 1400,
			src: v6.Eth0Global, quote: 1232, rest: 1400},
		{name: "time exceeded", orig: udp(h1, 100), meta: icmpErr(3, 0), src: v6.Eth0Global, quote: 148},
		{name: "parameter problem carries the pointer", orig: udp(h1, 10), meta: icmpErr(4, 2), info: 42,
			src: v6.Eth0Global, quote: 58, rest: 42},
		{name: "parameter problem code 0", orig: udp(h1, 10), meta: icmpErr(4, 0), info: 4,
			src: v6.Eth0Global, quote: 58, rest: 4},
		{name: "unused bytes stay zero", orig: udp(h1, 10), meta: icmpErr(3, 0), info: 99, src: v6.Eth0Global, quote: 58},
		{name: "source on the input interface's other prefix", orig: udp("2001:db8:2::7", 10), meta: icmpErr(3, 0), inIf: 2,
			src: v6.Eth1Global, quote: 58},
		{name: "source off-link: the interface's global address", orig: udp("2001:db8:77::1", 10), meta: icmpErr(3, 0),
			src: v6.Eth0Global, quote: 58},
		{name: "link-local offender", orig: udp("fe80::99", 10), meta: icmpErr(3, 0), src: v6.Eth0LL, quote: 58},
		{name: "interface without a global address: a global one of the router", orig: udp(h1, 10), meta: icmpErr(3, 0), inIf: 4, src: v6.Eth0Global, quote: 58},
		{name: "input interface unknown: any global address", orig: udp("2001:db8:77::1", 10), meta: icmpErr(3, 0), inIf: 9,
			src: v6.Eth0Global, quote: 58},
		{name: "input interface unknown: the global on the offender's prefix", orig: udp("2001:db8:2::7", 10), meta: icmpErr(3, 0),
			inIf: 9, src: v6.Eth1Global, quote: 58},
		{name: "capped at 1280 bytes", orig: udp(h1, 1400), meta: icmpErr(3, 0), src: v6.Eth0Global, quote: 1232},
		{name: "exactly 1280 bytes", orig: udp(h1, 1232-48), meta: icmpErr(3, 0), src: v6.Eth0Global, quote: 1232},
		{name: "packet too big about multicast", orig: v6.UDPPacket(h1, "ff0e::1", 64, 10), meta: icmpErr(2, 0), info: 1280,
			src: v6.Eth0Global, quote: 58, rest: 1280},
		{name: "unknown option about multicast", orig: v6.UDPPacket(h1, "ff0e::1", 64, 10), meta: icmpErr(4, 2), info: 42,
			src: v6.Eth0Global, quote: 58, rest: 42},
		{name: "packet too big in a link-layer broadcast", orig: udp(h1, 10), meta: icmpErr(2, 0), info: 1400, l2bc: true,
			src: v6.Eth0Global, quote: 58, rest: 1400},
		{name: "about an echo request", orig: v6.Echo(h1, "2001:db8:99::9", 1, 2, nil), meta: icmpErr(3, 0),
			src: v6.Eth0Global, quote: 48},
		{name: "about an ICMPv6 informational message behind an extension header",
			orig: v6.IPv6(h1, "2001:db8:99::9", 1, hdr.ProtoIPv6DstOpts, v6.Cat(v6.Ext(hdr.ProtoICMPv6), []byte{200, 0, 0, 0})),
			meta: icmpErr(3, 0), src: v6.Eth0Global, quote: 52},
		{name: "about a non-first fragment", orig: v6.IPv6(h1, "2001:db8:99::9", 1, hdr.ProtoIPv6Frag,
			v6.Cat(v6.Frag(hdr.ProtoICMPv6, 9, false), []byte{1, 0, 0, 0})), meta: icmpErr(3, 0), src: v6.Eth0Global, quote: 52},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, out := setup(t, gt.Options{})
			p := pkt(h, tc.orig, tc.meta, tc.info)
			if tc.inIf != 0 {
				p.InIfindex = tc.inIf
			}
			if tc.l2bc {
				p.Meta |= packet.MetaL2Broadcast
			}
			inIf := p.InIfindex
			h.Inject(names.IPv6Local, p)
			h.RunUntilIdle()
			ps := out.Take()
			if len(ps) != 1 {
				t.Fatalf("IPv6Fwd got %d packets; counters %v", len(ps), h.Counters())
			}
			p = ps[0]
			got := p.Data()
			if p.Meta != packet.MetaLocalOrigin|packet.MetaIPv6 || p.NextHop != 0 || p.L3 != p.Head() || p.InIfindex != inIf {
				t.Errorf("Meta %#x NextHop %d L3 %d head %d InIfindex %d", p.Meta, p.NextHop, p.L3, p.Head(), p.InIfindex)
			}
			if len(got) > 1280 {
				t.Errorf("error of %d bytes", len(got))
			}
			checkICMPv6(t, got)
			want := make([]byte, 48+tc.quote)
			s, d := v6.A(tc.src), [16]byte(tc.orig[8:24])
			hdr.PutIPv6(want, 0, 8+tc.quote, hdr.ProtoICMPv6, 64, &s, &d)
			want[40], want[41] = uint8(tc.meta>>8), uint8(tc.meta)
			be.PutUint32(want[44:], tc.rest)
			copy(want[48:], tc.orig[:tc.quote])
			be.PutUint16(want[42:], v6.SlowChecksum6(s[:], d[:], want[40:]))
			if !bytes.Equal(got, want) {
				t.Errorf("error\n%x\nwant\n%x", got, want)
			}
			h.Free(p)
			h.ExpectCounters(map[string]uint64{"IPv6Local/enq": 1, "IPv6Fwd/enq": 1, "IPv6Local/icmp_errors_sent": 1})
			h.Done()
		})
	}
}

func TestICMPErrorSuppressed(t *testing.T) {
	udpFrom := func(src string) []byte { return v6.UDPPacket(src, "2001:db8:99::9", 1, 10) }
	icmpMsg := func(typ uint8) []byte {
		return v6.IPv6(h1, "2001:db8:99::9", 1, hdr.ProtoICMPv6, v6.ICMP(h1, "2001:db8:99::9", typ, 0, 0, make([]byte, 48)))
	}
	tests := []struct {
		name string
		orig []byte
		meta uint32
		l2bc bool
	}{
		{name: "about a destination unreachable", orig: icmpMsg(hdr.ICMPv6DestUnreach), meta: icmpErr(3, 0)},
		{name: "about a packet too big", orig: icmpMsg(hdr.ICMPv6PacketTooBig), meta: icmpErr(3, 0)},
		{name: "about a time exceeded", orig: icmpMsg(hdr.ICMPv6TimeExceeded), meta: icmpErr(1, 0)},
		{name: "about a parameter problem", orig: icmpMsg(hdr.ICMPv6ParamProblem), meta: icmpErr(2, 0)},
		{name: "about error type 127", orig: icmpMsg(127), meta: icmpErr(3, 0)},
		{name: "about an error behind an extension header", orig: v6.IPv6(h1, "2001:db8:99::9", 1, hdr.ProtoIPv6DstOpts,
			v6.Cat(v6.Ext(hdr.ProtoICMPv6), []byte{3, 0, 0, 0})), meta: icmpErr(3, 0)},
		{name: "about an ICMPv6 message without a type", orig: v6.IPv6(h1, "2001:db8:99::9", 1, hdr.ProtoICMPv6, nil), meta: icmpErr(3, 0)},
		{name: "about a malformed chain", orig: v6.IPv6(h1, "2001:db8:99::9", 1, hdr.ProtoIPv6DstOpts, []byte{17, 4, 0, 0}),
			meta: icmpErr(4, 0)},
		{name: "unspecified source", orig: udpFrom("::"), meta: icmpErr(3, 0)},
		{name: "loopback source", orig: udpFrom("::1"), meta: icmpErr(3, 0)},
		{name: "multicast source", orig: udpFrom("ff02::1"), meta: icmpErr(3, 0)},
		{name: "IPv4-mapped source", orig: udpFrom("::ffff:10.1.0.1"), meta: icmpErr(3, 0)},
		{name: "time exceeded about multicast", orig: v6.UDPPacket(h1, "ff0e::1", 1, 10), meta: icmpErr(3, 0)},
		{name: "no route about multicast", orig: v6.UDPPacket(h1, "ff0e::1", 1, 10), meta: icmpErr(1, 0)},
		{name: "parameter problem code 0 about multicast", orig: v6.UDPPacket(h1, "ff0e::1", 1, 10), meta: icmpErr(4, 0)},
		{name: "time exceeded in a link-layer broadcast", orig: udpFrom(h1), meta: icmpErr(3, 0), l2bc: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, out := setup(t, gt.Options{})
			p := pkt(h, tc.orig, tc.meta, 0)
			if tc.l2bc {
				p.Meta |= packet.MetaL2Broadcast
			}
			h.Inject(names.IPv6Local, p)
			h.RunUntilIdle()
			if out.Len() != 0 {
				t.Errorf("an error was sent")
			}
			h.ExpectCounters(map[string]uint64{"IPv6Local/enq": 1, "IPv6Local/icmp_error_suppressed": 1})
			h.Done()
		})
	}
}

// TestICMPErrorNoSource: a link-local offender arriving on no known
// interface cannot be answered; nor can a global one when the router has
// no global IPv6 address (every interface has a link-local one, but that
// would not reach an off-link peer).
func TestICMPErrorNoSource(t *testing.T) {
	var v4only *fwd.Interfaces
	v4only = v4only.With(&fwd.Interface{Ifindex: 1, Name: "eth0", MTU: 1500, Up: true,
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.1.0.2/24")}})
	for _, tc := range []struct {
		name  string
		intfs *fwd.Interfaces
		src   string
		inIf  int32
	}{
		{name: "link-local offender, unknown interface", intfs: v6.Intfs(), src: "fe80::99", inIf: 9},
		{name: "no IPv6 address", intfs: v4only, src: h1, inIf: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := gt.New(t, gt.Options{})
			gt.Add(h, local.New(tc.intfs))
			out := h.Sink(names.IPv6Fwd)
			p := pkt(h, v6.UDPPacket(tc.src, "2001:db8:99::9", 1, 10), icmpErr(3, 0), 0)
			p.InIfindex = tc.inIf
			h.Inject(names.IPv6Local, p)
			h.RunUntilIdle()
			if out.Len() != 0 {
				t.Errorf("error sent without a source address")
			}
			h.ExpectCounters(map[string]uint64{"IPv6Local/enq": 1, "IPv6Local/no_src_addr": 1})
			h.Done()
		})
	}
}

// lowHeadroom is orig in a packet whose data starts 10 bytes into its
// buffer, too close for the error's 48 bytes of headers.
func lowHeadroom(h *gt.Harness, orig []byte) *packet.Packet {
	p := h.Frame(orig)
	p.Push(packet.Headroom - 10)
	copy(p.Data(), orig)
	p.Trim(len(orig))
	p.Meta = icmpErr(3, 0)
	p.InIfindex = 1
	return p
}

// TestICMPErrorNewPacket: without headroom the error is built in a new
// packet from the pool; with the pool empty it is counted in no_buf.
func TestICMPErrorNewPacket(t *testing.T) {
	orig := v6.UDPPacket(h1, "2001:db8:99::9", 1, 1300)
	h, out := setup(t, gt.Options{})
	h.Inject(names.IPv6Local, lowHeadroom(h, orig))
	h.RunUntilIdle()
	ps := out.Take()
	if len(ps) != 1 {
		t.Fatalf("got %d errors", len(ps))
	}
	got := ps[0].Data()
	checkICMPv6(t, got)
	if len(got) != 1280 || !bytes.Equal(got[48:], orig[:1232]) || ps[0].InIfindex != 1 || ps[0].Head() != packet.Headroom {
		t.Errorf("error of %d bytes, InIfindex %d, head %d", len(got), ps[0].InIfindex, ps[0].Head())
	}
	h.Free(ps...)
	h.ExpectCounters(map[string]uint64{"IPv6Local/enq": 1, "IPv6Fwd/enq": 1, "IPv6Local/icmp_errors_sent": 1})
	h.Done()

	h, out = setup(t, gt.Options{PoolSize: 1})
	h.Inject(names.IPv6Local, lowHeadroom(h, orig))
	h.RunUntilIdle()
	if out.Len() != 0 {
		t.Errorf("error sent from an empty pool")
	}
	h.ExpectCounters(map[string]uint64{"IPv6Local/enq": 1, "IPv6Local/no_buf": 1})
	h.Done()
}

// TestICMPRateLimit: the bucket holds ErrorBurst tokens; within one run no
// tokens are added, so the excess is counted and dropped. After a pause the
// bucket refills at ErrorRate per second.
func TestICMPRateLimit(t *testing.T) {
	h, out := setup(t, gt.Options{})
	send := func(n int) {
		for i := 0; i < n; i++ {
			h.Inject(names.IPv6Local, pkt(h, v6.UDPPacket(h1, "2001:db8:99::9", 1, i), icmpErr(3, 0), 0))
		}
		h.RunUntilIdle()
	}
	const n = local.ErrorBurst + 50
	send(n)
	if out.Len() != local.ErrorBurst {
		t.Errorf("%d errors sent, want %d", out.Len(), local.ErrorBurst)
	}
	h.ExpectCounters(map[string]uint64{"IPv6Local/enq": n, "IPv6Fwd/enq": local.ErrorBurst,
		"IPv6Local/icmp_errors_sent": local.ErrorBurst, "IPv6Local/icmp_rate_limited": 50})
	h.Free(out.Take()...)
	// 20 ms at 1000/s is 20 tokens: 10 errors all go out.
	time.Sleep(20 * time.Millisecond)
	send(10)
	if out.Len() != 10 || h.Counter("IPv6Local/icmp_rate_limited") != 50 {
		t.Errorf("after refill: %d sent, rate_limited %d", out.Len(), h.Counter("IPv6Local/icmp_rate_limited"))
	}
	h.Done()
}

// TestEchoNotRateLimited: echo replies do not use error tokens.
func TestEchoNotRateLimited(t *testing.T) {
	h, out := setup(t, gt.Options{})
	const n = local.ErrorBurst + 20
	for i := 0; i < n; i++ {
		h.Inject(names.IPv6Local, pkt(h, v6.Echo(h1, v6.Eth0Global, 1, uint16(i), nil), 0, 0))
	}
	h.RunUntilIdle()
	if out.Len() != n {
		t.Errorf("%d replies, want %d", out.Len(), n)
	}
	h.ExpectCounters(map[string]uint64{"IPv6Local/enq": n, "IPv6Fwd/enq": n, "IPv6Local/echo_replies": n})
	h.Done()
}

// TestInterfacesSwap: a new address answers pings after msg.Interfaces.
func TestInterfacesSwap(t *testing.T) {
	h, out := setup(t, gt.Options{})
	echo := func() {
		h.Inject(names.IPv6Local, pkt(h, v6.Echo(h1, "2001:db8:5::1", 1, 1, nil), 0, 0))
		h.RunUntilIdle()
	}
	echo()
	i := v6.Intfs().Get(2).Clone()
	i.Addrs = append(i.Addrs, netip.MustParsePrefix("2001:db8:5::1/64"))
	h.Control(msg.Interfaces{Snapshot: v6.Intfs().With(i)})
	echo()
	if out.Len() != 1 {
		t.Errorf("%d replies, want 1 (after the swap)", out.Len())
	}
	h.ExpectCounters(map[string]uint64{"IPv6Local/enq": 2, "IPv6Fwd/enq": 1, "IPv6Local/not_our_addr": 1, "IPv6Local/echo_replies": 1})
	h.Done()
}
