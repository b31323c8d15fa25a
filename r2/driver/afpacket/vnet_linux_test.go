//go:build linux

package afpacket

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/internal/nstest"
	"github.com/r2go/r2/r2/packet"
)

// TestVnetUDPGSO checks both directions of vnet headers: a UDP socket in
// the peer's namespace sends 6000 bytes with UDP_SEGMENT 1000, which
// reaches end A as one super-frame; Recv must hand it over whole with its
// GSO metadata, in a big packet. Reflected back (addresses and ports
// swapped, which leaves the pseudo-header sum as it is), Send hands it to
// the kernel, which must deliver six datagrams with valid checksums to a
// socket in the peer.
func TestVnetUDPGSO(t *testing.T) { forVersions(t, testVnetUDPGSO) }

func testVnetUDPGSO(t *testing.T, ver RingVersion) {
	v := newVethPair(t, 1500)
	d := v.openDriver(t, Config{Version: ver})
	pool := packet.NewPool(0, 16)
	pool.SetBig(packet.NewBigPool(0, 2))
	v.addAddrB(t, "10.99.0.2/24")
	neigh := &netlink.Neigh{LinkIndex: v.IdxB, Family: unix.AF_INET, State: netlink.NUD_PERMANENT, IP: net.IPv4(10, 99, 0, 1), HardwareAddr: v.MACA}
	if err := v.HB.NeighAdd(neigh); err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, 6000)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	var rfd int
	err := nstest.InNS(v.B, func() error {
		var err error
		if rfd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		if err := unix.Bind(rfd, &unix.SockaddrInet4{Port: 7777, Addr: [4]byte{10, 99, 0, 2}}); err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.Bind(fd, &unix.SockaddrInet4{Port: 7777 + 1, Addr: [4]byte{10, 99, 0, 2}}); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_UDP, unix.UDP_SEGMENT, 1000); err != nil {
			return err
		}
		return unix.Sendto(fd, msg, 0, &unix.SockaddrInet4{Port: 9, Addr: [4]byte{10, 99, 0, 1}})
	})
	if err != nil {
		t.Fatalf("peer: %v", err)
	}
	defer unix.Close(rfd)
	pkts := make([]*packet.Packet, 4)
	var p *packet.Packet
	for deadline := time.Now().Add(waitTimeout); p == nil && time.Now().Before(deadline); {
		if n := d.Recv(pool, pkts); n > 0 {
			p = pkts[0]
			for _, q := range pkts[1:n] {
				pool.Free(q)
			}
			break
		}
		unix.Poll([]unix.PollFd{{Fd: int32(d.Fd()), Events: unix.POLLIN}}, 10)
	}
	if p == nil {
		t.Fatal("no frame")
	}
	want := packet.GSO{CsumStart: packet.Headroom + 14 + 20, CsumOffset: 6, Size: 1000, Type: packet.GSOUDPL4, Flags: packet.GSONeedsCsum}
	if p.GSO != want || p.Len() != 14+20+8+6000 || !p.Big() {
		t.Fatalf("got GSO %+v, %d bytes, big %v; want %+v, %d bytes, big", p.GSO, p.Len(), p.Big(), want, 14+20+8+6000)
	}
	if d.Counters().RxErrors.Value() != 0 {
		t.Errorf("rx_errors %d", d.Counters().RxErrors.Value())
	}
	// V2 slots are 2 KiB: the super-frame took the copy path.
	if n, want := d.RxLong().Value(), map[RingVersion]uint64{RingV2: 1, RingV3: 0}[ver]; n != want {
		t.Errorf("rx_long = %d, want %d", n, want)
	}
	// Reflect it.
	f := p.Data()
	var mac [6]byte
	copy(mac[:], f[0:6])
	copy(f[0:6], f[6:12])
	copy(f[6:12], mac[:])
	ip := f[14:]
	var a [4]byte
	copy(a[:], ip[12:16])
	copy(ip[12:16], ip[16:20])
	copy(ip[16:20], a[:])
	binary.BigEndian.PutUint16(ip[22:], 7777)
	binary.BigEndian.PutUint16(ip[20:], 9)
	if sent := d.Send(pool, []*packet.Packet{p}); sent != 1 {
		t.Fatalf("sent %d, tx_errors %d", sent, d.Counters().TxErrors.Value())
	}
	var got []byte
	buf := make([]byte, 2000)
	for i := 0; i < 6; i++ {
		unix.Poll([]unix.PollFd{{Fd: int32(rfd), Events: unix.POLLIN}}, int(waitTimeout/time.Millisecond))
		n, _, err := unix.Recvfrom(rfd, buf, unix.MSG_DONTWAIT)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if n != 1000 {
			t.Errorf("datagram %d: %d bytes, want 1000", i, n)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, msg) {
		t.Errorf("datagrams do not put back the message")
	}
	checkPool(t, pool)
	checkPool(t, pool.Big())
}
