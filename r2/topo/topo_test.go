//go:build linux

package topo

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// requireRoot skips tests that need root and the ip and ping programs when
// not run as root (CI runs them as root).
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, p := range []string{"ip", "ping"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s not installed (Debian: iproute2, iputils-ping): %v", p, err)
		}
	}
}

// newTopo builds a topology and registers its teardown, and a check that
// nothing is left, with t.Cleanup, so both run even if the test fails or
// panics.
func newTopo(t testing.TB, cfg Config) *Topology {
	t.Helper()
	if cfg.Prefix == "" {
		cfg.Prefix = UniquePrefix()
	}
	tp, err := New(cfg)
	if err != nil {
		// New must have torn down what it built.
		assertGone(t, cfg.Prefix)
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	t.Cleanup(func() {
		if err := tp.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		assertGone(t, cfg.Prefix)
	})
	return tp
}

// assertGone checks, with ip(8) rather than this package, that no namespace
// and no root-namespace interface with the prefix's names exists.
func assertGone(t testing.TB, prefix string) {
	t.Helper()
	for _, args := range [][]string{{"netns", "list"}, {"-o", "link", "show"}} {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			t.Errorf("ip %v: %v\n%s", args, err, out)
			continue
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, prefix+"-") {
				t.Errorf("left over after teardown (ip %s): %s", strings.Join(args, " "), line)
			}
		}
	}
	if left, err := Leftovers(prefix); err != nil || len(left) > 0 {
		t.Errorf("Leftovers(%q) = %v, %v; want none", prefix, left, err)
	}
}

// run runs a command in ns and returns its trimmed output.
func run(t testing.TB, tp *Topology, ns string, name string, args ...string) string {
	t.Helper()
	out, err := tp.Exec(ns, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v in %q: %v\n%s", name, args, ns, err, out)
	}
	return strings.TrimSpace(string(out))
}

// mustPingOK pings dst from ns and requires every reply.
func mustPingOK(t testing.TB, tp *Topology, ns, dst string, count int) PingResult {
	t.Helper()
	r, err := tp.Ping(ns, dst, count, 200*time.Millisecond)
	if err != nil {
		t.Fatalf("Ping %s from %s: %v", dst, ns, err)
	}
	if r.Transmitted != count || r.Received != count || r.Loss != 0 || len(r.RTTs) != count {
		t.Fatalf("Ping %s from %s: tx %d rx %d loss %v%% rtts %d, want %d/%d/0%%/%d\n%s",
			dst, ns, r.Transmitted, r.Received, r.Loss, len(r.RTTs), count, count, count, r.Output)
	}
	if r.Min <= 0 || r.Min > r.Avg || r.Avg > r.Max {
		t.Errorf("Ping %s from %s: rtt min/avg/max %v/%v/%v not ordered", dst, ns, r.Min, r.Avg, r.Max)
	}
	return r
}

// mustPingFail pings dst once from ns and requires no reply, quickly.
func mustPingFail(t testing.TB, tp *Topology, ns, dst string) PingResult {
	t.Helper()
	start := time.Now()
	r, err := tp.Ping(ns, dst, 1, 0)
	if err != nil {
		t.Fatalf("Ping %s from %s: %v", dst, ns, err)
	}
	if r.Transmitted != 1 || r.Received != 0 || r.Loss != 100 {
		t.Errorf("Ping %s from %s: tx %d rx %d loss %v%%, want 1/0/100%%\n%s", dst, ns, r.Transmitted, r.Received, r.Loss, r.Output)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("failing ping took %v, want it quick", d)
	}
	return r
}

