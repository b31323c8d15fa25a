package main

import (
	"context"
	"net"
	"net/netip"

	"github.com/r2go/r2/apis/intf"
	"github.com/r2go/r2/apis/route"
	"github.com/r2go/r2/r2/api"
	"github.com/r2go/r2/r2/ctl"
)

// thriftR2 is the R2 interface over R2's Thrift API.
type thriftR2 struct{ c *api.Client }

var _ R2 = thriftR2{}

func (t thriftR2) Interfaces() ([]ctl.IfInfo, error) {
	infos, err := t.c.Interface.Show(context.Background(), "")
	if err != nil {
		return nil, err
	}
	out := make([]ctl.IfInfo, 0, len(infos))
	for _, i := range infos {
		ii := ctl.IfInfo{Name: i.Name, Ifindex: int(i.Ifindex), LinuxIndex: int(i.LinuxIndex), Up: i.Up, HostOwned: i.HostOwned}
		for _, a := range i.Addrs {
			if p, err := netip.ParsePrefix(a); err == nil {
				ii.Addrs = append(ii.Addrs, p)
			}
		}
		out = append(out, ii)
	}
	return out, nil
}

func (t thriftR2) AddInterface(name string) error {
	return t.c.Interface.AddIf(context.Background(), name, -1, "", -1, "")
}

func (t thriftR2) SetHostOwned(name string, on bool) error {
	return t.c.Interface.SetHostOwned(context.Background(), name, on)
}

func (t thriftR2) DelInterface(name string) error {
	return t.c.Interface.DelIf(context.Background(), name)
}

func (t thriftR2) AddAddr(ifname string, p netip.Prefix) error {
	return t.c.Interface.AddIP(context.Background(), ifname, p.String())
}

func (t thriftR2) DelAddr(ifname string, p netip.Prefix) error {
	return t.c.Interface.DelIP(context.Background(), ifname, p.String())
}

func entries(rs []ctl.Route) []*route.RouteEntry {
	out := make([]*route.RouteEntry, len(rs))
	for i, r := range rs {
		e := &route.RouteEntry{Prefix: r.Prefix.String(), Ifname: r.Ifname, Kind: r.Kind}
		if r.NextHop.IsValid() {
			e.Nexthop = r.NextHop.String()
		}
		for _, p := range r.Paths {
			pe := &route.PathEntry{Ifname: p.Ifname, Weight: int32(p.Weight)}
			if p.NextHop.IsValid() {
				pe.Nexthop = p.NextHop.String()
			}
			e.Paths = append(e.Paths, pe)
		}
		out[i] = e
	}
	return out
}

func (t thriftR2) AddRoutes(rs []ctl.Route) error {
	return t.c.Route.AddBatch(context.Background(), entries(rs))
}

func (t thriftR2) DelRoutes(rs []ctl.Route) error {
	return t.c.Route.DelBatch(context.Background(), entries(rs))
}

func (t thriftR2) Routes(offset, limit int) (int, []ctl.Route, error) {
	page, err := t.c.Route.Show(context.Background(), int64(offset), int64(limit))
	if err != nil {
		return 0, nil, err
	}
	out := make([]ctl.Route, 0, len(page.Routes))
	for _, e := range page.Routes {
		var r ctl.Route
		var err error
		if len(e.Paths) > 0 {
			paths := make([]api.Path, len(e.Paths))
			for i, p := range e.Paths {
				paths[i] = api.Path{Nexthop: p.Nexthop, Ifname: p.Ifname, Weight: int(p.Weight)}
			}
			r, err = api.ParseMultipath(e.Prefix, paths)
		} else {
			r, err = api.ParseRoute(e.Prefix, e.Nexthop, e.Ifname, e.Kind, false)
		}
		if err != nil {
			continue
		}
		out = append(out, r)
	}
	return int(page.Total), out, nil
}

func neighEntries(ns []ctl.Neighbour, kind string) []*intf.Neighbour {
	out := make([]*intf.Neighbour, len(ns))
	for i, n := range ns {
		out[i] = &intf.Neighbour{Ifname: n.Ifname, Addr: n.IP.String(), Mac: n.MAC.String(), Kind: kind}
	}
	return out
}

func (t thriftR2) SetNeighbours(ns []ctl.Neighbour) error {
	return t.c.Interface.AddNeighbours(context.Background(), neighEntries(ns, ctl.NeighKernel))
}

func (t thriftR2) DelNeighbours(ns []ctl.Neighbour) error {
	return t.c.Interface.DelNeighbours(context.Background(), neighEntries(ns, ""))
}

func (t thriftR2) Neighbours() ([]ctl.Neighbour, error) {
	ns, err := t.c.Interface.ShowNeighbours(context.Background(), "")
	if err != nil {
		return nil, err
	}
	out := make([]ctl.Neighbour, 0, len(ns))
	for _, n := range ns {
		a, err := netip.ParseAddr(n.Addr)
		if err != nil {
			continue
		}
		m, _ := net.ParseMAC(n.Mac)
		out = append(out, ctl.Neighbour{Ifname: n.Ifname, IP: a, MAC: m, Kind: n.Kind, State: n.State})
	}
	return out, nil
}

func (t thriftR2) Close() error { return t.c.Close() }
