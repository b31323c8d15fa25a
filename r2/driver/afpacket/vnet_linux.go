//go:build linux

package afpacket

import (
	"encoding/binary"

	"github.com/r2go/r2/r2/driver/vnet"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/packet"
)

// The virtio_net_hdr's flags (package vnet has the layout and writes it
// on Tx).
const (
	vnetFlagNeedsCsum = vnet.FlagNeedsCsum
	vnetFlagDataValid = vnet.FlagDataValid
	vnetGSONone       = vnet.GSONone
)

// readVnet turns the virtio_net_hdr of f into p.GSO. It reports false for
// a header that does not describe p (a checksum outside the frame, a kind
// of super-frame that cannot be forwarded): the caller drops the frame.
//
// A super-frame that arrives without NEEDS_CSUM (a GRO packet, whose
// checksum was validated) gets the pseudo-header checksum in its L4 field
// here, so that every super-frame in the graph is in the same state.
func readVnet(p *packet.Packet, f *frame) bool {
	v := f.vnet
	flags, typ := v[0], v[1]
	size := binary.NativeEndian.Uint16(v[4:])
	start := int(binary.NativeEndian.Uint16(v[6:]))
	off := binary.NativeEndian.Uint16(v[8:])
	if flags&vnetFlagNeedsCsum == 0 && typ == vnetGSONone {
		if flags&vnetFlagDataValid != 0 {
			p.GSO.Flags = packet.GSODataValid
		}
		return true
	}
	if typ != vnetGSONone {
		switch typ &^ packet.GSOECN {
		case packet.GSOTCPv4, packet.GSOTCPv6, packet.GSOUDPL4:
		default:
			return false // UFO: not produced by current kernels
		}
		if size == 0 {
			return false
		}
		if flags&vnetFlagNeedsCsum == 0 {
			var ok bool
			if start, off, ok = partialFromFrame(p.Data(), typ); !ok {
				return false
			}
		}
	}
	if vlanTagBack(f) {
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
		Flags:      packet.GSONeedsCsum | flags&vnetFlagDataValid,
	}
	return true
}

// vlanTagBack reports whether Recv put a tag the kernel had stripped back
// into f, moving everything after the MAC addresses by 4 bytes.
func vlanTagBack(f *frame) bool { return f.size() != len(f.data) }

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

// putVnet writes the virtio_net_hdr for p into v: GSO and checksum fields
// when p has them, zeros otherwise. frame is the offset in p's buffer of
// the frame's first byte.
//
