package fwd

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gaissmai/bart"

	"github.com/r2go/r2/r2/routedata"
)

// tier1v6 caches the parsed IPv6 prefixes of the tier1 table.
var tier1v6 struct {
	once     sync.Once
	prefixes []netip.Prefix
	err      error
}

// loadTier1v6 returns the IPv6 prefixes of the tier1 table in listing
// order without duplicates; a missing table fails the test.
func loadTier1v6(tb testing.TB) []netip.Prefix {
	tb.Helper()
	tier1v6.once.Do(func() {
		path, err := routedata.Find()
		if err != nil {
			tier1v6.err = err
			return
		}
		tier1v6.prefixes, tier1v6.err = readPrefixes6(path)
	})
	if tier1v6.err != nil {
		tb.Fatal(tier1v6.err)
	}
	return tier1v6.prefixes
}

func readPrefixes6(path string) ([]netip.Prefix, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []netip.Prefix
	sc := bufio.NewScanner(zr)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if !strings.Contains(s, ":") {
			continue // blank or IPv4
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, p.Masked())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
	})
	return slices.Compact(out), nil
}

// tier1Adj6 gives each prefix a deterministic adjacency among a few
// thousand, so that a lookup returning the wrong route is caught.
func tier1Adj6(p netip.Prefix) Adjacency6 {
	hi, lo := IPv6ToHiLo(p.Addr())
	h := (hi ^ lo ^ uint64(p.Bits())<<57) * 0x9e3779b97f4a7c15
	h ^= h >> 29
	switch {
	case h%64 == 0:
		return Adjacency6{}
	case h%16 == 1:
		return Adjacency6{Kind: AdjConnected, Ifindex: int32(h >> 8 % 8)}
	}
	nh := [16]byte{0xfe, 0x80, 14: byte(h >> 20 % 2), 15: byte(h>>12) | 1}
	return Adjacency6{Kind: AdjGateway, Ifindex: int32(h >> 8 % 8), NextHop: nh}
}

func tier1Routes6(prefixes []netip.Prefix) []Route6 {
	routes := make([]Route6, len(prefixes))
	for i, p := range prefixes {
		routes[i] = Route6{Prefix: p, Adj: tier1Adj6(p)}
	}
	return routes
}

