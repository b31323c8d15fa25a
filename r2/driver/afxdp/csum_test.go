package afxdp

import (
	"encoding/binary"
	"testing"

	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/packet"
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

// finish does what the frame's way out does with a marked packet: the
// GSO node's completion (or the kernel's, which computes the same).
func finish(t *testing.T, p *packet.Packet) {
	t.Helper()
	if !hdr.CompleteChecksumL3(p.Data()[hdr.EtherLen:]) {
		t.Fatal("CompleteChecksumL3 failed")
	}
}

// marked receives frame b as the driver does (a packet of a pool) and
// marks it.
func marked(b []byte) (*packet.Packet, bool) {
	pool := packet.NewPool(0, 1)
	p := pool.Get()
	p.SetData(b)
	return p, markPartial(p)
}

func TestMarkPartial(t *testing.T) {
	for _, n := range []int{0, 1, 18, 1000} {
		full := udp4(n)
		// What a sender with checksum offload puts there.
		partial := append([]byte(nil), full...)
		if _, ok := hdr.SetPseudoChecksum(partial[14:]); !ok {
			t.Fatal("SetPseudoChecksum failed")
		}
		p, ok := marked(partial)
		if !ok {
			t.Fatalf("payload %d: partial checksum not found", n)
		}
		want := packet.GSO{CsumStart: uint16(p.Head() + 14 + 20), CsumOffset: 6, Flags: packet.GSONeedsCsum}
		if p.GSO != want {
			t.Errorf("payload %d: GSO %+v, want %+v", n, p.GSO, want)
		}
		if string(p.Data()) != string(partial) {
			t.Errorf("payload %d: frame changed by marking", n)
		}
		// Finished where it leaves, it is the sender's full checksum.
		finish(t, p)
		if string(p.Data()) != string(full) {
			t.Errorf("payload %d: finished checksum is not the full one", n)
		}
		// A complete checksum is not marked (unless it equals the
		// pseudo-header sum, and then finishing rewrites its value).
		if q, ok := marked(append([]byte(nil), full...)); ok {
			finish(t, q)
			if string(q.Data()) != string(full) {
				t.Errorf("payload %d: complete checksum changed", n)
			}
		}
	}
	for name, b := range map[string][]byte{"empty": nil, "runt": make([]byte, 20), "arp": append(make([]byte, 12), 8, 6, 0, 0)} {
		if p, ok := marked(b); ok || p.GSO != (packet.GSO{}) {
			t.Errorf("%s: marked", name)
		}
	}
}

// TestMarkPartialTCP6 finds a partial TCP/IPv6 checksum; finished, it
// verifies.
func TestMarkPartialTCP6(t *testing.T) {
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
	p, ok := marked(b)
	if !ok || p.GSO.CsumStart != uint16(p.Head()+14+40) || p.GSO.CsumOffset != 16 {
		t.Fatalf("partial TCP/IPv6 checksum not marked: %v %+v", ok, p.GSO)
	}
	finish(t, p)
	if c := p.Data()[14+40:]; hdr.Fold(hdr.Sum(c, pseudo)) != 0xffff {
		t.Errorf("checksum %#04x does not verify", binary.BigEndian.Uint16(c[16:]))
	}
}

// FuzzPartialAt: any frame, no panic, and where it finds a partial
// checksum the field is inside the frame and holds a TCP or UDP offset.
func FuzzPartialAt(f *testing.F) {
	f.Add(udp4(10))
	f.Add(make([]byte, 60))
	f.Fuzz(func(t *testing.T, b []byte) {
		l4, off, ok := partialAt(b)
		if !ok {
			return
		}
		if off != 16 && off != 6 || l4 < hdr.EtherLen || l4+off+2 > len(b) {
			t.Fatalf("l4 %d, checksum at +%d in a frame of %d bytes", l4, off, len(b))
		}
	})
}

// BenchmarkMarkPartial: finding and marking a 1500-byte frame's partial
// UDP checksum (headers only read; the sum is left to the way out).
func BenchmarkMarkPartial(b *testing.B) {
	f := udp4(1500 - 14 - 20 - 8)
	if _, ok := hdr.SetPseudoChecksum(f[14:]); !ok {
		b.Fatal("SetPseudoChecksum failed")
	}
	p := packet.NewPool(0, 1).Get()
	p.SetData(f)
	b.ReportAllocs()
	for b.Loop() {
		p.GSO = packet.GSO{}
		if !markPartial(p) {
			b.Fatal("not marked")
		}
	}
}
