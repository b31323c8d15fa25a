package ipv6fwd_test

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/r2go/r2/fwd"
	v6 "github.com/r2go/r2/gnodes/internal/v6test"
	ipv6fwd "github.com/r2go/r2/gnodes/layer3/ipv6/fwd"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

// setup is IPv6Fwd with sinks for EncapMux and IPv6Local.
func setup(t testing.TB, table *fwd.IPv6Table) (h *gt.Harness, mux, local *gt.Sink) {
	h = gt.New(t, gt.Options{})
	gt.Add(h, ipv6fwd.New(table, v6.Intfs()))
	return h, h.Sink(names.EncapMux), h.Sink(names.IPv6Local)
}

// pkt is an IPv6 packet as L3Parse passes it on, received on eth0.
func pkt(h *gt.Harness, ip []byte, meta uint32) *packet.Packet {
	p := h.L3(gt.Ether(gt.MAC("02:00:00:00:00:01"), gt.MAC("02:00:00:00:00:99"), hdr.EtherTypeIPv6, ip))
	p.InIfindex = 1
	p.Meta = meta
	return p
}

const h1 = "2001:db8:1::1" // a host on eth0's link

func udp(src, dst string, hop uint8, n int) []byte { return v6.UDPPacket(src, dst, hop, n) }

// withExt is a UDP packet from h1 to dst whose chain starts with next and
// the extension headers ext (the last one's next header must be UDP).
func withExt(dst string, next uint8, ext ...[]byte) []byte {
	return v6.IPv6(h1, dst, 64, next, v6.Cat(v6.Cat(ext...), v6.UDP(h1, dst, 1, 2, v6.Bytes(10))))
}

func icmpMeta(typ, code uint8) uint32 {
	return packet.MetaICMPError | packet.MetaIPv6 | uint32(typ)<<8 | uint32(code)
}

