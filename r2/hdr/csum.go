package hdr

// CompleteChecksum fills in the TCP or UDP checksum of an Ethernet/IPv4
// frame whose sender left it for the hardware to finish (a Linux packet
// with CHECKSUM_PARTIAL, which AF_PACKET flags with TP_STATUS_CSUMNOTREADY:
// veth peers hand such packets over as they are). A router that forwards
// the frame must finish the job or the receiver drops it. It reports
// whether it changed the frame; frames it does not understand (not IPv4,
// not TCP or UDP, fragments, truncated) are left alone.
func CompleteChecksum(frame []byte) bool {
	if len(frame) < EtherLen+IPv4MinLen || be.Uint16(frame[12:]) != EtherTypeIPv4 {
		return false
	}
	ip := IPv4(frame[EtherLen:])
	ihl := ip.HeaderLen()
	total := ip.TotalLen()
	if ip.Version() != 4 || ihl < IPv4MinLen || total < ihl || total > len(ip) || ip.IsFragment() {
		return false
	}
	l4 := ip[ihl:total]
	var off int
	switch ip.Protocol() {
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
	// Pseudo-header: source, destination, protocol, L4 length.
	sum := Sum(ip[12:20], uint32(ip.Protocol())+uint32(len(l4)))
	c := ^Fold(Sum(l4, sum))
	if c == 0 && ip.Protocol() == ProtoUDP {
		c = 0xffff // 0 means "no checksum" in UDP
	}
	be.PutUint16(l4[off:], c)
	return true
}
