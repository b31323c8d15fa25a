package fwd

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func gw(ifindex int32, nh string) Adjacency {
	return Adjacency{Kind: AdjGateway, Ifindex: ifindex, NextHop: ip(nh)}
}

func conn(ifindex int32) Adjacency { return Adjacency{Kind: AdjConnected, Ifindex: ifindex} }

func newTestRIB(t *testing.T) (*IPv4RIB, *countingPublish) {
	c := &countingPublish{t: t}
	r := NewIPv4RIB(c.publish)
	c.active = r.Active()
	return r, c
}

func TestIPv4RIBValidation(t *testing.T) {
	tests := []struct {
		name    string
		call    func(r *IPv4RIB) error
		wantErr string
		noRoute bool // the error must wrap ErrNoRoute
	}{
		{"host bits", func(r *IPv4RIB) error { return r.Add(Route{pfx("10.1.2.3/24"), conn(1)}) },
			"fwd: prefix 10.1.2.3/24 has host bits set", false},
		{"ipv6", func(r *IPv4RIB) error { return r.Add(Route{pfx("2001:db8::/32"), conn(1)}) },
			"fwd: prefix 2001:db8::/32 is not IPv4", false},
		{"4in6", func(r *IPv4RIB) error { return r.Add(Route{pfx("::ffff:10.0.0.0/104"), conn(1)}) },
			"is not IPv4", false},
		{"invalid prefix", func(r *IPv4RIB) error { return r.Add(Route{netip.Prefix{}, conn(1)}) },
			"fwd: invalid prefix", false},
		{"bad adjacency", func(r *IPv4RIB) error {
			return r.Add(Route{pfx("10.0.0.0/8"), Adjacency{Kind: AdjGateway, Ifindex: 1}})
		},
			"fwd: route 10.0.0.0/8: gateway adjacency needs a next hop", false},
		{"del missing", func(r *IPv4RIB) error { return r.Del(pfx("10.9.0.0/16")) },
			"fwd: route 10.9.0.0/16: no such route", true},
		{"del other length", func(r *IPv4RIB) error { return r.Del(pfx("10.1.0.0/17")) }, "no such route", true},
		{"del host bits", func(r *IPv4RIB) error { return r.Del(pfx("10.1.0.1/16")) }, "has host bits set", false},
		{"add batch bad entry", func(r *IPv4RIB) error {
			return r.AddBatch([]Route{{pfx("10.2.0.0/16"), conn(1)}, {pfx("10.3.0.0/15"), conn(1)}})
		}, "fwd: batch entry 1: prefix 10.3.0.0/15 has host bits set", false},
		{"del batch missing", func(r *IPv4RIB) error {
			return r.DelBatch([]netip.Prefix{pfx("10.1.0.0/16"), pfx("10.4.0.0/16")})
		}, "fwd: batch entry 1: route 10.4.0.0/16: no such route", true},
		{"del batch duplicate", func(r *IPv4RIB) error {
			return r.DelBatch([]netip.Prefix{pfx("10.1.0.0/16"), pfx("10.1.0.0/16")})
		}, "listed twice", true},
		{"del batch invalid", func(r *IPv4RIB) error { return r.DelBatch([]netip.Prefix{pfx("::/0")}) }, "batch entry 0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, c := newTestRIB(t)
			if err := r.Add(Route{pfx("10.1.0.0/16"), conn(1)}); err != nil {
				t.Fatal(err)
			}
			before, calls := r.Routes(0, 10), c.calls
			err := tt.call(r)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
			if got := errors.Is(err, ErrNoRoute); got != tt.noRoute {
				t.Errorf("errors.Is(err, ErrNoRoute) = %v, want %v", got, tt.noRoute)
			}
			if c.calls != calls {
				t.Errorf("a rejected change published %d times", c.calls-calls)
			}
			if diff := cmp.Diff(before, r.Routes(0, 10), prefixCmp); diff != "" {
				t.Errorf("a rejected change changed the routes (-before +after):\n%s", diff)
			}
			if got := r.Active().Lookup(ip("10.1.2.3")); *r.Active().Adj(got) != conn(1) {
				t.Errorf("a rejected change changed lookups: %v", *r.Active().Adj(got))
			}
		})
	}
}

