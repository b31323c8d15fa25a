package local_test

import (
	"net/netip"
	"testing"

	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/gnodes/layer3/ipv4/local"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/names"
)

// TestICMPErrorWithIPv6Address: IPv6 prefixes share fwd.Interface.Addrs
// with IPv4 ones; an interface holding one must still source IPv4 errors
// from its IPv4 address.
func TestICMPErrorWithIPv6Address(t *testing.T) {
	var s *fwd.Interfaces
	s = s.With(&fwd.Interface{Ifindex: 1, Name: "eth0", MTU: 1500, Up: true, Addrs: []netip.Prefix{
		netip.MustParsePrefix("2001:db8:1::2/64"), netip.MustParsePrefix("10.1.0.2/24")}})
	h := gt.New(t, gt.Options{})
	gt.Add(h, local.New(s))
	out := h.Sink(names.IPv4Fwd)
	h.Inject(names.IPv4Local, pkt(h, gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.9.9.9"), 1, hdr.ProtoUDP, gt.UDP(1, 2, nil)), icmpErr(11, 0), 0))
	h.RunUntilIdle()
	ps := out.Take()
	if len(ps) != 1 || hdr.IPv4(ps[0].Data()).Src() != gt.IP("10.1.0.2") {
		t.Errorf("got %d errors", len(ps))
	}
	h.Free(ps...)
	h.Done()
}
