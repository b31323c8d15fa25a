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

// CompleteChecksumL3 is CompleteChecksum for a packet that starts at its
// IPv4 or IPv6 header.
func CompleteChecksumL3(ip []byte) bool {
	if len(ip) == 0 {
		return false
	}
	switch ip[0] >> 4 {
	case 4:
		return completeChecksum4(ip)
	case 6:
		return completeChecksum6(ip)
	}
	return false
}

// SetPseudoChecksum puts the pseudo-header sum of the TCP or UDP packet in
// the IPv4 or IPv6 packet ip (the whole of it, as for a GSO super-frame)
// into its checksum field, folded but not complemented: the state Linux
// leaves a packet in for checksum offload (CHECKSUM_PARTIAL). It returns
// the offset of the TCP or UDP header in ip.
func SetPseudoChecksum(ip []byte) (l4off int, ok bool) {
	var proto uint8
	var pseudo uint32
	switch {
	case len(ip) >= IPv4MinLen && ip[0]>>4 == 4:
		h := IPv4(ip)
		ihl, total := h.HeaderLen(), h.TotalLen()
		if ihl < IPv4MinLen || total < ihl || total > len(ip) || h.IsFragment() {
			return 0, false
		}
		l4off, proto = ihl, h.Protocol()
		pseudo = Sum(ip[12:20], uint32(proto)+uint32(total-ihl))
	case len(ip) >= IPv6Len && ip[0]>>4 == 6:
		h := IPv6(ip)
		end := IPv6Len + h.PayloadLen()
		if end > len(ip) {
			return 0, false
		}
		c, ok := WalkIPv6(ip[:end], maxCsumExtHeaders)
		if !ok || !c.Upper || c.Frag {
			return 0, false
		}
		l4off, proto = c.Off, c.Proto
		pseudo = PseudoSum6(h.Src(), h.Dst(), end-c.Off, proto)
	default:
		return 0, false
	}
	off := 16
	if proto == ProtoUDP {
		off = 6
	} else if proto != ProtoTCP {
		return 0, false
	}
	if l4off+off+2 > len(ip) {
		return 0, false
	}
	be.PutUint16(ip[l4off+off:], Fold(pseudo))
	return l4off, true
}
