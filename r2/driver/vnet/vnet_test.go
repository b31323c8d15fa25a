package vnet

import (
	"encoding/binary"
	"testing"

	"github.com/r2go/r2/r2/packet"
)

// TestPut checks the header of a plain frame, a frame with a UDP checksum
// to finish and a TCP super-frame (hdr_len up to the end of the TCP
// header, options included).
func TestPut(t *testing.T) {
	pool := packet.NewPool(0, 4)
	for _, tc := range []struct {
		name string
		len  int
		gso  func(head int) packet.GSO
		tcp  int // TCP data offset byte at CsumStart+12, 0 for none
		want [5]uint16
		flag uint8
		typ  uint8
	}{
		{name: "plain", len: 100, gso: func(int) packet.GSO { return packet.GSO{} }, want: [5]uint16{0, 100}},
		{name: "udp csum", len: 300, gso: func(h int) packet.GSO {
			return packet.GSO{CsumStart: uint16(h + 34), CsumOffset: 6, Flags: packet.GSONeedsCsum}
		}, want: [5]uint16{0, 300, 0, 34, 6}, flag: FlagNeedsCsum},
		{name: "tcp super-frame", len: 1500, tcp: 8 << 4, gso: func(h int) packet.GSO {
			return packet.GSO{CsumStart: uint16(h + 34), CsumOffset: 16, Size: 1000, Type: packet.GSOTCPv4, Flags: packet.GSONeedsCsum}
		}, want: [5]uint16{0, 34 + 32, 1000, 34, 16}, flag: FlagNeedsCsum, typ: packet.GSOTCPv4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pool.Get()
			defer pool.Free(p)
			if !p.SetData(make([]byte, tc.len)) {
				t.Fatal("SetData")
			}
			p.GSO = tc.gso(p.Head())
			if tc.tcp != 0 {
				p.Data()[34+12] = byte(tc.tcp)
			}
			frame := p.Head()
			v := p.Push(HdrLen)
			Put(v, p, frame)
			if v[0] != tc.flag || v[1] != tc.typ {
				t.Errorf("flags %d type %d, want %d %d", v[0], v[1], tc.flag, tc.typ)
			}
			for i := 1; i < 5; i++ {
				if got := binary.NativeEndian.Uint16(v[2*i:]); got != tc.want[i] {
					t.Errorf("field %d = %d, want %d (header % x)", i, got, tc.want[i], v)
				}
			}
			if Needs(p) != (tc.flag != 0) {
				t.Errorf("Needs = %v", Needs(p))
			}
		})
	}
}
