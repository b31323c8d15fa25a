// Package pathtest tests the whole forwarding path of one thread:
// IfNode → EtherDecap → L3Parse → IPv4Fwd (↔ IPv4Local) or IPv6Fwd (↔
// IPv6Local) → EncapMux → EtherEncap → IfNode, with in-memory drivers, real
// counters and pools.
package pathtest

import (
	"net/netip"
	"sync"
	"testing"

	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/gnodes/encapmux"
	ifnode "github.com/r2go/r2/gnodes/interface"
	"github.com/r2go/r2/gnodes/internal/v6test"
	"github.com/r2go/r2/gnodes/layer2/eth/decap"
	"github.com/r2go/r2/gnodes/layer2/eth/encap"
	ipv4fwd "github.com/r2go/r2/gnodes/layer3/ipv4/fwd"
	"github.com/r2go/r2/gnodes/layer3/ipv4/local"
	ipv6fwd "github.com/r2go/r2/gnodes/layer3/ipv6/fwd"
	local6 "github.com/r2go/r2/gnodes/layer3/ipv6/local"
	"github.com/r2go/r2/gnodes/layer3/parse"
	"github.com/r2go/r2/r2/driver/mem"
	"github.com/r2go/r2/r2/graph"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
)

// The topology of design.md:
//
//	h1 [10.1.0.1] -- [10.1.0.2] eth0  r2  eth1 [10.2.0.2] -- [10.2.0.1] h2
//	   [2001:db8:1::1]  [2001:db8:1::2]     [2001:db8:2::2]  [2001:db8:2::1, fe80::2:1]
//
// h2 is also the default gateway (IPv6: through its link-local address).
// eth1's MTU is 1400.
var (
	r2MAC0 = gt.MAC("02:00:00:00:00:01")
	r2MAC1 = gt.MAC("02:00:00:00:00:02")
	h1MAC  = gt.MAC("02:00:00:00:01:01")
	h2MAC  = gt.MAC("02:00:00:00:02:01")
)

