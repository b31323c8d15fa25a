package graphtest

import (
	"encoding/binary"
	"net/netip"

	"github.com/r2go/r2/r2/hdr"
)

var be = binary.BigEndian

// IP parses a dotted IPv4 address into host byte order; it panics on a
// malformed address (test input is literal).
func IP(s string) uint32 {
	a := netip.MustParseAddr(s).As4()
	return be.Uint32(a[:])
}

// MAC parses "02:00:00:00:00:01"; it panics on a malformed address.
func MAC(s string) [6]byte {
	var m [6]byte
	if len(s) != 17 {
		panic("graphtest: bad MAC " + s)
	}
	for i := range m {
		var v byte
		for _, c := range s[i*3 : i*3+2] {
			switch {
			case c >= '0' && c <= '9':
				v = v<<4 | byte(c-'0')
			case c >= 'a' && c <= 'f':
				v = v<<4 | byte(c-'a'+10)
			default:
				panic("graphtest: bad MAC " + s)
			}
		}
		m[i] = v
	}
	return m
}

// Broadcast is the Ethernet broadcast address.
var Broadcast = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// Ether returns an Ethernet frame (no padding, no FCS).
func Ether(dst, src [6]byte, etype uint16, payload []byte) []byte {
	b := make([]byte, hdr.EtherLen, hdr.EtherLen+len(payload))
	copy(b[0:6], dst[:])
	copy(b[6:12], src[:])
	be.PutUint16(b[12:], etype)
	return append(b, payload...)
}

// Pad appends zero bytes up to n (Ethernet minimum padding).
func Pad(b []byte, n int) []byte {
	for len(b) < n {
		b = append(b, 0)
	}
	return b
}

// ARP returns an Ethernet/IPv4 ARP packet (28 bytes, no Ethernet header).
func ARP(op uint16, sha [6]byte, spa uint32, tha [6]byte, tpa uint32) []byte {
	b := make([]byte, hdr.ARPLen)
	hdr.PutARP(b, op, sha, spa, tha, tpa)
	return b
}

// IPv4 returns an IPv4 packet: a 20-byte header (ID 0x1234, no flags, TOS
// 0) with a valid checksum, followed by payload.
func IPv4(src, dst uint32, ttl, proto uint8, payload []byte) []byte {
	b := make([]byte, hdr.IPv4MinLen+len(payload))
	hdr.PutIPv4(b, 0, len(b), 0x1234, ttl, proto, src, dst)
	copy(b[hdr.IPv4MinLen:], payload)
	return b
}

// FixIPv4Checksum recomputes the header checksum of ip after a test
// changed header fields.
func FixIPv4Checksum(ip []byte) {
	ihl := int(ip[0]&0xf) * 4
	ip[10], ip[11] = 0, 0
	be.PutUint16(ip[10:], hdr.Checksum(ip[:ihl], 0))
}

// SetFlagsFrag stores flags|offset in ip and fixes the checksum.
func SetFlagsFrag(ip []byte, ff uint16) {
	be.PutUint16(ip[6:], ff)
	FixIPv4Checksum(ip)
}

// ICMP returns an ICMP message with a valid checksum: type, code, the four
// bytes of rest (identifier and sequence for echo) and data.
func ICMP(typ, code uint8, rest uint32, data []byte) []byte {
	b := make([]byte, hdr.ICMPLen+len(data))
	b[0], b[1] = typ, code
	be.PutUint32(b[4:], rest)
	copy(b[hdr.ICMPLen:], data)
	be.PutUint16(b[2:], hdr.Checksum(b, 0))
	return b
}

// Echo returns an ICMP echo request with identifier id and sequence seq.
func Echo(id, seq uint16, data []byte) []byte {
	return ICMP(hdr.ICMPEchoRequest, 0, uint32(id)<<16|uint32(seq), data)
}

// UDP returns a UDP datagram with checksum 0 (none, allowed over IPv4).
func UDP(sport, dport uint16, data []byte) []byte {
	b := make([]byte, 8+len(data))
	be.PutUint16(b[0:], sport)
	be.PutUint16(b[2:], dport)
	be.PutUint16(b[4:], uint16(len(b)))
	copy(b[8:], data)
	return b
}

// Bytes returns n bytes counting up from 0, a recognisable payload.
func Bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// IPv4ChecksumOK reports whether ip's header checksum is valid.
func IPv4ChecksumOK(ip []byte) bool {
	if len(ip) < hdr.IPv4MinLen {
		return false
	}
	ihl := int(ip[0]&0xf) * 4
	return ihl >= hdr.IPv4MinLen && ihl <= len(ip) && hdr.Checksum(ip[:ihl], 0) == 0
}

// RefChecksum is an RFC 1071 checksum of the concatenation of parts,
// written independently of r2/hdr (byte by byte, the one's complement of
// the one's complement sum of 16-bit words), for tests that check
// r2/hdr's results or checksums that R2 computed with it.
func RefChecksum(parts ...[]byte) uint16 {
	var all []byte
	for _, p := range parts {
		all = append(all, p...)
	}
	if len(all)%2 == 1 {
		all = append(all, 0)
	}
	var s uint64
	for i := 0; i < len(all); i += 2 {
		s += uint64(all[i])<<8 | uint64(all[i+1])
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
