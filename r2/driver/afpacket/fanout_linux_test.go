//go:build linux

package afpacket

import (
	"encoding/binary"
	"net"
	"os"
	"testing"

	"github.com/r2go/r2/r2/packet"
)

// udpFrame is an IPv4/UDP frame from port sport carrying seq.
func udpFrame(dst, src net.HardwareAddr, sport uint16, seq uint32) []byte {
	f := make([]byte, 14+20+8+4)
	copy(f, dst)
	copy(f[6:], src)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
	ip[8], ip[9] = 64, 17
	copy(ip[12:], []byte{10, 1, 0, 1, 10, 2, 0, 1})
	binary.BigEndian.PutUint16(ip[20:], sport)
	binary.BigEndian.PutUint16(ip[22:], 9)
	binary.BigEndian.PutUint16(ip[24:], 12)
	binary.BigEndian.PutUint32(ip[28:], seq)
	return f
}

// TestFanout checks that two sockets of one fanout group on an interface
// share its frames flow by flow: every frame arrives once, all frames of a
// flow on the same socket and in order, and both sockets get flows.
func TestFanout(t *testing.T) {
	const flows, perFlow = 16, 20
	v := newVethPair(t, 1500)
	group := uint16(os.Getpid())
	if group == 0 {
		group = 1
	}
	ds := []*Driver{
		v.openDriver(t, Config{Version: RingV2, Frames: 1024, Fanout: group}),
		v.openDriver(t, Config{Version: RingV2, Frames: 1024, Fanout: group}),
	}
	peer := openRaw(t, v.B, v.IdxB, false)
	pool := packet.NewPool(0, 64)
	got := flowsThrough(t, v, peer, []func(*packet.Pool, []*packet.Packet) int{ds[0].Recv, ds[1].Recv}, pool, flows, perFlow)
	if got[0] == 0 || got[1] == 0 {
		t.Errorf("frames per socket %v: the group did not spread %d flows", got, flows)
	}
	checkPool(t, pool)
}
