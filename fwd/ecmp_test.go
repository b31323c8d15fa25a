package fwd

import (
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
	"unsafe"
)

func TestNewGroup(t *testing.T) {
	a := Adjacency{Kind: AdjGateway, Ifindex: 1, NextHop: 0x0a010001}
	b := Adjacency{Kind: AdjGateway, Ifindex: 2, NextHop: 0x0a020001}
	c := Adjacency{Kind: AdjConnected, Ifindex: 3}
	for _, tc := range []struct {
		name    string
		members []Adjacency
		weights []int
		want    []int // buckets per member
		err     bool
	}{
		{name: "equal", members: []Adjacency{a, b}, want: []int{32, 32}},
		{name: "three equal", members: []Adjacency{a, b, c}, want: []int{22, 21, 21}},
		{name: "1:3", members: []Adjacency{a, b}, weights: []int{1, 3}, want: []int{16, 48}},
		{name: "1:255 keeps one bucket", members: []Adjacency{a, b}, weights: []int{1, 255}, want: []int{1, 63}},
		{name: "one member", members: []Adjacency{a}, err: true},
		{name: "twice", members: []Adjacency{a, a}, err: true},
		{name: "drop member", members: []Adjacency{a, {}}, err: true},
		{name: "weight 0", members: []Adjacency{a, b}, weights: []int{0, 1}, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := NewGroup(tc.members, tc.weights)
			if tc.err {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := make([]int, len(tc.members))
			for b := range uint32(GroupBuckets) {
				got[g.Member(b<<(32-groupBucketBits))]++
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("buckets %v, want %v", got, tc.want)
					break
				}
			}
			m := Multipath(g)
			if err := m.validate(); err != nil || !m.usesIfindex(tc.members[1].Ifindex) {
				t.Errorf("multipath adjacency: validate %v, uses member 1's interface %v", err, m.usesIfindex(tc.members[1].Ifindex))
			}
		})
	}
}

// TestFlowHashSpread: flows that differ in one field only (sequential
// source ports, sources, source prefixes, destinations) spread over 2 and 4
// equal paths within 10% of even, as random choice would; a hash whose
// bucket bits ignore some input bits fails this.
func TestFlowHashSpread(t *testing.T) {
	a6 := func(hi, lo uint64) *[16]byte {
		var a [16]byte
		binary.BigEndian.PutUint64(a[:8], hi)
		binary.BigEndian.PutUint64(a[8:], lo)
		return &a
	}
	for _, tc := range []struct {
		name string
		h    func(i int) uint32
	}{
		{"v4 source ports", func(i int) uint32 { return FlowHash4(0x0a010001, 0x14000001, 17, uint32(10000+i)<<16|443) }},
		{"v4 destination ports", func(i int) uint32 { return FlowHash4(0x0a010001, 0x14000001, 6, 40000<<16|uint32(i)) }},
		{"v4 sources", func(i int) uint32 { return FlowHash4(0x0a010000+uint32(i), 0x14000001, 17, 1234<<16|443) }},
		{"v4 source /16s", func(i int) uint32 { return FlowHash4(0x0a000001+uint32(i)<<16, 0x14000001, 6, 0) }},
		{"v4 destinations", func(i int) uint32 { return FlowHash4(0x0a010001, 0x14000000+uint32(i), 17, 1234<<16|443) }},
		{"v6 source ports", func(i int) uint32 {
			return FlowHash6(a6(0x20010db800010000, 1), a6(0x20010db800770000, 1), 6, uint32(10000+i)<<16|443)
		}},
		{"v6 sources", func(i int) uint32 {
			return FlowHash6(a6(0x20010db800010000, uint64(i)), a6(0x20010db800770000, 1), 6, 0)
		}},
		{"v6 source /48s", func(i int) uint32 {
			return FlowHash6(a6(0x20010db800000000|uint64(i)<<16, 1), a6(0x20010db800770000, 1), 6, 0)
		}},
	} {
		for _, n := range []int{2, 4} {
			ms := []Adjacency{gw(1, "10.1.0.1"), gw(2, "10.2.0.1"), gw(3, "10.3.0.1"), gw(4, "10.4.0.1")}[:n]
			g := mustGroup(t, nil, ms...)
			for start := 0; start < 5000; start += 1000 {
				count := make([]int, n)
				for i := start; i < start+1000; i++ {
					count[g.Member(tc.h(i))]++
				}
				for m, c := range count {
					if even := 1000 / n; c < even*9/10 || c > even*11/10 {
						t.Errorf("%s, flows %d..%d, %d paths: path %d takes %d flows (%v)", tc.name, start, start+999, n, m, c, count)
					}
				}
			}
		}
	}
}

