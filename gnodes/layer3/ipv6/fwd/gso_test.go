package ipv6fwd_test

import (
	"testing"

	v6 "github.com/r2go/r2/gnodes/internal/v6test"
	ipv6fwd "github.com/r2go/r2/gnodes/layer3/ipv6/fwd"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

// TestGSO: an IPv6 super-frame (here 1800 bytes, over eth1's MTU of 1400)
// is held to the MTU segment by segment: segments that fit go on (to GSO,
// as the test interfaces have no offload), segments too big are answered
// with Packet Too Big.
func TestGSO(t *testing.T) {
	for _, tc := range []struct {
		name string
		size uint16
		sink string
	}{
		{name: "segments fit", size: 1000, sink: names.GSO},
		{name: "segments too big", size: 1390, sink: names.IPv6Local},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := gt.New(t, gt.Options{})
			gt.Add(h, ipv6fwd.New(v6.Table(), v6.Intfs()))
			sinks := map[string]*gt.Sink{}
			for _, n := range []string{names.EncapMux, names.IPv6Local, names.GSO} {
				sinks[n] = h.Sink(n)
			}
			p := pkt(h, udp(h1, "2001:db8:2::9", 64, 1800-48), 0)
			p.GSO = packet.GSO{CsumStart: uint16(p.Head() + hdr.IPv6Len), CsumOffset: 6, Size: tc.size,
				Type: packet.GSOUDPL4, Flags: packet.GSONeedsCsum}
			h.Inject(names.IPv6Fwd, p)
			h.RunUntilIdle()
			for n, sk := range sinks {
				want := 0
				if n == tc.sink {
					want = 1
				}
				if sk.Len() != want {
					t.Errorf("%s got %d packets, want %d", n, sk.Len(), want)
				}
			}
		})
	}
}
