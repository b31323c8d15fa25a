//go:build linux

package afxdp

import (
	"errors"
	"testing"

	"github.com/vishvananda/netns"

	"github.com/r2go/r2/r2/internal/nstest"
)

// testNet is the nstest.Net of a test: A, where the drivers run, and B,
// the peers' side. Each veth end has one queue, so that every frame
// reaches queue 0, the one the driver binds.
type testNet struct{ *nstest.Net }

// newTestNet builds the two namespaces with n veth pairs of MTU mtu, up and
// operational. Everything is removed when t ends, whatever happens. It
// skips t unless the test runs as root (BPF and AF_XDP also need CAP_BPF).
func newTestNet(t testing.TB, n, mtu int) *testNet {
	t.Helper()
	return &testNet{nstest.New(t, nstest.UniquePrefix("r2xd"), n, nstest.MTU(mtu), nstest.Queues(1))}
}

// xdpAttached reports whether an XDP program is attached to ifname in A
// (IFLA_XDP_ATTACHED).
func (tn *testNet) xdpAttached(t testing.TB, ifname string) bool {
	t.Helper()
	l, err := tn.HA.LinkByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	x := l.Attrs().Xdp
	return x != nil && x.Attached
}

// open opens a driver on end A of pair i from inside namespace A and
// closes it when t ends. It skips t, printing the kernel's reason, if the
// kernel refuses AF_XDP altogether.
func (tn *testNet) open(t testing.TB, i int, c Config) *Driver {
	t.Helper()
	d, err := tn.tryOpen(t, i, c)
	if errors.Is(err, ErrUnsupported) && c.Mode == ModeAuto {
		t.Skipf("the kernel refuses AF_XDP here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// tryOpen opens a driver on end A of pair i from inside namespace A. A
// driver it opens is closed when t ends (Close is idempotent), so a test
// that fails half-way leaves nothing attached.
func (tn *testNet) tryOpen(t testing.TB, i int, c Config) (*Driver, error) {
	c.Ifname = tn.Pairs[i].IfA
	return openIn(t, tn.A, func() (*Driver, error) { return Open(c) })
}

// openIn calls open on a thread inside ns and, if it succeeds, closes what
// it opened when tb ends.
func openIn[D interface{ Close() error }](tb testing.TB, ns netns.NsHandle, open func() (D, error)) (D, error) {
	var d D
	err := nstest.InNS(ns, func() error {
		var err error
		d, err = open()
		return err
	})
	if err == nil {
		tb.Cleanup(func() { d.Close() })
	}
	return d, err
}

// attachPassB attaches the XDP_PASS program to end B of pair i and
// detaches it when t ends.
func (tn *testNet) attachPassB(t testing.TB, i int) {
	t.Helper()
	var c interface{ Close() error }
	err := nstest.InNS(tn.B, func() error {
		var err error
		c, err = AttachPass(tn.Pairs[i].IdxB)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
}

// openRaw opens a raw socket of the test on ifindex inside ns: bound to
// the test EtherType, ignoring its own outgoing frames, with a 16 MiB
// receive buffer (SO_RCVBUFFORCE).
func openRaw(t testing.TB, ns netns.NsHandle, ifindex int) *nstest.RawSock {
	t.Helper()
	return nstest.OpenRaw(t, ns, ifindex, nstest.RawConfig{RcvBuf: 16 << 20, ForceRcvBuf: true})
}

// openPrimed builds one veth pair of MTU mtu, opens a driver with c on
// its end A (c.Pool is the driver's pool), primes it, and opens a raw
// socket on end B: the start of most tests that send frames to a driver.
func openPrimed(t testing.TB, mtu int, c Config) (*testNet, *Driver, *nstest.RawSock) {
	t.Helper()
	tn := newTestNet(t, 1, mtu)
	d := tn.open(t, 0, c)
	peer := openRaw(t, tn.B, tn.Pairs[0].IdxB)
	prime(t, d, c.Pool)
	return tn, d, peer
}