func TestForward(t *testing.T) {
	const (
		toMux = iota + 1
		toLocal
		nowhere
	)
	const far = "2001:db8:2::9"
	padded := append(udp(h1, far, 64, 20), 0, 0, 0, 0, 0, 0)
	longChain := withExt(far, hdr.ProtoIPv6DstOpts,
		v6.Ext(hdr.ProtoIPv6DstOpts), v6.Ext(hdr.ProtoIPv6DstOpts), v6.Ext(hdr.ProtoIPv6DstOpts), v6.Ext(hdr.ProtoIPv6DstOpts),
		v6.Ext(hdr.ProtoIPv6DstOpts), v6.Ext(hdr.ProtoIPv6DstOpts), v6.Ext(hdr.ProtoIPv6DstOpts), v6.Ext(hdr.ProtoIPv6Route),
		v6.Ext(hdr.ProtoUDP, 0, 1))
	tests := []struct {
		name    string
		ip      []byte
		meta    uint32
		inIf    int32 // default 1 (eth0)
		to      int
		counter string // the node counter incremented (besides enq)
		// For packets reaching EncapMux:
		outIf   int32
		nextHop string
		hop     uint8
		outLen  int // default len(ip)
		// For packets reaching IPv6Local:
		wantMeta uint32
		wantInfo uint32
	}{
		{name: "connected", ip: udp(h1, far, 64, 100), to: toMux, counter: "forwarded", outIf: 2, nextHop: far, hop: 63},
		{name: "gateway", ip: udp(h1, "2001:db8:50::1", 64, 100), to: toMux, counter: "forwarded",
			outIf: 2, nextHop: "fe80::2:1", hop: 63},
		{name: "hop limit 2 leaves with 1", ip: udp(h1, far, 2, 100), to: toMux, counter: "forwarded", outIf: 2, nextHop: far, hop: 1},
		{name: "hop limit 255", ip: udp(h1, far, 255, 100), to: toMux, counter: "forwarded", outIf: 2, nextHop: far, hop: 254},
		{name: "MTU exactly", ip: udp(h1, far, 64, 1400-48), to: toMux, counter: "forwarded", outIf: 2, nextHop: far, hop: 63},
		{name: "back out the input interface", ip: udp(h1, "2001:db8:1::77", 9, 10), to: toMux, counter: "forwarded",
			outIf: 1, nextHop: "2001:db8:1::77", hop: 8},
		{name: "link-layer padding trimmed", ip: padded, to: toMux, counter: "forwarded", outIf: 2, nextHop: far, hop: 63,
			outLen: len(padded) - 6},
		{name: "first fragment", ip: withExt(far, hdr.ProtoIPv6Frag, v6.Frag(hdr.ProtoUDP, 0, true)), to: toMux,
			counter: "forwarded", outIf: 2, nextHop: far, hop: 63},
		{name: "non-first fragment", ip: withExt(far, hdr.ProtoIPv6Frag, v6.Frag(hdr.ProtoIPv6Route, 100, false)), to: toMux,
			counter: "forwarded", outIf: 2, nextHop: far, hop: 63},
		{name: "hop-by-hop PadN and router alert", ip: withExt(far, hdr.ProtoHopByHop, v6.Ext(hdr.ProtoUDP, 5, 2, 0, 0, 1, 0)),
			to: toMux, counter: "forwarded", outIf: 2, nextHop: far, hop: 63},
		{name: "hop-by-hop unknown option 00 skipped", ip: withExt(far, hdr.ProtoHopByHop, v6.Ext(hdr.ProtoUDP, 0x3e, 2, 9, 9)),
			to: toMux, counter: "forwarded", outIf: 2, nextHop: far, hop: 63},
		{name: "routing header type 2", ip: withExt(far, hdr.ProtoIPv6Route, v6.Ext(hdr.ProtoUDP, 2, 1)),
			to: toMux, counter: "forwarded", outIf: 2, nextHop: far, hop: 63},
		{name: "destination options and AH", ip: withExt(far, hdr.ProtoIPv6DstOpts, v6.Ext(hdr.ProtoAH, 1, 0),
			[]byte{hdr.ProtoUDP, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), to: toMux, counter: "forwarded", outIf: 2, nextHop: far, hop: 63},
		{name: "RH0 beyond the walk bound", ip: longChain, to: toMux, counter: "forwarded", outIf: 2, nextHop: far, hop: 63},
		{name: "ESP", ip: v6.IPv6(h1, far, 64, hdr.ProtoESP, v6.Bytes(30)), to: toMux, counter: "forwarded", outIf: 2, nextHop: far, hop: 63},
		{name: "link-local source back out its link", ip: udp("fe80::99", "2001:db8:1::77", 64, 10), to: toMux, counter: "forwarded",
			outIf: 1, nextHop: "2001:db8:1::77", hop: 63},

		{name: "no route", ip: udp(h1, "2001:db8:99::1", 64, 100), to: toLocal, counter: "no_route", hop: 64,
			wantMeta: icmpMeta(hdr.ICMPv6DestUnreach, hdr.ICMPv6NoRoute)},
		{name: "drop route", ip: udp(h1, "2001:db8:70::1", 64, 100), to: toLocal, counter: "no_route", hop: 64,
			wantMeta: icmpMeta(hdr.ICMPv6DestUnreach, hdr.ICMPv6NoRoute)},
		{name: "hop limit 1", ip: udp(h1, far, 1, 100), to: toLocal, counter: "hop_limit_exceeded", hop: 1,
			wantMeta: icmpMeta(hdr.ICMPv6TimeExceeded, hdr.ICMPv6HopLimitExceed)},
		{name: "hop limit 0", ip: udp(h1, far, 0, 100), to: toLocal, counter: "hop_limit_exceeded", hop: 0,
			wantMeta: icmpMeta(hdr.ICMPv6TimeExceeded, hdr.ICMPv6HopLimitExceed)},
		{name: "too big", ip: udp(h1, far, 64, 1401-48), to: toLocal, counter: "too_big", hop: 64,
			wantMeta: icmpMeta(hdr.ICMPv6PacketTooBig, 0), wantInfo: 1400},
		{name: "link-local source leaving its link", ip: udp("fe80::99", far, 64, 10), to: toLocal, counter: "link_local", hop: 64,
			wantMeta: icmpMeta(hdr.ICMPv6DestUnreach, hdr.ICMPv6BeyondScope)},
		{name: "link-local source, no route", ip: udp("fe80::99", "2001:db8:99::1", 64, 10), to: toLocal, counter: "link_local", hop: 64,
			wantMeta: icmpMeta(hdr.ICMPv6DestUnreach, hdr.ICMPv6BeyondScope)},
		{name: "hop-by-hop unknown option 10", ip: withExt(far, hdr.ProtoHopByHop, v6.Ext(hdr.ProtoUDP, 1, 0, 0x9e, 0)),
			to: toLocal, counter: "unknown_option", hop: 64, wantMeta: icmpMeta(hdr.ICMPv6ParamProblem, hdr.ICMPv6UnknownOption), wantInfo: 44},
		{name: "hop-by-hop unknown option 11", ip: withExt(far, hdr.ProtoHopByHop, v6.Ext(hdr.ProtoUDP, 0xc2, 4)),
			to: toLocal, counter: "unknown_option", hop: 64, wantMeta: icmpMeta(hdr.ICMPv6ParamProblem, hdr.ICMPv6UnknownOption), wantInfo: 42},
		{name: "hop-by-hop unknown option 10 to multicast", ip: withExt("ff0e::1", hdr.ProtoHopByHop, v6.Ext(hdr.ProtoUDP, 0x80, 0)),
			to: toLocal, counter: "unknown_option", hop: 64, wantMeta: icmpMeta(hdr.ICMPv6ParamProblem, hdr.ICMPv6UnknownOption), wantInfo: 42},

		{name: "local", ip: udp(h1, v6.Eth0Global, 64, 10), to: toLocal, hop: 64},
		{name: "local on another interface", ip: udp(h1, v6.Eth1Global, 64, 10), to: toLocal, hop: 64},
		{name: "local with hop limit 1", ip: udp(h1, v6.Eth0Global, 1, 10), to: toLocal, hop: 1},
		{name: "local from a link-local source", ip: udp("fe80::99", v6.Eth0Global, 64, 10), to: toLocal, hop: 64},
		{name: "local with hop-by-hop router alert", ip: withExt(v6.Eth0Global, hdr.ProtoHopByHop, v6.Ext(hdr.ProtoUDP, 5, 2, 0, 0)),
			to: toLocal, hop: 64},
		{name: "our link-local address", ip: udp("fe80::99", v6.Eth0LL, 1, 10), to: toLocal, hop: 1},
		{name: "all-nodes", ip: udp("fe80::99", "ff02::1", 1, 10), to: toLocal, hop: 1},
		{name: "all-routers", ip: udp(h1, "ff02::2", 255, 10), to: toLocal, hop: 255},
		{name: "solicited-node of our address", ip: udp(h1, "ff02::1:ff00:2", 255, 10), to: toLocal, hop: 255},
		{name: "all-nodes on an unknown interface", ip: udp(h1, "ff02::1", 1, 10), inIf: 9, to: nowhere, counter: "multicast"},

		{name: "another interface's link-local address", ip: udp("fe80::99", v6.Eth1LL, 64, 10), to: nowhere, counter: "link_local"},
		{name: "link-local destination not ours", ip: udp(h1, "fe80::77", 64, 10), to: nowhere, counter: "link_local"},
		{name: "solicited-node of another address", ip: udp(h1, "ff02::1:ff00:3", 255, 10), to: nowhere, counter: "multicast"},
		{name: "site-local all-routers", ip: udp(h1, "ff05::2", 64, 10), to: nowhere, counter: "multicast"},
		{name: "global multicast", ip: udp(h1, "ff0e::1234", 64, 10), to: nowhere, counter: "multicast"},
		{name: "martian src unspecified", ip: udp("::", far, 64, 10), to: nowhere, counter: "martian_src"},
		{name: "martian src loopback", ip: udp("::1", far, 64, 10), to: nowhere, counter: "martian_src"},
		{name: "martian src multicast", ip: udp("ff02::1", far, 64, 10), to: nowhere, counter: "martian_src"},
		{name: "martian src IPv4-mapped", ip: udp("::ffff:10.1.0.1", far, 64, 10), to: nowhere, counter: "martian_src"},
		{name: "martian dst unspecified", ip: udp(h1, "::", 64, 10), to: nowhere, counter: "martian_dst"},
		{name: "martian dst loopback", ip: udp(h1, "::1", 64, 10), to: nowhere, counter: "martian_dst"},
		{name: "martian dst IPv4-mapped", ip: udp(h1, "::ffff:10.2.0.1", 64, 10), to: nowhere, counter: "martian_dst"},
		{name: "shorter than the header", ip: udp(h1, far, 64, 10)[:39], to: nowhere, counter: "bad_header"},
		{name: "not version 6", ip: func() []byte { b := udp(h1, far, 64, 10); b[0] = 0x40; return b }(), to: nowhere, counter: "bad_header"},
		{name: "payload length beyond the frame", ip: udp(h1, far, 64, 10)[:55], to: nowhere, counter: "bad_header"},
		{name: "hop-by-hop runs off the end", ip: v6.IPv6(h1, far, 64, hdr.ProtoHopByHop, []byte{17, 1, 1, 4, 0, 0, 0, 0}),
			to: nowhere, counter: "bad_ext_hdr"},
		{name: "hop-by-hop option runs off the header", ip: withExt(far, hdr.ProtoHopByHop, v6.Ext(hdr.ProtoUDP, 1, 9)),
			to: nowhere, counter: "bad_ext_hdr"},
		{name: "hop-by-hop not first", ip: withExt(far, hdr.ProtoIPv6DstOpts, v6.Ext(hdr.ProtoHopByHop), v6.Ext(hdr.ProtoUDP)),
			to: nowhere, counter: "bad_ext_hdr"},
		{name: "fragment header cut short", ip: v6.IPv6(h1, far, 64, hdr.ProtoIPv6Frag, []byte{17, 0, 0, 0}),
			to: nowhere, counter: "bad_ext_hdr"},
		{name: "routing type 0", ip: withExt(far, hdr.ProtoIPv6Route, v6.Ext(hdr.ProtoUDP, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
			to: nowhere, counter: "rh0"},
		{name: "routing type 0 after hop-by-hop and a fragment header",
			ip: withExt(far, hdr.ProtoHopByHop, v6.Ext(hdr.ProtoIPv6Frag), v6.Frag(hdr.ProtoIPv6Route, 0, true), v6.Ext(hdr.ProtoUDP, 0, 0)),
			to: nowhere, counter: "rh0"},
		{name: "hop-by-hop unknown option 01", ip: withExt(far, hdr.ProtoHopByHop, v6.Ext(hdr.ProtoUDP, 0x5e, 0)),
			to: nowhere, counter: "unknown_option"},
		{name: "hop-by-hop unknown option 11 to multicast", ip: withExt("ff0e::1", hdr.ProtoHopByHop, v6.Ext(hdr.ProtoUDP, 0xc2, 0)),
			to: nowhere, counter: "unknown_option"},
		{name: "interface down", ip: udp(h1, "2001:db8:3::5", 64, 10), to: nowhere, counter: "intf_down"},
		{name: "interface unknown", ip: udp(h1, "2001:db8:60::1", 64, 10), to: nowhere, counter: "no_intf"},
		{name: "unicast in a link-layer broadcast", ip: udp(h1, far, 64, 10), meta: packet.MetaL2Broadcast, to: nowhere, counter: "l2_broadcast"},
		{name: "local in a link-layer broadcast", ip: udp(h1, v6.Eth0Global, 64, 10), meta: packet.MetaL2Broadcast, to: toLocal, hop: 64,
			wantMeta: packet.MetaL2Broadcast},

		// Packets the router made itself: no hop limit change, no martian
		// or extension header checks, never an ICMPv6 error about them.
		{name: "local origin", ip: udp(v6.Eth0Global, far, 64, 10), meta: packet.MetaLocalOrigin, to: toMux, counter: "forwarded",
			outIf: 2, nextHop: far, hop: 64, wantMeta: packet.MetaLocalOrigin | packet.MetaIPv6},
		{name: "local origin hop limit 1", ip: udp(v6.Eth0Global, far, 1, 10), meta: packet.MetaLocalOrigin, to: toMux, counter: "forwarded",
			outIf: 2, nextHop: far, hop: 1, wantMeta: packet.MetaLocalOrigin | packet.MetaIPv6},
		{name: "local origin to a link-local address leaves by InIfindex", ip: udp(v6.Eth1LL, "fe80::99", 64, 10), inIf: 2,
			meta: packet.MetaLocalOrigin, to: toMux, counter: "forwarded", outIf: 2, nextHop: "fe80::99", hop: 64,
			wantMeta: packet.MetaLocalOrigin | packet.MetaIPv6},
		{name: "local origin to a link-local address, InIfindex unknown", ip: udp(v6.Eth1LL, "fe80::99", 64, 10), inIf: -1,
			meta: packet.MetaLocalOrigin, to: nowhere, counter: "no_intf"},
		{name: "local origin from a link-local address, back out of its link", ip: udp(v6.Eth0LL, "2001:db8:1::77", 64, 10),
			meta: packet.MetaLocalOrigin, to: toMux, counter: "forwarded", outIf: 1, nextHop: "2001:db8:1::77", hop: 64,
			wantMeta: packet.MetaLocalOrigin | packet.MetaIPv6},
		{name: "local origin from a link-local address, leaving its link", ip: udp(v6.Eth3LL, far, 64, 10), inIf: 4,
			meta: packet.MetaLocalOrigin, to: nowhere, counter: "link_local"},
		{name: "local origin no route", ip: udp(v6.Eth0Global, "2001:db8:99::1", 64, 10), meta: packet.MetaLocalOrigin,
			to: nowhere, counter: "no_route"},
		{name: "local origin to itself", ip: udp(v6.Eth0Global, v6.Eth1Global, 64, 10), meta: packet.MetaLocalOrigin,
			to: nowhere, counter: "local"},
		{name: "local origin to multicast", ip: udp(v6.Eth0Global, "ff02::1", 64, 10), meta: packet.MetaLocalOrigin,
			to: nowhere, counter: "multicast"},
		{name: "local origin too big", ip: udp(v6.Eth0Global, far, 64, 1401-48), meta: packet.MetaLocalOrigin,
			to: nowhere, counter: "too_big"},
	}
	table := v6.Table()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, mux, local := setup(t, table)
			p := pkt(h, append([]byte(nil), tc.ip...), tc.meta)
			if tc.inIf != 0 {
				p.InIfindex = tc.inIf
			}
			h.Inject(names.IPv6Fwd, p)
			h.RunUntilIdle()
			outLen := tc.outLen
			if outLen == 0 {
				outLen = len(tc.ip)
			}
			want := map[string]uint64{"IPv6Fwd/enq": 1}
			if tc.counter != "" {
				want["IPv6Fwd/"+tc.counter] = 1
			}
			if tc.counter == "forwarded" {
				want["IPv6Fwd/forwarded#bytes"] = uint64(outLen)
			}
			var out []*packet.Packet
			switch tc.to {
			case toMux:
				want["EncapMux/enq"] = 1
				out = mux.Take()
			case toLocal:
				want["IPv6Local/enq"] = 1
				out = local.Take()
			}
			if tc.to == nowhere {
				if mux.Len()+local.Len() != 0 {
					t.Fatalf("dropped packet went on (mux %d, local %d)", mux.Len(), local.Len())
				}
			} else if len(out) != 1 {
				t.Fatalf("got %d packets at the expected next node (mux %d, local %d left)", len(out), mux.Len(), local.Len())
			}
			h.ExpectCounters(want)
			for _, p := range out {
				wantData := append([]byte(nil), tc.ip[:outLen]...)
				wantData[7] = tc.hop
				if !bytes.Equal(p.Data(), wantData) {
					t.Errorf("packet out\n%x\nwant\n%x", p.Data(), wantData)
				}
				wantMeta := tc.wantMeta
				if tc.to == toMux && wantMeta == 0 {
					wantMeta = packet.MetaIPv6
				}
				if p.Meta != wantMeta {
					t.Errorf("Meta = %#x, want %#x", p.Meta, wantMeta)
				}
				if tc.to == toMux {
					if p.OutIfindex != tc.outIf || p.NextHop6 != v6.A(tc.nextHop) {
						t.Errorf("OutIfindex %d NextHop6 %s, want %d %s", p.OutIfindex, netip.AddrFrom16(p.NextHop6), tc.outIf, tc.nextHop)
					}
				} else if p.NextHop != tc.wantInfo {
					t.Errorf("NextHop (ICMPv6 info) = %d, want %d", p.NextHop, tc.wantInfo)
				}
				h.Free(p)
			}
			h.Done()
		})
	}
}

