//go:build linux

package e2e

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/topo"
)

// The IPv6 end-to-end tests: the hosts of r2/topo get IPv6 (Config.IPv6),
// R2 is configured through the real utilities, and the hosts' own ping,
// traceroute and TCP stack talk through it.

// v6Drivers are the drivers every IPv6 test runs on.
var v6Drivers = []string{"afpacket", "afxdp"}

// newTopo6 builds h1 - r2 - h2 with IPv6 on the hosts.
func newTopo6(t *testing.T, cfg topo.Config) *topo.Topology {
	t.Helper()
	cfg.IPv6 = true
	return newTopoCfg(t, cfg)
}

// attach6 attaches both router ends with driver drv (A on thread ta, B on
// tb) and gives them their IPv4 and IPv6 addresses, through r2intf. R2
// falling back from AF_XDP to AF_PACKET fails the test.
func attach6(t *testing.T, d *daemon, tp *topo.Topology, ta, tb int, drv string) {
	t.Helper()
	attach6Drivers(t, d, tp, ta, tb, drv, drv)
	if show := d.must(t, "r2intf", "show"); strings.Count(show, " "+drv+" ") != 2 {
		t.Fatalf("both interfaces should use driver %s (did the kernel refuse AF_XDP and R2 fall back?):\n%s\n%s", drv, show, d.log.String())
	}
}

// attach6Drivers attaches router end A on thread ta with driver drvA and B
// on tb with drvB, and gives them their IPv4 and IPv6 addresses, through
// r2intf.
func attach6Drivers(t *testing.T, d *daemon, tp *topo.Topology, ta, tb int, drvA, drvB string) {
	t.Helper()
	attachArgs(t, d, tp, []string{"--thread", strconv.Itoa(ta), "--driver", drvA}, []string{"--thread", strconv.Itoa(tb), "--driver", drvB})
	d.must(t, "r2intf", tp.RouterIfA, "ip", "2001:db8:1::2/64")
	d.must(t, "r2intf", tp.RouterIfB, "ip", "2001:db8:2::2/64")
}

// eui64LL is the EUI-64 link-local address of mac (RFC 4291 appendix A).
func eui64LL(mac net.HardwareAddr) netip.Addr {
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	a[8], a[9], a[10], a[11], a[12] = mac[0]^2, mac[1], mac[2], 0xff, 0xfe
	a[13], a[14], a[15] = mac[3], mac[4], mac[5]
	return netip.AddrFrom16(a)
}

// ifAddrs returns the ADDRESSES column of `r2intf show ifname`.
func ifAddrs(t *testing.T, d *daemon, ifname string) string {
	t.Helper()
	out := d.must(t, "r2intf", "show", ifname)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("r2intf show %s:\n%s", ifname, out)
	}
	f := strings.Fields(lines[1])
	return f[len(f)-1]
}

// routerLL reads R2's link-local address on ifname from `r2intf show`.
func routerLL(t *testing.T, d *daemon, ifname string) netip.Addr {
	t.Helper()
	addrs := ifAddrs(t, d, ifname)
	for _, a := range strings.Split(addrs, ",") {
		if p, err := netip.ParsePrefix(a); err == nil && p.Addr().IsLinkLocalUnicast() {
			return p.Addr()
		}
	}
	t.Fatalf("r2intf show %s lists no link-local address: %s", ifname, addrs)
	return netip.Addr{}
}

// ping6Out runs ping with args in ns and returns its output (ping's exit
// status is ignored: the callers look for ICMP errors).
func ping6Out(tp *topo.Topology, ns string, args ...string) string {
	out, _ := tp.Exec(ns, "ping", append([]string{"-6", "-n"}, args...)...).CombinedOutput()
	return string(out)
}

