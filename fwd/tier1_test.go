package fwd

import (
	"cmp"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/gaissmai/bart"
	"github.com/r2go/r2/r2/routedata"
)

// tier1 caches the parsed IPv4 prefixes of the full Internet table the
// repository ships (r2/routedata/testdata): tests and benchmarks in one
// binary parse the file once.
var tier1 struct {
	once     sync.Once
	prefixes []netip.Prefix
	err      error
}

// loadTier1 returns the IPv4 prefixes of the tier1 table in listing order,
// without duplicates, so that tests can use the list as a batch of
// deletes. A missing table fails the test: the repository ships it.
func loadTier1(tb testing.TB) []netip.Prefix {
	tb.Helper()
	tier1.once.Do(func() {
		path, err := routedata.Find()
		if err != nil {
			tier1.err = err
			return
		}
		ps, err := routedata.LoadIPv4(path)
		if err != nil {
			tier1.err = err
			return
		}
		slices.SortFunc(ps, func(a, b netip.Prefix) int {
			return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
		})
		tier1.prefixes = slices.Compact(ps)
	})
	if tier1.err != nil {
		tb.Fatal(tier1.err)
	}
	return tier1.prefixes
}

// tier1Adj gives each prefix a deterministic adjacency, spread over a few
// thousand distinct ones, so that a lookup returning the wrong route (not
// just "a route") is caught.
func tier1Adj(p netip.Prefix) Adjacency {
	h := (IPv4ToU32(p.Addr()) ^ uint32(p.Bits())<<27) * 2654435761
	h ^= h >> 15
	switch {
	case h%64 == 0:
		return Adjacency{}
	case h%16 == 1:
		return Adjacency{Kind: AdjConnected, Ifindex: int32(h>>8) % 8}
	}
	return Adjacency{Kind: AdjGateway, Ifindex: int32(h>>8) % 8, NextHop: 0x0a000001 + (h>>12)%500}
}

func tier1Routes(prefixes []netip.Prefix) []Route {
	routes := make([]Route, len(prefixes))
	for i, p := range prefixes {
		routes[i] = Route{Prefix: p, Adj: tier1Adj(p)}
	}
	return routes
}

// hostIn returns a random address inside p.
func hostIn(rng *rand.Rand, p netip.Prefix) uint32 {
	return IPv4ToU32(p.Addr()) | rng.Uint32()&^lenToMask(p.Bits())
}

// TestIPv4Tier1 loads the full Internet table and compares lookups with
// bart on random addresses and on addresses inside and around every
// (or, under the race detector, a sample of) prefix.
func TestIPv4Tier1(t *testing.T) {
	prefixes := loadTier1(t)
	routes := tier1Routes(prefixes)
	rng := rand.New(rand.NewPCG(11, 12))

	r, c := newTestRIB(t)
	if err := r.AddBatch(routes); err != nil {
		t.Fatal(err)
	}
	ref := &bart.Table[Adjacency]{}
	for _, rt := range routes {
		ref.Insert(rt.Prefix, rt.Adj)
	}
	if c.calls != 1 || r.Len() != ref.Size4() {
		t.Fatalf("loaded %d routes with %d publishes; bart has %d", r.Len(), c.calls, ref.Size4())
	}
	t.Logf("%d IPv4 prefixes (%d distinct), %d tbl8 groups, %d adjacencies, %.1f MiB",
		len(prefixes), r.Len(), r.Active().numTbl8(), len(r.adjIdx), float64(r.MemBytes())/(1<<20))

	nrand, every := 200_000, 1
	if raceEnabled || testing.Short() {
		nrand, every = 20_000, 40
	}
	addrs := make([]uint32, 0, nrand+len(prefixes)*3/every)
	for range nrand {
		addrs = append(addrs, rng.Uint32())
	}
	for i := 0; i < len(prefixes); i += every {
		p := prefixes[i]
		e := edges(p)
		addrs = append(addrs, hostIn(rng, p), e[0], e[1], e[2]) // e[3] is the next prefix's first, mostly
	}

	check := func(when string) {
		t.Helper()
		tbl := r.Active()
		out := make([]uint32, 256)
		bad := 0
		for i := 0; i < len(addrs); i += 256 {
			vec := addrs[i:min(i+256, len(addrs))]
			tbl.LookupBatch(vec, out)
			for j, a := range vec {
				want, _ := ref.Lookup(U32ToIPv4(a))
				got := *tbl.Adj(tbl.Lookup(a))
				if got != want || out[j] != tbl.Lookup(a) {
					t.Errorf("%s: lookup %s = %v (batch %v), bart %v", when, U32ToIPv4(a), got, *tbl.Adj(out[j]), want)
					if bad++; bad > 5 {
						t.FailNow()
					}
				}
			}
		}
		// The control-side lookup finds the same prefix as bart.
		for _, a := range addrs[:min(len(addrs), 5000)] {
			addr := U32ToIPv4(a)
			wantP, wantAdj, ok := ref.LookupPrefixLPM(netip.PrefixFrom(addr, 32))
			got, gotOK := r.LookupRoute(addr)
			if gotOK != ok || (ok && (got.Prefix != wantP || got.Adj != wantAdj)) {
				t.Fatalf("%s: LookupRoute(%s) = %v, %v; bart %s %v, %v", when, addr, got, gotOK, wantP, wantAdj, ok)
			}
		}
		if raceEnabled {
			// Comparing 2 x 64 MiB costs seconds under the race detector:
			// compare the copies' answers on the sample instead.
			other := r.tables[1-r.active]
			for _, a := range addrs {
				if tbl.Lookup(a) != other.Lookup(a) {
					t.Fatalf("%s: the copies differ for %s", when, U32ToIPv4(a))
				}
			}
		} else {
			checkSameTables(t, r.tables[0], r.tables[1])
		}
		if !raceEnabled || when != "loaded" { // a 16M-entry scan; once is enough under -race
			checkTable(t, tbl)
		}
	}
	check("loaded")

	// Delete a random tenth in one batch, then every route via one
	// interface, and check again.
	var dels []netip.Prefix
	for _, p := range prefixes {
		if rng.IntN(10) == 0 {
			dels = append(dels, p)
			ref.Delete(p)
		}
	}
	if err := r.DelBatch(dels); err != nil {
		t.Fatal(err)
	}
	removed, _ := r.DelByIfindex(3)
	for _, rt := range removed {
		if !rt.Adj.usesIfindex(3) {
			t.Fatalf("DelByIfindex(3) removed %v", rt)
		}
		ref.Delete(rt.Prefix)
	}
	if c.calls != 3 || r.Len() != ref.Size4() || len(removed) == 0 {
		t.Fatalf("after deletes: %d publishes, %d routes, bart %d, %d removed by ifindex",
			c.calls, r.Len(), ref.Size4(), len(removed))
	}
	check("after deletes")
}
