//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// procCPU is the CPU time used so far by every thread of process pid
// (the first field of each thread's schedstat, in ns): the forwarding
// threads, the Go runtime's own (sysmon, GC workers) and the API's.
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	files, err := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/schedstat")
	if err != nil || len(files) == 0 {
		t.Fatalf("schedstat of pid %d: %v", pid, err)
	}
	var sum time.Duration
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // a thread that exited since the glob
		}
		fs := strings.Fields(string(b))
		if len(fs) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil {
			t.Fatalf("%s: %q", f, b)
		}
		sum += time.Duration(ns)
	}
	return sum
}

// An idle r2 (two threads, an interface each, the default spin after
// forwarding) sleeps: over 3 s without traffic the whole process uses
// well under 20% of one CPU, its threads wait in epoll a few times a
// second, and its API still answers. The bound only fails if something
// spins; the figures are logged (the README's idle CPU figure).
func TestIdleCPU(t *testing.T) {
	const window = 3 * time.Second
	tp := newTopo(t)
	d := startR2(t, uniqueInstance(t), "-threads", "2")
	attach(t, d, tp, 0, 1)
	pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 5)
	// Past the warm period after the pings (warm_ms, 2 s by default),
	// during which the threads sleep in short slices.
	time.Sleep(2200 * time.Millisecond)
	pid := d.cmd.Process.Pid
	c0 := d.counters(t)
	cpu0 := procCPU(t, pid)
	time.Sleep(window)
	cpu := procCPU(t, pid) - cpu0
	c1 := d.counters(t)
	delta := func(name string) uint64 {
		if len(c0[name]) == 0 || len(c1[name]) == 0 {
			t.Fatalf("no counter %s", name)
		}
		return c1[name][0] - c0[name][0]
	}
	waits, runs := delta("Thread/epoll_waits"), delta("Thread/runs")
	yields, raw := delta("Thread/warm_yields"), delta("Thread/raw_waits")
	t.Logf("idle r2 over %v: CPU %v (%.2f%% of one CPU), %d epoll waits (%d of them raw, warm), %d graph runs and %d warm yields (2 threads)",
		window, cpu, 100*float64(cpu)/float64(window), waits, raw, runs, yields)
	if cpu > window/5 {
		t.Errorf("idle r2 used %v of CPU in %v", cpu, window)
	}
	// A warm thread (warm_ms after a packet: an ARP or ND from a host
	// re-warms it) waits every 4 ms: at most 1,500 waits for two threads
	// in 3 s; a spinning one waits or runs hundreds of thousands of times.
	if waits > 2000 || runs > 20000 {
		t.Errorf("idle r2's threads waited %d times and ran their graphs %d times in %v: they spin", waits, runs, window)
	}
	// A warm thread passes through the Go scheduler at most every 5 ms:
	// 1,200 for two threads warm all along; more is a yield per run.
	if yields > 1200 {
		t.Errorf("idle r2's threads yielded %d times in %v", yields, window)
	}
	d.must(t, "r2intf", "show")
}
