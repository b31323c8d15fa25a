//go:build linux

package afxdp

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"

	"github.com/r2go/r2/r2/internal/nstest"
	"github.com/r2go/r2/r2/packet"
)

// XDP actions as BPF_PROG_TEST_RUN reports them.
const (
	actPass     = 2
	actRedirect = 4
)

var (
	testMACA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xa}
	testMACB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xb}
)

// ether is an Ethernet header from src to dst with EtherType typ, then
// payload.
func ether(dst, src net.HardwareAddr, typ uint16, payload []byte) []byte {
	f := append(append(append([]byte(nil), dst...), src...), byte(typ>>8), byte(typ))
	return append(f, payload...)
}

// csum is the Internet checksum of b.
func csum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// ipv4 is an IPv4 packet from src to dst with protocol proto and payload,
// checksummed.
func ipv4(src, dst netip.Addr, proto byte, payload []byte) []byte {
	h := make([]byte, 20, 20+len(payload))
	h[0], h[8], h[9] = 0x45, 64, proto
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
	s, d := src.As4(), dst.As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	binary.BigEndian.PutUint16(h[10:], csum(h))
	return append(h, payload...)
}

// echo is an ICMP echo request with id and seq.
func echo(id, seq uint16) []byte {
	b := make([]byte, 16)
	b[0] = 8
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	binary.BigEndian.PutUint16(b[2:], csum(b))
	return b
}

// ipv6 is an IPv6 packet from src to dst with next header nh and payload
// (no checksums: the classifier reads none).
func ipv6(src, dst netip.Addr, nh byte, payload []byte) []byte {
	h := make([]byte, 40, 40+len(payload))
	h[0], h[6], h[7] = 0x60, nh, 255
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	s, d := src.As16(), dst.As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	return append(h, payload...)
}

// arpRequest asks who has target, from sender (mac, ip).
func arpRequest(mac net.HardwareAddr, ip, target netip.Addr) []byte {
	b := []byte{0, 1, 8, 0, 6, 4, 0, 1}
	s, t := ip.As4(), target.As4()
	b = append(append(b, mac...), s[:]...)
	b = append(append(b, 0, 0, 0, 0, 0, 0), t[:]...)
	return ether(net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, mac, 0x0806, b)
}

// TestHostProgClassify runs the host-owned classifier on crafted frames
// (BPF_PROG_TEST_RUN) with the XSKMAP slot filled by a real socket, so
// that a redirect reports XDP_REDIRECT and a pass XDP_PASS; with one
// receive ring and with four (the redirect's slot then depends on the
// flow: every one must hold a socket), and with four and light-flow
// steering (its read check loaded in the classifier too).
func TestHostProgClassify(t *testing.T) {
	for _, tc := range []struct {
		rings int
		gap   time.Duration
	}{{1, 0}, {4, 0}, {4, 2 * time.Millisecond}} {
		t.Run(fmt.Sprintf("rings=%d,gap=%v", tc.rings, tc.gap), func(t *testing.T) { testHostProgClassify(t, tc.rings, tc.gap) })
	}
}

