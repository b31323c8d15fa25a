//go:build linux

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/names"
)

// A routing daemon drives R2 through the kernel:
//
//	P (peer: BIRD AS 65001, hosts 192.0.2.1, 198.51.100.1, 2001:db8:ff::1 on lo)
//	  pa 10.1.0.1/24 2001:db8:1::1/64
//	  |
//	  ra 10.1.0.2/24 2001:db8:1::2/64
//	R (router: kernel owns the addresses; BIRD AS 65002 installs what it
//	   learns into the kernel; r2follow follows the kernel into R2; R2
//	   forwards on ra and rb with AF_PACKET, or AF_XDP; kernel forwarding
//	   off)
//	  rb 10.2.0.2/24 2001:db8:2::2/64
//	  |
//	  hb 10.2.0.1/24 2001:db8:2::1/64
//	H (host2: default routes via R)
//
// The BGP sessions run over ra, the interface R2 forwards on.

// proc is a background process of a test, stopped (SIGTERM, then SIGKILL)
// at cleanup.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *syncBuf
	done chan error
	over bool
}

func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, log: &syncBuf{}, done: make(chan error, 1)}
	p.cmd = exec.Command(args[0], args[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s log:\n%s", name, p.log.String())
		}
	})
	return p
}

// stop ends the process and reports how long it took.
func (p *proc) stop() time.Duration {
	if p.over {
		return 0
	}
	p.over = true
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
	return time.Since(start)
}

