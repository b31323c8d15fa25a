//go:build linux

package e2e

import (
	"testing"

	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/names"
)

// TestRxQueues runs the daemon with four AF_PACKET receive rings per
// interface (-rx-queues 4): one interface served by one thread (its four
// sockets in a group named by its ifindex), the other by two (eight
// sockets in one group). Pings pass, UDP flows arrive in order, and both
// interfaces deleted and added back under traffic work again.
func TestRxQueues(t *testing.T) {
	d := startR2(t, uniqueInstance(t), "-threads", "2", "-rx-queues", "4")
	tp := newTopo(t)
	d.must(t, "r2intf", tp.RouterIfA, "add", "auto")
	d.must(t, "r2intf", tp.RouterIfB, "add", "auto", "--threads", "0,1")
	d.must(t, "r2intf", tp.RouterIfA, "ip", "10.1.0.2/24")
	d.must(t, "r2intf", tp.RouterIfB, "ip", "10.2.0.2/24")
	pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 5)

	recv, reorders := udpOrder(t, tp)
	if reorders != 0 {
		t.Errorf("UDP: %d of %d frames arrived out of order within their flow", reorders, recv)
	}
	if recv < udpFlows*udpPerFlow/2 {
		t.Errorf("UDP: received %d of %d", recv, udpFlows*udpPerFlow)
	}
	// The rings' counters (drv_rx_ring0..3) add up to what the
	// interface received, and the 16 flows used more than one ring.
	c := d.counters(t)
	var sum uint64
	used := 0
	for i := range 4 {
		name := names.IfNodeCounter(tp.RouterIfA, driver.RxRingCounter(i))
		v := c[name]
		if len(v) == 0 {
			t.Fatalf("no counter %s", name)
		}
		sum += v[0]
		if v[0] > 0 {
			used++
		}
	}
	if rx := c[names.IfNodeCounter(tp.RouterIfA, "rx")]; len(rx) == 0 || rx[0] != sum {
		t.Errorf("%s's rings counted %d frames, the interface received %v", tp.RouterIfA, sum, rx)
	}
	if used < 2 {
		t.Errorf("%d UDP flows all came through one of 4 rings", udpFlows)
	}

	// Delete and add back both while UDP flows run: the groups are
	// left and made again (a kernel-picked group id could have taken
	// the id the two-thread interface's group needs).
	done := make(chan struct{})
	go func() {
		defer close(done)
		udpSend(tp, 2000)
	}()
	d.must(t, "r2intf", tp.RouterIfA, "del")
	d.must(t, "r2intf", tp.RouterIfB, "del")
	d.must(t, "r2intf", tp.RouterIfB, "add", "auto")
	d.must(t, "r2intf", tp.RouterIfA, "add", "auto", "--threads", "1,0")
	d.must(t, "r2intf", tp.RouterIfA, "ip", "10.1.0.2/24")
	d.must(t, "r2intf", tp.RouterIfB, "ip", "10.2.0.2/24")
	<-done
	pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 5)
	recv, reorders = udpOrder(t, tp)
	if reorders != 0 || recv < udpFlows*udpPerFlow/2 {
		t.Errorf("UDP after re-adding: received %d of %d, %d out of order", recv, udpFlows*udpPerFlow, reorders)
	}
}
