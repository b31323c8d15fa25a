package encap

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/r2/graph"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

// eth1 with IPv6: 2001:db8:2::2/64; its EUI-64 link-local address (not
// configured) is fe80::ff:fe00:2.
func intf6() *fwd.Interface {
	i := intf()
	i.Addrs = append(i.Addrs, netip.MustParsePrefix("2001:db8:2::2/64"))
	return i
}

const ourLL = "fe80::ff:fe00:2"

func a6(s string) [16]byte { return netip.MustParseAddr(s).As16() }

// ip6Pkt is a distinct IPv6 packet for next hop nh, as EncapMux passes it.
func ip6Pkt(h *gt.Harness, nh string) (*packet.Packet, []byte) {
	payloadN++
	src, dst := a6("2001:db8:1::1"), a6("2001:db8:50::1")
	ip := []byte{0x60, 0, 0, 0, 0, 16, hdr.ProtoUDP, 63}
	ip = append(ip, src[:]...)
	ip = append(ip, dst[:]...)
	ip = append(ip, gt.UDP(uint16(payloadN), 9, []byte("payload"))...)
	p := h.L3(gt.Ether(ourMAC, hostMAC, hdr.EtherTypeIPv6, ip))
	p.OutIfindex = 2
	p.Meta |= packet.MetaIPv6
	p.NextHop6 = a6(nh)
	return p, ip
}

func ethIPv6(dst [6]byte, ip []byte) []byte { return gt.Ether(dst, ourMAC, hdr.EtherTypeIPv6, ip) }

