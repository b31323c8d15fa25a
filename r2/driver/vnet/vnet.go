package vnet

import (
	"encoding/binary"

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
