//go:build linux

package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/topo"
)

// TestAFXDPJumbo runs h1 - R2 - h2 with MTU 9000 and the hosts' offloads on
// (checksum offload, GSO; veth clears the peers' TSO while R2's XDP
// program is attached, so the hosts segment before the veth) with both of
// R2's interfaces on AF_XDP: jumbo pings pass unfragmented, and a TCP
// transfer arrives intact (SHA-256 compared) with frames over 2 KiB
// received in several descriptors (drv_rx_multibuf) and the checksums the
// hosts left partial completed (drv_rx_csum_fixed).
func TestAFXDPJumbo(t *testing.T) {
	const size = 1 << 30
	tp, err := topo.New(topo.Config{MTU: 9000, Offloads: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	d := startR2(t, uniqueInstance(t))
	for _, ifn := range []string{tp.RouterIfA, tp.RouterIfB} {
		d.must(t, "r2intf", ifn, "add", "auto", "--thread", "0", "--driver", "afxdp")
	}
	d.must(t, "r2intf", tp.RouterIfA, "ip", "10.1.0.2/24")
	d.must(t, "r2intf", tp.RouterIfB, "ip", "10.2.0.2/24")
	if show := d.must(t, "r2intf", "show"); strings.Count(show, "afxdp") != 2 {
		t.Fatalf("interfaces not both on afxdp:\n%s", show)
	}
	off, err := tp.Offloads(tp.H1NS, tp.H1If)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("h1's offloads with R2's program attached to its peer: %v", off)
	pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 3)
	out, err := exec.Command("ip", "netns", "exec", tp.H1NS, "ping", "-c", "5", "-i", "0.05", "-W", "2", "-M", "do", "-s", "8972", "10.2.0.1").CombinedOutput()
	if err != nil || !strings.Contains(string(out), " 0% packet loss") {
		t.Fatalf("jumbo ping (9000-byte IP packets, DF): %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logCounters(t, d)
		}
	})
	before := d.counters(t)
	tcpTransfer(t, tp, size)
	after := d.counters(t)
	delta := func(name string) uint64 {
		var a, b uint64
		if v := after[name]; len(v) > 0 {
			a = v[0]
		}
		if v := before[name]; len(v) > 0 {
			b = v[0]
		}
		return a - b
	}
	for _, ifn := range []string{tp.RouterIfA, tp.RouterIfB} {
		mb, fixed := delta(names.IfNodeCounter(ifn, driver.DrvRxMultiBuf)), delta(names.IfNodeCounter(ifn, driver.DrvRxCsumFixed))
		rx := delta(names.IfNodeCounter(ifn, "rx"))
		t.Logf("%s: rx %d, multi-buffer %d, checksums completed %d, tx multi-buffer %d", ifn, rx, mb, fixed,
			delta(names.IfNodeCounter(ifn, driver.DrvTxMultiBuf)))
		if v := delta(names.IfNodeCounter(ifn, driver.DrvRxErrors)); v != 0 {
			t.Errorf("%s: drv_rx_errors %d", ifn, v)
		}
		if fixed == 0 {
			t.Errorf("%s: no partial checksum completed with the hosts' checksum offload on", ifn)
		}
	}
	if mb := delta(names.IfNodeCounter(tp.RouterIfA, driver.DrvRxMultiBuf)); mb < size/9000/2 {
		t.Errorf("%s received %d multi-buffer frames for %d MB of 9000-byte MTU TCP", tp.RouterIfA, mb, size>>20)
	}
	if tx := delta(names.IfNodeCounter(tp.RouterIfB, driver.DrvTxMultiBuf)); tx == 0 {
		t.Errorf("%s sent no multi-buffer frame", tp.RouterIfB)
	}
}

// logCounters logs d's non-zero counters (summed over threads), for a
// failure's diagnosis.
func logCounters(t *testing.T, d *daemon) {
	t.Helper()
	var b strings.Builder
	for name, v := range d.counters(t) {
		if len(v) > 0 && v[0] != 0 {
			fmt.Fprintf(&b, "%s %v\n", name, v)
		}
	}
	t.Logf("counters:\n%s", b.String())
}
