//go:build linux

package afxdp

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// testEtherType is the EtherType of test frames: IEEE's "local
// experimental" type, which no stack in the namespaces reacts to and GRO
// never merges.
const testEtherType = 0x88b5

// needRoot skips t unless the test runs as root (namespaces, veth, BPF and
// AF_XDP need CAP_NET_ADMIN, CAP_SYS_ADMIN and CAP_BPF).
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, veth interfaces and XDP programs")
	}
}

// testNet is two network namespaces: A, where the drivers run, and B, the
// peers' side, joined by veth pairs (end i of A is linked to end i of B).
// IPv6 is off in both and there are no addresses, so the links carry only
// what a test sends. Each veth end has one queue, so that every frame
// reaches queue 0, the one the driver binds.
type testNet struct {
	prefix   string
	NSA, NSB string         // namespace names
	A, B     netns.NsHandle // open handles of NSA, NSB
	hA, hB   *netlink.Handle
	pairs    []*vethPair
}

// vethPair is one veth pair of a testNet.
type vethPair struct {
	IfA, IfB   string // veth ends, in NSA and NSB
	IdxA, IdxB int
	MACA, MACB net.HardwareAddr
}

// uniquePrefix returns "r2xd" and 6 random hex digits: names made of it
// (prefix plus a letter and a digit) are unique per run and fit IFNAMSIZ.
func uniquePrefix() string {
	var b [3]byte
	rand.Read(b[:])
	return "r2xd" + hex.EncodeToString(b[:])
}

// inNS runs fn on a locked OS thread switched into ns and switches it back.
// A thread that cannot be switched back stays locked and dies with its
// goroutine, so no other goroutine ever runs in the wrong namespace.
func inNS(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("restore netns: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// newNamedNS creates the named namespace (in /run/netns, so `ip netns exec`
// works) and registers its removal with t, which runs even if t fails.
func newNamedNS(t testing.TB, name string) netns.NsHandle {
	t.Helper()
	type res struct {
		h   netns.NsHandle
		err error
	}
	c := make(chan res, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			c <- res{netns.None(), err}
			return
		}
		defer orig.Close()
		h, err := netns.NewNamed(name)
		if rerr := netns.Set(orig); rerr != nil {
			c <- res{h, errors.Join(err, rerr)} // the thread dies locked
			return
		}
		runtime.UnlockOSThread()
		c <- res{h, err}
	}()
	r := <-c
	t.Cleanup(func() {
		if r.h.IsOpen() {
			r.h.Close()
		}
		if _, err := os.Lstat(filepath.Join("/run/netns", name)); err != nil {
			return // never created
		}
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})
	if r.err != nil {
		t.Fatalf("create netns %s: %v", name, r.err)
	}
	return r.h
}

// newTestNet builds the two namespaces with n veth pairs of MTU mtu, up and
// operational. Everything is removed when t ends, whatever happens.
func newTestNet(t testing.TB, n, mtu int) *testNet {
	t.Helper()
	needRoot(t)
	p := uniquePrefix()
	tn := &testNet{prefix: p, NSA: p + "a", NSB: p + "b"}
	tn.A = newNamedNS(t, tn.NSA)
	tn.B = newNamedNS(t, tn.NSB)
	for _, ns := range []netns.NsHandle{tn.A, tn.B} {
		err := inNS(ns, func() error {
			for _, k := range []string{"all", "default"} {
				p := filepath.Join("/proc/sys/net/ipv6/conf", k, "disable_ipv6")
				if err := os.WriteFile(p, []byte("1"), 0o644); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("disable IPv6: %v", err)
		}
	}
	var err error
	if tn.hA, err = netlink.NewHandleAt(tn.A); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tn.hA.Close)
	if tn.hB, err = netlink.NewHandleAt(tn.B); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tn.hB.Close)
	for i := range n {
		v := &vethPair{IfA: fmt.Sprintf("%sa%d", p, i), IfB: fmt.Sprintf("%sb%d", p, i)}
		la := netlink.NewLinkAttrs()
		la.Name = v.IfA
		la.MTU = mtu
		la.NumTxQueues, la.NumRxQueues = 1, 1
		veth := &netlink.Veth{LinkAttrs: la, PeerName: v.IfB, PeerMTU: uint32(mtu), PeerNamespace: netlink.NsFd(tn.B)}
		if err := tn.hA.LinkAdd(veth); err != nil {
			t.Fatalf("add veth %s/%s: %v", v.IfA, v.IfB, err)
		}
		t.Cleanup(func() {
			// Deleting a namespace frees its links asynchronously;
			// delete the pair now so nothing outlives the test.
			if l, err := tn.hA.LinkByName(v.IfA); err == nil {
				if err := tn.hA.LinkDel(l); err != nil {
					t.Errorf("delete veth %s: %v", v.IfA, err)
				}
			}
		})
		for _, e := range []struct {
			h    *netlink.Handle
			name string
			idx  *int
			mac  *net.HardwareAddr
		}{{tn.hA, v.IfA, &v.IdxA, &v.MACA}, {tn.hB, v.IfB, &v.IdxB, &v.MACB}} {
			l, err := e.h.LinkByName(e.name)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.h.LinkSetUp(l); err != nil {
				t.Fatal(err)
			}
			*e.idx, *e.mac = l.Attrs().Index, l.Attrs().HardwareAddr
		}
		tn.pairs = append(tn.pairs, v)
	}
	for _, v := range tn.pairs {
		tn.waitUp(t, tn.hA, v.IfA)
		tn.waitUp(t, tn.hB, v.IfB)
	}
	return tn
}

// waitUp waits until ifname is operationally up.
func (tn *testNet) waitUp(t testing.TB, h *netlink.Handle, ifname string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err := h.LinkByName(ifname)
		if err != nil {
			t.Fatal(err)
		}
		if l.Attrs().OperState == netlink.OperUp {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not operationally up after 5s", ifname)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// xdpAttached reports whether an XDP program is attached to ifname in A
// (IFLA_XDP_ATTACHED).
func (tn *testNet) xdpAttached(t testing.TB, ifname string) bool {
	t.Helper()
	l, err := tn.hA.LinkByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	x := l.Attrs().Xdp
	return x != nil && x.Attached
}

// setDownA sets end A of pair i administratively down.
func (tn *testNet) setDownA(t testing.TB, i int) {
	t.Helper()
	l, err := tn.hA.LinkByName(tn.pairs[i].IfA)
	if err != nil {
		t.Fatal(err)
	}
	if err := tn.hA.LinkSetDown(l); err != nil {
		t.Fatal(err)
	}
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
	c.Ifname = tn.pairs[i].IfA
	var d *Driver
	err := inNS(tn.A, func() error {
		var err error
		d, err = Open(c)
		return err
	})
	if err == nil {
		t.Cleanup(func() { d.Close() })
	}
	return d, err
}

// attachPassB attaches the XDP_PASS program to end B of pair i and
// detaches it when t ends.
func (tn *testNet) attachPassB(t testing.TB, i int) {
	t.Helper()
	var c interface{ Close() error }
	err := inNS(tn.B, func() error {
		var err error
		c, err = AttachPass(tn.pairs[i].IdxB)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
}

// rawSock is a plain AF_PACKET socket of the test, bound to one interface
// and the test EtherType, ignoring its own outgoing frames.
type rawSock struct{ fd int }

// openRaw opens a raw socket on ifindex inside ns.
func openRaw(t testing.TB, ns netns.NsHandle, ifindex int) *rawSock {
	t.Helper()
	s := &rawSock{fd: -1}
	err := inNS(ns, func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		s.fd = fd
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(testEtherType), Ifindex: ifindex})
	})
	if s.fd >= 0 {
		t.Cleanup(func() { unix.Close(s.fd) })
	}
	if err != nil {
		t.Fatalf("raw socket: %v", err)
	}
	return s
}

// htons converts v to network byte order.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// send transmits frames.
func (s *rawSock) send(t testing.TB, frames ...[]byte) {
	t.Helper()
	for i, f := range frames {
		if _, err := unix.Write(s.fd, f); err != nil {
			t.Fatalf("raw send of frame %d (%d bytes): %v", i, len(f), err)
		}
	}
}

// recv returns the frames received until want have come or timeout has
// passed since the last one.
func (s *rawSock) recv(want int, timeout time.Duration) [][]byte {
	var got [][]byte
	buf := make([]byte, 65536)
	for len(got) < want {
		pfd := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, int(timeout/time.Millisecond))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n == 0 {
			break
		}
		m, _, err := unix.Recvfrom(s.fd, buf, unix.MSG_DONTWAIT)
		if err != nil {
			continue
		}
		got = append(got, append([]byte(nil), buf[:m]...))
	}
	return got
}

// testFrame makes a frame of size bytes from src to dst with the test
// EtherType, carrying seq and a pattern derived from it.
func testFrame(dst, src net.HardwareAddr, seq, size int) []byte {
	f := make([]byte, size)
	copy(f, dst)
	copy(f[6:], src)
	f[12], f[13] = testEtherType>>8, testEtherType&0xff
	for i := 14; i < size; i++ {
		f[i] = byte(seq*7 + i)
	}
	if size >= 18 {
		binary.BigEndian.PutUint32(f[14:], uint32(seq))
	}
	return f
}
