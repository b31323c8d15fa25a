package fwd

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
)

// Adjacency6 is the result of an IPv6 route lookup: how and where to send
// the packet. Like [Adjacency] it is a small comparable value, interned by
// the RIB into one index per distinct adjacency.
type Adjacency6 struct {
	// Kind says what to do with the packet.
	Kind AdjKind
	// Ifindex is the R2 ifindex of the output interface (for AdjLocal, the
	// interface that owns the address).
	Ifindex int32
	// NextHop is the gateway's IPv6 address (network byte order, as
	// netip.Addr.As16 gives it); all zero unless Kind is AdjGateway. A
	// link-local next hop is scoped by Ifindex.
	NextHop [16]byte
	// Group, when not nil, makes this a multipath adjacency: the other
	// fields are member 0's (see Group6).
	Group *Group6
}

// String formats the adjacency the way route listings show it, e.g.
// "gateway fe80::1 if 2".
func (a Adjacency6) String() string {
	if a.Group != nil {
		return "multipath " + a.Group.String()
	}
	switch a.Kind {
	case AdjDrop:
		return "drop"
	case AdjGateway:
		return fmt.Sprintf("gateway %s if %d", netip.AddrFrom16(a.NextHop), a.Ifindex)
	default:
		return fmt.Sprintf("%s if %d", a.Kind, a.Ifindex)
	}
}

// validate checks the fields a route's adjacency must have. The error text
// has no "fwd:" prefix; callers add context.
func (a Adjacency6) validate() error {
	if a.Kind >= numAdjKinds {
		return fmt.Errorf("unknown adjacency kind %d", uint8(a.Kind))
	}
	if a.Kind == AdjDrop {
		return nil
	}
	if g := a.Group; g != nil {
		if len(g.Members) < 2 || g.Members[0].Kind != a.Kind || g.Members[0].Ifindex != a.Ifindex || g.Members[0].NextHop != a.NextHop {
			return fmt.Errorf("multipath adjacency must be its group's member 0")
		}
	}
	if a.Ifindex < 0 || a.Ifindex >= MaxIfindex {
		return fmt.Errorf("%s adjacency ifindex %d out of range [0, %d)", a.Kind, a.Ifindex, MaxIfindex)
	}
	nh := netip.AddrFrom16(a.NextHop)
	switch {
	case a.Kind == AdjGateway && nh.IsUnspecified():
		return fmt.Errorf("gateway adjacency needs a next hop")
	case a.Kind == AdjGateway && nh.IsMulticast():
		return fmt.Errorf("gateway next hop %s is multicast", nh)
	case a.Kind != AdjGateway && !nh.IsUnspecified():
		return fmt.Errorf("%s adjacency must not have a next hop (got %s)", a.Kind, nh)
	}
	return nil
}

// usesIfindex reports whether packets sent through a go through (or, for
// local delivery, belong to) interface ifindex.
func (a Adjacency6) usesIfindex(ifindex int32) bool {
	if a.Group != nil {
		for _, m := range a.Group.Members {
			if m.Ifindex == ifindex {
				return true
			}
		}
		return false
	}
	return a.Kind != AdjDrop && a.Ifindex == ifindex
}

// Route6 is an IPv6 route: traffic to Prefix goes through Adj.
type Route6 struct {
	// Prefix is an IPv6 prefix without host bits, e.g. 2001:db8::/32.
	Prefix netip.Prefix
	// Adj says where matching packets go.
	Adj Adjacency6
}

// String formats the route as "2001:db8::/32 gateway fe80::1 if 2".
func (r Route6) String() string { return r.Prefix.String() + " " + r.Adj.String() }

// key6 is a route's address as two big-endian halves (host bits zero).
type key6 struct{ hi, lo uint64 }

// rkey6 is a route's listing key: address, then length.
type rkey6 struct {
	key6
	plen uint8
}

func cmpRkey6(a, b rkey6) int {
	return cmp.Or(cmp.Compare(a.hi, b.hi), cmp.Compare(a.lo, b.lo), cmp.Compare(a.plen, b.plen))
}

