package encap

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/r2go/r2/fwd"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

// These tests are internal: the graph's clock is wall time since the graph
// was made and has no hook, so timers (resolve timeout, re-requests,
// refresh, aging) are tested by moving the node's recorded timestamps into
// the past instead of sleeping.

var (
	ourMAC  = gt.MAC("02:00:00:00:00:02")
	gwMAC   = gt.MAC("02:00:00:00:01:01")
	hostMAC = gt.MAC("02:00:00:00:01:02")
)

const (
	ename = "EtherEncap:eth1"
	iname = "IfNode:eth1"
)

// eth1, ifindex 2: 10.2.0.2/24 and 192.168.5.1/24.
func intf() *fwd.Interface {
	return &fwd.Interface{Ifindex: 2, Name: "eth1", MAC: ourMAC, MTU: 1500, Up: true, Addrs: []netip.Prefix{
		netip.MustParsePrefix("10.2.0.2/24"), netip.MustParsePrefix("192.168.5.1/24")}}
}

func setup(t *testing.T, i *fwd.Interface) (*gt.Harness, *Node, *gt.Sink) {
	h := gt.New(t, gt.Options{PoolSize: 2048})
	n := gt.Add(h, New(i))
	return h, n, h.SinkSize(names.IfNode(i.Name), 1024)
}

var payloadN int

// ipPkt is a distinct IPv4 packet for next hop nh, as EncapMux passes it.
func ipPkt(h *gt.Harness, nh uint32) (*packet.Packet, []byte) {
	payloadN++
	ip := gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.50.0.1"), 63, hdr.ProtoUDP, gt.UDP(uint16(payloadN), 9, []byte("payload")))
	p := h.L3(gt.Ether(ourMAC, hostMAC, hdr.EtherTypeIPv4, ip))
	p.OutIfindex = 2
	p.NextHop = nh
	return p, ip
}

func ethIPv4(dst [6]byte, ip []byte) []byte { return gt.Ether(dst, ourMAC, hdr.EtherTypeIPv4, ip) }

func arpRequest(spa, tpa string) []byte {
	return gt.Pad(gt.Ether(gt.Broadcast, ourMAC, hdr.EtherTypeARP, gt.ARP(hdr.ARPRequest, ourMAC, gt.IP(spa), [6]byte{}, gt.IP(tpa))), 60)
}

func learn(h *gt.Harness, ip string, mac [6]byte) {
	h.Control(msg.MACLearned{Ifindex: 2, IP: gt.IP(ip), MAC: mac})
}

func expectFrames(t *testing.T, out *gt.Sink, want ...[]byte) {
	t.Helper()
	got := out.Datas()
	if len(got) != len(want) {
		t.Fatalf("IfNode got %d frames, want %d:\n%x", len(got), len(want), got)
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("frame %d\n%x\nwant\n%x", i, got[i], want[i])
		}
	}
}

func TestKnownNeighbour(t *testing.T) {
	h, n, out := setup(t, intf())
	learn(h, "10.2.0.1", gwMAC)
	learn(h, "10.2.0.9", hostMAC)
	h.Control(msg.MACLearned{Ifindex: 3, IP: gt.IP("10.2.0.1"), MAC: hostMAC}) // another interface: ignored
	if n.Neighbours() != 2 {
		t.Fatalf("%d neighbours, want 2", n.Neighbours())
	}
	p1, ip1 := ipPkt(h, gt.IP("10.2.0.1"))
	p2, ip2 := ipPkt(h, gt.IP("10.2.0.9"))
	h.Inject(ename, p1, p2)
	h.RunUntilIdle()
	expectFrames(t, out, ethIPv4(gwMAC, ip1), ethIPv4(hostMAC, ip2))
	for _, p := range out.Take() {
		if p.L2 != p.Head() {
			t.Errorf("L2 %d, head %d", p.L2, p.Head())
		}
		h.Free(p)
	}
	h.ExpectCounters(map[string]uint64{ename + "/enq": 2, iname + "/enq": 2, ename + "/neigh_learned": 2})
	h.Done()
}