// csum6 is the ICMPv6 checksum of m between src and dst (RFC 4443 2.3),
// computed here independently of r2/hdr, m's checksum field taken as zero.
func csum6(src, dst [16]byte, m []byte) uint16 {
	b := append(append(append([]byte{}, src[:]...), dst[:]...), 0, 0, byte(len(m)>>8), byte(len(m)), 0, 0, 0, 58)
	off := len(b)
	b = append(b, m...)
	b[off+2], b[off+3] = 0, 0
	if len(b)%2 == 1 {
		b = append(b, 0)
	}
	var s uint32
	for i := 0; i < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// nsFrame is the solicitation EtherEncap must send for target: to
// dstMAC/dst from src, with our MAC as source link-layer address.
func nsFrame(dstMAC [6]byte, src, dst, target string) []byte {
	s, d, tg := a6(src), a6(dst), a6(target)
	m := append([]byte{135, 0, 0, 0, 0, 0, 0, 0}, tg[:]...)
	m = append(m, 1, 1)
	m = append(m, ourMAC[:]...)
	binary.BigEndian.PutUint16(m[2:], csum6(s, d, m))
	ip := []byte{0x60, 0, 0, 0, 0, byte(len(m)), 58, 255}
	ip = append(append(append(ip, s[:]...), d[:]...), m...)
	return gt.Ether(dstMAC, ourMAC, hdr.EtherTypeIPv6, ip)
}

func learn6(h *gt.Harness, ip string, mac [6]byte) {
	h.Control(msg.MAC6Learned{Ifindex: 2, IP: a6(ip), MAC: mac})
}

func setup6(t testing.TB) (*gt.Harness, *Node, *gt.Sink) {
	h := gt.New(t, gt.Options{PoolSize: 2048})
	n := gt.Add(h, New(intf6()))
	return h, n, h.SinkSize(names.IfNode("eth1"), 1024)
}

func TestKnownNeighbour6(t *testing.T) {
	h, n, out := setup6(t)
	learn6(h, "fe80::1", gwMAC)
	learn6(h, "2001:db8:2::9", hostMAC)
	h.Control(msg.MAC6Learned{Ifindex: 3, IP: a6("fe80::1"), MAC: hostMAC}) // another interface: ignored
	learn(h, "10.2.0.1", hostMAC)
	if n.Neighbours6() != 2 || n.Neighbours() != 1 {
		t.Fatalf("%d IPv6 and %d IPv4 neighbours, want 2 and 1", n.Neighbours6(), n.Neighbours())
	}
	p1, ip1 := ip6Pkt(h, "fe80::1")
	p2, ip2 := ip6Pkt(h, "2001:db8:2::9")
	p3, ip3 := ipPkt(h, gt.IP("10.2.0.1"))
	p4, ip4 := ip6Pkt(h, "ff02::1")         // multicast: no ND
	p5, ip5 := ip6Pkt(h, "ff02::1:ff00:77") // a solicited-node group
	h.Inject(ename, p1, p2, p3, p4, p5)
	h.RunUntilIdle()
	expectFrames(t, out, ethIPv6(gwMAC, ip1), ethIPv6(hostMAC, ip2), ethIPv4(hostMAC, ip3),
		ethIPv6(gt.MAC("33:33:00:00:00:01"), ip4), ethIPv6(gt.MAC("33:33:ff:00:00:77"), ip5))
	for _, p := range out.Take() {
		if p.L2 != p.Head() {
			t.Errorf("L2 %d, head %d", p.L2, p.Head())
		}
		h.Free(p)
	}
	h.ExpectCounters(map[string]uint64{ename + "/enq": 5, iname + "/enq": 5, ename + "/neigh6_learned": 2,
		ename + "/neigh_learned": 1})
	h.Done()
}

// TestMissHoldResolve6: a miss holds the packet and sends a solicitation to
// the next hop's solicited-node group, from our address on its prefix or
// our link-local one; the answer releases the held packets in order.
func TestMissHoldResolve6(t *testing.T) {
	for _, tc := range []struct {
		name, nh, src string
		ll            string // a configured link-local address, "" for none
	}{
		{name: "link-local next hop: EUI-64 source", nh: "fe80::77", src: ourLL},
		{name: "link-local next hop: configured link-local source", nh: "fe80::1:77", src: "fe80::1", ll: "fe80::1/64"},
		{name: "on our prefix", nh: "2001:db8:2::1:77", src: "2001:db8:2::2"},
		{name: "off every prefix", nh: "2001:db8:99::77", src: ourLL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i := intf6()
			if tc.ll != "" {
				i.Addrs = append(i.Addrs, netip.MustParsePrefix(tc.ll))
			}
			h := gt.New(t, gt.Options{PoolSize: 2048})
			n := gt.Add(h, New(i))
			out := h.SinkSize(iname, 1024)
			p1, ip1 := ip6Pkt(h, tc.nh)
			p2, ip2 := ip6Pkt(h, tc.nh)
			h.Inject(ename, p1)
			h.Run()
			_, wake := h.Run()
			if wake != ARPInterval {
				t.Errorf("Run asked to be woken in %d ns, want %d", wake, ARPInterval)
			}
			h.Inject(ename, p2) // same next hop within a second: no second solicitation
			h.RunUntilIdle()
			tg := a6(tc.nh)
			sn := netip.AddrFrom16(hdr.SolicitedNode(tg[:])).String()
			expectFrames(t, out, nsFrame([6]byte{0x33, 0x33, 0xff, tg[13], tg[14], tg[15]}, tc.src, sn, tc.nh))
			h.Free(out.Take()...)
			if n.nd.npend != 1 || n.npend != 0 {
				t.Errorf("%d IPv6, %d IPv4 pending next hops", n.nd.npend, n.npend)
			}
			learn6(h, "fe80::dead", hostMAC) // another neighbour: nothing released
			h.RunUntilIdle()
			if out.Len() != 0 {
				t.Fatalf("released by another neighbour: %x", out.Datas())
			}
			learn6(h, tc.nh, gwMAC)
			h.RunUntilIdle()
			expectFrames(t, out, ethIPv6(gwMAC, ip1), ethIPv6(gwMAC, ip2))
			if n.nd.npend != 0 {
				t.Errorf("%d pending next hops after resolution", n.nd.npend)
			}
			h.ExpectCounters(map[string]uint64{ename + "/enq": 2, iname + "/enq": 3, ename + "/nd_miss": 2,
				ename + "/held": 2, ename + "/ns_sent": 1, ename + "/neigh6_learned": 2, ename + "/held_sent": 2})
			h.Done()
		})
	}
}

