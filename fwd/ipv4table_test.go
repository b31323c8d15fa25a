package fwd

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func ip(s string) uint32 { return IPv4ToU32(netip.MustParseAddr(s)) }

// TestIPv4TableSteps drives a raw table through inserts and removes (with
// the covering route the RIB would pass) and checks lookups, tbl8 group
// use and collapse after each step.
func TestIPv4TableSteps(t *testing.T) {
	type op struct {
		del        bool
		prefix     string
		idx        uint32 // insert: adjacency; remove: cover's adjacency
		coverLen   int    // remove only
		wantGroups int
		want       map[string]uint32 // address -> adjacency index
	}
	steps := []op{
		{prefix: "10.0.0.0/8", idx: 1, want: map[string]uint32{"10.0.0.0": 1, "10.255.255.255": 1, "9.255.255.255": 0, "11.0.0.0": 0}},
		{prefix: "10.1.0.0/16", idx: 2, want: map[string]uint32{"10.1.2.3": 2, "10.0.255.255": 1, "10.2.0.0": 1}},
		{prefix: "10.1.2.128/25", idx: 3, wantGroups: 1, want: map[string]uint32{"10.1.2.127": 2, "10.1.2.128": 3, "10.1.2.255": 3, "10.1.3.0": 2}},
		{prefix: "10.1.2.130/32", idx: 4, wantGroups: 1, want: map[string]uint32{"10.1.2.129": 3, "10.1.2.130": 4, "10.1.2.131": 3}},
		// A shorter route added later must not hide the longer ones, in
		// tbl24 or inside a group.
		{prefix: "10.1.2.0/24", idx: 5, wantGroups: 1, want: map[string]uint32{"10.1.2.0": 5, "10.1.2.127": 5, "10.1.2.130": 4, "10.1.2.200": 3, "10.1.3.0": 2}},
		// Replacing a route changes only its own entries.
		{prefix: "10.0.0.0/8", idx: 6, wantGroups: 1, want: map[string]uint32{"10.0.0.0": 6, "10.1.2.0": 5, "10.1.2.130": 4, "10.1.0.0": 2}},
		// A group in a /24 without covering route holds length-0 entries
		// that a later short route must fill.
		{prefix: "11.1.1.0/26", idx: 7, wantGroups: 2, want: map[string]uint32{"11.1.1.63": 7, "11.1.1.64": 0}},
		{prefix: "11.0.0.0/8", idx: 8, wantGroups: 2, want: map[string]uint32{"11.1.1.63": 7, "11.1.1.64": 8, "11.200.0.0": 8}},
		// Removes restore the covering route and collapse empty groups.
		{del: true, prefix: "10.1.2.130/32", idx: 3, coverLen: 25, wantGroups: 2, want: map[string]uint32{"10.1.2.130": 3}},
		{del: true, prefix: "10.1.2.128/25", idx: 5, coverLen: 24, wantGroups: 1, want: map[string]uint32{"10.1.2.130": 5, "10.1.2.0": 5}},
		{del: true, prefix: "10.1.2.0/24", idx: 2, coverLen: 16, wantGroups: 1, want: map[string]uint32{"10.1.2.130": 2}},
		{del: true, prefix: "11.0.0.0/8", wantGroups: 1, want: map[string]uint32{"11.1.1.0": 7, "11.1.1.64": 0, "11.200.0.0": 0}},
		{del: true, prefix: "11.1.1.0/26", wantGroups: 0, want: map[string]uint32{"11.1.1.0": 0}},
		// The extremes: /0 and /32 at both ends of the address space (the
		// tbl24 loop must stop at the last entry without wrapping).
		{prefix: "0.0.0.0/0", idx: 9, want: map[string]uint32{"0.0.0.0": 9, "255.255.255.255": 9, "10.1.2.3": 2, "10.7.0.0": 6}},
		{prefix: "255.255.255.255/32", idx: 10, wantGroups: 1, want: map[string]uint32{"255.255.255.255": 10, "255.255.255.254": 9}},
		{prefix: "0.0.0.0/32", idx: 11, wantGroups: 2, want: map[string]uint32{"0.0.0.0": 11, "0.0.0.1": 9}},
		{prefix: "128.0.0.0/1", idx: 12, wantGroups: 2, want: map[string]uint32{"255.255.255.255": 10, "255.255.255.254": 12, "127.255.255.255": 9}},
		{del: true, prefix: "0.0.0.0/0", wantGroups: 2, want: map[string]uint32{"0.0.0.1": 0, "255.255.255.254": 12, "10.1.2.3": 2}},
		{del: true, prefix: "255.255.255.255/32", idx: 12, coverLen: 1, wantGroups: 1, want: map[string]uint32{"255.255.255.255": 12}},
		{del: true, prefix: "0.0.0.0/32", wantGroups: 0, want: map[string]uint32{"0.0.0.0": 0}},
	}
	tbl := newIPv4Table()
	tbl.setAdj(12, Adjacency{}) // make the indices used above valid for checkTable
	for i, s := range steps {
		p := netip.MustParsePrefix(s.prefix)
		addr, plen := IPv4ToU32(p.Addr()), p.Bits()
		if s.del {
			tbl.remove(addr, plen, s.idx, s.coverLen)
		} else {
			tbl.insert(addr, plen, s.idx)
		}
		for a, want := range s.want {
			if got := tbl.Lookup(ip(a)); got != want {
				t.Errorf("step %d (del=%v %s): Lookup(%s) = %d, want %d", i, s.del, s.prefix, a, got, want)
			}
		}
		if got := tbl.numTbl8(); got != s.wantGroups {
			t.Errorf("step %d (del=%v %s): %d tbl8 groups, want %d", i, s.del, s.prefix, got, s.wantGroups)
		}
	}
	checkTable(t, tbl)
	// Collapsed groups are reused before tbl8 grows.
	grown := len(tbl.tbl8)
	tbl.insert(ip("192.0.2.0"), 28, 1)
	if len(tbl.tbl8) != grown || tbl.numTbl8() != 1 {
		t.Errorf("tbl8 grew from %d to %d entries instead of reusing a free group", grown, len(tbl.tbl8))
	}
}

