package fwd

// Table entry layout (uint32), shared by tbl24 and tbl8 entries:
//
//	bit  31     entExt: tbl24 only, the low 24 bits are a tbl8 group number
//	bits 24..29 length of the prefix the entry came from (0..32)
//	bits 0..23  adjacency index (or tbl8 group number when entExt is set)
//
// Keeping the prefix length in the entry lets insert keep more specific
// routes (overwrite only entries of length <= the new one) and lets remove
// find exactly the entries of the deleted prefix (length == its length).
// No route is index 0 with length 0, i.e. a zero entry, so a new table
// needs no initialisation.
const (
	entExt     = 1 << 31
	lenShift   = 24
	lenMask    = 0x3f
	entIdxMask = 1<<24 - 1

	// MaxAdjacencies bounds the number of distinct adjacencies a table can
	// hold: an index must fit in the 24 low bits of an entry. In practice
	// adjacencies number in the thousands (one per next hop).
	MaxAdjacencies = 1 << 24

	// tbl8Size is the number of entries per tbl8 group: one per value of
	// the address's last byte.
	tbl8Size = 256
	// maxTbl8Groups keeps group numbers within entIdxMask.
	maxTbl8Groups = 1 << 24
)

func mkEntry(idx uint32, plen int) uint32 { return uint32(plen)<<lenShift | idx }

func entLen(e uint32) int { return int(e>>lenShift) & lenMask }

// IPv4Table is one copy of the IPv4 longest-prefix-match structure
// (DIR-24-8) together with the adjacencies its entries point to.
//
// Forwarding threads read a table without locks through Lookup,
// LookupBatch and Adj. Only [IPv4RIB] changes a table, and only while no
// thread reads it (see the package documentation), so a table a thread
// has been given is stable until that thread acknowledges the next one.
type IPv4Table struct {
	// tbl24 maps the top 24 bits of an address to an entry. An array
	// pointer rather than a slice, so that indexing with dst>>8 needs no
	// bounds check.
	tbl24 *[1 << 24]uint32
	// tbl8 holds the groups of 256 entries for the /24s that contain
	// prefixes longer than /24; group g is tbl8[g*256 : g*256+256].
	tbl8 []uint32
	// free8 lists tbl8 groups released by collapse, reused before tbl8
	// grows, so that deleting routes does not leak groups.
	free8 []uint32
	// adj is this copy's adjacency array, indexed by the entries. Index 0
	// is the zero Adjacency (drop). Each copy owns its slice, so growing it
	// never affects a copy that threads are reading.
	adj []Adjacency
}

func newIPv4Table() *IPv4Table {
	return &IPv4Table{
		tbl24: new([1 << 24]uint32),
		adj:   make([]Adjacency, 1, 16),
	}
}

// Lookup returns the index of the adjacency for destination dst (host
// byte order): the adjacency of the longest matching prefix, or 0 (drop)
// if no route matches. Use Adj to get the adjacency itself.
func (t *IPv4Table) Lookup(dst uint32) uint32 {
	e := t.tbl24[dst>>8]
	if e&entExt != 0 {
		e = t.tbl8[(e&entIdxMask)<<8|dst&0xff]
	}
	return e & entIdxMask
}

// LookupBatch stores in out[i] the adjacency index for dst[i], for every
// i < len(dst); out must be at least as long as dst. It first loads every
// tbl24 entry and then resolves the tbl8 ones, so that the independent
// (mostly cache-missing) loads of a vector overlap instead of queueing
// behind the branch on each result.
func (t *IPv4Table) LookupBatch(dst []uint32, out []uint32) {
	out = out[:len(dst)]
	tbl24 := t.tbl24
	for i, d := range dst {
		out[i] = tbl24[d>>8]
	}
	tbl8 := t.tbl8
	for i, e := range out {
		if e&entExt != 0 {
			e = tbl8[(e&entIdxMask)<<8|dst[i]&0xff]
		}
		out[i] = e & entIdxMask
	}
}

// Adj returns the adjacency with index i, as returned by Lookup. The
// pointer stays valid as long as the table does (until the thread
// acknowledges a newer table); callers must not modify the adjacency.
func (t *IPv4Table) Adj(i uint32) *Adjacency {
	return &t.adj[i]
}

// MemBytes approximates the memory held by this copy, in bytes.
func (t *IPv4Table) MemBytes() int {
	const adjSize = 24 // Kind (padded to 4), Ifindex, NextHop, Group (padded to 8)
	return len(t.tbl24)*4 + cap(t.tbl8)*4 + cap(t.free8)*4 + cap(t.adj)*adjSize
}

