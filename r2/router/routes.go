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
	fi := r.intfs.ByName(rt.Ifname)
	if fi == nil {
		return fwd.Route{}, fmt.Errorf("route %s: interface %q: %w", rt, rt.Ifname, ctl.ErrNotFound)
	}
	if r.addrRoutes[p] > 0 {
		return fwd.Route{}, fmt.Errorf("route %s: %s is a connected or local route of an interface address: %w", rt, p, ctl.ErrExists)
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
	seen := make(map[netip.Prefix]bool, len(rs))
	for _, rt := range rs {
		fr, err := r.resolve(rt)
		if err != nil {
			return err
		}
		if seen[fr.Prefix] {
			return fmt.Errorf("route %s: prefix given twice in one request: %w", rt, ctl.ErrInvalid)
		}
		seen[fr.Prefix] = true
		out = append(out, fr)
	}
	if err := r.rib.AddBatch(out); err != nil {
		return fmt.Errorf("%v: %w", err, ctl.ErrInvalid)
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
	seen := make(map[netip.Prefix]bool, len(rs))
	for _, rt := range rs {
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
	return nil
}

// info is an installed route as the API shows it. Caller holds r.mu.
func (r *Router) info(rt fwd.Route) ctl.Route {
	out := ctl.Route{Prefix: rt.Prefix, Kind: rt.Adj.Kind.String()}
	if i := r.intfs.Get(rt.Adj.Ifindex); i != nil {
		out.Ifname = i.Name
	}
	if rt.Adj.Kind == fwd.AdjGateway {
		out.NextHop = fwd.U32ToIPv4(rt.Adj.NextHop)
	}
	return out
}

// LookupRoute is the longest match for a.
func (r *Router) LookupRoute(a netip.Addr) (ctl.Route, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !a.Is4() {
		return ctl.Route{}, fmt.Errorf("address %s is not IPv4: %w", a, ctl.ErrInvalid)
	}
	rt, ok := r.rib.LookupRoute(a)
	if !ok {
		return ctl.Route{}, fmt.Errorf("no route to %s: %w", a, ctl.ErrNotFound)
	}
	return r.info(rt), nil
}

// Routes lists routes in a stable order, limit from offset, and the total.
func (r *Router) Routes(offset, limit int) (int, []ctl.Route, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rs := r.rib.Routes(offset, limit)
	out := make([]ctl.Route, len(rs))
	for i, rt := range rs {
		out[i] = r.info(rt)
	}
	return r.rib.Len(), out, nil
}
