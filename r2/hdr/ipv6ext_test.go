package hdr

import "testing"

func TestIPv6Options(t *testing.T) {
	tests := []struct {
		name string
		h    []byte
		res  OptResult
		off  int
	}{
		{"pad1 only", []byte{17, 0, 0, 0, 0, 0, 0, 0}, OptOK, 0},
		{"padN", []byte{17, 0, 1, 4, 0, 0, 0, 0}, OptOK, 0},
		{"router alert", []byte{17, 0, 5, 2, 0, 0, 1, 0}, OptOK, 0},
		{"unknown 00 skipped", []byte{17, 0, 0x1e, 2, 0, 0, 0, 0}, OptOK, 0},
		{"unknown 01", []byte{17, 0, 0, 0x5e, 1, 0, 0, 0}, OptDiscard, 3},
		{"unknown 10", []byte{17, 0, 1, 0, 0x9e, 0, 0, 0}, OptParamProblem, 4},
		{"unknown 11 (jumbo)", []byte{17, 0, 0xc2, 4, 0, 0, 0, 0}, OptParamProblemUnicast, 2},
		{"option past the end", []byte{17, 0, 1, 5, 0, 0, 0, 0}, OptMalformed, 2},
		{"length byte missing", []byte{17, 0, 0, 0, 0, 0, 0, 1}, OptMalformed, 7},
		{"second 8 bytes", []byte{17, 1, 1, 6, 0, 0, 0, 0, 0, 0, 0x7f, 0, 0, 0, 0, 0}, OptDiscard, 10},
	}
	for _, tc := range tests {
		res, off := IPv6Options(tc.h)
		if res != tc.res || off != tc.off {
			t.Errorf("%s: %d at %d, want %d at %d", tc.name, res, off, tc.res, tc.off)
		}
	}
}

func TestWalkIPv6(t *testing.T) {
	pkt := func(next uint8, ext ...byte) []byte {
		b := make([]byte, IPv6Len, IPv6Len+len(ext)+8)
		b[0] = 0x60
		b[6] = next
		return append(append(b, ext...), make([]byte, 8)...) // 8 bytes of upper layer
	}
	hbh := []byte{ProtoIPv6Route, 0, 1, 4, 0, 0, 0, 0}
	rh0 := []byte{ProtoUDP, 0, 0, 0, 0, 0, 0, 0}
	rh2 := []byte{ProtoUDP, 0, 2, 0, 0, 0, 0, 0}
	frag1 := []byte{ProtoICMPv6, 0, 0, 1, 0, 0, 0, 1}
	fragN := []byte{ProtoICMPv6, 0, 0, 8, 0, 0, 0, 1}
	ah := []byte{ProtoTCP, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	tests := []struct {
		name string
		pkt  []byte
		max  int
		ok   bool
		want IPv6Chain
	}{
		{"plain UDP", pkt(ProtoUDP), 8, true, IPv6Chain{Proto: ProtoUDP, Upper: true, Off: 40}},
		{"HBH then RH0", pkt(ProtoHopByHop, append(hbh, rh0...)...), 8, true,
			IPv6Chain{Proto: ProtoUDP, Upper: true, Off: 56, HBHLen: 8, RH0: true}},
		{"routing type 2", pkt(ProtoIPv6Route, rh2...), 8, true, IPv6Chain{Proto: ProtoUDP, Upper: true, Off: 48}},
		{"first fragment", pkt(ProtoIPv6Frag, frag1...), 8, true, IPv6Chain{Proto: ProtoICMPv6, Upper: true, Off: 48, Frag: true}},
		{"non-first fragment", pkt(ProtoIPv6Frag, fragN...), 8, true,
			IPv6Chain{Proto: ProtoIPv6Frag, Off: 40, Frag: true, NonFirst: true}},
		{"AH", pkt(ProtoAH, ah...), 8, true, IPv6Chain{Proto: ProtoTCP, Upper: true, Off: 52}},
		{"bound reached", pkt(ProtoHopByHop, append(hbh, rh0...)...), 1, true, IPv6Chain{Proto: ProtoIPv6Route, Off: 48, HBHLen: 8}},
		{"HBH not first", pkt(ProtoIPv6DstOpts, ProtoHopByHop, 0, 0, 0, 0, 0, 0, 0, ProtoUDP, 0, 0, 0, 0, 0, 0, 0), 8, false, IPv6Chain{}},
		{"runs off the end", pkt(ProtoIPv6DstOpts, ProtoUDP, 2, 0, 0, 0, 0, 0, 0), 8, false, IPv6Chain{}},
		{"header cut short", pkt(ProtoIPv6DstOpts)[:44], 8, false, IPv6Chain{}},
		{"no next header", pkt(ProtoIPv6NoNext), 8, true, IPv6Chain{Proto: ProtoIPv6NoNext, Upper: true, Off: 40}},
	}
	for _, tc := range tests {
		got, ok := WalkIPv6(tc.pkt, tc.max)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("%s: %+v %v, want %+v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