// TestIPv4RIBRandom checks the RIB and both table copies against the
// brute-force reference through thousands of random adds, replaces,
// deletes and batches of overlapping prefixes of every length.
func TestIPv4RIBRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	nops, fullEvery := 2500, 500
	if testing.Short() || raceEnabled {
		nops, fullEvery = 600, 300
	}
	pool := randomPrefixes(rng, 400)
	adjs := []Adjacency{{}, conn(1), conn(2), gw(1, "10.9.0.1"), gw(2, "10.9.0.1"), gw(2, "10.9.0.2"), {Kind: AdjLocal, Ifindex: 3}}
	var edgeAddrs []uint32
	for _, p := range pool {
		edgeAddrs = append(edgeAddrs, edges(p)...)
	}

	r, c := newTestRIB(t)
	ref := refRIB{}
	randRoute := func() Route { return Route{pool[rng.IntN(len(pool))], adjs[rng.IntN(len(adjs))]} }
	randExisting := func() netip.Prefix {
		rts := ref.routes()
		return rts[rng.IntN(len(rts))].Prefix
	}
	for i := range nops {
		calls := c.calls
		switch k := rng.IntN(10); {
		case k < 5 || len(ref) < 10:
			rt := randRoute()
			if err := r.Add(rt); err != nil {
				t.Fatal(err)
			}
			ref.add(rt.Prefix, rt.Adj)
		case k < 8:
			p := randExisting()
			if err := r.Del(p); err != nil {
				t.Fatal(err)
			}
			ref.del(p)
		case k < 9:
			batch := make([]Route, 1+rng.IntN(8))
			for j := range batch {
				batch[j] = randRoute()
				ref.add(batch[j].Prefix, batch[j].Adj)
			}
			if err := r.AddBatch(batch); err != nil {
				t.Fatal(err)
			}
		default:
			seen := map[netip.Prefix]bool{}
			var batch []netip.Prefix
			for range 1 + rng.IntN(8) {
				if p := randExisting(); !seen[p] {
					seen[p] = true
					batch = append(batch, p)
					ref.del(p)
				}
			}
			if err := r.DelBatch(batch); err != nil {
				t.Fatal(err)
			}
		}
		if c.calls != calls+1 {
			t.Fatalf("op %d: %d publishes, want 1", i, c.calls-calls)
		}
		if r.Active() != c.active {
			t.Fatalf("op %d: Active() is not the published table", i)
		}
		if r.Len() != len(ref) {
			t.Fatalf("op %d: Len() = %d, want %d", i, r.Len(), len(ref))
		}
		// Spot checks on both copies after every change, full ones now
		// and then (the full table comparison reads 2 x 64 MiB).
		sample := make([]uint32, 0, 64)
		for range 48 {
			sample = append(sample, edgeAddrs[rng.IntN(len(edgeAddrs))])
		}
		for range 16 {
			sample = append(sample, rng.Uint32())
		}
		checkLookups(t, "active copy", r.tables[r.active], ref, sample)
		checkLookups(t, "inactive copy", r.tables[1-r.active], ref, sample)
		if i%fullEvery == fullEvery-1 {
			checkLookups(t, "active copy", r.Active(), ref, edgeAddrs)
			checkSameTables(t, r.tables[0], r.tables[1])
			checkTable(t, r.Active())
			if diff := cmp.Diff(ref.routes(), r.Routes(0, len(ref)), prefixCmp); diff != "" {
				t.Fatalf("op %d: Routes differ from the reference (-want +got):\n%s", i, diff)
			}
		}
	}

	// Deleting everything must leave no tbl8 group and no adjacency behind.
	var all []netip.Prefix
	for _, rt := range r.Routes(0, r.Len()) {
		all = append(all, rt.Prefix)
	}
	if err := r.DelBatch(all); err != nil {
		t.Fatal(err)
	}
	for i, tbl := range r.tables {
		if tbl.numTbl8() != 0 {
			t.Errorf("copy %d: %d tbl8 groups left after deleting every route", i, tbl.numTbl8())
		}
		for a, adj := range tbl.adj {
			if adj != (Adjacency{}) {
				t.Errorf("copy %d: adjacency %d = %v left after deleting every route", i, a, adj)
			}
		}
	}
	if r.Len() != 0 || len(r.adjIdx) != 0 {
		t.Errorf("after deleting every route: Len() = %d, %d interned adjacencies", r.Len(), len(r.adjIdx))
	}
	checkSameTables(t, r.tables[0], r.tables[1])
	checkTable(t, r.Active())
}

