//go:build linux

package afpacket

import (
	"github.com/r2go/r2/r2/driver/vnet"
	"github.com/r2go/r2/r2/packet"
)

// The virtio_net_hdr's flags (package vnet has the layout and writes it
// on Tx).
const (
	vnetFlagNeedsCsum = vnet.FlagNeedsCsum
	vnetFlagDataValid = vnet.FlagDataValid
	vnetGSONone       = vnet.GSONone
)

// readVnet turns the virtio_net_hdr of f into p.GSO (vnet.Read).
func readVnet(p *packet.Packet, f *frame) bool {
	return vnet.Read(p, f.vnet, vlanTagBack(f))
}

// vlanTagBack reports whether Recv put a tag the kernel had stripped back
// into f, moving everything after the MAC addresses by 4 bytes.
func vlanTagBack(f *frame) bool { return f.size() != len(f.data) }

// putVnet writes the virtio_net_hdr for p into v: GSO and checksum fields
// when p has them, zeros otherwise. frame is the offset in p's buffer of
// the frame's first byte.
//
