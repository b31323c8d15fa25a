package afxdp

import (
	"encoding/binary"
	"testing"

	"github.com/r2go/r2/r2/hdr"
)

// udp4 makes an Ethernet/IPv4/UDP frame with payload n bytes and a
// complete checksum.
func udp4(n int) []byte {
	b := make([]byte, 14+20+8+n)
	binary.BigEndian.PutUint16(b[12:], hdr.EtherTypeIPv4)
	ip := b[14:]
	hdr.PutIPv4(ip, 0, 28+n, 1, 64, hdr.ProtoUDP, 0x0a000001, 0x0a000102)
	u := ip[20:]
	binary.BigEndian.PutUint16(u[0:], 1234)
	binary.BigEndian.PutUint16(u[2:], 5678)
	binary.BigEndian.PutUint16(u[4:], uint16(8+n))
	for i := range n {
		u[8+i] = byte(i * 13)
	}
	c := ^hdr.Fold(hdr.Sum(u, hdr.Sum(ip[12:20], uint32(hdr.ProtoUDP)+uint32(8+n))))
	binary.BigEndian.PutUint16(u[6:], c)
	return b
}

func TestFinishPartial(t *testing.T) {
	for _, n := range []int{0, 1, 18, 1000} {
		full := udp4(n)
		// What a sender with checksum offload puts there.
		partial := append([]byte(nil), full...)
		if _, ok := hdr.SetPseudoChecksum(partial[14:]); !ok {
			t.Fatal("SetPseudoChecksum failed")
		}
		if !finishPartial(partial) || string(partial) != string(full) {
			t.Errorf("payload %d: partial checksum not completed to the full one", n)
		}
		// A complete checksum is left alone (or rewritten with its own
		// value, when it equals the pseudo-header sum).
		again := append([]byte(nil), full...)
		finishPartial(again)
		if string(again) != string(full) {
			t.Errorf("payload %d: complete checksum changed", n)
		}
	}
	for name, b := range map[string][]byte{"empty": nil, "runt": make([]byte, 20), "arp": append(make([]byte, 12), 8, 6, 0, 0)} {
		if finishPartial(b) {
			t.Errorf("%s: changed", name)
		}
	}
}

// TestFinishPartialTCP6 completes a partial TCP/IPv6 checksum.
func TestFinishPartialTCP6(t *testing.T) {
	b := make([]byte, 14+40+20+100)
	binary.BigEndian.PutUint16(b[12:], hdr.EtherTypeIPv6)
	ip := b[14:]
	var src, dst [16]byte
	src[0], dst[0], src[15], dst[15] = 0x20, 0x20, 1, 2
	hdr.PutIPv6(ip, 0, 120, hdr.ProtoTCP, 64, &src, &dst)
	tcp := ip[40:]
	tcp[12] = 5 << 4
	for i := 20; i < len(tcp); i++ {
		tcp[i] = byte(i)
	}
	pseudo := hdr.PseudoSum6(src[:], dst[:], len(tcp), hdr.ProtoTCP)
	binary.BigEndian.PutUint16(tcp[16:], hdr.Fold(pseudo))
	if !finishPartial(b) {
		t.Fatal("partial TCP/IPv6 checksum not completed")
	}
	if hdr.Fold(hdr.Sum(tcp, pseudo)) != 0xffff {
		t.Errorf("checksum %#04x does not verify", binary.BigEndian.Uint16(tcp[16:]))
	}
}

// FuzzFinishPartial: any frame, no panic, and a frame it changes has
// only its L4 checksum field changed.
func FuzzFinishPartial(f *testing.F) {
	f.Add(udp4(10))
	f.Add(make([]byte, 60))
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := append([]byte(nil), b...)
		if !finishPartial(b) {
			if string(b) != string(orig) {
				t.Fatal("changed a frame it reports unchanged")
			}
			return
		}
		diff := 0
		for i := range b {
			if b[i] != orig[i] {
				diff++
			}
		}
		if diff > 2 {
			t.Fatalf("%d bytes changed, want at most the 2 of the checksum", diff)
		}
	})
}
