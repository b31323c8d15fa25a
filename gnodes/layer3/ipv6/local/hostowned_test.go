package local_test

import (
	"testing"

	v6 "github.com/r2go/r2/gnodes/internal/v6test"
	"github.com/r2go/r2/gnodes/layer3/ipv6/local"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/names"
)

// TestHostOwned: on a host-owned interface, echo requests to the router's
// addresses (unicast or all-nodes) are the kernel's: dropped, counted; ICMP
// errors for transit traffic are still sent.
func TestHostOwned(t *testing.T) {
	s := v6.Intfs()
	i := s.Get(1).Clone()
	i.HostOwned = true
	s = s.With(i)
	h := gt.New(t, gt.Options{})
	gt.Add(h, local.New(s))
	out := h.Sink(names.IPv6Fwd)
	h.Inject(names.IPv6Local, pkt(h, v6.Echo(h1, v6.Eth0Global, 1, 1, nil), 0, 0))
	h.Inject(names.IPv6Local, pkt(h, v6.Echo("fe80::99", "ff02::1", 1, 2, nil), 0, 0))
	h.RunUntilIdle()
	if out.Len() != 0 {
		t.Errorf("R2 answered %d packets addressed to host-owned addresses", out.Len())
	}
	h.ExpectCounters(map[string]uint64{"IPv6Local/enq": 2, "IPv6Local/host_owned": 2})
	h.Inject(names.IPv6Local, pkt(h, v6.Echo(h1, "2001:db8:99::1", 1, 3, nil), icmpErr(hdr.ICMPv6TimeExceeded, 0), 0))
	h.RunUntilIdle()
	ps := out.Take()
	if len(ps) != 1 {
		t.Fatalf("%d ICMP errors for transit traffic, want 1", len(ps))
	}
	h.Free(ps...)
	h.Done()
}
