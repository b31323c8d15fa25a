package ipv4fwd_test

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/r2go/r2/fwd"
	ipv4fwd "github.com/r2go/r2/gnodes/layer3/ipv4/fwd"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

// The router: eth0 (ifindex 1) 10.1.0.2/24, eth1 (ifindex 2) 10.2.0.2/24
// with MTU 1400, eth2 (ifindex 3) 10.3.0.2/24 down.
func intfs() *fwd.Interfaces {
	mk := func(ifindex int32, name, addr string, mtu int, up bool) *fwd.Interface {
		return &fwd.Interface{Ifindex: ifindex, Name: name, MAC: [6]byte{2, 0, 0, 0, 0, byte(ifindex)}, MTU: mtu,
			Addrs: []netip.Prefix{netip.MustParsePrefix(addr)}, Up: up}
	}
	var s *fwd.Interfaces
	s = s.With(mk(1, "eth0", "10.1.0.2/24", 1500, true))
	s = s.With(mk(2, "eth1", "10.2.0.2/24", 1400, true))
	s = s.With(mk(3, "eth2", "10.3.0.2/24", 1500, false))
	return s
}

func route(p string, kind fwd.AdjKind, ifindex int32, nh string) fwd.Route {
	r := fwd.Route{Prefix: netip.MustParsePrefix(p), Adj: fwd.Adjacency{Kind: kind, Ifindex: ifindex}}
	if nh != "" {
		r.Adj.NextHop = gt.IP(nh)
	}
	return r
}

var routes = []fwd.Route{
	route("10.1.0.0/24", fwd.AdjConnected, 1, ""),
	route("10.2.0.0/24", fwd.AdjConnected, 2, ""),
	route("10.3.0.0/24", fwd.AdjConnected, 3, ""),
	route("10.1.0.2/32", fwd.AdjLocal, 1, ""),
	route("10.2.0.2/32", fwd.AdjLocal, 2, ""),
	route("10.50.0.0/16", fwd.AdjGateway, 2, "10.2.0.1"),
	route("10.60.0.0/16", fwd.AdjConnected, 9, ""), // ifindex 9 does not exist
	route("10.70.0.0/16", fwd.AdjDrop, 0, ""),
}

// newRIB returns a RIB holding routes; publish may be nil.
func newRIB(t *testing.T, publish func(*fwd.IPv4Table)) *fwd.IPv4RIB {
	t.Helper()
	if publish == nil {
		publish = func(*fwd.IPv4Table) {}
	}
	rib := fwd.NewIPv4RIB(publish)
	if err := rib.AddBatch(routes); err != nil {
		t.Fatal(err)
	}
	return rib
}

// setup is IPv4Fwd with sinks for EncapMux and IPv4Local.
func setup(t *testing.T, table *fwd.IPv4Table) (h *gt.Harness, mux, local *gt.Sink) {
	h = gt.New(t, gt.Options{})
	gt.Add(h, ipv4fwd.New(table, intfs()))
	return h, h.Sink(names.EncapMux), h.Sink(names.IPv4Local)
}

// pkt is an IPv4 packet as L3Parse passes it on.
func pkt(h *gt.Harness, ip []byte, meta uint32) *packet.Packet {
	p := h.L3(gt.Ether(gt.MAC("02:00:00:00:00:01"), gt.MAC("02:00:00:00:00:99"), hdr.EtherTypeIPv4, ip))
	p.InIfindex = 1
	p.Meta = meta
	return p
}

// ip builds a UDP packet of total length total (at least 28).
func ip(src, dst string, ttl uint8, total int) []byte {
	return gt.IPv4(gt.IP(src), gt.IP(dst), ttl, hdr.ProtoUDP, gt.UDP(7, 9, gt.Bytes(total-28)))
}

func df(b []byte) []byte { gt.SetFlagsFrag(b, hdr.IPv4FlagDF); return b }

