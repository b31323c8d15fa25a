package local_test

import (
	"testing"

	"github.com/r2go/r2/fwd"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/names"
)

// hostOwned is intfs() with eth0 (ifindex 1) in host-owned mode.
func hostOwned() *fwd.Interfaces {
	s := intfs()
	i := s.Get(1).Clone()
	i.HostOwned = true
	return s.With(i)
}

// TestHostOwned: packets to the router's addresses that arrive on a
// host-owned interface are the kernel's (it has a copy): dropped, counted,
// not answered; ICMP errors for transit traffic are still sent.
func TestHostOwned(t *testing.T) {
	h, out := setup(t, hostOwned())
	h.Inject(names.IPv4Local, pkt(h, ipWith("10.1.0.1", "10.1.0.2", hdr.ProtoICMP, gt.Echo(1, 1, nil), nil), 0, 0))
	h.Inject(names.IPv4Local, pkt(h, ipWith("10.1.0.1", "10.2.0.2", hdr.ProtoTCP, make([]byte, 20), nil), 0, 0))
	h.RunUntilIdle()
	if out.Len() != 0 {
		t.Errorf("R2 answered %d packets addressed to host-owned addresses", out.Len())
	}
	h.ExpectCounters(map[string]uint64{"IPv4Local/enq": 2, "IPv4Local/host_owned": 2})
	// A transit packet whose TTL ran out still gets its ICMP error.
	h.Inject(names.IPv4Local, pkt(h, ipWith("10.1.0.1", "10.9.9.9", hdr.ProtoUDP, gt.UDP(1, 2, nil), nil), icmpErr(hdr.ICMPTimeExceeded, 0), 0))
	h.RunUntilIdle()
	ps := out.Take()
	if len(ps) != 1 {
		t.Fatalf("%d ICMP errors for transit traffic, want 1", len(ps))
	}
	h.Free(ps...)
	h.Done()
}