// TestIPv6Tier1 loads the tier1 IPv6 table and compares lookups with bart
// on the first and last address of every prefix (a sample under -race),
// a host inside it and its outside neighbours, plus 200k random
// addresses, before and after deleting a tenth of the routes and every
// route through one interface.
func TestIPv6Tier1(t *testing.T) {
	prefixes := loadTier1v6(t)
	routes := tier1Routes6(prefixes)
	rng := rand.New(rand.NewPCG(11, 12))

	r, c := newTestRIB6(t)
	t0 := time.Now()
	if err := r.AddBatch(routes); err != nil {
		t.Fatal(err)
	}
	loadTime := time.Since(t0)
	ref := &bart.Table[Adjacency6]{}
	for _, rt := range routes {
		ref.Insert(rt.Prefix, rt.Adj)
	}
	if c.calls != 1 || r.Len() != ref.Size6() {
		t.Fatalf("loaded %d routes with %d publishes; bart has %d", r.Len(), c.calls, ref.Size6())
	}
	runs, inline := 0, 0
	for _, e := range r.Active().direct {
		if e&e6Node != 0 {
			var walk func(ni uint32)
			walk = func(ni uint32) {
				n := &r.Active().nodes[ni]
				runs += int(popcnt4(&n.leafvec))
				if n.base0 == inlineBase {
					inline++
				}
				for c := range popcnt4(&n.vec) {
					walk(n.base1 + c)
				}
			}
			walk(e &^ e6Node)
		}
	}
	nn := r.Active().nnodes
	t.Logf("%d IPv6 prefixes loaded in %v: %d nodes (%.1f leaf runs on average, %.0f%% inline), %d adjacencies, %.1f MiB for both copies",
		r.Len(), loadTime, nn, float64(runs)/float64(nn), 100*float64(inline)/float64(nn), len(r.adjIdx), float64(r.MemBytes())/(1<<20))

	nrand, every := 200_000, 1
	if raceEnabled || testing.Short() {
		nrand, every = 20_000, 40
	}
	var addrs [][2]uint64
	for i := range nrand {
		if i%2 == 0 { // anywhere, or inside 2000::/3 where the routes are
			addrs = append(addrs, [2]uint64{rng.Uint64(), rng.Uint64()})
		} else {
			addrs = append(addrs, [2]uint64{0x2000000000000000 | rng.Uint64()>>3, rng.Uint64()})
		}
	}
	for i := 0; i < len(prefixes); i += every {
		p := prefixes[i]
		h, l := hostIn6(rng, p)
		addrs = append(addrs, edges6(p)...)
		addrs = append(addrs, [2]uint64{h, l})
	}

	check := func(when string) {
		t.Helper()
		tbl := r.Active()
		hi := make([]uint64, len(addrs))
		lo := make([]uint64, len(addrs))
		for i, a := range addrs {
			hi[i], lo[i] = a[0], a[1]
		}
		out := make([]uint32, len(addrs))
		tbl.LookupBatch(hi, lo, out)
		bad := 0
		for i, a := range addrs {
			want, _ := ref.Lookup(HiLoToIPv6(a[0], a[1]))
			got := tbl.Adj(tbl.Lookup(a[0], a[1]))
			if got != want || tbl.Adj(out[i]) != want {
				t.Errorf("%s: lookup %s = %v (batch %v), bart %v", when, HiLoToIPv6(a[0], a[1]), got, tbl.Adj(out[i]), want)
				if bad++; bad > 5 {
					t.FailNow()
				}
			}
		}
		for _, a := range addrs[:min(len(addrs), 5000)] {
			addr := HiLoToIPv6(a[0], a[1])
			wantP, wantAdj, ok := ref.LookupPrefixLPM(netip.PrefixFrom(addr, 128))
			got, gotOK := r.LookupRoute(addr)
			if gotOK != ok || (ok && (got.Prefix != wantP || got.Adj != wantAdj)) {
				t.Fatalf("%s: LookupRoute(%s) = %v, %v; bart %s %v, %v", when, addr, got, gotOK, wantP, wantAdj, ok)
			}
		}
		checkSameTables6(t, r.tables[0], r.tables[1])
		if !raceEnabled {
			checkTable6(t, tbl)
		}
	}
	check("loaded")

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
	if c.calls != 3 || r.Len() != ref.Size6() || len(removed) == 0 {
		t.Fatalf("after deletes: %d publishes, %d routes, bart %d, %d removed by ifindex",
			c.calls, r.Len(), ref.Size6(), len(removed))
	}
	check("after deletes")
}

// bench6 is the tier1 IPv6 table loaded once per benchmark binary, into an
// R2 RIB and into bart, with the destinations to look up.
var bench6 struct {
	once   sync.Once
	routes []Route6
	rib    *IPv6RIB
	bart   *bart.Table[uint32]
	fast   *bart.Fast[uint32]
	hi, lo []uint64     // random hosts inside random tier1 prefixes
	addrs  []netip.Addr // the same, for bart
}

func loadBench6(b *testing.B) {
	prefixes := loadTier1v6(b)
	f := &bench6
	f.once.Do(func() {
		f.routes = tier1Routes6(prefixes)
		f.rib = NewIPv6RIB(func(*IPv6Table) {})
		if err := f.rib.AddBatch(f.routes); err != nil {
			panic(err)
		}
		f.bart, f.fast = &bart.Table[uint32]{}, &bart.Fast[uint32]{}
		tbl := f.rib.Active()
		for _, rt := range f.routes {
			idx := tbl.Lookup(IPv6ToHiLo(rt.Prefix.Addr()))
			f.bart.Insert(rt.Prefix, idx)
			f.fast.Insert(rt.Prefix, idx)
		}
		rng := rand.New(rand.NewPCG(1, 1))
		f.hi, f.lo = make([]uint64, benchDsts), make([]uint64, benchDsts)
		f.addrs = make([]netip.Addr, benchDsts)
		for i := range f.hi {
			f.hi[i], f.lo[i] = hostIn6(rng, prefixes[rng.IntN(len(prefixes))])
			f.addrs[i] = HiLoToIPv6(f.hi[i], f.lo[i])
		}
	})
}

