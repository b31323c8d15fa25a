//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/r2go/r2/r2/api"
)

// neighJSON is one entry of r2intf neigh show -json.
type neighJSON struct {
	Ifname string `json:"ifname"`
	Addr   string `json:"addr"`
	MAC    string `json:"mac"`
	Kind   string `json:"kind"`
	State  string `json:"state"`
	AgeMs  int64  `json:"age_ms"`
}

// r2Neigh is R2's neighbour addr (r2intf neigh show -json), ok false if
// it has none.
func r2Neigh(t *testing.T, d *daemon, addr string) (neighJSON, bool) {
	t.Helper()
	var ns []neighJSON
	if err := json.Unmarshal([]byte(d.must(t, "r2intf", "neigh", "show", "-json")), &ns); err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if n.Addr == addr {
			return n, true
		}
	}
	return neighJSON{}, false
}

// waitNeigh polls until R2's neighbour addr satisfies ok and returns how
// long that took.
func waitNeigh(t *testing.T, d *daemon, addr string, timeout time.Duration, what string, ok func(neighJSON, bool) bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		n, has := r2Neigh(t, d, addr)
		if ok(n, has) {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("R2's neighbour %s after %v: %+v (present %v); want %s", addr, timeout, n, has, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFollowNeighbours: the follower mirrors the kernel's neighbours into
// R2. The host behind rb has ARP off, so R2 cannot resolve it and nothing
// is forwarded to it; a permanent neighbour entry in the router's kernel
// shows in R2 (kind kernel) within a second, and R2 forwards to it at
// once without ever asking; deleting it removes it from R2. A route through
// a gateway the kernel has no neighbour for makes the follower ask the
// kernel to resolve it (NTF_USE), and the kernel's answer reaches R2.
func TestFollowNeighbours(t *testing.T) {
	pfx := fmt.Sprintf("fn%d", os.Getpid()%100000)
	p, r, h := bgpTopo(t, pfx)
	inst := uniqueInstance(t)
	d := &daemon{instance: inst, log: &syncBuf{}, done: make(chan error, 1)}
	d.cmd = exec.Command("ip", "netns", "exec", r, filepath.Join(bin, "r2"), "-i", inst, "-c", "/dev/null", "-threads", "1")
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
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(api.SocketPath(inst)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("r2 did not start\n%s", d.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	ra, rb, hb := pfx+"ra", pfx+"rb", pfx+"hb"
	fol := startProc(t, "r2follow", "ip", "netns", "exec", r, filepath.Join(bin, "r2follow"), "-i", inst, "-if", ra+","+rb, "-stats-every", "0")
	waitRoute(t, d, "10.2.0.1", true, 10*time.Second) // rb and its address are in R2

	// H stops answering ARP; it knows R2's MAC statically.
	macOf := func(ns, ifname string) string {
		return strings.TrimSpace(sh(t, "ip", "netns", "exec", ns, "cat", "/sys/class/net/"+ifname+"/address"))
	}
	macRB, macHB := macOf(r, rb), macOf(h, hb)
	sh(t, "ip", "-n", h, "link", "set", "dev", hb, "arp", "off")
	sh(t, "ip", "-n", h, "neigh", "replace", "10.2.0.2", "lladdr", macRB, "nud", "permanent", "dev", hb)
	ping := func(n int) int {
		out, _ := exec.Command("ip", "netns", "exec", p, "ping", "-c", fmt.Sprint(n), "-i", "0.05", "-W", "1", "10.2.0.1").CombinedOutput()
		var sent, recv int
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "packets transmitted") {
				fmt.Sscanf(l, "%d packets transmitted, %d received", &sent, &recv)
			}
		}
		return recv
	}
	if got := ping(3); got != 0 {
		t.Fatalf("ping of a host with ARP off through R2: %d replies before R2 knows its MAC", got)
	}
	if d.counter(t, "EtherEncap:"+rb+"/arp_requests_sent") == 0 {
		t.Fatal("R2 did not try to resolve the host")
	}

	// The kernel learns it (as a routing daemon's host would): R2 has it
	// within a second, as a kernel neighbour.
	t0 := time.Now()
	sh(t, "ip", "-n", r, "neigh", "replace", "10.2.0.1", "lladdr", macHB, "nud", "permanent", "dev", rb)
	took := waitNeigh(t, d, "10.2.0.1", 5*time.Second, "kind kernel at "+macHB, func(n neighJSON, ok bool) bool {
		return ok && n.Kind == "kernel" && n.State == "static" && n.MAC == macHB && n.Ifname == rb
	})
	t.Logf("kernel neighbour in R2 %v after ip neigh replace (%v polling)", time.Since(t0).Round(time.Millisecond), took.Round(time.Millisecond))
	if time.Since(t0) > time.Second {
		t.Errorf("kernel neighbour reached R2 after %v; want under 1 s", time.Since(t0))
	}
	asked := d.counter(t, "EtherEncap:"+rb+"/arp_requests_sent")
	if got := ping(10); got < 9 {
		t.Fatalf("ping through R2 with the kernel's neighbour: %d/10 replies", got)
	}
	if now := d.counter(t, "EtherEncap:"+rb+"/arp_requests_sent"); now != asked {
		t.Errorf("R2 sent %d ARP requests for a neighbour the kernel gave it", now-asked)
	}

	// Deleted in the kernel: gone from R2, and forwarding stops.
	t0 = time.Now()
	sh(t, "ip", "-n", r, "neigh", "del", "10.2.0.1", "dev", rb)
	waitNeigh(t, d, "10.2.0.1", 5*time.Second, "no kernel entry", func(n neighJSON, ok bool) bool { return !ok || n.Kind != "kernel" })
	t.Logf("deleted kernel neighbour left R2 %v after ip neigh del", time.Since(t0).Round(time.Millisecond))
	if time.Since(t0) > time.Second {
		t.Errorf("deleted kernel neighbour left R2 after %v; want under 1 s", time.Since(t0))
	}
	if got := ping(3); got != 0 {
		t.Errorf("ping after the neighbour was deleted: %d replies", got)
	}

	// A route through a gateway the router's kernel has never talked to:
	// the follower asks the kernel to resolve it, and the answer (P
	// answers ARP) reaches R2 as a kernel neighbour.
	sh(t, "ip", "-n", p, "addr", "add", "10.1.0.9/24", "dev", pfx+"pa")
	if s := sh(t, "ip", "-n", r, "neigh", "show", "10.1.0.9"); strings.TrimSpace(s) != "" {
		t.Fatalf("the router's kernel already has 10.1.0.9: %s", s)
	}
	t0 = time.Now()
	sh(t, "ip", "-n", r, "route", "add", "198.18.0.0/24", "via", "10.1.0.9", "dev", ra, "proto", "static")
	waitNeigh(t, d, "10.1.0.9", 5*time.Second, "a kernel entry", func(n neighJSON, ok bool) bool { return ok && n.Kind == "kernel" && n.MAC != "" })
	t.Logf("gateway resolved by the kernel on request and in R2 %v after the route was added: %s",
		time.Since(t0).Round(time.Millisecond), strings.TrimSpace(sh(t, "ip", "-n", r, "neigh", "show", "10.1.0.9")))
	t.Logf("r2intf neigh show:\n%s", d.must(t, "r2intf", "neigh", "show"))
	// The follower's statistics say it asked (SIGUSR1 logs them).
	fol.cmd.Process.Signal(syscall.SIGUSR1)
	var stats struct {
		Resolves uint64 `json:"neigh_resolves"`
		Added    uint64 `json:"neigh_added"`
		Deleted  uint64 `json:"neigh_deleted"`
	}
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		if i := strings.LastIndex(fol.log.String(), "stats {"); i >= 0 {
			line, _, _ := strings.Cut(fol.log.String()[i+len("stats "):], "\n")
			if err := json.Unmarshal([]byte(line), &stats); err != nil {
				t.Fatalf("stats %q: %v", line, err)
			}
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("r2follow wrote no statistics after SIGUSR1")
		}
	}
	if stats.Resolves == 0 || stats.Added < 2 || stats.Deleted < 1 {
		t.Errorf("r2follow statistics: %+v; want resolves, 2 additions, a deletion", stats)
	}
	t.Logf("r2follow: %+v", stats)
	if fol.stop() > 5*time.Second {
		t.Error("r2follow slow to stop")
	}
	if t.Failed() {
		t.Logf("r2follow log:\n%s", fol.log.String())
	}
}
