//go:build linux

package afpacket

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/internal/nstest"
)

// filterMaps are the maps of a filter under test.
type filterMaps struct{ local4, local6, dropped *ebpf.Map }

func newFilterMaps(t *testing.T, local ...string) filterMaps {
	t.Helper()
	mk := func(spec *ebpf.MapSpec) *ebpf.Map {
		m, err := ebpf.NewMap(spec)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	hash := func(key uint32) *ebpf.MapSpec {
		return &ebpf.MapSpec{Type: ebpf.Hash, KeySize: key, ValueSize: 1, MaxEntries: 16, Flags: unix.BPF_F_NO_PREALLOC}
	}
	m := filterMaps{
		local4:  mk(hash(4)),
		local6:  mk(hash(16)),
		dropped: mk(&ebpf.MapSpec{Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1}),
	}
	for _, s := range local {
		a := netip.MustParseAddr(s)
		var err error
		if a.Is4() {
			k := a.As4()
			err = m.local4.Put(k[:], uint8(1))
		} else {
			k := a.As16()
			err = m.local6.Put(k[:], uint8(1))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// testFrame builds an Ethernet frame to dst (MAC) of EtherType typ whose
// IP header (if typ is IPv4 or IPv6) goes to ip, padded to 60 bytes.
func testFrame(dst string, typ uint16, ip string) []byte {
	f := make([]byte, 14, 128)
	mac, _ := net.ParseMAC(dst)
	copy(f, mac)
	copy(f[6:], []byte{2, 0, 0, 0, 0, 9})
	binary.BigEndian.PutUint16(f[12:], typ)
	switch typ {
	case fEtherIPv4:
		h := make([]byte, 20)
		h[0] = 0x45
		binary.BigEndian.PutUint16(h[2:], 46)
		h[8], h[9] = 64, 17
		copy(h[12:], []byte{10, 9, 9, 9})
		a := netip.MustParseAddr(ip).As4()
		copy(h[16:], a[:])
		f = append(f, h...)
	case fEtherIPv6:
		h := make([]byte, 40)
		h[0] = 0x60
		h[6], h[7] = 17, 64
		a := netip.MustParseAddr(ip).As16()
		copy(h[24:], a[:])
		f = append(f, h...)
	}
	for len(f) < 60 {
		f = append(f, 0)
	}
	return f
}

const (
	ucast = "02:00:00:00:00:01"
	bcast = "ff:ff:ff:ff:ff:ff"
	mcast = "01:00:5e:00:00:05"
)

// TestFilterProg runs the filter through BPF_PROG_TEST_RUN on crafted
// frames: it drops exactly the unicast IPv4/IPv6 frames to non-local
// addresses and counts them.
func TestFilterProg(t *testing.T) {
	nstest.NeedRoot(t)
	m := newFilterMaps(t, "10.1.0.2", "10.2.0.2", "2001:db8:1::2", "fe80::1")
	prog, err := newFilterProg(m.local4, m.local6, m.dropped, filterFamilies{v4: true, v6: true})
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	ipv4 := testFrame(ucast, fEtherIPv4, "10.3.0.1")
	ipv6 := testFrame(ucast, fEtherIPv6, "2001:db8:9::1")
	tagged := append(append(append([]byte{}, ipv4[:12]...), 0x81, 0x00, 0x00, 0x05), ipv4[12:]...)
	badVer := append([]byte{}, ipv4...)
	badVer[14] = 0x65
	shortIHL := append([]byte{}, ipv4...)
	shortIHL[14] = 0x44
	badVer6 := append([]byte{}, ipv6...)
	badVer6[14] = 0x40
	v6long := append(append([]byte{}, ipv6...), make([]byte, 20)...)
	tests := []struct {
		name  string
		frame []byte
		drop  bool
	}{
		{"ipv4 transit", ipv4, true},
		{"ipv6 transit", v6long[:14+40], true},
		{"ipv6 transit padded", v6long, true},
		{"ipv4 local", testFrame(ucast, fEtherIPv4, "10.1.0.2"), false},
		{"ipv4 local of another interface", testFrame(ucast, fEtherIPv4, "10.2.0.2"), false},
		{"ipv6 local", testFrame(ucast, fEtherIPv6, "2001:db8:1::2"), false},
		{"ipv6 link-local local", testFrame(ucast, fEtherIPv6, "fe80::1"), false},
		{"ipv6 link-local other", testFrame(ucast, fEtherIPv6, "fe80::2"), true},
		{"ipv4 broadcast MAC", testFrame(bcast, fEtherIPv4, "10.3.0.1"), false},
		{"ipv4 multicast MAC", testFrame(mcast, fEtherIPv4, "10.3.0.1"), false},
		{"ipv6 multicast MAC", testFrame("33:33:00:00:00:01", fEtherIPv6, "2001:db8:9::1"), false},
		{"ipv4 multicast", testFrame(ucast, fEtherIPv4, "224.0.0.5"), false},
		{"ipv4 limited broadcast", testFrame(ucast, fEtherIPv4, "255.255.255.255"), false},
		{"ipv4 loopback", testFrame(ucast, fEtherIPv4, "127.0.0.2"), false},
		{"ipv4 zero", testFrame(ucast, fEtherIPv4, "0.1.2.3"), false},
		{"ipv6 multicast", testFrame(ucast, fEtherIPv6, "ff02::1:ff00:2"), false},
		{"ipv6 multicast global", testFrame(ucast, fEtherIPv6, "ff0e::1"), false},
		{"arp", testFrame(ucast, 0x0806, ""), false},
		{"other ethertype", testFrame(ucast, 0x88cc, ""), false},
		{"vlan tagged", tagged, false},
		{"ipv4 bad version", badVer, false},
		{"ipv4 ihl 4", shortIHL, false},
		{"ipv6 bad version", badVer6, false},
		{"ipv4 minimal header", ipv4[:14+20], true},
		// Shorter frames of an IP EtherType the kernel refuses to test
		// run (EINVAL); TestKernelFilterNetns sends them on a veth.
	}
	var drops uint64
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ret, err := prog.Run(&ebpf.RunOptions{Data: tt.frame})
			if err != nil {
				t.Fatal(err)
			}
			want := uint32(tcxNext & 0xffffffff)
			if tt.drop {
				want = tcxDrop
				drops++
			}
			if ret != want {
				t.Errorf("verdict %d, want %d", int32(ret), int32(want))
			}
		})
	}
	f := &tcxFilter{dropped: m.dropped}
	if got, err := f.droppedFrames(); err != nil || got != drops {
		t.Errorf("dropped counter %d (%v), want %d", got, err, drops)
	}
}

// TestFilterProgOneFamily: a family the kernel forwards is never dropped.
func TestFilterProgOneFamily(t *testing.T) {
	nstest.NeedRoot(t)
	m := newFilterMaps(t)
	for _, fam := range []filterFamilies{{v4: true}, {v6: true}} {
		prog, err := newFilterProg(m.local4, m.local6, m.dropped, fam)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			frame []byte
			drop  bool
		}{
			{testFrame(ucast, fEtherIPv4, "10.3.0.1"), fam.v4},
			{testFrame(ucast, fEtherIPv6, "2001:db8:9::1"), fam.v6},
		} {
			ret, err := prog.Run(&ebpf.RunOptions{Data: c.frame})
			if err != nil {
				t.Fatal(err)
			}
			if got := int32(ret) == tcxDrop; got != c.drop {
				t.Errorf("families %+v: frame %x dropped %v, want %v", fam, c.frame[12:14], got, c.drop)
			}
		}
		prog.Close()
	}
	if _, err := newFilterProg(m.local4, m.local6, m.dropped, filterFamilies{}); err == nil {
		t.Error("a filter for no family was built")
	}
}
