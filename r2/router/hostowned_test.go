//go:build linux

package router

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/r2/ctl"
	"github.com/r2go/r2/r2/driver/mem"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/packet"
)

// TestHostOwned: with if0 host-owned, R2 answers no ARP request for its
// address (the kernel does) but still forwards, and the mode shows.
func TestHostOwned(t *testing.T) {
	r := newRig(t, 1)
	must(t, r.e.SetHostOwned("if0", true))
	if err := r.e.SetHostOwned("nope", true); err == nil {
		t.Error("SetHostOwned on an unknown interface succeeded")
	}
	infos, err := r.e.Interfaces("if0")
	must(t, err)
	if !infos[0].HostOwned {
		t.Error("Interfaces does not show host-owned")
	}
	r.d0.Inject(arpFrame(hdr.ARPRequest, bcast, macH1, "10.1.0.1", [6]byte{}, "10.1.0.2"))
	deadline := time.Now().Add(2 * time.Second)
	for r.counter("EtherDecap:if0/arp_host_owned") == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if r.counter("EtherDecap:if0/arp_host_owned") != 1 {
		t.Fatal("ARP request not counted as host-owned")
	}
	if n := len(r.d0.Frames()); n != 0 {
		t.Errorf("R2 sent %d frames in answer to an ARP request for a host-owned address", n)
	}
	// Back off: R2 answers again.
	must(t, r.e.SetHostOwned("if0", false))
	r.d0.Inject(arpFrame(hdr.ARPRequest, bcast, macH1, "10.1.0.1", [6]byte{}, "10.1.0.2"))
	waitFrames(t, r.d0, 1)
	checkNoLeak(t, r.e)
}

// passer is a mem driver that is a driver.HostPasser: it records what the
// router tells it, and refuses while fail is set.
type passer struct {
	*mem.Driver
	mu    sync.Mutex
	calls int
	on    bool
	addrs []netip.Addr
	fail  bool
}

func (p *passer) SetHostOwned(on bool, addrs []netip.Addr) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail {
		return errors.New("map full")
	}
	p.calls++
	p.on, p.addrs = on, slices.Clone(addrs)
	slices.SortFunc(p.addrs, netip.Addr.Compare)
	return nil
}

func (p *passer) state() (int, bool, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls, p.on, fmt.Sprint(p.addrs)
}

// TestHostOwnedDriver: a driver that decides what reaches the host (AF_XDP)
// is told the mode and the host's addresses before the threads see them,
// and a driver that refuses makes the request fail with nothing changed.
func TestHostOwnedDriver(t *testing.T) {
	r := newRig(t, 1)
	d, _ := mem.New("x0", 64)
	p := &passer{Driver: d}
	macX := [6]byte{0x02, 0, 0, 0, 0, 0x20}
	must(t, r.e.AddInterface(Interface{Name: "x0", Ifindex: -1, MAC: macX, Owner: 0, MTU: 1500}, p))
	must(t, r.e.AddAddr("x0", netip.MustParsePrefix("10.7.0.2/24")))
	if n, _, _ := p.state(); n != 0 {
		t.Errorf("told %d times while not host-owned", n)
	}
	ll := fwd.LinkLocalFromMAC(macX).String()
	check := func(what string, calls int, on bool, addrs string) {
		t.Helper()
		n, o, a := p.state()
		if n != calls || o != on || a != addrs {
			t.Errorf("%s: calls %d on %v addrs %s; want %d %v %s", what, n, o, a, calls, on, addrs)
		}
	}
	must(t, r.e.SetHostOwned("x0", true))
	check("host-owned on", 1, true, "[10.7.0.2 10.7.0.255 "+ll+"]")
	must(t, r.e.AddAddr("x0", netip.MustParsePrefix("2001:db8:7::2/64")))
	must(t, r.e.AddAddr("x0", netip.MustParsePrefix("10.8.0.1/32")))
	check("addresses added", 3, true, "[10.7.0.2 10.7.0.255 10.8.0.1 2001:db8:7::2 "+ll+"]")
	must(t, r.e.DelAddr("x0", netip.MustParsePrefix("10.8.0.1/32")))
	must(t, r.e.DelAddr("x0", netip.MustParsePrefix("2001:db8:7::2/64")))
	check("addresses deleted", 5, true, "[10.7.0.2 10.7.0.255 "+ll+"]")

	// Refusals leave everything as it was.
	p.mu.Lock()
	p.fail = true
	p.mu.Unlock()
	err := r.e.AddAddr("x0", netip.MustParsePrefix("10.9.0.1/24"))
	if !errors.Is(err, ctl.ErrInternal) || !strings.Contains(err.Error(), "map full") {
		t.Errorf("AddAddr with a refusing driver: %v", err)
	}
	err = r.e.AddAddr("x0", netip.MustParsePrefix("2001:db8:9::1/64"))
	if !errors.Is(err, ctl.ErrInternal) {
		t.Errorf("AddAddr (IPv6) with a refusing driver: %v", err)
	}
	err = r.e.SetHostOwned("x0", false)
	if !errors.Is(err, ctl.ErrInternal) {
		t.Errorf("SetHostOwned with a refusing driver: %v", err)
	}
	infos, err := r.e.Interfaces("x0")
	must(t, err)
	if !infos[0].HostOwned || len(infos[0].Addrs) != 2 {
		t.Errorf("after refusals: host-owned %v, addresses %v; want true and 2", infos[0].HostOwned, infos[0].Addrs)
	}
	if rt, err := r.e.LookupRoute(netip.MustParseAddr("10.9.0.1")); err == nil {
		t.Errorf("route of the refused address installed: %v", rt)
	}
	p.mu.Lock()
	p.fail = false
	p.mu.Unlock()
	must(t, r.e.SetHostOwned("x0", false))
	check("host-owned off", 6, false, "[10.7.0.2 10.7.0.255 "+ll+"]")
	must(t, r.e.AddAddr("x0", netip.MustParsePrefix("10.9.0.1/24")))
	check("address added while not host-owned", 6, false, "[10.7.0.2 10.7.0.255 "+ll+"]")
}