func TestKernelMode(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	tp := newTopo(t, Config{RouterNS: true})
	p := tp.Config.Prefix

	// Names: derived from the prefix, valid, distinct.
	nsNames := []string{tp.H1NS, tp.H2NS, tp.RouterNSName}
	ifNames := []string{tp.H1If, tp.H2If, tp.RouterIfA, tp.RouterIfB}
	seen := map[string]bool{}
	for _, n := range append(nsNames, ifNames...) {
		if !strings.HasPrefix(n, p+"-") {
			t.Errorf("name %q does not start with %q", n, p+"-")
		}
		if len(n) > 15 {
			t.Errorf("name %q longer than 15", n)
		}
	}
	for _, group := range [][]string{nsNames, ifNames} {
		for _, n := range group {
			if seen[n] {
				t.Errorf("name %q used twice", n)
			}
			seen[n] = true
		}
		clear(seen)
	}

	// MACs: populated, distinct, and what the kernel reports.
	macs := []struct {
		ns, ifname string
		mac        net.HardwareAddr
	}{
		{tp.H1NS, tp.H1If, tp.H1MAC},
		{tp.H2NS, tp.H2If, tp.H2MAC},
		{tp.RouterNSName, tp.RouterIfA, tp.RouterMACA},
		{tp.RouterNSName, tp.RouterIfB, tp.RouterMACB},
	}
	seenMAC := map[string]bool{}
	for _, m := range macs {
		if len(m.mac) != 6 || m.mac.String() == "00:00:00:00:00:00" {
			t.Errorf("%s MAC %v not populated", m.ifname, m.mac)
		}
		if seenMAC[m.mac.String()] {
			t.Errorf("%s MAC %v not unique", m.ifname, m.mac)
		}
		seenMAC[m.mac.String()] = true
		if got := run(t, tp, m.ns, "cat", "/sys/class/net/"+m.ifname+"/address"); got != m.mac.String() {
			t.Errorf("%s MAC: topology says %v, kernel says %s", m.ifname, m.mac, got)
		}
	}

	// The router ends are in the router namespace, not in ours.
	if _, err := netlink.LinkByName(tp.RouterIfA); err == nil {
		t.Errorf("%s found in the root namespace in RouterNS mode", tp.RouterIfA)
	}
	if got := run(t, tp, tp.RouterNSName, "cat", "/proc/sys/net/ipv4/ip_forward"); got != "1" {
		t.Errorf("router ip_forward = %s, want 1", got)
	}
	if got := run(t, tp, tp.RouterNSName, "ip", "-4", "-o", "addr", "show", "dev", tp.RouterIfA); !strings.Contains(got, "inet 10.1.0.2/24") {
		t.Errorf("router A addresses = %q, want 10.1.0.2/24", got)
	}
	for _, e := range []struct{ ns, ifname string }{{tp.H1NS, tp.H1If}, {tp.H2NS, tp.H2If}, {tp.RouterNSName, tp.RouterIfA}} {
		if got := run(t, tp, e.ns, "cat", "/proc/sys/net/ipv6/conf/"+e.ifname+"/disable_ipv6"); got != "1" {
			t.Errorf("%s disable_ipv6 = %s, want 1", e.ifname, got)
		}
	}
	if got := run(t, tp, tp.H1NS, "ip", "route", "show", "default"); !strings.Contains(got, "via 10.1.0.2 dev "+tp.H1If) {
		t.Errorf("h1 default route = %q", got)
	}
	if got := run(t, tp, tp.H1NS, "ip", "-o", "link", "show", "lo"); !strings.Contains(got, "UP") {
		t.Errorf("h1 lo not up: %q", got)
	}

	// Forwarding both ways, through exactly one router hop.
	r := mustPingOK(t, tp, tp.H1NS, tp.H2IP.String(), 5)
	if !strings.Contains(r.Output, "ttl=63") {
		t.Errorf("h1->h2 replies not forwarded once (want ttl=63):\n%s", r.Output)
	}
	mustPingOK(t, tp, tp.H2NS, tp.H1IP.String(), 5)
}