// IPv6RIB is the control side of the IPv6 route table: the routes, the
// interned adjacencies and the two [IPv6Table] copies that forwarding
// threads read. It follows the protocol of [IPv4RIB]: every change is
// applied to the copy no thread uses, handed to publish, and then applied
// to the other copy; a batch is validated as a whole first, and a change
// that changes nothing is not published.
//
// IPv6RIB is not safe for concurrent use; the caller serialises calls.
type IPv6RIB struct {
	// ribCore holds the two table copies, the double-copy protocol and the
	// adjacency and group interning, as in IPv4RIB.
	ribCore[*IPv6Table, Adjacency6, *Group6, tableOp6]

	// byLen[l] maps the address of each /l route to its adjacency index.
	// A delete searches for the covering route only among the lengths its
	// table node holds (at most 16), see cover.
	byLen [129]map[key6]uint32
	n     int // number of routes

	// sorted holds every route key in listing order, rebuilt lazily on the
	// first listing after a change.
	sorted      []rkey6
	sortedValid bool
}

// tableOp6 is one recorded change to a table copy.
type tableOp6 struct {
	hi, lo uint64
	val    uint32 // insert: the route (mkDef); remove: the cover or 0
	plen   uint8
	del    bool
}

// applyOps replays recorded changes on t, a copy no thread reads.
func (t *IPv6Table) applyOps(ops []tableOp6) {
	for _, op := range ops {
		if op.del {
			t.remove(op.hi, op.lo, int(op.plen), op.val)
		} else {
			t.insert(op.hi, op.lo, int(op.plen), op.val&adj6Mask)
		}
	}
}

// NewIPv6RIB returns an empty RIB. publish is supplied by the engine: it
// broadcasts "use this table" to every forwarding thread and returns only
// after each of them acknowledged. Threads must start with Active().
func NewIPv6RIB(publish func(active *IPv6Table)) *IPv6RIB {
	r := &IPv6RIB{}
	r.init(publish, newIPv6Table(), newIPv6Table(), NewGroup6, Multipath6)
	for i := range r.byLen {
		r.byLen[i] = make(map[key6]uint32)
	}
	return r
}

// Active returns the table copy that forwarding threads use.
func (r *IPv6RIB) Active() *IPv6Table { return r.activeTable() }

// Group returns the group with these members and weights (nil: all 1)
// that routes of the RIB use, if there is one, so that a caller making a
// route can reuse it instead of making an equal one (which the RIB would
// replace by this one anyway).
func (r *IPv6RIB) Group(members []Adjacency6, weights []int) *Group6 {
	return r.findGroup(members, weights)
}

// EachGroup calls fn for every multipath group that routes use, in no
// particular order; fn must not change the RIB.
func (r *IPv6RIB) EachGroup(fn func(*Group6)) { r.eachGroup(fn) }

// Len returns the number of routes.
func (r *IPv6RIB) Len() int { return r.n }

// Add adds a route, or replaces the adjacency of the route with the same
// prefix. The fields of a drop adjacency other than Kind are ignored.
func (r *IPv6RIB) Add(rt Route6) error {
	k, plen, err := checkRoute6(rt)
	if err != nil {
		return fmt.Errorf("fwd: %w", err)
	}
	r.begin()
	r.addOp(k, plen, rt.Adj)
	r.commit()
	return nil
}

// Del deletes the route for prefix p. Deleting a route that does not exist
// returns an error wrapping ErrNoRoute.
func (r *IPv6RIB) Del(p netip.Prefix) error {
	k, plen, err := checkPrefix6(p)
	if err != nil {
		return fmt.Errorf("fwd: %w", err)
	}
	if _, ok := r.byLen[plen][k]; !ok {
		return fmt.Errorf("fwd: route %s: %w", p, ErrNoRoute)
	}
	r.begin()
	r.delOp(k, plen)
	r.commit()
	return nil
}

// AddBatch adds (or replaces) the routes in order, with one publish. If
// any route is invalid nothing changes. A prefix listed twice gets the
// later adjacency.
func (r *IPv6RIB) AddBatch(routes []Route6) error {
	for i, rt := range routes {
		if _, _, err := checkRoute6(rt); err != nil {
			return fmt.Errorf("fwd: batch entry %d: %w", i, err)
		}
	}
	r.begin()
	for _, rt := range routes {
		k, plen, _ := checkRoute6(rt)
		r.addOp(k, plen, rt.Adj)
	}
	r.commit()
	return nil
}