// sider is a mem driver with a side descriptor (driver.SideFder): an
// eventfd, and Recv returns frame once for every write to it.
type sider struct {
	*mem.Driver
	efd   int
	frame []byte
}

func (s *sider) SideFd() int { return s.efd }

func (s *sider) Recv(pool *packet.Pool, pkts []*packet.Packet) int {
	n := s.Driver.Recv(pool, pkts)
	var b [8]byte
	if n < len(pkts) {
		if _, err := unix.Read(s.efd, b[:]); err == nil {
			p := pool.Get()
			p.SetData(s.frame)
			pkts[n] = p
			n++
		}
	}
	return n
}

// TestSideFdWakes: a frame behind a driver's side descriptor wakes the
// sleeping owner thread through epoll (not a sleep timeout), and is
// received like any other.
func TestSideFdWakes(t *testing.T) {
	r := newRig(t, 1)
	d, _ := mem.New("s0", 64)
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	must(t, err)
	t.Cleanup(func() { unix.Close(efd) })
	macS := [6]byte{0x02, 0, 0, 0, 0, 0x30}
	s := &sider{Driver: d, efd: efd, frame: arpFrame(hdr.ARPRequest, bcast, macH1, "10.6.0.1", [6]byte{}, "10.6.0.2")}
	must(t, r.e.AddInterface(Interface{Name: "s0", Ifindex: -1, MAC: macS, Owner: 0}, s))
	must(t, r.e.AddAddr("s0", netip.MustParsePrefix("10.6.0.2/24")))
	// Wait for the thread to go to sleep (a new epoll wait), then write.
	waits := r.counter("Thread/epoll_waits")
	deadline := time.Now().Add(5 * time.Second)
	for r.counter("Thread/epoll_waits") == waits && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	timeouts := r.counter("Thread/epoll_timeouts")
	var one [8]byte
	one[0] = 1
	if _, err := unix.Write(efd, one[:]); err != nil {
		t.Fatal(err)
	}
	got := waitFrames(t, d, 1) // R2's ARP reply
	if len(got) != 1 || hdr.Ether(got[0]).Type() != hdr.EtherTypeARP {
		t.Fatalf("frames %x, want an ARP reply", got)
	}
	if n := r.counter("Thread/epoll_timeouts"); n != timeouts {
		t.Errorf("the thread woke by a timeout (%d -> %d), not for the side descriptor", timeouts, n)
	}
}
