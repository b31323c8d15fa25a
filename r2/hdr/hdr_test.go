package hdr

import (
	"math/rand"
	"testing"
)

// slowChecksum is RFC 1071 done the obvious way, as a reference.
func slowChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func TestChecksumMatchesReference(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for n := 0; n < 200; n++ {
		b := make([]byte, n)
		r.Read(b)
		if got, want := Checksum(b, 0), slowChecksum(b); got != want {
			t.Fatalf("len %d: %#04x, want %#04x", n, got, want)
		}
	}
}

// Long buffers through Sum's 64-bit path: all ones (every addition
// carries), random bytes, lengths around the 32-byte steps, a starting sum.
func TestSumLong(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for _, n := range []int{31, 32, 33, 63, 64, 65, 95, 1460, 1461, 9000, 65535, 65536} {
		ones := make([]byte, n)
		for i := range ones {
			ones[i] = 0xff
		}
		rnd := make([]byte, n)
		r.Read(rnd)
		for _, b := range [][]byte{ones, rnd} {
			if got, want := Checksum(b, 0), slowChecksum(b); got != want {
				t.Fatalf("len %d: %#04x, want %#04x", n, got, want)
			}
			// A starting sum: the checksum of b after two bytes 0x12 0x34.
			want := slowChecksum(append([]byte{0x12, 0x34}, b...))
			if got := Checksum(b, 0x1234); got != want {
				t.Fatalf("len %d from 0x1234: %#04x, want %#04x", n, got, want)
			}
		}
	}
}

func TestDecTTLKeepsChecksumValid(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for i := 0; i < 10000; i++ {
		h := make(IPv4, 20)
		ttl := uint8(r.Intn(254) + 2)
		PutIPv4(h, uint8(r.Intn(256)), 20+r.Intn(1400), uint16(r.Uint32()), ttl, uint8(r.Intn(256)), r.Uint32(), r.Uint32())
		h.DecTTL()
		if h.TTL() != ttl-1 {
			t.Fatalf("ttl %d -> %d", ttl, h.TTL())
		}
		if Checksum(h, 0) != 0 {
			t.Fatalf("checksum invalid after DecTTL: %x", []byte(h))
		}
	}
}

func TestARPRoundTrip(t *testing.T) {
	a := make(ARP, ARPLen)
	PutARP(a, ARPRequest, [6]byte{1, 2, 3, 4, 5, 6}, 0x0a000001, [6]byte{}, 0x0a000002)
	if !a.Valid() || a.Op() != ARPRequest || a.SenderIP() != 0x0a000001 || a.TargetIP() != 0x0a000002 || a.SenderMAC()[5] != 6 {
		t.Fatalf("ARP round trip: %x", []byte(a))
	}
	a[4] = 8
	if a.Valid() {
		t.Fatal("bad hardware length accepted")
	}
}

func TestHeaderChecksumOK(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for i := 0; i < 5000; i++ {
		h := make(IPv4, 24)
		PutIPv4(h, 0, 100, uint16(i), uint8(r.Intn(256)), 17, r.Uint32(), r.Uint32())
		if !HeaderChecksumOK(h[:20]) {
			t.Fatalf("valid header rejected: %x", []byte(h[:20]))
		}
		h[r.Intn(20)] ^= byte(1 << uint(r.Intn(8)))
		if HeaderChecksumOK(h[:20]) {
			t.Fatalf("corrupt header accepted: %x", []byte(h[:20]))
		}
		// 24-byte header with options, through the general path.
		h[0] = 0x46
		h[10], h[11] = 0, 0
		c := Checksum(h, 0)
		h[10], h[11] = byte(c>>8), byte(c)
		if !HeaderChecksumOK(h) {
			t.Fatal("valid 24-byte header rejected")
		}
	}
}

func TestMACHelpers(t *testing.T) {
	m := [6]byte{2, 3, 4, 5, 6, 7}
	if !MACEqual(m[:], m) || MACEqual([]byte{2, 3, 4, 5, 6, 8}, m) || MACEqual([]byte{9, 3, 4, 5, 6, 7}, m) {
		t.Fatal("MACEqual")
	}
	if !IsBroadcast([]byte{255, 255, 255, 255, 255, 255}) || IsBroadcast([]byte{255, 255, 255, 255, 255, 254}) {
		t.Fatal("IsBroadcast")
	}
}

// BenchmarkSum1460: a TCP segment's payload.
func BenchmarkSum1460(b *testing.B) {
	buf := make([]byte, 1460)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	b.SetBytes(int64(len(buf)))
	var s uint32
	for b.Loop() {
		s += Sum(buf, 0)
	}
	_ = s
}

// TestTagBack: a frame read 4 bytes in gets its MAC addresses in front and
// the tag between them and the EtherType.
func TestTagBack(t *testing.T) {
	b := make([]byte, 4+14+2)
	copy(b[4:], []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00, 0xaa, 0xbb})
	TagBack(b, 0x88a8, 0x0105)
	want := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x88, 0xa8, 0x01, 0x05, 0x08, 0x00, 0xaa, 0xbb}
	if string(b) != string(want) {
		t.Errorf("TagBack: % x, want % x", b, want)
	}
}
