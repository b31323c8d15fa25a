//go:build linux

package router

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/r2go/r2/r2/ctl"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/routedata"
)

// h2v6 is h2's IPv6 address behind if1, the next hop of every benchmark
// route (h3v6 the second path of multipath ones); h1v6 is the source of
// the frames.
var (
	h1v6 = netip.MustParseAddr("2001:db8:1::1")
	h2v6 = netip.MustParseAddr("2001:db8:2::1")
	h3v6 = netip.MustParseAddr("2001:db8:2::3")
)

// newPathRig6 is newPathRig with IPv6 addresses on both interfaces
// (2001:db8:1::2/64, 2001:db8:2::2/64) and h2's IPv6 neighbour entry preset.
func newPathRig6(tb testing.TB) *pathRig {
	tb.Helper()
	r := newPathRig(tb)
	for _, err := range []error{
		r.e.AddAddr("if0", netip.MustParsePrefix("2001:db8:1::2/64")),
		r.e.AddAddr("if1", netip.MustParsePrefix("2001:db8:2::2/64")),
		r.e.AddNeighbour("if1", h2v6, macH2),
	} {
		if err != nil {
			tb.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for !hasNeighbour(r.e, h2v6) {
		if time.Now().After(deadline) {
			tb.Fatal("IPv6 neighbour not recorded")
		}
		time.Sleep(time.Millisecond)
	}
	return r
}

func hasNeighbour(e *Router, a netip.Addr) bool {
	for _, n := range e.Neighbours() {
		if n.IP == a {
			return true
		}
	}
	return false
}

// udp6Frame is an Ethernet/IPv6/UDP frame from h1 to dst with payload
// bytes of data and a valid UDP checksum: 14+40+8+payload bytes.
func udp6Frame(dstMAC, srcMAC [6]byte, dst netip.Addr, hop uint8, payload int) []byte {
	u := make([]byte, 8+payload)
	binary.BigEndian.PutUint16(u[0:], 1234)
	binary.BigEndian.PutUint16(u[2:], 5678)
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	s, d := h1v6.As16(), dst.As16()
	binary.BigEndian.PutUint16(u[6:], hdr.Checksum(u, hdr.PseudoSum6(s[:], d[:], len(u), hdr.ProtoUDP)))
	b := make([]byte, hdr.EtherLen+hdr.IPv6Len+len(u))
	eth := hdr.Ether(b)
	eth.SetDst(dstMAC)
	eth.SetSrc(srcMAC)
	eth.SetType(hdr.EtherTypeIPv6)
	hdr.PutIPv6(b[hdr.EtherLen:], 0, len(u), hdr.ProtoUDP, hop, &s, &d)
	copy(b[hdr.EtherLen+hdr.IPv6Len:], u)
	return b
}

// frames6 builds one 64-byte frame (the smallest IPv6/UDP frame, 62
// bytes, plus 2 bytes of payload) per destination.
func frames6(dsts []netip.Addr) [][]byte {
	out := make([][]byte, len(dsts))
	for i, d := range dsts {
		out[i] = udp6Frame(macR0, macH1, d, 64, 2)
	}
	return out
}

// BenchmarkIPv6Path is BenchmarkIPv4Path for IPv6: IfNode Rx, EtherDecap,
// the IPv6 forwarding node, EncapMux, EtherEncap, IfNode Tx on one thread,
// with 64-byte IPv6/UDP frames from the in-memory driver (IPv6 headers are
// 20 bytes longer, so the frames are 4 bytes longer than the IPv4 ones).
func BenchmarkIPv6Path(b *testing.B) {
	b.Run("routes=10", func(b *testing.B) {
		r := newPathRig6(b)
		var rs []ctl.Route
		for i := 0; i < 10; i++ {
			rs = append(rs, ctl.Route{Prefix: netip.MustParsePrefix(fmt.Sprintf("2001:db8:100:%x::/64", i)), NextHop: h2v6, Ifname: "if1"})
		}
		if err := r.e.AddRoutes(rs); err != nil {
			b.Fatal(err)
		}
		var ps []netip.Prefix
		for _, x := range rs {
			ps = append(ps, x.Prefix)
		}
		r.run(b, frames6(routedata.RandomHosts(ps, 1024, 1)))
	})
	// As for IPv4: the tier1 IPv6 table single-path, 10% multipath (via h2
	// and h3), all multipath.
	for _, share := range []int{0, 10, 100} {
		name := "routes=tier1"
		if share > 0 {
			name = fmt.Sprintf("routes=tier1-ecmp%d", share)
		}
		b.Run(name, func(b *testing.B) {
			path, err := routedata.Find()
			if err != nil {
				b.Fatal(err) // the repository ships the table
			}
			ps, err := routedata.LoadIPv6(path)
			if err != nil {
				b.Fatal(err)
			}
			r := newPathRig6(b)
			if share > 0 {
				r.addNeighbour(b, "if1", h3v6)
			}
			own := netip.MustParsePrefix("2001:db8::/32") // the rig's subnets
			var rs []ctl.Route
			seen := map[netip.Prefix]bool{}
			for _, p := range ps {
				// Multicast and link-local destinations are not forwarded
				// by route; a table carries none, but be sure.
				if p.Bits() == 0 || p.Overlaps(own) || p.Addr().IsMulticast() || p.Addr().IsLinkLocalUnicast() || seen[p] {
					continue
				}
				seen[p] = true
				rs = append(rs, benchRoute(p, share, h2v6, h3v6))
			}
			start := time.Now()
			for i := 0; i < len(rs); i += 100000 {
				if err := r.e.AddRoutes(rs[i:min(i+100000, len(rs))]); err != nil {
					b.Fatal(err)
				}
			}
			b.Logf("loaded %d IPv6 routes through the engine in %v", len(rs), time.Since(start))
			r.e.mu.Lock()
			groups := r.e.rib6.GroupStats().Live
			r.e.mu.Unlock()
			if want := min(share, 1); groups != want {
				b.Fatalf("%d multipath groups, want %d", groups, want)
			}
			var routed []netip.Prefix
			for _, x := range rs {
				routed = append(routed, x.Prefix)
			}
			r.run(b, frames6(routedata.RandomHosts(routed, 8192, 2)))
		})
	}
}

// TestIPv6PathFrames checks that the benchmark's frames go through: each
// destination reaches if1 with h2's MAC and the hop limit decremented.
func TestIPv6PathFrames(t *testing.T) {
	r := newPathRig6(t)
	if err := r.e.AddRoutes([]ctl.Route{{Prefix: netip.MustParsePrefix("2001:db8:100::/48"), NextHop: h2v6, Ifname: "if1"}}); err != nil {
		t.Fatal(err)
	}
	fs := frames6(routedata.RandomHosts([]netip.Prefix{netip.MustParsePrefix("2001:db8:100::/48")}, 4, 3))
	if len(fs[0]) != 64 {
		t.Fatalf("frame of %d bytes, want 64", len(fs[0]))
	}
	r.d1.Capture(true)
	for _, f := range fs {
		r.d0.Inject(f)
	}
	for _, f := range waitFrames(t, r.d1, len(fs)) {
		eth := hdr.Ether(f)
		ip := hdr.IPv6(f[hdr.EtherLen:])
		if !hdr.MACEqual(eth.Dst(), macH2) || eth.Type() != hdr.EtherTypeIPv6 || ip.HopLimit() != 63 || len(f) != 64 {
			t.Errorf("forwarded frame %x", f)
		}
	}
}