func sh(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// bgpTopo builds P, R and H; names start with pfx. It returns the
// namespace names.
func bgpTopo(t *testing.T, pfx string) (p, r, h string) {
	t.Helper()
	return bgpTopoQueues(t, pfx, 1)
}

// bgpTopoQueues is bgpTopo with veths of queues receive and transmit
// queues at both ends.
func bgpTopoQueues(t *testing.T, pfx string, queues int) (p, r, h string) {
	t.Helper()
	nq := []string{"numrxqueues", strconv.Itoa(queues), "numtxqueues", strconv.Itoa(queues)}
	p, r, h = pfx+"-p", pfx+"-r", pfx+"-h"
	for _, ns := range []string{p, r, h} {
		sh(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	link := func(a, an, b, bn string) {
		args := append([]string{"ip", "link", "add", pfx + an}, nq...)
		args = append(append(append(args, "netns", a, "type", "veth", "peer", "name", pfx+bn), nq...), "netns", b)
		sh(t, args...)
		for _, x := range [][2]string{{a, pfx + an}, {b, pfx + bn}} {
			// No offloads: R2 forwards frames a wire could carry.
			sh(t, "ip", "netns", "exec", x[0], "ethtool", "-K", x[1], "tso", "off", "gso", "off", "gro", "off")
			sh(t, "ip", "-n", x[0], "link", "set", x[1], "up")
		}
	}
	link(p, "pa", r, "ra")
	link(r, "rb", h, "hb")
	addr := func(ns, ifname string, as ...string) {
		for _, a := range as {
			args := []string{"ip", "-n", ns, "addr", "add", a, "dev", ifname}
			if strings.Contains(a, ":") {
				args = append(args, "nodad")
			}
			sh(t, args...)
		}
	}
	addr(p, pfx+"pa", "10.1.0.1/24", "2001:db8:1::1/64")
	addr(p, "lo", "192.0.2.1/32", "198.51.100.1/32", "2001:db8:ff::1/128")
	addr(r, pfx+"ra", "10.1.0.2/24", "2001:db8:1::2/64")
	addr(r, pfx+"rb", "10.2.0.2/24", "2001:db8:2::2/64")
	addr(h, pfx+"hb", "10.2.0.1/24", "2001:db8:2::1/64")
	sh(t, "ip", "-n", p, "route", "add", "10.2.0.0/24", "via", "10.1.0.2")
	sh(t, "ip", "-n", p, "-6", "route", "add", "2001:db8:2::/64", "via", "2001:db8:1::2")
	sh(t, "ip", "-n", h, "route", "add", "default", "via", "10.2.0.2")
	sh(t, "ip", "-n", h, "-6", "route", "add", "default", "via", "2001:db8:2::2")
	// The router's kernel owns the addresses but forwards nothing: R2 does.
	sh(t, "ip", "netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=0", "net.ipv6.conf.all.forwarding=0",
		"net.ipv6.conf.all.accept_ra=0", "net.ipv6.conf.default.accept_ra=0")
	return p, r, h
}

const birdPeer = `router id 10.1.0.1;
protocol device { }
protocol static s4 { ipv4; route 192.0.2.0/24 blackhole; }
protocol static w4 { ipv4; route 198.51.100.0/24 blackhole; }
protocol static s6 { ipv6; route 2001:db8:ff::/48 blackhole; }
protocol bgp r4 { local 10.1.0.1 as 65001; neighbor 10.1.0.2 as 65002; connect delay time 1; connect retry time 1; hold time 9;
  ipv4 { import none; export all; }; }
protocol bgp r6 { local 2001:db8:1::1 as 65001; neighbor 2001:db8:1::2 as 65002; connect delay time 1; connect retry time 1; hold time 9;
  ipv6 { import none; export all; }; }
`

const birdRouter = `router id 10.1.0.2;
protocol device { scan time 1; }
protocol kernel k4 { ipv4 { import none; export all; }; }
protocol kernel k6 { ipv6 { import none; export all; }; }
protocol bgp p4 { local 10.1.0.2 as 65002; neighbor 10.1.0.1 as 65001; connect delay time 1; connect retry time 1; hold time 9;
  ipv4 { import all; export none; }; }
protocol bgp p6 { local 2001:db8:1::2 as 65002; neighbor 2001:db8:1::1 as 65001; connect delay time 1; connect retry time 1; hold time 9;
  ipv6 { import all; export none; }; }
`

// startBird runs BIRD in namespace ns with config conf; its control socket
// is returned.
func startBird(t *testing.T, dir, ns, conf string) (*proc, string) {
	t.Helper()
	cf := filepath.Join(dir, ns+".conf")
	sock := filepath.Join(dir, ns+".ctl")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, "bird "+ns, "ip", "netns", "exec", ns, "bird", "-f", "-c", cf, "-s", sock, "-P", filepath.Join(dir, ns+".pid"))
	return p, sock
}

// r2Route is R2's route to dst (r2rt show), or "" if none.
func r2Route(d *daemon, dst string) string {
	out, _, code := d.run("r2rt", "show", dst)
	if code != 0 {
		return ""
	}
	return strings.TrimSpace(out)
}

// waitRoute polls until R2 has (want) or lacks (!want) a route to dst and
// returns how long that took.
func waitRoute(t *testing.T, d *daemon, dst string, want bool, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got := r2Route(d, dst)
		if (got != "") == want {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("R2's route to %s after %v: %q; want present=%v", dst, timeout, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFollowBIRD runs the BIRD scenario with R2 on AF_PACKET and on AF_XDP
// (host-owned: the XDP program passes BGP, ARP and NDP to R's kernel).
func TestFollowBIRD(t *testing.T) {
	for _, drv := range []string{"afpacket", "afxdp"} {
		t.Run(drv, func(t *testing.T) { followBIRD(t, drv) })
	}
}

func followBIRD(t *testing.T, drv string) {
	pfx := fmt.Sprintf("fl%d%c", os.Getpid()%100000, drv[2])
	p, r, h := bgpTopo(t, pfx)
	if drv == "afxdp" {
		// AF_XDP cannot see that a sender left a checksum to the
		// device: the hosts whose frames R2 forwards complete their own.
		sh(t, "ip", "netns", "exec", p, "ethtool", "-K", pfx+"pa", "tx", "off")
		sh(t, "ip", "netns", "exec", h, "ethtool", "-K", pfx+"hb", "tx", "off")
	}
	dir := t.TempDir()
	inst := uniqueInstance(t)

	// R2 in the router namespace, then the follower: it attaches ra and rb
	// (host-owned: the kernel keeps answering ARP, NDP and BGP) and mirrors
	// their addresses.
	d := startR2In(t, r, inst, "-driver", drv)
	fol := startProc(t, "r2follow", "ip", "netns", "exec", r, filepath.Join(bin, "r2follow"), "-i", inst, "-if", pfx+"ra,"+pfx+"rb", "-stats-every", "0")
	_, _ = startBird(t, dir, r, birdRouter)
	peer, peerSock := startBird(t, dir, p, birdPeer)

	// The sessions come up over ra and BIRD installs the peer's prefixes
	// in the router's kernel; the follower programs them into R2.
	start := time.Now()
	waitRoute(t, d, "192.0.2.1", true, 60*time.Second)
	waitRoute(t, d, "2001:db8:ff::1", true, 30*time.Second)
	waitRoute(t, d, "198.51.100.1", true, 30*time.Second)
	t.Logf("BGP up and routes in R2 after %v: %s | %s", time.Since(start).Round(time.Millisecond), r2Route(d, "192.0.2.1"), r2Route(d, "2001:db8:ff::1"))
	if show := d.must(t, "r2intf", "show"); strings.Count(show, drv) != 2 {
		t.Fatalf("R2's interfaces are not on %s:\n%s", drv, show)
	}
	if s := sh(t, "ip", "-n", r, "route", "show", "proto", "bird"); !strings.Contains(s, "192.0.2.0/24") {
		t.Fatalf("kernel of R lacks BIRD's route:\n%s", s)
	}

	// h2 reaches the hosts behind the peer through R2, IPv4 and IPv6.
	ping := func(dst string, n int) (int, string) {
		out, _ := exec.Command("ip", "netns", "exec", h, "ping", "-c", fmt.Sprint(n), "-i", "0.05", "-W", "1", dst).CombinedOutput()
		var sent, recv int
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "packets transmitted") {
				fmt.Sscanf(l, "%d packets transmitted, %d received", &sent, &recv)
			}
		}
		return recv, string(out)
	}
	fwdBefore := d.counter(t, "IPv4Fwd/enq")
	for _, dst := range []string{"192.0.2.1", "2001:db8:ff::1", "198.51.100.1"} {
		if got, out := ping(dst, 10); got < 9 {
			t.Fatalf("ping %s from h2 through R2: %d/10 replies\n%s", dst, got, out)
		}
	}
	if got := d.counter(t, "IPv4Fwd/enq") - fwdBefore; got < 20 {
		t.Errorf("IPv4Fwd saw %d packets for 20 pings: not forwarded by R2?", got)
	}
	cs := d.counters(t)
	sum := func(name string) uint64 {
		if v := cs[name]; len(v) > 0 {
			return v[0]
		}
		return 0
	}
	ra := pfx + "ra"
	if sum("EtherDecap:"+ra+"/arp_replies_sent") != 0 || sum("EtherDecap:"+ra+"/nd_na_sent") != 0 {
		t.Errorf("R2 answered ARP or NDP on a host-owned interface: %d ARP, %d NA",
			sum("EtherDecap:"+ra+"/arp_replies_sent"), sum("EtherDecap:"+ra+"/nd_na_sent"))
	}
	t.Logf("host-owned: ARP requests left to Linux %d, NS %d, IPv4 to R2's addresses left to Linux %d, IPv6 %d",
		sum("EtherDecap:"+ra+"/arp_host_owned")+sum("EtherDecap:"+pfx+"rb/arp_host_owned"),
		sum("EtherDecap:"+ra+"/nd_ns_host_owned")+sum("EtherDecap:"+pfx+"rb/nd_ns_host_owned"),
		sum("IPv4Local/host_owned"), sum("IPv6Local/host_owned"))

	if drv == "afpacket" {
		// The tcx filter kept the kernel's copies of the transit pings
		// (60 requests and replies) out of its IP layer; BGP, ARP and NDP
		// to R's addresses went on (the sessions are up). Published once
		// a second.
		filtered := func() uint64 {
			return d.counter(t, names.IfNodeCounter(ra, driver.DrvKernelFiltered)) + d.counter(t, names.IfNodeCounter(pfx+"rb", driver.DrvKernelFiltered))
		}
		deadline := time.Now().Add(3 * time.Second)
		for filtered() < 50 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("AF_PACKET: transit frames kept from the kernel's IP layer by the tcx filter: %d", filtered())
		if got := filtered(); got < 50 {
			t.Errorf("tcx filter dropped %d kernel copies of up to 60 transit pings and replies, want at least 50", got)
		}
	}
	if drv == "afxdp" {
		copies := sum(names.IfNodeCounter(ra, driver.DrvNeighCopies)) + sum(names.IfNodeCounter(pfx+"rb", driver.DrvNeighCopies))
		t.Logf("AF_XDP: frames passed to Linux by the XDP programs %d (published once a second), neighbour copies fed to R2 %d",
			sum(names.IfNodeCounter(ra, driver.DrvHostPassed))+sum(names.IfNodeCounter(pfx+"rb", driver.DrvHostPassed)), copies)
		if copies == 0 {
			t.Error("AF_XDP: no neighbour copies fed to R2")
		}
	}

	// A kernel multipath route becomes an R2 multipath route, weights kept.
	sh(t, "ip", "-n", r, "route", "add", "203.0.113.0/24", "proto", "static",
		"nexthop", "via", "10.1.0.1", "dev", pfx+"ra", "weight", "1", "nexthop", "via", "10.2.0.1", "dev", pfx+"rb", "weight", "3")
	start = time.Now()
	waitRoute(t, d, "203.0.113.1", true, 5*time.Second)
	if got := r2Route(d, "203.0.113.1"); !strings.Contains(got, "10.1.0.1@1") || !strings.Contains(got, "10.2.0.1@3") || !strings.Contains(got, "multipath") {
		t.Errorf("R2's route for a kernel multipath route:\n%s", got)
	}

	// A withdrawn prefix stops being forwarded within a second.
	t0 := time.Now()
	sh(t, "birdc", "-s", peerSock, "disable", "w4")
	took := waitRoute(t, d, "198.51.100.1", false, 5*time.Second)
	t.Logf("withdrawal: R2 dropped 198.51.100.0/24 %v after birdc disable (%v polling)", time.Since(t0).Round(time.Millisecond), took.Round(time.Millisecond))
	if time.Since(t0) > time.Second {
		t.Errorf("withdrawn prefix left R2 after %v; want under 1 s", time.Since(t0))
	}
	if got, _ := ping("198.51.100.1", 3); got != 0 {
		t.Errorf("withdrawn prefix still forwarded: %d replies", got)
	}

	// The BGP session dies (the peer's BIRD stops): the routes leave R2.
	t0 = time.Now()
	peer.stop()
	waitRoute(t, d, "192.0.2.1", false, 15*time.Second)
	waitRoute(t, d, "2001:db8:ff::1", false, 15*time.Second)
	t.Logf("session down: R2 without the peer's routes %v after stopping the peer", time.Since(t0).Round(time.Millisecond))
	if got, _ := ping("192.0.2.1", 2); got != 0 {
		t.Errorf("route of a dead session still forwarded: %d replies", got)
	}
	if fol.stop() > 5*time.Second {
		t.Error("r2follow slow to stop")
	}
	t.Logf("r2follow log:\n%s", fol.log.String())
}
