package api

import (
	"context"
	"fmt"

	"github.com/r2go/r2/apis/intf"
	"github.com/r2go/r2/r2/ctl"
)

// The Interface service's neighbour methods: add_neighbour(s),
// del_neighbour(s), show_neighbours.

// parseNeighbour checks one neighbour's arguments (mac and kind only when
// adding).
func parseNeighbour(ifname, addr, mac, kind string, add bool) (ctl.Neighbour, error) {
	if err := CheckIfname(ifname); err != nil {
		return ctl.Neighbour{}, err
	}
	a, err := ParseAddr("neighbour address", addr)
	if err != nil {
		return ctl.Neighbour{}, fmt.Errorf("interface %s: %v", ifname, err)
	}
	n := ctl.Neighbour{Ifname: ifname, IP: a}
	if !add {
		return n, nil
	}
	if mac == "" {
		return n, fmt.Errorf("neighbour %s: empty MAC address", a)
	}
	if n.MAC, err = ParseMAC(mac); err != nil {
		return n, fmt.Errorf("neighbour %s: %v", a, err)
	}
	if kind != "" && kind != ctl.NeighStatic && kind != ctl.NeighKernel {
		return n, fmt.Errorf("neighbour %s: kind %q: want %q, %q or \"\" (static)", a, kind, ctl.NeighStatic, ctl.NeighKernel)
	}
	n.Kind = kind
	return n, nil
}

// parseNeighbours checks a batch.
func parseNeighbours(ns []*intf.Neighbour, add bool) ([]ctl.Neighbour, error) {
	if len(ns) > MaxBatch {
		return nil, fmt.Errorf("batch of %d neighbours; at most %d per call", len(ns), MaxBatch)
	}
	out := make([]ctl.Neighbour, 0, len(ns))
	for i, e := range ns {
		if e == nil {
			return nil, fmt.Errorf("neighbour %d of %d: missing", i+1, len(ns))
		}
		n, err := parseNeighbour(e.Ifname, e.Addr, e.Mac, e.Kind, add)
		if err != nil {
			return nil, fmt.Errorf("neighbour %d of %d: %v", i+1, len(ns), err)
		}
		out = append(out, n)
	}
	return out, nil
}

func (h ifHandler) AddNeighbour(_ context.Context, ifname, addr, mac, kind string) (err error) {
	defer h.guard("add_neighbour", &err)
	n, err := parseNeighbour(ifname, addr, mac, kind, true)
	if err != nil {
		return wrap(err)
	}
	return h.call(func() error { return h.b.SetNeighbours([]ctl.Neighbour{n}) })
}

func (h ifHandler) DelNeighbour(_ context.Context, ifname, addr string) (err error) {
	defer h.guard("del_neighbour", &err)
	n, err := parseNeighbour(ifname, addr, "", "", false)
	if err != nil {
		return wrap(err)
	}
	return h.call(func() error { return h.b.DelNeighbours([]ctl.Neighbour{n}) })
}

func (h ifHandler) AddNeighbours(_ context.Context, es []*intf.Neighbour) (err error) {
	defer h.guard("add_neighbours", &err)
	ns, err := parseNeighbours(es, true)
	if err != nil {
		return wrap(err)
	}
	if len(ns) == 0 {
		return nil
	}
	return h.call(func() error { return h.b.SetNeighbours(ns) })
}

func (h ifHandler) DelNeighbours(_ context.Context, es []*intf.Neighbour) (err error) {
	defer h.guard("del_neighbours", &err)
	ns, err := parseNeighbours(es, false)
	if err != nil {
		return wrap(err)
	}
	if len(ns) == 0 {
		return nil
	}
	return h.call(func() error { return h.b.DelNeighbours(ns) })
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
