package fwd

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func testIntf(ifindex int32, name string, addrs ...string) *Interface {
	i := &Interface{
		Ifindex:    ifindex,
		Name:       name,
		LinuxIndex: int(ifindex) + 100,
		MAC:        [6]byte{0x02, 0, 0, 0, 0, byte(ifindex)},
		MTU:        1500,
		Up:         true,
	}
	for _, a := range addrs {
		i.Addrs = append(i.Addrs, netip.MustParsePrefix(a))
	}
	return i
}

func TestInterfaceValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(i *Interface)
		wantErr string
	}{
		{"valid", func(i *Interface) {}, ""},
		{"no addresses", func(i *Interface) { i.Addrs = nil }, ""},
		{"ifindex negative", func(i *Interface) { i.Ifindex = -1 }, "ifindex -1 out of range"},
		{"ifindex too big", func(i *Interface) { i.Ifindex = MaxIfindex }, "out of range"},
		{"empty name", func(i *Interface) { i.Name = "" }, "empty name"},
		{"mtu too small", func(i *Interface) { i.MTU = 67 }, "MTU 67"},
		{"mtu too big", func(i *Interface) { i.MTU = 65536 }, "MTU 65536"},
		{"negative owner", func(i *Interface) { i.Owner = -1 }, "owner"},
		{"ipv6 address, small MTU", func(i *Interface) {
			i.MTU = 1000
			i.Addrs = append(i.Addrs, netip.MustParsePrefix("2001:db8::1/64"))
		}, "MTU of at least 1280"},
		{"ipv4-mapped address", func(i *Interface) { i.Addrs = append(i.Addrs, netip.MustParsePrefix("::ffff:10.0.0.1/120")) }, "not an IPv4 or IPv6"},
		{"invalid address", func(i *Interface) { i.Addrs = append(i.Addrs, netip.Prefix{}) }, "not an IPv4"},
		{"duplicate address", func(i *Interface) { i.Addrs = append(i.Addrs, netip.MustParsePrefix("10.1.0.2/16")) }, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := testIntf(3, "eth3", "10.1.0.2/24", "192.168.7.1/30")
			tt.change(i)
			err := i.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestInterfaceClone(t *testing.T) {
	orig := testIntf(1, "eth1", "10.1.0.2/24")
	c := orig.Clone()
	if diff := cmp.Diff(orig, c, prefixCmp); diff != "" {
		t.Fatalf("Clone differs (-orig +clone):\n%s", diff)
	}
	// The clone must not share Addrs, or modifying it would change a
	// snapshot that threads read.
	c.Addrs[0] = netip.MustParsePrefix("10.9.9.9/8")
	c.MTU = 9000
	if orig.Addrs[0] != netip.MustParsePrefix("10.1.0.2/24") || orig.MTU != 1500 {
		t.Fatalf("modifying the clone changed the original: %+v", orig)
	}
}

func TestInterfaceHasAddrOnLink(t *testing.T) {
	i := testIntf(1, "eth1", "10.1.0.2/24", "192.168.7.1/30", "172.16.0.1/32")
	tests := []struct {
		ip             string
		hasAddr, onLnk bool
	}{
		{"10.1.0.2", true, true},
		{"10.1.0.1", false, true},
		{"10.1.0.255", false, true},
		{"10.1.1.0", false, false},
		{"10.0.255.255", false, false},
		{"192.168.7.1", true, true},
		{"192.168.7.3", false, true},
		{"192.168.7.4", false, false},
		{"172.16.0.1", true, true},
		{"172.16.0.2", false, false},
		{"8.8.8.8", false, false},
	}
	for _, tt := range tests {
		ip := IPv4ToU32(netip.MustParseAddr(tt.ip))
		if got := i.HasAddr(ip); got != tt.hasAddr {
			t.Errorf("HasAddr(%s) = %v, want %v", tt.ip, got, tt.hasAddr)
		}
		if got := i.OnLink(ip); got != tt.onLnk {
			t.Errorf("OnLink(%s) = %v, want %v", tt.ip, got, tt.onLnk)
		}
	}
	// A /0 subnet is on-link for everything (the shift by 32 must not
	// misbehave), and an interface without addresses has nothing.
	all := testIntf(2, "eth2", "10.0.0.1/0")
	if !all.OnLink(0xdeadbeef) {
		t.Error("OnLink on a /0 subnet = false, want true")
	}
	none := testIntf(3, "eth3")
	if none.HasAddr(0) || none.OnLink(0x0a000001) {
		t.Error("interface without addresses claims an address")
	}
}

func TestInterfacesSnapshots(t *testing.T) {
	var empty *Interfaces
	if empty.Get(0) != nil || empty.ByName("x") != nil || empty.All() != nil || empty.Len() != 0 {
		t.Fatal("nil snapshot is not empty")
	}
	if (&Interfaces{}).Get(1) != nil || (&Interfaces{}).Len() != 0 {
		t.Fatal("zero snapshot is not empty")
	}

	e5, e1, e900 := testIntf(5, "eth5"), testIntf(1, "eth1"), testIntf(900, "eth900")
	s1 := empty.With(e5)
	s2 := s1.With(e1).With(e900)
	if s1.Len() != 1 || s1.Get(1) != nil {
		t.Fatalf("With changed the old snapshot: %v", s1.All())
	}
	if got := ifindexes(s2.All()); !cmp.Equal(got, []int32{1, 5, 900}) {
		t.Fatalf("All() ifindexes = %v, want [1 5 900]", got)
	}
	tests := []struct {
		ifindex int32
		want    *Interface
	}{
		{1, e1}, {5, e5}, {900, e900}, {0, nil}, {4, nil}, {901, nil}, {-1, nil}, {MaxIfindex, nil},
	}
	for _, tt := range tests {
		if got := s2.Get(tt.ifindex); got != tt.want {
			t.Errorf("Get(%d) = %p, want %p", tt.ifindex, got, tt.want)
		}
	}
	if s2.ByName("eth900") != e900 || s2.ByName("eth2") != nil {
		t.Error("ByName gives the wrong interface")
	}

	// Replace: same ifindex, new name and MTU.
	e5b := e5.Clone()
	e5b.Name, e5b.MTU = "wan", 9000
	s3 := s2.With(e5b)
	if s3.Get(5) != e5b || s3.ByName("wan") != e5b || s3.ByName("eth5") != nil || s3.Len() != 3 {
		t.Fatalf("replace failed: %v", s3.All())
	}
	if s2.Get(5) != e5 || s2.ByName("eth5") != e5 {
		t.Fatal("With(replacement) changed the old snapshot")
	}

	s4 := s3.Without(900)
	if s4.Get(900) != nil || s4.ByName("eth900") != nil || s4.Len() != 2 || s3.Get(900) != e900 {
		t.Fatalf("Without(900) = %v (old %v)", s4.All(), s3.All())
	}
	if s4.Without(77) != s4 {
		t.Error("Without of a missing ifindex should return the same snapshot")
	}
	if s := s4.Without(1).Without(5); s.Len() != 0 || s.Get(5) != nil {
		t.Fatalf("removing everything left %v", s.All())
	}
}

func TestInterfacesWithPanicsOnBadIfindex(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("With(ifindex MaxIfindex) did not panic")
		}
	}()
	(*Interfaces)(nil).With(testIntf(MaxIfindex, "bad"))
}

func ifindexes(l []*Interface) []int32 {
	var out []int32
	for _, i := range l {
		out = append(out, i.Ifindex)
	}
	return out
}

// TestInterfacesAnyOffload: a snapshot says whether some interface sends
// super-frames whole, through With and Without.
func TestInterfacesAnyOffload(t *testing.T) {
	var s *Interfaces
	if s.AnyOffload() {
		t.Error("nil snapshot: AnyOffload")
	}
	s = s.With(testIntf(1, "xdp0"))
	if s.AnyOffload() {
		t.Error("one interface without Offload: AnyOffload")
	}
	off := testIntf(2, "pkt0")
	off.Offload = true
	s2 := s.With(off)
	if !s2.AnyOffload() || s.AnyOffload() {
		t.Errorf("with an offloading interface: AnyOffload %v (the old snapshot %v), want true (false)", s2.AnyOffload(), s.AnyOffload())
	}
	if s3 := s2.Without(2); s3.AnyOffload() {
		t.Error("AnyOffload after the offloading interface left")
	}
	if s4 := s2.Without(1); !s4.AnyOffload() {
		t.Error("AnyOffload lost when another interface left")
	}
}
