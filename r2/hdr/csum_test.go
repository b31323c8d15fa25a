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