// TestMissHoldResolve: a miss holds the packet and broadcasts a request from
// the address on the next hop's subnet; the answer (MACLearned) releases
// the held packets, in order, at the next Dispatch.
func TestMissHoldResolve(t *testing.T) {
	for _, tc := range []struct {
		name, nh, src string
	}{
		{name: "first subnet", nh: "10.2.0.77", src: "10.2.0.2"},
		{name: "second subnet", nh: "192.168.5.7", src: "192.168.5.1"},
		{name: "off every subnet: first address", nh: "172.16.0.1", src: "10.2.0.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, n, out := setup(t, intf())
			p1, ip1 := ipPkt(h, gt.IP(tc.nh))
			p2, ip2 := ipPkt(h, gt.IP(tc.nh))
			h.Inject(ename, p1)
			h.Run()
			_, wake := h.Run()
			if wake != ARPInterval {
				t.Errorf("Run asked to be woken in %d ns, want %d", wake, ARPInterval)
			}
			h.Inject(ename, p2) // same next hop, within a second: no second request
			h.RunUntilIdle()
			expectFrames(t, out, arpRequest(tc.src, tc.nh))
			h.Free(out.Take()...)
			if n.npend != 1 {
				t.Errorf("%d pending next hops", n.npend)
			}
			learn(h, tc.nh, gwMAC)
			h.RunUntilIdle()
			expectFrames(t, out, ethIPv4(gwMAC, ip1), ethIPv4(gwMAC, ip2))
			if n.npend != 0 {
				t.Errorf("%d pending next hops after resolution", n.npend)
			}
			h.ExpectCounters(map[string]uint64{ename + "/enq": 2, iname + "/enq": 3, ename + "/arp_miss": 2,
				ename + "/held": 2, ename + "/arp_requests_sent": 1, ename + "/neigh_learned": 1, ename + "/held_sent": 2})
			h.Done()
		})
	}
}

func TestHoldFull(t *testing.T) {
	h, _, out := setup(t, intf())
	nh := gt.IP("10.2.0.77")
	var ips [][]byte
	for i := 0; i < HoldPerNextHop+2; i++ {
		p, ip := ipPkt(h, nh)
		ips = append(ips, ip)
		h.Inject(ename, p)
	}
	h.RunUntilIdle()
	learn(h, "10.2.0.77", gwMAC)
	h.RunUntilIdle()
	want := [][]byte{arpRequest("10.2.0.2", "10.2.0.77")}
	for _, ip := range ips[:HoldPerNextHop] {
		want = append(want, ethIPv4(gwMAC, ip))
	}
	expectFrames(t, out, want...)
	h.ExpectCounters(map[string]uint64{ename + "/enq": HoldPerNextHop + 2, iname + "/enq": HoldPerNextHop + 1,
		ename + "/arp_miss": HoldPerNextHop + 2, ename + "/held": HoldPerNextHop, ename + "/hold_full": 2,
		ename + "/arp_requests_sent": 1, ename + "/neigh_learned": 1, ename + "/held_sent": HoldPerNextHop})
	h.Done()
}

func TestPendingFull(t *testing.T) {
	h, n, out := setup(t, intf())
	base := gt.IP("10.2.0.100")
	for i := 0; i <= MaxPending; i++ {
		p, _ := ipPkt(h, base+uint32(i))
		h.Inject(ename, p)
	}
	h.RunUntilIdle()
	if out.Len() != MaxPending || n.npend != MaxPending {
		t.Errorf("%d requests, %d pending; want %d", out.Len(), n.npend, MaxPending)
	}
	// The 65th next hop is dropped, without a request.
	for i, f := range out.Datas() {
		if tpa := hdr.ARP(f[14:]).TargetIP(); tpa != base+uint32(i) {
			t.Errorf("request %d for %s", i, fwd.U32ToIPv4(tpa))
		}
	}
	h.ExpectCounters(map[string]uint64{ename + "/enq": MaxPending + 1, iname + "/enq": MaxPending,
		ename + "/arp_miss": MaxPending + 1, ename + "/held": MaxPending, ename + "/pending_full": 1,
		ename + "/arp_requests_sent": MaxPending})
	// Removing the node frees what it holds.
	h.Free(out.Take()...)
	if !h.G.Remove(ename) {
		t.Fatal("Remove")
	}
	h.CheckPool(0)
}

