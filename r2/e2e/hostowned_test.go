//go:build linux

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/names"
)

// nsPing pings dst n times from namespace ns and returns the replies and
// ping's output.
func nsPing(ns, dst string, n int) (int, string) {
	out, _ := exec.Command("ip", "netns", "exec", ns, "ping", "-c", fmt.Sprint(n), "-i", "0.05", "-W", "1", dst).CombinedOutput()
	var sent, recv int
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "packets transmitted") {
			fmt.Sscanf(l, "%d packets transmitted, %d received", &sent, &recv)
		}
	}
	return recv, string(out)
}

// TestHostOwnedAFXDP: the bgpTopo namespaces without BIRD. R's kernel owns
// the addresses of ra and rb; R2 serves both on AF_XDP, configured by
// r2intf (no r2follow: R2 resolves its next hops itself), host-owned.
// Pings and TCP to R's addresses are answered by Linux (the XDP program
// passed them: drv_host_passed counts them, R2's local nodes see
// nothing), while pings and TCP between P and H are forwarded by R2 (R's
// kernel forwards nothing), which learned the neighbours from the copies
// of ARP and ND (drv_neigh_copies). IPv4 and IPv6. Once with veths of one
// queue, once with two served by R2's one thread (a socket per queue, the
// queues sharing the interface's program and the first queue's neighbour
// socket).
func TestHostOwnedAFXDP(t *testing.T) {
	for _, queues := range []int{1, 2} {
		t.Run(fmt.Sprintf("queues=%d", queues), func(t *testing.T) { hostOwnedAFXDP(t, queues) })
	}
}

