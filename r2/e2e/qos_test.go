//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/r2go/r2/r2/topo"
)

// The QoS configuration both routers get: a 50 Mbit/s link; "voice"
// (ICMP) with a real-time curve of 10 Mbit/s for 5 ms then 1 Mbit/s;
// "a" (UDP to 5201) and "b" (UDP to 5202, and the default) sharing 3:1;
// "c" (UDP to 5203) capped at 10 Mbit/s.
const (
	qosLink    = 50e6
	qosUL      = 10e6
	qosRatio   = 3.0
	qosRTD     = 5 * time.Millisecond // the real-time curve's d
	qosPayload = 1400                 // UDP payload; frames are 42 bytes more
	qosFrame   = qosPayload + 42
	qosSecs    = 6
	qosOffered = "40M" // per flow: two flows saturate the link
)

// qosMeasure are the measured properties of one router.
type qosMeasure struct {
	a, b, c          float64 // received frame rates, bit/s (a and b together, c alone)
	sa, sb, sc       float64 // the same at the shaper's output, steady 4 s window
	idle             topo.PingResult
	load             topo.PingResult // ping in "voice" while a and b saturate the link
	fifo             topo.PingResult // ping in one FIFO class with the same load (R2 only)
	schedA, schedB   uint64          // R2's class counters: bytes sent in the share phase
	classShow, rules string
}

