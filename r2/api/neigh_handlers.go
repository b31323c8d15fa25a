package api

import (
	"context"

	"github.com/r2go/r2/apis/intf"
	"github.com/r2go/r2/r2/ctl"
)

// The Interface service's neighbour methods: add_neighbour,
// del_neighbour, show_neighbours.

func (h ifHandler) AddNeighbour(_ context.Context, ifname, addr, mac, kind string) (err error) {
	defer h.guard("add_neighbour", &err)
	if err := CheckIfname(ifname); err != nil {
		return wrap(err)
	}
	a, err := ParseAddr("neighbour address", addr)
	if err != nil {
		return apiErr("interface %s: %v", ifname, err)
	}
	if mac == "" {
		return apiErr("neighbour %s: empty MAC address", a)
	}
	m, err := ParseMAC(mac)
	if err != nil {
		return apiErr("neighbour %s: %v", a, err)
	}
	if kind != "" && kind != ctl.NeighStatic && kind != ctl.NeighKernel {
		return apiErr("neighbour %s: kind %q: want %q, %q or \"\" (static)", a, kind, ctl.NeighStatic, ctl.NeighKernel)
	}
	n := ctl.Neighbour{Ifname: ifname, IP: a, MAC: m, Kind: kind}
	return h.call(func() error { return h.b.SetNeighbour(n) })
}

func (h ifHandler) DelNeighbour(_ context.Context, ifname, addr string) (err error) {
	defer h.guard("del_neighbour", &err)
	if err := CheckIfname(ifname); err != nil {
		return wrap(err)
	}
	a, err := ParseAddr("neighbour address", addr)
	if err != nil {
		return apiErr("interface %s: %v", ifname, err)
	}
	return h.call(func() error { return h.b.DelNeighbour(ifname, a) })
}

func (h ifHandler) ShowNeighbours(_ context.Context, ifname string) (_ []*intf.Neighbour, err error) {
	defer h.guard("show_neighbours", &err)
	if ifname != "" {
		if err := CheckIfname(ifname); err != nil {
			return nil, wrap(err)
		}
	}
	var ns []ctl.Neighbour
	if err := h.call(func() (err error) { ns, err = h.b.ShowNeighbours(ifname); return }); err != nil {
		return nil, err
	}
	out := make([]*intf.Neighbour, 0, len(ns))
	for _, n := range ns {
		e := &intf.Neighbour{Ifname: n.Ifname, Addr: n.IP.String(), Kind: n.Kind, State: n.State, AgeMs: n.Age.Milliseconds()}
		if n.MAC != nil {
			e.Mac = n.MAC.String()
		}
		out = append(out, e)
	}
	return out, nil
}
