//go:build linux

package afpacket

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/internal/nstest"
	"github.com/r2go/r2/r2/packet"
)

// TestSendSockets sends one batch of plain frames, a frame whose UDP
// checksum is left to the kernel and a UDP super-frame: with vnet headers
// each kind goes through its own socket (plain frames bare, through
// plainFd), a run per sendmmsg, and a UDP socket in the peer gets every
// datagram in the batch's order with a checksum that verifies (the stack
// drops the others). Without vnet headers plain frames go through the
// main socket in one call.
func TestSendSockets(t *testing.T) {
	for _, vnet := range []bool{true, false} {
		t.Run(fmt.Sprintf("vnet=%v", vnet), func(t *testing.T) {
			v := newVethPair(t, 1500)
			d := v.openDriver(t, Config{NoVnetHdr: !vnet})
			if (d.plainFd >= 0) != vnet || (d.gsoFd >= 0) != vnet {
				t.Fatalf("plainFd %d, gsoFd %d with vnet headers %v", d.plainFd, d.gsoFd, vnet)
			}
			v.addAddrB(t, "10.99.0.2/24")
			var rfd int
			err := nstest.InNS(v.B, func() error {
				var err error
				if rfd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
					return err
				}
				return unix.Bind(rfd, &unix.SockaddrInet4{Port: 9999, Addr: [4]byte{10, 99, 0, 2}})
			})
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(rfd)

			pool := packet.NewPool(0, 16)
			frame := func(payload []byte, how string) *packet.Packet {
				f := make([]byte, 14+20+8+len(payload))
				copy(f, v.MACB)
				copy(f[6:], v.MACA)
				binary.BigEndian.PutUint16(f[12:], hdr.EtherTypeIPv4)
				ip := f[14:]
				ip[0], ip[8], ip[9] = 0x45, 64, hdr.ProtoUDP
				binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
				copy(ip[12:], []byte{10, 99, 0, 1, 10, 99, 0, 2})
				binary.BigEndian.PutUint16(ip[10:], hdr.Checksum(ip[:20], 0))
				u := ip[20:]
				binary.BigEndian.PutUint16(u[0:], 7)
				binary.BigEndian.PutUint16(u[2:], 9999)
				binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
				copy(u[8:], payload)
				p := pool.Get()
				p.SetData(f)
				if _, ok := hdr.SetPseudoChecksum(p.Data()[14:]); !ok {
					t.Fatal("pseudo checksum")
				}
				pu := p.Data()[14+20:]
				switch how {
				case "plain": // the whole checksum, as a host sends it without offload
					binary.BigEndian.PutUint16(pu[6:], hdr.Checksum(pu, 0))
				case "csum", "super":
					p.GSO = packet.GSO{CsumStart: uint16(p.Head() + 14 + 20), CsumOffset: 6, Flags: packet.GSONeedsCsum}
					if how == "super" {
						p.GSO.Size, p.GSO.Type = 100, packet.GSOUDPL4
					}
				}
				return p
			}
			payload := func(s string, n int) []byte {
				b := make([]byte, n)
				for i := range b {
					b[i] = s[i%len(s)]
				}
				return b
			}
			super := append(append(payload("g0", 100), payload("g1", 100)...), payload("g2", 60)...)
			pkts := []*packet.Packet{
				frame(payload("p0", 50), "plain"),
				frame(payload("c1", 70), "csum"),
				frame(super, "super"),
				frame(payload("p3", 30), "plain"),
				frame(payload("p4", 1400), "plain"),
			}
			want := [][]byte{payload("p0", 50), payload("c1", 70), super[:100], super[100:200], super[200:], payload("p3", 30), payload("p4", 1400)}
			if !vnet {
				// Without vnet headers the graph finishes checksums and
				// cuts super-frames before the driver (IfNode, GSO node):
				// plain frames only.
				pool.Free(pkts[1])
				pool.Free(pkts[2])
				pkts = []*packet.Packet{pkts[0], pkts[3], pkts[4]}
				want = [][]byte{want[0], want[5], want[6]}
			}
			calls0 := d.Counters().Syscalls.Value()
			if sent := d.Send(pool, pkts); sent != len(pkts) {
				t.Fatalf("sent %d of %d, tx_errors %d", sent, len(pkts), d.Counters().TxErrors.Value())
			}
			wantCalls := map[bool]uint64{true: 4, false: 1}[vnet]
			if calls := d.Counters().Syscalls.Value() - calls0; calls != wantCalls {
				t.Errorf("%d sendmmsg calls, want %d (one per run of a socket)", calls, wantCalls)
			}
			buf := make([]byte, 2000)
			for i, w := range want {
				unix.Poll([]unix.PollFd{{Fd: int32(rfd), Events: unix.POLLIN}}, int(waitTimeout/time.Millisecond))
				n, _, err := unix.Recvfrom(rfd, buf, unix.MSG_DONTWAIT)
				if err != nil {
					t.Fatalf("datagram %d of %d: %v", i, len(want), err)
				}
				if string(buf[:n]) != string(w) {
					t.Errorf("datagram %d: %d bytes %q..., want %d bytes %q...", i, n, buf[:min(n, 4)], len(w), w[:4])
				}
			}
			checkPool(t, pool)
		})
	}
}
