//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/r2go/r2/r2/topo"
)

// TestScale measures the 64-byte forwarding rate with the interfaces
// served by one thread against N threads (--threads 0,...,N-1), for each
// driver in interleaved rounds: AF_PACKET's N threads share one fanout
// group (the steering program picks a flow's thread by its hash), AF_XDP's
// have one socket each on N-queue veths (1-queue veths for one thread).
// AF_XDP also runs one thread on the N-queue veths (a socket per queue,
// driven as one driver), against one thread on 1-queue veths the cost of
// serving several queues.
// trafgen in h1 floods 16 UDP flows (source ports 1000-1015) to 10.9.0.1,
// routed to h2, which drops them; the rate is R2's IfNode:<h2 side>/tx over
// the window. trafgen runs with --qdisc-path: its default qdisc bypass
// picks the veth's transmit queue (hence R2's receive queue) by the
// sender's CPU, which would put every flow on one queue; through the
// qdisc the flow hash picks it, as a NIC's RSS would. By default a short check (1 round of 1 s, N = 2) that only
// requires traffic through both setups and every thread receiving; the
// environment makes it a measurement:
//
//	R2E2E_SCALE_ROUNDS  rounds (1)
//	R2E2E_SCALE_SECONDS window of each setup (1)
//	R2E2E_SCALE_CPUS    -cpus of the N-thread setup, N = its length ("1,0");
//	                    the 1-thread setup takes the first
//	R2E2E_SCALE_GEN_CPU trafgen's CPU (0)
//	R2E2E_SCALE_DRIVERS drivers measured ("afpacket,afxdp")
func TestScale(t *testing.T) {
	for _, drv := range strings.Split(envStr("R2E2E_SCALE_DRIVERS", "afpacket,afxdp"), ",") {
		t.Run(drv, func(t *testing.T) { scale(t, drv) })
	}
}

// scale is TestScale for driver drv.
func scale(t *testing.T, drv string) {
	rounds, secs := envInt("R2E2E_SCALE_ROUNDS", 1), envInt("R2E2E_SCALE_SECONDS", 1)
	cpus := strings.Split(envStr("R2E2E_SCALE_CPUS", "1,0"), ",")
	gen := envStr("R2E2E_SCALE_GEN_CPU", "0")
	n := len(cpus)
	type setup struct{ threads, queues int }
	setups := []setup{{1, 1}, {n, 1}}
	if drv == "afxdp" {
		setups = []setup{{1, 1}, {n, n}, {1, n}}
	}
	name := func(s setup) string {
		return fmt.Sprintf("%d thread(s), %d queue(s)", s.threads, s.queues)
	}
	rates := map[setup][]float64{}
	for r := range rounds {
		for _, s := range setups {
			pps, per := scaleRun(t, drv, s.threads, s.queues, cpus[:s.threads], gen, time.Duration(secs)*time.Second)
			t.Logf("round %d, %s: %.0f pps delivered; frames received per thread %v", r, name(s), pps, per)
			if pps == 0 {
				t.Errorf("%s: nothing delivered", name(s))
			}
			for th, v := range per {
				if v == 0 {
					t.Errorf("%s: thread %d received nothing", name(s), th)
				}
			}
			rates[s] = append(rates[s], pps)
		}
	}
	med := func(v []float64) float64 { s := slices.Clone(v); slices.Sort(s); return s[len(s)/2] }
	base := med(rates[setups[0]])
	for _, s := range setups {
		t.Logf("%s: median %.0f pps %v; ratio to the first %.2f", name(s), med(rates[s]), rates[s], med(rates[s])/max(base, 1))
	}
}

