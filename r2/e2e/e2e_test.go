//go:build linux

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/logs"
	"github.com/r2go/r2/r2/api"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/topo"
)

// TestForwarding is issue 3's acceptance: real ping, traceroute, a static
// route, a 50 MB TCP transfer and malformed frames, with both interfaces on
// one thread and on two threads (the MPSC handoff path).
func TestForwarding(t *testing.T) {
	for _, threads := range []int{1, 2} {
		t.Run(fmt.Sprintf("threads=%d", threads), func(t *testing.T) {
			tp := newTopo(t)
			d := startR2(t, uniqueInstance(t), "-threads", strconv.Itoa(threads))
			attach(t, d, tp, 0, threads-1)

			t.Run("ping", func(t *testing.T) {
				pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 20)
				pingOK(t, d, tp, tp.H2NS, "10.1.0.1", 20)
				pingOK(t, d, tp, tp.H1NS, "10.1.0.2", 20)
				pingOK(t, d, tp, tp.H1NS, "10.2.0.2", 20)
				pingOK(t, d, tp, tp.H2NS, "10.2.0.2", 5)
			})
			t.Run("traceroute", func(t *testing.T) {
				out, err := tp.Exec(tp.H1NS, "traceroute", "-n", "-q", "1", "-w", "2", "-m", "4", "10.2.0.1").CombinedOutput()
				if err != nil {
					t.Fatalf("traceroute: %v\n%s", err, out)
				}
				lines := strings.Split(strings.TrimSpace(string(out)), "\n")
				if len(lines) < 3 || !strings.Contains(lines[1], "10.1.0.2") || !strings.Contains(lines[2], "10.2.0.1") {
					t.Fatalf("traceroute does not show R2 as the first hop:\n%s", out)
				}
				// The same with a TTL-1 ping: time exceeded from R2.
				pout, _ := tp.Exec(tp.H1NS, "ping", "-n", "-c", "1", "-t", "1", "-W", "2", "10.2.0.1").CombinedOutput()
				if !strings.Contains(string(pout), "From 10.1.0.2") || !strings.Contains(string(pout), "Time to live exceeded") {
					t.Fatalf("ping -t 1 got no time exceeded from R2:\n%s", pout)
				}
			})
			t.Run("unreachable", func(t *testing.T) {
				out, _ := tp.Exec(tp.H1NS, "ping", "-n", "-c", "1", "-W", "2", "203.0.113.9").CombinedOutput()
				if !strings.Contains(string(out), "Destination Net Unreachable") {
					t.Fatalf("no net unreachable from R2:\n%s", out)
				}
			})
			t.Run("static route", func(t *testing.T) {
				if err := tp.AddHostAddr(tp.H2NS, "lo", "192.0.2.1/32"); err != nil {
					t.Fatal(err)
				}
				d.must(t, "r2rt", "route", "192.0.2.0/24", "10.2.0.1", tp.RouterIfB)
				pingOK(t, d, tp, tp.H1NS, "192.0.2.1", 10)
				d.must(t, "r2rt", "route", "192.0.2.0/24", "10.2.0.1", tp.RouterIfB, "--del")
			})
			t.Run("tcp 50MB", func(t *testing.T) {
				before := d.counters(t)
				tcpTransfer(t, tp, 50<<20)
				reportSyscalls(t, before, d.counters(t))
			})
			t.Run("malformed frames", func(t *testing.T) {
				malformed(t, d, tp)
			})
			if threads == 2 {
				if v := d.counter(t, "IfNode:"+tp.RouterIfB+"/handoff"); v == 0 {
					t.Fatal("no packet crossed threads through the handoff ring")
				}
			}
		})
	}
}

// tcpTransfer sends n bytes from h1 to h2 through R2 and compares checksums.
func tcpTransfer(t *testing.T, tp *topo.Topology, n int) {
	t.Helper()
	tcpTransferTo(t, tp, "10.2.0.1:5001", n)
}

// tcpTransferTo sends n bytes from h1 to h2's address addr ("host:port",
// IPv4 or IPv6) through R2 and compares checksums.
func tcpTransferTo(t *testing.T, tp *topo.Topology, addr string, n int) {
	t.Helper()
	tcpBetween(t, tp.H1NS, tp.H2NS, addr, n)
}