// iperfUDP sends a UDP flow from h1 to h2:port at qosOffered for qosSecs
// and returns the rate of the frames that arrived (bit/s).
func iperfUDP(t *testing.T, tp *topo.Topology, port int) (float64, error) {
	out, err := tp.Exec(tp.H1NS, "iperf3", "-c", tp.H2IP.String(), "-p", strconv.Itoa(port), "-u", "-b", qosOffered,
		"-l", strconv.Itoa(qosPayload), "-t", strconv.Itoa(qosSecs), "-J").Output()
	if err != nil {
		return 0, fmt.Errorf("iperf3 to port %d: %v\n%s", port, err, out)
	}
	var r struct {
		End struct {
			Sum struct {
				Seconds      float64 `json:"seconds"`
				Packets      int64   `json:"packets"`
				LostPackets  int64   `json:"lost_packets"`
				BitsPerSecnd float64 `json:"bits_per_second"`
			} `json:"sum"`
		} `json:"end"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, fmt.Errorf("iperf3 JSON: %v\n%s", err, out)
	}
	s := r.End.Sum
	if s.Seconds <= 0 || s.Packets == 0 {
		return 0, fmt.Errorf("iperf3 to port %d sent nothing\n%s", port, out)
	}
	return float64(s.Packets-s.LostPackets) * qosFrame * 8 / s.Seconds, nil
}

// iperfServers starts one-off iperf3 servers in h2 on ports.
func iperfServers(t *testing.T, tp *topo.Topology, ports ...int) []*exec.Cmd {
	var cmds []*exec.Cmd
	for _, p := range ports {
		c := tp.Exec(tp.H2NS, "iperf3", "-s", "-1", "-p", strconv.Itoa(p))
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	}
	time.Sleep(500 * time.Millisecond) // listening
	return cmds
}

// window measures the shaper's output per class over the steady middle of
// a phase: bytes sent per class at its start and end, and the time between.
type window func() (bytes map[string]uint64, at time.Duration)

// sampleWindow calls w 1.5 s into a phase and 4 s later and returns each
// class's rate (bit/s) between the two.
func sampleWindow(w window) map[string]float64 {
	time.Sleep(1500 * time.Millisecond)
	b0, t0 := w()
	time.Sleep(4 * time.Second)
	b1, t1 := w()
	out := map[string]float64{}
	for k, v := range b1 {
		out[k] = float64(v-b0[k]) * 8 / (t1 - t0).Seconds()
	}
	return out
}

// sharePhase runs flows a and b together with a ping in the voice class;
// w (if not nil) samples the shaper.
func sharePhase(t *testing.T, tp *topo.Topology, w window) (a, b float64, ping topo.PingResult, out map[string]float64) {
	iperfServers(t, tp, 5201, 5202)
	var wg sync.WaitGroup
	var errA, errB, errP error
	if w != nil {
		wg.Add(1)
		go func() { defer wg.Done(); out = sampleWindow(w) }()
	}
	wg.Add(3)
	go func() { defer wg.Done(); a, errA = iperfUDP(t, tp, 5201) }()
	go func() { defer wg.Done(); b, errB = iperfUDP(t, tp, 5202) }()
	go func() {
		defer wg.Done()
		time.Sleep(1500 * time.Millisecond) // the queues are full
		ping, errP = tp.Ping(tp.H1NS, tp.H2IP.String(), 150, 20*time.Millisecond)
	}()
	wg.Wait()
	for _, err := range []error{errA, errB, errP} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return a, b, ping, out
}

// ulPhase runs flow c alone.
func ulPhase(t *testing.T, tp *topo.Topology, w window) (float64, map[string]float64) {
	iperfServers(t, tp, 5203)
	var out map[string]float64
	done := make(chan struct{})
	go func() { defer close(done); out = sampleWindow(w) }()
	c, err := iperfUDP(t, tp, 5203)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	return c, out
}

func r2QoS(t *testing.T, d *daemon, ifname string) {
	for _, args := range [][]string{
		{"qos", "50M"},
		{"class", "voice", "root", "--leaf", "--qlimit", "32", "--rm1", "10M", "--rd", "5", "--rm2", "1M"},
		{"class", "a", "root", "--leaf", "--qlimit", "1000", "--fm2", "36M"},
		{"class", "b", "root", "--leaf", "--qlimit", "1000", "--fm2", "12M"},
		{"class", "c", "root", "--leaf", "--fm2", "1M", "--um2", "10M"},
		{"rule", "add", "10", "voice", "--proto", "1"},
		{"rule", "add", "20", "a", "--proto", "17", "--dport", "5201"},
		{"rule", "add", "30", "c", "--dport", "5203"},
		{"default", "b"},
	} {
		d.must(t, "r2intf", append([]string{ifname}, args...)...)
	}
}

// refusals checks that bad trees are refused with the right kind and
// change nothing.
func refusals(t *testing.T, d *daemon, ifname string) {
	before := d.must(t, "r2intf", ifname, "class", "show", "-json")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"class", "x", "nosuch", "--leaf", "--fm2", "1M"}, "no such class"},
		{[]string{"class", "x", "a", "--leaf", "--fm2", "1M"}, "is a leaf"},
		{[]string{"class", "rt2", "root", "--leaf", "--rm2", "49M"}, "exceed"},
		{[]string{"class", "ls2", "root", "--leaf", "--fm2", "10M"}, "exceed"},
		{[]string{"class", "a", "--del"}, "used by rule 20"},
		{[]string{"class", "b", "--del"}, "default class"},
		{[]string{"class", "nosuch", "--del"}, "no class"},
		{[]string{"rule", "add", "10", "a"}, "rule 10 exists"},
		{[]string{"rule", "add", "11", "nosuch"}, "no class"},
		{[]string{"default", "nosuch"}, "no class"},
		{[]string{"qos", "10M"}, "exceed"},
	} {
		out, errs, code := d.run("r2intf", append([]string{ifname}, tc.args...)...)
		if code != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("r2intf %s: exit %d, %q%q; want 1 and %q", strings.Join(tc.args, " "), code, out, errs, tc.want)
		}
	}
	if after := d.must(t, "r2intf", ifname, "class", "show", "-json"); stripCounts(after) != stripCounts(before) {
		t.Errorf("refused requests changed the configuration:\n%s\n%s", before, after)
	}
}

// stripCounts keeps the configuration lines of class show -json.
func stripCounts(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		for _, k := range []string{`"name"`, `"parent"`, `"m1"`, `"m2"`, `"d"`, `"qlimit"`, `"prio"`, `"cls"`, `"default_class"`, `"rate"`} {
			if strings.Contains(l, k) {
				keep = append(keep, strings.TrimSpace(l))
			}
		}
	}
	return strings.Join(keep, "\n")
}

func classBytes(t *testing.T, d *daemon, ifname string) map[string]uint64 {
	m, _ := classBytesAt(t, d, ifname)
	return m
}

// classBytesAt reads the bytes each class sent and the owner thread's
// clock when they were read.
func classBytesAt(t *testing.T, d *daemon, ifname string) (map[string]uint64, time.Duration) {
	var q struct {
		Now     int64 `json:"now"`
		Classes []struct {
			Name  string `json:"name"`
			Bytes uint64 `json:"bytes"`
		} `json:"classes"`
	}
	out := d.must(t, "r2intf", ifname, "class", "show", "-json")
	if err := json.Unmarshal([]byte(out), &q); err != nil {
		t.Fatalf("class show -json: %v\n%s", err, out)
	}
	m := map[string]uint64{}
	for _, c := range q.Classes {
		m[c.Name] = c.Bytes
	}
	return m, time.Duration(q.Now)
}

func measureR2(t *testing.T) qosMeasure {
	tp := newTopo(t)
	d := startR2(t, uniqueInstance(t), "-threads", "2")
	realtime(t, d.cmd.Process.Pid)
	// h1's side on thread 0, the shaped side on thread 1: packets reach the
	// scheduler through the QoS node's handoff.
	attach(t, d, tp, 0, 1)
	pingOK(t, d, tp, tp.H1NS, tp.H2IP.String(), 3)
	var m qosMeasure
	var err error
	if m.idle, err = tp.Ping(tp.H1NS, tp.H2IP.String(), 50, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	r2QoS(t, d, tp.RouterIfB)
	refusals(t, d, tp.RouterIfB)
	w := func() (map[string]uint64, time.Duration) { return classBytesAt(t, d, tp.RouterIfB) }
	before := classBytes(t, d, tp.RouterIfB)
	var sh map[string]float64
	live := make(chan string, 1)
	go func() {
		time.Sleep(3 * time.Second)
		out, _, _ := d.run("r2intf", tp.RouterIfB, "class", "show")
		live <- out
	}()
	m.a, m.b, m.load, sh = sharePhase(t, tp, w)
	t.Logf("r2intf %s class show, under load:\n%s", tp.RouterIfB, <-live)
	after := classBytes(t, d, tp.RouterIfB)
	m.schedA, m.schedB = after["a"]-before["a"], after["b"]-before["b"]
	m.sa, m.sb = sh["a"], sh["b"]
	m.c, sh = ulPhase(t, tp, w)
	m.sc = sh["c"]
	cs := d.counters(t)
	q := "QoS:" + tp.RouterIfB + "/"
	t.Logf("R2 shaper thread: %d timer wakeups more than 1 ms late, %d more than 10 ms (load average %s)",
		first(cs[q+"late_1ms"]), first(cs[q+"late_10ms"]), loadAvg())
	m.classShow = d.must(t, "r2intf", tp.RouterIfB, "class", "show")
	t.Logf("r2intf %s class show:\n%s", tp.RouterIfB, m.classShow)

	// The same load through one FIFO class: what the ping meets without
	// classification (the queue's length).
	d.must(t, "r2intf", tp.RouterIfB, "qos", "--del")
	for _, args := range [][]string{
		{"qos", "50M"},
		{"class", "all", "root", "--leaf", "--qlimit", "128", "--fm2", "50M"},
		{"default", "all"},
	} {
		d.must(t, "r2intf", append([]string{tp.RouterIfB}, args...)...)
	}
	_, _, m.fifo, _ = sharePhase(t, tp, nil)
	// Deleting the class with packets queued frees them: the pool comes
	// back (checked by the daemon's counters below) and drops are counted.
	d.must(t, "r2intf", tp.RouterIfB, "qos", "--del")
	pingOK(t, d, tp, tp.H1NS, tp.H2IP.String(), 3)
	return m
}

// realtime gives every thread of process pid the real-time policy
// SCHED_FIFO at priority 1: a shaper in user space keeps time only if its
// thread gets the CPU when its timer fires, as the kernel's shaper (in
// softirq) always does. On this shared machine (load average 15-25 on two
// CPUs) an ordinary thread wakes more than 10 ms late about five times a
// second, which cost the upper-limit class a third of its rate in one run;
// a router would give its forwarding threads their own CPUs or this
// policy. The threads sleep in epoll when idle, so they cannot starve the
// machine at the rates tested.
func realtime(t *testing.T, pid int) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		if out, err := exec.Command("chrt", "-f", "-p", "1", task.Name()).CombinedOutput(); err != nil {
			t.Fatalf("chrt: %v: %s", err, out)
		}
	}
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.Join(strings.Fields(string(b))[:min(3, len(strings.Fields(string(b))))], " ")
}

// kernelQoS configures the kernel router's output: sch_hfsc if this kernel
// has it, HTB (rate = the link-sharing share, ceil = the upper limit)
// otherwise. It returns which.
func kernelQoS(t *testing.T, tp *topo.Topology) string {
	dev := tp.RouterIfB
	tc := func(args ...string) error {
		out, err := tp.Exec(tp.RouterNSName, "tc", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("tc %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	must := func(args ...string) {
		if err := tc(args...); err != nil {
			t.Fatal(err)
		}
	}
	kind := "hfsc"
	if err := tc("qdisc", "add", "dev", dev, "root", "handle", "1:", "hfsc", "default", "30"); err == nil {
		must("class", "add", "dev", dev, "parent", "1:", "classid", "1:1", "hfsc", "ls", "m2", "50mbit", "ul", "m2", "50mbit")
		must("class", "add", "dev", dev, "parent", "1:1", "classid", "1:10", "hfsc", "rt", "m1", "10mbit", "d", "5ms", "m2", "1mbit")
		must("class", "add", "dev", dev, "parent", "1:1", "classid", "1:20", "hfsc", "ls", "m2", "36mbit")
		must("class", "add", "dev", dev, "parent", "1:1", "classid", "1:30", "hfsc", "ls", "m2", "12mbit")
		must("class", "add", "dev", dev, "parent", "1:1", "classid", "1:40", "hfsc", "ls", "m2", "1mbit", "ul", "m2", "10mbit")
	} else {
		t.Logf("kernel baseline: sch_hfsc unavailable (%v); using HTB with the same shares and limits", err)
		kind = "htb"
		must("qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "30")
		must("class", "add", "dev", dev, "parent", "1:", "classid", "1:1", "htb", "rate", "50mbit", "ceil", "50mbit")
		must("class", "add", "dev", dev, "parent", "1:1", "classid", "1:10", "htb", "rate", "1mbit", "ceil", "50mbit", "prio", "0")
		must("class", "add", "dev", dev, "parent", "1:1", "classid", "1:20", "htb", "rate", "36mbit", "ceil", "50mbit", "prio", "1")
		must("class", "add", "dev", dev, "parent", "1:1", "classid", "1:30", "htb", "rate", "12mbit", "ceil", "50mbit", "prio", "1")
		must("class", "add", "dev", dev, "parent", "1:1", "classid", "1:40", "htb", "rate", "1mbit", "ceil", "10mbit", "prio", "1")
	}
	for c, limit := range map[string]string{"10": "32", "20": "1000", "30": "1000", "40": "128"} {
		must("qdisc", "add", "dev", dev, "parent", "1:"+c, "pfifo", "limit", limit)
	}
	must("filter", "add", "dev", dev, "parent", "1:", "protocol", "ip", "prio", "1", "u32", "match", "ip", "protocol", "1", "0xff", "flowid", "1:10")
	must("filter", "add", "dev", dev, "parent", "1:", "protocol", "ip", "prio", "2", "u32", "match", "ip", "protocol", "17", "0xff", "match", "ip", "dport", "5201", "0xffff", "flowid", "1:20")
	must("filter", "add", "dev", dev, "parent", "1:", "protocol", "ip", "prio", "3", "u32", "match", "ip", "dport", "5203", "0xffff", "flowid", "1:40")
	return kind
}

// tcBytes parses tc -s class show: bytes sent per class id.
func tcBytes(out string) map[string]uint64 {
	m := map[string]uint64{}
	id := ""
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "class" {
			id = f[2]
		}
		if len(f) >= 2 && f[0] == "Sent" && id != "" {
			v, _ := strconv.ParseUint(f[1], 10, 64)
			m[id] = v
		}
	}
	return m
}

func measureKernel(t *testing.T) (qosMeasure, string) {
	tp, err := topo.New(topo.Config{RouterNS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tp.Close(); err != nil {
			t.Errorf("topology cleanup: %v", err)
		}
	})
	var m qosMeasure
	if m.idle, err = tp.Ping(tp.H1NS, tp.H2IP.String(), 50, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	kind := kernelQoS(t, tp)
	start := time.Now()
	w := func() (map[string]uint64, time.Duration) {
		out, err := tp.Exec(tp.RouterNSName, "tc", "-s", "class", "show", "dev", tp.RouterIfB).CombinedOutput()
		at := time.Since(start)
		if err != nil {
			t.Errorf("tc -s class show: %v: %s", err, out)
		}
		return tcBytes(string(out)), at
	}
	var sh map[string]float64
	m.a, m.b, m.load, sh = sharePhase(t, tp, w)
	m.sa, m.sb = sh["1:20"], sh["1:30"]
	m.c, sh = ulPhase(t, tp, w)
	m.sc = sh["1:40"]
	out, _ := tp.Exec(tp.RouterNSName, "tc", "-s", "class", "show", "dev", tp.RouterIfB).CombinedOutput()
	t.Logf("kernel tc -s class show:\n%s", out)
	return m, kind
}

// TestQoSHFSC shapes R2's output to 50 Mbit/s with HFSC and checks the
// properties the configuration promises: link-sharing in the ratio of the
// curves (3:1 within 5%), the upper limit (within 3%), and a real-time
// flow's delay under a saturating load (within its curve's bound). The
// same configuration runs through the kernel (sch_hfsc, or HTB where the
// kernel lacks it) on the same topology, logged side by side; only R2's
// results are asserted.
func TestQoSHFSC(t *testing.T) {
	r := measureR2(t)
	k, kind := measureKernel(t)
	mb := func(v float64) string { return strconv.FormatFloat(v/1e6, 'f', 2, 64) }
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) }
	t.Logf("QoS, 50 Mbit/s link, UDP %d-byte frames, %d s per phase (rates: frames received, Mbit/s)", qosFrame, qosSecs)
	t.Logf("%-34s %12s %12s", "measurement", "R2 HFSC", "kernel "+kind)
	t.Logf("%-34s %12s %12s", "shaper out: a (ls 36M)", mb(r.sa), mb(k.sa))
	t.Logf("%-34s %12s %12s", "shaper out: b (ls 12M)", mb(r.sb), mb(k.sb))
	t.Logf("%-34s %12.3f %12.3f", "shaper out: a/b (configured 3)", r.sa/r.sb, k.sa/k.sb)
	t.Logf("%-34s %12s %12s", "shaper out: c alone (ul 10M)", mb(r.sc), mb(k.sc))
	t.Logf("%-34s %12s %12s", "received: a", mb(r.a), mb(k.a))
	t.Logf("%-34s %12s %12s", "received: b", mb(r.b), mb(k.b))
	t.Logf("%-34s %12.3f %12.3f", "received: a/b", r.a/r.b, k.a/k.b)
	t.Logf("%-34s %12s %12s", "received: c alone", mb(r.c), mb(k.c))
	t.Logf("%-34s %12s %12s", "ping idle median, ms", ms(r.idle.Percentile(50)), ms(k.idle.Percentile(50)))
	t.Logf("%-34s %12s %12s", "ping rt class under load p50, ms", ms(r.load.Percentile(50)), ms(k.load.Percentile(50)))
	t.Logf("%-34s %12s %12s", "ping rt class under load p99, ms", ms(r.load.Percentile(99)), ms(k.load.Percentile(99)))
	t.Logf("%-34s %12s %12s", "ping in one FIFO class p50, ms", ms(r.fifo.Percentile(50)), "-")
	t.Logf("R2 scheduler bytes sent in the share phase: a %d b %d (ratio %.3f)", r.schedA, r.schedB, float64(r.schedA)/float64(r.schedB))

	if ratio := r.sa / r.sb; math.Abs(ratio-qosRatio)/qosRatio > 0.05 {
		t.Errorf("link-sharing: a/b = %.3f (a %s, b %s Mbit/s), want %.1f within 5%%", ratio, mb(r.sa), mb(r.sb), qosRatio)
	}
	if sum := r.sa + r.sb; sum < 0.95*qosLink || sum > 1.03*qosLink {
		t.Errorf("a+b = %s Mbit/s, want the link's 50 (the voice class takes little)", mb(sum))
	}
	if math.Abs(r.sc-qosUL)/qosUL > 0.03 {
		t.Errorf("upper limit: c = %s Mbit/s, want 10 within 3%%", mb(r.sc))
	}
	// The real-time curve sends a ping's request within d of its arrival
	// (10 Mbit/s for 5 ms covers it), plus one full frame already on the
	// link and the link queue the scheduler keeps ahead of a late wakeup.
	bound := qosRTD + time.Duration(1514*8*1e9/qosLink)
	if got, idle := r.load.Percentile(95), r.idle.Percentile(50); got > idle+bound {
		t.Errorf("real-time: ping p95 under load %v, idle median %v: more than the curve's bound %v above", got, idle, bound)
	}
	if r.load.Received < r.load.Transmitted*95/100 {
		t.Errorf("real-time: %d of %d pings answered under load", r.load.Received, r.load.Transmitted)
	}
}
