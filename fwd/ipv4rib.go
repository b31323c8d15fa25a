package fwd

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// ErrNoRoute is wrapped by the errors of deletes that name a route the RIB
// does not hold.
var ErrNoRoute = errors.New("no such route")

// Route is an IPv4 route: traffic to Prefix goes through Adj.
type Route struct {
	// Prefix is an IPv4 prefix without host bits, e.g. 10.1.0.0/16.
	Prefix netip.Prefix
	// Adj says where matching packets go.
	Adj Adjacency
}

// String formats the route as "10.1.0.0/16 gateway 10.2.0.1 if 2".
func (r Route) String() string { return r.Prefix.String() + " " + r.Adj.String() }

// IPv4RIB is the control side of the IPv4 route table: the routes, the
// interned adjacencies and the two [IPv4Table] copies that forwarding
// threads read.
//
// Every change (Add, Del, AddBatch, DelBatch, DelByIfindex) is applied to
// the copy no thread uses, handed to publish, and then applied to the
// other copy, so that both copies stay identical and threads never see a
// half-made change. A batch is validated as a whole first: on error nothing
// changes and nothing is published; a change that changes nothing (an
// empty batch) is not published.
//
// IPv4RIB is not safe for concurrent use; the caller serialises calls
// (R2 holds its context lock).
type IPv4RIB struct {
	// ribCore holds the two table copies, the double-copy protocol and the
	// adjacency and group interning; it gives IPv4RIB MemBytes and
	// GroupStats.
	ribCore[*IPv4Table, Adjacency, *Group, tableOp]

	// byLen[l] maps the address of each /l route to its adjacency index.
	// Per-length maps make the covering-route search of a delete (and
	// LookupRoute) at most 33 lookups, skipping lengths that have no route.
	byLen [33]map[uint32]uint32
	n     int // number of routes

	// sorted holds every route key (sortKey) in ascending order for
	// paginated listing. It is rebuilt lazily on the first listing after
	// a route was added or deleted, so paging costs O(page) until the next
	// change.
	sorted      []uint64
	sortedValid bool
}

// tableOp is one recorded change to a table copy.
type tableOp struct {
	addr uint32
	idx  uint32 // insert: the route's adjacency; remove: the cover's
	plen uint8
	clen uint8 // remove: the covering route's length
	del  bool
}

// applyOps replays recorded changes on t, a copy no thread reads.
func (t *IPv4Table) applyOps(ops []tableOp) {
	for _, op := range ops {
		if op.del {
			t.remove(op.addr, int(op.plen), op.idx, int(op.clen))
		} else {
			t.insert(op.addr, int(op.plen), op.idx)
		}
	}
}

// NewIPv4RIB returns an empty RIB. publish is supplied by the engine: it
// broadcasts "use this table" to every forwarding thread and returns only
// after each of them acknowledged, i.e. after no thread reads the
// previously published table any more. Threads must start with Active().
func NewIPv4RIB(publish func(active *IPv4Table)) *IPv4RIB {
	r := &IPv4RIB{}
	r.init(publish, newIPv4Table(), newIPv4Table(), NewGroup, Multipath)
	for i := range r.byLen {
		r.byLen[i] = make(map[uint32]uint32)
	}
	return r
}

// Active returns the table copy that forwarding threads use.
func (r *IPv4RIB) Active() *IPv4Table { return r.activeTable() }

// Group returns the group with these members and weights (nil: all 1)
// that routes of the RIB use, if there is one, so that a caller making a
// route can reuse it instead of making an equal one (which the RIB would
// replace by this one anyway).
func (r *IPv4RIB) Group(members []Adjacency, weights []int) *Group {
	return r.findGroup(members, weights)
}

// EachGroup calls fn for every multipath group that routes use, in no
// particular order; fn must not change the RIB.
func (r *IPv4RIB) EachGroup(fn func(*Group)) { r.eachGroup(fn) }

// Len returns the number of routes.
func (r *IPv4RIB) Len() int { return r.n }

// Add adds a route, or replaces the adjacency of the route with the same
// prefix if there is one. The fields of a drop adjacency other than Kind
// are ignored (stored as zero).
func (r *IPv4RIB) Add(rt Route) error {
	addr, plen, err := checkRoute(rt)
	if err != nil {
		return fmt.Errorf("fwd: %w", err)
	}
	r.begin()
	r.addOp(addr, plen, rt.Adj)
	r.commit()
	return nil
}

// Del deletes the route for prefix p. Deleting a route that does not exist
// returns an error wrapping ErrNoRoute.
func (r *IPv4RIB) Del(p netip.Prefix) error {
	addr, plen, err := checkPrefix(p)
	if err != nil {
		return fmt.Errorf("fwd: %w", err)
	}
	if _, ok := r.byLen[plen][addr]; !ok {
		return fmt.Errorf("fwd: route %s: %w", p, ErrNoRoute)
	}
	r.begin()
	r.delOp(addr, plen)
	r.commit()
	return nil
}

