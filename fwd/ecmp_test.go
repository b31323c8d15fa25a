package fwd

import (
	"math/rand/v2"
	"runtime"
	"testing"
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
			for h := range uint32(GroupBuckets) {
				got[g.Member(h)]++
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

// BenchmarkLookupECMP is a tier1 lookup as IPv4Fwd does it (a batch of 256,
// then the adjacency) with every gateway route single-path, or spread over
// 2 or 4 next hops (the flow hash and the member pick added). Goal: ECMP no
// more than 10% over single-path. The table has 16 groups: routes with
// several paths share few sets of next hops (BGP peers).
func BenchmarkLookupECMP(b *testing.B) {
	loadBenchFixture(b)
	f := &benchFixture
	for _, n := range []int{1, 2, 4} {
		name := map[int]string{1: "single", 2: "ecmp2", 4: "ecmp4"}[n]
		b.Run(name, func(b *testing.B) {
			tbl := f.rib.Active()
			if n > 1 {
				// 16 groups (sets of BGP peers), each route's group
				// chosen by its next hop.
				groups := map[uint32]*Group{}
				routes := make([]Route, len(f.routes))
				for i, rt := range f.routes {
					routes[i] = rt
					if rt.Adj.Kind != AdjGateway {
						continue
					}
					key := rt.Adj.NextHop % 16
					g := groups[key]
					if g == nil {
						var ms []Adjacency
						for k := range n {
							ms = append(ms, Adjacency{Kind: AdjGateway, Ifindex: int32(k), NextHop: 0x0a000001 + key*16 + uint32(k)})
						}
						var err error
						if g, err = NewGroup(ms, nil); err != nil {
							b.Fatal(err)
						}
						groups[key] = g
					}
					routes[i].Adj = Multipath(g)
				}
				rib := NewIPv4RIB(func(*IPv4Table) {})
				if err := rib.AddBatch(routes); err != nil {
					b.Fatal(err)
				}
				tbl = rib.Active()
			}
			rng := rand.New(rand.NewPCG(3, 3))
			srcs := make([]uint32, benchDsts)
			for i := range srcs {
				srcs[i] = rng.Uint32()
			}
			const mask = benchDsts - 1
			const vec = 256
			out := make([]uint32, vec)
			var sink uint32
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				tbl.LookupBatch(f.dsts[i:i+vec], out)
				for j, ai := range out {
					a := tbl.Adj(ai)
					if a.Group != nil {
						a = a.Group.At(a.Group.Member(FlowHash4(srcs[i+j], f.dsts[i+j], 17, srcs[i+j]>>7)))
					}
					sink += a.NextHop
				}
				i = (i + vec) & mask
			}
			reportLookups(b, b.N*vec)
			runtime.KeepAlive(sink)
		})
	}
}
