package fwd

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gaissmai/bart"
)

// benchDsts is the number of precomputed destinations the lookup
// benchmarks cycle through: far more than the caches hold, as on a router
// forwarding to many destinations.
const benchDsts = 1 << 20

// benchFixture is the tier1 table loaded once per benchmark binary, into
// an R2 RIB and into bart, with the destinations to look up.
var benchFixture struct {
	once   sync.Once
	routes []Route
	rib    *IPv4RIB
	bart   *bart.Table[uint32]
	fast   *bart.Fast[uint32] // bart's lookup-optimised variant
	dsts   []uint32           // random hosts inside random tier1 prefixes
	addrs  []netip.Addr       // the same, for bart
}

func loadBenchFixture(b *testing.B) {
	prefixes := loadTier1(b)
	f := &benchFixture
	f.once.Do(func() {
		f.routes = tier1Routes(prefixes)
		f.rib = NewIPv4RIB(func(*IPv4Table) {})
		if err := f.rib.AddBatch(f.routes); err != nil {
			panic(err)
		}
		// bart stores the same adjacency index, so both return a uint32.
		f.bart, f.fast = &bart.Table[uint32]{}, &bart.Fast[uint32]{}
		tbl := f.rib.Active()
		for _, rt := range f.routes {
			idx := tbl.Lookup(IPv4ToU32(rt.Prefix.Addr()))
			f.bart.Insert(rt.Prefix, idx)
			f.fast.Insert(rt.Prefix, idx)
		}
		rng := rand.New(rand.NewPCG(1, 1))
		f.dsts = make([]uint32, benchDsts)
		f.addrs = make([]netip.Addr, benchDsts)
		for i := range f.dsts {
			f.dsts[i] = hostIn(rng, prefixes[rng.IntN(len(prefixes))])
			f.addrs[i] = U32ToIPv4(f.dsts[i])
		}
	})
}

// reportLookups reports per-lookup time and lookups/s for n lookups.
func reportLookups(b *testing.B, n int) {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(n)
	b.ReportMetric(ns, "ns/lookup")
	b.ReportMetric(1e9/ns, "lookups/s")
}

// BenchmarkLookup compares R2's DIR-24-8 with bart (Table, and Fast, its
// lookup-optimised variant) on the full tier1 table, looking up random
// hosts of random prefixes. The goal is r2 >= 3x bart's lookups/s.
func BenchmarkLookup(b *testing.B) {
	loadBenchFixture(b)
	f := &benchFixture
	tbl := f.rib.Active()
	const mask = benchDsts - 1

	b.Run("r2", func(b *testing.B) {
		b.ReportAllocs()
		var sink uint32
		i := 0
		for b.Loop() {
			sink += tbl.Lookup(f.dsts[i&mask])
			i++
		}
		reportLookups(b, b.N)
		runtime.KeepAlive(sink)
	})
	b.Run("r2-batch", func(b *testing.B) {
		b.ReportAllocs()
		const vec = 256 // a dispatch vector
		out := make([]uint32, vec)
		var sink uint32
		i := 0
		for b.Loop() {
			tbl.LookupBatch(f.dsts[i:i+vec], out)
			sink += out[vec-1]
			i = (i + vec) & mask
		}
		reportLookups(b, b.N*vec)
		runtime.KeepAlive(sink)
	})
	b.Run("bart", func(b *testing.B) {
		b.ReportAllocs()
		var sink uint32
		i := 0
		for b.Loop() {
			v, _ := f.bart.Lookup(f.addrs[i&mask])
			sink += v
			i++
		}
		reportLookups(b, b.N)
		runtime.KeepAlive(sink)
	})
	b.Run("bart-fast", func(b *testing.B) {
		b.ReportAllocs()
		var sink uint32
		i := 0
		for b.Loop() {
			v, _ := f.fast.Lookup(f.addrs[i&mask])
			sink += v
			i++
		}
		reportLookups(b, b.N)
		runtime.KeepAlive(sink)
	})
}

// BenchmarkUpdate measures route changes through the RIB (both copies,
// with a no-op publish): the median time of one delete or add on top of
// the full tier1 table, the time to load the whole table in one batch,
// and the memory of the two table copies.
func BenchmarkUpdate(b *testing.B) {
	loadBenchFixture(b)
	f := &benchFixture

	b.Run("route", func(b *testing.B) {
		b.ReportAllocs()
		rng := rand.New(rand.NewPCG(2, 2))
		var times []time.Duration
		for b.Loop() {
			// Delete a random route and add it back, so that the table
			// stays the full one.
			rt := f.routes[rng.IntN(len(f.routes))]
			t0 := time.Now()
			if err := f.rib.Del(rt.Prefix); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if err := f.rib.Add(rt); err != nil {
				b.Fatal(err)
			}
			times = append(times, t1.Sub(t0), time.Since(t1))
		}
		slices.Sort(times)
		b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "ns/route")
		b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds()), "p99-ns/route")
	})
	b.Run("load", func(b *testing.B) {
		var r *IPv4RIB
		for b.Loop() {
			r = NewIPv4RIB(func(*IPv4Table) {})
			if err := r.AddBatch(f.routes); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "load-s")
		b.ReportMetric(float64(r.MemBytes())/(1<<20), "MiB")
		b.ReportMetric(float64(len(f.routes)), "routes")
	})
}
