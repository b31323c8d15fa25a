//go:build linux

package router

import (
	"fmt"
	"net/netip"

	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/r2/ctl"
)

// The IPv6 side of the policy. Interface addresses, routes and neighbours
// work as for IPv4, with these differences: an address implies a local /128
// and a connected prefix but no broadcast route; every interface carries
// the EUI-64 link-local address of its MAC from the moment it is attached
// (neighbour discovery and routing daemons need it), which implies no
// route, since link-local destinations are resolved by scope on the input
// interface; and a next hop may be link-local (fe80::1 on eth0), which is
// how routing daemons announce IPv6 next hops.

// is6 reports whether a is an IPv6 address proper (not IPv4-mapped).
func is6(a netip.Addr) bool { return a.Is6() && !a.Is4In6() }

// checkAddr6 validates an IPv6 interface address.
func checkAddr6(fi *fwd.Interface, p netip.Prefix) error {
	a := p.Addr()
	if !p.IsValid() || p.Bits() < 1 || a.Zone() != "" {
		return fmt.Errorf("address %s: need an IPv6 address with a prefix length 1..128: %w", p, ctl.ErrInvalid)
	}
	if a.IsMulticast() || a.IsLoopback() || a.IsUnspecified() {
		return fmt.Errorf("address %s is not a unicast host address: %w", p, ctl.ErrInvalid)
	}
	if fi.MTU < 1280 {
		return fmt.Errorf("address %s: interface %s has MTU %d; IPv6 needs at least 1280: %w", p, fi.Name, fi.MTU, ctl.ErrInvalid)
	}
	return nil
}

// addrRoutes6 are the routes an IPv6 interface address needs: itself
// (local) and its prefix (connected). Link-local addresses need none.
func addrRoutes6(ifindex int32, p netip.Prefix) []fwd.Route6 {
	if p.Addr().IsLinkLocalUnicast() {
		return nil
	}
	rs := []fwd.Route6{{Prefix: netip.PrefixFrom(p.Addr(), 128), Adj: fwd.Adjacency6{Kind: fwd.AdjLocal, Ifindex: ifindex}}}
	if p.Bits() < 128 {
		rs = append(rs, fwd.Route6{Prefix: p.Masked(), Adj: fwd.Adjacency6{Kind: fwd.AdjConnected, Ifindex: ifindex}})
	}
	return rs
}

// addAddr6 is AddAddr for IPv6. Caller holds r.mu.
func (r *Router) addAddr6(fi *fwd.Interface, p netip.Prefix) error {
	if err := checkAddr6(fi, p); err != nil {
		return err
	}
	a := p.Addr()
	for _, i := range r.intfs.All() {
		for _, x := range i.Addrs {
			// Link-local addresses are per link: the same one on two
			// interfaces is normal (fe80::1 on every router port).
			if x.Addr() == a && (!a.IsLinkLocalUnicast() || i.Ifindex == fi.Ifindex) {
				return fmt.Errorf("address %s is already on %s: %w", a, i.Name, ctl.ErrExists)
			}
		}
	}
	routes := addrRoutes6(fi.Ifindex, p)
	for _, rt := range routes {
		cur, ok := r.rib6.Get(rt.Prefix)
		if ok && r.addrRoutes[rt.Prefix] == 0 {
			return fmt.Errorf("address %s needs route %s, which is a static route (%s); delete it first: %w", p, rt.Prefix, cur.Adj, ctl.ErrExists)
		}
		if ok && cur.Adj != rt.Adj {
			return fmt.Errorf("address %s: prefix %s is already connected through another interface: %w", p, rt.Prefix, ctl.ErrExists)
		}
	}
	ni := fi.Clone()
	ni.Addrs = append(ni.Addrs, p)
	if err := r.tellHost(fi, ni); err != nil {
		return fmt.Errorf("address %s: %v: %w", p, err, ctl.ErrInternal)
	}
	r.publishIntfs(r.intfs.With(ni))
	var add []fwd.Route6
	for _, rt := range routes {
		if r.addrRoutes[rt.Prefix] == 0 {
			add = append(add, rt)
		}
		r.addrRoutes[rt.Prefix]++
	}
	if err := r.rib6.AddBatch(add); err != nil {
		return fmt.Errorf("address %s: %v: %w", p, err, ctl.ErrInternal)
	}
	return nil
}

// delAddr6 removes the routes of IPv6 address p; the caller removes the
// address. Caller holds r.mu.
func (r *Router) delAddr6Routes(fi *fwd.Interface, p netip.Prefix) error {
	var del []netip.Prefix
	for _, rt := range addrRoutes6(fi.Ifindex, p) {
		r.addrRoutes[rt.Prefix]--
		if r.addrRoutes[rt.Prefix] <= 0 {
			delete(r.addrRoutes, rt.Prefix)
			del = append(del, rt.Prefix)
		}
	}
	if err := r.rib6.DelBatch(del); err != nil {
		return fmt.Errorf("address %s: %v: %w", p, err, ctl.ErrInternal)
	}
	return nil
}

