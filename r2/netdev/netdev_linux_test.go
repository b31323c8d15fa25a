//go:build linux

package netdev

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/r2go/r2/r2/internal/nstest"
)

// testNS is a named namespace holding a veth pair V0, V1 (both ends
// inside), removed when the test ends.
type testNS struct {
	Name   string
	NS     netns.NsHandle
	H      *netlink.Handle
	V0, V1 string
}

// newTestNS builds the namespace and the pair; V0 is brought up.
func newTestNS(t *testing.T) *testNS {
	t.Helper()
	nstest.NeedRoot(t)
	p := nstest.UniquePrefix("r2nd")
	n := &testNS{Name: p, V0: p + "a", V1: p + "b"}
	n.NS = nstest.NewNamedNS(t, p)
	err := nstest.InNS(n.NS, func() error {
		// No IPv6 traffic on the links.
		return os.WriteFile("/proc/sys/net/ipv6/conf/default/disable_ipv6", []byte("1"), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n.H, err = netlink.NewHandleAt(n.NS); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.H.Close)
	la := netlink.NewLinkAttrs()
	la.Name = n.V0
	la.MTU = 1500
	if err := n.H.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: n.V1}); err != nil {
		t.Fatalf("add veth: %v", err)
	}
	t.Cleanup(func() {
		if l, err := n.H.LinkByName(n.V0); err == nil {
			n.H.LinkDel(l)
		}
	})
	n.setUp(t, n.V0, true)
	return n
}

