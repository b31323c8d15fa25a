package ipv6fwd_test

import (
	"net/netip"
	"testing"

	v6 "github.com/r2go/r2/gnodes/internal/v6test"
	ipv6fwd "github.com/r2go/r2/gnodes/layer3/ipv6/fwd"
	"github.com/r2go/r2/gnodes/layer3/ipv6/local"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/names"
)

// TestWithLocal runs IPv6Fwd and IPv6Local together: answers are made by
// IPv6Local and routed by IPv6Fwd, including back out of the input link to
// a link-local address.
func TestWithLocal(t *testing.T) {
	const far = "2001:db8:2::9"
	tests := []struct {
		name string
		ip   []byte
		inIf int32
		// The message leaving through EncapMux ("" for none).
		outIf   int32
		nextHop string
		src     string
		typ     uint8
		counter string // IPv6Fwd or IPv6Local counter expected at 1
	}{
		{name: "ping our global address", ip: v6.Echo(h1, v6.Eth0Global, 1, 1, nil), inIf: 1,
			outIf: 1, nextHop: h1, src: v6.Eth0Global, typ: hdr.ICMPv6EchoReply, counter: "IPv6Local/echo_replies"},
		{name: "ping our link-local address", ip: v6.Echo("fe80::99", v6.Eth1LL, 1, 1, nil), inIf: 2,
			outIf: 2, nextHop: "fe80::99", src: v6.Eth1LL, typ: hdr.ICMPv6EchoReply, counter: "IPv6Local/echo_replies"},
		{name: "ping all-nodes", ip: v6.Echo("fe80::99", "ff02::1", 1, 1, nil), inIf: 1,
			outIf: 1, nextHop: "fe80::99", src: v6.Eth0LL, typ: hdr.ICMPv6EchoReply, counter: "IPv6Local/echo_replies"},
		{name: "hop limit exceeded", ip: udp(h1, far, 1, 10), inIf: 1,
			outIf: 1, nextHop: h1, src: v6.Eth0Global, typ: hdr.ICMPv6TimeExceeded, counter: "IPv6Fwd/hop_limit_exceeded"},
		{name: "link-local source beyond scope", ip: udp("fe80::99", far, 64, 10), inIf: 1,
			outIf: 1, nextHop: "fe80::99", src: v6.Eth0LL, typ: hdr.ICMPv6DestUnreach, counter: "IPv6Fwd/link_local"},
		{name: "no route, answered through a gateway", ip: udp("2001:db8:50::7", "2001:db8:99::1", 64, 10), inIf: 2,
			outIf: 2, nextHop: "fe80::2:1", src: v6.Eth1Global, typ: hdr.ICMPv6DestUnreach, counter: "IPv6Fwd/no_route"},
		{name: "packet too big", ip: udp(h1, far, 64, 1400), inIf: 1,
			outIf: 1, nextHop: h1, src: v6.Eth0Global, typ: hdr.ICMPv6PacketTooBig, counter: "IPv6Fwd/too_big"},
		{name: "unknown option", ip: withExt(far, hdr.ProtoHopByHop, v6.Ext(hdr.ProtoUDP, 0x80, 0)), inIf: 1,
			outIf: 1, nextHop: h1, src: v6.Eth0Global, typ: hdr.ICMPv6ParamProblem, counter: "IPv6Fwd/unknown_option"},
		{name: "error to an unroutable source is dropped", ip: udp("2001:db8:99::5", far, 1, 10), inIf: 1,
			counter: "IPv6Local/icmp_errors_sent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := gt.New(t, gt.Options{})
			gt.Add(h, ipv6fwd.New(v6.Table(), v6.Intfs()))
			gt.Add(h, local.New(v6.Intfs()))
			mux := h.Sink(names.EncapMux)
			p := pkt(h, tc.ip, 0)
			p.InIfindex = tc.inIf
			h.Inject(names.IPv6Fwd, p)
			h.RunUntilIdle()
			if v := h.Counter(tc.counter); v != 1 {
				t.Errorf("%s = %d; counters %v", tc.counter, v, h.Counters())
			}
			ps := mux.Take()
			if tc.outIf == 0 {
				if len(ps) != 0 {
					t.Fatalf("%d packets sent", len(ps))
				}
				h.Done()
				return
			}
			if len(ps) != 1 {
				t.Fatalf("%d packets sent; counters %v", len(ps), h.Counters())
			}
			q := ps[0]
			b := q.Data()
			if q.OutIfindex != tc.outIf || q.NextHop6 != v6.A(tc.nextHop) {
				t.Errorf("out %d via %s, want %d via %s", q.OutIfindex, netip.AddrFrom16(q.NextHop6), tc.outIf, tc.nextHop)
			}
			if [16]byte(b[8:24]) != v6.A(tc.src) || [16]byte(b[24:40]) != [16]byte(tc.ip[8:24]) || b[40] != tc.typ || b[7] != 64 {
				t.Errorf("sent %x", b[:48])
			}
			if got, want := be16(b[42:]), v6.SlowChecksum6(b[8:24], b[24:40], b[40:]); got != want {
				t.Errorf("checksum %#x, want %#x", got, want)
			}
			h.Free(q)
			h.Done()
		})
	}
}

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }
