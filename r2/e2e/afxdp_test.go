//go:build linux

package e2e

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/topo"
)

// TestAFXDPJumbo runs h1 - R2 - h2 with MTU 9000 and the hosts' offloads on
// (checksum offload, GSO; veth clears the peers' TSO while R2's XDP
// program is attached in driver mode, -afxdp-mode copy, which auto no
// longer picks on a one-queue veth, so the hosts segment before the veth)
// with both of R2's interfaces on AF_XDP: jumbo pings pass unfragmented, 16 flows of
// 9000-byte UDP datagrams arrive in order, and a TCP
// transfer arrives intact (SHA-256 compared) with frames over 2 KiB
// received in several descriptors (drv_rx_multibuf) and the checksums the
// hosts left partial found (drv_rx_csum_fixed: marked to be finished, so
// they leave through the super-frame socket, which the jumbo pings, with
// complete checksums, do not: they are sent in several descriptors,
// drv_tx_multibuf); once the interfaces are deleted, the pools (big
// packets included) are whole.
func TestAFXDPJumbo(t *testing.T) {
	const size = 1 << 30
	tp := newTopoCfg(t, topo.Config{MTU: 9000, Offloads: true})
	d := startR2(t, uniqueInstance(t), "-afxdp-mode", "copy")
	attachAll(t, d, tp, "--thread", "0", "--driver", "afxdp")
	if show := d.must(t, "r2intf", "show"); strings.Count(show, "afxdp") != 2 {
		t.Fatalf("interfaces not both on afxdp:\n%s", show)
	}
	off, err := tp.Offloads(tp.H1NS, tp.H1If)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("h1's offloads with R2's program attached to its peer: %v", off)
	pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 3)
	p0 := d.counters(t)
	out, err := exec.Command("ip", "netns", "exec", tp.H1NS, "ping", "-c", "5", "-i", "0.05", "-W", "2", "-M", "do", "-s", "8972", "10.2.0.1").CombinedOutput()
	if err != nil || !strings.Contains(string(out), " 0% packet loss") {
		t.Fatalf("jumbo ping (9000-byte IP packets, DF): %v\n%s", err, out)
	}
	if tx := firstOf(d.counters(t)[names.IfNodeCounter(tp.RouterIfB, driver.DrvTxMultiBuf)]) - firstOf(p0[names.IfNodeCounter(tp.RouterIfB, driver.DrvTxMultiBuf)]); tx < 5 {
		t.Errorf("%s sent %d multi-buffer frames for 5 jumbo echo requests", tp.RouterIfB, tx)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logCounters(t, d)
		}
	})
	// Jumbo UDP, 16 flows: in order, and every datagram accounted
	// for: forwarded, or dropped by R2's socket for want of buffers
	// (drv_kernel_drops: the sender's bursts of 512 datagrams exceed the
	// fill ring's 2048 chunks, 6 per frame) or by h1's veth.
	c0, h0 := d.counters(t), vethTxDropped(t, tp)
	recv, reorders := udpOrder(t, tp, "R2E2E_SIZE=8972") // 9000-byte IP packets
	c1, h1 := d.counters(t), vethTxDropped(t, tp)
	dc := func(name string) uint64 { return firstOf(c1[name]) - firstOf(c0[name]) }
	rx, fwd := dc(names.IfNodeCounter(tp.RouterIfA, "rx")), dc(names.IfNodeCounter(tp.RouterIfB, "tx"))
	kd := dc(names.IfNodeCounter(tp.RouterIfA, driver.DrvKernelDrops))
	sent := uint64(udpFlows * udpPerFlow)
	t.Logf("jumbo UDP: %d sent, %d received by R2 and %d forwarded, %d dropped by its socket, %d by h1's veth; %d received by h2, %d reordered",
		sent, rx, fwd, kd, h1-h0, recv, reorders)
	if reorders != 0 || recv == 0 || uint64(recv) > fwd || fwd != rx || rx+kd+(h1-h0) != sent {
		t.Errorf("jumbo UDP: accounting or order wrong (see above)")
	}
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
		t.Logf("%s: rx %d, multi-buffer %d, partial checksums %d, tx multi-buffer %d, tx whole %d", ifn, rx, mb, fixed,
			delta(names.IfNodeCounter(ifn, driver.DrvTxMultiBuf)), delta(names.IfNodeCounter(ifn, driver.DrvTxVnet)))
		if v := delta(names.IfNodeCounter(ifn, driver.DrvRxErrors)); v != 0 {
			t.Errorf("%s: drv_rx_errors %d", ifn, v)
		}
		if fixed == 0 {
			t.Errorf("%s: no partial checksum found with the hosts' checksum offload on", ifn)
		}
	}
	if mb := delta(names.IfNodeCounter(tp.RouterIfA, driver.DrvRxMultiBuf)); mb < size/9000/2 {
		t.Errorf("%s received %d multi-buffer frames for %d MB of 9000-byte MTU TCP", tp.RouterIfA, mb, size>>20)
	}
	detachStop(t, d, tp, 1)
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

