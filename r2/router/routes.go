//go:build linux

package router

import (
	"fmt"
	"net/netip"

	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/r2/ctl"
)

// resolve validates a route request and turns it into a table route.
// Caller holds r.mu.
func (r *Router) resolve(rt ctl.Route) (fwd.Route, error) {
	p := rt.Prefix
	if !p.IsValid() || !p.Addr().Is4() {
		return fwd.Route{}, fmt.Errorf("route %s: prefix must be IPv4: %w", rt, ctl.ErrInvalid)
	}
	if p.Masked() != p {
		return fwd.Route{}, fmt.Errorf("route %s: prefix %s has host bits set (did you mean %s?): %w", rt, p, p.Masked(), ctl.ErrInvalid)
	}
	if r.addrRoutes[p] > 0 {
		return fwd.Route{}, fmt.Errorf("route %s: %s is a connected or local route of an interface address: %w", rt, p, ctl.ErrExists)
	}
	if rt.Kind == ctl.KindDrop {
		return fwd.Route{Prefix: p, Adj: fwd.Adjacency{Kind: fwd.AdjDrop}}, nil
	}
	if len(rt.Paths) > 1 {
		return r.resolveMultipath(rt)
	}
	fi := r.intfs.ByName(rt.Ifname)
	if fi == nil {
		return fwd.Route{}, fmt.Errorf("route %s: interface %q: %w", rt, rt.Ifname, ctl.ErrNotFound)
	}
	if !rt.NextHop.IsValid() || rt.Kind == ctl.KindConnected {
		return fwd.Route{Prefix: p, Adj: fwd.Adjacency{Kind: fwd.AdjConnected, Ifindex: fi.Ifindex}}, nil
	}
	if !rt.NextHop.Is4() {
		return fwd.Route{}, fmt.Errorf("route %s: next hop must be IPv4: %w", rt, ctl.ErrInvalid)
	}
	nh := fwd.IPv4ToU32(rt.NextHop)
	if !fi.OnLink(nh) {
		return fwd.Route{}, fmt.Errorf("route %s: next hop %s is not on a connected subnet of %s: %w", rt, rt.NextHop, rt.Ifname, ctl.ErrInvalid)
	}
	if fi.HasAddr(nh) {
		return fwd.Route{}, fmt.Errorf("route %s: next hop %s is an address of %s itself: %w", rt, rt.NextHop, rt.Ifname, ctl.ErrInvalid)
	}
	return fwd.Route{Prefix: p, Adj: fwd.Adjacency{Kind: fwd.AdjGateway, Ifindex: fi.Ifindex, NextHop: nh}}, nil
}

// AddRoutes adds (or replaces) static routes, all or none.
func (r *Router) AddRoutes(rs []ctl.Route) error {
	if err := r.lock(); err != nil {
		return err
	}
	defer r.mu.Unlock()
	out := make([]fwd.Route, 0, len(rs))
	var out6 []fwd.Route6
	seen := make(map[netip.Prefix]bool, len(rs))
	for _, rt := range rs {
		if seen[rt.Prefix] {
			return fmt.Errorf("route %s: prefix given twice in one request: %w", rt, ctl.ErrInvalid)
		}
		seen[rt.Prefix] = true
		if rt.Prefix.IsValid() && is6(rt.Prefix.Addr()) {
			fr, err := r.resolve6(rt)
			if err != nil {
				return err
			}
			out6 = append(out6, fr)
			continue
		}
		fr, err := r.resolve(rt)
		if err != nil {
			return err
		}
		out = append(out, fr)
	}
	// Both batches were validated above, so the second cannot fail for a
	// reason the first would not have (a mixed request stays all or none).
	if err := r.rib.AddBatch(out); err != nil {
		return fmt.Errorf("%v: %w", err, ctl.ErrInvalid)
	}
	if err := r.rib6.AddBatch(out6); err != nil {
		return fmt.Errorf("%v: %w", err, ctl.ErrInternal)
	}
	return nil
}