// tcpBetween sends n bytes from a client in namespace cliNS to a server
// listening on addr in namespace srvNS and compares checksums.
func tcpBetween(t *testing.T, cliNS, srvNS, addr string, n int) {
	t.Helper()
	srv, sout, serr := startListener(t, srvNS, "tcp-server", "R2E2E_ADDR="+addr)
	start := time.Now()
	cli := inNS(cliNS, "tcp-client", "R2E2E_ADDR="+addr, fmt.Sprintf("R2E2E_BYTES=%d", n))
	cout, err := cli.CombinedOutput()
	if err != nil {
		t.Fatalf("tcp client: %v\n%s", err, cout)
	}
	if err := srv.Wait(); err != nil {
		t.Fatalf("tcp server: %v\n%s", err, serr.String())
	}
	took := time.Since(start)
	got := strings.TrimSpace(strings.TrimPrefix(sout.String(), "listening\n"))
	want := strings.TrimSpace(string(cout))
	if got != want || !strings.HasSuffix(want, " "+strconv.Itoa(n)) {
		t.Fatalf("transfer differs: sent %q, received %q", want, got)
	}
	t.Logf("%d MB in %v (%.0f Mbit/s)", n>>20, took.Round(time.Millisecond), float64(n)*8/took.Seconds()/1e6)
}

// reportSyscalls logs the system calls and wakeups the forwarding threads
// made per 1000 packets between two counter snapshots: driver syscalls
// (sendmmsg, AF_XDP kicks), epoll waits and eventfd wakeups.
func reportSyscalls(t *testing.T, before, after map[string][]uint64) {
	t.Helper()
	var pkts, sys, waits, wakes uint64
	for name, v := range after {
		delta := first(v) - first(before[name])
		switch {
		case strings.HasSuffix(name, "/"+names.IfRx) && strings.HasPrefix(name, names.IfNode("")):
			pkts += delta
		case strings.HasSuffix(name, "/"+driver.DrvSyscalls):
			sys += delta
		case name == "Thread/epoll_waits":
			waits += delta
		case name == "Thread/eventfd_wakeups":
			wakes += delta
		}
	}
	if pkts == 0 {
		t.Fatal("no packets counted")
	}
	per := func(x uint64) float64 { return float64(x) * 1000 / float64(pkts) }
	t.Logf("per 1000 packets received: %.1f driver syscalls, %.1f epoll waits, %.1f eventfd wakeups (%d packets)",
		per(sys), per(waits), per(wakes), pkts)
}

