//go:build linux

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/logs"
	"github.com/r2go/r2/r2/api"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/topo"
)

// TestSoak runs the real daemon (two threads, one interface each) for
// R2_SOAK_DURATION (default 5m) under a TCP flow (iperf3, in bursts), a
// steady ping h1->h2 and a churn loop driving the utilities: bulk route
// loads and deletes, single routes, addresses, extra interfaces attached,
// flapped (link down/up), deleted from Linux while attached and recreated,
// logs and counters. Every 10 s it samples the daemon's RSS, fds, threads,
// its answer time and counters. It runs only with R2_SOAK=1:
//
//	R2_SOAK=1 R2_SOAK_DURATION=6m go test ./r2/e2e -run TestSoak -v -timeout 30m
func TestSoak(t *testing.T) {
	if os.Getenv("R2_SOAK") != "1" {
		t.Skip("soak test: set R2_SOAK=1 to run it (R2_SOAK_DURATION=5m by default)")
	}
	dur := 5 * time.Minute
	if s := os.Getenv("R2_SOAK_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("R2_SOAK_DURATION: %v", err)
		}
		dur = d
	}
	if _, err := exec.LookPath("iperf3"); err != nil {
		t.Fatalf("iperf3 not installed (Debian: iperf3; make test installs it): %v", err)
	}

	tp := newTopo(t)
	inst := uniqueInstance(t)
	d := startR2(t, inst, "-threads", "2")
	pid := d.cmd.Process.Pid
	attach(t, d, tp, 0, 1)
	pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 5)

	// Extra veth pairs in the root namespace: x (flapped, attached and
	// detached) and p (deleted from Linux while attached, recreated).
	pre := tp.Config.Prefix
	extraX, peerX := pre+"-x", pre+"-y"
	extraP, peerP := pre+"-p", pre+"-q"
	mkVeth := func(a, b string) error {
		if out, err := exec.Command("ip", "link", "add", a, "type", "veth", "peer", "name", b).CombinedOutput(); err != nil {
			return fmt.Errorf("veth %s: %v %s", a, err, out)
		}
		for _, l := range []string{a, b} {
			exec.Command("sysctl", "-qw", "net.ipv6.conf."+l+".disable_ipv6=1").Run()
			exec.Command("ip", "link", "set", l, "up").Run()
		}
		return nil
	}
	for _, v := range [][2]string{{extraX, peerX}, {extraP, peerP}} {
		if err := mkVeth(v[0], v[1]); err != nil {
			t.Fatal(err)
		}
		name := v[0]
		t.Cleanup(func() { exec.Command("ip", "link", "del", name).Run() })
	}

	// A route file: 3000 /24s in 172.16.0.0/12 via h2.
	dir := t.TempDir()
	routeFile := filepath.Join(dir, "routes.txt")
	var rb bytes.Buffer
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&rb, "172.%d.%d.0/24 10.2.0.1 %s\n", 16+i/256, i%256, tp.RouterIfB)
	}
	if err := os.WriteFile(routeFile, rb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	// runT is d.run with a timeout: a utility that does not return within
	// it means the daemon hangs.
	var hangs atomic.Int64
	runT := func(timeout time.Duration, tool string, args ...string) (string, string, int, time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(bin, tool), append([]string{"-i", inst}, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		start := time.Now()
		err := cmd.Run()
		took := time.Since(start)
		code := 0
		if ctx.Err() != nil {
			hangs.Add(1)
			return out.String(), errb.String() + " TIMEOUT", -2, took
		}
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			code = -1
			errb.WriteString(err.Error())
		}
		return out.String(), errb.String(), code, took
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	t0 := time.Now()
	end := t0.Add(dur)

	// ---- iperf3: 20 s of TCP every 40 s, server in h2.
	type span struct{ from, to time.Time }
	var spansMu sync.Mutex
	var tcpSpans []span
	var iperfRes []string
	srv := tp.Exec(tp.H2NS, "iperf3", "-s", "-p", "5201")
	var srvOut syncBuf
	srv.Stdout, srv.Stderr = &srvOut, &srvOut
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	time.Sleep(300 * time.Millisecond)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Second):
			}
			if time.Until(end) < 25*time.Second {
				return
			}
			from := time.Now()
			out, err := tp.Exec(tp.H1NS, "iperf3", "-c", "10.2.0.1", "-p", "5201", "-t", "20", "-J").Output()
			to := time.Now()
			spansMu.Lock()
			tcpSpans = append(tcpSpans, span{from, to})
			spansMu.Unlock()
			var j struct {
				End struct {
					SumSent struct {
						Bps         float64 `json:"bits_per_second"`
						Retransmits int     `json:"retransmits"`
					} `json:"sum_sent"`
					SumReceived struct {
						Bps float64 `json:"bits_per_second"`
					} `json:"sum_received"`
				} `json:"end"`
				Error string `json:"error"`
			}
			r := fmt.Sprintf("t+%3.0fs ", from.Sub(t0).Seconds())
			if jerr := json.Unmarshal(out, &j); jerr != nil || err != nil || j.Error != "" {
				r += fmt.Sprintf("iperf3 FAILED: %v %v %s", err, jerr, j.Error)
			} else {
				r += fmt.Sprintf("%.0f Mbit/s received, %d retransmits", j.End.SumReceived.Bps/1e6, j.End.SumSent.Retransmits)
			}
			spansMu.Lock()
			iperfRes = append(iperfRes, r)
			spansMu.Unlock()
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Second):
			}
		}
	}()

	// ---- ping h1->h2: segments of 250 pings at 20 ms.
	type pingSeg struct {
		from, to time.Time
		res      topo.PingResult
		err      error
	}
	var pingMu sync.Mutex
	var pings []pingSeg
	wg.Add(1)
	go func() {
		defer wg.Done()
		for time.Until(end) > 6*time.Second {
			from := time.Now()
			r, err := tp.Ping(tp.H1NS, "10.2.0.1", 250, 20*time.Millisecond)
			pingMu.Lock()
			pings = append(pings, pingSeg{from, time.Now(), r, err})
			pingMu.Unlock()
		}
	}()

	// ---- churn.
	var churnMu sync.Mutex
	opCount := map[string]int{}
	opFail := map[string]int{}
	var failMsgs []string
	var slowest time.Duration
	var slowestOp string
	op := func(name string, wantOK bool, tool string, args ...string) (string, int) {
		out, errs, code, took := runT(30*time.Second, tool, args...)
		churnMu.Lock()
		defer churnMu.Unlock()
		opCount[name]++
		if took > slowest {
			slowest, slowestOp = took, name
		}
		if wantOK && code != 0 {
			opFail[name]++
			if len(failMsgs) < 40 {
				failMsgs = append(failMsgs, fmt.Sprintf("t+%.0fs %s %s: exit %d %s", time.Since(t0).Seconds(), tool, strings.Join(args, " "), code, strings.TrimSpace(errs)))
			}
		}
		return out, code
	}
	vanishedWaitFail := 0
	// counterOf reads one counter without t.Fatal (it runs in goroutines).
	counterOf := func(name string) uint64 {
		out, _, code, _ := runT(10*time.Second, "r2cnt", "-json")
		if code != 0 {
			return 0
		}
		var cs []struct {
			Name  string   `json:"name"`
			Total []uint64 `json:"total"`
		}
		json.Unmarshal([]byte(out), &cs)
		for _, c := range cs {
			if c.Name == name {
				return first(c.Total)
			}
		}
		return 0
	}
	var iterations atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			iterations.Store(int64(i + 1))
			th := strconv.Itoa(i % 2)
			// Bulk routes in and out.
			op("load", true, "r2rt", "load", routeFile)
			if out, _ := op("show", true, "r2rt", "show", "172.20.5.9"); !strings.Contains(out, "172.20.5.0/24") {
				churnMu.Lock()
				failMsgs = append(failMsgs, "r2rt show 172.20.5.9 after load: "+strings.TrimSpace(out))
				churnMu.Unlock()
			}
			op("load --del", true, "r2rt", "load", routeFile, "--del")
			// Single routes and an extra address on a live interface.
			op("route", true, "r2rt", "route", "192.0.2.0/24", "10.2.0.1", tp.RouterIfB)
			op("ip add", true, "r2intf", tp.RouterIfA, "ip", "10.1.5.2/24")
			op("route --del", true, "r2rt", "route", "192.0.2.0/24", "10.2.0.1", tp.RouterIfB, "--del")
			op("ip --del", true, "r2intf", tp.RouterIfA, "ip", "10.1.5.2/24", "--del")
			// Extra interface x: attach, address, route, flap, detach.
			op("x add", true, "r2intf", extraX, "add", "auto", "--thread", th)
			op("x ip", true, "r2intf", extraX, "ip", "10.3.0.2/24")
			op("x route", true, "r2rt", "route", "198.51.100.0/24", "10.3.0.1", extraX)
			exec.Command("ip", "link", "set", extraX, "down").Run()
			op("show", true, "r2intf", "show")
			exec.Command("ip", "link", "set", extraX, "up").Run()
			op("x route --del", true, "r2rt", "route", "198.51.100.0/24", "10.3.0.1", extraX, "--del")
			op("x del", true, "r2intf", extraX, "del")
			// Extra interface p: attach, then delete it from Linux.
			before := counterOf(names.Counter(names.Control, names.IntfVanished))
			op("p add", true, "r2intf", extraP, "add", "auto", "--thread", th)
			op("p ip", true, "r2intf", extraP, "ip", "10.4.0.2/24")
			exec.Command("ip", "link", "del", extraP).Run()
			deadline := time.Now().Add(5 * time.Second)
			for counterOf(names.Counter(names.Control, names.IntfVanished)) == before {
				if time.Now().After(deadline) {
					churnMu.Lock()
					vanishedWaitFail++
					churnMu.Unlock()
					op("p del (not vanished)", false, "r2intf", extraP, "del")
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := mkVeth(extraP, peerP); err != nil {
				churnMu.Lock()
				failMsgs = append(failMsgs, err.Error())
				churnMu.Unlock()
			}
			// Logs and counters.
			op("log enable", true, "r2log", "enable")
			tp.Exec(tp.H1NS, "ping", "-n", "-c", "1", "-W", "1", "203.0.113.5").Run()
			op("log show", true, "r2log", "show", "-n", "50")
			op("log clear", true, "r2log", "clear")
			op("log disable", true, "r2log", "disable")
			op("cnt", true, "r2cnt", "-json")
		}
	}()

	// ---- sampler.
	type sample struct {
		at                time.Duration
		rss, fds, thr     int
		showTook          time.Duration
		showOK            bool
		intfVanished, fwd uint64
		kdrops, noBufs    uint64
		poolish           map[string]uint64
	}
	var samples []sample
	poolRE := regexp.MustCompile(`(?i)pool|nobuf|no_buf|alloc|free|in_?flight|exhaust`)
	readSample := func() sample {
		s := sample{at: time.Since(t0), poolish: map[string]uint64{}}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				f := strings.Fields(l)
				if len(f) >= 2 && f[0] == "VmRSS:" {
					s.rss, _ = strconv.Atoi(f[1])
				}
				if len(f) >= 2 && f[0] == "Threads:" {
					s.thr, _ = strconv.Atoi(f[1])
				}
			}
		}
		if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
			s.fds = len(ents)
		}
		_, _, code, took := runT(10*time.Second, "r2intf", "show")
		s.showOK, s.showTook = code == 0, took
		out, _, code, _ := runT(10*time.Second, "r2cnt", "-json")
		if code == 0 {
			var cs []struct {
				Name  string   `json:"name"`
				Total []uint64 `json:"total"`
			}
			if json.Unmarshal([]byte(out), &cs) == nil {
				for _, c := range cs {
					v := first(c.Total)
					switch {
					case c.Name == names.Counter(names.Control, names.IntfVanished):
						s.intfVanished = v
					case c.Name == "IPv4Fwd/forwarded":
						s.fwd = v
					case strings.HasSuffix(c.Name, "/"+driver.DrvKernelDrops):
						s.kdrops += v
					}
					if poolRE.MatchString(c.Name) {
						s.poolish[c.Name] = v
						if strings.Contains(strings.ToLower(c.Name), "nobuf") || strings.Contains(c.Name, "no_buf") {
							s.noBufs += v
						}
					}
				}
			}
		}
		return s
	}
	samples = append(samples, readSample())
	crashed := false
	for time.Now().Before(end) {
		select {
		case err := <-d.done:
			t.Errorf("r2 exited during the soak: %v", err)
			d.done <- err
			crashed = true
		case <-time.After(10 * time.Second):
		}
		if crashed {
			break
		}
		s := readSample()
		samples = append(samples, s)
		t.Logf("t+%4.0fs rss=%6d KiB fds=%3d threads=%2d show=%v(%v) vanished=%d fwd=%d kdrops=%d",
			s.at.Seconds(), s.rss, s.fds, s.thr, s.showOK, s.showTook.Round(time.Millisecond), s.intfVanished, s.fwd, s.kdrops)
	}
	close(stop)
	waitDone := make(chan struct{})
	go func() { wg.Wait(); close(waitDone) }()
	select {
	case <-waitDone:
	case <-time.After(90 * time.Second):
		t.Errorf("workers did not stop within 90 s (hang?)")
	}

	// ---- report.
	if len(samples) > 0 {
		keys := []string{}
		for k := range samples[len(samples)-1].poolish {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		t.Logf("pool-like counters at the end: %d", len(keys))
		for _, k := range keys {
			t.Logf("  %s: start %d end %d", k, samples[0].poolish[k], samples[len(samples)-1].poolish[k])
		}
	}
	spansMu.Lock()
	for _, r := range iperfRes {
		t.Logf("iperf3 %s", r)
	}
	overlapsTCP := func(a, b time.Time) bool {
		for _, s := range tcpSpans {
			if a.Before(s.to) && s.from.Before(b) {
				return true
			}
		}
		return false
	}
	spansMu.Unlock()
	pingMu.Lock()
	var quietTx, quietRx, tcpTx, tcpRx, pingErrs int
	for _, p := range pings {
		tag := "quiet"
		if overlapsTCP(p.from, p.to) {
			tag = "tcp"
			tcpTx += p.res.Transmitted
			tcpRx += p.res.Received
		} else {
			quietTx += p.res.Transmitted
			quietRx += p.res.Received
		}
		if p.err != nil {
			pingErrs++
		}
		t.Logf("ping t+%3.0fs %-5s %d/%d received avg %v p99 %v max %v err=%v", p.from.Sub(t0).Seconds(), tag,
			p.res.Received, p.res.Transmitted, p.res.Avg, p.res.Percentile(99), p.res.Max, p.err)
	}
	pingMu.Unlock()
	t.Logf("ping without TCP (churn only): %d/%d received, lost %d", quietRx, quietTx, quietTx-quietRx)
	t.Logf("ping with TCP flow + churn:     %d/%d received, lost %d", tcpRx, tcpTx, tcpTx-tcpRx)
	churnMu.Lock()
	ops := []string{}
	for k := range opCount {
		ops = append(ops, k)
	}
	sort.Strings(ops)
	t.Logf("churn: %d iterations, slowest utility call %v (%s), utility timeouts %d, vanish-wait failures %d", iterations.Load(), slowest.Round(time.Millisecond), slowestOp, hangs.Load(), vanishedWaitFail)
	for _, k := range ops {
		t.Logf("  %-22s %5d calls %3d failed", k, opCount[k], opFail[k])
	}
	for _, m := range failMsgs {
		t.Logf("  FAIL %s", m)
	}
	churnMu.Unlock()
	if len(samples) >= 2 {
		a, z := samples[0], samples[len(samples)-1]
		// Warm-up: compare the sample at ~1/4 of the run with the end.
		w := samples[len(samples)/4]
		maxRSS, maxFD := 0, 0
		for _, s := range samples {
			maxRSS, maxFD = max(maxRSS, s.rss), max(maxFD, s.fds)
		}
		t.Logf("RSS KiB start %d warm %d end %d max %d; fds start %d warm %d end %d max %d; threads start %d end %d",
			a.rss, w.rss, z.rss, maxRSS, a.fds, w.fds, z.fds, maxFD, a.thr, z.thr)
		if z.fds > w.fds+4 {
			t.Errorf("fd count grew after warm-up: %d -> %d", w.fds, z.fds)
		}
		if z.rss > w.rss+w.rss/5+8192 {
			t.Errorf("RSS grew after warm-up: %d -> %d KiB", w.rss, z.rss)
		}
	}
	if crashed {
		t.Fatalf("daemon crashed; log:\n%s", d.log.String())
	}
	if hangs.Load() > 0 {
		t.Errorf("%d utility calls timed out", hangs.Load())
	}
	if quietTx-quietRx > 0 {
		t.Errorf("ping lost %d/%d without a TCP flow (churn on other interfaces/routes only)", quietTx-quietRx, quietTx)
	}
	if pingErrs > 0 {
		t.Errorf("%d ping segments failed to run", pingErrs)
	}

	// The router still forwards; SIGTERM stops it quickly and cleanly.
	pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 20)
	took := d.stop(t)
	t.Logf("SIGTERM: exited in %v", took.Round(time.Millisecond))
	if took > time.Second {
		t.Errorf("r2 took %v to stop", took)
	}
	for _, p := range []string{api.SocketPath(inst), counters.InstancePath(inst), logs.InstancePath(inst)} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left behind", p)
		}
	}
	log := d.log.String()
	if strings.Contains(strings.ToLower(log), "panic") || strings.Contains(log, "fatal error") || strings.Contains(log, "DATA RACE") {
		t.Errorf("daemon log has a panic/fatal error:\n%s", log)
	}
	lines := strings.Split(strings.TrimSpace(log), "\n")
	t.Logf("daemon log: %d lines; last ones:", len(lines))
	for _, l := range lines[max(0, len(lines)-25):] {
		t.Logf("  | %s", l)
	}
	if os.Getenv("R2_SOAK_LOG") != "" {
		os.WriteFile(os.Getenv("R2_SOAK_LOG"), []byte(log), 0o644)
	}
}
