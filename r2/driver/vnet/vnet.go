package vnet

import (
	"encoding/binary"

	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/packet"
)

// virtio_net_hdr (include/uapi/linux/virtio_net.h), which AF_PACKET
// exchanges in the host's byte order (vio_le() on little-endian hosts):
// flags u8, gso_type u8, hdr_len u16, gso_size u16, csum_start u16,
// csum_offset u16. csum_start counts from the start of the frame.
const (
	// HdrLen is the header's size.
	HdrLen = 10
	// FlagNeedsCsum (VIRTIO_NET_HDR_F_NEEDS_CSUM): the checksum at
	// csum_start+csum_offset is to be finished.
	FlagNeedsCsum = 1
	// FlagDataValid (VIRTIO_NET_HDR_F_DATA_VALID): the receiver
	// validated the checksum.
	FlagDataValid = 2
	// GSONone is the gso_type of a frame that is no super-frame.
	GSONone = 0
)

// Put writes the header describing p (its GSO state) into v, HdrLen bytes
// in front of the frame, which starts at offset frame of p's buffer.
// hdr_len is how much of the frame the kernel copies into the skb's linear
// part (packet_snd; the rest goes into page fragments): the whole frame
// for a plain one, whose receiver then reads its headers in place, and the
// headers for a super-frame (at least up to the checksum field, as the
// kernel requires).
func Put(v []byte, p *packet.Packet, frame int) {
	g := &p.GSO
	n := p.Len() - HdrLen // p.Data() starts at v
	if g.Flags&packet.GSONeedsCsum == 0 {
		clear(v[:HdrLen])
		binary.NativeEndian.PutUint16(v[2:], uint16(min(n, 0xffff)))
		return
	}
	start := int(g.CsumStart) - frame
	hl := n
	if g.Size != 0 {
		l4 := 8 // UDP
		if g.CsumOffset == 16 {
			l4 = int(p.Buf()[g.CsumStart+12]>>4) * 4 // TCP data offset
		}
		hl = min(max(start+l4, start+int(g.CsumOffset)+2), n)
	}
	v[0] = FlagNeedsCsum
	v[1] = g.Type
	binary.NativeEndian.PutUint16(v[2:], uint16(min(hl, 0xffff)))
	binary.NativeEndian.PutUint16(v[4:], g.Size)
	binary.NativeEndian.PutUint16(v[6:], uint16(start))
	binary.NativeEndian.PutUint16(v[8:], g.CsumOffset)
}

// Needs reports whether p must go out with a header: a super-frame, or a
// frame whose checksum is left to finish.
func Needs(p *packet.Packet) bool {
	return p.GSO.Size != 0 || p.GSO.Flags&packet.GSONeedsCsum != 0
}

// Read turns the virtio_net_hdr v, which the kernel wrote in front of the
// frame p holds, into p.GSO. tagBack says that the receiver put back in
// front of the frame a VLAN tag the kernel had stripped, moving the
// headers csum_start counts by 4 bytes. It reports false for a header that
// does not describe p (a checksum outside the frame, a kind of super-frame
// that cannot be forwarded): the caller drops the frame.
//
// A super-frame that arrives without NEEDS_CSUM (a GRO packet, whose
// checksum was validated) gets the pseudo-header checksum in its L4 field
// here, so that every super-frame in the graph is in the same state.
func Read(p *packet.Packet, v []byte, tagBack bool) bool {
	if len(v) < HdrLen {
		return false
	}
	flags, typ := v[0], v[1]
	size := binary.NativeEndian.Uint16(v[4:])
	start := int(binary.NativeEndian.Uint16(v[6:]))
	off := binary.NativeEndian.Uint16(v[8:])
	if flags&FlagNeedsCsum == 0 && typ == GSONone {
		if flags&FlagDataValid != 0 {
			p.GSO.Flags = packet.GSODataValid
		}
		return true
	}
	if typ != GSONone {
		switch typ &^ packet.GSOECN {
		case packet.GSOTCPv4, packet.GSOTCPv6, packet.GSOUDPL4:
		default:
			return false // UFO: not produced by current kernels
		}
		if size == 0 {
			return false
		}
		if flags&FlagNeedsCsum == 0 {
			var ok bool
			if start, off, ok = partialFromFrame(p.Data(), typ); !ok {
				return false
			}
		}
	}
	if tagBack {
		start += 4
	}
	if start < hdr.EtherLen || start+int(off)+2 > p.Len() {
		return false
	}
	p.GSO = packet.GSO{
		CsumStart:  uint16(packet.Headroom + start),
		CsumOffset: off,
		Size:       size,
		Type:       typ,
		Flags:      packet.GSONeedsCsum | flags&FlagDataValid,
	}
	return true
}

// partialFromFrame finds the TCP or UDP header of the Ethernet frame b and
// puts the pseudo-header sum (of the whole super-frame) in its checksum
// field, as a sender leaving the checksum to offload would. It returns
// csum_start and csum_offset.
func partialFromFrame(b []byte, typ uint8) (start int, off uint16, ok bool) {
	l3 := hdr.EtherLen
	if len(b) >= 18 && binary.BigEndian.Uint16(b[12:]) == 0x8100 {
		l3 += 4
	}
	if start, ok = hdr.SetPseudoChecksum(b[l3:]); !ok {
		return 0, 0, false
	}
	off = 16
	if typ&^packet.GSOECN == packet.GSOUDPL4 {
		off = 6
	}
	return l3 + start, off, true
}
