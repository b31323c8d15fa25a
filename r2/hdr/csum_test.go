package hdr

import (
	"encoding/binary"
	"testing"
)

// l4Valid verifies a TCP/UDP checksum the way a receiver does.
func l4Valid(frame []byte) bool {
	ip := IPv4(frame[EtherLen:])
	l4 := ip[ip.HeaderLen():ip.TotalLen()]
	sum := Sum(ip[12:20], uint32(ip.Protocol())+uint32(len(l4)))
	return Fold(Sum(l4, sum)) == 0xffff
}

func frameWith(proto uint8, payload int) []byte {
	l4len := 8
	if proto == ProtoTCP {
		l4len = 20
	}
	b := make([]byte, EtherLen+IPv4MinLen+l4len+payload)
	binary.BigEndian.PutUint16(b[12:], EtherTypeIPv4)
	PutIPv4(b[EtherLen:], 0, len(b)-EtherLen, 1, 64, proto, 0x0a010001, 0x0a020001)
	l4 := b[EtherLen+IPv4MinLen:]
	binary.BigEndian.PutUint16(l4[0:], 40000)
	binary.BigEndian.PutUint16(l4[2:], 5001)
	if proto == ProtoUDP {
		binary.BigEndian.PutUint16(l4[4:], uint16(l4len+payload))
	} else {
		l4[12] = 5 << 4
	}
	for i := range l4[l4len:] {
		l4[l4len+i] = byte(i * 7)
	}
	return b
}

func TestCompleteChecksum(t *testing.T) {
	tests := []struct {
		name    string
		frame   []byte
		changed bool
	}{
		{"udp", frameWith(ProtoUDP, 33), true},
		{"udp empty", frameWith(ProtoUDP, 0), true},
		{"tcp", frameWith(ProtoTCP, 1000), true},
		{"tcp odd", frameWith(ProtoTCP, 1), true},
		{"icmp", frameWith(ProtoICMP, 8), false},
		{"runt", make([]byte, 20), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A partial checksum as the sender's stack leaves it.
			if len(tt.frame) > 60 || tt.changed {
				tt.frame[len(tt.frame)-1] ^= 0 // keep data; scribble the field
			}
			if tt.changed {
				off := EtherLen + IPv4MinLen + 6
				if IPv4(tt.frame[EtherLen:]).Protocol() == ProtoTCP {
					off = EtherLen + IPv4MinLen + 16
				}
				tt.frame[off], tt.frame[off+1] = 0x12, 0x34
			}
			if got := CompleteChecksum(tt.frame); got != tt.changed {
				t.Fatalf("changed = %v, want %v", got, tt.changed)
			}
			if tt.changed && !l4Valid(tt.frame) {
				t.Fatal("checksum still invalid")
			}
		})
	}
	// Ethernet padding beyond the IP total length is not summed.
	f := append(frameWith(ProtoUDP, 2), 0xee, 0xee, 0xee)
	if !CompleteChecksum(f) || !l4Valid(f[:len(f)-3]) {
		t.Fatal("padding was summed")
	}
	// A fragment is left alone.
	g := frameWith(ProtoUDP, 10)
	binary.BigEndian.PutUint16(g[EtherLen+6:], IPv4FlagMF)
	if CompleteChecksum(g) {
		t.Fatal("fragment changed")
	}
}

// frame6With is an Ethernet/IPv6 frame with ext (extension headers, the
// first one's type in next) before a TCP or UDP packet with payload bytes.
func frame6With(proto uint8, payload int, next uint8, ext []byte) []byte {
	l4len := 8
	if proto == ProtoTCP {
		l4len = 20
	}
	b := make([]byte, EtherLen+IPv6Len+len(ext)+l4len+payload)
	binary.BigEndian.PutUint16(b[12:], EtherTypeIPv6)
	src := [16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 15: 1}
	dst := [16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 2, 15: 1}
	if len(ext) == 0 {
		next = proto
	}
	PutIPv6(b[EtherLen:], 0, len(b)-EtherLen-IPv6Len, next, 64, &src, &dst)
	copy(b[EtherLen+IPv6Len:], ext)
	l4 := b[EtherLen+IPv6Len+len(ext):]
	binary.BigEndian.PutUint16(l4[0:], 40000)
	binary.BigEndian.PutUint16(l4[2:], 5001)
	if proto == ProtoUDP {
		binary.BigEndian.PutUint16(l4[4:], uint16(l4len+payload))
	} else {
		l4[12] = 5 << 4
	}
	for i := range l4[l4len:] {
		l4[l4len+i] = byte(i * 7)
	}
	// A partial checksum as the sender's stack leaves it.
	off := 6
	if proto == ProtoTCP {
		off = 16
	}
	l4[off], l4[off+1] = 0x12, 0x34
	return b
}