// TestResolveRetryAndTimeout: an unanswered next hop is asked again every
// ARPInterval and its packets are dropped after ResolveTimeout.
func TestResolveRetryAndTimeout(t *testing.T) {
	h, n, out := setup(t, intf())
	for i := 0; i < 3; i++ {
		p, _ := ipPkt(h, gt.IP("10.2.0.77"))
		h.Inject(ename, p)
	}
	h.RunUntilIdle()
	pe := &n.pend[0]
	if pe.ip != gt.IP("10.2.0.77") || pe.n != 3 {
		t.Fatalf("pending entry %+v", *pe)
	}
	// Not yet a second: nothing new.
	h.RunUntilIdle()
	if out.Len() != 1 {
		t.Fatalf("%d requests before the interval", out.Len())
	}
	// A second later: asked again, still held.
	pe.asked -= ARPInterval
	pe.first -= ARPInterval
	_, wake := h.Run()
	if out.Len() != 2 || pe.n != 3 || wake != ARPInterval {
		t.Fatalf("after 1s: %d requests, %d held, wake %d", out.Len(), pe.n, wake)
	}
	// ResolveTimeout after the first packet: dropped.
	pe.first -= ResolveTimeout - ARPInterval
	_, wake = h.Run()
	if n.npend != 0 || pe.ip != 0 {
		t.Errorf("still pending after the timeout: %+v", *pe)
	}
	if wake != -1 {
		t.Errorf("wake %d after giving up, want -1", wake)
	}
	expectFrames(t, out, arpRequest("10.2.0.2", "10.2.0.77"), arpRequest("10.2.0.2", "10.2.0.77"))
	h.ExpectCounters(map[string]uint64{ename + "/enq": 3, iname + "/enq": 2, ename + "/arp_miss": 3,
		ename + "/held": 3, ename + "/arp_requests_sent": 2, ename + "/resolve_timeout": 3})
	// The slot is free again: a new packet starts a new resolution.
	p, _ := ipPkt(h, gt.IP("10.2.0.77"))
	h.Inject(ename, p)
	h.RunUntilIdle()
	if n.npend != 1 || out.Len() != 3 {
		t.Errorf("new resolution: %d pending, %d requests", n.npend, out.Len())
	}
	h.Free(out.Take()...)
	h.G.Remove(ename)
	h.CheckPool(0)
}

// TestRefresh: an entry in use older than RefreshAge is asked for again
// (once per ARPInterval) while packets keep flowing.
func TestRefresh(t *testing.T) {
	h, n, out := setup(t, intf())
	h.Run()
	learn(h, "10.2.0.1", gwMAC)
	e := n.neighs.get(gt.IP("10.2.0.1"))
	e.seen -= RefreshAge + 1
	e.asked -= 2 * ARPInterval // the graph's clock is only ms old: never asked "at time 0"
	p1, ip1 := ipPkt(h, gt.IP("10.2.0.1"))
	p2, ip2 := ipPkt(h, gt.IP("10.2.0.1"))
	h.Inject(ename, p1, p2)
	h.RunUntilIdle()
	// The request goes first (it is made while handling p1), then p1, p2.
	expectFrames(t, out, arpRequest("10.2.0.2", "10.2.0.1"), ethIPv4(gwMAC, ip1), ethIPv4(gwMAC, ip2))
	// The answer refreshes the entry: no more requests.
	learn(h, "10.2.0.1", gwMAC)
	e.asked -= 2 * ARPInterval
	p3, ip3 := ipPkt(h, gt.IP("10.2.0.1"))
	h.Inject(ename, p3)
	h.RunUntilIdle()
	expectFrames(t, out, arpRequest("10.2.0.2", "10.2.0.1"), ethIPv4(gwMAC, ip1), ethIPv4(gwMAC, ip2), ethIPv4(gwMAC, ip3))
	h.ExpectCounters(map[string]uint64{ename + "/enq": 3, iname + "/enq": 4, ename + "/neigh_learned": 2,
		ename + "/neigh_refresh": 1, ename + "/arp_requests_sent": 1})
	h.Done()
}

