//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/logs"
	"github.com/r2go/r2/r2/api"
)

// binaries are the R2 programs the benchmark runs.
type binaries struct {
	R2, R2intf, R2rt string
	// R2follow is needed by the follow measurement only: without it that
	// measurement fails and the others run.
	R2follow string
	// Built is the temporary directory they were built into, if any.
	Built string
}

// findModuleRoot returns the directory of the go.mod of module
// github.com/r2go/r2 at or above the working directory.
func findModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/r2go/r2\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the R2 repository (no go.mod of github.com/r2go/r2 above the working directory): run from the repository or pass -bindir")
		}
		dir = parent
	}
}

// prepareBinaries finds or builds r2, r2intf and r2rt.
func prepareBinaries(ctx context.Context, o options, tmp string, logf func(string, ...any)) (binaries, error) {
	var b binaries
	if o.binDir != "" {
		b = binaries{R2: filepath.Join(o.binDir, "r2"), R2intf: filepath.Join(o.binDir, "r2intf"), R2rt: filepath.Join(o.binDir, "r2rt"), R2follow: filepath.Join(o.binDir, "r2follow")}
		if o.r2Path != "" {
			b.R2 = o.r2Path
		}
		for _, p := range []string{b.R2, b.R2intf, b.R2rt} {
			if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
				return b, fmt.Errorf("%s: not an executable file", p)
			}
		}
		return b, nil
	}
	root, err := findModuleRoot()
	if err != nil {
		return b, err
	}
	dir := filepath.Join(tmp, "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return b, err
	}
	b = binaries{R2: filepath.Join(dir, "r2"), R2intf: filepath.Join(dir, "r2intf"), R2rt: filepath.Join(dir, "r2rt"), R2follow: filepath.Join(dir, "r2follow"), Built: dir}
	pkgs := map[string]string{"r2": "./r2", "r2intf": "./utils/r2intf", "r2rt": "./utils/r2rt", "r2follow": "./utils/r2follow"}
	if o.r2Path != "" {
		b.R2 = o.r2Path
		delete(pkgs, "r2")
	}
	for _, name := range []string{"r2", "r2intf", "r2rt", "r2follow"} {
		pkg, ok := pkgs[name]
		if !ok {
			continue
		}
		logf("building %s", pkg)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, name), pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	if st, err := os.Stat(b.R2); err != nil || st.IsDir() {
		return b, fmt.Errorf("-r2 %s: not a file", b.R2)
	}
	return b, nil
}

// lockedBuffer collects a process's output while others read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 4<<20 { // keep the head; a runaway log is not worth memory
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// daemon is a running r2 started by the benchmark.
type daemon struct {
	bins     binaries
	instance string
	proc     *child
	log      *lockedBuffer
	unreg    func()
}

// rtPriority is the SCHED_FIFO priority of the afpacket-rt variant: above
// the kernel's threaded interrupt handlers' 50, as a dataplane that owns
// its CPU would be set up.
const rtPriority = 60

// r2Flags are the daemon's command-line options of one setup.
type r2Flags struct {
	Threads  int
	CPUs     string // -cpus, "" for none
	BusyPoll bool
	NoVnet   bool   // -vnet-hdr=false
	Driver   string // -driver, "" for the default
	// RTPriority is -rt-priority (0: not given).
	RTPriority int
	// ControlCPUs is -control-cpus ("" for none).
	ControlCPUs string
	// XDPMode is -afxdp-mode ("" for the default).
	XDPMode string
	// NetNS runs the daemon in that network namespace (ip netns exec,
	// which execs it: the pid stays the daemon's).
	NetNS string
}

func (f r2Flags) args() []string {
	a := []string{"-threads", strconv.Itoa(f.Threads)}
	if f.CPUs != "" {
		a = append(a, "-cpus", f.CPUs)
	}
	if f.BusyPoll {
		a = append(a, "-busy-poll")
	}
	if f.NoVnet {
		a = append(a, "-vnet-hdr=false")
	}
	if f.RTPriority > 0 {
		a = append(a, "-rt-priority", strconv.Itoa(f.RTPriority))
	}
	if f.ControlCPUs != "" {
		a = append(a, "-control-cpus", f.ControlCPUs)
	}
	if f.Driver != "" {
		a = append(a, "-driver", f.Driver)
	}
	if f.XDPMode != "" {
		a = append(a, "-afxdp-mode", f.XDPMode)
	}
	return a
}

