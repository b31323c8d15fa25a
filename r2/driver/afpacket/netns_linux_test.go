//go:build linux

package afpacket

import (
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/r2go/r2/r2/internal/nstest"
)

// vethPair is the nstest.Net of a test with its one pair: end A (the
// driver's) in namespace A, end B (the test's peer) in namespace B.
type vethPair struct {
	*nstest.Net
	nstest.Pair
}

// newVethPair builds the two namespaces and the veth pair, with MTU mtu on
// both ends, up and operational. Everything is removed when t ends.
func newVethPair(t testing.TB, mtu int) *vethPair {
	t.Helper()
	n := nstest.New(t, nstest.UniquePrefix("r2ap"), 1, nstest.MTU(mtu))
	return &vethPair{Net: n, Pair: n.Pairs[0]}
}

// setMTU sets the MTU of end A (a) or B.
func (v *vethPair) setMTU(t testing.TB, a bool, mtu int) {
	t.Helper()
	h, l := v.HB, v.LinkB(t, 0)
	if a {
		h, l = v.HA, v.LinkA(t, 0)
	}
	if err := h.LinkSetMTU(l, mtu); err != nil {
		t.Fatal(err)
	}
}

// promiscuityA is the promiscuity count (IFLA_PROMISCUITY) of end A.
func (v *vethPair) promiscuityA(t testing.TB) int {
	t.Helper()
	return v.LinkA(t, 0).Attrs().Promisc
}

// openDriver opens a driver on end A from inside namespace A and closes
// it when t ends.
func (v *vethPair) openDriver(t testing.TB, c Config) *Driver {
	t.Helper()
	c.Ifname = v.IfA
	return openIn(t, v.A, c)
}

// openDriverB opens a driver on end B from inside namespace B and closes
// it when t ends.
func (v *vethPair) openDriverB(t testing.TB, c Config) *Driver {
	t.Helper()
	c.Ifname = v.IfB
	return openIn(t, v.B, c)
}

// openIn opens a driver from inside namespace ns and closes it when t
// ends.
func openIn(t testing.TB, ns netns.NsHandle, c Config) *Driver {
	t.Helper()
	var d *Driver
	err := nstest.InNS(ns, func() error {
		var err error
		d, err = Open(c)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// openRaw opens a raw socket of the test on ifindex inside ns, with a
// 4 MiB receive buffer. A tap receives all frames, outgoing ones included.
func openRaw(t testing.TB, ns netns.NsHandle, ifindex int, tap bool) *nstest.RawSock {
	t.Helper()
	return nstest.OpenRaw(t, ns, ifindex, nstest.RawConfig{Tap: tap, RcvBuf: 4 << 20})
}

// addAddrB gives end B of the pair the address prefix (for example
// "10.99.0.2/24"), so that a socket in B's namespace can receive what the
// driver sends to it.
func (v *vethPair) addAddrB(t testing.TB, prefix string) {
	t.Helper()
	l, err := v.HB.LinkByName(v.IfB)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := netlink.ParseAddr(prefix)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.HB.AddrAdd(l, addr); err != nil {
		t.Fatal(err)
	}
}
