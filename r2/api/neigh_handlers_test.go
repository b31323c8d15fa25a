package api_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/r2go/r2/apis/common"
	"github.com/r2go/r2/apis/intf"
)

// TestNeighbourHandlers: add_neighbour, del_neighbour and show_neighbours
// through the Thrift server: bad arguments are refused (INVALID) before
// the backend is called, the backend's refusals keep their kind, and a
// refused request changes nothing.
func TestNeighbourHandlers(t *testing.T) {
	b, c := setup(t)
	must(t, c.Interface.AddNeighbour(ctx, "veth0", "1.1.1.1", "02:00:00:00:00:01", ""))
	must(t, c.Interface.AddNeighbour(ctx, "veth0", "1.1.1.3", "02:00:00:00:00:03", "kernel"))
	calls := len(b.Calls())
	for _, tc := range []struct {
		name                    string
		ifname, addr, mac, kind string
		want                    common.ErrKind
		msg                     string
	}{
		{"bad interface name", "a/b", "1.1.1.1", "02:00:00:00:00:01", "", common.ErrKind_INVALID, "a/b"},
		{"bad address", "veth0", "1.1.1", "02:00:00:00:00:01", "", common.ErrKind_INVALID, "bad neighbour address"},
		{"zoned address", "veth0", "fe80::1%veth0", "02:00:00:00:00:01", "", common.ErrKind_INVALID, "zone"},
		{"empty MAC", "veth0", "1.1.1.1", "", "", common.ErrKind_INVALID, "empty MAC"},
		{"bad MAC", "veth0", "1.1.1.1", "02:00:00:00:01", "", common.ErrKind_INVALID, "bad MAC"},
		{"bad kind", "veth0", "1.1.1.1", "02:00:00:00:00:01", "learned", common.ErrKind_INVALID, "kind"},
	} {
		err := c.Interface.AddNeighbour(ctx, tc.ifname, tc.addr, tc.mac, tc.kind)
		var ae *common.ApiErr
		if !errors.As(err, &ae) || ae.Kind != tc.want || !strings.Contains(ae.Why, tc.msg) {
			t.Errorf("%s: %v; want %v saying %q", tc.name, err, tc.want, tc.msg)
		}
	}
	if n := len(b.Calls()); n != calls {
		t.Errorf("invalid requests reached the backend: %v", b.Calls()[calls:])
	}
	var ae *common.ApiErr
	if err := c.Interface.AddNeighbour(ctx, "veth9", "1.1.1.1", "02:00:00:00:00:01", ""); !errors.As(err, &ae) || ae.Kind != common.ErrKind_NOT_FOUND {
		t.Errorf("unknown interface: %v", err)
	}
	if err := c.Interface.DelNeighbour(ctx, "veth0", "1.1.1.9"); !errors.As(err, &ae) || ae.Kind != common.ErrKind_NOT_FOUND {
		t.Errorf("delete of an unknown neighbour: %v", err)
	}
	must(t, c.Interface.DelNeighbour(ctx, "veth0", "1.1.1.3"))
	ns, err := c.Interface.ShowNeighbours(ctx, "veth0")
	must(t, err)
	if len(ns) != 1 || ns[0].Addr != "1.1.1.1" || ns[0].Mac != "02:00:00:00:00:01" || ns[0].Kind != "static" || ns[0].State != "static" || ns[0].Ifname != "veth0" {
		t.Errorf("show_neighbours: %v", ns)
	}
	if _, err := c.Interface.ShowNeighbours(ctx, "veth9"); !errors.As(err, &ae) || ae.Kind != common.ErrKind_NOT_FOUND {
		t.Errorf("show_neighbours of an unknown interface: %v", err)
	}

	// Batches: checked whole before the backend sees them.
	calls = len(b.Calls())
	err = c.Interface.AddNeighbours(ctx, []*intf.Neighbour{
		{Ifname: "veth0", Addr: "1.1.1.5", Mac: "02:00:00:00:00:05"}, {Ifname: "veth0", Addr: "1.1.1.6", Mac: "01:00:00:00:00:06"}})
	if !errors.As(err, &ae) || ae.Kind != common.ErrKind_INVALID || !strings.Contains(ae.Why, "neighbour 2 of 2") {
		t.Errorf("add_neighbours with a multicast MAC: %v", err)
	}
	if err := c.Interface.AddNeighbours(ctx, []*intf.Neighbour{{}}); !errors.As(err, &ae) || !strings.Contains(ae.Why, "neighbour 1 of 1: empty interface name") {
		t.Errorf("add_neighbours with an empty entry: %v", err)
	}
	must(t, c.Interface.AddNeighbours(ctx, nil)) // nothing to do
	if n := len(b.Calls()); n != calls {
		t.Errorf("refused or empty batches reached the backend: %v", b.Calls()[calls:])
	}
	must(t, c.Interface.AddNeighbours(ctx, []*intf.Neighbour{
		{Ifname: "veth0", Addr: "1.1.1.5", Mac: "02:00:00:00:00:05", Kind: "kernel"}, {Ifname: "veth0", Addr: "1.1.1.6", Mac: "02:00:00:00:00:06", Kind: "kernel"}}))
	if ns, _ := c.Interface.ShowNeighbours(ctx, ""); len(ns) != 3 {
		t.Errorf("after add_neighbours: %v", ns)
	}
	must(t, c.Interface.DelNeighbours(ctx, []*intf.Neighbour{{Ifname: "veth0", Addr: "1.1.1.5"}, {Ifname: "veth0", Addr: "1.1.1.6"}}))
	if ns, _ := c.Interface.ShowNeighbours(ctx, ""); len(ns) != 1 {
		t.Errorf("after del_neighbours: %v", ns)
	}
}
