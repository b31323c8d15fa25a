//go:build linux

package afxdp

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"
)

// hostBenchAddrs are the host's addresses in the host-owned benchmarks:
// the frames are transit, so every lookup misses, the common case.
var hostBenchAddrs = []netip.Addr{
	netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("10.9.0.255"),
	netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("fe80::a"),
}

// transitFrames are a 64-byte IPv4 and a 78-byte IPv6 UDP transit frame
// from mac B to mac A.
func transitFrames(macA, macB []byte) map[string][]byte {
	udp := make([]byte, 8)
	f4 := ether(macA, macB, 0x0800, ipv4(netip.MustParseAddr("10.9.0.2"), netip.MustParseAddr("192.0.2.7"), 17, append(udp, make([]byte, 18)...)))
	f6 := ether(macA, macB, 0x86dd, ipv6(netip.MustParseAddr("2001:db8::2"), netip.MustParseAddr("2001:db8:9::7"), 17, append(udp, make([]byte, 16)...)))
	return map[string][]byte{"ipv4-64": f4, "ipv6-78": f6}
}

// BenchmarkXDPProg is the cost of the XDP program alone, plain redirect
// against the host-owned classifier, on transit frames: one
// BPF_PROG_TEST_RUN of b.N repeats, ns/frame as the kernel timed them.
// Rounds alternate the two programs so that machine noise hits both alike.
func BenchmarkXDPProg(b *testing.B) {
	tn := newTestNet(b, 1, 1500)
	pool := newPool(b, 0, 256)
	d := tn.open(b, 0, Config{Pool: pool})
	if err := d.SetHostOwned(true, hostBenchAddrs); err != nil {
		b.Fatal(err)
	}
	frames := transitFrames(testMACA, testMACB)
	for round := range 3 {
		for _, name := range []string{"ipv4-64", "ipv6-78"} {
			for _, p := range []struct {
				mode string
				prog *ebpf.Program
			}{{"plain", d.prog.prog}, {"host", d.host.prog}} {
				b.Run(fmt.Sprintf("round=%d/frame=%s/prog=%s", round, name, p.mode), func(b *testing.B) {
					ret, dur, err := p.prog.Benchmark(frames[name], b.N, nil)
					if err != nil {
						b.Fatal(err)
					}
					if ret != actRedirect {
						b.Fatalf("action %d, want redirect", ret)
					}
					b.ReportMetric(float64(dur.Nanoseconds()), "ns/frame")
				})
			}
		}
	}
}

// BenchmarkForwardHostOwned is BenchmarkForward with transit IPv4 and IPv6
// frames and the input interface's host-owned mode off and on, in
// alternating rounds: the whole path's cost of the classifier.
func BenchmarkForwardHostOwned(b *testing.B) {
	tn := newTestNet(b, 2, 1500)
	poolA, poolB := newPool(b, 0, 8192), newPool(b, 1, 8192)
	a0 := tn.open(b, 0, Config{Pool: poolA})
	a1 := tn.open(b, 1, Config{Pool: poolA})
	b0 := tn.openB(b, 0, Config{Pool: poolB})
	b1 := tn.openB(b, 1, Config{Pool: poolB})
	v := tn.Pairs[0]
	frames := transitFrames(v.MACA, v.MACB)
	for round := range 3 {
		for _, name := range []string{"ipv4-64", "ipv6-78"} {
			for _, on := range []bool{false, true} {
				if err := a0.SetHostOwned(on, hostBenchAddrs); err != nil {
					b.Fatal(err)
				}
				mode := map[bool]string{false: "off", true: "on"}[on]
				b.Run(fmt.Sprintf("round=%d/frame=%s/host=%s", round, name, mode), func(b *testing.B) {
					benchPipe(b, frames[name], b0, a0, a1, b1, poolA, poolB)
				})
			}
		}
	}
}
