package e2e

import (
	"strings"
	"testing"

	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/topo"
)

// TestGSO: hosts with the veth defaults (TSO, GSO, checksum offload) send
// 64 KiB TCP super-frames. With vnet headers on R2's AF_PACKET interfaces
// (the default) a 1 GB transfer, IPv4 then IPv6, arrives intact (the
// transfer compares SHA-256 sums), nothing is dropped as oversized
// (drv_rx_errors 0), and the frames R2 forwarded average well above an
// MTU: they crossed R2 whole, h1's side reading them through the copy
// path (drv_rx_long). With h2's side on AF_XDP they leave whole through
// its AF_PACKET socket for super-frames (drv_tx_vnet), and with that off
// (-afxdp-super-frames=false) the GSO node segments them in software.
func TestGSO(t *testing.T) {
	const size = 1 << 30
	for _, tc := range []struct {
		name     string
		drvB     string // driver of R2's interface towards h2
		software bool   // the GSO node must segment
		args     []string
	}{
		{name: "afpacket-vnet", drvB: "afpacket"},
		{name: "afxdp-output", drvB: "afxdp"},
		{name: "afxdp-output-software", drvB: "afxdp", software: true, args: []string{"-afxdp-super-frames=false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := size
			if tc.drvB == "afxdp" {
				n = size / 4 // AF_XDP copy mode on veth is slower; still ~180,000 segments
			}
			tp := newTopo6(t, topo.Config{Offloads: true})
			if tc.drvB == "afxdp" {
				// AF_XDP cannot see a checksum left to offload
				// (README): h2's ACKs must carry real ones.
				if err := tp.DisableOffloads(tp.H2NS, tp.H2If); err != nil {
					t.Fatal(err)
				}
			}
			d := startR2(t, uniqueInstance(t), tc.args...)
			attach6Drivers(t, d, tp, 0, 0, "afpacket", tc.drvB)
			if show := d.must(t, "r2intf", "show"); !strings.Contains(show, tc.drvB) {
				t.Fatalf("interface B is not on %s:\n%s", tc.drvB, show)
			}
			pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 3)
			pingOK(t, d, tp, tp.H1NS, "2001:db8:2::1", 3)
			for _, fam := range []struct{ name, addr, fwd string }{
				{"ipv4", "10.2.0.1:5001", names.IPv4Fwd},
				{"ipv6", "[2001:db8:2::1]:5001", names.IPv6Fwd},
			} {
				before := d.counters(t)
				tcpTransferTo(t, tp, fam.addr, n)
				after := d.counters(t)
				delta := func(name string, i int) uint64 { return counterDelta(before, after, name, i) }
				fw := fam.fwd + "/forwarded"
				pk, by := delta(fw, 0), delta(fw, 1)
				segs := delta(names.GSO+"/segments", 0)
				t.Logf("%s: %s %d packets, %d bytes (%.0f bytes average); GSO segments %d", fam.name, fw, pk, by, float64(by)/float64(max(pk, 1)), segs)
				for _, ifn := range []string{tp.RouterIfA, tp.RouterIfB} {
					if v := delta(names.IfNodeCounter(ifn, driver.DrvRxErrors), 0); v != 0 {
						t.Errorf("%s: %s drv_rx_errors %d, want 0", fam.name, ifn, v)
					}
				}
				if pk == 0 || by/pk < 3000 {
					t.Errorf("%s: forwarded frames average %d bytes: no super-frames crossed R2", fam.name, by/max(pk, 1))
				}
				// The super-frames do not fit R2's 2 KiB ring slots:
				// h1's side reads them from its socket (the copy path).
				if long := delta(names.IfNodeCounter(tp.RouterIfA, driver.DrvRxLong), 0); long == 0 || long > pk {
					t.Errorf("%s: %s drv_rx_long %d, want 1 to %d (the frames forwarded)", fam.name, tp.RouterIfA, long, pk)
				} else {
					t.Logf("%s: %d frames through the copy path", fam.name, long)
				}
				whole := delta(names.IfNodeCounter(tp.RouterIfB, driver.DrvTxVnet), 0)
				if vnet := tc.drvB == "afxdp" && !tc.software; vnet && whole == 0 {
					t.Errorf("%s: AF_XDP sent no super-frame whole (drv_tx_vnet 0)", fam.name)
				} else if !vnet && whole != 0 {
					t.Errorf("%s: drv_tx_vnet %d, want 0", fam.name, whole)
				}
				if tc.software && segs == 0 {
					t.Errorf("%s: the GSO node made no segments", fam.name)
				}
				if !tc.software && segs != 0 {
					t.Errorf("%s: %d segments made in software, want 0 (the kernel segments)", fam.name, segs)
				}
			}
		})
	}
}