func TestForward(t *testing.T) {
	const (
		toMux = iota + 1
		toLocal
		nowhere
	)
	icmpMeta := func(typ, code uint8) uint32 { return packet.MetaICMPError | uint32(typ)<<8 | uint32(code) }
	tests := []struct {
		name    string
		ip      []byte
		meta    uint32
		to      int
		counter string // the node counter incremented (besides enq)
		// For packets reaching EncapMux:
		outIf   int32
		nextHop string
		ttl     uint8
		// For packets reaching IPv4Local:
		wantMeta uint32
		wantNH   uint32
		// extra counters expected besides enq and counter
		extra map[string]uint64
	}{
		{name: "connected", ip: ip("10.1.0.1", "10.2.0.9", 64, 100), to: toMux, counter: "forwarded",
			outIf: 2, nextHop: "10.2.0.9", ttl: 63},
		{name: "gateway", ip: ip("10.1.0.1", "10.50.3.4", 64, 100), to: toMux, counter: "forwarded",
			outIf: 2, nextHop: "10.2.0.1", ttl: 63},
		{name: "TTL 2 leaves with 1", ip: ip("10.1.0.1", "10.2.0.9", 2, 100), to: toMux, counter: "forwarded",
			outIf: 2, nextHop: "10.2.0.9", ttl: 1},
		{name: "TTL 255", ip: ip("10.1.0.1", "10.2.0.9", 255, 100), to: toMux, counter: "forwarded",
			outIf: 2, nextHop: "10.2.0.9", ttl: 254},
		{name: "MTU exactly", ip: df(ip("10.1.0.1", "10.2.0.9", 64, 1400)), to: toMux, counter: "forwarded",
			outIf: 2, nextHop: "10.2.0.9", ttl: 63},
		{name: "back out the input interface", ip: ip("10.1.0.1", "10.1.0.77", 9, 64), to: toMux, counter: "forwarded",
			outIf: 1, nextHop: "10.1.0.77", ttl: 8},
		{name: "no route", ip: ip("10.1.0.1", "192.0.2.1", 64, 100), to: toLocal, counter: "no_route",
			wantMeta: icmpMeta(hdr.ICMPDestUnreach, hdr.ICMPNetUnreach), ttl: 64},
		{name: "drop route", ip: ip("10.1.0.1", "10.70.1.1", 64, 100), to: toLocal, counter: "no_route",
			wantMeta: icmpMeta(hdr.ICMPDestUnreach, hdr.ICMPNetUnreach), ttl: 64},
		{name: "TTL 1", ip: ip("10.1.0.1", "10.2.0.9", 1, 100), to: toLocal, counter: "ttl_expired",
			wantMeta: icmpMeta(hdr.ICMPTimeExceeded, hdr.ICMPTTLExceeded), ttl: 1},
		{name: "TTL 0", ip: ip("10.1.0.1", "10.2.0.9", 0, 100), to: toLocal, counter: "ttl_expired",
			wantMeta: icmpMeta(hdr.ICMPTimeExceeded, hdr.ICMPTTLExceeded), ttl: 0},
		{name: "local", ip: ip("10.1.0.1", "10.1.0.2", 64, 100), to: toLocal, ttl: 64},
		{name: "local on other interface", ip: ip("10.1.0.1", "10.2.0.2", 64, 100), to: toLocal, ttl: 64},
		{name: "local with TTL 1", ip: ip("10.1.0.1", "10.2.0.2", 1, 100), to: toLocal, ttl: 1},
		{name: "martian src 0/8", ip: ip("0.1.2.3", "10.2.0.9", 64, 100), to: nowhere, counter: "martian_src"},
		{name: "martian src 0.0.0.0", ip: ip("0.0.0.0", "10.2.0.9", 64, 100), to: nowhere, counter: "martian_src"},
		{name: "martian src loopback", ip: ip("127.0.0.1", "10.2.0.9", 64, 100), to: nowhere, counter: "martian_src"},
		{name: "martian src multicast", ip: ip("224.0.0.5", "10.2.0.9", 64, 100), to: nowhere, counter: "martian_src"},
		{name: "martian src class E", ip: ip("240.0.0.1", "10.2.0.9", 64, 100), to: nowhere, counter: "martian_src"},
		{name: "martian src broadcast", ip: ip("255.255.255.255", "10.2.0.9", 64, 100), to: nowhere, counter: "martian_src"},
		{name: "martian dst 0/8", ip: ip("10.1.0.1", "0.0.0.1", 64, 100), to: nowhere, counter: "martian_dst"},
		{name: "martian dst loopback", ip: ip("10.1.0.1", "127.1.2.3", 64, 100), to: nowhere, counter: "martian_dst"},
		{name: "multicast dst", ip: ip("10.1.0.1", "224.0.0.5", 64, 100), to: nowhere, counter: "multicast"},
		{name: "multicast dst 239", ip: ip("10.1.0.1", "239.255.255.250", 64, 100), to: nowhere, counter: "multicast"},
		{name: "limited broadcast", ip: ip("10.1.0.1", "255.255.255.255", 64, 100), to: nowhere, counter: "broadcast"},
		{name: "too big with DF", ip: df(ip("10.1.0.1", "10.2.0.9", 64, 1401)), to: toLocal, counter: "frag_needed",
			wantMeta: icmpMeta(hdr.ICMPDestUnreach, hdr.ICMPFragNeeded), wantNH: 1400, ttl: 64}, // the error quotes the packet as received
		// Sent on to IPv4Frag, which this graph lacks (so: Drop); the
		// frag package tests the splitting.
		{name: "too big without DF", ip: ip("10.1.0.1", "10.2.0.9", 64, 1401), to: nowhere, counter: "to_fragment",
			extra: map[string]uint64{"IPv4Fwd/forwarded": 1, "IPv4Fwd/forwarded#bytes": 1401, "Drop/pkts": 1}},
		{name: "interface down", ip: ip("10.1.0.1", "10.3.0.5", 64, 100), to: nowhere, counter: "intf_down"},
		{name: "interface unknown", ip: ip("10.1.0.1", "10.60.0.1", 64, 100), to: nowhere, counter: "no_intf"},
		// Packets the router made itself: no TTL change, no martian check,
		// never an ICMP error about them.
		{name: "local origin", ip: ip("10.1.0.2", "10.2.0.9", 64, 100), meta: packet.MetaLocalOrigin, to: toMux,
			counter: "forwarded", outIf: 2, nextHop: "10.2.0.9", ttl: 64, wantMeta: packet.MetaLocalOrigin},
		{name: "local origin TTL 1", ip: ip("10.1.0.2", "10.50.0.1", 1, 100), meta: packet.MetaLocalOrigin, to: toMux,
			counter: "forwarded", outIf: 2, nextHop: "10.2.0.1", ttl: 1, wantMeta: packet.MetaLocalOrigin},
		{name: "local origin no route", ip: ip("10.1.0.2", "192.0.2.1", 64, 100), meta: packet.MetaLocalOrigin,
			to: nowhere, counter: "no_route"},
		{name: "local origin to itself", ip: ip("10.1.0.2", "10.2.0.2", 64, 100), meta: packet.MetaLocalOrigin,
			to: nowhere, counter: "local"},
		{name: "local origin to broadcast", ip: ip("10.1.0.2", "255.255.255.255", 64, 100), meta: packet.MetaLocalOrigin,
			to: nowhere, counter: "broadcast"},
		{name: "local origin too big with DF", ip: df(ip("10.1.0.2", "10.2.0.9", 64, 1401)), meta: packet.MetaLocalOrigin,
			to: nowhere, counter: "frag_needed"},
	}
	rib := newRIB(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, mux, local := setup(t, rib.Active())
			h.Inject(names.IPv4Fwd, pkt(h, append([]byte(nil), tc.ip...), tc.meta))
			h.RunUntilIdle()
			want := map[string]uint64{"IPv4Fwd/enq": 1}
			if tc.counter != "" {
				want["IPv4Fwd/"+tc.counter] = 1
			}
			if tc.counter == "forwarded" {
				want["IPv4Fwd/forwarded#bytes"] = uint64(len(tc.ip))
			}
			for k, v := range tc.extra {
				want[k] = v
			}
			var out []*packet.Packet
			switch tc.to {
			case toMux:
				want["EncapMux/enq"] = 1
				out = mux.Take()
			case toLocal:
				want["IPv4Local/enq"] = 1
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
				checkOut(t, p, tc.ip, tc.ttl)
				if p.Meta != tc.wantMeta {
					t.Errorf("Meta = %#x, want %#x", p.Meta, tc.wantMeta)
				}
				if tc.to == toMux {
					if p.OutIfindex != tc.outIf || p.NextHop != gt.IP(tc.nextHop) {
						t.Errorf("OutIfindex %d NextHop %s, want %d %s", p.OutIfindex, fwd.U32ToIPv4(p.NextHop), tc.outIf, tc.nextHop)
					}
				} else if p.NextHop != tc.wantNH {
					t.Errorf("NextHop (ICMP info) = %d, want %d", p.NextHop, tc.wantNH)
				}
				h.Free(p)
			}
			h.Done()
		})
	}
}

