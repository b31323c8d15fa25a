//go:build linux

package afpacket

import (
	"crypto/rand"
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

// needRoot skips t unless the test runs as root (namespaces, veth and
// AF_PACKET need CAP_NET_ADMIN and CAP_SYS_ADMIN).
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and veth interfaces")
	}
}

// vethPair is two network namespaces joined by a veth pair: end A (the
// driver's) in namespace A, end B (the test's peer) in namespace B. IPv6
// is off in both and there are no addresses, so the link carries only what
// a test sends.
type vethPair struct {
	NSA, NSB   string         // namespace names
	A, B       netns.NsHandle // open handles of NSA, NSB
	IfA, IfB   string         // veth ends, in NSA and NSB
	IdxA, IdxB int
	MACA, MACB net.HardwareAddr
	hA, hB     *netlink.Handle
}

// uniquePrefix returns "r2ap" and 6 random hex digits: the names made of
// it (prefix plus one letter) are unique per run and fit IFNAMSIZ.
func uniquePrefix() string {
	var b [3]byte
	rand.Read(b[:])
	return "r2ap" + hex.EncodeToString(b[:])
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
// works) and registers its removal with t.
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
			// The thread stays locked and dies with the goroutine.
			c <- res{h, errors.Join(err, rerr)}
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

// newVethPair builds the two namespaces and the veth pair, with MTU mtu on
// both ends, up and operational. Everything is removed when t ends.
func newVethPair(t testing.TB, mtu int) *vethPair {
	t.Helper()
	needRoot(t)
	p := uniquePrefix()
	v := &vethPair{NSA: p + "a", NSB: p + "b", IfA: p + "a", IfB: p + "b"}
	v.A = newNamedNS(t, v.NSA)
	v.B = newNamedNS(t, v.NSB)
	for _, ns := range []netns.NsHandle{v.A, v.B} {
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
	if v.hA, err = netlink.NewHandleAt(v.A); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.hA.Close)
	if v.hB, err = netlink.NewHandleAt(v.B); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.hB.Close)
	la := netlink.NewLinkAttrs()
	la.Name = v.IfA
	la.MTU = mtu
	veth := &netlink.Veth{LinkAttrs: la, PeerName: v.IfB, PeerMTU: uint32(mtu), PeerNamespace: netlink.NsFd(v.B)}
	if err := v.hA.LinkAdd(veth); err != nil {
		t.Fatalf("add veth %s/%s: %v", v.IfA, v.IfB, err)
	}
	t.Cleanup(func() {
		// Deleting a namespace frees its links asynchronously; delete
		// the pair now so nothing outlives the test.
		if l, err := v.hA.LinkByName(v.IfA); err == nil {
			if err := v.hA.LinkDel(l); err != nil {
				t.Errorf("delete veth %s: %v", v.IfA, err)
			}
		}
	})
	for _, e := range []struct {
		h    *netlink.Handle
		name string
		idx  *int
		mac  *net.HardwareAddr
	}{{v.hA, v.IfA, &v.IdxA, &v.MACA}, {v.hB, v.IfB, &v.IdxB, &v.MACB}} {
		l, err := e.h.LinkByName(e.name)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
		*e.idx, *e.mac = l.Attrs().Index, l.Attrs().HardwareAddr
	}
	for _, e := range []struct {
		h    *netlink.Handle
		name string
	}{{v.hA, v.IfA}, {v.hB, v.IfB}} {
		deadline := time.Now().Add(5 * time.Second)
		for {
			l, err := e.h.LinkByName(e.name)
			if err != nil {
				t.Fatal(err)
			}
			if l.Attrs().OperState == netlink.OperUp {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not operationally up after 5s", e.name)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return v
}

// setMTU sets the MTU of end A (a) or B.
func (v *vethPair) setMTU(t testing.TB, a bool, mtu int) {
	t.Helper()
	h, name := v.hB, v.IfB
	if a {
		h, name = v.hA, v.IfA
	}
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetMTU(l, mtu); err != nil {
		t.Fatal(err)
	}
}

// setDown sets end A administratively down.
func (v *vethPair) setDownA(t testing.TB) {
	t.Helper()
	l, err := v.hA.LinkByName(v.IfA)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.hA.LinkSetDown(l); err != nil {
		t.Fatal(err)
	}
}

// promiscuity is the interface's promiscuity count (IFLA_PROMISCUITY).
func (v *vethPair) promiscuityA(t testing.TB) int {
	t.Helper()
	l, err := v.hA.LinkByName(v.IfA)
	if err != nil {
		t.Fatal(err)
	}
	return l.Attrs().Promisc
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
	err := inNS(ns, func() error {
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

// rawSock is a plain AF_PACKET socket of the test, bound to one interface.
// It receives only test frames, and only incoming ones (with
// PACKET_IGNORE_OUTGOING), unless it is a tap.
type rawSock struct{ fd int }

// openRaw opens a raw socket on ifindex inside ns. A tap receives all
// frames, outgoing ones included: only ETH_P_ALL sockets see those.
func openRaw(t testing.TB, ns netns.NsHandle, ifindex int, tap bool) *rawSock {
	t.Helper()
	s := &rawSock{fd: -1}
	err := inNS(ns, func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		s.fd = fd
		proto := uint16(testEtherType)
		if tap {
			proto = unix.ETH_P_ALL
		} else {
			if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
				return err
			}
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: ifindex})
	})
	if s.fd >= 0 {
		t.Cleanup(func() { unix.Close(s.fd) })
	}
	if err != nil {
		t.Fatalf("raw socket: %v", err)
	}
	return s
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
		f[14], f[15], f[16], f[17] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
	}
	return f
}