func TestR2Mode(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	tp := newTopo(t, Config{})
	if tp.RouterNSName != "" {
		t.Fatalf("RouterNSName = %q in R2 mode, want root", tp.RouterNSName)
	}
	for _, e := range []struct {
		ifname string
		index  int
		mac    net.HardwareAddr
	}{{tp.RouterIfA, tp.RouterIndexA, tp.RouterMACA}, {tp.RouterIfB, tp.RouterIndexB, tp.RouterMACB}} {
		l, err := netlink.LinkByName(e.ifname)
		if err != nil {
			t.Fatalf("router end %s not in the root namespace: %v", e.ifname, err)
		}
		if l.Attrs().Index != e.index || l.Attrs().HardwareAddr.String() != e.mac.String() {
			t.Errorf("%s: index %d mac %v, topology says %d %v", e.ifname, l.Attrs().Index, l.Attrs().HardwareAddr, e.index, e.mac)
		}
		if l.Attrs().OperState != netlink.OperUp {
			t.Errorf("%s operstate %v, want up", e.ifname, l.Attrs().OperState)
		}
		if got := run(t, tp, "", "ip", "-4", "-o", "addr", "show", "dev", e.ifname); got != "" {
			t.Errorf("%s has IPv4 addresses: %q", e.ifname, got)
		}
		if got := run(t, tp, "", "ip", "-6", "-o", "addr", "show", "dev", e.ifname); got != "" {
			t.Errorf("%s has IPv6 addresses: %q", e.ifname, got)
		}
		for key, want := range map[string]string{
			"ipv6/conf/" + e.ifname + "/disable_ipv6": "1",
			"ipv4/conf/" + e.ifname + "/forwarding":   "0",
			"ipv4/conf/" + e.ifname + "/rp_filter":    "1",
			"ipv4/conf/" + e.ifname + "/arp_ignore":   "8",
		} {
			b, err := os.ReadFile("/proc/sys/net/" + key)
			if err != nil || strings.TrimSpace(string(b)) != want {
				t.Errorf("net.%s = %q (%v), want %s", key, b, err, want)
			}
		}
	}
	// The hosts still have their side.
	if got := run(t, tp, tp.H2NS, "ip", "-4", "-o", "addr", "show", "dev", tp.H2If); !strings.Contains(got, "inet 10.2.0.1/24") {
		t.Errorf("h2 addresses = %q", got)
	}
	if got := run(t, tp, tp.H2NS, "ip", "route", "show", "default"); !strings.Contains(got, "via 10.2.0.2") {
		t.Errorf("h2 default route = %q", got)
	}

	// Quiet links: nothing sent either way while no test traffic runs.
	time.Sleep(300 * time.Millisecond)
	for _, ifname := range []string{tp.RouterIfA, tp.RouterIfB} {
		if tx, rx := stat(t, ifname, "tx_packets"), stat(t, ifname, "rx_packets"); tx != 0 || rx != 0 {
			t.Errorf("%s: tx %d rx %d packets on an idle topology, want 0", ifname, tx, rx)
		}
	}

	// Nothing forwards and nothing answers for the gateway: both fail.
	mustPingFail(t, tp, tp.H1NS, tp.H2IP.String())
	mustPingFail(t, tp, tp.H1NS, tp.RouterIPA.String())
	// h1's ARP requests reached the router end; the kernel sent nothing.
	if rx := stat(t, tp.RouterIfA, "rx_packets"); rx == 0 {
		t.Errorf("%s received nothing while h1 pinged", tp.RouterIfA)
	}
	for _, ifname := range []string{tp.RouterIfA, tp.RouterIfB} {
		if tx := stat(t, ifname, "tx_packets"); tx != 0 {
			t.Errorf("kernel sent %d packets on %s in R2 mode, want 0", tx, ifname)
		}
	}
	if rx := stat(t, tp.RouterIfB, "rx_packets"); rx != 0 {
		t.Errorf("%s received %d packets, want 0 (h2 is idle)", tp.RouterIfB, rx)
	}
}

// stat reads an interface counter of the root namespace.
func stat(t testing.TB, ifname, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/sys/class/net", ifname, "statistics", name))
	if err != nil {
		t.Fatalf("read %s %s: %v", ifname, name, err)
	}
	var n int
	if _, err := fmt.Sscan(string(b), &n); err != nil {
		t.Fatalf("parse %s %s %q: %v", ifname, name, b, err)
	}
	return n
}