func TestHoldFull6(t *testing.T) {
	h, _, out := setup6(t)
	var ips [][]byte
	for i := 0; i < HoldPerNextHop+2; i++ {
		p, ip := ip6Pkt(h, "fe80::77")
		ips = append(ips, ip)
		h.Inject(ename, p)
	}
	h.RunUntilIdle()
	learn6(h, "fe80::77", gwMAC)
	h.RunUntilIdle()
	want := [][]byte{nsFrame(gt.MAC("33:33:ff:00:00:77"), ourLL, "ff02::1:ff00:77", "fe80::77")}
	for _, ip := range ips[:HoldPerNextHop] {
		want = append(want, ethIPv6(gwMAC, ip))
	}
	expectFrames(t, out, want...)
	h.ExpectCounters(map[string]uint64{ename + "/enq": HoldPerNextHop + 2, iname + "/enq": HoldPerNextHop + 1,
		ename + "/nd_miss": HoldPerNextHop + 2, ename + "/held": HoldPerNextHop, ename + "/hold_full": 2,
		ename + "/ns_sent": 1, ename + "/neigh6_learned": 1, ename + "/held_sent": HoldPerNextHop})
	h.Done()
}

// TestPendingFull6: at most MaxPending IPv6 next hops are resolved at once,
// independently of the IPv4 ones; removing the node frees what it holds.
func TestPendingFull6(t *testing.T) {
	h, n, out := setup6(t)
	for i := 0; i <= MaxPending; i++ {
		p, _ := ip6Pkt(h, netip.AddrFrom16([16]byte{0xfe, 0x80, 14: 1, 15: byte(i)}).String())
		h.Inject(ename, p)
	}
	p4, _ := ipPkt(h, gt.IP("10.2.0.77"))
	h.Inject(ename, p4)
	h.RunUntilIdle()
	if out.Len() != MaxPending+1 || n.nd.npend != MaxPending || n.npend != 1 {
		t.Errorf("%d requests, %d+%d pending", out.Len(), n.nd.npend, n.npend)
	}
	h.ExpectCounters(map[string]uint64{ename + "/enq": MaxPending + 2, iname + "/enq": MaxPending + 1,
		ename + "/nd_miss": MaxPending + 1, ename + "/held": MaxPending + 1, ename + "/nd_pending_full": 1,
		ename + "/ns_sent": MaxPending, ename + "/arp_miss": 1, ename + "/arp_requests_sent": 1})
	h.Free(out.Take()...)
	if !h.G.Remove(ename) {
		t.Fatal("Remove")
	}
	h.CheckPool(0)
}

// TestResolveRetryAndTimeout6: an unanswered next hop is solicited again
// every ARPInterval and its packets are dropped after ResolveTimeout.
func TestResolveRetryAndTimeout6(t *testing.T) {
	h, n, out := setup6(t)
	for i := 0; i < 3; i++ {
		p, _ := ip6Pkt(h, "2001:db8:2::77")
		h.Inject(ename, p)
	}
	h.RunUntilIdle()
	pe := &n.nd.pend[0]
	if pe.ip != a6("2001:db8:2::77") || pe.n != 3 {
		t.Fatalf("pending entry %+v", *pe)
	}
	h.RunUntilIdle()
	if out.Len() != 1 {
		t.Fatalf("%d solicitations before the interval", out.Len())
	}
	pe.asked -= ARPInterval
	pe.first -= ARPInterval
	_, wake := h.Run()
	if out.Len() != 2 || pe.n != 3 || wake != ARPInterval {
		t.Fatalf("after 1s: %d solicitations, %d held, wake %d", out.Len(), pe.n, wake)
	}
	pe.first -= ResolveTimeout - ARPInterval
	_, wake = h.Run()
	if n.nd.npend != 0 || pe.ip != ([16]byte{}) || wake != -1 {
		t.Errorf("after the timeout: pending %+v, wake %d", *pe, wake)
	}
	ns := nsFrame(gt.MAC("33:33:ff:00:00:77"), "2001:db8:2::2", "ff02::1:ff00:77", "2001:db8:2::77")
	expectFrames(t, out, ns, ns)
	h.ExpectCounters(map[string]uint64{ename + "/enq": 3, iname + "/enq": 2, ename + "/nd_miss": 3,
		ename + "/held": 3, ename + "/ns_sent": 2, ename + "/nd_resolve_timeout": 3})
	h.Free(out.Take()...)
	h.Done()
}