// TestAging: entries not refreshed for MaxAge are removed by the periodic
// sweep (at most once a second); later packets miss.
func TestAging(t *testing.T) {
	h, n, out := setup(t, intf())
	h.Run()
	learn(h, "10.2.0.1", gwMAC)
	learn(h, "10.2.0.9", hostMAC)
	n.neighs.get(gt.IP("10.2.0.1")).seen -= MaxAge + 1
	h.Run() // the sweep ran less than a second ago (or never): nothing yet
	n.lastAge -= 2e9
	h.Run()
	if n.Neighbours() != 1 || n.neighs.get(gt.IP("10.2.0.1")) != nil || n.neighs.get(gt.IP("10.2.0.9")) == nil {
		t.Fatalf("after aging: %d neighbours", n.Neighbours())
	}
	p, _ := ipPkt(h, gt.IP("10.2.0.1"))
	h.Inject(ename, p)
	h.RunUntilIdle()
	expectFrames(t, out, arpRequest("10.2.0.2", "10.2.0.1"))
	h.ExpectCounters(map[string]uint64{ename + "/enq": 1, iname + "/enq": 1, ename + "/neigh_learned": 2,
		ename + "/neigh_aged": 1, ename + "/arp_miss": 1, ename + "/held": 1, ename + "/arp_requests_sent": 1})
	h.Free(out.Take()...)
	h.G.Remove(ename)
	h.CheckPool(0)
}

func TestForget(t *testing.T) {
	h, n, _ := setup(t, intf())
	learn(h, "10.2.0.1", gwMAC)
	learn(h, "10.2.0.9", hostMAC)
	learn(h, "10.2.0.10", hostMAC)
	h.Control(msg.MACForget{Ifindex: 3, IP: 0}) // another interface
	h.Control(msg.MACForget{Ifindex: 2, IP: gt.IP("10.2.0.9")})
	if n.Neighbours() != 2 || n.neighs.get(gt.IP("10.2.0.9")) != nil || n.neighs.get(gt.IP("10.2.0.10")) == nil {
		t.Fatalf("after forgetting one: %d", n.Neighbours())
	}
	h.Control(msg.MACForget{Ifindex: 2, IP: 0})
	if n.Neighbours() != 0 || n.neighs.get(gt.IP("10.2.0.1")) != nil {
		t.Fatalf("after forgetting all: %d", n.Neighbours())
	}
	h.Done()
}

func TestNoSourceAddress(t *testing.T) {
	i := intf()
	i.Addrs = nil
	h, n, out := setup(t, i)
	p, _ := ipPkt(h, gt.IP("10.2.0.1"))
	h.Inject(ename, p)
	h.RunUntilIdle()
	if out.Len() != 0 || n.npend != 1 {
		t.Errorf("%d frames out, %d pending", out.Len(), n.npend)
	}
	h.ExpectCounters(map[string]uint64{ename + "/enq": 1, ename + "/arp_miss": 1, ename + "/held": 1, ename + "/no_src_addr": 1})
	h.G.Remove(ename)
	h.CheckPool(0)
}

// TestInterfacesSwap: a new MAC is used from the next Run.
func TestInterfacesSwap(t *testing.T) {
	h, _, out := setup(t, intf())
	learn(h, "10.2.0.1", gwMAC)
	i := intf().Clone()
	i.MAC = gt.MAC("02:00:00:00:00:ee")
	var s *fwd.Interfaces
	h.Control(msg.Interfaces{Snapshot: s.With(i)})
	p, ip := ipPkt(h, gt.IP("10.2.0.1"))
	h.Inject(ename, p)
	h.RunUntilIdle()
	expectFrames(t, out, gt.Ether(gwMAC, i.MAC, hdr.EtherTypeIPv4, ip))
	h.Done()
}

// TestNoHeadroom: a packet without room for the Ethernet header is dropped.
func TestNoHeadroom(t *testing.T) {
	h, _, out := setup(t, intf())
	learn(h, "10.2.0.1", gwMAC)
	p, _ := ipPkt(h, gt.IP("10.2.0.1"))
	p.Push(p.Head() - 5)
	h.Inject(ename, p)
	h.RunUntilIdle()
	if out.Len() != 0 {
		t.Error("sent")
	}
	h.ExpectCounters(map[string]uint64{ename + "/enq": 1, ename + "/neigh_learned": 1, ename + "/no_headroom": 1})
	h.Done()
}

// TestNextHopZero: 0.0.0.0 is never a neighbour, so a packet whose next
// hop is 0 (nothing set it) must not be sent with a made-up MAC.
func TestNextHopZero(t *testing.T) {
	h, _, out := setup(t, intf())
	p, _ := ipPkt(h, 0)
	h.Inject(ename, p)
	h.RunUntilIdle()
	if out.Len() != 0 {
		t.Errorf("sent %x", out.Datas())
	}
	h.Done()
}
