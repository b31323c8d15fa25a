//go:build linux

package e2e

import (
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/internal/bpfasm"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/topo"
)

// Light-flow steering under test: gap, and the pauses of the flows meant
// to be light. The gap is ten times the default so that a shared CI
// machine's scheduling delays stay far below it (a thread kept off its CPU
// longer than the gap could see a moved flow reordered, by design).
const (
	steerGap     = 20 * time.Millisecond
	steerPause   = 30 * time.Millisecond
	patternRuns  = 10 // cycles of the pattern flow
	patternBurst = 30
)

// TestLightFlowSteering runs the daemon with one thread and four receive
// rings per interface (AF_PACKET's fanout sockets, AF_XDP's sockets on the
// veth's queue), and with two AF_PACKET threads of four rings each, and
// light-flow steering (-light-gap, -afxdp-light-gap)
// while trafgen floods 16 UDP flows from h1 through R2. Beside the flood,
// a ping every 50 ms and a UDP flow that alternates single datagrams and
// bursts, each after a pause longer than the gap (so it moves between
// ring 0 and its own ring twice a cycle), pass through: the flood's frames
// never enter ring 0, which holds the pings and the pattern flow's light
// part, exactly as many of them as the rule says, and the pattern flow
// arrives in order.
func TestLightFlowSteering(t *testing.T) {
	gap := strconv.Itoa(int(steerGap / time.Microsecond))
	for _, c := range []struct {
		name, driver string
		args         []string
		threads      string // serving each interface
	}{
		{"afpacket", "afpacket", []string{"-rx-queues", "4", "-light-gap", gap}, "0"},
		{"afxdp", "afxdp", []string{"-afxdp-rx-rings", "4", "-afxdp-light-gap", gap}, "0"},
		// Two threads in one fanout group: the program picks the
		// thread by the flow's hash and the ring there by its rate
		// (ring counters are summed over the threads).
		{"afpacket-2threads", "afpacket", []string{"-rx-queues", "4", "-light-gap", gap}, "0,1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			threads := strconv.Itoa(strings.Count(c.threads, ",") + 1)
			d := startR2(t, uniqueInstance(t), append([]string{"-threads", threads}, c.args...)...)
			tp := newTopo(t)
			attachAll(t, d, tp, "--driver", c.driver, "--threads", c.threads)
			if show := d.must(t, "r2intf", "show"); strings.Count(show, c.driver) != 2 {
				t.Fatalf("interfaces not both on %s:\n%s", c.driver, show)
			}
			steerFlood(t, d, tp)
		})
	}
}

// steerFlood is TestLightFlowSteering's measurement on a running daemon
// with tp's interfaces added.
func steerFlood(t *testing.T, d *daemon, tp *topo.Topology) {
	d.must(t, "r2rt", "route", "10.9.0.0/24", "10.2.0.1", tp.RouterIfB)
	pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 2)
	if logs := d.log.String(); strings.Contains(logs, "without light-flow steering") {
		t.Fatalf("steering off:\n%s", logs)
	}

	before := d.counters(t)
	stopGen := startFlood(t, tp, "")
	defer stopGen()
	time.Sleep(300 * time.Millisecond)

	srv, sout, serr := startListener(t, tp.H2NS, "udp-recv", "R2E2E_ADDR=10.2.0.1:5003")
	pattern := inNS(tp.H1NS, "udp-pattern", "R2E2E_ADDR=10.2.0.1:5003")
	patternDone := make(chan error, 1)
	var patternOut []byte
	go func() {
		var err error
		patternOut, err = pattern.CombinedOutput()
		patternDone <- err
	}()
	const pings = 40
	ping, err := tp.Ping(tp.H1NS, "10.2.0.1", pings, 50*time.Millisecond)
	if err != nil {
		t.Fatalf("ping beside the flood: %v", err)
	}
	if err := <-patternDone; err != nil {
		t.Fatalf("pattern sender: %v\n%s", err, patternOut)
	}
	stopGen()
	if err := srv.Wait(); err != nil {
		t.Fatalf("udp receiver: %v\n%s", err, serr.String())
	}
	var recv, reorders int
	got := strings.TrimSpace(strings.TrimPrefix(sout.String(), "listening\n"))
	if _, err := fmt.Sscanf(got, "%d %d", &recv, &reorders); err != nil {
		t.Fatalf("udp receiver said %q: %v", got, err)
	}
	after := d.counters(t)
	delta := func(name string) uint64 { return firstOf(after[name]) - firstOf(before[name]) }
	var rings [4]uint64
	for i := range rings {
		rings[i] = delta(names.IfNodeCounter(tp.RouterIfA, driver.RxRingCounter(i)))
	}
	t.Logf("ping %d/%d, median %v, max %v; pattern flow %d received, %d reordered; frames per ring of %s %v",
		ping.Received, ping.Transmitted, ping.Percentile(50), ping.Max, recv, reorders, tp.RouterIfA, rings)

	if reorders != 0 {
		t.Errorf("the pattern flow, moved between rings across pauses, had %d of %d datagrams out of order", reorders, recv)
	}
	sent := patternRuns * (2 + 2*patternBurst)
	if recv < sent/2 {
		t.Errorf("pattern flow: %d of %d datagrams arrived", recv, sent)
	}
	if flood := rings[1] + rings[2] + rings[3]; flood < 10000 {
		t.Errorf("rings 1-3 of %s took %d frames: the flood did not run", tp.RouterIfA, flood)
	}
	// Ring 0 has the pings after the first two and, per cycle of the
	// pattern, its second single and its first burst (it moved there
	// at the second sparse datagram in a row); besides those only the
	// odd ARP frame, and on a loaded machine the odd flood flow whose
	// sender stalled for two gaps in a row, which looks light until its
	// next bpfasm.SteerDenseRun frames (seen once, 64 frames, with CI
	// running beside). Without steering the flood's flows would fill
	// it (hundreds of thousands of frames).
	light := uint64(ping.Transmitted-2) + uint64(patternRuns*(1+patternBurst))
	if rings[0] < light/2 || rings[0] > light+32+16*bpfasm.SteerDenseRun {
		t.Errorf("ring 0 of %s took %d frames: want about %d (the pings and the pattern flow's light part), never the flood's", tp.RouterIfA, rings[0], light)
	}
	if ping.Received == 0 {
		t.Errorf("no ping answered beside the flood")
	}
}

// udpPattern sends one UDP flow to addr in patternRuns cycles of: a
// datagram, a pause, a datagram, a pause, a burst, a pause, a burst, a
// pause (steerPause each), each datagram carrying (flow 0, sequence) as
// udpReceiver reads them. Under steering the flow's second single moves
// to ring 0, its first burst follows it there, and its second burst moves
// back (TestLightFlowSteering).
func udpPattern(addr string) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	b := make([]byte, 32)
	seq := uint32(0)
	send := func(n int) {
		for range n {
			binary.BigEndian.PutUint32(b[4:], seq)
			c.Write(b)
			seq++
		}
		time.Sleep(steerPause)
	}
	for range patternRuns {
		send(1)
		send(1)
		send(patternBurst)
		send(patternBurst)
	}
	return nil
}