// TestIPv6Forwarding is the IPv6 acceptance test, on each driver with one
// and two threads: ping both ways, to R2's global and link-local
// addresses, traceroute, Time Exceeded, Destination Unreachable, a route
// via a link-local next hop, a 50 MB TCP transfer, IPv4 and IPv6 at once,
// routes changed under traffic, bad requests refused with a clear reason,
// and malformed frames counted.
func TestIPv6Forwarding(t *testing.T) {
	for _, drv := range v6Drivers {
		for _, threads := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/threads=%d", drv, threads), func(t *testing.T) {
				tp := newTopo6(t, topo.Config{})
				d := startR2(t, uniqueInstance(t), "-threads", strconv.Itoa(threads))
				attach6(t, d, tp, 0, threads-1, drv)
				forwarding6(t, d, tp)
				if threads == 2 {
					if v := d.counter(t, "IfNode:"+tp.RouterIfB+"/handoff"); v == 0 {
						t.Fatal("no packet crossed threads through the handoff ring")
					}
				}
			})
		}
	}
}

func forwarding6(t *testing.T, d *daemon, tp *topo.Topology) {
	llA, llB := routerLL(t, d, tp.RouterIfA), routerLL(t, d, tp.RouterIfB)

	t.Run("show", func(t *testing.T) {
		if llA != eui64LL(tp.RouterMACA) || llB != eui64LL(tp.RouterMACB) {
			t.Fatalf("link-local addresses %v %v, want the EUI-64 ones %v %v", llA, llB, eui64LL(tp.RouterMACA), eui64LL(tp.RouterMACB))
		}
		show := d.must(t, "r2intf", "show")
		for _, want := range []string{"10.1.0.2/24", "2001:db8:1::2/64", llA.String() + "/64", "2001:db8:2::2/64", llB.String() + "/64"} {
			if !strings.Contains(show, want) {
				t.Fatalf("r2intf show lacks %s:\n%s", want, show)
			}
		}
		routes := d.must(t, "r2rt", "show", "all")
		for _, want := range []string{"10.1.0.0/24", "2001:db8:1::/64", "2001:db8:1::2/128", "2001:db8:2::/64"} {
			if !strings.Contains(routes, want) {
				t.Fatalf("r2rt show all lacks %s:\n%s", want, routes)
			}
		}
		out := d.must(t, "r2rt", "show", "2001:db8:2::77")
		if f := strings.Fields(strings.Split(strings.TrimSpace(out), "\n")[1]); len(f) != 4 || f[0] != "2001:db8:2::/64" || f[2] != tp.RouterIfB || f[3] != "connected" {
			t.Fatalf("r2rt show 2001:db8:2::77:\n%s", out)
		}
	})
	t.Run("ping", func(t *testing.T) {
		pingOK(t, d, tp, tp.H1NS, "2001:db8:2::1", 20)
		pingOK(t, d, tp, tp.H2NS, "2001:db8:1::1", 20)
		pingOK(t, d, tp, tp.H1NS, "2001:db8:1::2", 10)
		pingOK(t, d, tp, tp.H1NS, "2001:db8:2::2", 10)
		pingOK(t, d, tp, tp.H2NS, "2001:db8:2::2", 5)
		pingOK(t, d, tp, tp.H1NS, llA.String()+"%"+tp.H1If, 10)
		pingOK(t, d, tp, tp.H2NS, llB.String()+"%"+tp.H2If, 5)
		r := pingOK(t, d, tp, tp.H1NS, "2001:db8:2::1", 3)
		if !strings.Contains(r.Output, "ttl=63") {
			t.Fatalf("replies did not cross exactly one hop (want ttl=63):\n%s", r.Output)
		}
	})
	t.Run("traceroute", func(t *testing.T) {
		out, err := tp.Exec(tp.H1NS, "traceroute", "-6", "-n", "-q", "1", "-w", "2", "-m", "4", "2001:db8:2::1").CombinedOutput()
		if err != nil {
			t.Fatalf("traceroute -6 (Debian package traceroute): %v\n%s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) < 3 || !strings.Contains(lines[1], " 2001:db8:1::2 ") || !strings.Contains(lines[2], " 2001:db8:2::1 ") {
			t.Fatalf("traceroute -6 does not show R2 as the first hop:\n%s", out)
		}
		pout := ping6Out(tp, tp.H1NS, "-c", "1", "-t", "1", "-W", "2", "2001:db8:2::1")
		if !strings.Contains(pout, "From 2001:db8:1::2") || !strings.Contains(pout, "Time exceeded: Hop limit") {
			t.Fatalf("ping -6 -t 1 got no Time Exceeded from R2:\n%s", pout)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		out := ping6Out(tp, tp.H1NS, "-c", "1", "-W", "2", "2001:db8:77::1")
		if !strings.Contains(out, "From 2001:db8:1::2") || !strings.Contains(out, "Destination unreachable: No route") {
			t.Fatalf("no Destination Unreachable (no route) from R2:\n%s", out)
		}
	})
	t.Run("link-local next hop", func(t *testing.T) {
		if err := tp.AddHostAddr(tp.H2NS, "lo", "2001:db8:9::1/128"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tp.Exec(tp.H2NS, "ip", "-6", "addr", "del", "2001:db8:9::1/128", "dev", "lo").Run() })
		d.must(t, "r2rt", "route", "2001:db8:9::/48", tp.H2LL.String(), tp.RouterIfB)
		out := d.must(t, "r2rt", "show", "2001:db8:9::5")
		if f := strings.Fields(strings.Split(strings.TrimSpace(out), "\n")[1]); len(f) != 4 ||
			f[0] != "2001:db8:9::/48" || f[1] != tp.H2LL.String() || f[2] != tp.RouterIfB || f[3] != "gateway" {
			t.Fatalf("r2rt show 2001:db8:9::5:\n%s", out)
		}
		pingOK(t, d, tp, tp.H1NS, "2001:db8:9::1", 10)
		d.must(t, "r2rt", "route", "2001:db8:9::/48", "--del")
		out = ping6Out(tp, tp.H1NS, "-c", "1", "-W", "2", "2001:db8:9::1")
		if !strings.Contains(out, "Destination unreachable: No route") {
			t.Fatalf("route deleted, yet:\n%s", out)
		}
	})
	t.Run("tcp 50MB", func(t *testing.T) {
		before := d.counters(t)
		tcpTransferTo(t, tp, "[2001:db8:2::1]:5001", 50<<20)
		// Bytes, not packets: GRO merges the segments into super-frames
		// that count once each.
		if fw := counterDelta(before, d.counters(t), "IPv6Fwd/forwarded", 1); fw < 50<<20 {
			t.Fatalf("IPv6Fwd/forwarded +%d bytes over a 50 MB transfer", fw)
		}
	})
	t.Run("mixed families", func(t *testing.T) {
		var wg sync.WaitGroup
		res := make([]topo.PingResult, 4)
		errs := make([]error, 4)
		for i, c := range []struct{ ns, dst string }{
			{tp.H1NS, "10.2.0.1"}, {tp.H1NS, "2001:db8:2::1"}, {tp.H2NS, "10.1.0.1"}, {tp.H2NS, "2001:db8:1::1"},
		} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i], errs[i] = tp.Ping(c.ns, c.dst, 100, 20*time.Millisecond)
			}()
		}
		wg.Wait()
		for i := range res {
			if errs[i] != nil || res[i].Received != 100 || res[i].Loss != 0 {
				t.Fatalf("ping %d beside the other family: %v %d/100\n%s", i, errs[i], res[i].Received, res[i].Output)
			}
		}
	})
	t.Run("route changes under traffic", func(t *testing.T) {
		routeChanges6(t, d, tp)
	})
	t.Run("bad requests", func(t *testing.T) {
		badRequests6(t, d, tp)
	})
	t.Run("malformed frames", func(t *testing.T) {
		malformed6(t, d, tp)
	})
}