// TestRefresh6: an entry in use older than RefreshAge is solicited again by
// unicast to the MAC we know, while packets keep flowing; the answer
// refreshes it.
func TestRefresh6(t *testing.T) {
	h, n, out := setup6(t)
	h.Run()
	learn6(h, "fe80::1", gwMAC)
	k := a6("fe80::1")
	e := n.nd.neighs.get(&k)
	e.seen -= RefreshAge + 1
	e.asked -= 2 * ARPInterval
	p1, ip1 := ip6Pkt(h, "fe80::1")
	p2, ip2 := ip6Pkt(h, "fe80::1")
	h.Inject(ename, p1, p2)
	h.RunUntilIdle()
	ns := nsFrame(gwMAC, ourLL, "fe80::1", "fe80::1")
	expectFrames(t, out, ns, ethIPv6(gwMAC, ip1), ethIPv6(gwMAC, ip2))
	learn6(h, "fe80::1", gwMAC)
	e.asked -= 2 * ARPInterval
	p3, ip3 := ip6Pkt(h, "fe80::1")
	h.Inject(ename, p3)
	h.RunUntilIdle()
	expectFrames(t, out, ns, ethIPv6(gwMAC, ip1), ethIPv6(gwMAC, ip2), ethIPv6(gwMAC, ip3))
	h.ExpectCounters(map[string]uint64{ename + "/enq": 3, iname + "/enq": 4, ename + "/neigh6_learned": 2,
		ename + "/neigh6_refresh": 1, ename + "/ns_sent": 1})
	h.Done()
}

// TestAgingAndForget6: entries not refreshed for MaxAge go at the periodic
// sweep; MACForget for the whole interface clears IPv6 entries too.
func TestAgingAndForget6(t *testing.T) {
	h, n, out := setup6(t)
	h.Run()
	learn6(h, "fe80::1", gwMAC)
	learn6(h, "fe80::9", hostMAC)
	k1, k9 := a6("fe80::1"), a6("fe80::9")
	n.nd.neighs.get(&k1).seen -= MaxAge + 1
	n.lastAge -= 2e9
	h.Run()
	if n.Neighbours6() != 1 || n.nd.neighs.get(&k1) != nil || n.nd.neighs.get(&k9) == nil {
		t.Fatalf("after aging: %d neighbours", n.Neighbours6())
	}
	p, _ := ip6Pkt(h, "fe80::1")
	h.Inject(ename, p)
	h.RunUntilIdle()
	expectFrames(t, out, nsFrame(gt.MAC("33:33:ff:00:00:01"), ourLL, "ff02::1:ff00:1", "fe80::1"))
	h.Control(msg.MACForget{Ifindex: 3})
	h.Control(msg.MACForget{Ifindex: 2, IP: gt.IP("10.2.0.1")})
	if n.Neighbours6() != 1 {
		t.Fatal("forgetting one IPv4 address or another interface removed IPv6 neighbours")
	}
	h.Control(msg.MACForget{Ifindex: 2})
	if n.Neighbours6() != 0 {
		t.Fatalf("%d IPv6 neighbours after forgetting the interface", n.Neighbours6())
	}
	h.ExpectCounters(map[string]uint64{ename + "/enq": 1, iname + "/enq": 1, ename + "/neigh6_learned": 2,
		ename + "/neigh6_aged": 1, ename + "/nd_miss": 1, ename + "/held": 1, ename + "/ns_sent": 1})
	h.Free(out.Take()...)
	h.G.Remove(ename)
	h.CheckPool(0)
}

// TestNextHop6Zero: :: is never a neighbour, nor a next hop.
func TestNextHop6Zero(t *testing.T) {
	h, _, out := setup6(t)
	p, _ := ip6Pkt(h, "::")
	h.Inject(ename, p)
	h.RunUntilIdle()
	if out.Len() != 0 {
		t.Errorf("sent %x", out.Datas())
	}
	h.ExpectCounters(map[string]uint64{ename + "/enq": 1, ename + "/no_next_hop": 1})
	h.Done()
}

// TestMixedAddrs: IPv6 addresses in Addrs do not disturb ARP's choice of
// source address.
func TestMixedAddrs(t *testing.T) {
	i := intf()
	i.Addrs = append([]netip.Prefix{netip.MustParsePrefix("2001:db8:2::2/64")}, i.Addrs...)
	h, _, out := setup(t, i)
	p, _ := ipPkt(h, gt.IP("172.16.0.1"))
	h.Inject(ename, p)
	h.RunUntilIdle()
	expectFrames(t, out, arpRequest("10.2.0.2", "172.16.0.1"))
	h.Free(out.Take()...)
	h.G.Remove(ename)
	h.CheckPool(0)
}