func TestIPv4RIBPublishProtocol(t *testing.T) {
	var order []string
	var r *IPv4RIB
	var published []*IPv4Table
	r = NewIPv4RIB(func(tbl *IPv4Table) {
		// At publish time the new copy has the change and the old one,
		// still read by threads, does not.
		other := r.tables[0]
		if other == tbl {
			other = r.tables[1]
		}
		order = append(order, "publish")
		if tbl.Lookup(ip("10.1.0.1")) == other.Lookup(ip("10.1.0.1")) {
			t.Error("publish: the published copy and the old one answer alike")
		}
		if other != r.Active() {
			t.Error("publish: Active() changed before publish returned")
		}
		published = append(published, tbl)
	})
	first := r.Active()
	if err := r.Add(Route{pfx("10.1.0.0/16"), conn(1)}); err != nil {
		t.Fatal(err)
	}
	if err := r.Del(pfx("10.1.0.0/16")); err != nil {
		t.Fatal(err)
	}
	if len(order) != 2 {
		t.Fatalf("publish called %d times for 2 changes", len(order))
	}
	// The copies alternate: the first change goes to the copy not active.
	if published[0] == first || published[1] != first || r.Active() != first {
		t.Fatal("copies do not alternate")
	}
	// Empty changes publish nothing.
	if err := r.AddBatch(nil); err != nil {
		t.Fatal(err)
	}
	if err := r.DelBatch(nil); err != nil {
		t.Fatal(err)
	}
	if got, shrunk := r.DelByIfindex(1); got != nil || shrunk != nil {
		t.Fatalf("DelByIfindex on an empty RIB = %v, %v", got, shrunk)
	}
	if len(order) != 2 {
		t.Fatalf("empty changes published (%d calls)", len(order))
	}
}

func TestIPv4RIBBatch(t *testing.T) {
	r, c := newTestRIB(t)
	batch := []Route{
		{pfx("10.0.0.0/8"), gw(1, "10.9.0.1")},
		{pfx("10.1.0.0/16"), conn(2)},
		{pfx("10.1.2.128/25"), gw(2, "10.1.0.1")},
		{pfx("10.0.0.0/8"), gw(3, "10.9.0.3")}, // listed twice: the later one wins
	}
	if err := r.AddBatch(batch); err != nil {
		t.Fatal(err)
	}
	if c.calls != 1 || r.Len() != 3 {
		t.Fatalf("AddBatch: %d publishes, %d routes; want 1, 3", c.calls, r.Len())
	}
	checkSameTables(t, r.tables[0], r.tables[1])
	if got, _ := r.Get(pfx("10.0.0.0/8")); got.Adj != gw(3, "10.9.0.3") {
		t.Fatalf("duplicate in batch: got %v, want the later adjacency", got)
	}
	// gw(1, ...) was replaced within the batch, so it must be freed.
	if _, ok := r.adjIdx[gw(1, "10.9.0.1")]; ok {
		t.Error("replaced adjacency still interned")
	}

	if err := r.DelBatch([]netip.Prefix{pfx("10.1.0.0/16"), pfx("10.0.0.0/8")}); err != nil {
		t.Fatal(err)
	}
	if c.calls != 2 || r.Len() != 1 {
		t.Fatalf("DelBatch: %d publishes, %d routes; want 2, 1", c.calls, r.Len())
	}
	checkSameTables(t, r.tables[0], r.tables[1])
	tbl := r.Active()
	for a, want := range map[string]Adjacency{"10.1.2.200": gw(2, "10.1.0.1"), "10.1.2.1": {}, "10.7.0.0": {}} {
		if got := *tbl.Adj(tbl.Lookup(ip(a))); got != want {
			t.Errorf("after DelBatch: lookup %s = %v, want %v", a, got, want)
		}
	}

	// A rejected batch leaves routes, tables and publishes as they were.
	snap := *r.Active().tbl24
	err := r.AddBatch([]Route{{pfx("10.5.0.0/16"), conn(1)}, {pfx("10.6.0.0/16"), Adjacency{Kind: 9}}})
	if err == nil || r.Len() != 1 || c.calls != 2 || snap != *r.Active().tbl24 {
		t.Fatalf("rejected AddBatch: err %v, %d routes, %d publishes, table changed %v", err, r.Len(), c.calls, snap != *r.Active().tbl24)
	}
	checkSameTables(t, r.tables[0], r.tables[1])
}

