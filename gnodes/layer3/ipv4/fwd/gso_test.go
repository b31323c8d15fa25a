package ipv4fwd_test

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/r2go/r2/fwd"
	ipv4fwd "github.com/r2go/r2/gnodes/layer3/ipv4/fwd"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

// gsoInterfaces are eth0 (10.1.0.2/24, MTU 1500, no offload) and eth1
// (10.2.0.2/24, MTU mtu1, offload).
func gsoInterfaces(mtu1 int) *fwd.Interfaces {
	var s *fwd.Interfaces
	s = s.With(&fwd.Interface{Ifindex: 1, Name: "eth0", MAC: [6]byte{2, 0, 0, 0, 0, 1}, MTU: 1500,
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.1.0.2/24")}, Up: true})
	return s.With(&fwd.Interface{Ifindex: 2, Name: "eth1", MAC: [6]byte{2, 0, 0, 0, 0, 2}, MTU: mtu1,
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.2.0.2/24")}, Up: true, Offload: true})
}

// TestGSO: a super-frame is held to the MTU segment by segment, and goes
// to GSO when the output cannot take it (no offload, or a segment too big
// with DF clear); with DF set and segments too big it is answered with
// fragmentation needed. A frame with only a checksum to finish goes to
// GSO for an output without offload.
func TestGSO(t *testing.T) {
	s := gsoInterfaces(1400)
	tests := []struct {
		name    string
		dst     string
		size    uint16 // gso_size; 0: checksum only
		df      bool
		sink    string
		counter string
	}{
		{name: "segments fit, output offloads", dst: "10.2.0.9", size: 1000, sink: names.EncapMux},
		{name: "segments too big, DF", dst: "10.2.0.9", size: 1390, df: true, sink: names.IPv4Local, counter: "IPv4Fwd/frag_needed"},
		{name: "segments too big, no DF", dst: "10.2.0.9", size: 1390, sink: names.GSO, counter: "IPv4Fwd/to_gso"},
		{name: "output without offload", dst: "10.1.0.9", size: 1000, sink: names.GSO, counter: "IPv4Fwd/to_gso"},
		{name: "checksum only, too big, no DF (finished, then fragmented)", dst: "10.2.0.9", sink: names.GSO, counter: "IPv4Fwd/to_gso"},
		{name: "checksum only, output without offload", dst: "10.1.0.9", sink: names.GSO, counter: "IPv4Fwd/to_gso"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := gt.New(t, gt.Options{})
			gt.Add(h, ipv4fwd.New(newRIB(t, nil).Active(), s))
			sinks := map[string]*gt.Sink{}
			for _, n := range []string{names.EncapMux, names.IPv4Local, names.GSO} {
				sinks[n] = h.Sink(n)
			}
			b := ip("10.1.0.1", tc.dst, 64, 1800)
			if tc.df {
				b[6] |= 0x40
				binary.BigEndian.PutUint16(b[10:], 0)
				c := gt.RefChecksum(b[:20])
				binary.BigEndian.PutUint16(b[10:], c)
			}
			p := pkt(h, b, 0)
			p.GSO = packet.GSO{CsumStart: uint16(p.Head() + 20), CsumOffset: 6, Size: tc.size, Flags: packet.GSONeedsCsum}
			if tc.size != 0 {
				p.GSO.Type = packet.GSOUDPL4
			}
			h.Inject(names.IPv4Fwd, p)
			h.RunUntilIdle()
			for n, sk := range sinks {
				want := 0
				if n == tc.sink {
					want = 1
				}
				if sk.Len() != want {
					t.Errorf("%s got %d packets, want %d", n, sk.Len(), want)
				}
			}
			if tc.counter != "" && h.Counter(tc.counter) != 1 {
				t.Errorf("%s = %d, want 1", tc.counter, h.Counter(tc.counter))
			}
		})
	}
}

// TestBehindGSO: once a packet went to GSO, later packets for an output
// without offload follow it there in the same run, so GSO's segments do
// not reach EncapMux after a later packet of the flow; packets for an
// output with offload, and those before the super-frame, go straight on.
func TestBehindGSO(t *testing.T) {
	s := gsoInterfaces(1500)
	h := gt.New(t, gt.Options{})
	gt.Add(h, ipv4fwd.New(newRIB(t, nil).Active(), s))
	mux, gso := h.Sink(names.EncapMux), h.Sink(names.GSO)
	plain := func(dst string, size int) *packet.Packet { return pkt(h, ip("10.2.0.1", dst, 64, size), 0) }
	before := plain("10.1.0.9", 100)
	super := pkt(h, ip("10.2.0.1", "10.1.0.9", 64, 1800), 0)
	super.GSO = packet.GSO{CsumStart: uint16(super.Head() + 20), CsumOffset: 6, Size: 1000, Type: packet.GSOUDPL4, Flags: packet.GSONeedsCsum}
	after := plain("10.1.0.9", 101)
	offloaded := plain("10.2.0.9", 102)
	h.Inject(names.IPv4Fwd, before, super, after, offloaded)
	h.RunUntilIdle()
	lens := func(pkts []*packet.Packet) []int {
		var l []int
		for _, p := range pkts {
			l = append(l, p.Len())
		}
		return l
	}
	gotMux, gotGSO := lens(mux.Take()), lens(gso.Take())
	if len(gotMux) != 2 || gotMux[0] != 100 || gotMux[1] != 102 {
		t.Errorf("EncapMux got packets of lengths %v, want [100 102]", gotMux)
	}
	if len(gotGSO) != 2 || gotGSO[0] != 1800 || gotGSO[1] != 101 {
		t.Errorf("GSO got packets of lengths %v, want [1800 101]", gotGSO)
	}
	if c := h.Counter("IPv4Fwd/behind_gso"); c != 1 {
		t.Errorf("behind_gso = %d, want 1", c)
	}
}