// startDaemon starts r2 with instance name inst and waits for its API.
func startDaemon(ctx context.Context, cl *cleaner, bins binaries, inst string, f r2Flags) (*daemon, error) {
	d := &daemon{bins: bins, instance: inst, log: &lockedBuffer{}}
	args := append([]string{"-i", inst, "-c", "/dev/null"}, f.args()...)
	cmd := exec.Command(bins.R2, args...)
	if f.NetNS != "" {
		cmd = exec.Command("ip", append([]string{"netns", "exec", f.NetNS, bins.R2}, args...)...)
	}
	cmd.Stdout, cmd.Stderr = d.log, d.log
	var err error
	// SIGTERM on our death lets r2 remove its socket and shared memory.
	if d.proc, err = spawn(cmd, syscall.SIGTERM); err != nil {
		return nil, fmt.Errorf("start r2: %w", err)
	}
	d.unreg = cl.add(func() { d.shutdown() })
	sock := api.SocketPath(inst)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.DialTimeout("unix", sock, time.Second); err == nil {
			c.Close()
			return d, nil
		}
		if d.proc.exited() {
			d.unreg()
			return nil, fmt.Errorf("r2 exited at start (%v): %s", d.proc.err, lastLines(d.log.String(), 5))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			d.unreg()
			return nil, fmt.Errorf("r2 API socket %s did not appear within 15s: %s", sock, lastLines(d.log.String(), 5))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// shutdown stops the daemon (SIGTERM, then SIGKILL after 10 s).
func (d *daemon) shutdown() {
	if err := d.proc.stop(syscall.SIGTERM, 10*time.Second); err != nil {
		// A killed daemon leaves its files; remove what is ours.
		os.Remove(api.SocketPath(d.instance))
		os.Remove(d.countersPath())
		os.Remove(logs.InstancePath(d.instance))
	}
}

// stop stops the daemon and forgets its cleanup.
func (d *daemon) stop() { d.unreg() }

func (d *daemon) pid() int { return d.proc.cmd.Process.Pid }

// cpuTime is the CPU time all of the daemon's threads have used (the
// first field of each /proc/PID/task/TID/schedstat, in nanoseconds: finer
// than the ticks of /proc/PID/stat), or 0 if it cannot be read.
func (d *daemon) cpuTime() time.Duration {
	dir := fmt.Sprintf("/proc/%d/task", d.pid())
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var ns int64
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue // a thread that just ended
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			v, _ := strconv.ParseInt(f[0], 10, 64)
			ns += v
		}
	}
	return time.Duration(ns)
}

func (d *daemon) countersPath() string { return counters.InstancePath(d.instance) }

// util runs an R2 utility (r2intf, r2rt path) against the daemon.
func (d *daemon) util(ctx context.Context, prog string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, append([]string{"-i", d.instance}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %v: %s", filepath.Base(prog), strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// dial opens an API client connection to the daemon.
func (d *daemon) dial() (*api.Client, error) {
	return api.Dial("unix", api.SocketPath(d.instance), api.Options{SocketTimeout: 60 * time.Second})
}

// shownIf is one line of `r2intf show`.
type shownIf struct {
	Name, Driver string
	Thread       int
	Up           bool
}

// showInterfaces runs `r2intf show` and parses its table.
func (d *daemon) showInterfaces(ctx context.Context) (map[string]shownIf, string, error) {
	out, err := d.util(ctx, d.bins.R2intf, "show")
	if err != nil {
		return nil, out, err
	}
	m, err := parseShow(out)
	return m, out, err
}

// parseShow parses `r2intf show` output by its header's column names.
func parseShow(out string) (map[string]shownIf, error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	col := map[string]int{}
	m := map[string]shownIf{}
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(col) == 0 {
			for i, h := range f {
				col[h] = i
			}
			for _, need := range []string{"NAME", "DRIVER", "THREAD", "STATE"} {
				if _, ok := col[need]; !ok {
					return nil, fmt.Errorf("r2intf show: no %s column in %q", need, sc.Text())
				}
			}
			continue
		}
		get := func(name string) string {
			if i := col[name]; i < len(f) {
				return f[i]
			}
			return ""
		}
		th, _ := strconv.Atoi(get("THREAD"))
		m[get("NAME")] = shownIf{Name: get("NAME"), Driver: get("DRIVER"), Thread: th, Up: get("STATE") == "up"}
	}
	if len(col) == 0 {
		return nil, fmt.Errorf("r2intf show: empty output")
	}
	return m, nil
}

// counterTotals reads the daemon's counters (summed over threads).
func (d *daemon) counterTotals() (map[string]uint64, error) {
	es, err := counters.ReadFile(d.countersPath())
	if err != nil {
		return nil, err
	}
	m := map[string]uint64{}
	for _, t := range counters.Totals(es) {
		if len(t.Sum) > 0 {
			m[t.Name] = t.Sum[0]
		}
	}
	return m, nil
}

// procStatusKB reads a "Vm...:  N kB" field of /proc/PID/status.
func procStatusKB(pid int, field string) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != field {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			break
		}
		return strconv.ParseUint(f[0], 10, 64)
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// procCPU returns the CPU time every thread of process pid has used so
// far: the first field of each thread's schedstat (ns), so the forwarding
// threads, the Go runtime's own (sysmon, GC) and the API's all count.
func procCPU(pid int) (time.Duration, error) {
	files, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(files) == 0 {
		return 0, fmt.Errorf("no /proc/%d/task/*/schedstat (%v)", pid, err)
	}
	var sum time.Duration
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // a thread that ended since the glob
		}
		if fs := strings.Fields(string(b)); len(fs) > 0 {
			ns, err := strconv.ParseInt(fs[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: %q: %w", f, b, err)
			}
			sum += time.Duration(ns)
		}
	}
	return sum, nil
}

// lastLines returns the last n non-empty lines of s, joined by " | ".
func lastLines(s string, n int) string {
	var ls []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			ls = append(ls, strings.TrimSpace(l))
		}
	}
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	if len(ls) == 0 {
		return "(no output)"
	}
	return strings.Join(ls, " | ")
}

// grepLines returns the lines of s containing sub (case-insensitive).
func grepLines(s, sub string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(strings.ToLower(l), strings.ToLower(sub)) {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}
