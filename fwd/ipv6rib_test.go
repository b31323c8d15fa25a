package fwd

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func conn6(ifindex int32) Adjacency6 { return Adjacency6{Kind: AdjConnected, Ifindex: ifindex} }

func gw6(ifindex int32, nh string) Adjacency6 {
	return Adjacency6{Kind: AdjGateway, Ifindex: ifindex, NextHop: netip.MustParseAddr(nh).As16()}
}

// countingPublish6 records publishes and checks that publish is never
// handed the table the threads already use.
type countingPublish6 struct {
	t      *testing.T
	calls  int
	active *IPv6Table
}

func (c *countingPublish6) publish(tbl *IPv6Table) {
	if tbl == c.active {
		c.t.Errorf("publish call %d: table already active", c.calls+1)
	}
	c.calls++
	c.active = tbl
}

func newTestRIB6(t *testing.T) (*IPv6RIB, *countingPublish6) {
	c := &countingPublish6{t: t}
	r := NewIPv6RIB(c.publish)
	c.active = r.Active()
	return r, c
}

func mustAdd6(t *testing.T, r *IPv6RIB, routes ...Route6) {
	t.Helper()
	for _, rt := range routes {
		if err := r.Add(rt); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAdjacency6(t *testing.T) {
	tests := []struct {
		name    string
		adj     Adjacency6
		str     string
		wantErr string
	}{
		{"drop", Adjacency6{}, "drop", ""},
		{"local", Adjacency6{Kind: AdjLocal, Ifindex: 1}, "local if 1", ""},
		{"connected", conn6(2), "connected if 2", ""},
		{"gateway", gw6(3, "fe80::1"), "gateway fe80::1 if 3", ""},
		{"gateway without next hop", Adjacency6{Kind: AdjGateway, Ifindex: 1}, "gateway :: if 1", "needs a next hop"},
		{"multicast next hop", gw6(1, "ff02::1"), "gateway ff02::1 if 1", "is multicast"},
		{"connected with next hop", Adjacency6{Kind: AdjConnected, Ifindex: 1, NextHop: netip.MustParseAddr("2001:db8::1").As16()},
			"connected if 1", "must not have a next hop (got 2001:db8::1)"},
		{"bad ifindex", conn6(-1), "connected if -1", "out of range"},
		{"bad kind", Adjacency6{Kind: numAdjKinds}, "AdjKind(4) if 0", "unknown adjacency kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.adj.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			err := tt.adj.validate()
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("validate() = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestIPv6RIBValidation(t *testing.T) {
	zoned := netip.PrefixFrom(netip.MustParseAddr("fe80::1%eth0"), 64)
	tests := []struct {
		name    string
		call    func(r *IPv6RIB) error
		wantErr string
		noRoute bool
	}{
		{"host bits", func(r *IPv6RIB) error { return r.Add(Route6{pfx("2001:db8::1/64"), conn6(1)}) },
			"fwd: prefix 2001:db8::1/64 has host bits set (did you mean 2001:db8::/64?)", false},
		{"ipv4", func(r *IPv6RIB) error { return r.Add(Route6{pfx("10.0.0.0/8"), conn6(1)}) },
			"fwd: prefix 10.0.0.0/8 is not IPv6", false},
		// netip drops the zone of a prefix: the zoned address's host bits
		// are what gets refused.
		{"zone", func(r *IPv6RIB) error { return r.Add(Route6{zoned, conn6(1)}) }, "has host bits set", false},
		{"invalid prefix", func(r *IPv6RIB) error { return r.Add(Route6{netip.Prefix{}, conn6(1)}) }, "fwd: invalid prefix", false},
		{"bad adjacency", func(r *IPv6RIB) error {
			return r.Add(Route6{pfx("2001:db8::/32"), Adjacency6{Kind: AdjGateway, Ifindex: 1}})
		},
			"fwd: route 2001:db8::/32: gateway adjacency needs a next hop", false},
		{"del missing", func(r *IPv6RIB) error { return r.Del(pfx("2001:db9::/32")) }, "fwd: route 2001:db9::/32: no such route", true},
		{"del other length", func(r *IPv6RIB) error { return r.Del(pfx("2001:db8::/33")) }, "no such route", true},
		{"del host bits", func(r *IPv6RIB) error { return r.Del(pfx("2001:db8::1/32")) }, "has host bits set", false},
		{"add batch bad entry", func(r *IPv6RIB) error {
			return r.AddBatch([]Route6{{pfx("2001:db9::/32"), conn6(1)}, {pfx("2001:dba::/15"), conn6(1)}})
		}, "fwd: batch entry 1: prefix 2001:dba::/15 has host bits set", false},
		{"del batch missing", func(r *IPv6RIB) error {
			return r.DelBatch([]netip.Prefix{pfx("2001:db8::/32"), pfx("2001:db9::/32")})
		}, "fwd: batch entry 1: route 2001:db9::/32: no such route", true},
		{"del batch duplicate", func(r *IPv6RIB) error {
			return r.DelBatch([]netip.Prefix{pfx("2001:db8::/32"), pfx("2001:db8::/32")})
		}, "listed twice", true},
		{"del batch invalid", func(r *IPv6RIB) error { return r.DelBatch([]netip.Prefix{pfx("0.0.0.0/0")}) }, "batch entry 0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, c := newTestRIB6(t)
			mustAdd6(t, r, Route6{pfx("2001:db8::/32"), conn6(1)})
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
			if got := r.Active().Adj(r.Active().Lookup(addr6("2001:db8::1"))); got != conn6(1) {
				t.Errorf("a rejected change changed lookups: %v", got)
			}
		})
	}
}

// TestIPv6RIBRandom checks the RIB and both table copies against the
// brute-force reference through thousands of random adds, replaces,
// deletes (uncovering shorter routes) and batches, over nested prefixes
// of every length from /0 to /128.
func TestIPv6RIBRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	nops, fullEvery := 3000, 500
	if testing.Short() || raceEnabled {
		nops, fullEvery = 600, 300
	}
	pool := randomPrefixes6(rng, 500)
	adjs := []Adjacency6{{}, conn6(1), conn6(2), gw6(1, "fe80::1"), gw6(2, "fe80::1"), gw6(2, "2001:db8::2"), {Kind: AdjLocal, Ifindex: 3}}
	var edgeAddrs [][2]uint64
	for _, p := range pool {
		edgeAddrs = append(edgeAddrs, edges6(p)...)
		h, l := hostIn6(rng, p)
		edgeAddrs = append(edgeAddrs, [2]uint64{h, l})
	}

	r, c := newTestRIB6(t)
	ref := newRefRIB6()
	randRoute := func() Route6 { return Route6{pool[rng.IntN(len(pool))], adjs[rng.IntN(len(adjs))]} }
	randExisting := func() netip.Prefix {
		rts := ref.routes()
		return rts[rng.IntN(len(rts))].Prefix
	}
	for i := range nops {
		calls := c.calls
		switch k := rng.IntN(10); {
		case k < 5 || ref.len() < 10:
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
			batch := make([]Route6, 1+rng.IntN(8))
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
		if r.Active() != c.active || r.Len() != ref.len() {
			t.Fatalf("op %d: Active() is not the published table, or Len() = %d, want %d", i, r.Len(), ref.len())
		}
		sample := make([][2]uint64, 0, 64)
		for range 56 {
			sample = append(sample, edgeAddrs[rng.IntN(len(edgeAddrs))])
		}
		for range 8 {
			sample = append(sample, [2]uint64{rng.Uint64(), rng.Uint64()})
		}
		checkLookups6(t, "active copy", r.tables[r.active], ref, sample)
		checkLookups6(t, "inactive copy", r.tables[1-r.active], ref, sample)
		// Both copies identical after every change (cheap: the table is small).
		checkSameTables6(t, r.tables[0], r.tables[1])
		if i%fullEvery == fullEvery-1 {
			checkLookups6(t, "active copy", r.Active(), ref, edgeAddrs)
			checkTable6(t, r.Active())
			if diff := cmp.Diff(ref.routes(), r.Routes(0, ref.len()), prefixCmp); diff != "" {
				t.Fatalf("op %d: Routes differ from the reference (-want +got):\n%s", i, diff)
			}
			for _, a := range edgeAddrs[:200] {
				addr := HiLoToIPv6(a[0], a[1])
				wantAdj, wantP, ok := ref.lookup(a[0], a[1])
				got, gotOK := r.LookupRoute(addr)
				if gotOK != ok || got.Prefix != wantP || got.Adj != wantAdj {
					t.Fatalf("LookupRoute(%s) = %v, %v; want %v %v, %v", addr, got, gotOK, wantP, wantAdj, ok)
				}
			}
		}
	}

	// Deleting everything must leave no node and no adjacency behind.
	var all []netip.Prefix
	for _, rt := range r.Routes(0, r.Len()) {
		all = append(all, rt.Prefix)
	}
	if err := r.DelBatch(all); err != nil {
		t.Fatal(err)
	}
	for i, tbl := range r.tables {
		if tbl.nnodes != 0 || *tbl.direct != [1 << direct6Bits]uint32{} {
			t.Errorf("copy %d: %d nodes or direct entries left after deleting every route", i, tbl.nnodes)
		}
		for a, adj := range tbl.adj {
			if adj != (Adjacency6{}) {
				t.Errorf("copy %d: adjacency %d = %v left after deleting every route", i, a, adj)
			}
		}
	}
	if r.Len() != 0 || len(r.adjIdx) != 0 {
		t.Errorf("after deleting every route: Len() = %d, %d interned adjacencies", r.Len(), len(r.adjIdx))
	}
	checkSameTables6(t, r.tables[0], r.tables[1])
}

func TestIPv6RIBPublishProtocol(t *testing.T) {
	var r *IPv6RIB
	var published []*IPv6Table
	a := netip.MustParseAddr("2001:db8:1::1")
	r = NewIPv6RIB(func(tbl *IPv6Table) {
		// At publish time the new copy has the change and the old one,
		// still read by threads, does not.
		other := r.tables[0]
		if other == tbl {
			other = r.tables[1]
		}
		if tbl.Lookup(IPv6ToHiLo(a)) == other.Lookup(IPv6ToHiLo(a)) {
			t.Error("publish: the published copy and the old one answer alike")
		}
		if other != r.Active() {
			t.Error("publish: Active() changed before publish returned")
		}
		published = append(published, tbl)
	})
	first := r.Active()
	if err := r.Add(Route6{pfx("2001:db8:1::/48"), conn6(1)}); err != nil {
		t.Fatal(err)
	}
	if err := r.Del(pfx("2001:db8:1::/48")); err != nil {
		t.Fatal(err)
	}
	if len(published) != 2 || published[0] == first || published[1] != first || r.Active() != first {
		t.Fatalf("%d publishes; the copies must alternate", len(published))
	}
	if err := r.AddBatch(nil); err != nil {
		t.Fatal(err)
	}
	if err := r.DelBatch(nil); err != nil {
		t.Fatal(err)
	}
	if got, shrunk := r.DelByIfindex(1); got != nil || shrunk != nil {
		t.Fatalf("DelByIfindex on an empty RIB = %v, %v", got, shrunk)
	}
	if len(published) != 2 {
		t.Fatalf("empty changes published (%d calls)", len(published))
	}
}

func TestIPv6RIBAdjInterning(t *testing.T) {
	r, _ := newTestRIB6(t)
	g := gw6(1, "fe80::1")
	mustAdd6(t, r, Route6{pfx("2001:db8:1::/48"), g}, Route6{pfx("2001:db8:2::/48"), g},
		Route6{pfx("2001:db8:3::/48"), Adjacency6{Kind: AdjDrop, Ifindex: 7}})
	if len(r.adjIdx) != 1 || r.adjRef[r.adjIdx[g]] != 2 {
		t.Fatalf("interning: %d adjacencies, refcount %d", len(r.adjIdx), r.adjRef[r.adjIdx[g]])
	}
	if rt, _ := r.Get(pfx("2001:db8:3::/48")); rt.Adj != (Adjacency6{}) {
		t.Errorf("drop route stored as %v", rt.Adj)
	}
	if err := r.DelBatch([]netip.Prefix{pfx("2001:db8:1::/48"), pfx("2001:db8:2::/48")}); err != nil {
		t.Fatal(err)
	}
	if len(r.adjIdx) != 0 {
		t.Fatalf("%d adjacencies left", len(r.adjIdx))
	}
	for i, tbl := range r.tables {
		if tbl.adj[1] != (Adjacency6{}) {
			t.Errorf("copy %d keeps freed adjacency %v", i, tbl.adj[1])
		}
	}
}

func TestIPv6RIBGetLookupRouteDelByIfindex(t *testing.T) {
	r, c := newTestRIB6(t)
	routes := []Route6{
		{pfx("::/0"), gw6(1, "fe80::1")},
		{pfx("2001:db8::/32"), conn6(2)},
		{pfx("2001:db8:1::/48"), gw6(2, "2001:db8::9")},
		{pfx("2001:db8:1:2::/64"), conn6(3)},
		{pfx("2001:db8:1:2::5/128"), Adjacency6{Kind: AdjLocal, Ifindex: 3}},
	}
	if err := r.AddBatch(routes); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ addr, want string }{
		{"2001:db8:1:2::5", "2001:db8:1:2::5/128"},
		{"2001:db8:1:2::6", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::", "2001:db8:1::/48"},
		{"2001:db8:2::", "2001:db8::/32"},
		{"3000::", "::/0"},
		{"fe80::1%eth0", "::/0"},
		{"10.0.0.1", ""},
	}
	for _, tt := range tests {
		got, ok := r.LookupRoute(netip.MustParseAddr(tt.addr))
		if (tt.want == "") == ok || (ok && got.Prefix != pfx(tt.want)) {
			t.Errorf("LookupRoute(%s) = %v, %v; want %s", tt.addr, got, ok, tt.want)
		}
	}
	if rt, ok := r.Get(pfx("2001:db8:1::/48")); !ok || rt != routes[2] {
		t.Errorf("Get = %v, %v", rt, ok)
	}
	if _, ok := r.Get(pfx("2001:db8:1::/49")); ok {
		t.Error("Get of an absent prefix succeeded")
	}
	calls := c.calls
	removed, _ := r.DelByIfindex(3)
	if diff := cmp.Diff(routes[3:], removed, prefixCmp); diff != "" || c.calls != calls+1 {
		t.Errorf("DelByIfindex(3) (-want +got), %d publishes:\n%s", c.calls-calls, diff)
	}
	if got := r.Active().Adj(r.Active().Lookup(addr6("2001:db8:1:2::5"))); got != routes[2].Adj {
		t.Errorf("after DelByIfindex the /48 does not cover: %v", got)
	}
	if again, _ := r.DelByIfindex(3); again != nil || c.calls != calls+1 {
		t.Error("second DelByIfindex changed something")
	}
}

func TestIPv6RIBRoutesPaging(t *testing.T) {
	r, _ := newTestRIB6(t)
	rng := rand.New(rand.NewPCG(9, 9))
	ref := newRefRIB6()
	var batch []Route6
	for i, p := range randomPrefixes6(rng, 300) {
		batch = append(batch, Route6{p, conn6(int32(i % 3))})
		ref.add(p, conn6(int32(i%3)))
	}
	if err := r.AddBatch(batch); err != nil {
		t.Fatal(err)
	}
	want := ref.routes()
	var got []Route6
	for off := 0; ; off += 7 {
		page := r.Routes(off, 7)
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
	}
	if diff := cmp.Diff(want, got, prefixCmp); diff != "" {
		t.Fatalf("Routes pages (-want +got):\n%s", diff)
	}
	// RoutesAfter pages through while routes change between pages: every
	// route present throughout is listed exactly once.
	got = got[:0]
	after := netip.Prefix{}
	for i := 0; ; i++ {
		page := r.RoutesAfter(after, 10)
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].Prefix
		mustAdd6(t, r, Route6{prefixOf6(key6{uint64(i) << 48, 0}, 64), conn6(1)}) // sorts before the rest
	}
	if diff := cmp.Diff(want, got, prefixCmp); diff != "" {
		t.Fatalf("RoutesAfter pages (-want +got):\n%s", diff)
	}
	if r.Routes(-1, 5) != nil || r.Routes(0, 0) != nil || r.RoutesAfter(netip.Prefix{}, 0) != nil {
		t.Error("bad paging arguments returned routes")
	}
	if got := r.RoutesAfter(pfx("10.0.0.0/8"), 1); len(got) != 1 || got[0] != r.Routes(0, 1)[0] {
		t.Errorf("RoutesAfter(an IPv4 prefix) = %v, want the first route", got)
	}
}

// TestIPv6RIBConcurrentReaders runs the double-copy protocol for real, as
// TestIPv4RIBConcurrentReaders does: readers look up probes in whatever
// table was last published while the writer changes routes; each table
// must answer exactly as the reference does for its state, and under
// -race the detector catches a write to a table a reader may still use.
func TestIPv6RIBConcurrentReaders(t *testing.T) {
	const readers = 2
	nops := 400
	if raceEnabled || testing.Short() {
		nops = 150
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var pool []Route6
	adjs := []Adjacency6{{}, conn6(1), conn6(2), gw6(1, "fe80::1"), gw6(2, "fe80::2")}
	for _, p := range randomPrefixes6(rng, 150) {
		pool = append(pool, Route6{p, adjs[rng.IntN(len(adjs))]})
	}
	var his, los []uint64
	for _, rt := range pool {
		for _, a := range edges6(rt.Prefix) {
			his, los = append(his, a[0]), append(los, a[1])
		}
	}

	type snapshot struct {
		tbl  *IPv6Table
		want []Adjacency6
	}
	ref := newRefRIB6()
	expect := func() []Adjacency6 {
		want := make([]Adjacency6, len(his))
		for i := range his {
			want[i], _, _ = ref.lookup(his[i], los[i])
		}
		return want
	}
	var (
		cur     atomic.Pointer[snapshot]
		ack     = make(chan struct{})
		done    = make(chan struct{})
		pending []Adjacency6
		lookups atomic.Int64
		bad     atomic.Int64
		wg      sync.WaitGroup
	)
	r := NewIPv6RIB(func(tbl *IPv6Table) {
		cur.Store(&snapshot{tbl, pending})
		for range readers {
			<-ack
		}
	})
	initial := &snapshot{r.Active(), expect()}
	cur.Store(initial)
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := make([]uint32, len(his))
			s := initial
			for {
				select {
				case <-done:
					return
				default:
				}
				if n := cur.Load(); n != s {
					s = n
					ack <- struct{}{}
				}
				s.tbl.LookupBatch(his, los, out)
				for i := range his {
					got := s.tbl.Adj(s.tbl.Lookup(his[i], los[i]))
					if got != s.want[i] || s.tbl.Adj(out[i]) != got {
						if bad.Add(1) <= 5 {
							t.Errorf("lookup %s = %v (batch %v), want %v", HiLoToIPv6(his[i], los[i]), got, s.tbl.Adj(out[i]), s.want[i])
						}
					}
				}
				lookups.Add(int64(len(his)))
			}
		}()
	}
	for range nops {
		rt := pool[rng.IntN(len(pool))]
		if _, ok := r.Get(rt.Prefix); ok && rng.IntN(2) == 0 {
			ref.del(rt.Prefix)
			pending = expect()
			if err := r.Del(rt.Prefix); err != nil {
				t.Fatal(err)
			}
			continue
		}
		rt.Adj = adjs[rng.IntN(len(adjs))]
		ref.add(rt.Prefix, rt.Adj)
		pending = expect()
		if err := r.Add(rt); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	if lookups.Load() == 0 {
		t.Fatal("readers did no lookups")
	}
	t.Logf("%d changes, %d lookups, %d wrong", nops, lookups.Load(), bad.Load())
}