// TestGroupBucketsOneLine: a pick reads the buckets from one cache line:
// they come first in the group, and groups are allocated in size classes
// whose objects start on 64-byte boundaries.
func TestGroupBucketsOneLine(t *testing.T) {
	a, b := gw(1, "10.1.0.1"), gw(2, "10.2.0.1")
	for i := 0; i < 100; i++ {
		g := mustGroup(t, nil, a, b)
		g6 := mustGroup6(t, nil, gw6(1, "fe80::1"), gw6(2, "fe80::2"))
		if p, p6 := uintptr(unsafe.Pointer(&g.bucket)), uintptr(unsafe.Pointer(&g6.bucket)); p%64 != 0 || p6%64 != 0 {
			t.Fatalf("buckets at %#x and %#x: not on a cache line boundary (Group %d bytes, Group6 %d)", p, p6, unsafe.Sizeof(*g), unsafe.Sizeof(*g6))
		}
	}
}

// ecmpTable is the tier1 table with share percent of its gateway routes
// (chosen by a hash of the prefix) multipath over paths next hops: 16
// groups, a route's group chosen by its next hop, as routes through a
// few sets of BGP peers share groups. share 0 is the plain table.
func ecmpTable(b *testing.B, share, paths int) *IPv4Table {
	f := &benchFixture
	if share == 0 {
		return f.rib.Active()
	}
	groups := map[uint32]*Group{}
	routes := make([]Route, len(f.routes))
	for i, rt := range f.routes {
		routes[i] = rt
		h := (IPv4ToU32(rt.Prefix.Addr()) ^ uint32(rt.Prefix.Bits())) * 0x9e3779b1
		if rt.Adj.Kind != AdjGateway || int(h>>16)%100 >= share {
			continue
		}
		key := rt.Adj.NextHop % 16
		g := groups[key]
		if g == nil {
			var ms []Adjacency
			for k := range paths {
				ms = append(ms, Adjacency{Kind: AdjGateway, Ifindex: int32(k), NextHop: 0x0a000001 + key*16 + uint32(k)})
			}
			g = mustGroup(b, nil, ms...)
			groups[key] = g
		}
		routes[i].Adj = Multipath(g)
	}
	rib := NewIPv4RIB(func(*IPv4Table) {})
	if err := rib.AddBatch(routes); err != nil {
		b.Fatal(err)
	}
	return rib.Active()
}

// BenchmarkLookupECMP is the tier1 lookup as IPv4Fwd does it, the
// adjacency and, for a multipath route, the flow hash and the member pick,
// on "the tier1 table with ECMP routes" in three senses: single (every
// route single-path, the baseline), ecmp10 (10% of the gateway routes
// multipath over 2 next hops, the rest single-path: a realistic share),
// ecmp100 (every gateway route multipath over 2 next hops) and ecmp100x4
// (over 4). Destinations are random hosts of random prefixes (so about that
// share of lookups hits a group), sources and ports random; every variant
// reads the source, as IPv4Fwd does for every packet (martian check), so
// that the difference is the hash and the pick. "lookup" looks
// up one address at a time, "batch" a vector of 256 (LookupBatch) as
// IPv4Fwd does. Goal: ECMP no more than 10% over single-path; compare the
// variants of one run, interleaved, by thread CPU time (cpu-ns/lookup:
// wall time on a shared machine measures the scheduler too).
func BenchmarkLookupECMP(b *testing.B) {
	loadBenchFixture(b)
	f := &benchFixture
	rng := rand.New(rand.NewPCG(3, 3))
	srcs := make([]uint32, benchDsts)
	for i := range srcs {
		srcs[i] = rng.Uint32()
	}
	const mask = benchDsts - 1
	const vec = 256
	for _, v := range []struct {
		name         string
		share, paths int
	}{{"single", 0, 1}, {"ecmp10", 10, 2}, {"ecmp100", 100, 2}, {"ecmp100x4", 100, 4}} {
		tbl := ecmpTable(b, v.share, v.paths)
		b.Run(v.name+"/lookup", func(b *testing.B) {
			var sink uint32
			i := 0
			b.ReportAllocs()
			c := startCPU()
			for b.Loop() {
				j := i & mask
				a := tbl.Adj(tbl.Lookup(f.dsts[j]))
				if g := a.Group; g != nil {
					a = g.At(g.Member(FlowHash4(srcs[j], f.dsts[j], 17, srcs[j]>>7)))
				}
				sink += a.NextHop ^ srcs[j]
				i++
			}
			c.report(b, b.N)
			reportLookups(b, b.N)
			runtime.KeepAlive(sink)
		})
		b.Run(v.name+"/batch", func(b *testing.B) {
			out := make([]uint32, vec)
			var sink uint32
			i := 0
			b.ReportAllocs()
			c := startCPU()
			for b.Loop() {
				tbl.LookupBatch(f.dsts[i:i+vec], out)
				for j, ai := range out {
					a := tbl.Adj(ai)
					if g := a.Group; g != nil {
						a = g.At(g.Member(FlowHash4(srcs[i+j], f.dsts[i+j], 17, srcs[i+j]>>7)))
					}
					sink += a.NextHop ^ srcs[i+j]
				}
				i = (i + vec) & mask
			}
			c.report(b, b.N*vec)
			reportLookups(b, b.N*vec)
			runtime.KeepAlive(sink)
		})
	}
}

