package hdr

// CompleteChecksum fills in the TCP or UDP checksum of an Ethernet/IPv4 or
// Ethernet/IPv6 frame whose sender left it for the hardware to finish (a
// Linux packet with CHECKSUM_PARTIAL, which AF_PACKET flags with
// TP_STATUS_CSUMNOTREADY: veth peers hand such packets over as they are).
// A router that forwards the frame must finish the job or the receiver
// drops it. It reports whether it changed the frame; frames it does not
// understand (neither IPv4 nor IPv6, not TCP or UDP, fragments, a bad or
// too long IPv6 extension header chain, truncated) are left alone.
func CompleteChecksum(frame []byte) bool {
	if len(frame) < EtherLen {
		return false
	}
	switch be.Uint16(frame[12:]) {
	case EtherTypeIPv4:
		return completeChecksum4(frame[EtherLen:])
	case EtherTypeIPv6:
		return completeChecksum6(frame[EtherLen:])
	}
	return false
}

func completeChecksum4(ip IPv4) bool {
	if len(ip) < IPv4MinLen {
		return false
	}
	ihl := ip.HeaderLen()
	total := ip.TotalLen()
	if ip.Version() != 4 || ihl < IPv4MinLen || total < ihl || total > len(ip) || ip.IsFragment() {
		return false
	}
	l4 := ip[ihl:total]
	// Pseudo-header: source, destination, protocol, L4 length.
	return completeL4(l4, ip.Protocol(), Sum(ip[12:20], uint32(ip.Protocol())+uint32(len(l4))))
}

// maxCsumExtHeaders bounds the IPv6 extension headers followed to find the
// TCP or UDP header; a locally sent packet has at most a few.
const maxCsumExtHeaders = 8

// completeChecksum6 completes the checksum of an IPv6 packet. The
// pseudo-header holds the destination of the fixed header: a packet with a
// routing header (whose final destination differs) is not one Linux leaves
// partial on a veth in practice, and would be summed wrongly.
func completeChecksum6(ip IPv6) bool {
	if len(ip) < IPv6Len || ip.Version() != 6 {
		return false
	}
	end := IPv6Len + ip.PayloadLen()
	if end > len(ip) {
		return false
	}
	ip = ip[:end] // Ethernet padding excluded
	c, ok := WalkIPv6(ip, maxCsumExtHeaders)
	if !ok || !c.Upper || c.Frag {
		return false
	}
	l4 := ip[c.Off:]
	return completeL4(l4, c.Proto, PseudoSum6(ip.Src(), ip.Dst(), len(l4), c.Proto))
}

// completeL4 writes the checksum of the TCP or UDP packet l4 whose
// pseudo-header sums to pseudo.
func completeL4(l4 []byte, proto uint8, pseudo uint32) bool {
	var off int
	switch proto {
	case ProtoTCP:
		off = 16
	case ProtoUDP:
		off = 6
	default:
		return false
	}
	if len(l4) < off+2 {
		return false
	}
	l4[off], l4[off+1] = 0, 0
	c := ^Fold(Sum(l4, pseudo))
	if c == 0 && proto == ProtoUDP {
		c = 0xffff // 0 means "no checksum" in UDP (and is invalid in IPv6)
	}
	be.PutUint16(l4[off:], c)
	return true
}
