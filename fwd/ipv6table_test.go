package fwd

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

func addr6(s string) (uint64, uint64) { return IPv6ToHiLo(netip.MustParseAddr(s)) }

// refRIB6 is the brute-force reference: a map of routes, searched from
// /128 down to /0 (skipping lengths without routes).
type refRIB6 struct {
	m    map[rkey6]Adjacency6
	nlen [129]int // routes per length
}

func newRefRIB6() *refRIB6 { return &refRIB6{m: map[rkey6]Adjacency6{}} }

func refKey6(p netip.Prefix) rkey6 {
	hi, lo := IPv6ToHiLo(p.Addr())
	return rkey6{key6{hi, lo}, uint8(p.Bits())}
}

func (r *refRIB6) len() int { return len(r.m) }

func (r *refRIB6) add(p netip.Prefix, a Adjacency6) {
	if a.Kind == AdjDrop {
		a = Adjacency6{}
	}
	k := refKey6(p)
	if _, ok := r.m[k]; !ok {
		r.nlen[k.plen]++
	}
	r.m[k] = a
}

func (r *refRIB6) del(p netip.Prefix) {
	k := refKey6(p)
	if _, ok := r.m[k]; ok {
		r.nlen[k.plen]--
		delete(r.m, k)
	}
}

func (r *refRIB6) lookup(hi, lo uint64) (Adjacency6, netip.Prefix, bool) {
	for plen := 128; plen >= 0; plen-- {
		if r.nlen[plen] == 0 {
			continue
		}
		k := mask6(hi, lo, plen)
		if a, ok := r.m[rkey6{k, uint8(plen)}]; ok {
			return a, prefixOf6(k, plen), true
		}
	}
	return Adjacency6{}, netip.Prefix{}, false
}

func (r *refRIB6) routes() []Route6 {
	keys := make([]rkey6, 0, len(r.m))
	for k := range r.m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmpRkey6)
	out := make([]Route6, len(keys))
	for i, k := range keys {
		out[i] = Route6{prefixOf6(k.key6, int(k.plen)), r.m[k]}
	}
	return out
}

// edges6 returns the addresses where a lookup result can change around p:
// its first and last address and their outside neighbours (wrapping).
func edges6(p netip.Prefix) [][2]uint64 {
	hi, lo := IPv6ToHiLo(p.Addr())
	k := mask6(^uint64(0), ^uint64(0), p.Bits())
	lhi, llo := hi|^k.hi, lo|^k.lo
	bhi, blo := hi, lo-1
	if lo == 0 {
		bhi--
	}
	ahi, alo := lhi, llo+1
	if alo == 0 {
		ahi++
	}
	return [][2]uint64{{hi, lo}, {lhi, llo}, {bhi, blo}, {ahi, alo}}
}

// hostIn6 returns a random address inside p.
func hostIn6(rng *rand.Rand, p netip.Prefix) (uint64, uint64) {
	hi, lo := IPv6ToHiLo(p.Addr())
	k := mask6(^uint64(0), ^uint64(0), p.Bits())
	return hi | rng.Uint64()&^k.hi, lo | rng.Uint64()&^k.lo
}