// routeChanges6 adds and removes IPv6 (and IPv4) routes with r2rt, one by
// one and from a mixed-family file, while h1 pings h2 over IPv6 on an
// untouched path: no ping is lost.
func routeChanges6(t *testing.T, d *daemon, tp *topo.Topology) {
	file := filepath.Join(t.TempDir(), "routes.txt")
	text := fmt.Sprintf("# both families\n2001:db8:a::/48 2001:db8:2::1 %[1]s\n198.51.100.0/24 10.2.0.1 %[1]s\n"+
		"2001:db8:b::/64 - %[1]s\n2001:db8:c::/56 %[2]s %[1]s   # link-local next hop\n", tp.RouterIfB, tp.H2LL)
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var pr topo.PingResult
	var perr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		pr, perr = tp.Ping(tp.H1NS, "2001:db8:2::1", 100, 20*time.Millisecond)
	}()
	for i := 0; i < 3; i++ {
		d.must(t, "r2rt", "route", "2001:db8:9::/48", tp.H2LL.String(), tp.RouterIfB)
		d.must(t, "r2rt", "route", "2001:db8:9:1::/64", "2001:db8:2::1", tp.RouterIfB)
		out := d.must(t, "r2rt", "load", file)
		if !strings.HasPrefix(out, "loaded 4 routes from "+file) {
			t.Fatalf("r2rt load: %s", out)
		}
		all := d.must(t, "r2rt", "show", "all")
		for _, want := range []string{"2001:db8:9::/48", "2001:db8:9:1::/64", "2001:db8:a::/48", "198.51.100.0/24", "2001:db8:b::/64", "2001:db8:c::/56", "10.1.0.0/24"} {
			if !strings.Contains(all, want) {
				t.Fatalf("r2rt show all lacks %s:\n%s", want, all)
			}
		}
		out = d.must(t, "r2rt", "show", "2001:db8:9:1::5")
		if !strings.Contains(out, "2001:db8:9:1::/64") {
			t.Fatalf("r2rt show 2001:db8:9:1::5 (longest match):\n%s", out)
		}
		d.must(t, "r2rt", "load", file, "--del")
		d.must(t, "r2rt", "route", "2001:db8:9:1::/64", "--del")
		d.must(t, "r2rt", "route", "2001:db8:9::/48", tp.H2LL.String(), tp.RouterIfB, "--del")
	}
	wg.Wait()
	if perr != nil || pr.Received != 100 {
		t.Fatalf("ping6 on the untouched path during route changes: %v, %d/100\n%s", perr, pr.Received, pr.Output)
	}
	if all := d.must(t, "r2rt", "show", "all"); strings.Contains(all, "2001:db8:9") || strings.Contains(all, "198.51.100") {
		t.Fatalf("routes left after deletion:\n%s", all)
	}
}