func intfs() *fwd.Interfaces {
	var s *fwd.Interfaces
	s = s.With(&fwd.Interface{Ifindex: 0, Name: "eth0", MAC: r2MAC0, MTU: 1500, Up: true,
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.1.0.2/24"), netip.MustParsePrefix("2001:db8:1::2/64")}})
	s = s.With(&fwd.Interface{Ifindex: 1, Name: "eth1", MAC: r2MAC1, MTU: 1400, Up: true,
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.2.0.2/24"), netip.MustParsePrefix("2001:db8:2::2/64")}})
	return s
}

var (
	rib6Once sync.Once
	rib6     *fwd.IPv6RIB
)

// table6 is the shared IPv6 route table.
func table6() *fwd.IPv6Table {
	rib6Once.Do(func() {
		r := fwd.NewIPv6RIB(func(*fwd.IPv6Table) {})
		rt := func(p string, k fwd.AdjKind, ifindex int32, nh string) fwd.Route6 {
			x := fwd.Route6{Prefix: netip.MustParsePrefix(p), Adj: fwd.Adjacency6{Kind: k, Ifindex: ifindex}}
			if nh != "" {
				x.Adj.NextHop = v6test.A(nh)
			}
			return x
		}
		err := r.AddBatch([]fwd.Route6{
			rt("2001:db8:1::/64", fwd.AdjConnected, 0, ""),
			rt("2001:db8:2::/64", fwd.AdjConnected, 1, ""),
			rt("2001:db8:1::2/128", fwd.AdjLocal, 0, ""),
			rt("2001:db8:2::2/128", fwd.AdjLocal, 1, ""),
			rt("::/0", fwd.AdjGateway, 1, "fe80::2:1"),
			rt("2001:db8:66::/48", fwd.AdjDrop, 0, ""),
		})
		if err != nil {
			panic(err)
		}
		rib6 = r
	})
	return rib6.Active()
}

var (
	ribOnce sync.Once
	rib     *fwd.IPv4RIB
)

// table is the shared route table (built once: a table copy is 64 MiB).
func table(t testing.TB) *fwd.IPv4Table {
	ribOnce.Do(func() {
		r := fwd.NewIPv4RIB(func(*fwd.IPv4Table) {})
		rt := func(p string, k fwd.AdjKind, ifindex int32, nh string) fwd.Route {
			x := fwd.Route{Prefix: netip.MustParsePrefix(p), Adj: fwd.Adjacency{Kind: k, Ifindex: ifindex}}
			if nh != "" {
				x.Adj.NextHop = gt.IP(nh)
			}
			return x
		}
		err := r.AddBatch([]fwd.Route{
			rt("10.1.0.0/24", fwd.AdjConnected, 0, ""),
			rt("10.2.0.0/24", fwd.AdjConnected, 1, ""),
			rt("10.1.0.2/32", fwd.AdjLocal, 0, ""),
			rt("10.2.0.2/32", fwd.AdjLocal, 1, ""),
			rt("10.1.0.255/32", fwd.AdjLocal, 0, ""),
			rt("10.2.0.255/32", fwd.AdjLocal, 1, ""),
			rt("0.0.0.0/0", fwd.AdjGateway, 1, "10.2.0.1"),
			rt("10.100.0.0/16", fwd.AdjGateway, 0, "10.1.0.1"),
			rt("10.66.0.0/16", fwd.AdjDrop, 0, ""),
		})
		if err != nil {
			panic(err)
		}
		rib = r
	})
	return rib.Active()
}

// world is one forwarding thread with both interfaces.
type world struct {
	h          *gt.Harness
	up         *msg.Uplink
	drv0, drv1 *mem.Driver
}

// newWorld builds the graph; h1 and h2 are known neighbours unless
// unresolved is set.
func newWorld(t testing.TB, poolSize int, unresolved bool) *world {
	t.Helper()
	w := &world{up: msg.NewUplink(16)}
	w.h = gt.New(t, gt.Options{PoolSize: poolSize, Uplink: w.up})
	var err error
	if w.drv0, err = mem.New("eth0", 64); err != nil {
		t.Fatal(err)
	}
	if w.drv1, err = mem.New("eth1", 64); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.drv0.Close(); w.drv1.Close() })
	s := intfs()
	i0, i1 := s.Get(0), s.Get(1)
	for _, n := range []graph.Node{
		ifnode.New(0, "eth0", 0, w.drv0, nil),
		ifnode.New(1, "eth1", 0, w.drv1, nil),
		decap.New(i0),
		decap.New(i1),
		parse.New(),
		ipv4fwd.New(table(t), s),
		local.New(s),
		ipv6fwd.New(table6(), s),
		local6.New(s),
		encapmux.New(s),
		encap.New(i0),
		encap.New(i1),
	} {
		gt.Add(w.h, n)
	}
	w.h.Finalize()
	if !unresolved {
		w.h.Control(msg.MACLearned{Ifindex: 0, IP: gt.IP("10.1.0.1"), MAC: h1MAC})
		w.h.Control(msg.MACLearned{Ifindex: 1, IP: gt.IP("10.2.0.1"), MAC: h2MAC})
		w.h.Control(msg.MAC6Learned{Ifindex: 0, IP: v6test.A("2001:db8:1::1"), MAC: h1MAC})
		w.h.Control(msg.MAC6Learned{Ifindex: 1, IP: v6test.A("2001:db8:2::1"), MAC: h2MAC})
		w.h.Control(msg.MAC6Learned{Ifindex: 1, IP: v6test.A("fe80::2:1"), MAC: h2MAC})
	}
	return w
}

// relay does what the engine's control side does with reports: MACs of
// hosts we talked to become MACLearned messages for the thread.
func (w *world) relay() int {
	n := 0
	for {
		select {
		case u := <-w.up.C:
			if u.Kind == msg.UpMAC && u.Create {
				w.h.Control(msg.MACLearned{Ifindex: u.Ifindex, IP: u.IP, MAC: u.MAC})
				n++
			}
			if u.Kind == msg.UpMAC6 && u.Create {
				w.h.Control(msg.MAC6Learned{Ifindex: u.Ifindex, IP: u.IP6, MAC: u.MAC})
				n++
			}
		default:
			return n
		}
	}
}

// held is the number of packets EtherEncap nodes hold, from their counters.
func (w *world) held() int {
	n := 0
	for _, ifn := range []string{"eth0", "eth1"} {
		e := names.EtherEncap(ifn) + "/"
		n += int(w.h.Counter(e+"held")) - int(w.h.Counter(e+"held_sent")) -
			int(w.h.Counter(e+"resolve_timeout")) - int(w.h.Counter(e+"nd_resolve_timeout"))
	}
	return n
}

// close removes every node (freeing what vectors and nodes hold) and checks
// that no packet is left.
func (w *world) close() {
	for _, n := range w.h.G.Nodes()[1:] {
		w.h.G.Remove(n.Name())
	}
	w.h.Done()
}

// checkTx checks every frame the router sent: the right source MAC, ARP
// frames padded to 60 bytes and well formed, IPv4 frames with a valid
// header checksum and a total length that matches the frame, ICMP errors
// from the router no longer than 576 bytes.
func checkTx(t testing.TB, frames [][]byte, mac [6]byte) {
	t.Helper()
	for i, f := range frames {
		if len(f) < hdr.EtherLen || !hdr.MACEqual(hdr.Ether(f).Src(), mac) {
			t.Fatalf("frame %d: bad Ethernet header: %x", i, f)
		}
		switch hdr.Ether(f).Type() {
		case hdr.EtherTypeARP:
			if len(f) != hdr.EtherMinFrame || !hdr.ARP(f[hdr.EtherLen:]).Valid() {
				t.Fatalf("frame %d: bad ARP: %x", i, f)
			}
		case hdr.EtherTypeIPv4:
			ip := f[hdr.EtherLen:]
			if !gt.IPv4ChecksumOK(ip) || hdr.IPv4(ip).TotalLen() != len(ip) || hdr.IPv4(ip).TTL() == 0 {
				t.Fatalf("frame %d: bad IPv4: %x", i, f)
			}
			ours := hdr.IPv4(ip).Src() == gt.IP("10.1.0.2") || hdr.IPv4(ip).Src() == gt.IP("10.2.0.2")
			if ours && hdr.IPv4(ip).Protocol() == hdr.ProtoICMP && len(ip) > hdr.IPv4(ip).HeaderLen() {
				if typ := ip[hdr.IPv4(ip).HeaderLen()]; (typ == 3 || typ == 11) && len(ip) > 576 {
					t.Fatalf("frame %d: ICMP error of %d bytes", i, len(ip))
				}
			}
		case hdr.EtherTypeIPv6:
			ip := f[hdr.EtherLen:]
			if len(ip) < hdr.IPv6Len || hdr.IPv6(ip).Version() != 6 || hdr.IPv6(ip).PayloadLen()+hdr.IPv6Len != len(ip) || hdr.IPv6(ip).HopLimit() == 0 {
				t.Fatalf("frame %d: bad IPv6: %x", i, f)
			}
			v6 := hdr.IPv6(ip)
			if v6.NextHeader() == hdr.ProtoICMPv6 {
				m := ip[hdr.IPv6Len:]
				if len(m) < 4 || v6test.SlowChecksum6(v6.Src(), v6.Dst(), m) != uint16(m[2])<<8|uint16(m[3]) {
					t.Fatalf("frame %d: bad ICMPv6 checksum: %x", i, f)
				}
				if m[0] < 128 && len(ip) > hdr.ICMPv6MaxError {
					t.Fatalf("frame %d: ICMPv6 error of %d bytes", i, len(ip))
				}
			}
		default:
			t.Fatalf("frame %d: ethertype %#x", i, hdr.Ether(f).Type())
		}
	}
}