func testHostProgClassify(t *testing.T, rings int, gap time.Duration) {
	tn := newTestNet(t, 1, 1500)
	pool := newPool(t, 0, 256)
	d := tn.open(t, 0, Config{Pool: pool, RxRings: rings, LightGap: gap})
	if (d.readMarks != nil) != (gap > 0) {
		t.Errorf("gap %v: read marks %v", gap, d.readMarks)
	}
	a4, b4 := netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("10.9.0.2")
	bc4 := netip.MustParseAddr("10.9.0.255")
	a6, b6 := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	ll6 := netip.MustParseAddr("fe80::a")
	far4, far6 := netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8:9::7")
	if err := d.SetHostOwned(true, []netip.Addr{a4, bc4, a6, ll6}); err != nil {
		t.Fatal(err)
	}
	if !d.HostOwned() {
		t.Fatal("HostOwned false after SetHostOwned(true)")
	}
	e4 := func(src, dst netip.Addr, proto byte, pl []byte) []byte {
		return ether(testMACA, testMACB, 0x0800, ipv4(src, dst, proto, pl))
	}
	e6 := func(src, dst netip.Addr, nh byte, pl []byte) []byte {
		return ether(testMACA, testMACB, 0x86dd, ipv6(src, dst, nh, pl))
	}
	icmp6 := func(typ byte) []byte { return []byte{typ, 0, 0, 0, 0, 0, 0, 0} }
	udp := make([]byte, 8)
	ipv4Bad := e4(b4, a4, 17, udp)
	ipv4Bad[ethHdr] = 0x55 // version 5
	ipv4ShortIHL := e4(b4, a4, 17, udp)
	ipv4ShortIHL[ethHdr] = 0x44
	ipv6Bad := e6(b6, a6, 17, udp)
	ipv6Bad[ethHdr] = 0x40
	tagged := ether(testMACA, testMACB, 0x8100, append([]byte{0, 5, 0x08, 0x00}, ipv4(b4, far4, 17, udp)...))
	tests := []struct {
		name  string
		frame []byte
		want  uint32
	}{
		{"ARP request", arpRequest(testMACB, b4, a4), actPass},
		{"ARP for another address", arpRequest(testMACB, b4, far4), actPass},
		{"IPv4 to the host", e4(b4, a4, 6, make([]byte, 20)), actPass},
		{"IPv4 to the subnet broadcast", e4(b4, bc4, 17, udp), actPass},
		{"IPv4 limited broadcast", e4(b4, netip.MustParseAddr("255.255.255.255"), 17, udp), actPass},
		{"IPv4 224.0.0.5 (OSPF)", e4(b4, netip.MustParseAddr("224.0.0.5"), 89, udp), actPass},
		{"IPv4 224.0.0.255", e4(b4, netip.MustParseAddr("224.0.0.255"), 17, udp), actPass},
		{"IPv4 224.0.1.1 (not local control)", e4(b4, netip.MustParseAddr("224.0.1.1"), 17, udp), actRedirect},
		{"IPv4 224.1.0.1", e4(b4, netip.MustParseAddr("224.1.0.1"), 17, udp), actRedirect},
		{"IPv4 transit", e4(b4, far4, 17, udp), actRedirect},
		{"IPv4 transit to a neighbour", e4(b4, b4, 17, udp), actRedirect},
		{"IPv4 version 5 to the host", ipv4Bad, actRedirect},
		{"IPv4 IHL 4 to the host", ipv4ShortIHL, actRedirect},
		{"IPv4 truncated (30 bytes)", e4(b4, a4, 17, udp)[:30], actRedirect},
		{"Ethernet header only, IPv4", e4(b4, a4, 17, udp)[:ethHdr], actRedirect},
		{"IPv6 to the host", e6(b6, a6, 6, make([]byte, 20)), actPass},
		{"IPv6 to the link-local address", e6(ll6, ll6, 17, udp), actPass},
		{"IPv6 ff02::1", e6(b6, netip.MustParseAddr("ff02::1"), 17, udp), actPass},
		{"IPv6 solicited-node", e6(b6, netip.MustParseAddr("ff02::1:ff00:1"), 58, icmp6(135)), actPass},
		{"IPv6 ff05::2 (site scope)", e6(b6, netip.MustParseAddr("ff05::2"), 17, udp), actRedirect},
		{"IPv6 transit", e6(b6, far6, 17, udp), actRedirect},
		{"IPv6 transit ICMPv6 echo", e6(b6, far6, 58, icmp6(128)), actRedirect},
		{"IPv6 transit ICMPv6 type 129", e6(b6, far6, 58, icmp6(129)), actRedirect},
		{"ICMPv6 NS unicast", e6(b6, far6, 58, icmp6(135)), actPass},
		{"ICMPv6 NA unicast", e6(b6, far6, 58, icmp6(136)), actPass},
		{"ICMPv6 RS", e6(b6, far6, 58, icmp6(133)), actPass},
		{"ICMPv6 RA", e6(b6, far6, 58, icmp6(134)), actPass},
		{"ICMPv6 redirect", e6(b6, far6, 58, icmp6(137)), actPass},
		{"MLD query", e6(b6, far6, 58, icmp6(130)), actPass},
		{"MLD report", e6(b6, far6, 58, icmp6(131)), actPass},
		{"MLD done", e6(b6, far6, 58, icmp6(132)), actPass},
		{"MLDv2 report", e6(b6, far6, 58, icmp6(143)), actPass},
		{"ICMPv6 type 138", e6(b6, far6, 58, icmp6(138)), actRedirect},
		{"ICMPv6 without its type byte", e6(b6, far6, 58, nil), actRedirect},
		{"IPv6 version 4", ipv6Bad, actRedirect},
		{"IPv6 truncated (50 bytes)", e6(b6, a6, 17, udp)[:50], actRedirect},
		{"802.1Q tagged", tagged, actPass},
		{"802.1ad tagged", ether(testMACA, testMACB, 0x88a8, make([]byte, 46)), actPass},
		{"other EtherType", ether(testMACA, testMACB, nstest.EtherType, make([]byte, 46)), actRedirect},
	}
	for _, tt := range tests {
		got, err := d.host.prog.Run(&ebpf.RunOptions{Data: tt.frame})
		if err != nil {
			t.Fatalf("%s: run: %v", tt.name, err)
		}
		if got != tt.want {
			t.Errorf("%s (%d bytes): action %d, want %d", tt.name, len(tt.frame), got, tt.want)
		}
	}
	passed := 0
	for _, tt := range tests {
		if tt.want == actPass {
			passed++
		}
	}
	if n, err := d.HostPassed(); err != nil || n != uint64(passed) {
		t.Errorf("HostPassed = %d, %v; want %d", n, err, passed)
	}
	// The plain program, for comparison, redirects everything.
	if got, err := d.prog.prog.Run(&ebpf.RunOptions{Data: arpRequest(testMACB, b4, a4)}); err != nil || got != actRedirect {
		t.Errorf("plain program on ARP: %d, %v; want %d", got, err, actRedirect)
	}
	// Addresses follow SetHostOwned: a4 goes, far4 comes.
	if err := d.SetHostOwned(true, []netip.Addr{far4, bc4, a6}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f    []byte
		want uint32
	}{
		{e4(b4, a4, 17, udp), actRedirect},
		{e4(b4, far4, 17, udp), actPass},
		{e6(b6, ll6, 17, udp), actRedirect},
		{e6(b6, a6, 17, udp), actPass},
	} {
		if got, err := d.host.prog.Run(&ebpf.RunOptions{Data: c.f}); err != nil || got != c.want {
			t.Errorf("after the address change, %x: %d, %v; want %d", c.f[30:34], got, err, c.want)
		}
	}
	if err := d.SetHostOwned(false, nil); err != nil {
		t.Fatal(err)
	}
	if d.HostOwned() {
		t.Error("HostOwned true after SetHostOwned(false)")
	}
}