// cpuMeter measures the CPU time of a benchmark loop on its (locked) OS
// thread: on a shared machine it separates the code's cost from the time
// spent waiting for a CPU, which ns/op includes.
type cpuMeter struct{ start time.Duration }

func startCPU() cpuMeter {
	runtime.LockOSThread()
	return cpuMeter{threadCPU()}
}

// report adds the CPU time per lookup and the lookups per CPU second.
func (c cpuMeter) report(b *testing.B, n int) {
	ns := float64((threadCPU() - c.start).Nanoseconds()) / float64(n)
	runtime.UnlockOSThread()
	b.ReportMetric(ns, "cpu-ns/lookup")
	b.ReportMetric(1e9/ns, "lookups/cpu-s")
}

// BenchmarkIPv6Lookup compares R2's IPv6 table with bart (Table, and Fast,
// its lookup-optimised variant) on the tier1 IPv6 table, looking up random
// hosts of random prefixes. The goal is r2 >= 5x bart's lookups/s.
func BenchmarkIPv6Lookup(b *testing.B) {
	loadBench6(b)
	f := &bench6
	tbl := f.rib.Active()
	const mask = benchDsts - 1

	b.Run("r2", func(b *testing.B) {
		b.ReportAllocs()
		var sink uint32
		i := 0
		c := startCPU()
		for b.Loop() {
			sink += tbl.Lookup(f.hi[i&mask], f.lo[i&mask])
			i++
		}
		c.report(b, b.N)
		reportLookups(b, b.N)
		runtime.KeepAlive(sink)
	})
	b.Run("r2-batch", func(b *testing.B) {
		b.ReportAllocs()
		const vec = 256
		out := make([]uint32, vec)
		var sink uint32
		i := 0
		c := startCPU()
		for b.Loop() {
			tbl.LookupBatch(f.hi[i:i+vec], f.lo[i:i+vec], out)
			sink += out[vec-1]
			i = (i + vec) & mask
		}
		c.report(b, b.N*vec)
		reportLookups(b, b.N*vec)
		runtime.KeepAlive(sink)
	})
	b.Run("bart", func(b *testing.B) {
		b.ReportAllocs()
		var sink uint32
		i := 0
		c := startCPU()
		for b.Loop() {
			v, _ := f.bart.Lookup(f.addrs[i&mask])
			sink += v
			i++
		}
		c.report(b, b.N)
		reportLookups(b, b.N)
		runtime.KeepAlive(sink)
	})
	b.Run("bart-fast", func(b *testing.B) {
		b.ReportAllocs()
		var sink uint32
		i := 0
		c := startCPU()
		for b.Loop() {
			v, _ := f.fast.Lookup(f.addrs[i&mask])
			sink += v
			i++
		}
		c.report(b, b.N)
		reportLookups(b, b.N)
		runtime.KeepAlive(sink)
	})
}