// AddBatch adds (or replaces) the routes in order, with one publish. If
// any route is invalid nothing changes. A prefix listed twice gets the
// later adjacency.
func (r *IPv4RIB) AddBatch(routes []Route) error {
	for i, rt := range routes {
		if _, _, err := checkRoute(rt); err != nil {
			return fmt.Errorf("fwd: batch entry %d: %w", i, err)
		}
	}
	r.begin()
	for _, rt := range routes {
		addr, plen, _ := checkRoute(rt)
		r.addOp(addr, plen, rt.Adj)
	}
	r.commit()
	return nil
}

// DelBatch deletes the routes for the prefixes, with one publish. If any
// prefix is invalid or has no route (including a prefix listed twice)
// nothing changes; the error then wraps ErrNoRoute.
func (r *IPv4RIB) DelBatch(prefixes []netip.Prefix) error {
	var seen map[uint64]struct{} // only built if needed, to catch duplicates
	for i, p := range prefixes {
		addr, plen, err := checkPrefix(p)
		if err != nil {
			return fmt.Errorf("fwd: batch entry %d: %w", i, err)
		}
		if _, ok := r.byLen[plen][addr]; !ok {
			return fmt.Errorf("fwd: batch entry %d: route %s: %w", i, p, ErrNoRoute)
		}
		if len(prefixes) > 1 {
			if seen == nil {
				seen = make(map[uint64]struct{}, len(prefixes))
			}
			k := sortKey(addr, plen)
			if _, dup := seen[k]; dup {
				return fmt.Errorf("fwd: batch entry %d: route %s listed twice: %w", i, p, ErrNoRoute)
			}
			seen[k] = struct{}{}
		}
	}
	r.begin()
	for _, p := range prefixes {
		addr, plen, _ := checkPrefix(p)
		r.delOp(addr, plen)
	}
	r.commit()
	return nil
}

// DelByIfindex takes interface ifindex out of the routes (for example
// because the interface went away), with one publish. A route through it
// is deleted; a multipath route loses only its paths through it and keeps
// the others, with their weights: a smaller group, a plain single-path
// route when one path is left, deleted when none is. It returns the
// deleted routes and the multipath routes that lost paths (with their new
// adjacencies), each in listing order.
func (r *IPv4RIB) DelByIfindex(ifindex int32) (deleted, shrunk []Route) {
	fates, found := r.ifFates(ifindex)
	if !found {
		return nil, nil
	}
	var keys []uint64
	for plen, m := range r.byLen {
		for addr, idx := range m {
			if fates[idx].uses {
				keys = append(keys, sortKey(addr, plen))
			}
		}
	}
	slices.Sort(keys)
	r.begin()
	for _, k := range keys {
		addr, plen := splitKey(k)
		f := fates[r.byLen[plen][addr]]
		if f.keep {
			shrunk = append(shrunk, Route{Prefix: prefixOf(addr, plen), Adj: f.adj})
			r.addOp(addr, plen, f.adj)
			continue
		}
		deleted = append(deleted, Route{Prefix: prefixOf(addr, plen), Adj: r.adjs[r.byLen[plen][addr]]})
		r.delOp(addr, plen)
	}
	r.commit()
	return deleted, shrunk
}

// Get returns the route for exactly prefix p.
func (r *IPv4RIB) Get(p netip.Prefix) (Route, bool) {
	addr, plen, err := checkPrefix(p)
	if err != nil {
		return Route{}, false
	}
	idx, ok := r.byLen[plen][addr]
	if !ok {
		return Route{}, false
	}
	return Route{Prefix: p, Adj: r.adjs[idx]}, true
}

// LookupRoute returns the longest-prefix-match route for addr, as the
// forwarding threads would find it, with its prefix. It is the control
// side's lookup (for "show route 10.1.2.3"), not a fast path.
func (r *IPv4RIB) LookupRoute(addr netip.Addr) (Route, bool) {
	addr = addr.Unmap()
	if !addr.Is4() {
		return Route{}, false
	}
	a := IPv4ToU32(addr)
	for plen := 32; plen >= 0; plen-- {
		m := r.byLen[plen]
		if len(m) == 0 {
			continue
		}
		if idx, ok := m[a&lenToMask(plen)]; ok {
			return Route{Prefix: prefixOf(a&lenToMask(plen), plen), Adj: r.adjs[idx]}, true
		}
	}
	return Route{}, false
}

// Routes returns up to limit routes starting at position offset of the
// listing order: by address, then by prefix length (10.0.0.0/8 before
// 10.0.0.0/16 before 10.0.1.0/24). The order only changes when routes are
// added or deleted; use RoutesAfter to page through a table that may
// change meanwhile.
func (r *IPv4RIB) Routes(offset, limit int) []Route {
	keys := r.sortedKeys()
	if offset < 0 || offset >= len(keys) || limit <= 0 {
		return nil
	}
	return r.routesOf(keys[offset:min(len(keys), offset+min(limit, len(keys)))])
}

