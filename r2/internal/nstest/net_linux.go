//go:build linux

package nstest

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Net is two network namespaces, A (where the code under test runs) and B
// (the peers' side), joined by veth pairs: end A of pair i, in A, is linked
// to end B of pair i, in B. IPv6 is off in both and there are no
// addresses, so the links carry only what a test sends.
type Net struct {
	Prefix   string         // the prefix of every name below
	NSA, NSB string         // namespace names: Prefix+"a", Prefix+"b"
	A, B     netns.NsHandle // open handles of NSA, NSB
	HA, HB   *netlink.Handle
	Pairs    []Pair
}

// Pair is one veth pair of a Net.
type Pair struct {
	IfA, IfB   string // veth ends, in NSA and NSB: Prefix+"a"+i, Prefix+"b"+i
	IdxA, IdxB int
	MACA, MACB net.HardwareAddr
}

// An Option changes how New builds the veth pairs.
type Option func(*options)

type options struct {
	mtu    int
	queues int
}

// MTU sets the MTU of both ends of every pair (1500 without it).
func MTU(mtu int) Option { return func(o *options) { o.mtu = mtu } }

// Queues gives both ends of every pair n rx and n tx queues. Without it
// the kernel decides (veth: one per possible CPU). One queue makes every
// frame reach queue 0.
func Queues(n int) Option { return func(o *options) { o.queues = n } }

// New builds the two namespaces, named after prefix (see UniquePrefix),
// with pairs veth pairs, all ends up and operational. It skips t unless
// the test runs as root. Everything is removed when t ends, whatever
// happens.
func New(t testing.TB, prefix string, pairs int, opts ...Option) *Net {
	t.Helper()
	NeedRoot(t)
	o := options{mtu: 1500}
	for _, f := range opts {
		f(&o)
	}
	n := &Net{Prefix: prefix, NSA: prefix + "a", NSB: prefix + "b"}
	n.A = NewNamedNS(t, n.NSA)
	n.B = NewNamedNS(t, n.NSB)
	for _, ns := range []netns.NsHandle{n.A, n.B} {
		if err := DisableIPv6(ns); err != nil {
			t.Fatalf("disable IPv6: %v", err)
		}
	}
	var err error
	if n.HA, err = netlink.NewHandleAt(n.A); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.HA.Close)
	if n.HB, err = netlink.NewHandleAt(n.B); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.HB.Close)
	for i := range pairs {
		p := Pair{IfA: fmt.Sprintf("%sa%d", prefix, i), IfB: fmt.Sprintf("%sb%d", prefix, i)}
		la := netlink.NewLinkAttrs()
		la.Name = p.IfA
		la.MTU = o.mtu
		la.NumTxQueues, la.NumRxQueues = o.queues, o.queues
		veth := &netlink.Veth{LinkAttrs: la, PeerName: p.IfB, PeerMTU: uint32(o.mtu), PeerNamespace: netlink.NsFd(n.B)}
		if err := n.HA.LinkAdd(veth); err != nil {
			t.Fatalf("add veth %s/%s: %v", p.IfA, p.IfB, err)
		}
		t.Cleanup(func() {
			// Deleting a namespace frees its links asynchronously;
			// delete the pair now so nothing outlives the test.
			if l, err := n.HA.LinkByName(p.IfA); err == nil {
				if err := n.HA.LinkDel(l); err != nil {
					t.Errorf("delete veth %s: %v", p.IfA, err)
				}
			}
		})
		for _, e := range []struct {
			h    *netlink.Handle
			name string
			idx  *int
			mac  *net.HardwareAddr
		}{{n.HA, p.IfA, &p.IdxA, &p.MACA}, {n.HB, p.IfB, &p.IdxB, &p.MACB}} {
			l := link(t, e.h, e.name)
			if err := e.h.LinkSetUp(l); err != nil {
				t.Fatal(err)
			}
			*e.idx, *e.mac = l.Attrs().Index, l.Attrs().HardwareAddr
		}
		n.Pairs = append(n.Pairs, p)
	}
	for _, p := range n.Pairs {
		waitUp(t, n.HA, p.IfA)
		waitUp(t, n.HB, p.IfB)
	}
	return n
}

// waitUp waits until ifname is operationally up.
func waitUp(t testing.TB, h *netlink.Handle, ifname string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for link(t, h, ifname).Attrs().OperState != netlink.OperUp {
		if time.Now().After(deadline) {
			t.Fatalf("%s not operationally up after 5s", ifname)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// link returns the interface ifname as h sees it now.
func link(t testing.TB, h *netlink.Handle, ifname string) netlink.Link {
	t.Helper()
	l, err := h.LinkByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// LinkA returns end A of pair i as it is now.
func (n *Net) LinkA(t testing.TB, i int) netlink.Link {
	t.Helper()
	return link(t, n.HA, n.Pairs[i].IfA)
}

// LinkB returns end B of pair i as it is now.
func (n *Net) LinkB(t testing.TB, i int) netlink.Link {
	t.Helper()
	return link(t, n.HB, n.Pairs[i].IfB)
}

// SetDownA sets end A of pair i administratively down.
func (n *Net) SetDownA(t testing.TB, i int) {
	t.Helper()
	if err := n.HA.LinkSetDown(n.LinkA(t, i)); err != nil {
		t.Fatal(err)
	}
}
