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