// BenchmarkIPv6LookupInterleaved runs r2 (single and batched), bart and
// bart-fast on alternating chunks of the same destinations and reports
// each one's median time per chunk: on a machine shared with other work,
// whose load changes from one millisecond to the next, the chunks that
// ran undisturbed compare the lookups, and a chunk that lost the CPU
// weighs on no result. It also reports r2's speedups over bart.
func BenchmarkIPv6LookupInterleaved(b *testing.B) {
	loadBench6(b)
	f := &bench6
	tbl := f.rib.Active()
	const chunk = 1024
	out := make([]uint32, chunk)
	var sink uint32
	var d [4][]time.Duration
	i := 0
	for b.Loop() {
		hi, lo, addrs := f.hi[i:i+chunk], f.lo[i:i+chunk], f.addrs[i:i+chunk]
		t0 := time.Now()
		for j := range hi {
			sink += tbl.Lookup(hi[j], lo[j])
		}
		t1 := time.Now()
		tbl.LookupBatch(hi, lo, out)
		t2 := time.Now()
		for _, a := range addrs {
			v, _ := f.bart.Lookup(a)
			sink += v
		}
		t3 := time.Now()
		for _, a := range addrs {
			v, _ := f.fast.Lookup(a)
			sink += v
		}
		t4 := time.Now()
		d[0], d[1] = append(d[0], t1.Sub(t0)), append(d[1], t2.Sub(t1))
		d[2], d[3] = append(d[2], t3.Sub(t2)), append(d[3], t4.Sub(t3))
		sink += out[chunk-1]
		i = (i + chunk) & (benchDsts - 1)
	}
	runtime.KeepAlive(sink)
	var med [4]float64
	for k, name := range []string{"r2", "r2-batch", "bart", "bart-fast"} {
		slices.Sort(d[k])
		med[k] = float64(d[k][len(d[k])/2].Nanoseconds()) / chunk
		b.ReportMetric(med[k], name+"-ns/lookup")
	}
	b.ReportMetric(med[2]/med[0], "x-bart")
	b.ReportMetric(med[2]/med[1], "batch-x-bart")
	b.ReportMetric(med[3]/med[0], "x-bart-fast")
	b.ReportMetric(med[3]/med[1], "batch-x-bart-fast")
}

// BenchmarkIPv6Update measures route changes through the RIB (both copies,
// no-op publish): the median and p99 time of one delete or add on top of
// the tier1 IPv6 table, the time to load the whole table in one batch,
// and the memory of the two copies.
func BenchmarkIPv6Update(b *testing.B) {
	loadBench6(b)
	f := &bench6

	b.Run("route", func(b *testing.B) {
		b.ReportAllocs()
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		rng := rand.New(rand.NewPCG(2, 2))
		var times, cpu []time.Duration
		for b.Loop() {
			// Delete a random route and add it back, so that the table
			// stays the full one.
			rt := f.routes[rng.IntN(len(f.routes))]
			c0, t0 := threadCPU(), time.Now()
			if err := f.rib.Del(rt.Prefix); err != nil {
				b.Fatal(err)
			}
			c1, t1 := threadCPU(), time.Now()
			if err := f.rib.Add(rt); err != nil {
				b.Fatal(err)
			}
			c2, t2 := threadCPU(), time.Now()
			times = append(times, t1.Sub(t0), t2.Sub(t1))
			cpu = append(cpu, c1-c0, c2-c1)
		}
		slices.Sort(times)
		slices.Sort(cpu)
		b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "ns/route")
		b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds()), "p99-ns/route")
		b.ReportMetric(float64(cpu[len(cpu)/2].Nanoseconds()), "cpu-ns/route")
		b.ReportMetric(float64(cpu[len(cpu)*99/100].Nanoseconds()), "p99-cpu-ns/route")
	})
	b.Run("load", func(b *testing.B) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var r *IPv6RIB
		var cpu time.Duration
		for b.Loop() {
			c0 := threadCPU()
			r = NewIPv6RIB(func(*IPv6Table) {})
			if err := r.AddBatch(f.routes); err != nil {
				b.Fatal(err)
			}
			cpu += threadCPU() - c0
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "load-s")
		b.ReportMetric(cpu.Seconds()/float64(b.N), "load-cpu-s")
		b.ReportMetric(float64(r.MemBytes())/(1<<20), "MiB")
		b.ReportMetric(float64(len(f.routes)), "routes")
	})
}
