package decap_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/r2go/r2/gnodes/layer2/eth/decap"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
)

// TestHostOwned: on an interface whose addresses belong to the Linux host,
// ARP requests and neighbour solicitations for them are left to the kernel
// (no reply from R2), but what they teach is still learned.
func TestHostOwned(t *testing.T) {
	tests := []struct {
		name    string
		frame   []byte
		counter string
		ups     []msg.Up
	}{
		{name: "ARP request for us", frame: arpFrame(gt.Broadcast, hdr.ARPRequest, peerMAC, "10.1.0.1", zeroMAC, "10.1.0.2"),
			counter: "arp_host_owned", ups: []msg.Up{{Kind: msg.UpMAC, Ifindex: 4, IP: gt.IP("10.1.0.1"), MAC: peerMAC, Create: true}}},
		{name: "NS for our global address", frame: frame6(snMAC, ip6(peerGl, "ff02::1:ff00:2", 255, nsMsg(ourGlobal, lla(1, peerMAC)))),
			counter: "nd_ns_host_owned", ups: up6(peerGl, peerMAC, true)},
		{name: "NS for our link-local address", frame: frame6(snLLMAC, ip6(peerLL, "ff02::1:ff00:1", 255, nsMsg(ourLL, lla(1, peerMAC)))),
			counter: "nd_ns_host_owned", ups: up6(peerLL, peerMAC, true)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := msg.NewUplink(4)
			h := gt.New(t, gt.Options{Thread: 0, Uplink: up})
			i := intf6()
			i.HostOwned = true
			gt.Add(h, decap.New(i))
			e := &env{h: h, up: up, l3: h.Sink(names.L3Parse), ifs: h.Sink(ifn)}
			h.Inject(dname, h.Frame(tc.frame))
			h.RunUntilIdle()
			if got := e.ifs.Datas(); len(got) != 0 {
				t.Errorf("R2 answered: %x", got)
			}
			ups := e.ups()
			for k := range ups {
				ups[k].Thread = 0
			}
			for k := range tc.ups {
				tc.ups[k].Thread = 0
			}
			if diff := cmp.Diff(tc.ups, ups); diff != "" {
				t.Errorf("uplink (-want +got):\n%s", diff)
			}
			if c := h.Counter(dname + "/" + tc.counter); c != 1 {
				t.Errorf("%s = %d, want 1", tc.counter, c)
			}
			h.Done()
		})
	}
}