// malformed injects bad frames from h1 with a raw socket while a ping runs
// beside them: each is dropped and counted, the ping loses nothing.
func malformed(t *testing.T, d *daemon, tp *topo.Topology) {
	t.Helper()
	before := d.counters(t)
	var wg sync.WaitGroup
	var pr topo.PingResult
	var perr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		pr, perr = tp.Ping(tp.H1NS, "10.2.0.1", 40, 25*time.Millisecond)
	}()
	inj := inNS(tp.H1NS, "raw", "R2E2E_IF="+tp.H1If, "R2E2E_DST_MAC="+tp.RouterMACA.String(), "R2E2E_SRC_MAC="+tp.H1MAC.String())
	if out, err := inj.CombinedOutput(); err != nil {
		t.Fatalf("raw injection: %v\n%s", err, out)
	}
	wg.Wait()
	if perr != nil || pr.Received != pr.Transmitted || pr.Transmitted != 40 {
		t.Fatalf("ping beside malformed frames: %v %d/%d\n%s", perr, pr.Received, pr.Transmitted, pr.Output)
	}
	var dst, src [6]byte
	copy(dst[:], tp.RouterMACA)
	copy(src[:], tp.H1MAC)
	want := map[string]uint64{}
	for _, f := range rawFrames(dst, src) {
		name := f.counter
		if strings.Contains(name, "%s") {
			name = fmt.Sprintf(name, tp.RouterIfA)
		}
		want[name] += rawEach
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		after := d.counters(t)
		ok := true
		var msg []string
		for name, n := range want {
			got := first(after[name]) - first(before[name])
			if got < n {
				ok = false
				msg = append(msg, fmt.Sprintf("%s +%d, want +%d", name, got, n))
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("malformed frames not all counted: %s", strings.Join(msg, "; "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// counterDelta is how much value i of counter name (0: packets or the
// count, 1: bytes) grew from before to after, two d.counters readings; a
// value missing from either reads as 0.
func counterDelta(before, after map[string][]uint64, name string, i int) uint64 {
	var x, y uint64
	if a := after[name]; len(a) > i {
		x = a[i]
	}
	if b := before[name]; len(b) > i {
		y = b[i]
	}
	return x - y
}

func first(v []uint64) uint64 {
	if len(v) == 0 {
		return 0
	}
	return v[0]
}

// TestRuntimeChanges is issue 4's acceptance: configured only through the
// utilities, a route and an interface are added and removed while a ping
// runs on another path without loss; counters and logs are read with r2cnt
// and r2log; SIGTERM stops the daemon cleanly within a second.
func TestRuntimeChanges(t *testing.T) {
	tp := newTopo(t)
	inst := uniqueInstance(t)
	d := startR2(t, inst, "-threads", "2")
	attach(t, d, tp, 0, 1)
	d.must(t, "r2log", "enable")
	pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 5)

	// A third interface: a veth pair in the root namespace, one end for R2.
	extra, peer := tp.Config.Prefix+"-x", tp.Config.Prefix+"-y"
	if out, err := exec.Command("ip", "link", "add", extra, "type", "veth", "peer", "name", peer).CombinedOutput(); err != nil {
		t.Fatalf("veth: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", extra).Run() })
	for _, l := range []string{extra, peer} {
		exec.Command("sysctl", "-qw", "net.ipv6.conf."+l+".disable_ipv6=1").Run()
		exec.Command("ip", "link", "set", l, "up").Run()
	}

	var wg sync.WaitGroup
	var pr topo.PingResult
	var perr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		pr, perr = tp.Ping(tp.H1NS, "10.2.0.1", 100, 20*time.Millisecond)
	}()
	for i := 0; i < 3; i++ {
		d.must(t, "r2intf", extra, "add", "auto")
		d.must(t, "r2intf", extra, "ip", "10.3.0.2/24")
		d.must(t, "r2rt", "route", "198.51.100.0/24", "10.3.0.1", extra)
		out := d.must(t, "r2rt", "show", "198.51.100.7")
		if !strings.Contains(out, "198.51.100.0/24") || !strings.Contains(out, extra) {
			t.Fatalf("r2rt show lookup:\n%s", out)
		}
		d.must(t, "r2rt", "route", "198.51.100.0/24", "10.3.0.1", extra, "--del")
		d.must(t, "r2intf", extra, "del")
	}
	wg.Wait()
	if perr != nil || pr.Received != 100 {
		t.Fatalf("ping on the other path during changes: %v, %d/100\n%s", perr, pr.Received, pr.Output)
	}

	// An interface that disappears from Linux while attached is detached,
	// logged and counted; the router carries on.
	d.must(t, "r2intf", extra, "add", "auto")
	if out, err := exec.Command("ip", "link", "del", extra).CombinedOutput(); err != nil {
		t.Fatalf("ip link del: %v %s", err, out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for d.counter(t, names.Counter(names.Control, names.IntfVanished)) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("vanished interface not noticed\n%s", d.must(t, "r2intf", "show"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 5)

	show := d.must(t, "r2intf", "show")
	for _, want := range []string{tp.RouterIfA, tp.RouterIfB, "10.1.0.2/24", "10.2.0.2/24"} {
		if !strings.Contains(show, want) {
			t.Fatalf("r2intf show lacks %q:\n%s", want, show)
		}
	}
	if strings.Contains(show, extra) {
		t.Fatalf("deleted interface still shown:\n%s", show)
	}
	routes := d.must(t, "r2rt", "show", "all")
	if !strings.Contains(routes, "10.1.0.0/24") || strings.Contains(routes, "198.51.100.0/24") {
		t.Fatalf("r2rt show all:\n%s", routes)
	}
	if v := d.counter(t, "IPv4Local/echo_replies"); v != 0 {
		t.Logf("echo replies: %d", v)
	}
	cnt := d.must(t, "r2cnt", "-z", "IfNode:"+tp.RouterIfA)
	if !regexp.MustCompile(`IfNode:\S+/rx\s+\d+ pkts`).MatchString(cnt) {
		t.Fatalf("r2cnt lacks rx counters:\n%s", cnt)
	}

	// Logs: an unroutable ping leaves a "no route" entry.
	tp.Exec(tp.H1NS, "ping", "-n", "-c", "1", "-W", "1", "203.0.113.5").Run()
	shown := d.must(t, "r2log", "show")
	if !strings.Contains(shown, "no route to 203.0.113.5") || !strings.Contains(shown, `"thread":`) {
		t.Fatalf("r2log show lacks the no-route entry:\n%s", shown)
	}
	d.must(t, "r2log", "disable")

	// Bad requests: exit 1 with the reason, state unchanged.
	for _, bad := range [][]string{
		{"r2rt", "route", "10.9.9.9/24", "10.2.0.1", tp.RouterIfB},
		{"r2rt", "route", "10.9.0.0/24", "10.7.0.1", tp.RouterIfB},
		{"r2rt", "route", "10.9.0.0/24", "--del"},
		{"r2intf", "nosuchif0", "add", "auto"},
		{"r2intf", tp.RouterIfA, "add", "auto"},
	} {
		_, errs, code := d.run(bad[0], bad[1:]...)
		if code != 1 || strings.TrimSpace(errs) == "" {
			t.Fatalf("%v: exit %d, stderr %q; want exit 1 with a reason", bad, code, errs)
		}
	}
	if d.must(t, "r2rt", "show", "all") != routes {
		t.Fatal("rejected requests changed the routes")
	}

	// SIGTERM: clean and quick, nothing left behind.
	took := d.stop(t)
	if took > time.Second {
		t.Errorf("r2 took %v to stop", took)
	}
	for _, p := range []string{api.SocketPath(inst), counters.InstancePath(inst), logs.InstancePath(inst)} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left behind", p)
		}
	}
	for _, l := range []string{tp.RouterIfA, tp.RouterIfB} {
		b, err := os.ReadFile("/sys/class/net/" + l + "/flags")
		if err != nil {
			t.Fatal(err)
		}
		flags, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 0, 32)
		if flags&0x100 != 0 {
			t.Errorf("%s still promiscuous after r2 stopped", l)
		}
	}
}

// TestTwoInstances runs a second r2 beside the first: each has its own
// socket, counters and interfaces, and neither disturbs the other.
func TestTwoInstances(t *testing.T) {
	tp := newTopo(t)
	a := startR2(t, uniqueInstance(t)+"a")
	b := startR2(t, uniqueInstance(t)+"b")
	attach(t, a, tp, 0, 0)
	pingOK(t, a, tp, tp.H1NS, "10.2.0.1", 5)
	if out := b.must(t, "r2intf", "show"); strings.Contains(out, tp.RouterIfA) {
		t.Fatalf("second instance sees the first's interfaces:\n%s", out)
	}
	if v := b.counter(t, "IPv4Fwd/forwarded"); v != 0 {
		t.Fatalf("second instance counted the first one's traffic: %d", v)
	}
	if v := a.counter(t, "IPv4Fwd/forwarded"); v == 0 {
		t.Fatal("first instance counted nothing")
	}
	b.stop(t)
	pingOK(t, a, tp, tp.H1NS, "10.2.0.1", 5)
	// Starting an instance whose name is taken fails without harm.
	dup := exec.Command(bin+"/r2", "-i", a.instance, "-c", "/dev/null")
	out, err := dup.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "already running") {
		t.Fatalf("duplicate instance: %v\n%s", err, out)
	}
	pingOK(t, a, tp, tp.H1NS, "10.2.0.1", 5)
	// SIGHUP reloads nothing and stops nothing: the router keeps forwarding
	// with its interfaces and says why in its log.
	a.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(a.log.String(), "SIGHUP: nothing to reload") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(a.log.String(), "SIGHUP: nothing to reload") {
		t.Fatalf("no SIGHUP line in the log:\n%s", a.log.String())
	}
	pingOK(t, a, tp, tp.H1NS, "10.2.0.1", 5)
}

// TestOffloadingPeers: hosts that leave UDP/TCP checksums to offload (veth
// defaults) still talk through R2, which completes the checksums when its
// AF_PACKET interfaces have no vnet headers (with them, TestGSO). A UDP
// traceroute needs h2 to accept R2's forwarded UDP probe.
func TestOffloadingPeers(t *testing.T) {
	tp, err := topo.New(topo.Config{Offloads: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	d := startR2(t, uniqueInstance(t), "-vnet-hdr=false")
	attach(t, d, tp, 0, 0)
	pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 5)
	out, err := tp.Exec(tp.H1NS, "traceroute", "-n", "-q", "1", "-w", "2", "-m", "4", "10.2.0.1").CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err != nil || len(lines) < 3 || !strings.Contains(lines[2], "10.2.0.1") {
		t.Fatalf("traceroute through R2 with offloading hosts: %v\n%s", err, out)
	}
	if v := d.counter(t, names.IfNodeCounter(tp.RouterIfA, driver.DrvRxCsumFixed)); v == 0 {
		t.Fatal("no checksum was completed")
	}
}

// TestAFXDP runs the forwarding checks with both interfaces on AF_XDP
// sockets, then deletes an interface under traffic.
func TestAFXDP(t *testing.T) {
	tp := newTopo(t)
	d := startR2(t, uniqueInstance(t))
	for _, l := range []string{tp.RouterIfA, tp.RouterIfB} {
		d.must(t, "r2intf", l, "add", "auto", "--driver", "afxdp")
	}
	d.must(t, "r2intf", tp.RouterIfA, "ip", "10.1.0.2/24")
	d.must(t, "r2intf", tp.RouterIfB, "ip", "10.2.0.2/24")
	show := d.must(t, "r2intf", "show")
	if !strings.Contains(show, "afxdp") {
		t.Skipf("the kernel refused AF_XDP here; r2 fell back:\n%s\n%s", show, d.log.String())
	}
	t.Logf("interfaces:\n%s", show)
	pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 20)
	pingOK(t, d, tp, tp.H2NS, "10.1.0.1", 20)
	pingOK(t, d, tp, tp.H1NS, "10.2.0.2", 10)
	tcpTransfer(t, tp, 50<<20)
	malformed(t, d, tp)

	// Delete B while h1 pings h2: pings fail, nothing breaks, and after
	// re-adding B they work again.
	go tp.Ping(tp.H1NS, "10.2.0.1", 30, 10*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	d.must(t, "r2intf", tp.RouterIfB, "del")
	time.Sleep(200 * time.Millisecond)
	d.must(t, "r2intf", tp.RouterIfB, "add", "auto", "--driver", "afxdp")
	d.must(t, "r2intf", tp.RouterIfB, "ip", "10.2.0.2/24")
	time.Sleep(300 * time.Millisecond)
	pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 10)
}

// TestFragmentation: toward h2 the link MTU is 1000. A 1428-byte ping
// without DF is fragmented by R2 (and h2's reply, fragmented by h2, is
// forwarded fragment by fragment); with DF set R2 answers "fragmentation
// needed" with the MTU.
func TestFragmentation(t *testing.T) {
	tp := newTopo(t)
	for _, c := range [][]string{
		{"ip", "link", "set", tp.RouterIfB, "mtu", "1000"},
		{"ip", "-n", tp.H2NS, "link", "set", tp.H2If, "mtu", "1000"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", c, err, out)
		}
	}
	d := startR2(t, uniqueInstance(t))
	attach(t, d, tp, 0, 0)
	pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 3)
	out, err := tp.Exec(tp.H1NS, "ping", "-n", "-c", "5", "-i", "0.05", "-W", "2", "-M", "dont", "-s", "1400", "10.2.0.1").CombinedOutput()
	if err != nil || !strings.Contains(string(out), " 0% packet loss") {
		t.Fatalf("large ping without DF: %v\n%s", err, out)
	}
	if v := d.counter(t, "IPv4Frag/fragmented"); v < 5 {
		t.Fatalf("IPv4Frag/fragmented = %d, want at least 5", v)
	}
	out, _ = tp.Exec(tp.H1NS, "ping", "-n", "-c", "1", "-W", "2", "-M", "do", "-s", "1400", "10.2.0.1").CombinedOutput()
	if !strings.Contains(string(out), "mtu = 1000") {
		t.Fatalf("no fragmentation-needed with the MTU from R2:\n%s", out)
	}
}