// numTbl8 returns the number of tbl8 groups in use.
func (t *IPv4Table) numTbl8() int { return len(t.tbl8)/tbl8Size - len(t.free8) }

// setAdj stores adjacency a at index i, growing the adjacency array as
// needed. The table must be one no thread reads.
func (t *IPv4Table) setAdj(i uint32, a Adjacency) {
	t.adj = setAt(t.adj, i, a)
}

// insert makes prefix addr/plen resolve to adjacency idx, keeping every
// more specific prefix. It also replaces an existing addr/plen. The table
// must be one no thread reads.
func (t *IPv4Table) insert(addr uint32, plen int, idx uint32) {
	e := mkEntry(idx, plen)
	if plen <= 24 {
		first := addr >> 8
		last := first + 1<<(24-plen) - 1
		for i := first; ; i++ {
			old := t.tbl24[i]
			if old&entExt != 0 {
				// The group keeps its entries longer than plen, so it
				// cannot become collapsible here.
				fillGroup(t.group(old), 0, tbl8Size, e, plen, false)
			} else if entLen(old) <= plen {
				t.tbl24[i] = e
			}
			if i == last { // last may be 1<<24-1: avoid wrapping i
				break
			}
		}
		return
	}
	i := addr >> 8
	old := t.tbl24[i]
	if old&entExt == 0 {
		old = entExt | t.allocGroup(old)
		t.tbl24[i] = old
	}
	fillGroup(t.group(old), int(addr&0xff), 1<<(32-plen), e, plen, false)
}

// remove deletes prefix addr/plen: its entries revert to the covering
// route (adjacency coverIdx, prefix length coverLen; 0, 0 when none). The
// table must be one no thread reads.
func (t *IPv4Table) remove(addr uint32, plen int, coverIdx uint32, coverLen int) {
	e := mkEntry(coverIdx, coverLen)
	if plen <= 24 {
		first := addr >> 8
		last := first + 1<<(24-plen) - 1
		for i := first; ; i++ {
			old := t.tbl24[i]
			if old&entExt != 0 {
				// Entries longer than /24 remain, so no collapse.
				fillGroup(t.group(old), 0, tbl8Size, e, plen, true)
			} else if entLen(old) == plen {
				t.tbl24[i] = e
			}
			if i == last {
				break
			}
		}
		return
	}
	i := addr >> 8
	old := t.tbl24[i]
	if old&entExt == 0 {
		return // the RIB never removes a prefix it did not insert
	}
	g := t.group(old)
	fillGroup(g, int(addr&0xff), 1<<(32-plen), e, plen, true)
	// Once the /24 holds no prefix longer than /24, every entry equals the
	// covering route: put it back in tbl24 and free the group.
	first := g[0]
	if entLen(first) > 24 {
		return
	}
	for _, x := range g {
		if x != first {
			return
		}
	}
	t.tbl24[i] = first
	t.free8 = append(t.free8, old&entIdxMask)
}

// fillGroup writes e into g[lo:lo+n]: into the entries whose prefix length
// is <= plen when inserting, or exactly plen when removing.
func fillGroup(g []uint32, lo, n int, e uint32, plen int, removing bool) {
	g = g[lo : lo+n]
	for j, old := range g {
		l := entLen(old)
		if l == plen || (!removing && l < plen) {
			g[j] = e
		}
	}
}

// group returns the tbl8 group that tbl24 entry e points to.
func (t *IPv4Table) group(e uint32) []uint32 {
	g := int(e&entIdxMask) * tbl8Size
	return t.tbl8[g : g+tbl8Size : g+tbl8Size]
}

// allocGroup returns the number of a tbl8 group whose entries all equal
// fill (the tbl24 entry it replaces).
func (t *IPv4Table) allocGroup(fill uint32) uint32 {
	var g uint32
	if n := len(t.free8); n > 0 {
		g = t.free8[n-1]
		t.free8 = t.free8[:n-1]
	} else {
		n := len(t.tbl8) / tbl8Size
		if n >= maxTbl8Groups {
			panic("fwd: IPv4 table out of tbl8 groups")
		}
		g = uint32(n)
		t.tbl8 = append(t.tbl8, make([]uint32, tbl8Size)...)
	}
	grp := t.group(g)
	for j := range grp {
		grp[j] = fill
	}
	return g
}
