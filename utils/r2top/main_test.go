package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/api"
	"github.com/r2go/r2/r2/api/apitest"
)

// rtFile makes a counters file with runtime counters for two nodes on two
// threads and returns a function that adds to them.
func rtFile(t *testing.T) (string, func(node string, thread int, calls, pkts, ns uint64)) {
	path := filepath.Join(t.TempDir(), "cnt")
	reg, err := counters.Create(path, counters.Sizes{Entries: 64, Names: 4096, Values: 256})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Remove() })
	cs := map[string]counters.Counter{}
	for _, n := range []string{"IPv4Fwd", "L3Parse"} {
		for th := 0; th < 2; th++ {
			for _, w := range []string{"rt_calls", "rt_pkts", "rt_ns", "enq"} {
				cs[n+w+string(rune('0'+th))] = reg.Counter(th, n+"/"+w)
			}
		}
	}
	return path, func(node string, th int, calls, pkts, ns uint64) {
		s := string(rune('0' + th))
		cs[node+"rt_calls"+s].Add(calls)
		cs[node+"rt_pkts"+s].Add(pkts)
		cs[node+"rt_ns"+s].Add(ns)
	}
}

func runTop(t *testing.T, args ...string) (int, string, string) {
	var o, e strings.Builder
	code := run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestIntervalJSON(t *testing.T) {
	path, add := rtFile(t)
	add("IPv4Fwd", 0, 1000, 1000, 999_999) // before: not in the interval
	sleep = func(time.Duration) {
		add("IPv4Fwd", 0, 10, 2560, 102400)
		add("IPv4Fwd", 1, 10, 2560, 51200)
		add("L3Parse", 1, 5, 1280, 12800)
	}
	t.Cleanup(func() { sleep = time.Sleep })
	code, out, errOut := runTop(t, "-f", path, "-n", "1", "-d", "0.5", "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if len(r.Rows) != 2 || r.Rows[0].Node != "IPv4Fwd" || r.Rows[0].Pkts != 5120 || r.Rows[0].Calls != 20 ||
		r.Rows[0].Ns != 153600 || r.Rows[0].NsPerPkt != 30 || r.Rows[0].VecPerCall != 256 ||
		r.Rows[1].Node != "L3Parse" || r.Rows[1].NsPerPkt != 10 {
		t.Errorf("report %+v", r)
	}
	// Per thread: three rows, sorted by time.
	code, out, _ = runTop(t, "-f", path, "-n", "1", "-json", "-t")
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || len(r.Rows) != 3 || *r.Rows[0].Thread != 0 || *r.Rows[1].Thread != 1 {
		t.Errorf("per thread: %s", out)
	}
}

func TestTable(t *testing.T) {
	path, add := rtFile(t)
	sleep = func(time.Duration) { add("L3Parse", 0, 4, 1024, 20480) }
	t.Cleanup(func() { sleep = time.Sleep })
	code, out, _ := runTop(t, "-f", path, "-n", "2", "-t")
	if code != 0 || strings.Count(out, "NODE") != 2 || !strings.Contains(out, "L3Parse") || strings.Contains(out, "IPv4Fwd") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	if !strings.Contains(out, "20.0") || !strings.Contains(out, "256.0") {
		t.Errorf("no ns/pkt 20.0 or vectors 256.0:\n%s", out)
	}
	code, out, _ = runTop(t, "-f", path, "-n", "1", "-all", "IPv4")
	if code != 0 || strings.Contains(out, "L3Parse") {
		t.Errorf("pattern: %s", out)
	}
}

// TestSwitch checks that r2top turns the statistics on through the API and
// off again at exit, or leaves them on with -leave.
func TestSwitch(t *testing.T) {
	path, _ := rtFile(t)
	b := apitest.New()
	_, sock := apitest.Serve(t, b, api.Options{})
	sleep = func(time.Duration) {
		if !b.Runtime() {
			t.Errorf("statistics off while r2top runs")
		}
	}
	t.Cleanup(func() { sleep = time.Sleep })
	if code, _, e := runTop(t, "-s", sock, "-f", path, "-n", "1"); code != 0 {
		t.Fatalf("exit %d: %s", code, e)
	}
	if b.Runtime() {
		t.Errorf("statistics left on")
	}
	if code, _, e := runTop(t, "-s", sock, "-f", path, "-n", "1", "-leave"); code != 0 || !b.Runtime() {
		t.Errorf("-leave: exit %d %s, on %v", code, e, b.Runtime())
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"-d", "0"}, {"-x"}, {"-n", "-1"}} {
		if code, _, e := runTop(t, args...); code != 2 || !strings.Contains(e, "--help") {
			t.Errorf("%v: exit %d, %q", args, code, e)
		}
	}
	if code, out, _ := runTop(t, "--help"); code != 0 || !strings.Contains(out, "usage: r2top") {
		t.Errorf("--help: %d %q", code, out)
	}
	if code, _, e := runTop(t, "-f", "/nonexistent/cnt", "-n", "1"); code != 1 || !strings.Contains(e, "is r2 running") {
		t.Errorf("missing file: %d %q", code, e)
	}
}