func TestTwoTopologiesAtOnce(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	a := newTopo(t, Config{RouterNS: true})
	b := newTopo(t, Config{RouterNS: true})
	c := newTopo(t, Config{})
	if a.Config.Prefix == b.Config.Prefix || a.H1NS == b.H1NS || a.RouterIfA == c.RouterIfA {
		t.Fatalf("topologies share names: %q %q %q", a.Config.Prefix, b.Config.Prefix, c.Config.Prefix)
	}
	mustPingOK(t, a, a.H1NS, a.H2IP.String(), 3)
	mustPingOK(t, b, b.H1NS, b.H2IP.String(), 3)
	mustPingFail(t, c, c.H1NS, c.H2IP.String())

	// A prefix in use is refused, and the refusal leaves its owner intact.
	if d, err := New(Config{Prefix: a.Config.Prefix, RouterNS: true}); err == nil {
		d.Close()
		t.Fatalf("New with the prefix of a live topology succeeded")
	} else if !strings.Contains(err.Error(), "in use") {
		t.Errorf("New with a live prefix: %v, want an \"in use\" error", err)
	}
	if d, err := New(Config{Prefix: c.Config.Prefix}); err == nil {
		d.Close()
		t.Fatalf("New with the prefix of a live R2-mode topology succeeded")
	}
	mustPingOK(t, a, a.H2NS, a.H1IP.String(), 3)
	if _, err := netlink.LinkByName(c.RouterIfA); err != nil {
		t.Errorf("refused New removed %s: %v", c.RouterIfA, err)
	}
}

func TestOffloads(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	if _, err := exec.LookPath("ethtool"); err != nil {
		t.Fatalf("ethtool not installed (Debian: ethtool): %v", err)
	}
	main := []string{"tx-checksumming", "rx-checksumming", "tcp-segmentation-offload", "generic-segmentation-offload", "generic-receive-offload"}
	var allGroups []string
	for _, g := range offloadGroups {
		allGroups = append(allGroups, g.Name)
	}
	if len(allGroups) < len(main) {
		t.Fatalf("offloadGroups %v lacks some of %v", allGroups, main)
	}
	tests := []struct {
		name    string
		cfg     Config
		wantOn  []string // offloads that must be on
		wantOff []string // offloads that must be off
	}{
		{
			name:    "off",
			cfg:     Config{RouterNS: true},
			wantOff: allGroups,
		},
		{
			name:   "defaults",
			cfg:    Config{Offloads: true},
			wantOn: []string{"tx-checksumming", "rx-checksumming", "tcp-segmentation-offload", "generic-segmentation-offload"},
		},
	}
	ethtoolRE := regexp.MustCompile(`(?m)^([a-z-]+): (on|off)`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := newTopo(t, tt.cfg)
			for _, e := range []struct{ ns, ifname string }{
				{tp.H1NS, tp.H1If}, {tp.H2NS, tp.H2If}, {tp.RouterNSName, tp.RouterIfA}, {tp.RouterNSName, tp.RouterIfB},
			} {
				got, err := tp.Offloads(e.ns, e.ifname)
				if err != nil {
					t.Fatalf("Offloads(%q, %s): %v", e.ns, e.ifname, err)
				}
				// Cross-check with ethtool(8).
				tool := map[string]bool{}
				for _, m := range ethtoolRE.FindAllStringSubmatch(run(t, tp, e.ns, "ethtool", "-k", e.ifname), -1) {
					tool[m[1]] = m[2] == "on"
				}
				for _, f := range tt.wantOff {
					if got[f] || tool[f] {
						t.Errorf("%s %s: ioctl on=%v ethtool on=%v, want off", e.ifname, f, got[f], tool[f])
					}
				}
				for _, f := range tt.wantOn {
					if !got[f] || !tool[f] {
						t.Errorf("%s %s: ioctl on=%v ethtool on=%v, want on", e.ifname, f, got[f], tool[f])
					}
				}
				for f, on := range got {
					// ethtool(8) versions differ in what they list,
					// but all list the offloads of Config.Offloads.
					if v, ok := tool[f]; ok && v != on || !ok && slices.Contains(main, f) {
						t.Errorf("%s %s: ioctl on=%v, ethtool on=%v (listed %v)", e.ifname, f, on, v, ok)
					}
				}
			}
			if tt.cfg.RouterNS {
				// Traffic still flows with offloads off.
				mustPingOK(t, tp, tp.H1NS, tp.H2IP.String(), 2)
			}
		})
	}
}