func TestIPv4TableAdj(t *testing.T) {
	tbl := newIPv4Table()
	if got := *tbl.Adj(0); got != (Adjacency{}) {
		t.Fatalf("Adj(0) = %v, want drop", got)
	}
	gw := Adjacency{Kind: AdjGateway, Ifindex: 2, NextHop: ip("10.2.0.1")}
	tbl.setAdj(5, gw)
	if len(tbl.adj) != 6 || *tbl.Adj(5) != gw || *tbl.Adj(3) != (Adjacency{}) {
		t.Fatalf("after setAdj(5): adj = %v", tbl.adj)
	}
	tbl.setAdj(2, Adjacency{Kind: AdjLocal, Ifindex: 1})
	if len(tbl.adj) != 6 || tbl.Adj(2).Kind != AdjLocal {
		t.Fatalf("after setAdj(2): adj = %v", tbl.adj)
	}
	if mb := tbl.MemBytes(); mb < 64<<20 || mb > 65<<20 {
		t.Errorf("MemBytes() = %d, want about 64 MiB", mb)
	}
}

// TestIPv4TableLookupBatch checks that LookupBatch agrees with Lookup,
// including tbl8 entries, and writes only len(dst) results.
func TestIPv4TableLookupBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tbl := newIPv4Table()
	for i := range 2000 {
		plen := 16 + rng.IntN(17)
		tbl.insert(rng.Uint32()&0x0fffffff&lenToMask(plen), plen, uint32(i%50)+1)
	}
	for _, n := range []int{0, 1, 7, 256} {
		dst := make([]uint32, n)
		for i := range dst {
			// Half of the addresses inside routed space.
			dst[i] = rng.Uint32() & (0x0fffffff | uint32(i&1)<<31)
		}
		out := make([]uint32, n+1)
		out[n] = 12345
		tbl.LookupBatch(dst, out)
		for i, d := range dst {
			if want := tbl.Lookup(d); out[i] != want {
				t.Fatalf("n=%d: LookupBatch[%d] (%s) = %d, Lookup = %d", n, i, U32ToIPv4(d), out[i], want)
			}
		}
		if out[n] != 12345 {
			t.Fatalf("n=%d: LookupBatch wrote past len(dst)", n)
		}
	}
}

func TestIPv4TableNoAllocs(t *testing.T) {
	tbl := newIPv4Table()
	tbl.insert(ip("10.1.2.0"), 25, 1)
	tbl.setAdj(1, Adjacency{Kind: AdjConnected, Ifindex: 1})
	dst := make([]uint32, 256)
	out := make([]uint32, 256)
	for i := range dst {
		dst[i] = ip("10.1.2.0") + uint32(i)
	}
	var sink uint32
	allocs := testing.AllocsPerRun(100, func() {
		sink += tbl.Lookup(dst[3])
		tbl.LookupBatch(dst, out)
		sink += uint32(tbl.Adj(out[5]).Ifindex)
	})
	if allocs != 0 {
		t.Fatalf("lookups allocate %v times per run, want 0", allocs)
	}
	if sink == 0 {
		t.Fatal("lookups found nothing")
	}
}

// randomPrefixes returns n distinct prefixes that overlap a lot: they
// are drawn around a few /24s, with lengths /8../32, plus a few short ones
// (/0../7, which touch millions of entries, so few).
func randomPrefixes(rng *rand.Rand, n int) []netip.Prefix {
	var bases [24]uint32
	for i := range bases {
		// A few /16s hold several of the /24s, so /17../23 overlap too.
		bases[i] = (0x0a000000 | uint32(rng.IntN(3))<<16 | uint32(rng.IntN(256))<<8) + uint32(i%3)<<20
	}
	seen := map[netip.Prefix]bool{}
	var out []netip.Prefix
	for _, plen := range []int{0, 3, 7} {
		p := prefixOf(bases[rng.IntN(len(bases))]&lenToMask(plen), plen)
		seen[p] = true
		out = append(out, p)
	}
	for len(out) < n {
		plen := 8 + rng.IntN(25)
		a := (bases[rng.IntN(len(bases))] | uint32(rng.IntN(256))) & lenToMask(plen)
		if p := prefixOf(a, plen); !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}
