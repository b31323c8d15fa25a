package fwd

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// prefixCmp lets cmp compare netip values, whose fields are unexported.
var prefixCmp = cmp.Options{
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
}

// refRIB is the brute-force reference the tables are checked against: a
// plain map of routes, searched from /32 down to /0.
type refRIB map[uint64]Adjacency

func (m refRIB) add(p netip.Prefix, a Adjacency) {
	m[sortKey(IPv4ToU32(p.Addr()), p.Bits())] = a
}

func (m refRIB) del(p netip.Prefix) { delete(m, sortKey(IPv4ToU32(p.Addr()), p.Bits())) }

// lookup returns the longest match for ip (the zero Adjacency if none).
func (m refRIB) lookup(ip uint32) (Adjacency, netip.Prefix, bool) {
	for plen := 32; plen >= 0; plen-- {
		a := ip & lenToMask(plen)
		if adj, ok := m[sortKey(a, plen)]; ok {
			return adj, prefixOf(a, plen), true
		}
	}
	return Adjacency{}, netip.Prefix{}, false
}

// routes returns the reference's routes in listing order.
func (m refRIB) routes() []Route {
	keys := make([]uint64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]Route, len(keys))
	for i, k := range keys {
		addr, plen := splitKey(k)
		out[i] = Route{Prefix: prefixOf(addr, plen), Adj: m[k]}
	}
	return out
}

// edges returns the addresses where a lookup result can change around p:
// its first and last address and their outside neighbours.
func edges(p netip.Prefix) []uint32 {
	first := IPv4ToU32(p.Addr())
	last := first | ^lenToMask(p.Bits())
	return []uint32{first, last, first - 1, last + 1}
}

// checkLookups compares the table's answers for addrs with the reference.
// It stops the test after a few mismatches.
func checkLookups(t *testing.T, what string, tbl *IPv4Table, ref refRIB, addrs []uint32) {
	t.Helper()
	bad := 0
	for _, ip := range addrs {
		want, wp, _ := ref.lookup(ip)
		if got := *tbl.Adj(tbl.Lookup(ip)); got != want {
			t.Errorf("%s: lookup %s = %v, want %v (route %v)", what, U32ToIPv4(ip), got, want, wp)
			if bad++; bad >= 5 {
				t.FailNow()
			}
		}
	}
}

// checkTable verifies the DIR-24-8 invariants: every tbl8 group in use is
// referenced by exactly one tbl24 entry and is not on the free list, no
// group could be collapsed (so deletes do not leak groups), and every
// entry's adjacency index is within the adjacency array.
func checkTable(t *testing.T, tbl *IPv4Table) {
	t.Helper()
	ngroups := len(tbl.tbl8) / tbl8Size
	free := make([]bool, ngroups)
	for _, g := range tbl.free8 {
		if free[g] {
			t.Fatalf("tbl8 group %d on the free list twice", g)
		}
		free[g] = true
	}
	used := make([]bool, ngroups)
	nused := 0
	for i, e := range tbl.tbl24 {
		if e&entExt == 0 {
			if int(e&entIdxMask) >= len(tbl.adj) || entLen(e) > 24 {
				t.Fatalf("tbl24[%#x] = %#x: bad index or length", i, e)
			}
			continue
		}
		g := e & entIdxMask
		if int(g) >= ngroups || free[g] || used[g] {
			t.Fatalf("tbl24[%#x] -> group %d: out of range, free or shared", i, g)
		}
		used[g] = true
		nused++
		grp := tbl.group(g)
		uniform := true
		for _, x := range grp {
			if x&entExt != 0 || int(x&entIdxMask) >= len(tbl.adj) {
				t.Fatalf("group %d entry %#x: bad entry", g, x)
			}
			uniform = uniform && x == grp[0]
		}
		if uniform && entLen(grp[0]) <= 24 {
			t.Fatalf("group %d (tbl24[%#x]) should have been collapsed", g, i)
		}
	}
	if nused != tbl.numTbl8() {
		t.Fatalf("%d groups referenced, numTbl8() = %d", nused, tbl.numTbl8())
	}
}

// checkSameTables fails unless the two copies are identical.
func checkSameTables(t *testing.T, a, b *IPv4Table) {
	t.Helper()
	if a == b {
		t.Fatal("both copies are the same object")
	}
	if *a.tbl24 != *b.tbl24 {
		t.Fatal("tbl24 of the two copies differ")
	}
	if !slices.Equal(a.tbl8, b.tbl8) || !slices.Equal(a.free8, b.free8) {
		t.Fatal("tbl8 of the two copies differ")
	}
	if !slices.Equal(a.adj, b.adj) {
		t.Fatalf("adjacencies of the two copies differ:\n%v\n%v", a.adj, b.adj)
	}
}

// countingPublish returns a publish function that records the tables it
// is given and checks the protocol: it is never handed the table the
// threads already use.
type countingPublish struct {
	t      *testing.T
	calls  int
	active *IPv4Table
}

func (c *countingPublish) publish(tbl *IPv4Table) {
	if tbl == c.active {
		c.t.Errorf("publish call %d: table already active", c.calls+1)
	}
	c.calls++
	c.active = tbl
}
