package afxdp

import (
	"encoding/binary"

	"github.com/r2go/r2/r2/hdr"
)

// finishPartial completes the TCP or UDP checksum of Ethernet frame b if
// it holds what a sender that left the checksum to offload puts there:
// the pseudo-header sum, folded, not complemented (CHECKSUM_PARTIAL). It
// reports whether it did.
//
// Why a guess: a veth peer hands over such frames, and XDP drops the skb
// state that says so (AF_PACKET reports it, AF_XDP cannot). A frame whose
// field equals its pseudo-header sum is either such a frame or, with a
// chance of 1 in 65,536, a complete one whose checksum happens to equal
// it; completing the latter writes the value it already has (the
// complete checksum is the complement of the pseudo-header sum plus the
// rest, and that is what is computed), so only a corrupted frame whose
// field happens to match would be passed on with a valid checksum. Only
// the IP and L4 headers are read for other frames.
func finishPartial(b []byte) bool {
	if len(b) < hdr.EtherLen {
		return false
	}
	l3 := hdr.EtherLen
	et := binary.BigEndian.Uint16(b[12:])
	if et == 0x8100 || et == 0x88a8 {
		if len(b) < l3+4 {
			return false
		}
		et = binary.BigEndian.Uint16(b[16:])
		l3 += 4
	}
	ip := b[l3:]
	var l4 []byte
	var proto uint8
	var pseudo uint32
	switch et {
	case hdr.EtherTypeIPv4:
		if len(ip) < hdr.IPv4MinLen {
			return false
		}
		h := hdr.IPv4(ip)
		ihl, total := h.HeaderLen(), h.TotalLen()
		if h.Version() != 4 || ihl < hdr.IPv4MinLen || total < ihl || total > len(ip) || h.IsFragment() {
			return false
		}
		proto, l4 = h.Protocol(), ip[ihl:total]
		pseudo = hdr.Sum(ip[12:20], uint32(proto)+uint32(len(l4)))
	case hdr.EtherTypeIPv6:
		// Extension headers are not followed: Linux leaves checksums
		// partial on packets without them in practice.
		if len(ip) < hdr.IPv6Len || ip[0]>>4 != 6 {
			return false
		}
		h := hdr.IPv6(ip)
		end := hdr.IPv6Len + h.PayloadLen()
		if end > len(ip) {
			return false
		}
		proto, l4 = h.NextHeader(), ip[hdr.IPv6Len:end]
		pseudo = hdr.PseudoSum6(h.Src(), h.Dst(), len(l4), proto)
	default:
		return false
	}
	off := 16
	switch proto {
	case hdr.ProtoTCP:
	case hdr.ProtoUDP:
		off = 6
	default:
		return false
	}
	if len(l4) < off+2 || binary.BigEndian.Uint16(l4[off:]) != hdr.Fold(pseudo) {
		return false
	}
	l4[off], l4[off+1] = 0, 0
	c := ^hdr.Fold(hdr.Sum(l4, pseudo))
	if c == 0 && proto == hdr.ProtoUDP {
		c = 0xffff // 0 means "no checksum" in UDP
	}
	binary.BigEndian.PutUint16(l4[off:], c)
	return true
}