func (n *testNS) link(t *testing.T, name string) netlink.Link {
	t.Helper()
	l, err := n.H.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (n *testNS) setUp(t *testing.T, name string, up bool) {
	t.Helper()
	f := n.H.LinkSetDown
	if up {
		f = n.H.LinkSetUp
	}
	if err := f(n.link(t, name)); err != nil {
		t.Fatal(err)
	}
}

// ipLink is what `ip -j link show` says of an interface.
type ipLink struct {
	Ifindex   int      `json:"ifindex"`
	Ifname    string   `json:"ifname"`
	Address   string   `json:"address"`
	MTU       int      `json:"mtu"`
	Flags     []string `json:"flags"`
	Operstate string   `json:"operstate"`
}

func (n *testNS) ipLink(t *testing.T, name string) ipLink {
	t.Helper()
	out, err := exec.Command("ip", "-n", n.Name, "-j", "link", "show", "dev", name).Output()
	if err != nil {
		t.Fatalf("ip link show %s: %v", name, err)
	}
	var ls []ipLink
	if err := json.Unmarshal(out, &ls); err != nil || len(ls) != 1 {
		t.Fatalf("ip link output %q: %v", out, err)
	}
	return ls[0]
}

func TestLookupVeth(t *testing.T) {
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("ip not installed (Debian: iproute2; make test installs it): %v", err)
	}
	n := newTestNS(t)
	// V0 is up and, with its peer down, has no carrier: not OperUp.
	// Bring V1 up as well and wait for both to be operational.
	n.setUp(t, n.V1, true)
	deadline := time.Now().Add(5 * time.Second)
	for n.link(t, n.V0).Attrs().OperState != netlink.OperUp || n.link(t, n.V1).Attrs().OperState != netlink.OperUp {
		if time.Now().After(deadline) {
			t.Fatal("veth not operationally up after 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	n.setUp(t, n.V1, false) // V0 up without carrier, V1 down
	for n.link(t, n.V0).Attrs().OperState == netlink.OperUp {
		if time.Now().After(deadline) {
			t.Fatal("veth still operationally up after its peer went down")
		}
		time.Sleep(10 * time.Millisecond)
	}
	n.setUp(t, n.V1, true)
	for n.link(t, n.V0).Attrs().OperState != netlink.OperUp {
		if time.Now().After(deadline) {
			t.Fatal("veth not operationally up after 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := n.H.LinkSetMTU(n.link(t, n.V1), 1400); err != nil {
		t.Fatal(err)
	}
	n.setUp(t, n.V1, false)
	for _, name := range []string{n.V0, n.V1} {
		t.Run(name, func(t *testing.T) {
			var got Info
			err := nstest.InNS(n.NS, func() error {
				var err error
				got, err = Lookup(name)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			ip := n.ipLink(t, name)
			want := Info{
				Name:   ip.Ifname,
				Index:  ip.Ifindex,
				MTU:    ip.MTU,
				Up:     slices.Contains(ip.Flags, "UP"),
				OperUp: ip.Operstate == "UP",
			}
			gotMAC := got.MAC.String()
			got.MAC = nil
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Lookup(%s) (-ip link +got):\n%s", name, diff)
			}
			if gotMAC != ip.Address {
				t.Errorf("MAC %s, ip link says %s", gotMAC, ip.Address)
			}
		})
	}
	// Sanity of the setup: one of each state was looked up.
	if ip := n.ipLink(t, n.V0); ip.Operstate == "UP" {
		t.Errorf("%s operstate %s with its peer down", n.V0, ip.Operstate)
	}
}

func TestLookupErrors(t *testing.T) {
	tests := []struct {
		name, ifname string
		want         error
		msg          string
	}{
		{"missing", "r2-nosuch0", ErrNoSuchInterface, `netdev: no interface named "r2-nosuch0"`},
		{"too long", "r2-much-too-long-name", ErrNoSuchInterface, `netdev: no interface named "r2-much-too-long-name"`},
		{"empty", "", ErrNoSuchInterface, `netdev: no interface named ""`},
		{"loopback", "lo", ErrNotEthernet, "netdev: lo is not an Ethernet interface"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Lookup(tt.ifname)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Lookup(%q) = %v, want %v", tt.ifname, err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.msg) {
				t.Errorf("message %q, want it to start with %q", err, tt.msg)
			}
		})
	}
}

func TestWatch(t *testing.T) {
	n := newTestNS(t)
	goroutines := runtime.NumGoroutine()
	idx := n.link(t, n.V0).Attrs().Index
	events := make(chan Event, 100)
	done := make(chan struct{})
	watchErr := make(chan error, 1)
	go func() {
		watchErr <- nstest.InNS(n.NS, func() error {
			return Watch(done, func(e Event) { events <- e })
		})
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		close(done)
		select {
		case err := <-watchErr:
			if err != nil {
				t.Errorf("Watch: %v", err)
			}
		case <-time.After(2 * time.Second):
			t.Error("Watch did not return 2s after done was closed")
		}
	}
	t.Cleanup(stop)

	// wait returns the first event about V0 that satisfies ok.
	wait := func(what string, ok func(Event) bool) Event {
		t.Helper()
		timeout := time.After(5 * time.Second)
		for {
			select {
			case e := <-events:
				t.Logf("event %+v", e)
				if e.Index == idx && ok(e) {
					return e
				}
			case <-timeout:
				t.Fatalf("no event for %s within 5s", what)
			}
		}
	}
	// The initial state, which also shows the subscription is live.
	e := wait("initial state", func(e Event) bool { return !e.Deleted })
	if e.Name != n.V0 || e.MTU != 1500 || !e.Up {
		t.Errorf("initial event %+v", e)
	}
	// The peer coming up gives V0 its carrier.
	n.setUp(t, n.V1, true)
	wait("operationally up", func(e Event) bool { return e.OperUp })
	if err := n.H.LinkSetMTU(n.link(t, n.V0), 1400); err != nil {
		t.Fatal(err)
	}
	wait("MTU 1400", func(e Event) bool { return e.MTU == 1400 })
	n.setUp(t, n.V0, false)
	e = wait("down", func(e Event) bool { return !e.Up })
	if e.OperUp || e.Deleted {
		t.Errorf("down event %+v", e)
	}
	if err := n.H.LinkDel(n.link(t, n.V0)); err != nil {
		t.Fatal(err)
	}
	e = wait("deletion", func(e Event) bool { return e.Deleted })
	if e.Name != n.V0 {
		t.Errorf("deletion event %+v", e)
	}
	stop()
	// Watch's subscription goroutines are gone.
	for deadline := time.Now().Add(2 * time.Second); runtime.NumGoroutine() > goroutines; {
		if time.Now().After(deadline) {
			t.Errorf("%d goroutines after Watch returned, %d before", runtime.NumGoroutine(), goroutines)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWatchStopsAtOnce(t *testing.T) {
	done := make(chan struct{})
	close(done)
	if err := Watch(done, func(Event) {}); err != nil {
		t.Fatalf("Watch with done closed: %v", err)
	}
}