// TestAFXDPThreads serves both interfaces, veths with two receive queues,
// from threads 0 and 1 on AF_XDP: one socket per queue, each thread
// receiving and sending on its own. Pings pass, 16 UDP flows arrive in
// order with both threads receiving, a TCP transfer arrives intact with
// no segment overtaken by a later one (captured at both hosts), an
// interface deleted and added back under traffic works again, and once both are deleted every thread's
// packet pools are whole (the daemon's accounting at stop).
func TestAFXDPThreads(t *testing.T) {
	tp := newTopoCfg(t, topo.Config{Queues: 2})
	d := startR2(t, uniqueInstance(t), "-threads", "2")
	attachAll(t, d, tp, "--threads", "0,1", "--driver", "afxdp")
	if show := d.must(t, "r2intf", "show"); strings.Count(show, "afxdp") != 2 {
		t.Fatalf("interfaces not both on afxdp:\n%s\n%s", show, d.log.String())
	}
	pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 5)
	udpSpread(t, d, tp)
	tcpTransferInOrder(t, tp, 16<<20, true)
	readdUnderTraffic(t, d, tp, "--threads", "1,0", "--driver", "afxdp")
	if show := d.must(t, "r2intf", "show"); strings.Count(show, "afxdp") != 2 {
		t.Errorf("after delete and add: interfaces not both on afxdp:\n%s", show)
	}
	detachStop(t, d, tp, 2)
}

// checkPoolsWhole checks the daemon's pool accounting at stop: no packet
// or big packet in use on any of threads threads.
func checkPoolsWhole(t *testing.T, d *daemon, threads int) {
	t.Helper()
	log := d.log.String()
	for th := range threads {
		line := ""
		for _, l := range strings.Split(log, "\n") {
			if strings.Contains(l, fmt.Sprintf("thread %d: packets in use ", th)) {
				line = l
			}
		}
		if line == "" || !strings.Contains(line, "packets in use 0 of") || !strings.Contains(line, "big packets in use 0 of") {
			t.Errorf("thread %d: pool accounting at stop %q, want nothing in use", th, line)
		}
	}
}