// DelBatch deletes the routes for the prefixes, with one publish. If any
// prefix is invalid or has no route (including a prefix listed twice)
// nothing changes; the error then wraps ErrNoRoute.
func (r *IPv6RIB) DelBatch(prefixes []netip.Prefix) error {
	var seen map[rkey6]struct{}
	for i, p := range prefixes {
		k, plen, err := checkPrefix6(p)
		if err != nil {
			return fmt.Errorf("fwd: batch entry %d: %w", i, err)
		}
		if _, ok := r.byLen[plen][k]; !ok {
			return fmt.Errorf("fwd: batch entry %d: route %s: %w", i, p, ErrNoRoute)
		}
		if len(prefixes) > 1 {
			if seen == nil {
				seen = make(map[rkey6]struct{}, len(prefixes))
			}
			rk := rkey6{k, uint8(plen)}
			if _, dup := seen[rk]; dup {
				return fmt.Errorf("fwd: batch entry %d: route %s listed twice: %w", i, p, ErrNoRoute)
			}
			seen[rk] = struct{}{}
		}
	}
	r.begin()
	for _, p := range prefixes {
		k, plen, _ := checkPrefix6(p)
		r.delOp(k, plen)
	}
	r.commit()
	return nil
}

// DelByIfindex takes interface ifindex out of the routes, with one
// publish, as IPv4RIB.DelByIfindex does: routes through it are deleted,
// multipath routes lose only their paths through it. It returns the
// deleted routes and the multipath routes that lost paths (with their new
// adjacencies), each in listing order.
func (r *IPv6RIB) DelByIfindex(ifindex int32) (deleted, shrunk []Route6) {
	fates, found := r.ifFates(ifindex)
	if !found {
		return nil, nil
	}
	var keys []rkey6
	for plen, m := range r.byLen {
		for k, idx := range m {
			if fates[idx].uses {
				keys = append(keys, rkey6{k, uint8(plen)})
			}
		}
	}
	slices.SortFunc(keys, cmpRkey6)
	r.begin()
	for _, k := range keys {
		f := fates[r.byLen[k.plen][k.key6]]
		if f.keep {
			shrunk = append(shrunk, Route6{Prefix: prefixOf6(k.key6, int(k.plen)), Adj: f.adj})
			r.addOp(k.key6, int(k.plen), f.adj)
			continue
		}
		deleted = append(deleted, Route6{Prefix: prefixOf6(k.key6, int(k.plen)), Adj: r.adjs[r.byLen[k.plen][k.key6]]})
		r.delOp(k.key6, int(k.plen))
	}
	r.commit()
	return deleted, shrunk
}

// Get returns the route for exactly prefix p.
func (r *IPv6RIB) Get(p netip.Prefix) (Route6, bool) {
	k, plen, err := checkPrefix6(p)
	if err != nil {
		return Route6{}, false
	}
	idx, ok := r.byLen[plen][k]
	if !ok {
		return Route6{}, false
	}
	return Route6{Prefix: p, Adj: r.adjs[idx]}, true
}

// LookupRoute returns the longest-prefix-match route for addr, as the
// forwarding threads would find it, with its prefix. It is the control
// side's lookup, not a fast path. A zone is ignored.
func (r *IPv6RIB) LookupRoute(addr netip.Addr) (Route6, bool) {
	if !addr.Is6() {
		return Route6{}, false
	}
	hi, lo := IPv6ToHiLo(addr)
	for plen := 128; plen >= 0; plen-- {
		m := r.byLen[plen]
		if len(m) == 0 {
			continue
		}
		k := mask6(hi, lo, plen)
		if idx, ok := m[k]; ok {
			return Route6{Prefix: prefixOf6(k, plen), Adj: r.adjs[idx]}, true
		}
	}
	return Route6{}, false
}

// Routes returns up to limit routes starting at position offset of the
// listing order: by address, then by prefix length. Use RoutesAfter to
// page through a table that may change meanwhile.
func (r *IPv6RIB) Routes(offset, limit int) []Route6 {
	keys := r.sortedKeys()
	if offset < 0 || offset >= len(keys) || limit <= 0 {
		return nil
	}
	return r.routesOf(keys[offset:min(len(keys), offset+min(limit, len(keys)))])
}

// RoutesAfter returns up to limit routes that follow prefix after in the
// listing order (see Routes); after need not be in the RIB. The zero
// Prefix starts at the beginning. An IPv4 prefix sorts before every IPv6
// one.
func (r *IPv6RIB) RoutesAfter(after netip.Prefix, limit int) []Route6 {
	keys := r.sortedKeys()
	if limit <= 0 {
		return nil
	}
	start := 0
	if after.IsValid() && after.Addr().Is6() {
		hi, lo := IPv6ToHiLo(after.Addr())
		k := rkey6{mask6(hi, lo, after.Bits()), uint8(after.Bits())}
		start, _ = slices.BinarySearchFunc(keys, k, cmpRkey6)
		if start < len(keys) && keys[start] == k {
			start++
		}
	}
	return r.routesOf(keys[start:min(len(keys), start+min(limit, len(keys)))])
}

