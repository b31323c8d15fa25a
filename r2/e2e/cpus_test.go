//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestControlCPUs runs the daemon with its forwarding thread on the last
// CPU and control_cpus on the first, adds routes and forwards traffic so
// that the Go runtime has started the threads it needs, and checks every
// thread of the process: the forwarding thread may use its CPU only, and
// every other one (the API's, the garbage collector's, sysmon) the
// control CPU only.
func TestControlCPUs(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Fatalf("%d CPU: the test needs two, one for the forwarding thread and one for the rest", runtime.NumCPU())
	}
	last := strconv.Itoa(runtime.NumCPU() - 1)
	d := startR2(t, uniqueInstance(t), "-cpus", last, "-control-cpus", "0")
	tp := newTopo(t)
	attachAll(t, d, tp)
	var batch strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&batch, "10.%d.%d.0/24 10.2.0.1 %s\n", 100+i/256, i%256, tp.RouterIfB)
	}
	rf := filepath.Join(t.TempDir(), "routes")
	if err := os.WriteFile(rf, []byte(batch.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	d.must(t, "r2rt", "load", rf)
	pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 5)
	tcpTransfer(t, tp, 4<<20)

	cpus := map[string][]string{} // allowed CPU list -> thread IDs
	dir := fmt.Sprintf("/proc/%d/task", d.cmd.Process.Pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "status"))
		if err != nil {
			continue // exited meanwhile
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
				v = strings.TrimSpace(v)
				cpus[v] = append(cpus[v], e.Name())
			}
		}
	}
	t.Logf("threads by allowed CPUs: %v", cpus)
	if len(cpus[last]) != 1 {
		t.Errorf("%d threads on CPU %s, want 1 (the forwarding thread)", len(cpus[last]), last)
	}
	if len(cpus["0"]) < 3 {
		t.Errorf("%d threads on CPU 0, want every other thread of the daemon (3 or more)", len(cpus["0"]))
	}
	for list, tids := range cpus {
		if list != last && list != "0" {
			t.Errorf("threads %v may use CPUs %s: neither the control CPU nor the forwarding one", tids, list)
		}
	}
	if !strings.Contains(d.log.String(), "control threads on CPUs [0]") {
		t.Errorf("the log does not say where the control threads run:\n%s", d.log.String())
	}
}