// DelRoutes deletes static routes, all or none. A route's next hop and
// interface, when given, must match the installed route.
func (r *Router) DelRoutes(rs []ctl.Route) error {
	if err := r.lock(); err != nil {
		return err
	}
	defer r.mu.Unlock()
	ps := make([]netip.Prefix, 0, len(rs))
	var ps6 []netip.Prefix
	seen := make(map[netip.Prefix]bool, len(rs))
	for _, rt := range rs {
		if rt.Prefix.IsValid() && is6(rt.Prefix.Addr()) {
			if err := r.checkDel6(rt); err != nil {
				return err
			}
			if seen[rt.Prefix] {
				return fmt.Errorf("route %s: prefix given twice in one request: %w", rt, ctl.ErrInvalid)
			}
			seen[rt.Prefix] = true
			ps6 = append(ps6, rt.Prefix)
			continue
		}
		if !rt.Prefix.IsValid() || !rt.Prefix.Addr().Is4() || rt.Prefix.Masked() != rt.Prefix {
			return fmt.Errorf("route %s: bad prefix: %w", rt, ctl.ErrInvalid)
		}
		if r.addrRoutes[rt.Prefix] > 0 {
			return fmt.Errorf("route %s: %s belongs to an interface address; delete the address instead: %w", rt, rt.Prefix, ctl.ErrInvalid)
		}
		cur, ok := r.rib.Get(rt.Prefix)
		if !ok {
			return fmt.Errorf("route %s: no such route: %w", rt, ctl.ErrNotFound)
		}
		if rt.Ifname != "" {
			if fi := r.intfs.ByName(rt.Ifname); fi == nil || fi.Ifindex != cur.Adj.Ifindex {
				return fmt.Errorf("route %s: installed route is %s, not through %s: %w", rt, r.info(cur), rt.Ifname, ctl.ErrNotFound)
			}
		}
		if rt.NextHop.IsValid() && (cur.Adj.Kind != fwd.AdjGateway || fwd.U32ToIPv4(cur.Adj.NextHop) != rt.NextHop) {
			return fmt.Errorf("route %s: installed route is %s: %w", rt, r.info(cur), ctl.ErrNotFound)
		}
		if seen[rt.Prefix] {
			return fmt.Errorf("route %s: prefix given twice in one request: %w", rt, ctl.ErrInvalid)
		}
		seen[rt.Prefix] = true
		ps = append(ps, rt.Prefix)
	}
	if err := r.rib.DelBatch(ps); err != nil {
		return fmt.Errorf("%v: %w", err, ctl.ErrInternal)
	}
	if err := r.rib6.DelBatch(ps6); err != nil {
		return fmt.Errorf("%v: %w", err, ctl.ErrInternal)
	}
	return nil
}

// checkDel6 validates the deletion of an IPv6 route. Caller holds r.mu.
func (r *Router) checkDel6(rt ctl.Route) error {
	if rt.Prefix.Masked() != rt.Prefix {
		return fmt.Errorf("route %s: bad prefix: %w", rt, ctl.ErrInvalid)
	}
	if r.addrRoutes[rt.Prefix] > 0 {
		return fmt.Errorf("route %s: %s belongs to an interface address; delete the address instead: %w", rt, rt.Prefix, ctl.ErrInvalid)
	}
	cur, ok := r.rib6.Get(rt.Prefix)
	if !ok {
		return fmt.Errorf("route %s: no such route: %w", rt, ctl.ErrNotFound)
	}
	if rt.Ifname != "" {
		if fi := r.intfs.ByName(rt.Ifname); fi == nil || fi.Ifindex != cur.Adj.Ifindex {
			return fmt.Errorf("route %s: installed route is %s, not through %s: %w", rt, r.info6(cur), rt.Ifname, ctl.ErrNotFound)
		}
	}
	if rt.NextHop.IsValid() && (cur.Adj.Kind != fwd.AdjGateway || netip.AddrFrom16(cur.Adj.NextHop) != rt.NextHop.WithZone("")) {
		return fmt.Errorf("route %s: installed route is %s: %w", rt, r.info6(cur), ctl.ErrNotFound)
	}
	return nil
}

