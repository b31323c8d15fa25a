//go:build linux

package topo

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/r2go/r2/r2/internal/netnsx"
)

// sinkFrame is an Ethernet frame carrying an IPv4 or IPv6 header to dst
// (the rest zero).
func sinkFrame(dst netip.Addr) []byte {
	var f []byte
	if dst.Is4() {
		f = make([]byte, 14+20+8)
		binary.BigEndian.PutUint16(f[12:], 0x0800)
		f[14] = 0x45
		copy(f[14+16:], dst.AsSlice())
	} else {
		f = make([]byte, 14+40+8)
		binary.BigEndian.PutUint16(f[12:], 0x86dd)
		f[14] = 0x60
		copy(f[14+24:], dst.AsSlice())
	}
	return f
}

// TestSinkProgram runs the sink's program on frames (BPF_PROG_TEST_RUN):
// it drops and counts exactly the frames to its prefixes, at the bit the
// prefix ends, and passes everything else on.
func TestSinkProgram(t *testing.T) {
	requireRoot(t)
	cases := []struct {
		p4, p6 string
		frames map[string]bool // destination (or "arp") -> dropped
	}{
		{"10.9.0.0/24", "2001:db8:9::/64", map[string]bool{
			"10.9.0.1": true, "10.9.0.255": true, "10.9.1.1": false, "10.8.0.1": false, "11.9.0.1": false,
			"2001:db8:9::1": true, "2001:db8:9:0:ffff::1": true, "2001:db8:9:1::1": false, "2001:db8:8::1": false,
			"arp": false,
		}},
		{"10.9.0.0/23", "2001:db8:9::/65", map[string]bool{
			"10.9.1.200": true, "10.9.2.1": false,
			"2001:db8:9::7fff:0:0:1": true, "2001:db8:9::8000:0:0:1": false,
		}},
		{"192.168.1.129/32", "", map[string]bool{ // top bit set in a native-order word
			"192.168.1.129": true, "192.168.1.128": false, "2001:db8:9::1": false,
		}},
		{"", "2001:db8:9::1/128", map[string]bool{
			"2001:db8:9::1": true, "2001:db8:9::2": false, "10.9.0.1": false,
		}},
	}
	for _, c := range cases {
		t.Run(c.p4+"_"+c.p6, func(t *testing.T) {
			var p4, p6 netip.Prefix
			if c.p4 != "" {
				p4 = netip.MustParsePrefix(c.p4)
			}
			if c.p6 != "" {
				p6 = netip.MustParsePrefix(c.p6)
			}
			count, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer count.Close()
			prog, err := newSinkProg(count, p4.Masked(), p6.Masked())
			if err != nil {
				t.Fatal(err)
			}
			defer prog.Close()
			s := &Sink{count: count}
			want := uint64(0)
			for dst, drop := range c.frames {
				var f []byte
				if dst == "arp" {
					f = make([]byte, 42)
					binary.BigEndian.PutUint16(f[12:], 0x0806)
				} else {
					f = sinkFrame(netip.MustParseAddr(dst))
				}
				ret, err := prog.Run(&ebpf.RunOptions{Data: f})
				if err != nil {
					t.Fatal(err)
				}
				if got := int32(ret) == sinkDrop; got != drop {
					t.Errorf("frame to %s: verdict %d, dropped %v, want %v", dst, int32(ret), got, drop)
				}
				if drop {
					want++
				}
			}
			// Frames cut short in their IP header are not tried here:
			// test runs refuse them; the verifier refuses a program that
			// would read past a frame's end.
			if n, err := s.Count(); err != nil || n != want {
				t.Errorf("count = %d, %v; want %d", n, err, want)
			}
		})
	}
}

