package afxdp

import (
	"encoding/binary"

	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/packet"
)

// partialAt reports where the TCP or UDP checksum of Ethernet frame b is,
// if it holds what a sender that left the checksum to offload puts there:
// the pseudo-header sum, folded, not complemented (CHECKSUM_PARTIAL). It
// returns the offset of the TCP or UDP header in b and of the checksum
// field in that header (16 or 6), or ok false.
//
// Why a guess: a veth peer hands over such frames, and XDP drops the skb
// state that says so (AF_PACKET reports it, AF_XDP cannot). A frame whose
// field equals its pseudo-header sum is either such a frame or, with a
// chance of 1 in 65,536, a complete one whose checksum happens to equal
// it; finishing the latter writes the value it already has (the complete
// checksum is the complement of the pseudo-header sum plus the rest, and
// that is what is computed), so only a corrupted frame whose field happens
// to match would be passed on with a valid checksum. Only the IP and L4
// headers are read.
func partialAt(b []byte) (l4off, csumOff int, ok bool) {
	if len(b) < hdr.EtherLen {
		return 0, 0, false
	}
	l3 := hdr.EtherLen
	et := binary.BigEndian.Uint16(b[12:])
	if et == 0x8100 || et == 0x88a8 {
		if len(b) < l3+4 {
			return 0, 0, false
		}
		et = binary.BigEndian.Uint16(b[16:])
		l3 += 4
	}
	ip := b[l3:]
	var l4len, ihl int
	var proto uint8
	var pseudo uint32
	switch et {
	case hdr.EtherTypeIPv4:
		if len(ip) < hdr.IPv4MinLen {
			return 0, 0, false
		}
		h := hdr.IPv4(ip)
		total := h.TotalLen()
		ihl = h.HeaderLen()
		if h.Version() != 4 || ihl < hdr.IPv4MinLen || total < ihl || total > len(ip) || h.IsFragment() {
			return 0, 0, false
		}
		proto, l4len = h.Protocol(), total-ihl
		pseudo = hdr.Sum(ip[12:20], uint32(proto)+uint32(l4len))
	case hdr.EtherTypeIPv6:
		// Extension headers are not followed: Linux leaves checksums
		// partial on packets without them in practice.
		if len(ip) < hdr.IPv6Len || ip[0]>>4 != 6 {
			return 0, 0, false
		}
		h := hdr.IPv6(ip)
		if hdr.IPv6Len+h.PayloadLen() > len(ip) {
			return 0, 0, false
		}
		ihl, proto, l4len = hdr.IPv6Len, h.NextHeader(), h.PayloadLen()
		pseudo = hdr.PseudoSum6(h.Src(), h.Dst(), l4len, proto)
	default:
		return 0, 0, false
	}
	off := 16
	switch proto {
	case hdr.ProtoTCP:
	case hdr.ProtoUDP:
		off = 6
	default:
		return 0, 0, false
	}
	l4 := ip[ihl:]
	if l4len < off+2 || binary.BigEndian.Uint16(l4[off:]) != hdr.Fold(pseudo) {
		return 0, 0, false
	}
	return l3 + ihl, off, true
}

// markPartial gives packet p, whose data is an Ethernet frame, the
// metadata of a checksum left to finish (packet.GSONeedsCsum) if its TCP
// or UDP checksum is partial (partialAt), as AF_PACKET's vnet header does:
// GRO merges it without a check, an output that offloads hands it to the
// kernel as it is, and the GSO node finishes it for the others. So a
// checksum is computed once, where the frame leaves, or never, where a
// veth peer takes it partial. It reports whether it marked p.
func markPartial(p *packet.Packet) bool {
	l4, off, ok := partialAt(p.Data())
	if !ok {
		return false
	}
	p.GSO = packet.GSO{CsumStart: uint16(p.Head() + l4), CsumOffset: uint16(off), Flags: packet.GSONeedsCsum}
	return true
}