func (r *IPv6RIB) routesOf(keys []rkey6) []Route6 {
	out := make([]Route6, len(keys))
	for i, k := range keys {
		out[i] = Route6{Prefix: prefixOf6(k.key6, int(k.plen)), Adj: r.adjs[r.byLen[k.plen][k.key6]]}
	}
	return out
}

func (r *IPv6RIB) sortedKeys() []rkey6 {
	if r.sortedValid {
		return r.sorted
	}
	keys := slices.Grow(r.sorted[:0], r.n)
	for plen, m := range r.byLen {
		for k := range m {
			keys = append(keys, rkey6{k, uint8(plen)})
		}
	}
	slices.SortFunc(keys, cmpRkey6)
	r.sorted, r.sortedValid = keys, true
	return keys
}

// addOp adds or replaces route k/plen in the RIB and records the table
// change.
func (r *IPv6RIB) addOp(k key6, plen int, a Adjacency6) {
	if a.Kind == AdjDrop {
		a = Adjacency6{}
	}
	idx := r.ref(a)
	m := r.byLen[plen]
	if old, ok := m[k]; ok {
		r.unref(old)
	} else {
		r.n++
		r.sortedValid = false
	}
	m[k] = idx
	r.record(tableOp6{hi: k.hi, lo: k.lo, val: mkDef(idx, plen), plen: uint8(plen)})
}

// delOp deletes existing route k/plen from the RIB and records the table
// change, with the cover as it is at this point of a batch.
func (r *IPv6RIB) delOp(k key6, plen int) {
	m := r.byLen[plen]
	r.unref(m[k])
	delete(m, k)
	r.n--
	r.sortedValid = false
	r.record(tableOp6{hi: k.hi, lo: k.lo, val: r.cover(k, plen), plen: uint8(plen), del: true})
}

// cover returns the longest route strictly shorter than plen that contains
// k/plen, as mkDef(idx, len), searching only the lengths held by the same
// table node (or the direct table): longer than nodeLevel(plen), or from
// 0 when plen <= 16. 0 if there is none there: the table then falls back
// on the node's def, which already holds the shorter routes.
func (r *IPv6RIB) cover(k key6, plen int) uint32 {
	floor := 0
	if plen > direct6Bits {
		floor = nodeLevel(plen) + 1
	}
	for l := plen - 1; l >= floor; l-- {
		m := r.byLen[l]
		if len(m) == 0 {
			continue
		}
		if idx, ok := m[mask6(k.hi, k.lo, l)]; ok {
			return mkDef(idx, l)
		}
	}
	return 0
}

// checkPrefix6 validates an IPv6 route prefix and returns its address and
// length. A netip.Prefix cannot carry a zone (netip drops it), so a zoned
// address never reaches the table. Its error text has no "fwd:" prefix.
func checkPrefix6(p netip.Prefix) (key6, int, error) {
	switch {
	case !p.IsValid():
		return key6{}, 0, fmt.Errorf("invalid prefix %s", p)
	case !p.Addr().Is6():
		return key6{}, 0, fmt.Errorf("prefix %s is not IPv6", p)
	case p.Addr().Zone() != "":
		return key6{}, 0, fmt.Errorf("prefix %s has a zone", p)
	case p.Masked() != p:
		return key6{}, 0, fmt.Errorf("prefix %s has host bits set (did you mean %s?)", p, p.Masked())
	}
	hi, lo := IPv6ToHiLo(p.Addr())
	return key6{hi, lo}, p.Bits(), nil
}

func checkRoute6(rt Route6) (key6, int, error) {
	k, plen, err := checkPrefix6(rt.Prefix)
	if err != nil {
		return key6{}, 0, err
	}
	if err := rt.Adj.validate(); err != nil {
		return key6{}, 0, fmt.Errorf("route %s: %w", rt.Prefix, err)
	}
	return k, plen, nil
}

// mask6 returns hi, lo with the bits after the first plen cleared.
func mask6(hi, lo uint64, plen int) key6 {
	switch {
	case plen <= 0:
		return key6{}
	case plen < 64:
		return key6{hi &^ (^uint64(0) >> plen), 0}
	case plen < 128:
		return key6{hi, lo &^ (^uint64(0) >> (plen - 64))}
	}
	return key6{hi, lo}
}

func prefixOf6(k key6, plen int) netip.Prefix {
	return netip.PrefixFrom(HiLoToIPv6(k.hi, k.lo), plen)
}
