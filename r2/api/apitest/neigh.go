package apitest

import (
	"net/netip"
	"slices"
	"time"

	"github.com/r2go/r2/r2/ctl"
)

// SetNeighbours implements api.Backend, all or nothing: each interface
// must exist and each address be inside one of its address prefixes.
func (b *Backend) SetNeighbours(ns []ctl.Neighbour) error {
	b.enter("SetNeighbours", len(ns))
	defer b.mu.Unlock()
	for _, n := range ns {
		i, ok := b.st.Ifaces[n.Ifname]
		if !ok {
			return ctl.Errorf(ctl.KindNotFound, "no interface %s", n.Ifname)
		}
		if !slices.ContainsFunc(i.Addrs, func(p netip.Prefix) bool { return p.Contains(n.IP) }) {
			return ctl.Errorf(ctl.KindInvalid, "neighbour %s is not on a connected subnet of %s", n.IP, n.Ifname)
		}
	}
	for _, n := range ns {
		if n.Kind == "" {
			n.Kind = ctl.NeighStatic
		}
		n.State, n.Age = ctl.NeighStatic, 1500*time.Millisecond
		b.neighs = slices.DeleteFunc(b.neighs, func(x ctl.Neighbour) bool { return x.Ifname == n.Ifname && x.IP == n.IP })
		b.neighs = append(b.neighs, n)
	}
	return nil
}

// DelNeighbours implements api.Backend, all or nothing.
func (b *Backend) DelNeighbours(ns []ctl.Neighbour) error {
	b.enter("DelNeighbours", len(ns))
	defer b.mu.Unlock()
	for _, n := range ns {
		if !slices.ContainsFunc(b.neighs, func(x ctl.Neighbour) bool { return x.Ifname == n.Ifname && x.IP == n.IP }) {
			return ctl.Errorf(ctl.KindNotFound, "neighbour %s on %s", n.IP, n.Ifname)
		}
	}
	for _, n := range ns {
		b.neighs = slices.DeleteFunc(b.neighs, func(x ctl.Neighbour) bool { return x.Ifname == n.Ifname && x.IP == n.IP })
	}
	return nil
}

// ShowNeighbours implements api.Backend.
func (b *Backend) ShowNeighbours(ifname string) ([]ctl.Neighbour, error) {
	b.enter("ShowNeighbours", ifname)
	defer b.mu.Unlock()
	if _, ok := b.st.Ifaces[ifname]; ifname != "" && !ok {
		return nil, ctl.Errorf(ctl.KindNotFound, "no interface %s", ifname)
	}
	out := []ctl.Neighbour{}
	for _, n := range b.neighs {
		if ifname == "" || n.Ifname == ifname {
			out = append(out, n)
		}
	}
	return out, nil
}
