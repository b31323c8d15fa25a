//go:build linux

package e2e

import (
	"encoding/binary"
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/hdr"
)

// Counts of each malformed frame rawInject sends.
const rawEach = 50

// rawFrames are the malformed frames and the counter each must bump.
func rawFrames(dst, src [6]byte) []struct {
	name, counter string
	frame         []byte
} {
	ip := func(total int, ttl uint8, ihl byte, badSum bool) []byte {
		b := make([]byte, hdr.EtherLen+28)
		e := hdr.Ether(b)
		e.SetDst(dst)
		e.SetSrc(src)
		e.SetType(hdr.EtherTypeIPv4)
		h := b[hdr.EtherLen:]
		hdr.PutIPv4(h, 0, 28, 7, ttl, hdr.ProtoUDP, 0x0a010001, 0x0a020001)
		binary.BigEndian.PutUint16(h[2:], uint16(total))
		h[0] = 0x40 | ihl
		h[10], h[11] = 0, 0
		c := hdr.Checksum(h[:20], 0)
		if badSum {
			c ^= 0x5555
		}
		binary.BigEndian.PutUint16(h[10:], c)
		return b
	}
	arp := make([]byte, hdr.EtherMinFrame)
	e := hdr.Ether(arp)
	e.SetDst([6]byte{255, 255, 255, 255, 255, 255})
	e.SetSrc(src)
	e.SetType(hdr.EtherTypeARP)
	hdr.PutARP(arp[hdr.EtherLen:], hdr.ARPRequest, src, 0x0a010001, [6]byte{}, 0x0a010002)
	arp[hdr.EtherLen+4] = 9 // hardware length 9: garbage
	return []struct {
		name, counter string
		frame         []byte
	}{
		{"truncated IP", "L3Parse/truncated", ip(28, 64, 5, false)[:hdr.EtherLen+12]},
		{"total length beyond frame", "L3Parse/truncated", ip(400, 64, 5, false)},
		{"bad checksum", "L3Parse/bad_checksum", ip(28, 64, 5, true)},
		{"bad IHL", "L3Parse/bad_ihl", ip(28, 64, 3, false)},
		{"TTL 1", "IPv4Fwd/ttl_expired", ip(28, 1, 5, false)},
		{"ARP garbage", "EtherDecap:%s/arp_bad", arp},
	}
}

func parseMAC(s string) (m [6]byte, err error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return m, fmt.Errorf("bad MAC %q", s)
	}
	copy(m[:], hw)
	return m, nil
}

// rawInject sends rawEach of every malformed frame out of ifname.
func rawInject(ifname, dstMAC, srcMAC string) error {
	dst, err := parseMAC(dstMAC)
	if err != nil {
		return err
	}
	src, err := parseMAC(srcMAC)
	if err != nil {
		return err
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	sa := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
	copy(sa.Addr[:], dst[:])
	for i := 0; i < rawEach; i++ {
		for _, f := range rawFrames(dst, src) {
			if err := unix.Sendto(fd, f.frame, 0, sa); err != nil {
				return fmt.Errorf("send %s: %w", f.name, err)
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}