// TestForwardBatch sends a full vector of 256 packets to many destinations
// in one run; each gets its own lookup result.
func TestForwardBatch(t *testing.T) {
	h, mux, local := setup(t, v6.Table())
	for i := 0; i < 256; i++ {
		var dst netip.Addr
		switch i % 4 {
		case 0:
			dst = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 2, 14: byte(i >> 8), 15: byte(i)}) // connected
		case 1:
			dst = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x50, 0, byte(i), 15: 1}) // gateway
		case 2:
			dst = netip.MustParseAddr(v6.Eth0Global) // local
		case 3:
			dst = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x99, 15: byte(i)}) // no route
		}
		h.Inject(names.IPv6Fwd, pkt(h, udp(h1, dst.String(), 64, 0), 0))
	}
	h.RunUntilIdle()
	m, l := mux.Take(), local.Take()
	if len(m) != 128 || len(l) != 128 {
		t.Fatalf("mux %d local %d, want 128 each", len(m), len(l))
	}
	for i, p := range m {
		dst := [16]byte(hdr.IPv6(p.Data()).Dst())
		want := dst // connected
		if i%2 == 1 {
			want = v6.A("fe80::2:1")
		}
		if p.OutIfindex != 2 || p.NextHop6 != want {
			t.Errorf("packet to %s: out %d via %s", netip.AddrFrom16(dst), p.OutIfindex, netip.AddrFrom16(p.NextHop6))
		}
	}
	for i, p := range l {
		if i%2 == 0 && p.Meta != 0 || i%2 == 1 && p.Meta != icmpMeta(hdr.ICMPv6DestUnreach, 0) {
			t.Errorf("local packet %d: Meta %#x", i, p.Meta)
		}
	}
	h.Free(m...)
	h.Free(l...)
	h.ExpectCounters(map[string]uint64{
		"IPv6Fwd/enq": 256, "EncapMux/enq": 128, "IPv6Local/enq": 128,
		"IPv6Fwd/forwarded": 128, "IPv6Fwd/forwarded#bytes": 128 * 48, "IPv6Fwd/no_route": 64,
	})
	h.Done()
}

