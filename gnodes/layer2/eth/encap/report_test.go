package encap

import (
	"testing"

	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
)

func setupUp(t *testing.T, thread int) (*gt.Harness, *Node, *gt.Sink, *msg.Uplink) {
	up := msg.NewUplink(16)
	h := gt.New(t, gt.Options{PoolSize: 2048, Thread: thread, Uplink: up})
	n := gt.Add(h, New(intf()))
	return h, n, h.SinkSize(names.IfNode("eth1"), 1024), up
}

func takeUps(up *msg.Uplink) []msg.Up {
	var out []msg.Up
	for {
		select {
		case u := <-up.C:
			out = append(out, u)
		default:
			return out
		}
	}
}

// TestReports: a new resolution is reported (UpResolving) once, and a
// give-up (UpFailed) once, so that the control side knows the state and
// multipath groups can avoid the next hop.
func TestReports(t *testing.T) {
	h, n, out, up := setupUp(t, 0)
	for i := 0; i < 2; i++ {
		p, _ := ipPkt(h, gt.IP("10.2.0.77"))
		h.Inject(ename, p)
	}
	h.RunUntilIdle()
	want := msg.Up{Kind: msg.UpResolving, Ifindex: 2, IP: gt.IP("10.2.0.77")}
	if got := takeUps(up); len(got) != 1 || got[0] != want {
		t.Fatalf("reports while resolving: %+v, want %+v", got, want)
	}
	n.pend[0].first -= ResolveTimeout
	h.Run()
	want.Kind = msg.UpFailed
	if got := takeUps(up); len(got) != 1 || got[0] != want {
		t.Fatalf("reports after the timeout: %+v, want %+v", got, want)
	}
	h.Free(out.Take()...)
	h.G.Remove(ename)
	h.CheckPool(0)
}

// TestUnansweredRefresh: an entry whose refresh requests go unanswered for
// ResolveTimeout is removed and reported failed (the neighbour died after
// it was resolved); one whose refresh is answered stays.
func TestUnansweredRefresh(t *testing.T) {
	h, n, out, up := setupUp(t, 0)
	h.Run()
	learn(h, "10.2.0.1", gwMAC)
	learn(h, "10.2.0.9", hostMAC)
	for _, ip := range []string{"10.2.0.1", "10.2.0.9"} {
		e := n.neighs.get(gt.IP(ip))
		e.seen -= RefreshAge + 1
		e.asked -= 2 * ARPInterval
		p, _ := ipPkt(h, gt.IP(ip))
		h.Inject(ename, p)
	}
	h.RunUntilIdle()
	if out.Len() != 4 { // two requests, two packets
		t.Fatalf("%d frames, want 2 refresh requests and 2 packets", out.Len())
	}
	learn(h, "10.2.0.9", hostMAC) // 10.2.0.9 answers
	n.neighs.get(gt.IP("10.2.0.1")).unans -= ResolveTimeout + 1
	n.neighs.get(gt.IP("10.2.0.9")).unans -= ResolveTimeout + 1
	n.lastAge -= 2e9
	h.Run()
	if n.neighs.get(gt.IP("10.2.0.1")) != nil || n.neighs.get(gt.IP("10.2.0.9")) == nil {
		t.Fatalf("after the timeout: 10.2.0.1 kept %v, 10.2.0.9 kept %v", n.neighs.get(gt.IP("10.2.0.1")) != nil, n.neighs.get(gt.IP("10.2.0.9")) != nil)
	}
	want := msg.Up{Kind: msg.UpFailed, Ifindex: 2, IP: gt.IP("10.2.0.1")}
	if got := takeUps(up); len(got) != 1 || got[0] != want {
		t.Fatalf("reports: %+v, want %+v", got, want)
	}
	if v := h.Counter(ename + "/neigh_unanswered"); v != 1 {
		t.Errorf("neigh_unanswered %d, want 1", v)
	}
	h.Free(out.Take()...)
	h.Done()
}

// TestStatic: a static entry is used, never re-asked for or aged, and not
// overwritten by a learned one; forgetting it removes it.
func TestStatic(t *testing.T) {
	h, n, out, _ := setupUp(t, 0)
	h.Run()
	h.Control(msg.MACLearned{Ifindex: 2, IP: gt.IP("10.2.0.1"), MAC: gwMAC, Static: true})
	learn(h, "10.2.0.1", hostMAC) // learning does not overwrite it
	e := n.neighs.get(gt.IP("10.2.0.1"))
	e.seen -= MaxAge + 1
	e.asked -= 2 * ARPInterval
	n.lastAge -= 2e9
	p, ip := ipPkt(h, gt.IP("10.2.0.1"))
	h.Inject(ename, p)
	h.RunUntilIdle()
	expectFrames(t, out, ethIPv4(gwMAC, ip)) // no refresh request, not aged
	if v := h.Counter(ename + "/neigh_aged"); v != 0 {
		t.Errorf("static entry aged: %d", v)
	}
	h.Control(msg.MACForget{Ifindex: 2, IP: gt.IP("10.2.0.1")})
	if n.neighs.get(gt.IP("10.2.0.1")) != nil {
		t.Error("static entry not forgotten")
	}
	// IPv6 alike, forgotten with MAC6Forget.
	a := [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}
	h.Control(msg.MAC6Learned{Ifindex: 2, IP: a, MAC: gwMAC, Static: true})
	h.Control(msg.MAC6Learned{Ifindex: 2, IP: a, MAC: hostMAC})
	if e := n.nd.neighs.get(&a); e == nil || !e.static || e.mac != gwMAC {
		t.Fatalf("static IPv6 entry: %+v", e)
	}
	n.nd.neighs.get(&a).seen -= MaxAge + 1
	n.lastAge -= 2e9
	h.Run()
	if n.Neighbours6() != 1 {
		t.Error("static IPv6 entry aged")
	}
	h.Control(msg.MAC6Forget{Ifindex: 2, IP: a})
	if n.Neighbours6() != 0 {
		t.Error("static IPv6 entry not forgotten")
	}
	h.Free(out.Take()...)
	h.Done()
}

// TestProbe: msg.Probe makes the owner thread's node send one request,
// and other threads' nodes nothing.
func TestProbe(t *testing.T) {
	for _, thread := range []int{0, 1} {
		h, _, out, _ := setupUp(t, thread)
		h.Control(msg.Probe{Ifindex: 2, IP: gt.IP("10.2.0.77")})
		h.Control(msg.Probe{Ifindex: 3, IP: gt.IP("10.2.0.78")}) // another interface
		h.RunUntilIdle()
		if thread == 0 {
			expectFrames(t, out, arpRequest("10.2.0.2", "10.2.0.77"))
		} else if out.Len() != 0 {
			t.Errorf("thread %d (not the owner) sent %d frames", thread, out.Len())
		}
		h.Free(out.Take()...)
		h.Done()
	}
}
