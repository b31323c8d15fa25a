//go:build linux

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// bench is one run.
type bench struct {
	ctx     context.Context
	o       options
	log     io.Writer
	cleanup *cleaner
	defs    map[string]*measDef

	runID   string // unique per run: instance names derive from it
	tmp     string
	bins    binaries
	binsErr error
	tools   map[string]string // program → path ("" if missing)

	ncpu           int
	genCPU, fwdCPU int
	threads2CPUs   string
	instSeq        int
	xdpNA          string         // AF_XDP found unavailable: skip it for the rest of the run
	prefixes       []netip.Prefix // the table: IPv4, then IPv6
	prefixes6      int            // how many of prefixes are IPv6
	tablePath      string
	tableErr       error
	rep            *report
	started        time.Time
}

func newBench(ctx context.Context, o options, log io.Writer) *bench {
	var rb [3]byte
	_, _ = rand.Read(rb[:])
	b := &bench{ctx: ctx, o: o, log: log, cleanup: newCleaner(), defs: measurements(),
		runID: "r2bench-" + hex.EncodeToString(rb[:]), tools: map[string]string{}}
	b.ncpu = runtime.NumCPU()
	b.genCPU, b.fwdCPU = 0, 1
	b.threads2CPUs = o.threads2CPUs
	if b.ncpu < 2 {
		b.fwdCPU, b.threads2CPUs = 0, "0,0"
	}
	return b
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "r2bench: "+format+"\n", args...)
}

// ramp is how long a generator runs before counting starts.
func (b *bench) ramp() time.Duration {
	if b.o.short {
		return 300 * time.Millisecond
	}
	return 500 * time.Millisecond
}

// tableTimeout bounds loading the table into one router.
func (b *bench) tableTimeout() time.Duration {
	if b.o.short {
		return 90 * time.Second
	}
	return 5 * time.Minute
}

// tools the benchmark runs, with the Debian package that has each.
var toolPackages = map[string]string{
	"ip": "iproute2", "taskset": "util-linux", "trafgen": "netsniff-ng", "iperf3": "iperf3", "ping": "iputils-ping",
}

// run runs every round and returns the report.
func (b *bench) run() (*report, error) {
	b.started = time.Now()
	rep := newReport(b.o, b.defs)
	b.rep = rep
	rep.Date = b.started.Format(time.RFC3339)
	rep.Host = hostInfo{CPUModel: cpuModel(), CPUs: b.ncpu, Kernel: kernelRelease(), GoVersion: runtime.Version(),
		GenCPU: b.genCPU, FwdCPU: b.fwdCPU, Threads2CPUs: b.threads2CPUs, Tools: map[string]string{}}
	rep.Host.LoadAvgStart = loadAvg()
	if b.ncpu < 2 {
		rep.Notes = append(rep.Notes, "only one CPU: generator and R2 share it")
	}
	for _, name := range sortedKeys(toolPackages) {
		p, err := exec.LookPath(name)
		if err != nil {
			b.tools[name] = ""
			rep.Host.Tools[name] = "missing (Debian package " + toolPackages[name] + ")"
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s not found: install the Debian package %s", name, toolPackages[name]))
			continue
		}
		b.tools[name] = p
		rep.Host.Tools[name] = toolVersion(name, p)
	}
	if b.tools["ip"] == "" {
		rep.Elapsed = time.Since(b.started).Round(time.Second).String()
		return rep, errors.New("ip (iproute2) is needed to run programs in namespaces")
	}

	var err error
	if b.tmp, err = os.MkdirTemp("", b.runID+"-"); err != nil {
		return nil, err
	}
	b.cleanup.add(func() { os.RemoveAll(b.tmp) })

	needR2 := slices.ContainsFunc(b.o.variants, func(v string) bool { return v != variantKernel })
	if needR2 {
		b.bins, b.binsErr = prepareBinaries(b.ctx, b.o, b.tmp, b.logf)
		if b.binsErr != nil {
			b.logf("R2 binaries: %v", b.binsErr)
			rep.Notes = append(rep.Notes, "R2 binaries: "+b.binsErr.Error())
		} else {
			rep.Host.Binaries = map[string]string{"r2": b.bins.R2, "r2intf": b.bins.R2intf, "r2rt": b.bins.R2rt}
			if b.bins.Built != "" {
				rep.Host.Binaries["built_in"] = "temporary directory (go build)"
			}
		}
	}
	if slices.Contains(b.o.only, "table") || slices.Contains(b.o.only, "follow") {
		if _, err := b.tablePrefixes(); err != nil {
			b.logf("table: %v", err)
		} else {
			rep.Host.Table = fmt.Sprintf("%s (%d IPv4 and %d IPv6 prefixes used)", b.tablePath, len(b.prefixes)-b.prefixes6, b.prefixes6)
		}
	}

	b.logf("run %s: %d round(s), %v per measurement, measurements %s, variants %s",
		b.runID, b.o.rounds, b.o.duration, strings.Join(b.o.only, ","), strings.Join(b.o.variants, ","))
	var stopErr error
rounds:
	for round := 1; round <= b.o.rounds; round++ {
		// Alternate the order of the routers from round to round, so
		// that none always runs first (or after the same one).
		order := slices.Clone(b.o.variants)
		if round%2 == 0 {
			slices.Reverse(order)
		}
		for _, g := range groups() {
			ids := slices.DeleteFunc(slices.Clone(g.ids), func(id string) bool { return !slices.Contains(b.o.only, id) })
			if len(ids) == 0 {
				continue
			}
			for _, v := range order {
				if b.ctx.Err() != nil {
					stopErr = b.ctx.Err()
					break rounds
				}
				b.runGroup(round, g, ids, v)
			}
		}
	}
	rep.finish()
	rep.Host.LoadAvgEnd = loadAvg()
	rep.Elapsed = time.Since(b.started).Round(time.Second).String()
	return rep, stopErr
}

