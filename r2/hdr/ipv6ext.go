package hdr

// IPv6 extension headers (RFC 8200 4): walking the chain and checking the
// options of a hop-by-hop or destination options header, with bounds checks
// on every length, for the IPv6 forwarding and local nodes.

// IPv6 option types (RFC 8200 4.2, RFC 2711).
const (
	IPv6OptPad1        = 0
	IPv6OptPadN        = 1
	IPv6OptRouterAlert = 5
)

// OptResult is what IPv6Options found. For an unrecognised option the
// values 1-3 are the two high-order bits of its type, which say what to do
// with the packet (RFC 8200 4.2); 00 (skip it) never stops the walk.
type OptResult uint8

// Results of IPv6Options.
const (
	OptOK      OptResult = 0 // every option recognised or skippable
	OptDiscard OptResult = 1 // 01: discard silently
	// OptParamProblem (10): discard and send a Parameter Problem, code 2,
	// pointing at the option type, even to a multicast destination.
	OptParamProblem OptResult = 2
	// OptParamProblemUnicast (11): the same, only if the destination was
	// not a multicast address.
	OptParamProblemUnicast OptResult = 3
	// OptMalformed: an option runs past the end of the header.
	OptMalformed OptResult = 4
)

// IPv6Options checks the options of the hop-by-hop or destination options
// header h (exactly the header: (h[1]+1)*8 bytes). Pad1, PadN and router
// alert are recognised. It returns OptOK, or the result for the first
// option that stops the walk and the offset of that option's type in h.
func IPv6Options(h []byte) (OptResult, int) {
	for i := 2; i < len(h); {
		t := h[i]
		if t == IPv6OptPad1 {
			i++
			continue
		}
		if i+2 > len(h) {
			return OptMalformed, i
		}
		end := i + 2 + int(h[i+1])
		if end > len(h) {
			return OptMalformed, i
		}
		switch t {
		case IPv6OptPadN, IPv6OptRouterAlert:
		default:
			if a := t >> 6; a != 0 {
				return OptResult(a), i
			}
		}
		i = end
	}
	return OptOK, 0
}

// IPv6Chain describes an IPv6 packet's extension header chain as far as
// WalkIPv6 followed it.
type IPv6Chain struct {
	// Proto is the header where the walk stopped: the upper-layer protocol
	// when Upper is set, else an extension header not followed (the walk
	// hit its bound, or a non-first fragment, whose next header is not in
	// this packet).
	Proto uint8
	// Upper says Proto is an upper-layer header (or ESP, or no next
	// header): not one of the extension headers WalkIPv6 follows.
	Upper bool
	// Off is the offset of Proto's header from the start of the packet.
	Off int
	// HBHLen is the length of the hop-by-hop options header right after
	// the IPv6 header, 0 if there is none.
	HBHLen int
	// Frag says a fragment header was seen; NonFirst that it had a
	// non-zero offset (the walk stops there).
	Frag, NonFirst bool
	// RH0 says a routing header of type 0 was seen (RFC 5095).
	RH0 bool
}

// WalkIPv6 follows the extension headers of pkt (an IPv6 packet from its
// fixed header on, at least IPv6Len bytes) through at most max of them:
// hop-by-hop options (only right after the fixed header), routing,
// fragment, destination options and authentication headers. It reports
// false if a header runs past the end of pkt or a hop-by-hop header is
// anywhere but first.
func WalkIPv6(pkt []byte, max int) (c IPv6Chain, ok bool) {
	nh := pkt[6]
	off := IPv6Len
	for n := 0; ; n++ {
		switch nh {
		case ProtoHopByHop, ProtoIPv6Route, ProtoIPv6Frag, ProtoIPv6DstOpts, ProtoAH:
		default:
			c.Proto, c.Off, c.Upper = nh, off, true
			return c, true
		}
		if n == max {
			c.Proto, c.Off = nh, off
			return c, true
		}
		if nh == ProtoHopByHop && n != 0 {
			return c, false
		}
		// Every extension header is at least 8 bytes.
		if off+8 > len(pkt) {
			return c, false
		}
		var l int
		switch nh {
		case ProtoIPv6Frag:
			l = 8
			c.Frag = true
			if be.Uint16(pkt[off+2:])&0xfff8 != 0 {
				c.NonFirst = true
				c.Proto, c.Off = nh, off
				return c, true
			}
		case ProtoAH:
			l = (int(pkt[off+1]) + 2) * 4 // RFC 4302: in 4-byte units, minus 2
		default:
			l = (int(pkt[off+1]) + 1) * 8
			if nh == ProtoIPv6Route && pkt[off+2] == 0 {
				c.RH0 = true
			}
		}
		if off+l > len(pkt) {
			return c, false
		}
		if nh == ProtoHopByHop {
			c.HBHLen = l
		}
		nh = pkt[off]
		off += l
	}
}