// TestHostOwnedLive checks host-owned mode on a live veth: the kernel of
// namespace A owns 10.9.0.1 on the interface R2's driver serves. It
// answers ARP and ping for it, R2 gets a copy of the ARP request (fed
// from the neighbour socket) but not the ping, and transit frames still
// come to R2. Switched off, everything comes to R2 again and the kernel
// answers nothing.
func TestHostOwnedLive(t *testing.T) {
	tn := newTestNet(t, 1, 1500)
	v := tn.Pairs[0]
	a4, b4 := netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("10.9.0.2")
	la := tn.LinkA(t, 0)
	if err := tn.HA.AddrAdd(la, &netlink.Addr{IPNet: &net.IPNet{IP: a4.AsSlice(), Mask: net.CIDRMask(24, 32)}}); err != nil {
		t.Fatal(err)
	}
	tn.attachPassB(t, 0)
	pool := newPool(t, 0, 512)
	d := tn.open(t, 0, Config{Pool: pool})
	prime(t, d, pool)
	if d.SideFd() < 0 {
		t.Fatal("no side fd")
	}
	peer := nstest.OpenRaw(t, tn.B, v.IdxB, nstest.RawConfig{Tap: true})
	fromB := func(typ uint16, pl []byte) []byte { return ether(v.MACA, v.MACB, typ, pl) }
	arp := func() []byte {
		f := arpRequest(v.MACB, b4, a4)
		return f
	}
	ping := fromB(0x0800, ipv4(b4, a4, 1, echo(7, 1)))
	transit := fromB(0x0800, ipv4(b4, netip.MustParseAddr("192.0.2.7"), 17, make([]byte, 8)))

	// replies reads what A sent back to B within a short while, and
	// counts ARP replies and ICMP echo replies.
	replies := func() (arpReplies, echoReplies int) {
		for _, f := range peer.Recv(100, 300*time.Millisecond) {
			if len(f) < 14 || net.HardwareAddr(f[6:12]).String() != v.MACA.String() {
				continue // B's own frames (the tap sees them too)
			}
			switch {
			case f[12] == 0x08 && f[13] == 0x06 && len(f) >= 22 && f[21] == 2:
				arpReplies++
			case f[12] == 0x08 && f[13] == 0x00 && len(f) >= 35 && f[23] == 1 && f[34] == 0:
				echoReplies++
			}
		}
		return
	}
	// recvAll reads what the driver delivers within a short while.
	recvAll := func() [][]byte {
		var got [][]byte
		deadline := time.Now().Add(300 * time.Millisecond)
		pkts := make([]*packet.Packet, 16)
		for time.Now().Before(deadline) {
			n := d.Recv(pool, pkts)
			for _, p := range pkts[:n] {
				got = append(got, append([]byte(nil), p.Data()...))
				pool.Free(p)
			}
			if n == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
		return got
	}
	if err := d.SetHostOwned(true, []netip.Addr{a4, netip.MustParseAddr("10.9.0.255")}); err != nil {
		t.Fatal(err)
	}
	peer.Send(t, arp())
	if a, _ := replies(); a != 1 {
		t.Errorf("host-owned: the kernel sent %d ARP replies, want 1", a)
	}
	got := recvAll()
	if len(got) != 1 || string(got[0]) != string(arp()) {
		t.Errorf("host-owned: R2 received %d frames, want the copy of the ARP request: %x", len(got), got)
	}
	if c := d.NeighCopies(); c != 1 {
		t.Errorf("neighbour copies %d, want 1", c)
	}
	peer.Send(t, ping)
	if _, e := replies(); e != 1 {
		t.Errorf("host-owned: the kernel sent %d echo replies, want 1", e)
	}
	if got := recvAll(); len(got) != 0 {
		t.Errorf("host-owned: R2 received %d frames for the host's address: %x", len(got), got)
	}
	peer.Send(t, transit)
	if got := recvAll(); len(got) != 1 || string(got[0]) != string(transit) {
		t.Errorf("host-owned: R2 received %x, want the transit frame", got)
	}

	if err := d.SetHostOwned(false, nil); err != nil {
		t.Fatal(err)
	}
	peer.Send(t, arp(), ping)
	if a, e := replies(); a != 0 || e != 0 {
		t.Errorf("not host-owned: the kernel answered (%d ARP, %d echo replies)", a, e)
	}
	if got := recvAll(); len(got) != 2 {
		t.Errorf("not host-owned: R2 received %d frames, want 2", len(got))
	}
	if c := d.NeighCopies(); c != 1 {
		t.Errorf("neighbour copies %d after host-owned off, want still 1", c)
	}
	d.Close()
	checkPool(t, pool)
}

// TestHostOwnedToggleUnderTraffic switches host-owned mode on and off from
// another goroutine while transit frames stream in: both programs
// redirect transit frames, and the swap on the link is atomic, so every
// frame reaches R2 (and -race sees the control side beside Recv).
func TestHostOwnedToggleUnderTraffic(t *testing.T) {
	tn := newTestNet(t, 1, 1500)
	v := tn.Pairs[0]
	pool := newPool(t, 0, 1024)
	d := tn.open(t, 0, Config{Pool: pool})
	prime(t, d, pool)
	peer := openRaw(t, tn.B, v.IdxB)
	frame := ether(v.MACA, v.MACB, 0x0800, ipv4(netip.MustParseAddr("10.9.0.2"), netip.MustParseAddr("192.0.2.7"), 17, make([]byte, 8)))
	// Build the classifier first (the verifier takes a while).
	addrs := []netip.Addr{netip.MustParseAddr("10.9.0.1")}
	if err := d.SetHostOwned(true, addrs); err != nil {
		t.Fatal(err)
	}
	var switches atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for on := false; ; on = !on {
			select {
			case <-stop:
				return
			default:
			}
			if err := d.SetHostOwned(on, addrs); err != nil {
				t.Error(err)
				return
			}
			switches.Add(1)
			time.Sleep(200 * time.Microsecond)
		}
	}()
	// Stream until 50 switches have happened, a window of frames in
	// flight at a time.
	sent, got := 0, 0
	pkts := make([]*packet.Packet, 64)
	deadline := time.Now().Add(10 * time.Second)
	for (switches.Load() < 50 || got < sent) && time.Now().Before(deadline) {
		if switches.Load() < 50 && sent-got < 256 {
			peer.Send(t, frame)
			sent++
		}
		n := d.Recv(pool, pkts)
		for _, p := range pkts[:n] {
			if string(p.Data()) != string(frame) {
				t.Errorf("received %x", p.Data())
			}
			pool.Free(p)
		}
		got += n
	}
	close(stop)
	<-done
	n := switches.Load()
	if got != sent || sent == 0 {
		t.Errorf("received %d of %d transit frames while host-owned mode was switched %d times", got, sent, n)
	}
	t.Logf("%d frames, %d switches", got, n)
	d.Close()
	checkPool(t, pool)
}