// TestSink sends UDP from h1 through the kernel router to addresses routed
// to h2: those in the sink's prefixes are dropped at h2's interface and
// counted, the others reach h2's IP layer (its InAddrErrors, h2 not
// forwarding), and the sink goes with the topology.
func TestSink(t *testing.T) {
	requireRoot(t)
	tp := newTopo(t, Config{RouterNS: true, IPv6: true})
	for _, r := range [][2]string{{"10.9.0.0/16", tp.H2IP.String()}, {"2001:db8:9::/48", tp.H2IP6.String()}} {
		if err := tp.AddHostRoute(tp.RouterNSName, r[0], r[1]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tp.AddSink(tp.H2NS, tp.H2If, netip.MustParsePrefix("10.9.0.0/24"), netip.MustParsePrefix("10.9.1.0/24")); err == nil {
		t.Error("AddSink with two IPv4 prefixes: no error")
	}
	if _, err := tp.AddSink(tp.H2NS, "nosuch0", netip.MustParsePrefix("10.9.0.0/24")); err == nil {
		t.Error("AddSink on a missing interface: no error")
	}
	if _, err := tp.AddSink("", tp.RouterIfB, netip.MustParsePrefix("10.9.0.0/24")); err == nil {
		t.Error("AddSink in the root namespace: no error")
	}
	s, err := tp.AddSink(tp.H2NS, tp.H2If, netip.MustParsePrefix("10.9.0.0/24"), netip.MustParsePrefix("2001:db8:9::/64"))
	if err != nil {
		t.Fatal(err)
	}
	before := inAddrErrors(t, tp)
	send := func(dst string, n int) {
		t.Helper()
		err := netnsx.InNS(tp.nsh[tp.H1NS], func() error {
			c, err := net.Dial("udp", net.JoinHostPort(dst, "9"))
			if err != nil {
				return err
			}
			defer c.Close()
			for i := 0; i < n; i++ {
				if _, err := c.Write([]byte("sink")); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("send to %s: %v", dst, err)
		}
	}
	send("10.9.0.1", 30)
	send("2001:db8:9::1", 20)
	send("10.9.1.1", 7)
	send("2001:db8:9:1::1", 5)
	// The last frames sent were not sunk: once h2 counted them, the
	// sunk ones (sent before, on the same path) have passed too.
	var after [2]uint64
	for i := 0; i < 100; i++ {
		if after = inAddrErrors(t, tp); after[0]-before[0] >= 7 && after[1]-before[1] >= 5 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d4, d6 := after[0]-before[0], after[1]-before[1]; d4 != 7 || d6 != 5 {
		t.Errorf("h2 InAddrErrors +%d, Ip6InAddrErrors +%d; want +7, +5 (the frames outside the sink's prefixes)", d4, d6)
	}
	if n, err := s.Count(); err != nil || n != 50 {
		t.Errorf("sink count = %d, %v; want 50", n, err)
	}
	// A reader (r2bench's measurement) may still be counting when the
	// topology closes: it gets an error, never a freed map.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := s.Count(); err != nil {
				return
			}
		}
	}()
	if err := tp.Close(); err != nil {
		t.Fatal(err)
	}
	<-done
	if _, err := s.Count(); err == nil {
		t.Error("sink still readable after the topology's Close")
	}
}

// inAddrErrors reads h2's Ip InAddrErrors and Ip6InAddrErrors.
func inAddrErrors(t *testing.T, topo *Topology) (v [2]uint64) {
	t.Helper()
	tp := func() error {
		b, err := os.ReadFile("/proc/thread-self/net/snmp")
		if err != nil {
			return err
		}
		lines := strings.Split(string(b), "\n")
		for i := 0; i+1 < len(lines); i++ {
			if !strings.HasPrefix(lines[i], "Ip: ") || !strings.HasPrefix(lines[i+1], "Ip: ") {
				continue
			}
			names, vals := strings.Fields(lines[i]), strings.Fields(lines[i+1])
			for j, n := range names {
				if n == "InAddrErrors" && j < len(vals) {
					v[0], _ = strconv.ParseUint(vals[j], 10, 64)
				}
			}
			break
		}
		b, err = os.ReadFile("/proc/thread-self/net/snmp6")
		if err != nil {
			return err
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) == 2 && f[0] == "Ip6InAddrErrors" {
				v[1], _ = strconv.ParseUint(f[1], 10, 64)
			}
		}
		return nil
	}
	if err := netnsx.InNS(topo.nsh[topo.H2NS], tp); err != nil {
		t.Fatal(fmt.Errorf("read h2's counters: %w", err))
	}
	return v
}
