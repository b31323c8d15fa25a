package fwd

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
)

func mustGroup(t testing.TB, weights []int, members ...Adjacency) *Group {
	t.Helper()
	g, err := NewGroup(members, weights)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func mustGroup6(t testing.TB, weights []int, members ...Adjacency6) *Group6 {
	t.Helper()
	g, err := NewGroup6(members, weights)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestGroupInterning: equal groups made separately become one in the RIB
// (one group, one adjacency index); the group lives while a route uses it.
func TestGroupInterning(t *testing.T) {
	r, _ := newTestRIB(t)
	a, b := gw(1, "10.1.0.1"), gw(2, "10.2.0.1")
	g1, g2 := mustGroup(t, []int{1, 2}, a, b), mustGroup(t, []int{1, 2}, a, b)
	other := mustGroup(t, nil, a, b) // other weights: another group
	mustAdd(t, r, Route{pfx("20.0.0.0/8"), Multipath(g1)}, Route{pfx("30.0.0.0/8"), Multipath(g2)})
	r1, _ := r.Get(pfx("20.0.0.0/8"))
	r2, _ := r.Get(pfx("30.0.0.0/8"))
	if r1.Adj.Group != g1 || r2.Adj.Group != g1 {
		t.Errorf("equal groups not shared: %p %p, want %p", r1.Adj.Group, r2.Adj.Group, g1)
	}
	if s := r.GroupStats(); s.Live != 1 || len(r.adjIdx) != 1 {
		t.Errorf("%+v, %d adjacencies; want 1 group, 1 adjacency", s, len(r.adjIdx))
	}
	if r.Group([]Adjacency{a, b}, []int{1, 2}) != g1 || r.Group([]Adjacency{a, b}, nil) != nil || r.Group([]Adjacency{b, a}, []int{2, 1}) != nil {
		t.Error("Group finds the wrong groups")
	}
	mustAdd(t, r, Route{pfx("40.0.0.0/8"), Multipath(other)})
	if r.Group([]Adjacency{a, b}, nil) != other || r.GroupStats().Live != 2 {
		t.Errorf("second group: %+v", r.GroupStats())
	}
	mustDel(t, r, "20.0.0.0/8")
	if r.GroupStats().Live != 2 {
		t.Error("group freed while a route still uses it")
	}
	mustAdd(t, r, Route{pfx("30.0.0.0/8"), a}) // replaced by a single path
	mustDel(t, r, "40.0.0.0/8")
	if s := r.GroupStats(); s != (GroupStats{Live: 0, Made: 2, Freed: 2}) || r.Group([]Adjacency{a, b}, []int{1, 2}) != nil {
		t.Errorf("after the last routes went: %+v", s)
	}
}

// groupRoute4 is a random multipath route: 2 to 4 of 8 next hops on 4
// interfaces, weights 1..3, so that many distinct groups come and go.
func groupRoute4(rng *rand.Rand, p netip.Prefix, t testing.TB) Route {
	n := 2 + rng.IntN(3)
	perm := rng.Perm(8)[:n]
	ms := make([]Adjacency, n)
	ws := make([]int, n)
	for i, k := range perm {
		ms[i] = gw(int32(k/2), fmt.Sprintf("10.%d.0.%d", k/2, 1+k%2))
		ws[i] = 1 + rng.IntN(3)
	}
	return Route{p, Multipath(mustGroup(t, ws, ms...))}
}

// checkGroups4 checks the RIB's groups against its routes: as many live
// groups as distinct member sets and weights, one object each.
func checkGroups4(t *testing.T, r *IPv4RIB) {
	t.Helper()
	byKey := map[groupKey[Adjacency]]*Group{}
	for _, rt := range r.Routes(0, r.Len()) {
		g := rt.Adj.Group
		if g == nil {
			continue
		}
		k, _ := makeGroupKey(g.Members, g.Weights)
		if o, ok := byKey[k]; ok && o != g {
			t.Fatalf("route %s: an equal group is another object", rt.Prefix)
		}
		byKey[k] = g
	}
	if s := r.GroupStats(); s.Live != len(byKey) || s.Made-s.Freed != uint64(s.Live) {
		t.Fatalf("%+v; routes use %d groups", s, len(byKey))
	}
}

// TestGroupChurn adds, replaces and deletes 100,000 multipath routes with
// varying sets of paths, in batches and one by one, and checks after each
// step that the live groups are exactly those the routes use; once every
// route is gone no group and no adjacency is left.
func TestGroupChurn(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	rng := rand.New(rand.NewPCG(5, 6))
	r, _ := newTestRIB(t)
	prefixes := make([]netip.Prefix, n)
	for i := range prefixes {
		prefixes[i] = netip.PrefixFrom(U32ToIPv4(0x14000000+uint32(i)<<8), 24)
	}
	const batch = 10_000
	for i := 0; i < n; i += batch {
		var rs []Route
		for _, p := range prefixes[i:min(n, i+batch)] {
			rs = append(rs, groupRoute4(rng, p, t))
		}
		if err := r.AddBatch(rs); err != nil {
			t.Fatal(err)
		}
	}
	checkGroups4(t, r)
	peak := r.GroupStats().Live
	// Churn: replace a third with new sets, a tenth with single paths,
	// delete and re-add some one by one.
	var rs []Route
	for i := 0; i < n; i += 3 {
		rs = append(rs, groupRoute4(rng, prefixes[i], t))
	}
	for i := 1; i < n; i += 10 {
		rs = append(rs, Route{prefixes[i], gw(0, "10.0.0.1")})
	}
	if err := r.AddBatch(rs); err != nil {
		t.Fatal(err)
	}
	checkGroups4(t, r)
	for i := 2; i < n; i += n / 100 {
		mustDel(t, r, prefixes[i].String())
		mustAdd(t, r, groupRoute4(rng, prefixes[i], t))
	}
	checkGroups4(t, r)
	checkSameTables(t, r.tables[0], r.tables[1])
	if err := r.DelBatch(prefixes); err != nil {
		t.Fatal(err)
	}
	s := r.GroupStats()
	t.Logf("%d routes, %d groups at the start, %d made and freed in all", n, peak, s.Made)
	if s.Live != 0 || s.Made != s.Freed || s.Made < uint64(peak) || len(r.adjIdx) != 0 || len(r.groups.m) != 0 {
		t.Fatalf("after deleting every route: %+v, %d adjacencies", s, len(r.adjIdx))
	}
	for i, a := range r.Active().adj {
		if a.Group != nil {
			t.Fatalf("table adjacency %d still holds a group", i)
		}
	}
}

// TestGroupChurn6 is TestGroupChurn for IPv6, smaller.
func TestGroupChurn6(t *testing.T) {
	const n = 20_000
	rng := rand.New(rand.NewPCG(7, 8))
	r, _ := newTestRIB6(t)
	mk := func(p netip.Prefix) Route6 {
		k := 2 + rng.IntN(3)
		ms := make([]Adjacency6, k)
		ws := make([]int, k)
		for i, j := range rng.Perm(8)[:k] {
			ms[i] = gw6(int32(j/2), fmt.Sprintf("fe80::%d", 1+j))
			ws[i] = 1 + rng.IntN(3)
		}
		return Route6{p, Multipath6(mustGroup6(t, ws, ms...))}
	}
	var prefixes []netip.Prefix
	var rs []Route6
	for i := range n {
		p := netip.PrefixFrom(HiLoToIPv6(0x20010db800000000|uint64(i)<<16, 0), 48)
		prefixes = append(prefixes, p)
		rs = append(rs, mk(p))
	}
	if err := r.AddBatch(rs); err != nil {
		t.Fatal(err)
	}
	live := func() int {
		keys := map[groupKey[Adjacency6]]*Group6{}
		for _, rt := range r.Routes(0, r.Len()) {
			k, _ := makeGroupKey(rt.Adj.Group.Members, rt.Adj.Group.Weights)
			if o, ok := keys[k]; ok && o != rt.Adj.Group {
				t.Fatalf("route %s: an equal group is another object", rt.Prefix)
			}
			keys[k] = rt.Adj.Group
		}
		return len(keys)
	}
	if got, want := r.GroupStats().Live, live(); got != want {
		t.Fatalf("%d live groups, routes use %d", got, want)
	}
	rs = rs[:0]
	for i := 0; i < n; i += 2 {
		rs = append(rs, mk(prefixes[i]))
	}
	if err := r.AddBatch(rs); err != nil {
		t.Fatal(err)
	}
	if got, want := r.GroupStats().Live, live(); got != want {
		t.Fatalf("after replacing: %d live groups, routes use %d", got, want)
	}
	if err := r.DelBatch(prefixes); err != nil {
		t.Fatal(err)
	}
	if s := r.GroupStats(); s.Live != 0 || s.Made != s.Freed || len(r.adjIdx) != 0 {
		t.Fatalf("after deleting every route: %+v, %d adjacencies", s, len(r.adjIdx))
	}
}

// TestDelByIfindexMultipath: deleting an interface takes only its paths out
// of multipath routes; routes sharing a group share the smaller one.
func TestDelByIfindexMultipath(t *testing.T) {
	r, c := newTestRIB(t)
	a, b, b2, d := gw(1, "10.1.0.1"), gw(2, "10.2.0.1"), gw(2, "10.2.0.2"), gw(3, "10.3.0.1")
	three := Multipath(mustGroup(t, []int{1, 2, 3}, a, b, d))
	mustAdd(t, r,
		Route{pfx("20.0.0.0/8"), three},
		Route{pfx("21.0.0.0/8"), three},
		Route{pfx("22.0.0.0/8"), Multipath(mustGroup(t, nil, a, b))},
		Route{pfx("23.0.0.0/8"), Multipath(mustGroup(t, nil, b, b2))},
		Route{pfx("24.0.0.0/8"), b},
		Route{pfx("25.0.0.0/8"), Multipath(mustGroup(t, []int{3, 1}, d, a))},
	)
	calls := c.calls
	deleted, shrunk := r.DelByIfindex(2)
	if c.calls != calls+1 {
		t.Errorf("%d publishes, want 1", c.calls-calls)
	}
	if len(deleted) != 2 || deleted[0].Prefix != pfx("23.0.0.0/8") || deleted[1].Prefix != pfx("24.0.0.0/8") {
		t.Errorf("deleted %v, want 23/8 and 24/8", deleted)
	}
	if len(shrunk) != 3 {
		t.Fatalf("shrunk %v, want 20/8, 21/8, 22/8", shrunk)
	}
	r20, _ := r.Get(pfx("20.0.0.0/8"))
	r21, _ := r.Get(pfx("21.0.0.0/8"))
	r22, _ := r.Get(pfx("22.0.0.0/8"))
	g := r20.Adj.Group
	if g == nil || g.Len() != 2 || g.Members[0] != a || g.Members[1] != d || g.Weights[0] != 1 || g.Weights[1] != 3 || r21.Adj.Group != g {
		t.Errorf("20/8 and 21/8: %v and %v, want one group of %v (1), %v (3)", r20.Adj, r21.Adj, a, d)
	}
	if r22.Adj != a || shrunk[2].Adj != a {
		t.Errorf("22/8: %v, want the single path %v", r22.Adj, a)
	}
	if _, ok := r.Get(pfx("25.0.0.0/8")); !ok || r.Len() != 4 {
		t.Errorf("%d routes left, want 4 with 25/8", r.Len())
	}
	// Left: the group of 20/8 and 21/8 and the one of 25/8.
	if s := r.GroupStats(); s.Live != 2 {
		t.Errorf("%+v, want 2 live groups", s)
	}
	checkSameTables(t, r.tables[0], r.tables[1])
	tbl := r.Active()
	if got := tbl.Adj(tbl.Lookup(ip("20.1.2.3"))); got.Group != g {
		t.Errorf("table: 20.1.2.3 -> %v", got)
	}
	if got := tbl.Adj(tbl.Lookup(ip("23.1.2.3"))); *got != (Adjacency{}) {
		t.Errorf("table: 23.1.2.3 -> %v, want no route", got)
	}
	deleted, shrunk = r.DelByIfindex(1)
	if len(deleted) != 1 || len(shrunk) != 3 {
		t.Errorf("DelByIfindex(1): deleted %v, shrunk %v", deleted, shrunk)
	}
	for _, p := range []string{"20.0.0.0/8", "21.0.0.0/8", "25.0.0.0/8"} {
		if rt, _ := r.Get(pfx(p)); rt.Adj != d {
			t.Errorf("%s: %v, want %v", p, rt.Adj, d)
		}
	}
	if s := r.GroupStats(); s.Live != 0 || s.Made != s.Freed {
		t.Errorf("%+v, want no group left", s)
	}
	checkSameTables(t, r.tables[0], r.tables[1])
}

// TestDelByIfindexMultipath6 is TestDelByIfindexMultipath for IPv6.
func TestDelByIfindexMultipath6(t *testing.T) {
	r, _ := newTestRIB6(t)
	a, b, d := gw6(1, "fe80::1"), gw6(2, "fe80::2"), gw6(3, "2001:db8:3::1")
	three := Multipath6(mustGroup6(t, []int{2, 1, 1}, a, b, d))
	p := netip.MustParsePrefix
	mustAdd6(t, r,
		Route6{p("2001:db8:20::/48"), three},
		Route6{p("2001:db8:21::/48"), three},
		Route6{p("2001:db8:22::/48"), Multipath6(mustGroup6(t, nil, b, d))},
		Route6{p("2001:db8:23::/48"), b},
	)
	deleted, shrunk := r.DelByIfindex(2)
	if len(deleted) != 1 || deleted[0].Prefix != p("2001:db8:23::/48") || len(shrunk) != 3 {
		t.Fatalf("deleted %v, shrunk %v", deleted, shrunk)
	}
	r20, _ := r.Get(p("2001:db8:20::/48"))
	r21, _ := r.Get(p("2001:db8:21::/48"))
	r22, _ := r.Get(p("2001:db8:22::/48"))
	g := r20.Adj.Group
	if g == nil || g.Len() != 2 || g.Members[0] != a || g.Members[1] != d || g.Weights[0] != 2 || r21.Adj.Group != g {
		t.Errorf("the /48s of the 3-path group: %v, %v", r20.Adj, r21.Adj)
	}
	if r22.Adj != d {
		t.Errorf("2001:db8:22::/48: %v, want %v", r22.Adj, d)
	}
	if s := r.GroupStats(); s.Live != 1 {
		t.Errorf("%+v, want 1 live group", s)
	}
	tbl := r.Active()
	if got := tbl.Adj(tbl.Lookup(addr6("2001:db8:20::5"))); got.Group != g {
		t.Errorf("table: 2001:db8:20::5 -> %v", got)
	}
	r.DelByIfindex(1)
	r.DelByIfindex(3)
	if s := r.GroupStats(); s.Live != 0 || s.Made != s.Freed || r.Len() != 0 {
		t.Errorf("%+v, %d routes; want none", s, r.Len())
	}
}
