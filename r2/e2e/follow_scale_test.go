//go:build linux

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/r2go/r2/r2/api"
	"github.com/r2go/r2/r2/routedata"
)

// TestFollowScale: routes injected into the kernel with ip -batch while
// r2follow follows, then a steady stream of route changes. It reports the
// time from the kernel having the table to R2 having it, R2's RSS, and the
// follower's lag. By default it uses the first 50,000 prefixes of the tier1
// table and 2 s of churn; R2E2E_FULL_TABLE=1 uses the whole table
// (901,899 prefixes) and 10 s of churn.
func TestFollowScale(t *testing.T) {
	n, churnFor := 50000, 2*time.Second
	if os.Getenv("R2E2E_FULL_TABLE") == "1" {
		n, churnFor = 0, 10*time.Second
	}
	const churnRate = 10000 // changes per second
	path, err := routedata.Find()
	if err != nil {
		t.Fatal(err)
	}
	ps, err := routedata.LoadIPv4(path)
	if err != nil {
		t.Fatal(err)
	}
	if n > 0 && n < len(ps) {
		ps = ps[:n]
	}
	// The table's prefixes, without those the test's own subnet covers.
	own := netip.MustParsePrefix("10.1.0.0/24")
	kept := ps[:0]
	seen := map[netip.Prefix]bool{}
	for _, p := range ps {
		if !p.Overlaps(own) && !seen[p] {
			seen[p] = true
			kept = append(kept, p)
		}
	}
	ps = kept

	rig := startFollowRig(t)
	ns, pfx, d, fol, c, statsFile := rig.ns, rig.pfx, rig.d, rig.fol, rig.c, rig.stats
	ctx := context.Background()
	total := rig.total
	base := total()

	// The table into the kernel.
	batch := filepath.Join(t.TempDir(), "routes.batch")
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "route add %s via 10.1.0.1 dev %sra proto static\n", p, pfx)
	}
	if err := os.WriteFile(batch, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	sh(t, "ip", "-n", ns, "-batch", batch)
	kernelDone := time.Since(t0)
	for deadline := time.Now().Add(5 * time.Minute); total() < base+len(ps); {
		if time.Now().After(deadline) {
			t.Fatalf("R2 has %d of %d routes 5 min after the kernel\n%s", total()-base, len(ps), fol.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	r2Done := time.Since(t0)
	rss := rssMiB(t, d.cmd.Process.Pid)
	st := followStats(t, fol, statsFile)
	t.Logf("%d routes: kernel (ip -batch) %.2fs, R2 complete %.2fs after the start (%.2fs after the kernel); R2 RSS %.0f MiB; follower: %v netlink overflows (resynced), %v batches, max lag %.0f ms",
		len(ps), kernelDone.Seconds(), r2Done.Seconds(), (r2Done - kernelDone).Seconds(), rss, st["overflows"], st["batches"], st["max_lag_ms"])

	// Steady churn: churnRate route replacements a second, alternating
	// the next hop; then R2 must agree with the kernel.
	cmd := exec.Command("ip", "-n", ns, "-batch", "-")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(in)
	// Changes go to /24s: a lookup of the first address then finds the
	// changed prefix itself (checked below), not a more specific one.
	var churn []netip.Prefix
	for _, p := range ps {
		if p.Bits() == 24 {
			churn = append(churn, p)
		}
	}
	want := map[netip.Prefix]string{}
	const tick = 10 * time.Millisecond
	per := churnRate * int(tick) / int(time.Second)
	k := 0
	start := time.Now()
	for next := start; time.Since(start) < churnFor; next = next.Add(tick) {
		for range per {
			p := churn[k%len(churn)]
			nh := "10.1.0." + strconv.Itoa(3+(k/len(churn))%2)
			fmt.Fprintf(w, "route replace %s via %s dev %sra proto static\n", p, nh, pfx)
			want[p] = nh
			k++
		}
		w.Flush()
		time.Sleep(time.Until(next.Add(tick)))
	}
	last := churn[(k-1)%len(churn)]
	in.Close()
	sent := time.Now()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ip -batch: %v", err)
	}
	var endLag time.Duration
	for deadline := time.Now().Add(time.Minute); ; {
		e, err := c.Route.Lookup(ctx, last.Addr().String())
		if err == nil && e.Prefix == last.String() && e.Nexthop == want[last] {
			endLag = time.Since(sent)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("R2 never got the last change (%s via %s): %v %v", last, want[last], e, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	rate := float64(k) / churnFor.Seconds()
	st = followStats(t, fol, statsFile)
	bad, checked := 0, 0
	for p, nh := range want {
		e, err := c.Route.Lookup(ctx, p.Addr().String())
		switch {
		case err != nil:
			bad++
		case e.Prefix != p.String():
			continue // a more specific prefix covers the address
		case e.Nexthop != nh:
			bad++
		}
		checked++
	}
	t.Logf("churn: %d changes in %v (%.0f/s); R2 had the last one %v after it was written; follower last lag %.1f ms, max %.0f ms, overflows %v; %d of %d changed prefixes checked disagree with the kernel",
		k, churnFor, rate, endLag.Round(time.Millisecond), st["last_lag_ms"], st["max_lag_ms"], st["overflows"], bad, checked)
	if bad > 0 {
		t.Errorf("%d changed prefixes differ between R2 and the kernel", bad)
	}
}

// rssMiB is a process's resident set size.
func rssMiB(t *testing.T, pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// followStats asks r2follow for its statistics (SIGUSR1 writes the file).
func followStats(t *testing.T, p *proc, path string) map[string]any {
	t.Helper()
	os.Remove(path)
	p.cmd.Process.Signal(syscall.SIGUSR1)
	for deadline := time.Now().Add(30 * time.Second); ; {
		if b, err := os.ReadFile(path); err == nil {
			m := map[string]any{}
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("stats: %v\n%s", err, b)
			}
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("r2follow wrote no statistics\n%s", p.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// followRig is a namespace with one veth end (ra, 10.1.0.2/24) that R2
// forwards on and r2follow follows, and an API client.
type followRig struct {
	ns, pfx, stats string
	d              *daemon
	fol            *proc
	c              *api.Client
	total          func() int
}

func startFollowRig(t *testing.T, followArgs ...string) *followRig {
	t.Helper()
	pfx := fmt.Sprintf("fs%d", os.Getpid()%100000)
	ns := pfx + "-r"
	sh(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	sh(t, "ip", "-n", ns, "link", "add", pfx+"ra", "type", "veth", "peer", "name", pfx+"rq")
	sh(t, "ip", "-n", ns, "link", "set", pfx+"ra", "up")
	sh(t, "ip", "-n", ns, "link", "set", pfx+"rq", "up")
	sh(t, "ip", "-n", ns, "addr", "add", "10.1.0.2/24", "dev", pfx+"ra")

	inst := uniqueInstance(t)
	d := startR2In(t, ns, inst)
	statsFile := filepath.Join(t.TempDir(), "stats.json")
	fol := startProc(t, "r2follow", append([]string{"ip", "netns", "exec", ns, filepath.Join(bin, "r2follow"), "-i", inst, "-if", pfx + "ra",
		"-stats", statsFile, "-stats-every", "0"}, followArgs...)...)
	c, err := api.Dial("unix", api.SocketPath(inst), api.Options{SocketTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	total := func() int {
		pg, err := c.Route.Show(ctx, 0, 1)
		if err != nil {
			t.Fatalf("route show: %v", err)
		}
		return int(pg.Total)
	}
	// Wait for the follower to attach and mirror the address.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if infos, err := c.Interface.Show(ctx, pfx+"ra"); err == nil && len(infos) == 1 && len(infos[0].Addrs) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("r2follow did not attach %sra\n%s", pfx, fol.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &followRig{ns: ns, pfx: pfx, stats: statsFile, d: d, fol: fol, c: c, total: total}
}

// TestFollowOverflow: with a tiny netlink receive buffer a burst of route
// changes made while the follower is stopped overflows its socket
// (ENOBUFS); once it runs again it resyncs (dump, mark and sweep) and R2
// ends up with exactly the kernel's routes.
func TestFollowOverflow(t *testing.T) {
	rig := startFollowRig(t, "-rcvbuf", "4096")
	base := rig.total()
	path, err := routedata.Find()
	if err != nil {
		t.Fatal(err)
	}
	ps, err := routedata.LoadIPv4(path)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	n := 0
	for _, p := range ps[:30000] {
		if p.Bits() == 24 && !p.Overlaps(netip.MustParsePrefix("10.1.0.0/24")) {
			fmt.Fprintf(&b, "route replace %s via 10.1.0.1 dev %sra proto static\n", p, rig.pfx)
			n++
		}
	}
	// Then delete a third of them in the same burst.
	del := 0
	for i, p := range ps[:30000] {
		if i%3 == 0 && p.Bits() == 24 && !p.Overlaps(netip.MustParsePrefix("10.1.0.0/24")) {
			fmt.Fprintf(&b, "route del %s\n", p)
			del++
		}
	}
	batch := filepath.Join(t.TempDir(), "burst.batch")
	if err := os.WriteFile(batch, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// The follower is stopped for the burst, so its socket overflows
	// whatever the machine's speed: one that kept reading (a quiet moment
	// on the other CPU) once took all 21,890 changes through the 4 KiB
	// buffer, and the test tested nothing.
	if err := rig.fol.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	func() {
		defer rig.fol.cmd.Process.Signal(syscall.SIGCONT)
		sh(t, "ip", "-n", rig.ns, "-batch", batch)
	}()
	want := base + n - del
	for deadline := time.Now().Add(2 * time.Minute); rig.total() != want; {
		if time.Now().After(deadline) {
			t.Fatalf("R2 has %d routes, want %d\n%s", rig.total(), want, rig.fol.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	st := followStats(t, rig.fol, rig.stats)
	if st["overflows"].(float64) < 1 {
		t.Errorf("no netlink overflow with a 4 KiB buffer and a burst of %d changes: the test tests nothing", n+del)
	}
	t.Logf("burst of %d changes: %v overflows, R2 agrees with the kernel (%d routes); last resync sent %v routes in %.3fs",
		n+del, st["overflows"], want-base, st["last_resync_ops"], st["last_resync_s"])
	// R2 really has the kernel's set: a deleted and a kept prefix.
	for i, p := range ps[:30000] {
		if p.Bits() != 24 || p.Overlaps(netip.MustParsePrefix("10.1.0.0/24")) {
			continue
		}
		e, err := rig.c.Route.Lookup(context.Background(), p.Addr().String())
		if i%3 == 0 && err == nil && e.Prefix == p.String() {
			t.Errorf("deleted %s still in R2", p)
		}
		if i%3 != 0 && (err != nil || e.Prefix != p.String()) && (err != nil || netip.MustParsePrefix(e.Prefix).Bits() < 24) {
			t.Errorf("kept %s missing from R2: %v %v", p, e, err)
		}
	}
}

// startR2In runs r2 (one thread, and args) in namespace ns as instance inst
// and waits for its API socket.
func startR2In(t *testing.T, ns, inst string, args ...string) *daemon {
	t.Helper()
	d := &daemon{instance: inst, log: &syncBuf{}, done: make(chan error, 1)}
	d.cmd = exec.Command("ip", append([]string{"netns", "exec", ns, filepath.Join(bin, "r2"), "-i", inst, "-c", "/dev/null", "-threads", "1"}, args...)...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		if !d.stopped {
			d.stop(t)
		}
		if t.Failed() {
			t.Logf("r2 log:\n%s", d.log.String())
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("unix", api.SocketPath(inst)); err == nil {
			c.Close()
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("r2 did not start\n%s", d.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFollowR2Restart: R2 restarts under the follower (it loses its
// state); the follower notices, reconnects and programs the new instance
// with the interfaces, addresses and routes the kernel has.
func TestFollowR2Restart(t *testing.T) {
	rig := startFollowRig(t)
	var b strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&b, "route add 20.%d.%d.0/24 via 10.1.0.1 dev %sra proto static\n", i>>8, i&255, rig.pfx)
	}
	batch := filepath.Join(t.TempDir(), "routes.batch")
	if err := os.WriteFile(batch, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	sh(t, "ip", "-n", rig.ns, "-batch", batch)
	base := rig.total()
	for deadline := time.Now().Add(30 * time.Second); rig.total() < 1000; {
		if time.Now().After(deadline) {
			t.Fatalf("R2 has %d routes", rig.total())
		}
		time.Sleep(20 * time.Millisecond)
	}
	base = rig.total()
	rig.d.stop(t)
	rig.c.Close()
	t0 := time.Now()
	d2 := startR2In(t, rig.ns, rig.d.instance)
	c, err := api.Dial("unix", api.SocketPath(d2.instance), api.Options{SocketTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for deadline := time.Now().Add(30 * time.Second); ; {
		pg, err := c.Route.Show(context.Background(), 0, 1)
		if err == nil && int(pg.Total) == base {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted R2 has %v routes (%v), want %d\n%s", pg, err, base, rig.fol.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	infos, err := c.Interface.Show(context.Background(), rig.pfx+"ra")
	if err != nil || len(infos) != 1 || !infos[0].HostOwned {
		t.Errorf("restarted R2's interface: %v %v", infos, err)
	}
	st := followStats(t, rig.fol, rig.stats)
	t.Logf("R2 restarted: the follower reprogrammed it (%d routes) %v after the new instance started; reconnects %v, R2 resyncs %v",
		base, time.Since(t0).Round(time.Millisecond), st["reconnects"], st["r2_resyncs"])
}