// TestTableSwap: the node uses the table of the last msg.IPv6Table. The
// RIB publishes the changed copy (the node switches in Control) and then
// brings the other copy up to date, so a node that never got the message
// is still correct afterwards; what matters is that the swap is taken.
func TestTableSwap(t *testing.T) {
	var h *gt.Harness
	swaps := 0
	rib := fwd.NewIPv6RIB(func(t *fwd.IPv6Table) {
		if h != nil {
			swaps++
			h.Control(msg.IPv6Table{Table: t})
		}
	})
	if err := rib.AddBatch(v6.Routes); err != nil {
		t.Fatal(err)
	}
	h2, mux, local := setup(t, rib.Active())
	h = h2
	send := func() {
		h.Inject(names.IPv6Fwd, pkt(h, udp(h1, "2001:db8:aa::1", 64, 0), 0))
		h.RunUntilIdle()
	}
	send() // no route yet
	if err := rib.AddBatch([]fwd.Route6{{Prefix: netip.MustParsePrefix("2001:db8:aa::/48"),
		Adj: fwd.Adjacency6{Kind: fwd.AdjGateway, Ifindex: 1, NextHop: v6.A("fe80::1:1")}}}); err != nil {
		t.Fatal(err)
	}
	if swaps != 1 {
		t.Fatalf("%d table swaps, want 1", swaps)
	}
	send()
	ps := mux.Take()
	if len(ps) != 1 || ps[0].OutIfindex != 1 || ps[0].NextHop6 != v6.A("fe80::1:1") {
		t.Fatalf("after the swap: mux got %d packets", len(ps))
	}
	h.Free(ps...)
	h.Free(local.Take()...)
	h.ExpectCounters(map[string]uint64{
		"IPv6Fwd/enq": 2, "EncapMux/enq": 1, "IPv6Local/enq": 1, "IPv6Fwd/no_route": 1,
		"IPv6Fwd/forwarded": 1, "IPv6Fwd/forwarded#bytes": 48,
	})
	h.Done()
}