func TestIPv4RIBAdjInterning(t *testing.T) {
	r, _ := newTestRIB(t)
	a, b := gw(1, "10.9.0.1"), gw(2, "10.9.0.2")
	mustAdd(t, r, Route{pfx("10.1.0.0/16"), a}, Route{pfx("10.2.0.0/16"), a}, Route{pfx("10.3.0.0/16"), b})
	ia, ib := r.Active().Lookup(ip("10.1.0.1")), r.Active().Lookup(ip("10.3.0.1"))
	if ia == 0 || ia == ib || r.Active().Lookup(ip("10.2.0.1")) != ia {
		t.Fatalf("interning: indices %d, %d, %d", ia, r.Active().Lookup(ip("10.2.0.1")), ib)
	}
	for i, tbl := range r.tables {
		if *tbl.Adj(ia) != a || *tbl.Adj(ib) != b {
			t.Fatalf("copy %d holds different adjacencies at %d, %d", i, ia, ib)
		}
	}
	// One of two users gone: the index stays.
	mustDel(t, r, "10.1.0.0/16")
	if got := r.Active().Lookup(ip("10.2.0.1")); got != ia || *r.Active().Adj(ia) != a {
		t.Fatalf("after deleting one user: index %d -> %v", got, *r.Active().Adj(got))
	}
	// Last user gone: the index is freed and the next new adjacency reuses it.
	mustDel(t, r, "10.2.0.0/16")
	c := conn(7)
	mustAdd(t, r, Route{pfx("10.4.0.0/16"), c})
	if got := r.Active().Lookup(ip("10.4.0.1")); got != ia {
		t.Fatalf("new adjacency got index %d, want freed index %d", got, ia)
	}
	for i, tbl := range r.tables {
		if *tbl.Adj(ia) != c {
			t.Fatalf("copy %d: reused index %d holds %v, want %v", i, ia, *tbl.Adj(ia), c)
		}
	}
	// Drops share index 0, whatever their other fields.
	mustAdd(t, r, Route{pfx("10.5.0.0/16"), Adjacency{Kind: AdjDrop, Ifindex: 4, NextHop: 1}})
	if got := r.Active().Lookup(ip("10.5.0.1")); got != 0 {
		t.Fatalf("drop route got adjacency index %d, want 0", got)
	}
	if rt, _ := r.Get(pfx("10.5.0.0/16")); rt.Adj != (Adjacency{}) {
		t.Fatalf("drop route stored as %v, want the zero adjacency", rt.Adj)
	}
	// Replacing a route with the same adjacency keeps the index.
	mustAdd(t, r, Route{pfx("10.3.0.0/16"), b})
	if got := r.Active().Lookup(ip("10.3.0.1")); got != ib || r.adjRef[ib] != 1 {
		t.Fatalf("re-adding the same route: index %d (refs %d), want %d (1 ref)", got, r.adjRef[ib], ib)
	}
	checkSameTables(t, r.tables[0], r.tables[1])
}

func TestIPv4RIBGetLookupRoute(t *testing.T) {
	r, _ := newTestRIB(t)
	routes := []Route{
		{pfx("0.0.0.0/0"), gw(1, "10.9.0.1")},
		{pfx("10.1.0.0/16"), conn(2)},
		{pfx("10.1.2.128/25"), gw(2, "10.1.0.1")},
		{pfx("10.1.2.130/32"), Adjacency{Kind: AdjLocal, Ifindex: 2}},
	}
	mustAdd(t, r, routes...)
	for _, rt := range routes {
		if got, ok := r.Get(rt.Prefix); !ok || got != rt {
			t.Errorf("Get(%s) = %v, %v; want %v", rt.Prefix, got, ok, rt)
		}
	}
	for _, p := range []string{"10.1.0.0/17", "10.0.0.0/8", "10.1.2.130/31"} {
		if got, ok := r.Get(pfx(p)); ok {
			t.Errorf("Get(%s) = %v, want none", p, got)
		}
	}
	if _, ok := r.Get(pfx("10.1.0.1/16")); ok {
		t.Error("Get of a prefix with host bits found a route")
	}
	tests := []struct {
		addr string
		want int // index in routes, -1 for none
	}{
		{"10.1.2.130", 3}, {"10.1.2.131", 2}, {"10.1.2.127", 1}, {"10.1.255.255", 1},
		{"10.2.0.0", 0}, {"255.255.255.255", 0}, {"::ffff:10.1.2.130", 3}, {"2001:db8::1", -1},
	}
	for _, tt := range tests {
		got, ok := r.LookupRoute(netip.MustParseAddr(tt.addr))
		switch {
		case tt.want < 0 && ok:
			t.Errorf("LookupRoute(%s) = %v, want none", tt.addr, got)
		case tt.want >= 0 && (!ok || got != routes[tt.want]):
			t.Errorf("LookupRoute(%s) = %v, %v; want %v", tt.addr, got, ok, routes[tt.want])
		}
	}
	mustDel(t, r, "0.0.0.0/0")
	if got, ok := r.LookupRoute(netip.MustParseAddr("11.0.0.1")); ok {
		t.Errorf("LookupRoute without default = %v, want none", got)
	}
	if mb := r.MemBytes(); mb < 128<<20 || mb > 130<<20 {
		t.Errorf("MemBytes() = %d, want about 128 MiB for two copies", mb)
	}
}