func TestAddHostAddrAndRoute(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	tp := newTopo(t, Config{RouterNS: true})
	const behind = "10.3.0.1"

	if err := tp.AddHostAddr(tp.H2NS, "lo", behind+"/32"); err != nil {
		t.Fatalf("AddHostAddr: %v", err)
	}
	// The router has no route yet: it answers "net unreachable".
	r := mustPingFail(t, tp, tp.H1NS, behind)
	if r.Errors == 0 {
		t.Errorf("want an ICMP error from the router before the route exists:\n%s", r.Output)
	}
	if err := tp.AddHostRoute(tp.RouterNSName, "10.3.0.0/24", tp.H2IP.String()); err != nil {
		t.Fatalf("AddHostRoute: %v", err)
	}
	mustPingOK(t, tp, tp.H1NS, behind, 3)

	// The root namespace and foreign namespaces are refused.
	if err := tp.AddHostAddr("", "lo", "10.9.9.9/32"); err == nil {
		t.Errorf("AddHostAddr in the root namespace succeeded")
	}
	if err := tp.AddHostRoute("", "10.9.9.0/24", "10.1.0.1"); err == nil {
		t.Errorf("AddHostRoute in the root namespace succeeded")
	}
	if err := tp.AddHostRoute(tp.H1NS, "not-a-prefix", "10.1.0.2"); err == nil {
		t.Errorf("AddHostRoute with a bad prefix succeeded")
	}
	if err := tp.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := tp.AddHostAddr(tp.H2NS, "lo", "10.3.0.2/32"); !errors.Is(err, net.ErrClosed) {
		t.Errorf("AddHostAddr after Close = %v, want net.ErrClosed", err)
	}
}

func TestExec(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	tp := newTopo(t, Config{})
	h1 := run(t, tp, tp.H1NS, "ip", "-o", "link", "show")
	if !strings.Contains(h1, tp.H1If+"@") || !strings.Contains(h1, "lo:") || strings.Contains(h1, tp.RouterIfA) {
		t.Errorf("links in h1:\n%s", h1)
	}
	if root := run(t, tp, "", "ip", "-o", "link", "show", tp.RouterIfA); !strings.Contains(root, tp.RouterIfA) {
		t.Errorf("Exec in root does not see %s:\n%s", tp.RouterIfA, root)
	}
	if _, err := tp.Ping(tp.H1NS, tp.H2IP.String(), 0, 0); err == nil {
		t.Errorf("Ping with count 0 succeeded")
	}
	if _, err := tp.Ping(tp.Config.Prefix+"-nx", tp.H2IP.String(), 1, 0); err == nil {
		t.Errorf("Ping from a missing namespace succeeded")
	}
	if err := tp.SteerRx(tp.H2NS, tp.H2If, "1"); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(run(t, tp, tp.H2NS, "cat", "/sys/class/net/"+tp.H2If+"/queues/rx-0/rps_cpus")); strings.Trim(got, "0,") != "1" {
		t.Errorf("rps_cpus of %s after SteerRx 1: %q", tp.H2If, got)
	}
	for _, bad := range []struct{ ifname, mask string }{{tp.H2If, "cpu0"}, {tp.H2If, ""}, {tp.H2If + "-nx", "1"}} {
		if err := tp.SteerRx(tp.H2NS, bad.ifname, bad.mask); err == nil {
			t.Errorf("SteerRx(%q, %q) succeeded", bad.ifname, bad.mask)
		}
	}
}