// TestInterfacesSwap: an interface coming up (msg.Interfaces) takes effect
// on the next Run, and so does a new address for link-local delivery.
func TestInterfacesSwap(t *testing.T) {
	h, mux, local := setup(t, v6.Table())
	send := func() {
		h.Inject(names.IPv6Fwd, pkt(h, udp(h1, "2001:db8:3::5", 64, 0), 0), pkt(h, udp("fe80::99", "fe80::1:3", 64, 0), 0))
		h.RunUntilIdle()
	}
	send()
	up := v6.Intfs().Get(3).Clone()
	up.Up = true
	eth0 := v6.Intfs().Get(1).Clone()
	eth0.Addrs = append(eth0.Addrs, netip.MustParsePrefix("fe80::1:3/64"))
	h.Control(msg.Interfaces{Snapshot: v6.Intfs().With(up).With(eth0)})
	send()
	ps, ls := mux.Take(), local.Take()
	if len(ps) != 1 || ps[0].OutIfindex != 3 || len(ls) != 1 {
		t.Fatalf("after the swap: mux got %d packets, local %d", len(ps), len(ls))
	}
	h.Free(ps...)
	h.Free(ls...)
	h.ExpectCounters(map[string]uint64{
		"IPv6Fwd/enq": 4, "EncapMux/enq": 1, "IPv6Local/enq": 1, "IPv6Fwd/intf_down": 1, "IPv6Fwd/link_local": 1,
		"IPv6Fwd/forwarded": 1, "IPv6Fwd/forwarded#bytes": 48,
	})
	h.Done()
}