func TestIPv4RIBDelByIfindex(t *testing.T) {
	r, c := newTestRIB(t)
	mustAdd(t, r,
		Route{pfx("10.1.0.0/16"), conn(1)},
		Route{pfx("10.1.5.0/24"), gw(2, "10.2.0.1")},
		Route{pfx("10.0.0.0/8"), gw(2, "10.2.0.1")},
		Route{pfx("10.1.0.2/32"), Adjacency{Kind: AdjLocal, Ifindex: 1}},
		Route{pfx("10.9.0.0/16"), gw(1, "10.1.0.1")},
		Route{pfx("10.1.7.0/24"), Adjacency{Kind: AdjDrop, Ifindex: 1}},
		Route{pfx("192.168.0.0/16"), gw(3, "10.3.0.1")},
	)
	calls := c.calls
	got, shrunk := r.DelByIfindex(1)
	if shrunk != nil {
		t.Errorf("DelByIfindex(1) shrank %v (no multipath routes)", shrunk)
	}
	want := []Route{ // in listing order
		{pfx("10.1.0.0/16"), conn(1)},
		{pfx("10.1.0.2/32"), Adjacency{Kind: AdjLocal, Ifindex: 1}},
		{pfx("10.9.0.0/16"), gw(1, "10.1.0.1")},
	}
	if diff := cmp.Diff(want, got, prefixCmp); diff != "" {
		t.Fatalf("DelByIfindex(1) (-want +got):\n%s", diff)
	}
	if c.calls != calls+1 || r.Len() != 4 {
		t.Fatalf("DelByIfindex: %d publishes, %d routes left; want 1, 4", c.calls-calls, r.Len())
	}
	checkSameTables(t, r.tables[0], r.tables[1])
	tbl := r.Active()
	for a, want := range map[string]Adjacency{
		"10.1.0.2": gw(2, "10.2.0.1"), // falls back to 10.0.0.0/8
		"10.1.5.1": gw(2, "10.2.0.1"),
		"10.1.7.1": {},
		"10.9.0.1": gw(2, "10.2.0.1"),
	} {
		if got := *tbl.Adj(tbl.Lookup(ip(a))); got != want {
			t.Errorf("after DelByIfindex: lookup %s = %v, want %v", a, got, want)
		}
	}
	if got, _ := r.DelByIfindex(1); got != nil || c.calls != calls+1 {
		t.Errorf("second DelByIfindex(1) = %v and published", got)
	}
	if got, _ := r.DelByIfindex(2); len(got) != 2 || r.Len() != 2 {
		t.Errorf("DelByIfindex(2) = %v, %d routes left", got, r.Len())
	}
}