// badRequests6 checks that the utilities refuse bad IPv6 input with a
// clear reason, and change nothing.
func badRequests6(t *testing.T, d *daemon, tp *topo.Topology) {
	ifB := tp.RouterIfB
	routes := d.must(t, "r2rt", "show", "all")
	addrs := ifAddrs(t, d, ifB)
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"r2rt", "route", "2001:db8:9::1/48", "2001:db8:2::1", ifB},
			"route prefix 2001:db8:9::1/48 has host bits set; did you mean 2001:db8:9::/48?"},
		{[]string{"r2rt", "route", "2001:db8:9::/48", "2001:db8:77::1", ifB},
			"next hop 2001:db8:77::1 is not on a connected prefix of " + ifB},
		{[]string{"r2rt", "route", "2001:db8:9::/48", "fe80::1%" + ifB, ifB},
			"next hop \"fe80::1%" + ifB + "\" has a zone; give the address as fe80::1 and the interface on its own"},
		{[]string{"r2rt", "route", "2001:db8:9::/48", "::ffff:10.2.0.1", ifB},
			"next hop \"::ffff:10.2.0.1\" is an IPv4-mapped IPv6 address; write it as 10.2.0.1"},
		{[]string{"r2rt", "route", "::ffff:10.9.0.0/120", "10.2.0.1", ifB},
			"route prefix \"::ffff:10.9.0.0/120\" is an IPv4-mapped IPv6 prefix"},
		{[]string{"r2rt", "route", "2001:db8:9::/48", "10.2.0.1", ifB},
			"next hop 10.2.0.1 is of the other address family"},
		{[]string{"r2rt", "route", "2001:db8:9::/48", "2001:db8:2::2", ifB},
			"next hop 2001:db8:2::2 is an address of " + ifB + " itself"},
		{[]string{"r2rt", "route", "fe80::/64", "2001:db8:2::1", ifB},
			"fe80::/64 is link-local or multicast"},
		{[]string{"r2rt", "route", "2001:db8:2::/64", "2001:db8:2::1", ifB},
			"is a connected or local route of an interface address"},
		{[]string{"r2rt", "show", "2001:db8::/32"},
			"not a prefix"},
		{[]string{"r2intf", ifB, "ip", "2001:db8:2::2/64"},
			"address 2001:db8:2::2 is already on " + ifB},
		{[]string{"r2intf", ifB, "ip", "ff02::5/64"},
			"interface address ff02::5/64 is a multicast address"},
		{[]string{"r2intf", ifB, "ip", "::ffff:10.2.0.9/120"},
			"IPv4-mapped IPv6 prefix"},
		{[]string{"r2intf", ifB, "ip", "2001:db8:2::2/129"},
			"prefix length \"129\" is not a number from 0 to 128"},
		{[]string{"r2intf", ifB, "ip", "2001:db8:5::9/64", "--del"},
			"2001:db8:5::9/64 is not on " + ifB},
	} {
		_, errs, code := d.run(c.args[0], c.args[1:]...)
		if code != 1 || !strings.Contains(errs, c.msg) {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 and %q", strings.Join(c.args, " "), code, errs, c.msg)
		}
	}
	if d.must(t, "r2rt", "show", "all") != routes {
		t.Error("refused requests changed the routes")
	}
	if got := ifAddrs(t, d, ifB); got != addrs {
		t.Errorf("refused requests changed the addresses: %s, was %s", got, addrs)
	}
}