func TestCloseIdempotentAndCleanup(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	for _, routerNS := range []bool{false, true} {
		t.Run(fmt.Sprintf("RouterNS=%v", routerNS), func(t *testing.T) {
			tp := newTopo(t, Config{RouterNS: routerNS})
			p := tp.Config.Prefix
			if left, err := Leftovers(p); err != nil || len(left) < 2 {
				t.Fatalf("Leftovers of a live topology = %v, %v; want its namespaces", left, err)
			}
			// An interrupted run: Cleanup with only the prefix.
			if err := Cleanup(p); err != nil {
				t.Errorf("Cleanup: %v", err)
			}
			assertGone(t, p)
			// Close after Cleanup, and twice, is fine.
			if err := tp.Close(); err != nil {
				t.Errorf("Close after Cleanup: %v", err)
			}
			if err := tp.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
	// Cleanup of a prefix with nothing left is a no-op.
	if err := Cleanup(UniquePrefix()); err != nil {
		t.Errorf("Cleanup of an unused prefix: %v", err)
	}
	if err := Cleanup("bad/prefix"); err == nil {
		t.Errorf("Cleanup of an invalid prefix succeeded")
	}
}

func TestNewFailureTearsDown(t *testing.T) {
	requireRoot(t)
	for _, routerNS := range []bool{false, true} {
		t.Run(fmt.Sprintf("RouterNS=%v", routerNS), func(t *testing.T) {
			p := UniquePrefix()
			built := false
			testHookBeforeReturn = func(tp *Topology) error {
				if tp.Config.Prefix != p {
					return nil
				}
				// Everything exists at this point.
				left, _ := Leftovers(p)
				built = len(left) >= 2
				return errors.New("injected failure")
			}
			t.Cleanup(func() { testHookBeforeReturn = nil })
			tp, err := New(Config{Prefix: p, RouterNS: routerNS})
			if err == nil {
				tp.Close()
				t.Fatalf("New succeeded despite the injected failure")
			}
			if !strings.Contains(err.Error(), "injected failure") {
				t.Errorf("New error = %v, want the injected failure", err)
			}
			if !built {
				t.Errorf("the topology did not exist when the failure was injected")
			}
			assertGone(t, p)
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"long prefix", Config{Prefix: "abcdefghijklm"}},
		{"bad prefix", Config{Prefix: "r2/x"}},
		{"bad address", Config{H1Addr: "10.1.0.1"}},
		{"IPv6 address", Config{H2Addr: "fd00::1/64"}},
		{"bad MTU", Config{MTU: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tp, err := New(tt.cfg); err == nil {
				tp.Close()
				t.Errorf("New(%+v) succeeded", tt.cfg)
			}
		})
	}
}

func TestMTU(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	tp := newTopo(t, Config{RouterNS: true, MTU: 9000})
	for _, e := range []struct{ ns, ifname string }{{tp.H1NS, tp.H1If}, {tp.RouterNSName, tp.RouterIfB}} {
		if got := run(t, tp, e.ns, "cat", "/sys/class/net/"+e.ifname+"/mtu"); got != "9000" {
			t.Errorf("%s mtu = %s, want 9000", e.ifname, got)
		}
	}
	// A 8000-byte ping that must not be fragmented crosses the router.
	r, err := tp.Exec(tp.H1NS, "ping", "-n", "-c", "1", "-W", "1", "-M", "do", "-s", "8000", tp.H2IP.String()).CombinedOutput()
	if err != nil {
		t.Errorf("jumbo ping: %v\n%s", err, r)
	}
}

// TestThreadsStayInCallerNS checks that building and tearing down leaves no
// thread of the process in another network namespace.
func TestThreadsStayInCallerNS(t *testing.T) {
	requireRoot(t)
	tp := newTopo(t, Config{RouterNS: true})
	if err := tp.Close(); err != nil {
		t.Fatal(err)
	}
	want, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := filepath.Glob("/proc/self/task/*/ns/net")
	if err != nil || len(tasks) == 0 {
		t.Fatalf("list threads: %v", err)
	}
	for _, p := range tasks {
		got, err := os.Readlink(p)
		if err != nil {
			continue // thread exited
		}
		if got != want {
			t.Errorf("thread %s is in %s, process in %s", p, got, want)
		}
	}
}

// helperEnv selects the failing helper test in a child test process.
const helperEnv = "R2_TOPO_HELPER"

// TestHelperFailingTest is not a test of its own: TestCleanupAfterFailure
// runs it in a child process, where it builds a topology and then fails or
// panics.
func TestHelperFailingTest(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("helper for TestCleanupAfterFailure")
	}
	tp := newTopo(t, Config{RouterNS: mode == "panic"})
	fmt.Printf("PREFIX=%s\n", tp.Config.Prefix)
	if left, _ := Leftovers(tp.Config.Prefix); len(left) >= 2 {
		fmt.Println("BUILT")
	}
	if mode == "panic" {
		panic("deliberate panic")
	}
	t.Fatal("deliberate failure")
}

func TestCleanupAfterFailure(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	prefixRE := regexp.MustCompile(`(?m)^PREFIX=(\S+)$`)
	for _, mode := range []string{"fail", "panic"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperFailingTest$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), helperEnv+"="+mode)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("child: want a failing exit, got %v\n%s", err, out)
			}
			m := prefixRE.FindSubmatch(out)
			if m == nil || !strings.Contains(string(out), "BUILT") || !strings.Contains(string(out), "deliberate") {
				t.Fatalf("child did not build and fail:\n%s", out)
			}
			p := string(m[1])
			t.Cleanup(func() { _ = Cleanup(p) }) // in case the check below fails
			assertGone(t, p)
			if strings.Contains(string(out), "Close:") || strings.Contains(string(out), "left over") {
				t.Errorf("child teardown reported problems:\n%s", out)
			}
		})
	}
}