// randomPrefixes6 returns n distinct prefixes that nest and neighbour each
// other at every node level: bases share their first 16..127 bits with
// earlier bases, and lengths run from /0 to /128.
func randomPrefixes6(rng *rand.Rand, n int) []netip.Prefix {
	bases := [][2]uint64{{0x20010db800000000 | rng.Uint64()&0xffffffff, rng.Uint64()}}
	cuts := []int{8, 16, 20, 24, 32, 40, 44, 48, 56, 64, 72, 96, 120, 124, 127}
	for len(bases) < 24 {
		b := bases[rng.IntN(len(bases))]
		cut := cuts[rng.IntN(len(cuts))]
		k := mask6(b[0], b[1], cut)
		bases = append(bases, [2]uint64{k.hi | rng.Uint64()&^mask6(^uint64(0), 0, cut).hi, k.lo | rng.Uint64()&^mask6(^uint64(0), ^uint64(0), cut).lo})
	}
	bases = append(bases, [2]uint64{^uint64(0), ^uint64(0)}, [2]uint64{0, 0}) // the ends
	seen := map[netip.Prefix]bool{}
	var out []netip.Prefix
	add := func(b [2]uint64, plen int) {
		if p := prefixOf6(mask6(b[0], b[1], plen), plen); !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	add(bases[0], 0)
	add(bases[len(bases)-1], 128)
	add(bases[len(bases)-2], 128)
	for _, plen := range []int{3, 12, 16} {
		add(bases[rng.IntN(len(bases))], plen)
	}
	for len(out) < n {
		var plen int
		switch rng.IntN(4) {
		case 0:
			plen = 16 + rng.IntN(113) // anywhere
		case 1:
			plen = 16 + 8*rng.IntN(14) // node boundaries
		case 2:
			plen = 17 + 8*rng.IntN(14) // just past them
		default:
			plen = 28 + rng.IntN(21) // the Internet's bulk
		}
		plen = min(plen, 128)
		add(bases[rng.IntN(len(bases))], plen)
	}
	return out
}

// checkLookups6 compares the table's answers (single and batched) for
// addrs with the reference.
func checkLookups6(t *testing.T, what string, tbl *IPv6Table, ref *refRIB6, addrs [][2]uint64) {
	t.Helper()
	hi := make([]uint64, len(addrs))
	lo := make([]uint64, len(addrs))
	for i, a := range addrs {
		hi[i], lo[i] = a[0], a[1]
	}
	out := make([]uint32, len(addrs))
	tbl.LookupBatch(hi, lo, out)
	bad := 0
	for i, a := range addrs {
		want, wp, _ := ref.lookup(a[0], a[1])
		got := tbl.Adj(tbl.Lookup(a[0], a[1]))
		if got != want || tbl.Adj(out[i]) != want {
			t.Errorf("%s: lookup %s = %v (batch %v), want %v (route %v)", what, HiLoToIPv6(a[0], a[1]), got, tbl.Adj(out[i]), want, wp)
			if bad++; bad >= 5 {
				t.FailNow()
			}
		}
	}
}

// checkTable6 verifies the structure's invariants: every node is reached
// once and counted, no node could be collapsed into its parent, every
// def is what the parent implies, leaf runs are canonical, and every
// index is in range and off the free lists.
func checkTable6(t *testing.T, tbl *IPv6Table) {
	t.Helper()
	freeNode := map[uint32]bool{}
	for c, f := range tbl.freeNodes {
		for _, b := range f {
			for i := range uint32(1) << c {
				freeNode[b+i] = true
			}
		}
	}
	freeLeaf := map[uint32]bool{}
	for c, f := range tbl.freeLeaves {
		for _, b := range f {
			for i := range uint32(1) << c {
				freeLeaf[b+i] = true
			}
		}
	}
	seen := map[uint32]bool{}
	var walk func(ni uint32, level int, def uint32)
	walk = func(ni uint32, level int, def uint32) {
		if int(ni) >= len(tbl.nodes) || seen[ni] || freeNode[ni] {
			t.Fatalf("node %d (level %d): out of range, reached twice or free", ni, level)
		}
		seen[ni] = true
		n := &tbl.nodes[ni]
		if n.vcum != cum4(&n.vec) || n.lcum != cum4(&n.leafvec) {
			t.Fatalf("node %d (level %d): stale popcounts %v %v", ni, level, n.vcum, n.lcum)
		}
		if n.def != def {
			t.Fatalf("node %d (level %d): def %#x, parent implies %#x", ni, level, n.def, def)
		}
		if int(n.def&adj6Mask) >= len(tbl.adj) || defLen(n.def) > level {
			t.Fatalf("node %d (level %d): bad def %#x", ni, level, n.def)
		}
		var prev uint32
		first := true
		nonzero := false
		for v := range uint(256) {
			if hasBit(&n.vec, v) {
				if hasBit(&n.leafvec, v) {
					t.Fatalf("node %d: slot %d is a child and starts a leaf run", ni, v)
				}
				continue
			}
			li := n.base0 + uint32(rankTo(&n.leafvec, v)) - 1
			if freeLeaf[li] || int(li) >= len(tbl.leaves) {
				t.Fatalf("node %d slot %d: leaf %d free or out of range", ni, v, li)
			}
			l := tbl.leaves[li]
			start := hasBit(&n.leafvec, v)
			if (first && !start) || (!first && start && l == prev) {
				t.Fatalf("node %d slot %d: leaf runs not canonical", ni, v)
			}
			if l>>e6LenShift > stride6 || int(l&adj6Mask) >= len(tbl.adj) || (l != 0 && l>>e6LenShift == 0) {
				t.Fatalf("node %d slot %d: bad leaf %#x", ni, v, l)
			}
			first, prev, nonzero = false, l, nonzero || l != 0
		}
		if n.vec == [4]uint64{} && !nonzero {
			t.Fatalf("node %d (level %d): empty, should have been collapsed", ni, level)
		}
		for v := range uint(256) {
			if !hasBit(&n.vec, v) {
				continue
			}
			// The child's def is this node's def, or the route of length
			// in (level, level+8] covering the slot, which the node does
			// not record for child slots: lookups check which.
			cdef := def
			j := rankBelow(&n.vec, v)
			c := &tbl.nodes[n.base1+uint32(j)]
			if l := defLen(c.def); l > level && l <= level+stride6 {
				cdef = c.def
			}
			walk(n.base1+uint32(j), level+stride6, cdef)
		}
	}
	for i, e := range tbl.direct {
		if e&e6Node == 0 {
			if int(e&adj6Mask) >= len(tbl.adj) || defLen(e) > direct6Bits {
				t.Fatalf("direct[%#x] = %#x: bad entry", i, e)
			}
			continue
		}
		walk(e&^e6Node, direct6Bits, tbl.nodes[e&^e6Node].def)
		if defLen(tbl.nodes[e&^e6Node].def) > direct6Bits {
			t.Fatalf("direct[%#x]: root def %#x longer than /16", i, tbl.nodes[e&^e6Node].def)
		}
	}
	if len(seen) != tbl.nnodes {
		t.Fatalf("%d nodes reachable, nnodes = %d", len(seen), tbl.nnodes)
	}
}

// checkSameTables6 fails unless the two copies are identical.
func checkSameTables6(t *testing.T, a, b *IPv6Table) {
	t.Helper()
	if a == b {
		t.Fatal("both copies are the same object")
	}
	if *a.direct != *b.direct {
		t.Fatal("direct tables of the two copies differ")
	}
	if !slices.Equal(a.nodes, b.nodes) || !slices.Equal(a.leaves, b.leaves) || a.nnodes != b.nnodes {
		t.Fatal("nodes or leaves of the two copies differ")
	}
	for c := range numClasses6 {
		if !slices.Equal(a.freeNodes[c], b.freeNodes[c]) || !slices.Equal(a.freeLeaves[c], b.freeLeaves[c]) {
			t.Fatalf("free lists of class %d differ", c)
		}
	}
	if !slices.Equal(a.adj, b.adj) {
		t.Fatalf("adjacencies of the two copies differ:\n%v\n%v", a.adj, b.adj)
	}
}

func TestIPv6HiLo(t *testing.T) {
	tests := []struct {
		name   string
		addr   string
		hi, lo uint64
	}{
		{"doc", "2001:db8::1", 0x20010db800000000, 1},
		{"zero", "::", 0, 0},
		{"ones", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ^uint64(0), ^uint64(0)},
		{"mapped", "::ffff:10.1.2.3", 0, 0x0000ffff0a010203},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := netip.MustParseAddr(tt.addr)
			hi, lo := IPv6ToHiLo(a)
			if hi != tt.hi || lo != tt.lo {
				t.Fatalf("IPv6ToHiLo(%s) = %#x, %#x; want %#x, %#x", a, hi, lo, tt.hi, tt.lo)
			}
			if back := HiLoToIPv6(hi, lo); back != a {
				t.Fatalf("HiLoToIPv6 = %s, want %s", back, a)
			}
		})
	}
	if hi, lo := IPv6ToHiLo(netip.MustParseAddr("10.1.2.3")); hi != 0 || lo != 0x0000ffff0a010203 {
		t.Errorf("IPv4 address not mapped: %#x %#x", hi, lo)
	}
}