// v6Each is how many of each malformed IPv6 frame rawInject6 sends.
const v6Each = 50

// v6Frames are malformed IPv6 frames from h1 toward h2 and the IPv6Fwd
// counter each must bump.
func v6Frames(dst, src [6]byte) []struct {
	name, counter string
	frame         []byte
} {
	s, d := netip.MustParseAddr("2001:db8:1::1").As16(), netip.MustParseAddr("2001:db8:2::1").As16()
	// ip6 builds a frame whose IPv6 header says payloadLen and next header
	// nh, followed by ext.
	ip6 := func(payloadLen int, nh uint8, ext []byte) []byte {
		b := make([]byte, hdr.EtherLen+hdr.IPv6Len+len(ext))
		e := hdr.Ether(b)
		e.SetDst(dst)
		e.SetSrc(src)
		e.SetType(hdr.EtherTypeIPv6)
		hdr.PutIPv6(b[hdr.EtherLen:], 0, len(ext), nh, 64, &s, &d)
		binary.BigEndian.PutUint16(b[hdr.EtherLen+4:], uint16(payloadLen))
		copy(b[hdr.EtherLen+hdr.IPv6Len:], ext)
		return b
	}
	udp := make([]byte, 8)
	binary.BigEndian.PutUint16(udp[4:], 8)
	// A destination options header claiming 88 bytes, 8 present.
	dstOpts := []byte{hdr.ProtoUDP, 10, 1, 4, 0, 0, 0, 0}
	// A routing header type 0, one segment left, one address.
	rh0 := make([]byte, 24)
	rh0[0], rh0[1], rh0[2], rh0[3] = 59, 2, 0, 1
	copy(rh0[8:], d[:])
	return []struct {
		name, counter string
		frame         []byte
	}{
		{"truncated header", "IPv6Fwd/bad_header", ip6(8, hdr.ProtoUDP, udp)[:hdr.EtherLen+20]},
		{"payload length beyond the frame", "IPv6Fwd/bad_header", ip6(400, hdr.ProtoUDP, udp)},
		{"extension header chain off the end", "IPv6Fwd/bad_ext_hdr", ip6(len(dstOpts), hdr.ProtoIPv6DstOpts, dstOpts)},
		{"routing header type 0", "IPv6Fwd/rh0", ip6(len(rh0), hdr.ProtoIPv6Route, rh0)},
	}
}

