//go:build linux

package afxdp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/internal/nstest"
	"github.com/r2go/r2/r2/packet"
)

// tcpSuper is an IPv4 TCP super-frame of segs segments of mss bytes, from
// src to dst, with the pseudo-header sum in its TCP checksum field (a
// checksum left to finish), as software GRO builds one.
func tcpSuper(dst, src []byte, segs, mss int) []byte {
	f := make([]byte, 14+20+20+segs*mss)
	copy(f, dst)
	copy(f[6:], src)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	hdr.PutIPv4(ip, 0, len(ip), 1, 64, hdr.ProtoTCP, 0x0a010001, 0x0a020001)
	hdr.IPv4(ip).SetChecksum(hdr.Checksum(ip[:20], 0))
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp, 40000)
	binary.BigEndian.PutUint16(tcp[2:], 5201)
	binary.BigEndian.PutUint32(tcp[4:], 1000)
	tcp[12], tcp[13] = 5<<4, 0x10
	binary.BigEndian.PutUint16(tcp[14:], 512)
	for i := 20; i < len(tcp); i++ {
		tcp[i] = byte(i * 7)
	}
	binary.BigEndian.PutUint16(tcp[16:], ^hdr.Checksum(nil, hdr.Sum(ip[12:20], hdr.ProtoTCP+uint32(len(tcp)))))
	return f
}

// framePacket puts frame f into a packet of pool, a big one if it needs
// it. A frame longer than 1514 bytes (a tcpSuper) gets the metadata software
// GRO gives a TCP/IPv4 super-frame: segments of mss bytes, the checksum
// left to finish.
func framePacket(t testing.TB, pool *packet.Pool, f []byte, mss uint16) *packet.Packet {
	t.Helper()
	var p *packet.Packet
	if len(f) > packet.MaxData {
		p = pool.Big().Get()
	} else {
		p = pool.Get()
	}
	if p == nil || !p.SetData(f) {
		t.Fatal("no packet for a frame")
	}
	if len(f) > 1514 {
		p.GSO = packet.GSO{CsumStart: uint16(p.Head() + 34), CsumOffset: 16, Size: mss, Type: packet.GSOTCPv4, Flags: packet.GSONeedsCsum}
	}
	return p
}

// TestSendWhole: a super-frame (and a frame with its checksum left to
// finish) leaves through the interface's AF_PACKET socket whole, between
// two plain frames of the same batch, which take the Tx ring, and the peer
// sees the three in the order sent; with NoSuperFrames the driver offers
// none (no Offloads).
func TestSendWhole(t *testing.T) {
	pool := newPoolBig(t, 512, 4)
	tn, d, _ := openPrimed(t, 1500, Config{Pool: pool})
	v := tn.Pairs[0]
	if !d.Offloads() {
		t.Fatalf("Offloads false: %s", d.vnetWhy)
	}
	tap := nstest.OpenRaw(t, tn.B, v.IdxB, nstest.RawConfig{Tap: true, RcvBuf: 4 << 20, ForceRcvBuf: true})

	plain1 := flowFrame(v.MACB, v.MACA, "udp4", 1, 1)
	super := tcpSuper(v.MACB, v.MACA, 3, 1000)
	plain2 := flowFrame(v.MACB, v.MACA, "udp4", 1, 2)
	var pkts []*packet.Packet
	for _, f := range [][]byte{plain1, super, plain2} {
		pkts = append(pkts, framePacket(t, pool, f, 1000))
	}
	if n := d.Send(pool, pkts); n != 3 {
		t.Fatalf("Send = %d, want 3", n)
	}
	var got [][]byte
	for _, f := range tap.Recv(8, 500*time.Millisecond) {
		if len(f) > 30 && binary.BigEndian.Uint16(f[12:]) == 0x0800 && bytes.Equal(f[26:30], []byte{10, 1, 0, 1}) {
			got = append(got, f)
		}
	}
	checkFrames(t, [][]byte{plain1, super, plain2}, got)
	if n := d.cfg.TxVnet.Value(); n != 1 {
		t.Errorf("drv_tx_vnet = %d, want 1", n)
	}
	// Zero allocations on the way through the socket, and on the Tx
	// ring's after it (which asks the socket what it has in flight).
	one := make([]*packet.Packet, 1)
	allocs := testing.AllocsPerRun(20, func() {
		p := pool.Big().Get()
		p.SetData(super)
		p.GSO = packet.GSO{CsumStart: uint16(p.Head() + 34), CsumOffset: 16, Size: 1000, Type: packet.GSOTCPv4, Flags: packet.GSONeedsCsum}
		one[0] = p
		d.Send(pool, one)
		p = pool.Get()
		p.SetData(plain1)
		one[0] = p
		d.Send(pool, one)
		d.Recv(pool, nil)
	})
	if allocs != 0 {
		t.Errorf("Send of a super-frame and a plain frame: %v allocs/run, want 0", allocs)
	}
	closeDrained(t, d, pool)

	off := tn.open(t, 0, Config{Pool: pool, NoSuperFrames: true})
	if off.Offloads() || off.vnet != nil {
		t.Error("NoSuperFrames: the driver still offers super-frames")
	}
}

// TestSuperFramesRefused: when the socket for super-frames cannot be
// opened the driver still opens, is no Offloader (the GSO node segments
// for it), and the registered open logs why.
func TestSuperFramesRefused(t *testing.T) {
	refuseVnet = true
	defer func() { refuseVnet = false }()
	tn := newTestNet(t, 1, 1500)
	pool := newPool(t, 0, 256)
	var logged []string
	d, err := openIn(t, tn.A, func() (driver.Driver, error) {
		return driver.Open(Name, driver.OpenArgs{Ifname: tn.Pairs[0].IfA, Pool: pool,
			Logf: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }})
	})
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := d.(driver.Offloader); !ok || o.Offloads() {
		t.Errorf("Offloader %v, Offloads true without the socket", ok)
	}
	if s := strings.Join(logged, "\n"); !strings.Contains(s, "without super-frames") || !strings.Contains(s, "refused by a test") {
		t.Errorf("log %q lacks the reason", s)
	}
}
