package fwd

// STAND-IN, TO BE REPLACED: this file is a minimal linear-scan version of
// the IPv6 FIB API that another branch implements for real. It exists only so
// that the IPv6 nodes (gnodes/layer3/ipv6/...) build and can be tested on
// this branch; drop it at merge in favour of the real IPv6Table/IPv6RIB.
// Only the API is meant to match: no double copies, no performance.

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"
)

// Adjacency6 is the result of an IPv6 route lookup (see [Adjacency]).
type Adjacency6 struct {
	Kind    AdjKind
	Ifindex int32
	// NextHop is the gateway's address; zero unless Kind is AdjGateway.
	NextHop [16]byte
}

// Route6 is an IPv6 prefix and where it leads.
type Route6 struct {
	Prefix netip.Prefix
	Adj    Adjacency6
}

// standin6Entry is one route of a stand-in table.
type standin6Entry struct {
	hi, lo, mhi, mlo uint64
	adj              uint32
}

// IPv6Table is an immutable IPv6 lookup structure (stand-in: a list of
// prefixes, longest first, scanned linearly).
type IPv6Table struct {
	ents []standin6Entry
	adj  []Adjacency6 // adj[0] is the drop adjacency
}

// Lookup returns the adjacency index for the destination hi:lo, 0 (drop)
// when no route matches.
func (t *IPv6Table) Lookup(hi, lo uint64) uint32 {
	for i := range t.ents {
		e := &t.ents[i]
		if hi&e.mhi == e.hi && lo&e.mlo == e.lo {
			return e.adj
		}
	}
	return 0
}

// LookupBatch stores in adjs[i] the adjacency index of hi[i]:lo[i].
func (t *IPv6Table) LookupBatch(hi, lo []uint64, adjs []uint32) {
	for i := range hi {
		adjs[i] = t.Lookup(hi[i], lo[i])
	}
}

// Adj returns adjacency number i.
func (t *IPv6Table) Adj(i uint32) Adjacency6 { return t.adj[i] }

// IPv6RIB holds the IPv6 routes and publishes a new table on every change
// (stand-in: a fresh table per change).
type IPv6RIB struct {
	routes  map[netip.Prefix]Adjacency6
	active  *IPv6Table
	publish func(*IPv6Table)
}

// NewIPv6RIB makes an empty RIB; publish is called with every new table.
func NewIPv6RIB(publish func(*IPv6Table)) *IPv6RIB {
	return &IPv6RIB{routes: map[netip.Prefix]Adjacency6{}, active: &IPv6Table{adj: []Adjacency6{{}}}, publish: publish}
}

// Active is the table in use.
func (r *IPv6RIB) Active() *IPv6Table { return r.active }

// AddBatch adds or replaces routes.
func (r *IPv6RIB) AddBatch(rs []Route6) error {
	for _, rt := range rs {
		if !rt.Prefix.IsValid() || !rt.Prefix.Addr().Is6() || rt.Prefix.Addr().Is4In6() {
			return fmt.Errorf("fwd: %s is not an IPv6 prefix", rt.Prefix)
		}
	}
	for _, rt := range rs {
		r.routes[rt.Prefix.Masked()] = rt.Adj
	}
	r.rebuild()
	return nil
}

// DelBatch removes routes.
func (r *IPv6RIB) DelBatch(ps []netip.Prefix) error {
	for _, p := range ps {
		if _, ok := r.routes[p.Masked()]; !ok {
			return fmt.Errorf("fwd: no route %s", p)
		}
	}
	for _, p := range ps {
		delete(r.routes, p.Masked())
	}
	r.rebuild()
	return nil
}

func (r *IPv6RIB) rebuild() {
	t := &IPv6Table{adj: []Adjacency6{{}}}
	idx := map[Adjacency6]uint32{{}: 0}
	ps := make([]netip.Prefix, 0, len(r.routes))
	for p := range r.routes {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Bits() > ps[j].Bits() })
	for _, p := range ps {
		a := r.routes[p]
		i, ok := idx[a]
		if !ok {
			i = uint32(len(t.adj))
			idx[a] = i
			t.adj = append(t.adj, a)
		}
		hi, lo := IPv6ToHiLo(p.Addr())
		mhi, mlo := mask6(p.Bits())
		t.ents = append(t.ents, standin6Entry{hi: hi & mhi, lo: lo & mlo, mhi: mhi, mlo: mlo, adj: i})
	}
	r.active = t
	if r.publish != nil {
		r.publish(t)
	}
}

func mask6(bits int) (hi, lo uint64) {
	switch {
	case bits <= 0:
		return 0, 0
	case bits < 64:
		return ^uint64(0) << (64 - bits), 0
	case bits == 64:
		return ^uint64(0), 0
	case bits < 128:
		return ^uint64(0), ^uint64(0) << (128 - bits)
	}
	return ^uint64(0), ^uint64(0)
}

// IPv6ToHiLo returns a's 16 bytes as two big-endian halves.
func IPv6ToHiLo(a netip.Addr) (hi, lo uint64) {
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}