// RoutesAfter returns up to limit routes that follow prefix after in the
// listing order (see Routes), after need not be in the RIB. The zero
// Prefix starts at the beginning. Passing the last prefix of a page gets
// the next page, without skipping or repeating routes when routes are
// added or deleted between pages.
func (r *IPv4RIB) RoutesAfter(after netip.Prefix, limit int) []Route {
	keys := r.sortedKeys()
	if limit <= 0 {
		return nil
	}
	start := 0
	if after.IsValid() {
		a := after.Addr().Unmap()
		if !a.Is4() {
			return nil // IPv6 sorts after every IPv4 prefix
		}
		k := sortKey(IPv4ToU32(a)&lenToMask(after.Bits()), after.Bits())
		start, _ = slices.BinarySearch(keys, k+1)
	}
	return r.routesOf(keys[start:min(len(keys), start+min(limit, len(keys)))])
}

func (r *IPv4RIB) routesOf(keys []uint64) []Route {
	out := make([]Route, len(keys))
	for i, k := range keys {
		addr, plen := splitKey(k)
		out[i] = Route{Prefix: prefixOf(addr, plen), Adj: r.adjs[r.byLen[plen][addr]]}
	}
	return out
}

func (r *IPv4RIB) sortedKeys() []uint64 {
	if r.sortedValid {
		return r.sorted
	}
	keys := slices.Grow(r.sorted[:0], r.n)
	for plen, m := range r.byLen {
		for addr := range m {
			keys = append(keys, sortKey(addr, plen))
		}
	}
	slices.Sort(keys)
	r.sorted, r.sortedValid = keys, true
	return keys
}

// addOp adds or replaces route addr/plen in the RIB and records the table
// change.
func (r *IPv4RIB) addOp(addr uint32, plen int, a Adjacency) {
	if a.Kind == AdjDrop {
		a = Adjacency{} // all drops share index 0
	}
	idx := r.ref(a) // before unref, so that re-adding the same adjacency keeps its index
	m := r.byLen[plen]
	if old, ok := m[addr]; ok {
		r.unref(old)
	} else {
		r.n++
		r.sortedValid = false
	}
	m[addr] = idx
	r.record(tableOp{addr: addr, idx: idx, plen: uint8(plen)})
}

// delOp deletes existing route addr/plen from the RIB and records the
// table change, with the covering route as it is at this point of a batch.
func (r *IPv4RIB) delOp(addr uint32, plen int) {
	m := r.byLen[plen]
	r.unref(m[addr])
	delete(m, addr)
	r.n--
	r.sortedValid = false
	cidx, clen := r.cover(addr, plen)
	r.record(tableOp{addr: addr, idx: cidx, plen: uint8(plen), clen: uint8(clen), del: true})
}

// cover returns the adjacency index and length of the longest route
// strictly shorter than plen that contains addr/plen; 0, 0 if none.
func (r *IPv4RIB) cover(addr uint32, plen int) (uint32, int) {
	for l := plen - 1; l >= 0; l-- {
		m := r.byLen[l]
		if len(m) == 0 {
			continue
		}
		if idx, ok := m[addr&lenToMask(l)]; ok {
			return idx, l
		}
	}
	return 0, 0
}

// checkPrefix validates an IPv4 route prefix and returns its address and
// length. Its error text has no "fwd:" prefix: callers add it with context.
func checkPrefix(p netip.Prefix) (uint32, int, error) {
	switch {
	case !p.IsValid():
		return 0, 0, fmt.Errorf("invalid prefix %s", p)
	case !p.Addr().Is4():
		return 0, 0, fmt.Errorf("prefix %s is not IPv4", p)
	case p.Masked() != p:
		return 0, 0, fmt.Errorf("prefix %s has host bits set (did you mean %s?)", p, p.Masked())
	}
	return IPv4ToU32(p.Addr()), p.Bits(), nil
}

func checkRoute(rt Route) (uint32, int, error) {
	addr, plen, err := checkPrefix(rt.Prefix)
	if err != nil {
		return 0, 0, err
	}
	if err := rt.Adj.validate(); err != nil {
		return 0, 0, fmt.Errorf("route %s: %w", rt.Prefix, err)
	}
	return addr, plen, nil
}

// lenToMask returns the netmask of a /plen prefix in host byte order.
func lenToMask(plen int) uint32 {
	return ^uint32(0) << (32 - plen) // a shift by 32 yields 0 in Go: /0 -> 0
}

// sortKey orders routes by address, then by length.
func sortKey(addr uint32, plen int) uint64 { return uint64(addr)<<8 | uint64(plen) }

func splitKey(k uint64) (uint32, int) { return uint32(k >> 8), int(k & 0xff) }

func prefixOf(addr uint32, plen int) netip.Prefix {
	return netip.PrefixFrom(U32ToIPv4(addr), plen)
}