// rawInject6 sends v6Each of every malformed IPv6 frame out of ifname.
func rawInject6(ifname, dstMAC, srcMAC string) error {
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
	for i := 0; i < v6Each; i++ {
		for _, f := range v6Frames(dst, src) {
			if err := unix.Sendto(fd, f.frame, 0, sa); err != nil {
				return fmt.Errorf("send %s: %w", f.name, err)
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

// malformed6 injects malformed IPv6 frames from h1 while a ping6 runs
// beside them: each is dropped and counted, the ping loses nothing.
func malformed6(t *testing.T, d *daemon, tp *topo.Topology) {
	before := d.counters(t)
	var wg sync.WaitGroup
	var pr topo.PingResult
	var perr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		pr, perr = tp.Ping(tp.H1NS, "2001:db8:2::1", 40, 25*time.Millisecond)
	}()
	inj := inNS(tp.H1NS, "raw6", "R2E2E_IF="+tp.H1If, "R2E2E_DST_MAC="+tp.RouterMACA.String(), "R2E2E_SRC_MAC="+tp.H1MAC.String())
	if out, err := inj.CombinedOutput(); err != nil {
		t.Fatalf("raw injection: %v\n%s", err, out)
	}
	wg.Wait()
	if perr != nil || pr.Received != pr.Transmitted || pr.Transmitted != 40 {
		t.Fatalf("ping6 beside malformed frames: %v %d/%d\n%s", perr, pr.Received, pr.Transmitted, pr.Output)
	}
	var dst, src [6]byte
	copy(dst[:], tp.RouterMACA)
	copy(src[:], tp.H1MAC)
	want := map[string]uint64{}
	for _, f := range v6Frames(dst, src) {
		want[f.counter] += v6Each
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		after := d.counters(t)
		var msg []string
		for name, n := range want {
			// Exactly: nothing else the test sends is malformed.
			if got := first(after[name]) - first(before[name]); got != n {
				msg = append(msg, fmt.Sprintf("%s +%d, want +%d", name, got, n))
			}
		}
		if len(msg) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("malformed IPv6 frames not counted right: %s", strings.Join(msg, "; "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestIPv6PacketTooBig: toward h2 the link MTU is 1280 (R2's end and h2's).
// A 1448-byte ping6 that may not be fragmented gets Packet Too Big from R2
// with that MTU; h1's path MTU discovery then lets a large ping (fragmented
// by h1) through. A TCP transfer to another address of h2, whose route
// advertises an MSS for 1500-byte packets, gets through by the same
// discovery (RFC 8201) alone.
func TestIPv6PacketTooBig(t *testing.T) {
	for _, drv := range v6Drivers {
		t.Run(drv, func(t *testing.T) {
			tp := newTopo6(t, topo.Config{})
			for _, c := range [][]string{
				{"ip", "link", "set", tp.RouterIfB, "mtu", "1280"},
				{"ip", "-n", tp.H2NS, "link", "set", tp.H2If, "mtu", "1280"},
				{"ip", "-n", tp.H2NS, "-6", "route", "replace", "default", "via", "2001:db8:2::2", "dev", tp.H2If, "advmss", "1440"},
			} {
				if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
					t.Fatalf("%v: %v %s", c, err, out)
				}
			}
			if err := tp.AddHostAddr(tp.H2NS, tp.H2If, "2001:db8:2::5/64"); err != nil {
				t.Fatal(err)
			}
			d := startR2(t, uniqueInstance(t), "-threads", "2")
			attach6(t, d, tp, 0, 1, drv)
			pingOK(t, d, tp, tp.H1NS, "2001:db8:2::1", 3)

			out := ping6Out(tp, tp.H1NS, "-c", "1", "-W", "2", "-M", "do", "-s", "1400", "2001:db8:2::1")
			if !strings.Contains(out, "From 2001:db8:1::2") || !strings.Contains(out, "Packet too big: mtu=1280") {
				t.Fatalf("no Packet Too Big with the MTU from R2:\n%s", out)
			}
			if got, _ := tp.Exec(tp.H1NS, "ip", "-6", "route", "get", "2001:db8:2::1").CombinedOutput(); !strings.Contains(string(got), "mtu 1280") {
				t.Fatalf("h1 did not learn the path MTU:\n%s", got)
			}
			out = ping6Out(tp, tp.H1NS, "-c", "5", "-i", "0.05", "-W", "2", "-M", "want", "-s", "1400", "2001:db8:2::1")
			if !strings.Contains(out, " 0% packet loss") {
				t.Fatalf("large ping6 after path MTU discovery:\n%s", out)
			}
			tooBig := d.counter(t, "IPv6Fwd/too_big")
			if tooBig == 0 {
				t.Fatal("IPv6Fwd/too_big not counted")
			}
			tcpTransferTo(t, tp, "[2001:db8:2::5]:5001", 5<<20)
			if v := d.counter(t, "IPv6Fwd/too_big"); v <= tooBig {
				t.Fatalf("TCP got through without R2's Packet Too Big (too_big %d, was %d): is h2's advmss in effect?", v, tooBig)
			}
			if got, _ := tp.Exec(tp.H1NS, "ip", "-6", "route", "get", "2001:db8:2::5").CombinedOutput(); !strings.Contains(string(got), "mtu 1280") {
				t.Fatalf("h1 did not learn the path MTU to 2001:db8:2::5:\n%s", got)
			}
		})
	}
}

// TestIPv6OffloadingPeers: hosts that leave UDP checksums to offload (veth
// defaults) still talk IPv6 through R2, which completes the checksums (no
// vnet headers; with them, TestGSO): a
// UDP traceroute -6 needs h2 to accept R2's forwarded UDP probe.
func TestIPv6OffloadingPeers(t *testing.T) {
	tp := newTopo6(t, topo.Config{Offloads: true})
	d := startR2(t, uniqueInstance(t), "-vnet-hdr=false")
	attach6(t, d, tp, 0, 0, "afpacket")
	pingOK(t, d, tp, tp.H1NS, "2001:db8:2::1", 5)
	before := d.counter(t, "IfNode:"+tp.RouterIfA+"/drv_rx_csum_fixed")
	out, err := tp.Exec(tp.H1NS, "traceroute", "-6", "-n", "-q", "1", "-w", "2", "-m", "4", "2001:db8:2::1").CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err != nil || len(lines) < 3 || !strings.Contains(lines[2], " 2001:db8:2::1 ") {
		nstat, _ := tp.Exec(tp.H2NS, "nstat", "-az", "Udp6InCsumErrors").CombinedOutput()
		t.Fatalf("traceroute -6 through R2 with offloading hosts: %v\n%s\nh2: %s", err, out, nstat)
	}
	if v := d.counter(t, "IfNode:"+tp.RouterIfA+"/drv_rx_csum_fixed"); v == before {
		t.Fatal("no checksum was completed")
	}
}