// TestIPv6TableSteps drives a raw table through inserts and removes (with
// the node-local cover the RIB would pass) and checks lookups and node use
// after each step.
func TestIPv6TableSteps(t *testing.T) {
	type step struct {
		del       bool
		prefix    string
		idx       uint32 // insert: adjacency
		cover     uint32 // remove: mkDef of the node-local cover, or 0
		wantNodes int
		want      map[string]uint32 // address -> adjacency index
	}
	steps := []step{
		{prefix: "2001:db8::/32", idx: 1, wantNodes: 2, want: map[string]uint32{"2001:db8::": 1, "2001:db8:ffff:ffff::1": 1, "2001:db7:ffff::": 0, "2001:db9::": 0}},
		{prefix: "2001:db8:1::/48", idx: 2, wantNodes: 4, want: map[string]uint32{"2001:db8:1::5": 2, "2001:db8:0:ffff::": 1, "2001:db8:2::": 1}},
		// A prefix on the direct table's boundary, and one above it that
		// must reach the defs of nodes below without hiding longer routes.
		{prefix: "2001::/16", idx: 3, wantNodes: 4, want: map[string]uint32{"2001:1::": 3, "2001:db8:1::": 2, "2001:db8::": 1}},
		{prefix: "2000::/3", idx: 4, wantNodes: 4, want: map[string]uint32{"2002::": 4, "3fff::": 4, "2001::": 3, "4000::": 0, "1fff::": 0}},
		{prefix: "2001:db8:1:2:3:4:5:6/128", idx: 5, wantNodes: 14, want: map[string]uint32{"2001:db8:1:2:3:4:5:6": 5, "2001:db8:1:2:3:4:5:7": 2}},
		{prefix: "2001:db8:1:2:3:4:5:4/127", idx: 6, wantNodes: 14, want: map[string]uint32{"2001:db8:1:2:3:4:5:4": 6, "2001:db8:1:2:3:4:5:5": 6, "2001:db8:1:2:3:4:5:6": 5}},
		// Replacing a route changes only its own slots and inheritors.
		{prefix: "2001::/16", idx: 7, wantNodes: 14, want: map[string]uint32{"2001:1::": 7, "2001:db8:1::": 2}},
		{prefix: "2001:db8::/33", idx: 8, wantNodes: 14, want: map[string]uint32{"2001:db8::": 8, "2001:db8:8000::": 1, "2001:db8:1::": 2}},
		{prefix: "2001:db8:2::/47", idx: 9, wantNodes: 14, want: map[string]uint32{"2001:db8:2::": 9, "2001:db8:3:ffff::": 9, "2001:db8:1::": 2, "2001:db8:4::": 8}},
		// Removes restore the cover: node-local (the /33 under the /47),
		// or the node's def (the /32 under the /33).
		{del: true, prefix: "2001:db8:2::/47", cover: mkDef(8, 33), wantNodes: 14, want: map[string]uint32{"2001:db8:2::": 8, "2001:db8:1::": 2}},
		{del: true, prefix: "2001:db8::/33", wantNodes: 14, want: map[string]uint32{"2001:db8::": 1, "2001:db8:1::": 2}},
		{del: true, prefix: "2001:db8:1::/48", wantNodes: 14, want: map[string]uint32{"2001:db8:1::": 1, "2001:db8:1:2:3:4:5:6": 5, "2001:db8:1:2:3:4:5:7": 1}},
		{del: true, prefix: "2001:db8::/32", wantNodes: 14, want: map[string]uint32{"2001:db8:1::": 7, "2001:db8:1:2:3:4:5:6": 5}},
		{del: true, prefix: "2001:db8:1:2:3:4:5:6/128", wantNodes: 14, want: map[string]uint32{"2001:db8:1:2:3:4:5:6": 7, "2001:db8:1:2:3:4:5:5": 6}},
		{del: true, prefix: "2001:db8:1:2:3:4:5:4/127", wantNodes: 0, want: map[string]uint32{"2001:db8:1:2:3:4:5:6": 7}},
		{del: true, prefix: "2001::/16", cover: mkDef(4, 3), wantNodes: 0, want: map[string]uint32{"2001::": 4}},
		// The extremes: /0 and /128 at both ends of the address space.
		{prefix: "::/0", idx: 10, want: map[string]uint32{"::": 10, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff": 10, "2001::": 4}},
		{prefix: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", idx: 11, wantNodes: 14, want: map[string]uint32{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff": 11, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe": 10}},
		{prefix: "::/128", idx: 12, wantNodes: 28, want: map[string]uint32{"::": 12, "::1": 10}},
		{del: true, prefix: "::/0", wantNodes: 28, want: map[string]uint32{"::1": 0, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe": 0, "2001::": 4}},
		{del: true, prefix: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", wantNodes: 14, want: map[string]uint32{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff": 0}},
		{del: true, prefix: "::/128", wantNodes: 0, want: map[string]uint32{"::": 0}},
	}
	tbl := newIPv6Table()
	tbl.setAdj(12, Adjacency6{}) // make the indices used above valid for checkTable6
	for i, s := range steps {
		p := netip.MustParsePrefix(s.prefix)
		hi, lo := IPv6ToHiLo(p.Addr())
		if s.del {
			tbl.remove(hi, lo, p.Bits(), s.cover)
		} else {
			tbl.insert(hi, lo, p.Bits(), s.idx)
		}
		for a, want := range s.want {
			if got := tbl.Lookup(addr6(a)); got != want {
				t.Errorf("step %d (del=%v %s): Lookup(%s) = %d, want %d", i, s.del, s.prefix, a, got, want)
			}
		}
		if tbl.nnodes != s.wantNodes {
			t.Errorf("step %d (del=%v %s): %d nodes, want %d", i, s.del, s.prefix, tbl.nnodes, s.wantNodes)
		}
		checkTable6(t, tbl)
	}
	// Released blocks are reused before the arrays grow.
	grown, grownLeaves := len(tbl.nodes), len(tbl.leaves)
	tbl.insert(0x20010db800000000, 0, 64, 1)
	if len(tbl.nodes) != grown || len(tbl.leaves) != grownLeaves {
		t.Errorf("arrays grew (%d -> %d nodes, %d -> %d leaves) instead of reusing free blocks",
			grown, len(tbl.nodes), grownLeaves, len(tbl.leaves))
	}
}

// TestIPv6TableWideNode fills one node's 256 slots with children and
// leaves in every pattern, so that blocks change size class both ways.
func TestIPv6TableWideNode(t *testing.T) {
	r, _ := newTestRIB6(t)
	ref := newRefRIB6()
	rng := rand.New(rand.NewPCG(3, 4))
	var addrs [][2]uint64
	var ps []netip.Prefix
	for v := range 256 {
		// /48s below 2001:db8:00vv::/40 make slot v of the /32 node a child.
		p := prefixOf6(key6{0x20010db800000000 | uint64(v)<<24 | uint64(rng.IntN(256))<<16, 0}, 48)
		q := prefixOf6(key6{0x20010db800000000 | uint64(v)<<24, 0}, 40)
		ps = append(ps, p, q)
		addrs = append(addrs, edges6(p)...)
		addrs = append(addrs, edges6(q)...)
	}
	order := rng.Perm(len(ps))
	for _, i := range order {
		rt := Route6{ps[i], conn6(int32(i % 5))}
		mustAdd6(t, r, rt)
		ref.add(rt.Prefix, rt.Adj)
	}
	checkLookups6(t, "filled", r.Active(), ref, addrs)
	checkTable6(t, r.Active())
	checkSameTables6(t, r.tables[0], r.tables[1])
	for _, i := range rng.Perm(len(ps)) {
		if err := r.Del(ps[i]); err != nil {
			t.Fatal(err)
		}
		ref.del(ps[i])
		if i%16 == 0 {
			checkLookups6(t, "emptying", r.Active(), ref, addrs)
			checkTable6(t, r.Active())
		}
	}
	for i, tbl := range r.tables {
		if tbl.nnodes != 0 {
			t.Errorf("copy %d: %d nodes left", i, tbl.nnodes)
		}
	}
	checkSameTables6(t, r.tables[0], r.tables[1])
}

func TestIPv6LookupNoAllocs(t *testing.T) {
	r, _ := newTestRIB6(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var routes []Route6
	for i, p := range randomPrefixes6(rng, 200) {
		routes = append(routes, Route6{p, conn6(int32(i % 4))})
	}
	if err := r.AddBatch(routes); err != nil {
		t.Fatal(err)
	}
	tbl := r.Active()
	hi := make([]uint64, 256)
	lo := make([]uint64, 256)
	for i := range hi {
		hi[i], lo[i] = hostIn6(rng, routes[rng.IntN(len(routes))].Prefix)
	}
	out := make([]uint32, 256)
	var sink uint32
	if n := testing.AllocsPerRun(100, func() {
		for i := range hi {
			sink += tbl.Lookup(hi[i], lo[i])
		}
		tbl.LookupBatch(hi, lo, out)
		sink += uint32(tbl.Adj(out[0]).Ifindex)
	}); n != 0 {
		t.Errorf("lookups allocate %v times per run", n)
	}
	_ = sink
}
