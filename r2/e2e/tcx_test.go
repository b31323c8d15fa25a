//go:build linux

package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netns"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/logs"
	"github.com/r2go/r2/r2/api"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/internal/nstest"
	"github.com/r2go/r2/r2/names"
)

// TestKernelRxFilter: the daemon attaches the AF_PACKET tcx filter with
// the interface and removes it with the interface, when killed, and not
// at all with -kernel-rx-filter=false; where the kernel forwards both
// families it runs without one, logs why and counts it.
func TestKernelRxFilter(t *testing.T) {
	pfx := fmt.Sprintf("kf%d", os.Getpid()%100000)
	r, p := pfx+"-r", pfx+"-p"
	for _, ns := range []string{r, p} {
		sh(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	ra := pfx + "ra"
	sh(t, "ip", "link", "add", ra, "netns", r, "type", "veth", "peer", "name", pfx+"pa", "netns", p)
	sh(t, "ip", "-n", r, "link", "set", ra, "up")
	sh(t, "ip", "-n", p, "link", "set", pfx+"pa", "up")
	nsh, err := netns.GetFromName(r)
	if err != nil {
		t.Fatal(err)
	}
	defer nsh.Close()
	programs := func() int {
		t.Helper()
		var n int
		err := nstest.InNS(nsh, func() error {
			ifi, err := net.InterfaceByName(ra)
			if err != nil {
				return err
			}
			q, err := link.QueryPrograms(link.QueryOptions{Target: ifi.Index, Attach: ebpf.AttachTCXIngress})
			if err != nil {
				return err
			}
			n = len(q.Programs)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitPrograms := func(want int, what string) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for programs() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d tcx programs on %s, want %d", what, programs(), ra, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	d := startR2In(t, r, uniqueInstance(t))
	d.must(t, "r2intf", ra, "add", "auto")
	waitPrograms(1, "attached")
	d.must(t, "r2intf", ra, "del")
	waitPrograms(0, "after r2intf del")
	d.must(t, "r2intf", ra, "add", "auto")
	waitPrograms(1, "attached again")
	// ip netns exec runs r2 as its child's image (exec), so the process
	// is r2 itself.
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.stopped = true
	<-d.done
	// What only a clean exit removes: the API socket and the counter
	// and log files (a restart would replace them).
	for _, f := range []string{api.SocketPath(d.instance), counters.InstancePath(d.instance), logs.InstancePath(d.instance)} {
		os.Remove(f)
	}
	waitPrograms(0, "after R2 was killed")

	off := startR2In(t, r, uniqueInstance(t), "-kernel-rx-filter=false")
	off.must(t, "r2intf", ra, "add", "auto")
	time.Sleep(100 * time.Millisecond)
	waitPrograms(0, "-kernel-rx-filter=false")
	off.stop(t)

	// The kernel forwards both families: nothing to filter, said once.
	sh(t, "ip", "netns", "exec", r, "sysctl", "-qw", "net.ipv4.conf."+ra+".forwarding=1", "net.ipv6.conf.all.forwarding=1")
	fwd := startR2In(t, r, uniqueInstance(t))
	fwd.must(t, "r2intf", ra, "add", "auto")
	waitPrograms(0, "kernel forwarding")
	if got := fwd.counter(t, names.IfNodeCounter(ra, driver.DrvKernelFilterOff)); got != 1 {
		t.Errorf("%s = %d, want 1", driver.DrvKernelFilterOff, got)
	}
	if log := fwd.log.String(); !strings.Contains(log, "without the kernel rx filter") || !strings.Contains(log, "forwards both") {
		t.Errorf("no log line saying why the filter is off:\n%s", log)
	}
}