// TestAFXDPGenericOffloads: hosts with their default offloads (h1's TSO
// hands R2's veth end 64 KiB super-frames) and both of R2's interfaces on
// AF_XDP in generic XDP. The program passes the super-frames to the
// stack, an AF_PACKET socket of the driver takes them whole
// (drv_rx_vnet), and they leave whole through the output's AF_PACKET
// socket (drv_tx_vnet): 256 MB of TCP over IPv4 and IPv6 arrive intact,
// nothing is dropped as oversized (drv_rx_errors 0), and, over IPv4, no
// data segment reaches h2 after one that left h1 later, although the
// flow's single segments take the XDP socket and its super-frames the
// stack. Until the socket existed every super-frame was dropped here:
// 0 bit/s.
func TestAFXDPGenericOffloads(t *testing.T) {
	const n = 256 << 20
	tp := newTopo6(t, topo.Config{Offloads: true})
	d := startR2(t, uniqueInstance(t), "-afxdp-mode", "skb")
	attach6Drivers(t, d, tp, 0, 0, "afxdp", "afxdp")
	if show := d.must(t, "r2intf", "show"); strings.Count(show, "afxdp copy (generic XDP)") != 2 {
		t.Fatalf("want both interfaces on afxdp in generic XDP:\n%s\n%s", show, d.log.String())
	}
	if log := d.log.String(); strings.Count(log, "super-frames (a host's TSO, a NIC's GRO) are passed to the stack and received whole") != 2 {
		t.Errorf("the log does not say once per interface how generic XDP takes super-frames:\n%s", log)
	}
	pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 3)
	pingOK(t, d, tp, tp.H1NS, "2001:db8:2::1", 3)
	// h1 transmits from two CPUs (its process, and its softirq answering
	// ACKs), and in generic mode each CPU's backlog runs the program on
	// what that CPU sent: frames could reach R2 in another order than
	// h1's capture saw them leave. One CPU takes R2's receive (RPS).
	if err := tp.SteerRx(tp.RouterNSName, tp.RouterIfA, "1"); err != nil {
		t.Fatal(err)
	}
	for _, fam := range []struct{ name, addr, fwd string }{
		{"ipv4", "10.2.0.1:5001", names.IPv4Fwd},
		{"ipv6", "[2001:db8:2::1]:5001", names.IPv6Fwd},
	} {
		before := d.counters(t)
		if fam.name == "ipv4" {
			tcpTransferInOrder(t, tp, n, true)
		} else {
			tcpTransferTo(t, tp, fam.addr, n)
		}
		after := d.counters(t)
		delta := func(name string) uint64 { return counterDelta(before, after, name, 0) }
		fw := fam.fwd + "/forwarded"
		pk, by := delta(fw), counterDelta(before, after, fw, 1)
		in := delta(names.IfNodeCounter(tp.RouterIfA, driver.DrvRxVnet))
		out := delta(names.IfNodeCounter(tp.RouterIfB, driver.DrvTxVnet))
		t.Logf("%s: %d frames forwarded (%.0f bytes average); %d received through the super-frame socket, %d sent whole", fam.name, pk, float64(by)/float64(max(pk, 1)), in, out)
		for _, ifn := range []string{tp.RouterIfA, tp.RouterIfB} {
			if v := delta(names.IfNodeCounter(ifn, driver.DrvRxErrors)); v != 0 {
				t.Errorf("%s: %s drv_rx_errors %d, want 0", fam.name, ifn, v)
			}
		}
		if in == 0 || out == 0 || pk == 0 || by/pk < 3000 {
			t.Errorf("%s: drv_rx_vnet %d, drv_tx_vnet %d, frames averaging %d bytes: want super-frames through R2", fam.name, in, out, by/max(pk, 1))
		}
	}
	detachStop(t, d, tp, 1)
}