// l4Valid6 verifies the TCP/UDP checksum of an IPv6 frame the way a
// receiver does; off is the upper-layer header's offset in the IPv6 packet.
func l4Valid6(frame []byte, off int, proto uint8) bool {
	ip := IPv6(frame[EtherLen:])
	l4 := ip[off : IPv6Len+ip.PayloadLen()]
	return Fold(Sum(l4, PseudoSum6(ip.Src(), ip.Dst(), len(l4), proto))) == 0xffff
}

func TestCompleteChecksumIPv6(t *testing.T) {
	// A destination options header (8 bytes: PadN) before the upper layer.
	dstOpts := func(next uint8) []byte { return []byte{next, 0, 1, 4, 0, 0, 0, 0} }
	frag := []byte{ProtoUDP, 0, 0, 0, 0, 0, 0, 7} // first fragment, MF clear: still a fragment header
	tests := []struct {
		name    string
		frame   []byte
		off     int
		proto   uint8
		changed bool
	}{
		{"udp", frame6With(ProtoUDP, 33, 0, nil), IPv6Len, ProtoUDP, true},
		{"udp empty", frame6With(ProtoUDP, 0, 0, nil), IPv6Len, ProtoUDP, true},
		{"tcp", frame6With(ProtoTCP, 1000, 0, nil), IPv6Len, ProtoTCP, true},
		{"tcp odd", frame6With(ProtoTCP, 1, 0, nil), IPv6Len, ProtoTCP, true},
		{"udp after dest options", frame6With(ProtoUDP, 20, ProtoIPv6DstOpts, dstOpts(ProtoUDP)), IPv6Len + 8, ProtoUDP, true},
		{"tcp after dest options", frame6With(ProtoTCP, 20, ProtoIPv6DstOpts, dstOpts(ProtoTCP)), IPv6Len + 8, ProtoTCP, true},
		{"fragment", frame6With(ProtoUDP, 20, ProtoIPv6Frag, frag), 0, 0, false},
		{"icmpv6", frame6With(ProtoICMPv6, 8, 0, nil), 0, 0, false},
		{"header only", frame6With(ProtoUDP, 0, 0, nil)[:EtherLen+IPv6Len], 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CompleteChecksum(tt.frame); got != tt.changed {
				t.Fatalf("changed = %v, want %v", got, tt.changed)
			}
			if tt.changed && !l4Valid6(tt.frame, tt.off, tt.proto) {
				t.Fatal("checksum still invalid")
			}
		})
	}
	// Ethernet padding beyond the payload length is not summed.
	f := append(frame6With(ProtoUDP, 2, 0, nil), 0xee, 0xee, 0xee)
	if !CompleteChecksum(f) || !l4Valid6(f[:len(f)-3], IPv6Len, ProtoUDP) {
		t.Fatal("padding was summed")
	}
	// A payload length beyond the frame, or an extension header running
	// off the end: left alone.
	g := frame6With(ProtoUDP, 10, 0, nil)
	binary.BigEndian.PutUint16(g[EtherLen+4:], 500)
	h := frame6With(ProtoUDP, 0, ProtoIPv6DstOpts, []byte{ProtoUDP, 9, 1, 4, 0, 0, 0, 0})
	for _, b := range [][]byte{g, h} {
		if CompleteChecksum(b) {
			t.Fatalf("malformed frame changed: %x", b)
		}
	}
}