// TestAFXDPThreadsQueues: an AF_XDP interface with fewer receive queues
// than threads is served by as many threads as it has queues (the others
// hand their packets for it over, as the log says); one with more queues
// than threads is served by every thread on several queues (queue q by
// thread q mod threads), the log naming each thread's queues; there a TCP
// transfer keeps its order and the interface survives delete and add
// under traffic, the pools whole at the end. Until 2026-12-05 that case
// fell back to AF_PACKET.
func TestAFXDPThreadsQueues(t *testing.T) {
	for _, tc := range []struct {
		queues, threads int
		log             []string
	}{
		{1, 2, []string{"threads [1] do not serve it"}},
		{4, 2, []string{", queues 0,2", ", queues 1,3"}},
		// One thread, the interface not in a group: the same rule.
		{2, 1, []string{", queues 0,1"}},
	} {
		t.Run(fmt.Sprintf("queues=%d,threads=%d", tc.queues, tc.threads), func(t *testing.T) {
			tp := newTopoCfg(t, topo.Config{Queues: tc.queues})
			d := startR2(t, uniqueInstance(t), "-threads", "2")
			args := []string{"--driver", "afxdp"}
			if tc.threads == 2 {
				args = append(args, "--threads", "0,1")
			}
			attachAll(t, d, tp, args...)
			if show := d.must(t, "r2intf", "show"); strings.Count(show, "afxdp") != 2 {
				t.Errorf("want both interfaces on afxdp:\n%s", show)
			}
			pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 5)
			recv, reorders := udpOrder(t, tp)
			t.Logf("UDP: %d of %d received, %d reordered", recv, udpFlows*udpPerFlow, reorders)
			if reorders != 0 || recv < udpFlows*udpPerFlow*9/10 {
				t.Errorf("UDP: %d of %d received, %d reordered", recv, udpFlows*udpPerFlow, reorders)
			}
			for _, l := range tc.log {
				if !strings.Contains(d.log.String(), l) {
					t.Errorf("log lacks %q:\n%s", l, d.log.String())
				}
			}
			if tc.queues > tc.threads {
				// Threads on several queues: TCP through them (its
				// super-frames leave through the AF_PACKET socket, the
				// rest through the Tx rings) arrives with no segment
				// overtaken, and a queue set closed and opened again
				// under traffic works.
				tcpTransferInOrder(t, tp, 16<<20, true)
				readdUnderTraffic(t, d, tp, args...)
				if show := d.must(t, "r2intf", "show"); strings.Count(show, "afxdp") != 2 {
					t.Errorf("after delete and add under traffic: %s", show)
				}
			}
			detachStop(t, d, tp, 2)
		})
	}
}

// vethTxDropped reads h1's veth end's tx_dropped: frames the veth dropped
// because R2's side (its XDP ring) was full.
func vethTxDropped(t *testing.T, tp *topo.Topology) uint64 {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", tp.H1NS, "cat", "/sys/class/net/"+tp.H1If+"/statistics/tx_dropped").Output()
	if err != nil {
		t.Fatalf("tx_dropped of %s: %v", tp.H1If, err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestAFXDPModes: [afxdp] mode reaches the driver. With skb both
// interfaces run the program in generic XDP (r2intf show says so, and the
// log says for each how super-frames are received there) and forward
// pings; with zero-copy, which a veth refuses, AF_XDP is refused
// and AF_PACKET serves the interfaces, the log saying why.
func TestAFXDPModes(t *testing.T) {
	t.Run("skb", func(t *testing.T) {
		tp := newTopo(t)
		d := startR2(t, uniqueInstance(t), "-afxdp-mode", "skb")
		attachAll(t, d, tp, "--driver", "afxdp")
		if show := d.must(t, "r2intf", "show"); strings.Count(show, "afxdp copy (generic XDP)") != 2 {
			t.Fatalf("want both interfaces on afxdp in generic XDP:\n%s", show)
		}
		if log := d.log.String(); strings.Count(log, "super-frames (a host's TSO, a NIC's GRO) are passed to the stack and received whole") != 2 {
			t.Errorf("the log does not say once per interface how generic XDP takes super-frames:\n%s", log)
		}
		pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 5)
		pingOK(t, d, tp, tp.H2NS, "10.1.0.1", 5)
		detachStop(t, d, tp, 1)
	})
	t.Run("zero-copy", func(t *testing.T) {
		tp := newTopo(t)
		d := startR2(t, uniqueInstance(t), "-afxdp-mode", "zero-copy")
		attachAll(t, d, tp, "--driver", "afxdp")
		if show := d.must(t, "r2intf", "show"); strings.Count(show, "afpacket") != 2 || strings.Contains(show, "afxdp") {
			t.Fatalf("want both interfaces on afpacket (a veth has no zero-copy):\n%s", show)
		}
		if log := d.log.String(); !strings.Contains(log, "afxdp refused, falling back to afpacket") {
			t.Errorf("log does not say why AF_XDP was refused:\n%s", log)
		}
		pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 5)
		detachStop(t, d, tp, 1)
	})
}
