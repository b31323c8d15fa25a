package hdr

// IPv6 (RFC 8200) and ICMPv6 (RFC 4443).
const (
	IPv6Len          = 40
	IPv6MinMTU       = 1280
	DefaultHopLimit  = 64
	ProtoHopByHop    = 0
	ProtoIPv6Route   = 43
	ProtoIPv6Frag    = 44
	ProtoESP         = 50
	ProtoAH          = 51
	ProtoICMPv6      = 58
	ProtoIPv6NoNext  = 59
	ProtoIPv6DstOpts = 60
	ProtoMobility    = 135

	ICMPv6DestUnreach   = 1
	ICMPv6PacketTooBig  = 2
	ICMPv6TimeExceeded  = 3
	ICMPv6ParamProblem  = 4
	ICMPv6EchoRequest   = 128
	ICMPv6EchoReply     = 129
	ICMPv6RouterSolicit = 133
	ICMPv6RouterAdvert  = 134
	ICMPv6NeighSolicit  = 135
	ICMPv6NeighAdvert   = 136
	ICMPv6Redirect      = 137

	// Destination unreachable codes.
	ICMPv6NoRoute        = 0
	ICMPv6AdminProhib    = 1
	ICMPv6BeyondScope    = 2
	ICMPv6AddrUnreach    = 3
	ICMPv6PortUnreach    = 4
	ICMPv6HopLimitExceed = 0 // time exceeded code
	ICMPv6ReassemblyTime = 1 // time exceeded code
	// Parameter problem codes.
	ICMPv6ErrHeaderField = 0
	ICMPv6UnknownNextHdr = 1
	ICMPv6UnknownOption  = 2

	// ICMPv6MaxError is the most an ICMPv6 error may be: it must fit the
	// minimum IPv6 MTU (RFC 4443 2.4 (c)).
	ICMPv6MaxError = IPv6MinMTU
)

// IPv6 is a view of an IPv6 header (at least IPv6Len bytes).
type IPv6 []byte

func (h IPv6) Version() int          { return int(h[0] >> 4) }
func (h IPv6) TrafficClass() uint8   { return h[0]<<4 | h[1]>>4 }
func (h IPv6) PayloadLen() int       { return int(be.Uint16(h[4:])) }
func (h IPv6) NextHeader() uint8     { return h[6] }
func (h IPv6) HopLimit() uint8       { return h[7] }
func (h IPv6) Src() []byte           { return h[8:24] }
func (h IPv6) Dst() []byte           { return h[24:40] }
func (h IPv6) SetPayloadLen(n int)   { be.PutUint16(h[4:], uint16(n)) }
func (h IPv6) SetHopLimit(v uint8)   { h[7] = v }
func (h IPv6) SetNextHeader(v uint8) { h[6] = v }

// SrcHiLo and DstHiLo return an address as two big-endian 64-bit halves,
// the form route lookups take.
func (h IPv6) SrcHiLo() (hi, lo uint64) { return be.Uint64(h[8:]), be.Uint64(h[16:]) }
func (h IPv6) DstHiLo() (hi, lo uint64) { return be.Uint64(h[24:]), be.Uint64(h[32:]) }

// PutIPv6 writes a 40-byte IPv6 header (flow label 0) into h.
func PutIPv6(h []byte, tclass uint8, payloadLen int, next, hopLimit uint8, src, dst *[16]byte) {
	h[0] = 6<<4 | tclass>>4
	h[1] = tclass << 4
	h[2], h[3] = 0, 0
	be.PutUint16(h[4:], uint16(payloadLen))
	h[6] = next
	h[7] = hopLimit
	copy(h[8:24], src[:])
	copy(h[24:40], dst[:])
}

// PseudoSum6 is the partial sum of the IPv6 pseudo-header (RFC 8200 8.1)
// for an upper-layer packet of length n and protocol proto.
func PseudoSum6(src, dst []byte, n int, proto uint8) uint32 {
	s := Sum(src[:16], 0)
	s = Sum(dst[:16], s)
	return s + uint32(n>>16) + uint32(n&0xffff) + uint32(proto)
}

// ICMPv6Checksum computes the checksum of the ICMPv6 message b (its
// checksum field must be zero) between src and dst, ready to store.
func ICMPv6Checksum(src, dst []byte, b []byte) uint16 {
	return Checksum(b, PseudoSum6(src, dst, len(b), ProtoICMPv6))
}

// IsIPv6Multicast reports whether a is ff00::/8.
func IsIPv6Multicast(a []byte) bool { return a[0] == 0xff }

// IsIPv6LinkLocal reports whether a is fe80::/10.
func IsIPv6LinkLocal(a []byte) bool { return a[0] == 0xfe && a[1]&0xc0 == 0x80 }

// SolicitedNode returns the solicited-node multicast address of a
// (ff02::1:ffXX:XXXX, RFC 4291 2.7.1).
func SolicitedNode(a []byte) [16]byte {
	return [16]byte{0xff, 0x02, 10: 0, 11: 0x01, 12: 0xff, 13: a[13], 14: a[14], 15: a[15]}
}

// MulticastMAC is the Ethernet address an IPv6 multicast address maps to
// (33:33 and the low 32 bits, RFC 2464 7).
func MulticastMAC(a []byte) [6]byte {
	return [6]byte{0x33, 0x33, a[12], a[13], a[14], a[15]}
}