// resolve6 validates an IPv6 route request. Caller holds r.mu.
func (r *Router) resolve6(rt ctl.Route) (fwd.Route6, error) {
	p := rt.Prefix
	if p.Masked() != p {
		return fwd.Route6{}, fmt.Errorf("route %s: prefix %s has host bits set (did you mean %s?): %w", rt, p, p.Masked(), ctl.ErrInvalid)
	}
	if r.addrRoutes[p] > 0 {
		return fwd.Route6{}, fmt.Errorf("route %s: %s is a connected or local route of an interface address: %w", rt, p, ctl.ErrExists)
	}
	if p.Addr().IsLinkLocalUnicast() || p.Addr().IsMulticast() {
		return fwd.Route6{}, fmt.Errorf("route %s: %s is link-local or multicast; such destinations are never routed: %w", rt, p, ctl.ErrInvalid)
	}
	if rt.Kind == ctl.KindDrop {
		return fwd.Route6{Prefix: p, Adj: fwd.Adjacency6{Kind: fwd.AdjDrop}}, nil
	}
	if len(rt.Paths) > 1 {
		return r.resolveMultipath6(rt)
	}
	fi := r.intfs.ByName(rt.Ifname)
	if fi == nil {
		return fwd.Route6{}, fmt.Errorf("route %s: interface %q: %w", rt, rt.Ifname, ctl.ErrNotFound)
	}
	if !rt.NextHop.IsValid() || rt.Kind == ctl.KindConnected {
		return fwd.Route6{Prefix: p, Adj: fwd.Adjacency6{Kind: fwd.AdjConnected, Ifindex: fi.Ifindex}}, nil
	}
	nh := rt.NextHop
	if !is6(nh) {
		return fwd.Route6{}, fmt.Errorf("route %s: next hop of an IPv6 route must be IPv6: %w", rt, ctl.ErrInvalid)
	}
	if nh.Zone() != "" && nh.Zone() != rt.Ifname {
		return fwd.Route6{}, fmt.Errorf("route %s: next hop %s names interface %s, the route %s: %w", rt, nh, nh.Zone(), rt.Ifname, ctl.ErrInvalid)
	}
	a := nh.WithZone("").As16()
	if nh.IsMulticast() || nh.IsUnspecified() || nh.IsLoopback() {
		return fwd.Route6{}, fmt.Errorf("route %s: next hop %s is not a unicast address: %w", rt, nh, ctl.ErrInvalid)
	}
	if !nh.IsLinkLocalUnicast() && !fi.OnLink6(a) {
		return fwd.Route6{}, fmt.Errorf("route %s: next hop %s is not on a connected prefix of %s (use its link-local address, or add an address on its prefix): %w", rt, nh, rt.Ifname, ctl.ErrInvalid)
	}
	if fi.HasAddr6(a) {
		return fwd.Route6{}, fmt.Errorf("route %s: next hop %s is an address of %s itself: %w", rt, nh, rt.Ifname, ctl.ErrInvalid)
	}
	return fwd.Route6{Prefix: p, Adj: fwd.Adjacency6{Kind: fwd.AdjGateway, Ifindex: fi.Ifindex, NextHop: a}}, nil
}

// resolveMultipath6 is resolveMultipath for IPv6. Caller holds r.mu.
func (r *Router) resolveMultipath6(rt ctl.Route) (fwd.Route6, error) {
	members := make([]fwd.Adjacency6, len(rt.Paths))
	weights := make([]int, len(rt.Paths))
	key := "6:"
	for i, pa := range rt.Paths {
		one, err := r.resolve6(ctl.Route{Prefix: rt.Prefix, NextHop: pa.NextHop, Ifname: pa.Ifname})
		if err != nil {
			return fwd.Route6{}, fmt.Errorf("route %s: path #%d: %w", rt.Prefix, i, err)
		}
		members[i], weights[i] = one.Adj, max(pa.Weight, 1)
		key += fmt.Sprintf("%d/%d/%x/%d,", one.Adj.Kind, one.Adj.Ifindex, one.Adj.NextHop, weights[i])
	}
	if g := r.groups6[key]; g != nil {
		return fwd.Route6{Prefix: rt.Prefix, Adj: fwd.Multipath6(g)}, nil
	}
	g, err := fwd.NewGroup6(members, weights)
	if err != nil {
		return fwd.Route6{}, fmt.Errorf("route %s: %v: %w", rt.Prefix, err, ctl.ErrInvalid)
	}
	if r.groups6 == nil {
		r.groups6 = map[string]*fwd.Group6{}
	}
	r.groups6[key] = g
	return fwd.Route6{Prefix: rt.Prefix, Adj: fwd.Multipath6(g)}, nil
}

// info6 is an installed IPv6 route as the API shows it. Caller holds r.mu.
func (r *Router) info6(rt fwd.Route6) ctl.Route {
	v6 := func(a fwd.Adjacency6) netip.Addr {
		if a.Kind != fwd.AdjGateway {
			return netip.Addr{}
		}
		return netip.AddrFrom16(a.NextHop)
	}
	var paths []ctl.Path
	if g := rt.Adj.Group; g != nil {
		for i, m := range g.Members {
			paths = append(paths, ctl.Path{Weight: g.Weights[i], Ifname: r.ifname(m.Ifindex), NextHop: v6(m)})
		}
	}
	return r.view(rt.Prefix, rt.Adj.Kind, rt.Adj.Ifindex, v6(rt.Adj), paths)
}
