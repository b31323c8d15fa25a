package apitest

import (
	"net/netip"
	"slices"
	"time"

	"github.com/r2go/r2/r2/ctl"
)

// SetNeighbour implements api.Backend: the interface must exist and the
// address be inside one of its address prefixes.
func (b *Backend) SetNeighbour(n ctl.Neighbour) error {
	b.enter("SetNeighbour", n.Ifname, n.IP, n.MAC.String(), n.Kind)
	defer b.mu.Unlock()
	i, ok := b.st.Ifaces[n.Ifname]
	if !ok {
		return ctl.Errorf(ctl.KindNotFound, "no interface %s", n.Ifname)
	}
	if !slices.ContainsFunc(i.Addrs, func(p netip.Prefix) bool { return p.Contains(n.IP) }) {
		return ctl.Errorf(ctl.KindInvalid, "neighbour %s is not on a connected subnet of %s", n.IP, n.Ifname)
	}
	if n.Kind == "" {
		n.Kind = ctl.NeighStatic
	}
	n.State, n.Age = ctl.NeighStatic, 1500*time.Millisecond
	b.neighs = slices.DeleteFunc(b.neighs, func(x ctl.Neighbour) bool { return x.Ifname == n.Ifname && x.IP == n.IP })
	b.neighs = append(b.neighs, n)
	return nil
}

// DelNeighbour implements api.Backend.
func (b *Backend) DelNeighbour(ifname string, ip netip.Addr) error {
	b.enter("DelNeighbour", ifname, ip)
	defer b.mu.Unlock()
	k := slices.IndexFunc(b.neighs, func(x ctl.Neighbour) bool { return x.Ifname == ifname && x.IP == ip })
	if k < 0 {
		return ctl.Errorf(ctl.KindNotFound, "neighbour %s on %s", ip, ifname)
	}
	b.neighs = slices.Delete(b.neighs, k, k+1)
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
