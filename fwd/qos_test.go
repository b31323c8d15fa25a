package fwd

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/r2go/r2/r2/sched/hfsc"
)

func lin(bps uint64) *hfsc.Curve { return &hfsc.Curve{M1: bps, M2: bps} }

// frame4 is an Ethernet+IPv4 frame; l4 follows the 20-byte header.
func frame4(src, dst string, tos, proto uint8, frag uint16, l4 []byte) []byte {
	f := make([]byte, 14+20+len(l4))
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0], ip[1], ip[9] = 0x45, tos, proto
	binary.BigEndian.PutUint16(ip[6:], frag)
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	copy(ip[20:], l4)
	return f
}

// frame6 is an Ethernet+IPv6 frame with optional extension headers ext
// (each 8 bytes, next-header byte filled in) before l4.
func frame6(src, dst string, tc, nh uint8, ext []uint8, l4 []byte) []byte {
	f := make([]byte, 14+40+8*len(ext)+len(l4))
	binary.BigEndian.PutUint16(f[12:], 0x86dd)
	ip := f[14:]
	binary.BigEndian.PutUint32(ip[0:], 6<<28|uint32(tc)<<20)
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(ip[8:], s[:])
	copy(ip[24:], d[:])
	next := nh
	if len(ext) > 0 {
		next = ext[0]
	}
	ip[6] = next
	off := 40
	for i := range ext {
		n := nh
		if i+1 < len(ext) {
			n = ext[i+1]
		}
		ip[off] = n
		off += 8
	}
	copy(ip[off:], l4)
	return f
}

func ports(s, d uint16) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint16(b, s)
	binary.BigEndian.PutUint16(b[2:], d)
	return b
}

func TestClassify(t *testing.T) {
	classes := []hfsc.ClassConfig{
		{Name: "voice", Leaf: true, QLimit: 8, RT: lin(1e6)},
		{Name: "web", Leaf: true, QLimit: 8, LS: lin(1e6)},
		{Name: "bulk", Leaf: true, QLimit: 8, LS: lin(1e6)},
		{Name: "v6", Leaf: true, QLimit: 8, LS: lin(1e6)},
		{Name: "other", Leaf: true, QLimit: 8, LS: lin(1e6)},
	}
	rules := []QoSRule{
		{Prio: 30, Class: "bulk", DSCP: -1, Proto: -1, Src: netip.MustParsePrefix("10.1.0.0/16")},
		{Prio: 10, Class: "voice", DSCP: 46, Proto: -1},
		{Prio: 20, Class: "web", DSCP: -1, Proto: 6, Dport: [2]uint16{80, 443}},
		{Prio: 40, Class: "v6", DSCP: -1, Proto: 17, Dst: netip.MustParsePrefix("2001:db8::/32"), Sport: [2]uint16{5000, 5000}},
		{Prio: 50, Class: "other", DSCP: -1, Proto: -1, Dst: netip.MustParsePrefix("2001:db8:1::/48")},
	}
	q, err := NewQoS("eth0", 10e6, 0, classes, rules, "other")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		frame []byte
		rule  int // prio, -1: none
		class string
	}{
		{"dscp ef wins over the source rule", frame4("10.1.2.3", "10.2.0.1", 46<<2, 17, 0, ports(1, 2)), 10, "voice"},
		{"tcp 443", frame4("10.9.0.1", "10.2.0.1", 0, 6, 0, ports(1234, 443)), 20, "web"},
		{"tcp 444: source rule", frame4("10.1.0.1", "10.2.0.1", 0, 6, 0, ports(1234, 444)), 30, "bulk"},
		{"udp 443: no", frame4("10.9.0.1", "10.2.0.1", 0, 17, 0, ports(1234, 443)), -1, "other"},
		{"later fragment has no ports", frame4("10.9.0.1", "10.2.0.1", 0, 6, 100, ports(1234, 443)), -1, "other"},
		{"first fragment has ports", frame4("10.9.0.1", "10.2.0.1", 0, 6, 0x2000, ports(1234, 80)), 20, "web"},
		{"truncated tcp", frame4("10.9.0.1", "10.2.0.1", 0, 6, 0, nil), -1, "other"},
		{"v6 udp sport 5000", frame6("2001:db8::1", "2001:db8::2", 0, 17, nil, ports(5000, 9)), 40, "v6"},
		{"v6 udp through hop-by-hop and fragment headers", frame6("::1", "2001:db8:ffff::2", 0, 17, []uint8{0, 44}, ports(5000, 9)), 40, "v6"},
		{"v6 dscp ef", frame6("::1", "::2", 46<<2, 59, nil, nil), 10, "voice"},
		{"v6 dst /48", frame6("::1", "2001:db8:1::9", 0, 6, nil, ports(1, 2)), 40 + 10, "other"},
		{"v6 tcp 80", frame6("::1", "2001:db9::9", 0, 6, nil, ports(1, 80)), 20, "web"},
		{"arp", append(make([]byte, 12), 0x08, 0x06, 0, 1), -1, "other"},
		{"runt", []byte{1, 2, 3}, -1, "other"},
		{"vlan-tagged dscp", append(append(make([]byte, 12), 0x81, 0, 0, 5), frame4("1.1.1.1", "2.2.2.2", 46<<2, 1, 0, nil)[12:]...), 10, "voice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ri, ci := q.Classify(tc.frame)
			prio := -1
			if ri >= 0 {
				prio = q.Rules[ri].Prio
			}
			if prio != tc.rule || q.Classes[ci].Name != tc.class {
				t.Errorf("got rule %d class %s, want rule %d class %s", prio, q.Classes[ci].Name, tc.rule, tc.class)
			}
		})
	}
	if n := testing.AllocsPerRun(100, func() { q.Classify(frame6("::1", "::2", 0, 17, []uint8{0}, ports(1, 2))) }); n > 1 {
		t.Errorf("Classify allocates") // the frame itself is one allocation
	}
}

func TestNewQoSRefuses(t *testing.T) {
	classes := []hfsc.ClassConfig{
		{Name: "in", LS: lin(1e6)},
		{Name: "a", Parent: "in", Leaf: true, QLimit: 8, LS: lin(1e6)},
	}
	for _, tc := range []struct {
		name  string
		rules []QoSRule
		def   string
	}{
		{"default is interior", nil, "in"},
		{"default unknown", nil, "zz"},
		{"rule to interior", []QoSRule{{Prio: 1, Class: "in", DSCP: -1, Proto: -1}}, ""},
		{"rule to unknown", []QoSRule{{Prio: 1, Class: "b", DSCP: -1, Proto: -1}}, ""},
		{"duplicate prio", []QoSRule{{Prio: 1, Class: "a", DSCP: -1, Proto: -1}, {Prio: 1, Class: "a", DSCP: -1, Proto: -1}}, ""},
		{"dscp 64", []QoSRule{{Prio: 1, Class: "a", DSCP: 64, Proto: -1}}, ""},
		{"ports reversed", []QoSRule{{Prio: 1, Class: "a", DSCP: -1, Proto: -1, Dport: [2]uint16{9, 8}}}, ""},
		{"mixed families", []QoSRule{{Prio: 1, Class: "a", DSCP: -1, Proto: -1, Src: netip.MustParsePrefix("::/0"), Dst: netip.MustParsePrefix("1.0.0.0/8")}}, ""},
		{"host bits", []QoSRule{{Prio: 1, Class: "a", DSCP: -1, Proto: -1, Src: netip.MustParsePrefix("1.2.3.4/8")}}, ""},
	} {
		if _, err := NewQoS("eth0", 1e7, 0, classes, tc.rules, tc.def); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}