// resolveMultipath validates each path of a multipath route and makes its
// group, or reuses the one that routes with the same paths and weights
// already share (the RIB interns groups and frees each with the last route
// using it). Caller holds r.mu.
func (r *Router) resolveMultipath(rt ctl.Route) (fwd.Route, error) {
	members := make([]fwd.Adjacency, len(rt.Paths))
	weights := make([]int, len(rt.Paths))
	for i, pa := range rt.Paths {
		one, err := r.resolve(ctl.Route{Prefix: rt.Prefix, NextHop: pa.NextHop, Ifname: pa.Ifname})
		if err != nil {
			return fwd.Route{}, fmt.Errorf("route %s: path #%d: %w", rt.Prefix, i, err)
		}
		members[i], weights[i] = one.Adj, max(pa.Weight, 1)
	}
	if g := r.rib.Group(members, weights); g != nil {
		return fwd.Route{Prefix: rt.Prefix, Adj: fwd.Multipath(g)}, nil
	}
	g, err := fwd.NewGroup(members, weights)
	if err != nil {
		return fwd.Route{}, fmt.Errorf("route %s: %v: %w", rt.Prefix, err, ctl.ErrInvalid)
	}
	return fwd.Route{Prefix: rt.Prefix, Adj: fwd.Multipath(g)}, nil
}

// info is an installed route as the API shows it. Caller holds r.mu.
func (r *Router) info(rt fwd.Route) ctl.Route {
	v4 := func(a fwd.Adjacency) netip.Addr {
		if a.Kind != fwd.AdjGateway {
			return netip.Addr{}
		}
		return fwd.U32ToIPv4(a.NextHop)
	}
	var paths []ctl.Path
	if g := rt.Adj.Group; g != nil {
		for i, m := range g.Members {
			paths = append(paths, ctl.Path{Weight: g.Weights[i], Ifname: r.ifname(m.Ifindex), NextHop: v4(m)})
		}
	}
	return r.view(rt.Prefix, rt.Adj.Kind, rt.Adj.Ifindex, v4(rt.Adj), paths)
}

// view is the API's form of a table entry of either family: kind, output
// interface (none for drop routes), next hop (invalid unless a gateway)
// and the paths of a multipath route. Caller holds r.mu.
func (r *Router) view(p netip.Prefix, kind fwd.AdjKind, ifindex int32, nh netip.Addr, paths []ctl.Path) ctl.Route {
	out := ctl.Route{Prefix: p, Kind: kind.String(), NextHop: nh, Paths: paths}
	if kind != fwd.AdjDrop {
		out.Ifname = r.ifname(ifindex)
	}
	return out
}

// ifname is the name of interface ifindex, or "" if there is none.
// Caller holds r.mu.
func (r *Router) ifname(ifindex int32) string {
	if i := r.intfs.Get(ifindex); i != nil {
		return i.Name
	}
	return ""
}

// LookupRoute is the longest match for a.
func (r *Router) LookupRoute(a netip.Addr) (ctl.Route, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if is6(a) {
		rt, ok := r.rib6.LookupRoute(a.WithZone(""))
		if !ok {
			return ctl.Route{}, fmt.Errorf("no route to %s: %w", a, ctl.ErrNotFound)
		}
		return r.info6(rt), nil
	}
	if !a.Is4() {
		return ctl.Route{}, fmt.Errorf("address %s is not IPv4 or IPv6: %w", a, ctl.ErrInvalid)
	}
	rt, ok := r.rib.LookupRoute(a)
	if !ok {
		return ctl.Route{}, fmt.Errorf("no route to %s: %w", a, ctl.ErrNotFound)
	}
	return r.info(rt), nil
}

// Routes lists routes in a stable order (IPv4, then IPv6), limit from
// offset, and the total.
func (r *Router) Routes(offset, limit int) (int, []ctl.Route, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n4 := r.rib.Len()
	var out []ctl.Route
	if offset < n4 {
		for _, rt := range r.rib.Routes(offset, limit) {
			out = append(out, r.info(rt))
		}
	}
	if left := limit - len(out); left > 0 {
		off6 := max(offset-n4, 0)
		for _, rt := range r.rib6.Routes(off6, left) {
			out = append(out, r.info6(rt))
		}
	}
	return n4 + r.rib6.Len(), out, nil
}