// checkOut checks that p is in, apart from the TTL (ttl) and the checksum,
// which must be valid.
func checkOut(t *testing.T, p *packet.Packet, in []byte, ttl uint8) {
	t.Helper()
	got := p.Data()
	if !gt.IPv4ChecksumOK(got) {
		t.Errorf("bad header checksum in %x", got[:20])
	}
	want := append([]byte(nil), in...)
	want[8] = ttl
	if len(got) != len(want) || !bytes.Equal(got[:10], want[:10]) || !bytes.Equal(got[12:], want[12:]) {
		t.Errorf("packet out\n%x\nwant (TTL %d)\n%x", got, ttl, want)
	}
}

// TestForwardBatch sends a full vector of 256 packets to many destinations
// in one run; each gets its own lookup result.
func TestForwardBatch(t *testing.T) {
	h, mux, local := setup(t, newRIB(t, nil).Active())
	for i := 0; i < 256; i++ {
		var dst string
		switch i % 4 {
		case 0:
			dst = fwd.U32ToIPv4(gt.IP("10.2.0.0") + uint32(i)).String() // connected
		case 1:
			dst = fwd.U32ToIPv4(gt.IP("10.50.0.0") + uint32(i)<<8).String() // gateway
		case 2:
			dst = "10.1.0.2" // local
		case 3:
			dst = fwd.U32ToIPv4(gt.IP("192.0.2.0") + uint32(i)).String() // no route
		}
		h.Inject(names.IPv4Fwd, pkt(h, ip("10.1.0.1", dst, 64, 28), 0))
	}
	h.RunUntilIdle()
	m, l := mux.Take(), local.Take()
	if len(m) != 128 || len(l) != 128 {
		t.Fatalf("mux %d local %d, want 128 each", len(m), len(l))
	}
	for i, p := range m {
		dst := hdr.IPv4(p.Data()).Dst()
		want := dst // connected
		if i%2 == 1 {
			want = gt.IP("10.2.0.1")
		}
		if p.OutIfindex != 2 || p.NextHop != want {
			t.Errorf("packet to %s: out %d via %s", fwd.U32ToIPv4(dst), p.OutIfindex, fwd.U32ToIPv4(p.NextHop))
		}
	}
	for i, p := range l {
		if i%2 == 0 && p.Meta != 0 || i%2 == 1 && p.Meta == 0 {
			t.Errorf("local packet %d to %s: Meta %#x", i, fwd.U32ToIPv4(hdr.IPv4(p.Data()).Dst()), p.Meta)
		}
	}
	h.Free(m...)
	h.Free(l...)
	h.ExpectCounters(map[string]uint64{
		"IPv4Fwd/enq": 256, "EncapMux/enq": 128, "IPv4Local/enq": 128,
		"IPv4Fwd/forwarded": 128, "IPv4Fwd/forwarded#bytes": 128 * 28, "IPv4Fwd/no_route": 64,
	})
	h.Done()
}

