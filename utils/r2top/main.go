// Command r2top shows where R2's forwarding threads spend their time, node
// by node, like top (VPP's "show runtime"): calls (dispatches that handled
// packets), packets, vectors per call, CPU time per packet and share of
// the interval, from the runtime statistics in the counters file (counters
// "<node>/rt_calls", "rt_pkts", "rt_ns", see r2/graph/runtime.go).
//
// The statistics cost a clock read per busy node and graph run, so they
// are off by default: r2top turns them on through the API if they are off
// and back off when it exits (-leave keeps them on).
//
// Usage:
//
//	r2top [-i INSTANCE | -s SOCKET | -a HOST:PORT] [-f FILE] [-t] [-d SECONDS] [-n COUNT] [-json] [-all] [-leave] [PATTERN ...]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/utils/internal/client"
)

const help = `usage: r2top [-i NAME | -s PATH | -a HOST:PORT] [-f FILE] [-t] [-d SECONDS] [-n COUNT] [-json] [-all] [-leave] [PATTERN ...]

Show per-node runtime statistics of R2's forwarding threads, refreshed every
interval and sorted by CPU time: calls (dispatches that handled packets),
packets, vectors (packets) per call, nanoseconds per packet and the node's
share of the interval. Nodes are summed over the threads; -t shows each
thread's line. PATTERNs keep nodes whose name contains any of them.

The values come from the counters file in shared memory; the statistics
themselves are switched on through the API if they are off, and switched
off again when r2top exits (-leave keeps them on).

` + client.FlagsHelp + `
  -f FILE       counters file (default /dev/shm/r2-NAME-counters); with -f and
                no -i/-s/-a the API is not used (the statistics must be on)
  -t            one line per node and thread
  -d SECONDS    refresh interval (default 1)
  -n COUNT      stop after COUNT refreshes (default: until interrupted)
  -json         print each refresh as one JSON object per line
  -all          totals since the statistics were switched on, not per interval
  -leave        leave the statistics on at exit

Example: r2top -n 1 -json     one second of statistics, as JSON
`

// sleep waits between samples (tests replace it).
var sleep = time.Sleep

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type opts struct {
	file      string
	perThread bool
	interval  time.Duration
	count     int
	asJSON    bool
	all       bool
	pats      []string
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := client.NewFlagSet("r2top")
	var tgt client.Target
	tgt.AddFlags(fs)
	var o opts
	fs.StringVar(&o.file, "f", "", "")
	fs.BoolVar(&o.perThread, "t", false, "")
	secs := fs.Float64("d", 1, "")
	fs.IntVar(&o.count, "n", 0, "")
	fs.BoolVar(&o.asJSON, "json", false, "")
	fs.BoolVar(&o.all, "all", false, "")
	leave := fs.Bool("leave", false, "")
	pos, err := client.Parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, help)
		return client.ExitOK
	}
	if err != nil {
		return client.Usagef(stderr, "r2top", "%v", err)
	}
	o.pats = pos
	if *secs <= 0 || *secs > 3600 || o.count < 0 {
		return client.Usagef(stderr, "r2top", "-d must be in (0, 3600] and -n >= 0")
	}
	o.interval = time.Duration(*secs * float64(time.Second))
	if err := tgt.Check(); err != nil {
		return client.Usagef(stderr, "r2top", "%v", err)
	}
	useAPI := o.file == "" || client.Set(fs, "i") || client.Set(fs, "s") || client.Set(fs, "a")
	if o.file == "" {
		o.file = counters.InstancePath(tgt.Instance)
	}
	if useAPI {
		restore, err := switchOn(tgt, *leave)
		if err != nil {
			fmt.Fprintf(stderr, "r2top: %v\n", err)
			return client.ExitFail
		}
		defer restore()
		// Restore on Ctrl-C too.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sig)
		go func() {
			if _, ok := <-sig; ok {
				restore()
				os.Exit(client.ExitOK)
			}
		}()
	}
	if err := loop(o, stdout); err != nil {
		fmt.Fprintf(stderr, "r2top: %v\n", err)
		return client.ExitFail
	}
	return client.ExitOK
}

// switchOn turns the runtime statistics on if they are off and returns
// what turns them off again (a no-op if they were on, or with leave).
func switchOn(tgt client.Target, leave bool) (func(), error) {
	c, err := client.Dial(tgt)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ctx := context.Background()
	on, err := c.Graph.Runtime(ctx)
	if err != nil {
		return nil, errors.New(client.Message(err))
	}
	if on || leave {
		if !on {
			if err := c.Graph.SetRuntime(ctx, true); err != nil {
				return nil, errors.New(client.Message(err))
			}
		}
		return func() {}, nil
	}
	if err := c.Graph.SetRuntime(ctx, true); err != nil {
		return nil, errors.New(client.Message(err))
	}
	done := false
	return func() {
		if done {
			return
		}
		done = true
		if c, err := client.Dial(tgt); err == nil {
			c.Graph.SetRuntime(context.Background(), false)
			c.Close()
		}
	}, nil
}

// key is a node on a thread (thread -1: summed over threads).
type key struct {
	node   string
	thread int
}

type stat struct{ calls, pkts, ns uint64 }