// runGroup builds g's setup for variant v and runs the measurements ids on
// it, recording every outcome.
func (b *bench) runGroup(round int, g *group, ids []string, v string) {
	rec := func(err error) {
		for _, id := range ids {
			b.rep.record(id, v, round, nil, nil, err)
		}
	}
	switch {
	case isXDP(v) && b.xdpNA != "":
		rec(&naError{reason: b.xdpNA})
		return
	case v != variantKernel && b.binsErr != nil:
		rec(fmt.Errorf("R2 binaries: %w", b.binsErr))
		return
	}
	s, err := b.newSetup(round, g, v)
	if err != nil {
		var na *naError
		if errors.As(err, &na) && isXDP(v) {
			b.xdpNA = na.reason
			b.logf("%s is not tried again in this run", variantTitles[v])
		}
		b.logf("round %d/%d: %s on %s: setup failed: %v", round, b.o.rounds, g.name, variantTitles[v], err)
		info := setupInfo{Round: round, Group: g.name, Variant: v, Offloads: g.offloads, Error: err.Error()}
		b.rep.Setups = append(b.rep.Setups, info)
		rec(err)
		return
	}
	defer s.close()
	b.rep.Setups = append(b.rep.Setups, s.info)
	where := "topology " + s.info.Prefix
	if s.info.Instance != "" {
		where += ", r2 -i " + s.info.Instance + " " + strings.Join(s.info.R2Args, " ")
	}
	b.logf("round %d/%d: %s on %s (%s)", round, b.o.rounds, g.name, variantTitles[v], where)
	for _, id := range ids {
		if b.ctx.Err() != nil {
			return
		}
		d := b.defs[id]
		start := time.Now()
		vals, notes, err := d.run(s)
		b.rep.record(id, v, round, vals, notes, err)
		b.logf("  %s: %s (%v)", id, summaryLine(d, vals, err), time.Since(start).Round(100*time.Millisecond))
	}
}

// summaryLine is a short progress line for one result.
func summaryLine(d *measDef, vals map[string]float64, err error) string {
	var parts []string
	for _, m := range d.Metrics {
		if v, ok := vals[m.Key]; ok && (m.Chart || len(parts) == 0) {
			parts = append(parts, fmt.Sprintf("%s %s %s", m.Label, fmtValue(m, v), m.Unit))
		}
	}
	s := strings.Join(parts, ", ")
	if err != nil {
		if s != "" {
			s += "; "
		}
		s += "error: " + err.Error()
	}
	return s
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// loadAvg returns the three load averages of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// kernelRelease is `uname -r`.
func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// toolVersion returns the first line of a program's version output.
func toolVersion(name, path string) string {
	args := map[string][]string{"ip": {"-V"}, "taskset": {"--version"}, "trafgen": {"-v"}, "iperf3": {"--version"}, "ping": {"-V"}}[name]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, path, args...).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if line == "" {
		return path
	}
	return strings.TrimSpace(line)
}