// TestTableSwap follows the copy-on-write protocol: while the RIB publishes
// a new table the node still uses the old one, and after the IPv4Table
// message the next Run uses the new one.
func TestTableSwap(t *testing.T) {
	var h *gt.Harness
	var mux, local *gt.Sink
	dst := "172.16.5.5"
	published := 0
	send := func() {
		h.Inject(names.IPv4Fwd, pkt(h, ip("10.1.0.1", dst, 64, 28), 0))
		h.RunUntilIdle()
	}
	rib := newRIB(t, func(tbl *fwd.IPv4Table) {
		if h == nil {
			return
		}
		published++
		send()
		if mux.Len() != 0 || h.Counter("IPv4Fwd/no_route") != 1 {
			t.Errorf("before the swap: mux got %d, no_route %d", mux.Len(), h.Counter("IPv4Fwd/no_route"))
		}
		h.Control(msg.IPv4Table{Table: tbl})
		send()
		ps := mux.Take()
		if len(ps) != 1 || ps[0].NextHop != gt.IP("10.1.0.1") || ps[0].OutIfindex != 1 {
			t.Errorf("after the swap: mux got %d packets", len(ps))
		}
		h.Free(ps...)
	})
	h, mux, local = setup(t, rib.Active())
	if err := rib.Add(route("172.16.0.0/16", fwd.AdjGateway, 1, "10.1.0.1")); err != nil {
		t.Fatal(err)
	}
	if published != 1 {
		t.Fatalf("published %d times", published)
	}
	// The node still uses the table it was given; RIB has synced the other
	// copy, so both agree now.
	send()
	h.Free(mux.Take()...)
	h.Free(local.Take()...)
	h.ExpectCounters(map[string]uint64{
		"IPv4Fwd/enq": 3, "EncapMux/enq": 2, "IPv4Local/enq": 1, "IPv4Fwd/no_route": 1,
		"IPv4Fwd/forwarded": 2, "IPv4Fwd/forwarded#bytes": 56,
	})
	h.Done()
}

// TestInterfacesSwap: an interface coming up (msg.Interfaces) takes effect
// on the next Run.
func TestInterfacesSwap(t *testing.T) {
	h, mux, _ := setup(t, newRIB(t, nil).Active())
	h.Inject(names.IPv4Fwd, pkt(h, ip("10.1.0.1", "10.3.0.5", 64, 28), 0))
	h.RunUntilIdle()
	up := intfs().Get(3).Clone()
	up.Up = true
	h.Control(msg.Interfaces{Snapshot: intfs().With(up)})
	h.Inject(names.IPv4Fwd, pkt(h, ip("10.1.0.1", "10.3.0.5", 64, 28), 0))
	h.RunUntilIdle()
	ps := mux.Take()
	if len(ps) != 1 || ps[0].OutIfindex != 3 {
		t.Fatalf("mux got %d packets after the interface came up", len(ps))
	}
	h.Free(ps...)
	h.ExpectCounters(map[string]uint64{
		"IPv4Fwd/enq": 2, "EncapMux/enq": 1, "IPv4Fwd/intf_down": 1,
		"IPv4Fwd/forwarded": 1, "IPv4Fwd/forwarded#bytes": 28,
	})
	h.Done()
}
