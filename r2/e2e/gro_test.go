package e2e

import (
	"testing"

	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/topo"
)

// TestGRO: hosts with every offload off send wire-size TCP segments.
// R2's software GRO (on by default) merges them on receive (rx_gro
// counters: at least two segments a merged frame), and they leave cut back
// into the original segments: by the kernel (AF_PACKET with vnet headers, through
// a socket that does not bypass the qdisc, as the devices have TSO off) or
// by the kernel behind AF_XDP's AF_PACKET socket for super-frames
// (drv_tx_vnet), or by the GSO node (AF_XDP with super_frames off); the
// segments arrive on AF_PACKET or AF_XDP. A transfer of each family
// arrives intact (the transfer compares SHA-256 sums), no segment's
// checksum was found bad, and nothing was dropped as oversized. With both
// interfaces on AF_XDP and super_frames off no interface sends
// super-frames whole, so nothing is merged (merging would only make work
// for the GSO node), and the transfers arrive as well.
func TestGRO(t *testing.T) {
	const size = 128 << 20
	for _, tc := range []struct {
		name     string
		drvA     string // driver of R2's interface towards h1 (where GRO merges)
		drvB     string // driver of R2's interface towards h2
		software bool   // the GSO node segments
		noMerge  bool   // no interface takes super-frames: GRO merges nothing
		vnet     bool   // AF_XDP sends the super-frames through AF_PACKET
		args     []string
	}{
		{name: "afpacket", drvA: "afpacket", drvB: "afpacket"},
		{name: "afxdp-output", drvA: "afpacket", drvB: "afxdp", vnet: true},
		{name: "afxdp-output-software", drvA: "afpacket", drvB: "afxdp", software: true, args: []string{"-afxdp-super-frames=false"}},
		{name: "afxdp-input", drvA: "afxdp", drvB: "afpacket"},
		{name: "afxdp", drvA: "afxdp", drvB: "afxdp", vnet: true},
		{name: "afxdp-no-super-frames", drvA: "afxdp", drvB: "afxdp", noMerge: true, args: []string{"-afxdp-super-frames=false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := newTopo6(t, topo.Config{})
			d := startR2(t, uniqueInstance(t), tc.args...)
			attach6Drivers(t, d, tp, 0, 0, tc.drvA, tc.drvB)
			pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 3)
			pingOK(t, d, tp, tp.H1NS, "2001:db8:2::1", 3)
			for _, fam := range []struct{ name, addr, fwd string }{
				{"ipv4", "10.2.0.1:5001", names.IPv4Fwd},
				{"ipv6", "[2001:db8:2::1]:5001", names.IPv6Fwd},
			} {
				before := d.counters(t)
				tcpTransferTo(t, tp, fam.addr, size)
				after := d.counters(t)
				delta := func(name string, i int) uint64 { return counterDelta(before, after, name, i) }
				fw := fam.fwd + "/forwarded"
				pk, by := delta(fw, 0), delta(fw, 1)
				rxA := names.IfNodeCounter(tp.RouterIfA, "")
				built, merged := delta(rxA+names.IfRxGROPackets, 0), delta(rxA+names.IfRxGROSegments, 0)
				bad := delta(rxA+"rx_gro_csum_bad", 0)
				segs := delta(names.GSO+"/segments", 0)
				whole := delta(names.IfNodeCounter(tp.RouterIfB, driver.DrvTxVnet), 0)
				t.Logf("%s: %s %d packets, %d bytes (%.0f bytes average); GRO built %d of %d segments (%.1f each), %d bad checksums; GSO node segments %d, sent whole by AF_XDP's AF_PACKET socket %d",
					fam.name, fw, pk, by, float64(by)/float64(max(pk, 1)), built, merged, float64(merged)/float64(max(built, 1)), bad, segs, whole)
				if tc.noMerge {
					if built != 0 || segs != 0 {
						t.Errorf("%s: GRO built %d packets and the GSO node made %d segments with no interface taking super-frames, want none", fam.name, built, segs)
					}
				} else if built == 0 || merged < 2*built {
					t.Errorf("%s: GRO built %d packets of %d segments, want some of 2 or more", fam.name, built, merged)
				}
				if bad != 0 {
					t.Errorf("%s: %d segments with a bad checksum", fam.name, bad)
				}
				for _, ifn := range []string{tp.RouterIfA, tp.RouterIfB} {
					if v := delta(names.IfNodeCounter(ifn, driver.DrvRxErrors), 0); v != 0 {
						t.Errorf("%s: %s drv_rx_errors %d, want 0", fam.name, ifn, v)
					}
				}
				if tc.vnet && whole < built {
					t.Errorf("%s: AF_XDP sent %d frames through its AF_PACKET socket, want the %d super-frames", fam.name, whole, built)
				}
				if !tc.vnet && whole != 0 {
					t.Errorf("%s: %d frames sent through AF_XDP's AF_PACKET socket, want 0", fam.name, whole)
				}
				if tc.software && segs < merged {
					t.Errorf("%s: the GSO node made %d segments of %d merged", fam.name, segs, merged)
				}
				if !tc.software && segs != 0 {
					t.Errorf("%s: %d segments made in software, want 0 (the kernel segments)", fam.name, segs)
				}
			}
		})
	}
}