// TestIPv6 builds both modes with IPv6: in kernel mode the router forwards
// IPv6 (one hop: hop limit 63) both ways; in R2 mode the hosts have their
// addresses, default routes and link-local addresses, without DAD, and the
// router ends stay IPv6-less in the kernel.
func TestIPv6(t *testing.T) {
	requireRoot(t)
	t.Run("kernel", func(t *testing.T) {
		t.Parallel()
		tp := newTopo(t, Config{RouterNS: true, IPv6: true})
		if got := run(t, tp, tp.RouterNSName, "cat", "/proc/sys/net/ipv6/conf/all/forwarding"); got != "1" {
			t.Errorf("router ipv6 forwarding = %s, want 1", got)
		}
		if got := run(t, tp, tp.RouterNSName, "ip", "-6", "-o", "addr", "show", "dev", tp.RouterIfB); !strings.Contains(got, "inet6 2001:db8:2::2/64") {
			t.Errorf("router B addresses = %q", got)
		}
		r := mustPingOK(t, tp, tp.H1NS, tp.H2IP6.String(), 5)
		if !strings.Contains(r.Output, "ttl=63") {
			t.Errorf("h1->h2 IPv6 replies not forwarded once (want ttl=63):\n%s", r.Output)
		}
		mustPingOK(t, tp, tp.H2NS, tp.H1IP6.String(), 3)
		mustPingOK(t, tp, tp.H1NS, tp.RouterIP6A.String(), 2)
		// IPv4 is unchanged.
		mustPingOK(t, tp, tp.H1NS, tp.H2IP.String(), 2)
	})
	t.Run("r2", func(t *testing.T) {
		t.Parallel()
		tp := newTopo(t, Config{IPv6: true})
		for _, want := range []struct {
			ns, ifname string
			addr       netip.Addr
			ll         netip.Addr
		}{{tp.H1NS, tp.H1If, tp.H1IP6, tp.H1LL}, {tp.H2NS, tp.H2If, tp.H2IP6, tp.H2LL}} {
			if !want.ll.IsLinkLocalUnicast() {
				t.Errorf("%s link-local %v", want.ifname, want.ll)
			}
			got := run(t, tp, want.ns, "ip", "-6", "-o", "addr", "show", "dev", want.ifname)
			if !strings.Contains(got, "inet6 "+want.addr.String()+"/64") || !strings.Contains(got, "inet6 "+want.ll.String()+"/64") ||
				strings.Contains(got, "tentative") {
				t.Errorf("%s addresses = %q", want.ifname, got)
			}
			for key, v := range map[string]string{"accept_dad": "0", "router_solicitations": "0", "disable_ipv6": "0"} {
				if got := run(t, tp, want.ns, "cat", "/proc/sys/net/ipv6/conf/"+want.ifname+"/"+key); got != v {
					t.Errorf("%s %s = %s, want %s", want.ifname, key, got, v)
				}
			}
		}
		if got := run(t, tp, tp.H1NS, "ip", "-6", "route", "show", "default"); !strings.Contains(got, "via 2001:db8:1::2 dev "+tp.H1If) {
			t.Errorf("h1 IPv6 default route = %q", got)
		}
		for _, ifname := range []string{tp.RouterIfA, tp.RouterIfB} {
			if got := run(t, tp, "", "cat", "/proc/sys/net/ipv6/conf/"+ifname+"/disable_ipv6"); got != "1" {
				t.Errorf("%s disable_ipv6 = %s, want 1", ifname, got)
			}
		}
		if err := tp.AddHostAddr(tp.H2NS, "lo", "2001:db8:9::1/128"); err != nil {
			t.Fatal(err)
		}
		// Nothing answers for the gateway until R2 runs.
		mustPingFail(t, tp, tp.H1NS, tp.H2IP6.String())
	})
}
