package pathtest

import (
	"bytes"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/r2go/r2/gnodes/internal/v6test"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/packet"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz/FuzzForwardPath from fuzzSeeds")

// fuzzSeeds are the seed corpus of FuzzForwardPath, kept in
// testdata/fuzz/FuzzForwardPath (TestFuzzSeeds checks they match).
func fuzzSeeds() map[string][]byte {
	eth := func(dst [6]byte, etype uint16, p []byte) []byte { return gt.Pad(gt.Ether(dst, h1MAC, etype, p), 60) }
	udp := func(dst string, ttl uint8, n int) []byte {
		return gt.IPv4(gt.IP("10.1.0.1"), gt.IP(dst), ttl, hdr.ProtoUDP, gt.UDP(4000, 5000, gt.Bytes(n)))
	}
	badIHL := udp("192.0.2.10", 64, 10)
	badIHL[0] = 0x44
	gt.FixIPv4Checksum(badIHL)
	badSum := udp("192.0.2.10", 64, 10)
	badSum[10] ^= 0x5a
	big := udp("192.0.2.10", 64, 1400)
	gt.SetFlagsFrag(big, hdr.IPv4FlagDF)
	udp6 := func(dst string, hop uint8, n int) []byte { return v6test.UDPPacket("2001:db8:1::1", dst, hop, n) }
	rh0 := v6test.IPv6("2001:db8:1::1", "2001:db8:99::10", 64, hdr.ProtoIPv6Route,
		v6test.Cat(v6test.Ext(hdr.ProtoUDP, 0, 1), v6test.UDP("2001:db8:1::1", "2001:db8:99::10", 1, 2, nil)))
	badExt := v6test.IPv6("2001:db8:1::1", "2001:db8:99::10", 64, hdr.ProtoIPv6DstOpts, []byte{hdr.ProtoUDP, 9, 1, 2})
	ns := func() []byte {
		tgt := v6test.A("2001:db8:1::2")
		m := make([]byte, 32)
		copy(m[8:24], tgt[:])
		m[24], m[25] = 1, 1 // source link-layer address option
		copy(m[26:], h1MAC[:])
		sn := hdr.SolicitedNode(tgt[:])
		dst := netip.AddrFrom16(sn).String()
		return v6test.IPv6("2001:db8:1::1", dst, 255, hdr.ProtoICMPv6,
			v6test.ICMP("2001:db8:1::1", dst, hdr.ICMPv6NeighSolicit, 0, 0, m[8:]))
	}()
	snMAC := func() [6]byte {
		a := v6test.A("2001:db8:1::2")
		sn := hdr.SolicitedNode(a[:])
		return hdr.MulticastMAC(sn[:])
	}()
	arpGarbage := gt.ARP(hdr.ARPRequest, h1MAC, gt.IP("10.1.0.1"), [6]byte{}, gt.IP("10.1.0.2"))
	arpGarbage[4], arpGarbage[7] = 9, 77
	return map[string][]byte{
		"udp_forward":      eth(r2MAC0, hdr.EtherTypeIPv4, udp("192.0.2.10", 64, 18)),
		"udp_connected":    eth(r2MAC0, hdr.EtherTypeIPv4, udp("10.2.0.1", 64, 18)),
		"udp_unresolved":   eth(r2MAC0, hdr.EtherTypeIPv4, udp("10.2.0.77", 64, 18)),
		"udp_to_router":    eth(r2MAC0, hdr.EtherTypeIPv4, udp("10.1.0.2", 64, 18)),
		"udp_no_route":     eth(r2MAC0, hdr.EtherTypeIPv4, udp("10.66.1.1", 64, 18)),
		"icmp_echo_router": eth(r2MAC0, hdr.EtherTypeIPv4, gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.1.0.2"), 64, hdr.ProtoICMP, gt.Echo(1, 1, []byte("ping")))),
		"truncated":        eth(r2MAC0, hdr.EtherTypeIPv4, udp("192.0.2.10", 64, 100))[:40],
		"bad_ihl":          eth(r2MAC0, hdr.EtherTypeIPv4, badIHL),
		"bad_checksum":     eth(r2MAC0, hdr.EtherTypeIPv4, badSum),
		"ttl1":             eth(r2MAC0, hdr.EtherTypeIPv4, udp("192.0.2.10", 1, 18)),
		"frag_needed":      eth(r2MAC0, hdr.EtherTypeIPv4, big),
		"broadcast_udp":    eth(gt.Broadcast, hdr.EtherTypeIPv4, udp("10.1.0.255", 64, 18)),
		"arp_request":      eth(gt.Broadcast, hdr.EtherTypeARP, gt.ARP(hdr.ARPRequest, h1MAC, gt.IP("10.1.0.1"), [6]byte{}, gt.IP("10.1.0.2"))),
		"arp_garbage":      eth(gt.Broadcast, hdr.EtherTypeARP, arpGarbage),
		"ipv6_zeros":       eth(r2MAC0, hdr.EtherTypeIPv6, make([]byte, 40)),
		"udp6_forward":     eth(r2MAC0, hdr.EtherTypeIPv6, udp6("2001:db8:99::10", 64, 18)),
		"udp6_connected":   eth(r2MAC0, hdr.EtherTypeIPv6, udp6("2001:db8:2::1", 64, 18)),
		"udp6_unresolved":  eth(r2MAC0, hdr.EtherTypeIPv6, udp6("2001:db8:2::77", 64, 18)),
		"udp6_no_route":    eth(r2MAC0, hdr.EtherTypeIPv6, udp6("2001:db8:66::1", 64, 18)),
		"udp6_to_router":   eth(r2MAC0, hdr.EtherTypeIPv6, udp6("2001:db8:1::2", 64, 18)),
		"echo6_router":     eth(r2MAC0, hdr.EtherTypeIPv6, v6test.Echo("2001:db8:1::1", "2001:db8:2::2", 1, 1, []byte("ping"))),
		"hop1_v6":          eth(r2MAC0, hdr.EtherTypeIPv6, udp6("2001:db8:99::10", 1, 18)),
		"too_big_v6":       eth(r2MAC0, hdr.EtherTypeIPv6, udp6("2001:db8:99::10", 64, 1400)),
		"rh0":              eth(r2MAC0, hdr.EtherTypeIPv6, rh0),
		"bad_ext_hdr":      eth(r2MAC0, hdr.EtherTypeIPv6, badExt),
		"ns_router":        eth(snMAC, hdr.EtherTypeIPv6, ns),
		"runt":             {0xff, 0xff, 0xff},
	}
}

const seedDir = "testdata/fuzz/FuzzForwardPath"

func seedFile(b []byte) string { return "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n" }

// TestFuzzSeeds keeps the corpus on disk in sync with fuzzSeeds (run with
// -update-seeds to rewrite it).
func TestFuzzSeeds(t *testing.T) {
	seeds := fuzzSeeds()
	if *updateSeeds {
		if err := os.MkdirAll(seedDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range seeds {
			if err := os.WriteFile(filepath.Join(seedDir, name), []byte(seedFile(b)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, b := range seeds {
		got, err := os.ReadFile(filepath.Join(seedDir, name))
		if err != nil {
			t.Fatalf("%v (run go test -run TestFuzzSeeds -update-seeds)", err)
		}
		if !bytes.Equal(got, []byte(seedFile(b))) {
			t.Errorf("seed %s is out of date (run go test -run TestFuzzSeeds -update-seeds)", name)
		}
	}
}

// FuzzForwardPath feeds arbitrary bytes as an Ethernet frame received on
// eth0 and checks that nothing panics, that every frame sent is well formed,
// and that packet accounting holds: after the run the only packets in
// flight are those EtherEncap holds for ARP (by its counters), and after
// the graph is torn down none.
func FuzzForwardPath(f *testing.F) {
	// The seeds are in testdata/fuzz/FuzzForwardPath (see TestFuzzSeeds).
	f.Fuzz(func(t *testing.T, frame []byte) {
		w := newWorld(t, 64, false)
		w.drv0.Inject(frame)
		w.h.RunUntilIdle()
		checkTx(t, w.drv0.Frames(), r2MAC0)
		checkTx(t, w.drv1.Frames(), r2MAC1)
		rx := w.h.Counter("IfNode:eth0/rx")
		if st := w.drv0.Stats(); rx+st.RxDrops != 1 {
			t.Fatalf("frame of %d bytes: rx %d, driver drops %d", len(frame), rx, st.RxDrops)
		}
		if len(frame) > packet.MaxData && rx != 0 {
			t.Fatalf("oversized frame received")
		}
		w.h.CheckPool(w.held())
		if t.Failed() {
			t.Log(counterDump(w))
		}
		w.close()
	})
}

// TestSeedPaths checks that each seed takes the path it is named after.
func TestSeedPaths(t *testing.T) {
	seeds := fuzzSeeds()
	tests := []struct {
		seed    string
		counter string
	}{
		{seed: "udp_forward", counter: "IPv4Fwd/forwarded"},
		{seed: "udp_connected", counter: "IPv4Fwd/forwarded"},
		{seed: "udp_unresolved", counter: "EtherEncap:eth1/held"},
		{seed: "udp_to_router", counter: "IPv4Local/udp"},
		{seed: "udp_no_route", counter: "IPv4Fwd/no_route"},
		{seed: "icmp_echo_router", counter: "IPv4Local/echo_replies"},
		{seed: "truncated", counter: "L3Parse/truncated"},
		{seed: "bad_ihl", counter: "L3Parse/bad_ihl"},
		{seed: "bad_checksum", counter: "L3Parse/bad_checksum"},
		{seed: "ttl1", counter: "IPv4Fwd/ttl_expired"},
		{seed: "frag_needed", counter: "IPv4Fwd/frag_needed"},
		{seed: "broadcast_udp", counter: "IPv4Local/not_our_addr"},
		{seed: "arp_request", counter: "EtherDecap:eth0/arp_replies_sent"},
		{seed: "arp_garbage", counter: "EtherDecap:eth0/arp_bad"},
		{seed: "ipv6_zeros", counter: "IPv6Fwd/bad_header"},
		{seed: "udp6_forward", counter: "IPv6Fwd/forwarded"},
		{seed: "udp6_connected", counter: "IPv6Fwd/forwarded"},
		{seed: "udp6_unresolved", counter: "EtherEncap:eth1/held"},
		{seed: "udp6_no_route", counter: "IPv6Fwd/no_route"},
		{seed: "udp6_to_router", counter: "IPv6Local/udp"},
		{seed: "echo6_router", counter: "IPv6Local/echo_replies"},
		{seed: "hop1_v6", counter: "IPv6Fwd/hop_limit_exceeded"},
		{seed: "too_big_v6", counter: "IPv6Fwd/too_big"},
		{seed: "rh0", counter: "IPv6Fwd/rh0"},
		{seed: "bad_ext_hdr", counter: "IPv6Fwd/bad_ext_hdr"},
		{seed: "ns_router", counter: "EtherDecap:eth0/nd_na_sent"},
		{seed: "runt", counter: "EtherDecap:eth0/runt"},
	}
	if len(tests) != len(seeds) {
		t.Fatalf("%d seeds, %d checked", len(seeds), len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.seed, func(t *testing.T) {
			w := newWorld(t, 64, false)
			w.drv0.Inject(seeds[tc.seed])
			w.h.RunUntilIdle()
			if v := w.h.Counter(tc.counter); v != 1 {
				t.Errorf("%s = %d, want 1; counters: %s", tc.counter, v, counterDump(w))
			}
			w.drv0.Frames()
			w.drv1.Frames()
			w.close()
		})
	}
}

func counterDump(w *world) string {
	var b strings.Builder
	for k, v := range w.h.Counters() {
		fmt.Fprintf(&b, "%s=%d ", k, v)
	}
	return b.String()
}