func TestIPv4RIBRoutesPaging(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	r, _ := newTestRIB(t)
	ref := refRIB{}
	var batch []Route
	for _, p := range randomPrefixes(rng, 300) {
		if p.Bits() < 8 {
			continue // keep this test cheap
		}
		batch = append(batch, Route{p, conn(int32(rng.IntN(4)))})
		ref.add(p, batch[len(batch)-1].Adj)
	}
	mustAdd(t, r, batch...)
	want := ref.routes()
	for i := 1; i < len(want); i++ {
		a, b := want[i-1].Prefix, want[i].Prefix
		if a.Addr().Compare(b.Addr()) > 0 || (a.Addr() == b.Addr() && a.Bits() >= b.Bits()) {
			t.Fatalf("reference order wrong: %s before %s", a, b)
		}
	}

	tests := []struct {
		name          string
		offset, limit int
		want          []Route
	}{
		{"all", 0, len(want), want},
		{"limit past end", 0, len(want) + 100, want},
		{"huge limit", 10, int(^uint(0) >> 1), want[10:]},
		{"middle", 17, 5, want[17:22]},
		{"last", len(want) - 1, 5, want[len(want)-1:]},
		{"offset at end", len(want), 5, nil},
		{"negative offset", -1, 5, nil},
		{"zero limit", 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, r.Routes(tt.offset, tt.limit), prefixCmp); diff != "" {
				t.Fatalf("Routes(%d, %d) (-want +got):\n%s", tt.offset, tt.limit, diff)
			}
		})
	}

	// Page by 7 with both APIs; the order is stable between calls.
	var byOffset, byCursor []Route
	for off := 0; ; off += 7 {
		page := r.Routes(off, 7)
		if len(page) == 0 {
			break
		}
		byOffset = append(byOffset, page...)
	}
	var cursor netip.Prefix
	for {
		page := r.RoutesAfter(cursor, 7)
		if len(page) == 0 {
			break
		}
		byCursor = append(byCursor, page...)
		cursor = page[len(page)-1].Prefix
	}
	if diff := cmp.Diff(want, byOffset, prefixCmp); diff != "" {
		t.Fatalf("paging by offset (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, byCursor, prefixCmp); diff != "" {
		t.Fatalf("paging by cursor (-want +got):\n%s", diff)
	}

	// Replacing an adjacency keeps the sorted order (no rebuild) but
	// shows the new adjacency.
	mustAdd(t, r, Route{want[3].Prefix, conn(9)})
	if !r.sortedValid {
		t.Error("replacing a route invalidated the sorted order")
	}
	if got := r.Routes(3, 1); len(got) != 1 || got[0].Adj != conn(9) {
		t.Errorf("Routes after replace = %v, want adjacency %v", got, conn(9))
	}

	// Cursor paging across changes: routes added behind the cursor are not
	// repeated, routes added ahead are seen, deleted ones are skipped.
	cursor = want[9].Prefix
	mustAdd(t, r, Route{pfx("1.0.0.0/8"), conn(1)}, Route{pfx("223.0.0.0/8"), conn(1)})
	mustDel(t, r, want[10].Prefix.String())
	rest := r.RoutesAfter(cursor, len(want)+10)
	if len(rest) == 0 || rest[0].Prefix != want[11].Prefix || rest[len(rest)-1].Prefix != pfx("223.0.0.0/8") {
		t.Errorf("RoutesAfter across changes starts at %v and ends at %v", rest[0].Prefix, rest[len(rest)-1].Prefix)
	}
	// A cursor that is not a route, with host bits, or IPv6.
	if got := r.RoutesAfter(pfx("0.0.0.0/32"), 1); len(got) != 1 || got[0].Prefix != pfx("1.0.0.0/8") {
		t.Errorf("RoutesAfter(0.0.0.0/32) = %v", got)
	}
	if got := r.RoutesAfter(pfx("1.2.3.4/8"), 1); len(got) != 1 || got[0].Prefix == pfx("1.0.0.0/8") {
		t.Errorf("RoutesAfter(1.2.3.4/8) = %v, want the route after 1.0.0.0/8", got)
	}
	if got := r.RoutesAfter(pfx("::/0"), 5); got != nil {
		t.Errorf("RoutesAfter(IPv6) = %v, want nil", got)
	}
	if got := r.RoutesAfter(netip.Prefix{}, 0); got != nil {
		t.Errorf("RoutesAfter(limit 0) = %v, want nil", got)
	}
}

func mustAdd(t *testing.T, r *IPv4RIB, routes ...Route) {
	t.Helper()
	if err := r.AddBatch(routes); err != nil {
		t.Fatal(err)
	}
}

func mustDel(t *testing.T, r *IPv4RIB, prefixes ...string) {
	t.Helper()
	for _, p := range prefixes {
		if err := r.Del(pfx(p)); err != nil {
			t.Fatal(err)
		}
	}
}