func hostOwnedAFXDP(t *testing.T, queues int) {
	pfx := fmt.Sprintf("xh%d%d", os.Getpid()%100000, queues)
	p, r, h := bgpTopoQueues(t, pfx, queues)
	// AF_XDP cannot see that a sender left a checksum to the device:
	// the hosts whose frames R2 forwards complete their own.
	sh(t, "ip", "netns", "exec", p, "ethtool", "-K", pfx+"pa", "tx", "off")
	sh(t, "ip", "netns", "exec", h, "ethtool", "-K", pfx+"hb", "tx", "off")
	d := startR2In(t, r, uniqueInstance(t), "-driver", "afxdp")
	ra, rb := pfx+"ra", pfx+"rb"
	for _, c := range [][]string{
		{ra, "add", "auto"}, {rb, "add", "auto"},
		{ra, "host-owned", "on"}, {rb, "host-owned", "on"},
		{ra, "ip", "10.1.0.2/24"}, {ra, "ip", "2001:db8:1::2/64"},
		{rb, "ip", "10.2.0.2/24"}, {rb, "ip", "2001:db8:2::2/64"},
	} {
		d.must(t, "r2intf", c...)
	}
	show := d.must(t, "r2intf", "show")
	t.Logf("interfaces:\n%s", show)
	if strings.Count(show, "afxdp") != 2 {
		t.Fatalf("interfaces not on AF_XDP (r2 fell back?):\n%s\n%s", show, d.log.String())
	}
	if queues > 1 && strings.Count(show, ", queues 0,1") != 2 {
		t.Fatalf("interfaces not on both queues:\n%s", show)
	}
	cnt := func(name string) uint64 { return d.counter(t, name) }
	passed := func() uint64 {
		return cnt(names.IfNodeCounter(ra, driver.DrvHostPassed)) + cnt(names.IfNodeCounter(rb, driver.DrvHostPassed))
	}
	// waitCounter waits for the published counter to reach want (it is
	// refreshed once a second).
	waitPassed := func(want uint64) uint64 {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for passed() < want && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		return passed()
	}

	// Through R2 first, before H has sent anything to R: R2 must resolve
	// H itself (its ARP request and NS; H's reply and NA reach R2 only as
	// copies). Transit pings and TCP, both families.
	fwd4, fwd6 := cnt("IPv4Fwd/enq"), cnt("IPv6Fwd/enq")
	for _, dst := range []string{"10.2.0.1", "2001:db8:2::1"} {
		if got, out := nsPing(p, dst, 20); got < 19 {
			t.Fatalf("ping %s from P through R2: %d/20 replies\n%s", dst, got, out)
		}
	}
	if got := cnt("IPv4Fwd/enq") - fwd4; got < 38 {
		t.Errorf("IPv4Fwd saw %d packets for 20 transit pings: not forwarded by R2?", got)
	}
	if got := cnt("IPv6Fwd/enq") - fwd6; got < 38 {
		t.Errorf("IPv6Fwd saw %d packets for 20 transit pings: not forwarded by R2?", got)
	}
	tcpBetween(t, p, h, "10.2.0.1:5004", 20<<20)
	tcpBetween(t, p, h, "[2001:db8:2::1]:5005", 20<<20)

	if v := cnt("EtherDecap:" + rb + "/arp_replies"); v == 0 {
		t.Error("R2 saw no ARP reply on rb: it did not resolve H from a copy")
	}
	if v := cnt("EtherDecap:" + rb + "/nd_na_received"); v == 0 {
		t.Error("R2 saw no neighbour advertisement on rb: it did not resolve H from a copy")
	}

	// To the router's addresses: Linux answers.
	for _, c := range []struct{ ns, dst string }{
		{p, "10.1.0.2"}, {p, "2001:db8:1::2"}, {h, "10.2.0.2"}, {h, "2001:db8:2::2"},
	} {
		before := waitPassed(0)
		if got, out := nsPing(c.ns, c.dst, 10); got < 9 {
			t.Fatalf("ping %s from %s: %d/10 replies\n%s", c.dst, c.ns, got, out)
		}
		if got := waitPassed(before + 10); got < before+10 {
			t.Errorf("ping %s: the XDP program passed %d frames to Linux, want at least 10", c.dst, got-before)
		}
	}
	for _, c := range []string{"IPv4Local/echo_replies", "IPv6Local/echo_replies", "IPv4Local/host_owned", "IPv6Local/host_owned"} {
		if v := cnt(c); v != 0 {
			t.Errorf("%s = %d: R2 saw traffic for the host's addresses", c, v)
		}
	}
	// A TCP connection to a listener in R's namespace (as BGP would).
	tcpBetween(t, p, r, "10.1.0.2:5002", 1<<20)
	tcpBetween(t, p, r, "[2001:db8:1::2]:5003", 1<<20)

	// R2 resolved P and H itself from the copies, and answered nothing
	// for the host.
	copies := cnt(names.IfNodeCounter(ra, driver.DrvNeighCopies)) + cnt(names.IfNodeCounter(rb, driver.DrvNeighCopies))
	if copies == 0 {
		t.Error("no neighbour copies fed to R2")
	}
	for _, ifn := range []string{ra, rb} {
		for _, c := range []string{"arp_replies_sent", "nd_na_sent"} {
			if v := cnt("EtherDecap:" + ifn + "/" + c); v != 0 {
				t.Errorf("EtherDecap:%s/%s = %d on a host-owned interface", ifn, c, v)
			}
		}
	}
	time.Sleep(1200 * time.Millisecond) // drv_host_passed is published once a second
	t.Logf("frames passed to Linux %d, neighbour copies fed to R2 %d (errors %d), ARP replies seen by R2 on ra/rb %d/%d, NAs %d/%d",
		passed(), copies, cnt(names.IfNodeCounter(ra, driver.DrvNeighErrors))+cnt(names.IfNodeCounter(rb, driver.DrvNeighErrors)),
		cnt("EtherDecap:"+ra+"/arp_replies"), cnt("EtherDecap:"+rb+"/arp_replies"), cnt("EtherDecap:"+ra+"/nd_na_received"), cnt("EtherDecap:"+rb+"/nd_na_received"))

	// Host-owned off: R2 answers for its addresses again.
	d.must(t, "r2intf", ra, "host-owned", "off")
	before := cnt("IPv4Local/echo_replies")
	if got, out := nsPing(p, "10.1.0.2", 5); got < 4 {
		t.Fatalf("ping 10.1.0.2 with host-owned off: %d/5\n%s", got, out)
	}
	if got := cnt("IPv4Local/echo_replies") - before; got < 4 {
		t.Errorf("host-owned off: R2 sent %d echo replies, want the pings'", got)
	}
}