// sample reads the runtime counters from the file.
func sample(path string, perThread bool) (map[key]stat, error) {
	es, err := counters.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no counters at %s: is r2 running?", path)
		}
		return nil, err
	}
	m := map[key]stat{}
	for _, e := range es {
		i := strings.LastIndexByte(e.Name, '/')
		if i < 0 || len(e.Values) == 0 || e.Thread < 0 {
			continue
		}
		k := key{e.Name[:i], -1}
		if perThread {
			k.thread = e.Thread
		}
		s := m[k]
		switch e.Name[i+1:] {
		case graph.RTCalls:
			s.calls += e.Values[0]
		case graph.RTPkts:
			s.pkts += e.Values[0]
		case graph.RTNs:
			s.ns += e.Values[0]
		default:
			continue
		}
		m[k] = s
	}
	return m, nil
}

// Row is one line of output (and one JSON element).
type Row struct {
	Node       string  `json:"node"`
	Thread     *int    `json:"thread,omitempty"`
	Calls      uint64  `json:"calls"`
	Pkts       uint64  `json:"pkts"`
	Ns         uint64  `json:"ns"`
	VecPerCall float64 `json:"vectors_per_call"`
	NsPerPkt   float64 `json:"ns_per_pkt"`
	CPUPct     float64 `json:"cpu_pct"`
}

// Report is one refresh.
type Report struct {
	Time      time.Time `json:"time"`
	IntervalS float64   `json:"interval_s"` // 0 with -all
	Rows      []Row     `json:"nodes"`
}

func loop(o opts, w io.Writer) error {
	prev, err := sample(o.file, o.perThread)
	if err != nil {
		return err
	}
	start := time.Now()
	last := start
	tty := isTerminal(w)
	for n := 0; o.count == 0 || n < o.count; n++ {
		sleep(o.interval)
		cur, err := sample(o.file, o.perThread)
		if err != nil {
			return err
		}
		now := time.Now()
		r := report(o, prev, cur, now.Sub(last))
		r.Time = now
		if !o.all {
			prev = cur
		}
		last = now
		if o.asJSON {
			b, _ := json.Marshal(r)
			fmt.Fprintf(w, "%s\n", b)
			continue
		}
		if tty {
			fmt.Fprint(w, "\033[H\033[2J")
		} else if n > 0 {
			fmt.Fprintln(w)
		}
		printTable(w, o, r)
	}
	return nil
}

func report(o opts, prev, cur map[key]stat, dt time.Duration) Report {
	r := Report{IntervalS: dt.Seconds(), Rows: []Row{}}
	if o.all {
		r.IntervalS = 0
	}
	for k, c := range cur {
		if len(o.pats) > 0 && !matches(k.node, o.pats) {
			continue
		}
		p := prev[k]
		if o.all {
			p = stat{}
		}
		d := stat{c.calls - p.calls, c.pkts - p.pkts, c.ns - p.ns}
		if c.calls < p.calls || c.pkts < p.pkts || c.ns < p.ns { // node re-created
			d = c
		}
		if d.ns == 0 && d.pkts == 0 {
			continue
		}
		row := Row{Node: k.node, Calls: d.calls, Pkts: d.pkts, Ns: d.ns}
		if k.thread >= 0 {
			t := k.thread
			row.Thread = &t
		}
		if d.calls > 0 {
			row.VecPerCall = float64(d.pkts) / float64(d.calls)
		}
		if d.pkts > 0 {
			row.NsPerPkt = float64(d.ns) / float64(d.pkts)
		}
		if !o.all && dt > 0 {
			row.CPUPct = 100 * float64(d.ns) / float64(dt.Nanoseconds())
		}
		r.Rows = append(r.Rows, row)
	}
	sort.Slice(r.Rows, func(i, j int) bool {
		a, b := r.Rows[i], r.Rows[j]
		if a.Ns != b.Ns {
			return a.Ns > b.Ns
		}
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		return a.Thread != nil && b.Thread != nil && *a.Thread < *b.Thread
	})
	return r
}

func printTable(w io.Writer, o opts, r Report) {
	what := fmt.Sprintf("last %.2fs", r.IntervalS)
	if o.all {
		what = "since the statistics were switched on"
	}
	var pkts, ns uint64
	for _, x := range r.Rows {
		pkts += x.Pkts
		ns += x.Ns
	}
	fmt.Fprintf(w, "r2top %s  %s  %d nodes busy  %d pkts  %.1f ns/pkt overall\n\n",
		r.Time.Format("15:04:05"), what, len(r.Rows), pkts, div(ns, pkts))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	th := ""
	if o.perThread {
		th = "THREAD\t"
	}
	rate := "/s"
	if o.all {
		rate = ""
	}
	fmt.Fprintf(tw, "NODE\t%sCALLS%s\tPKTS%s\tVEC/CALL\tNS/PKT\tCPU%%\t\n", th, rate, rate)
	for _, x := range r.Rows {
		t := ""
		if x.Thread != nil {
			t = fmt.Sprintf("%d\t", *x.Thread)
		}
		calls, pk := float64(x.Calls), float64(x.Pkts)
		if !o.all && r.IntervalS > 0 {
			calls /= r.IntervalS
			pk /= r.IntervalS
		}
		cpu := "-"
		if !o.all {
			cpu = fmt.Sprintf("%.1f", x.CPUPct)
		}
		fmt.Fprintf(tw, "%s\t%s%.0f\t%.0f\t%.1f\t%.1f\t%s\t\n", x.Node, t, calls, pk, x.VecPerCall, x.NsPerPkt, cpu)
	}
	tw.Flush()
}

func div(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func matches(name string, pats []string) bool {
	for _, p := range pats {
		if strings.Contains(name, p) {
			return true
		}
	}
	return false
}

// isTerminal reports whether w is a terminal (then each refresh clears
// the screen).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