// BenchmarkLookupECMPAlternating runs the lookups of BenchmarkLookupECMP
// (the four tables, one at a time and batched) in one loop, switching
// table and mode every 4,096 lookups and summing each one's thread CPU
// time. On a loaded machine the drift between sub-benchmarks run seconds
// apart exceeds the differences measured; alternating every ~100 µs
// cancels it. Reports cpu-ns per lookup of each and its ratio to the
// single-path table in the same mode (x-NAME).
func BenchmarkLookupECMPAlternating(b *testing.B) {
	loadBenchFixture(b)
	f := &benchFixture
	rng := rand.New(rand.NewPCG(3, 3))
	srcs := make([]uint32, benchDsts)
	for i := range srcs {
		srcs[i] = rng.Uint32()
	}
	const mask = benchDsts - 1
	const vec = 256
	const slice = 16 * vec // lookups per turn
	names := []string{"single", "ecmp10", "ecmp100", "ecmp100x4"}
	tables := []*IPv4Table{ecmpTable(b, 0, 1), ecmpTable(b, 10, 2), ecmpTable(b, 100, 2), ecmpTable(b, 100, 4)}
	out := make([]uint32, vec)
	var cpu [2][4]time.Duration // [batched][table]
	var sink uint32
	i := 0
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	for b.Loop() {
		for v, tbl := range tables {
			c0 := threadCPU()
			for k := 0; k < slice; k++ {
				j := (i + k) & mask
				a := tbl.Adj(tbl.Lookup(f.dsts[j]))
				if g := a.Group; g != nil {
					a = g.At(g.Member(FlowHash4(srcs[j], f.dsts[j], 17, srcs[j]>>7)))
				}
				sink += a.NextHop ^ srcs[j]
			}
			c1 := threadCPU()
			for k := 0; k < slice; k += vec {
				s := (i + k) & mask
				tbl.LookupBatch(f.dsts[s:s+vec], out)
				for j, ai := range out {
					a := tbl.Adj(ai)
					if g := a.Group; g != nil {
						a = g.At(g.Member(FlowHash4(srcs[s+j], f.dsts[s+j], 17, srcs[s+j]>>7)))
					}
					sink += a.NextHop ^ srcs[s+j]
				}
			}
			c2 := threadCPU()
			cpu[0][v] += c1 - c0
			cpu[1][v] += c2 - c1
			i = (i + slice) & mask
		}
	}
	for m, mode := range []string{"lookup", "batch"} {
		for v, name := range names {
			ns := float64(cpu[m][v].Nanoseconds()) / float64(b.N*slice)
			b.ReportMetric(ns, "cpu-ns/"+mode+"-"+name)
			if v > 0 {
				b.ReportMetric(float64(cpu[m][v])/float64(cpu[m][0]), "x-"+mode+"-"+name)
			}
		}
	}
	runtime.KeepAlive(sink)
}