// scaleRun builds a topology of veths with queues queues, starts R2 with
// threads threads pinned to cpus, floods for d and returns the delivered
// rate and the frames each thread received on the h1 side.
func scaleRun(t *testing.T, drv string, threads, queues int, cpus []string, genCPU string, d time.Duration) (float64, []uint64) {
	t.Helper()
	tp, err := topo.New(topo.Config{Queues: queues})
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	r2 := startR2(t, uniqueInstance(t), "-threads", strconv.Itoa(threads), "-cpus", strings.Join(cpus, ","))
	defer r2.stop(t)
	ths := make([]string, threads)
	for i := range ths {
		ths[i] = strconv.Itoa(i)
	}
	args := []string{"--driver", drv}
	if threads > 1 {
		args = append(args, "--threads", strings.Join(ths, ","))
	}
	attachAll(t, r2, tp, args...)
	r2.must(t, "r2rt", "route", "10.9.0.0/24", "10.2.0.1", tp.RouterIfB)
	pingOK(t, r2, tp, tp.H1NS, "10.2.0.1", 2)
	if show := r2.must(t, "r2intf", "show"); strings.Count(show, drv) != 2 {
		t.Fatalf("interfaces not on %s:\n%s", drv, show)
	}
	if drv == "afxdp" && queues > threads && !strings.Contains(r2.log.String(), ", queues 0,") {
		t.Fatalf("%d thread(s) on %d queues: the log names no queues of a thread:\n%s", threads, queues, r2.log.String())
	}
	defer startFlood(t, tp, genCPU, "--qdisc-path")()
	time.Sleep(300 * time.Millisecond) // ramp up
	tx := "IfNode:" + tp.RouterIfB + "/tx"
	rx := "IfNode:" + tp.RouterIfA + "/rx"
	c0 := r2.counters(t)
	start := time.Now()
	time.Sleep(d)
	c1 := r2.counters(t)
	el := time.Since(start).Seconds()
	per := r2.perThreadN(t, rx, threads)
	return float64(firstOf(c1[tx])-firstOf(c0[tx])) / el, per
}

// startFlood starts trafgen in h1 flooding 16 UDP flows (source ports
// 1000-1015) of 64-byte frames to 10.9.0.1 through R2's interface A, on
// CPU cpu ("": any), with extra trafgen flags; the returned func stops it
// (call it, or defer it: the test's end does not).
func startFlood(t *testing.T, tp *topo.Topology, cpu string, flags ...string) (stop func()) {
	t.Helper()
	return startFloodL4(t, tp, cpu, "udp(sp=dinc(1000, 1015), dp=9),\n  fill(0x00, 18)", flags...)
}

// startFloodL4 starts trafgen in h1 flooding frames to 10.9.0.1 through
// R2's interface A whose transport part (trafgen's syntax) is l4, on CPU
// cpu ("": any), with extra trafgen flags.
func startFloodL4(t *testing.T, tp *topo.Topology, cpu, l4 string, flags ...string) (stop func()) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "flood.trafgen")
	text := fmt.Sprintf("{\n  eth(da=%s, sa=%s, type=0x0800),\n  ipv4(saddr=%s, daddr=10.9.0.1, ttl=64),\n  %s\n}\n",
		tp.RouterMACA, tp.H1MAC, tp.H1IP, l4)
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"netns", "exec", tp.H1NS}
	if cpu != "" {
		args = append(args, "taskset", "-c", cpu)
	}
	args = append(args, "trafgen", "-o", tp.H1If, "-i", cfg, "-P", "1", "-Q", "--no-sock-mem", "-C")
	return startTrafgen(t, exec.Command("ip", append(args, flags...)...))
}

// perThreadN reads counter name's first value for threads 0..n-1.
func (d *daemon) perThreadN(t *testing.T, name string, n int) []uint64 {
	t.Helper()
	out := d.must(t, "r2cnt", "-json", "-t", name)
	var cs []struct {
		Name      string              `json:"name"`
		PerThread map[string][]uint64 `json:"per_thread"`
	}
	if err := json.Unmarshal([]byte(out), &cs); err != nil {
		t.Fatalf("r2cnt -json -t: %v\n%s", err, out)
	}
	v := make([]uint64, n)
	for _, c := range cs {
		if c.Name != name {
			continue
		}
		for i := range v {
			if x := c.PerThread[strconv.Itoa(i)]; len(x) > 0 {
				v[i] = x[0]
			}
		}
	}
	return v
}

func firstOf(v []uint64) uint64 {
	if len(v) == 0 {
		return 0
	}
	return v[0]
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func envStr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