// TestNSWellFormed checks the solicitation independently of nsFrame: the
// fields RFC 4861 4.3 and 7.1.1 require.
func TestNSWellFormed(t *testing.T) {
	h, _, out := setup6(t)
	p, _ := ip6Pkt(h, "2001:db8:2::abcd")
	h.Inject(ename, p)
	h.RunUntilIdle()
	f := out.Datas()[0]
	ip := hdr.IPv6(f[14:])
	m := f[54:]
	src, dst := [16]byte(ip.Src()), [16]byte(ip.Dst())
	switch {
	case len(f) != 86 || hdr.Ether(f).Type() != hdr.EtherTypeIPv6:
		t.Errorf("frame %x", f)
	case ip.Version() != 6 || ip.HopLimit() != 255 || ip.NextHeader() != 58 || ip.PayloadLen() != 32:
		t.Errorf("IPv6 header %x", f[14:54])
	case m[0] != 135 || m[1] != 0 || binary.BigEndian.Uint16(m[2:]) != csum6(src, dst, m):
		t.Errorf("ICMPv6 %x", m)
	case !bytes.Equal(f[:6], []byte{0x33, 0x33, 0xff, 0, 0xab, 0xcd}) || dst != a6("ff02::1:ff00:abcd"):
		t.Errorf("to %x / %x", f[:6], dst)
	case !bytes.Equal(m[24:32], append([]byte{1, 1}, ourMAC[:]...)):
		t.Errorf("options %x", m[24:])
	}
	h.G.Remove(ename)
	h.Free(out.Take()...)
	h.CheckPool(0)
}

// freeSink stands in for IfNode and frees what reaches it, so that a
// measurement sees only the node under test.
type freeSink struct {
	graph.NoControl
	n int
}

func (s *freeSink) Name() string                     { return iname }
func (s *freeSink) NextNames() []string              { return []string{names.Drop} }
func (s *freeSink) Clone(*graph.CloneCtx) graph.Node { return s }
func (s *freeSink) Dispatch(d *graph.Dispatch) {
	for p := d.Pop(); p != nil; p = d.Pop() {
		s.n++
		d.Free(p)
	}
}

// encap6Bench sets up EtherEncap with a resolved IPv6 neighbour and returns
// a function that sends batch packets through it.
func encap6Bench(tb testing.TB, batch int) (func(), *freeSink, *gt.Harness) {
	h := gt.New(tb, gt.Options{PoolSize: 1024})
	gt.Add(h, New(intf6()))
	sink := &freeSink{}
	h.AddRaw(sink)
	h.Control(msg.MAC6Learned{Ifindex: 2, IP: a6("fe80::1"), MAC: gwMAC})
	p, _ := ip6Pkt(h, "fe80::1")
	frame := append([]byte(nil), p.Buf()[p.Head()-14:p.Head()+p.Len()]...)
	h.Free(p)
	nh := a6("fe80::1")
	pkts := make([]*packet.Packet, batch)
	return func() {
		for i := range pkts {
			q := h.Pool.Get()
			q.SetData(frame)
			q.Pull(14)
			q.Meta |= packet.MetaIPv6
			q.NextHop6 = nh
			pkts[i] = q
		}
		h.Inject(ename, pkts...)
		h.Run()
		h.Run()
	}, sink, h
}

// TestEncapIPv6Allocs: the resolved IPv6 path allocates nothing.
func TestEncapIPv6Allocs(t *testing.T) {
	run, sink, h := encap6Bench(t, 64)
	run() // warm up: the source grows its queue
	if a := testing.AllocsPerRun(20, run); a != 0 {
		t.Errorf("%v allocations per batch", a)
	}
	if sink.n != 22*64 {
		t.Errorf("%d frames sent, want %d", sink.n, 22*64)
	}
	h.CheckPool(0)
}

// BenchmarkEncapIPv6 sends IPv6 packets to a resolved neighbour, 64 per
// graph run (the harness's packet setup included).
func BenchmarkEncapIPv6(b *testing.B) {
	const batch = 64
	run, sink, _ := encap6Bench(b, batch)
	b.ReportAllocs()
	for b.Loop() {
		run()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(sink.n), "ns/pkt")
}
