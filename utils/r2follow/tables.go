package main

import (
	"iter"
	"net/netip"
	"unique"

	"github.com/r2go/r2/r2/ctl"
)

// The follower keeps two route tables of up to a full Internet table each:
// the kernel's routes and what R2 has. A million routes use a handful of
// next hops, so a route is stored as its prefix plus a unique.Handle (8
// bytes) on its canonical body: equal bodies share one copy. Routes that
// do not fit a comparable body (several metrics for one prefix, multipath)
// are kept whole beside them; they are few. With plain values the two
// tables of the tier1 table (1.06 M routes) held 611 MiB of live heap.

// kOne is the body of a prefix's only kernel route with at most one next
// hop.
type kOne struct {
	Table, Type, Protocol, Priority int
	NH                              NextHop
	HasNH                           bool
}

// kTable is the followed kernel table: its routes by prefix.
type kTable struct {
	one  map[netip.Prefix]unique.Handle[kOne]
	many map[netip.Prefix][]KRoute
}

func newKTable(n int) kTable {
	return kTable{one: make(map[netip.Prefix]unique.Handle[kOne], n), many: map[netip.Prefix][]KRoute{}}
}

// get returns the kernel's routes to p (a fresh slice the caller may keep
// and change).
func (t *kTable) get(p netip.Prefix) []KRoute {
	if h, ok := t.one[p]; ok {
		b := h.Value()
		r := KRoute{Table: b.Table, Prefix: p, Type: b.Type, Protocol: b.Protocol, Priority: b.Priority}
		if b.HasNH {
			r.NHs = []NextHop{b.NH}
		}
		return []KRoute{r}
	}
	return t.many[p]
}

// set makes rs the routes to p (none: p has no route).
func (t *kTable) set(p netip.Prefix, rs []KRoute) {
	delete(t.one, p)
	delete(t.many, p)
	switch {
	case len(rs) == 0:
	case len(rs) == 1 && len(rs[0].NHs) <= 1:
		r := rs[0]
		b := kOne{Table: r.Table, Type: r.Type, Protocol: r.Protocol, Priority: r.Priority}
		if len(r.NHs) == 1 {
			b.NH, b.HasNH = r.NHs[0], true
		}
		t.one[p] = unique.Make(b)
	default:
		t.many[p] = rs
	}
}

func (t *kTable) len() int { return len(t.one) + len(t.many) }

// prefixes yields every prefix with a route.
func (t *kTable) prefixes() iter.Seq[netip.Prefix] {
	return func(yield func(netip.Prefix) bool) {
		for p := range t.one {
			if !yield(p) {
				return
			}
		}
		for p := range t.many {
			if !yield(p) {
				return
			}
		}
	}
}

// r2One is the body of a single-path R2 route.
type r2One struct {
	NextHop netip.Addr
	Ifname  string
	Kind    string
}

// r2Table is what the follower knows R2 has.
type r2Table struct {
	one  map[netip.Prefix]unique.Handle[r2One]
	many map[netip.Prefix]ctl.Route // multipath
}

func newR2Table() r2Table {
	return r2Table{one: map[netip.Prefix]unique.Handle[r2One]{}, many: map[netip.Prefix]ctl.Route{}}
}

func (t *r2Table) get(p netip.Prefix) (ctl.Route, bool) {
	if h, ok := t.one[p]; ok {
		b := h.Value()
		return ctl.Route{Prefix: p, NextHop: b.NextHop, Ifname: b.Ifname, Kind: b.Kind}, true
	}
	r, ok := t.many[p]
	return r, ok
}

func (t *r2Table) set(r ctl.Route) {
	if len(r.Paths) == 0 {
		delete(t.many, r.Prefix)
		t.one[r.Prefix] = unique.Make(r2One{NextHop: r.NextHop, Ifname: r.Ifname, Kind: r.Kind})
		return
	}
	delete(t.one, r.Prefix)
	t.many[r.Prefix] = r
}

func (t *r2Table) del(p netip.Prefix) {
	delete(t.one, p)
	delete(t.many, p)
}

func (t *r2Table) len() int { return len(t.one) + len(t.many) }

// all yields every route. The caller may delete routes meanwhile (as
// while ranging over a map).
func (t *r2Table) all() iter.Seq2[netip.Prefix, ctl.Route] {
	return func(yield func(netip.Prefix, ctl.Route) bool) {
		for p, h := range t.one {
			b := h.Value()
			if !yield(p, ctl.Route{Prefix: p, NextHop: b.NextHop, Ifname: b.Ifname, Kind: b.Kind}) {
				return
			}
		}
		for p, r := range t.many {
			if !yield(p, r) {
				return
			}
		}
	}
}
