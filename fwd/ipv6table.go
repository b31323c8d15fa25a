package fwd

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
)

// IPv6 lookup structure: a direct-indexed first level on the top 16 bits
// of the destination, then multibit trie nodes of stride 8 compressed
// poptrie-style (a 256-bit child bitmap and a 256-bit leaf-run bitmap,
// children and leaves in contiguous blocks found by popcount).
//
// Why this structure (measured on the tier1 table: 160k IPv6 prefixes,
// mostly /29../48, a few /64 and /128):
//
//   - DIR-24-8, as for IPv4, does not carry over: a 2^24 first level is
//     64 MiB per copy, and the bits below /24 still need several levels.
//     A 2^16 direct table is 256 KiB (in L2), and almost no IPv6 route is
//     shorter than /16.
//   - Uncompressed 256-entry nodes below it would be ~1 KiB each, about
//     40 MiB per copy for this table; compressed ones take about 8 MiB, so
//     the whole copy stays in the L3 cache. Nodes are two aligned cache
//     lines; a lookup passing through a node reads one line and does one
//     popcount (per-word counts are precomputed), a lookup ending in it
//     reads the second line, which also holds up to 8 leaf runs inline
//     (the common case), so a /48 costs the direct entry and four lines.
//   - Tree bitmap stores the prefixes of a node unexpanded and needs a
//     longest-match search inside each node (bart works this way);
//     leaf-pushing within the node makes the last step a single rank.
//   - Poptrie pushes leaves across levels too, so adding or deleting a
//     short route rewrites every node below it. Here each node holds only
//     the prefixes ending inside it plus a def word, the longest shorter
//     prefix covering it: a change edits one node's leaf runs (a few runs
//     on average) and the def of the nodes below that inherited the
//     route, which keeps the median update at a few microseconds.
//   - DXR range tables are more compact still, but a lookup binary-searches
//     128-bit range keys (2001::/16 alone holds thousands of ranges), and
//     an update rebuilds the whole chunk.
//
// Measured and dropped (BenchmarkIPv6LookupInterleaved, same machine,
// minutes apart): expanding the leaves of nodes with more than 8 runs to
// one per slot (no gain, +8.5 MiB); putting the leaf lines in a separate
// array (no gain); a descent without data-dependent branches to /48 so
// that consecutive single lookups overlap (slower: 2.8x bart instead of
// 3.3x). A single lookup is bound by its chain of dependent cache and TLB
// misses (about five); LookupBatch, which walks a vector level by level so
// that those misses overlap, is about ten times faster per lookup and is
// what forwarding should use.
//
// Measured on the tier1 IPv6 table (2 shared vCPUs, load average 10-24
// during the runs, so medians of interleaved chunks; see the benchmarks):
// r2 single lookups 3.2-3.5x bart's lookups/s (2.2x bart.Fast), batched
// over 256 22-28x bart (15-18x bart.Fast); a route delete or add 3.2-3.8
// us median, p99 12-35 us of CPU; the whole table loaded in 0.2-0.26 s
// of CPU (0.5-2.2 s wall on the loaded machine); 16.8 MiB for both
// copies.
//
// Entry layouts (uint32):
//
//	direct entry   bit 31 e6Node: the low 31 bits are a node index
//	               else bits 24..28 prefix length (0..16), bits 0..23 adjacency
//	node def       bits 24..31 prefix length (0..128), bits 0..23 adjacency
//	node leaf      bits 24..27 prefix length minus the node's level (1..8),
//	               bits 0..23 adjacency; 0 means "no prefix inside this node
//	               covers the slot": the answer is the node's def
//
// A node at level L (16, 24, ..., 120) decides on address bits L..L+7 and
// holds the prefixes of length L+1..L+8 that fall inside it, leaf-pushed
// within the node only. Its def is the longest prefix of length <= L that
// covers it, so a route change touches one node, plus the defs (a single
// word each) of the nodes below it that inherited the changed route.
const (
	e6Node     = 1 << 31
	e6LenShift = 24
	adj6Mask   = 1<<24 - 1

	// direct6Bits is the width of the first level: 2^16 entries (256 KiB)
	// stay in the L2 cache, and no IPv6 route shorter than /16 is common,
	// so nearly every prefix starts below the first level.
	direct6Bits = 16
	// stride6 bits per node: two 256-bit bitmaps and the rest fit two
	// cache lines, and a /48 (half the Internet table) is reached in four
	// nodes.
	stride6 = 8

	// numClasses6 is the number of power-of-two block sizes (1..256) of
	// the node and leaf allocators.
	numClasses6 = 9
)

// node6 is one stride-8 trie node. Slot v (the address byte at the
// node's level) is a child if vec has bit v, else a leaf: the leaves are
// run-length compressed, leafvec marking each slot (child slots skipped)
// whose leaf differs from the previous leaf slot's.
//
// A node is two cache lines: the first holds everything a lookup passing
// through needs (vec, base1 and the per-word popcounts vcum, so that a
// rank is one popcount), the second the leaf bitmap, read only by the
// lookup that ends in this node. The node array is page-aligned (Go
// allocates large arrays in whole pages), so the lines are aligned too.
type node6 struct {
	// vec has bit v set if slot v is a child node; child v is
	// nodes[base1 + rank of v in vec].
	vec   [4]uint64
	base1 uint32
	// base0 is the node's first leaf in the leaves array, or inlineBase.
	base0 uint32
	// def is the longest prefix of length <= the node's level covering
	// it (length << 24 | adjacency), the answer for leaves of 0.
	def uint32
	// vcum[w] and lcum[w] are the numbers of bits set in the words of vec
	// and leafvec before word w.
	vcum [4]uint8
	lcum [4]uint8
	_    [12]byte
	// leafvec has a bit at the first leaf slot of every run of equal
	// leaves; leaf slot v is leaf number (set bits of leafvec <= v) - 1.
	leafvec [4]uint64
	// inl holds the leaves of a node with at most inlineLeaves of them
	// (base0 is then inlineBase), in the line a lookup reads anyway: most
	// nodes have a few runs, and their lookups save a cache miss.
	inl [inlineLeaves]uint32
}

const (
	inlineLeaves = 8
	inlineBase   = ^uint32(0)
)

// cum4 returns the numbers of bits of bm set before each word.
func cum4(bm *[4]uint64) [4]uint8 {
	a := bits.OnesCount64(bm[0])
	b := a + bits.OnesCount64(bm[1])
	return [4]uint8{0, uint8(a), uint8(b), uint8(b + bits.OnesCount64(bm[2]))}
}

// IPv6Table is one copy of the IPv6 longest-prefix-match structure
// together with the adjacencies its entries point to.
//
// Forwarding threads read a table without locks through Lookup,
// LookupBatch and Adj. Only [IPv6RIB] changes a table, and only while no
// thread reads it, as for [IPv4Table].
type IPv6Table struct {
	// direct maps the top 16 address bits to a direct entry.
	direct *[1 << direct6Bits]uint32
	// nodes holds every node; the children of a node are a contiguous
	// block, allocated in power-of-two sizes.
	nodes []node6
	// leaves holds every node's leaf block, likewise.
	leaves []uint32
	// freeNodes[c] and freeLeaves[c] list released blocks of 1<<c
	// entries, reused before the arrays grow.
	freeNodes  [numClasses6][]uint32
	freeLeaves [numClasses6][]uint32
	// nnodes counts the nodes in use.
	nnodes int
	// adj is this copy's adjacency array; index 0 is drop.
	adj []Adjacency6
	// runs and runs2 hold a node's leaf runs while an update edits them;
	// reused to avoid allocations.
	runs, runs2 [257]run6
}

func newIPv6Table() *IPv6Table {
	return &IPv6Table{
		direct: new([1 << direct6Bits]uint32),
		adj:    make([]Adjacency6, 1, 16),
	}
}

// rankBelow returns the number of bits of bm set at positions < v,
// without branches on v.
func rankBelow(bm *[4]uint64, v uint) int {
	w := v >> 6
	c := bits.OnesCount64(bm[w&3] & (uint64(1)<<(v&63) - 1))
	c += bits.OnesCount64(bm[0] & uint64(int64(0-w)>>63))
	c += bits.OnesCount64(bm[1] & uint64(int64(1-w)>>63))
	c += bits.OnesCount64(bm[2] & uint64(int64(2-w)>>63))
	return c
}

// rankTo returns the number of bits of bm set at positions <= v.
func rankTo(bm *[4]uint64, v uint) int {
	w := v >> 6
	c := bits.OnesCount64(bm[w&3] & (uint64(2)<<(v&63) - 1))
	c += bits.OnesCount64(bm[0] & uint64(int64(0-w)>>63))
	c += bits.OnesCount64(bm[1] & uint64(int64(1-w)>>63))
	c += bits.OnesCount64(bm[2] & uint64(int64(2-w)>>63))
	return c
}

func hasBit(bm *[4]uint64, v uint) bool { return bm[v>>6&3]&(1<<(v&63)) != 0 }

// Lookup returns the index of the adjacency for destination hi, lo (the
// address as two big-endian halves, see [IPv6ToHiLo]): the adjacency of
// the longest matching prefix, or 0 (drop) if no route matches.
func (t *IPv6Table) Lookup(hi, lo uint64) uint32 {
	e := t.direct[hi>>48]
	if e&e6Node == 0 {
		return e & adj6Mask
	}
	nodes := t.nodes
	n := &nodes[e&^e6Node]
	k, left := hi<<16, 6 // the next address bytes, top first; bytes left in k
	leaves := t.leaves
	for {
		v := uint(k >> 56)
		w, b := v>>6&3, v&63
		x := n.vec[w]
		if x&(1<<b) == 0 {
			i := int(n.lcum[w]) + bits.OnesCount64(n.leafvec[w]&(2<<b-1)) - 1
			var l uint32
			if n.base0 == inlineBase {
				l = n.inl[i&(inlineLeaves-1)]
			} else {
				l = leaves[int(n.base0)+i]
			}
			if l == 0 {
				l = n.def
			}
			return l & adj6Mask
		}
		n = &nodes[int(n.base1)+int(n.vcum[w])+bits.OnesCount64(x&(1<<b-1))]
		k <<= 8
		if left--; left == 0 {
			k = lo
		}
	}
}

// lookupVec is the batch size LookupBatch works in: a dispatch vector.
const lookupVec = 256

// LookupBatch stores in adjs[i] the adjacency index for destination
// hi[i], lo[i], for every i < len(hi); lo and adjs must be at least as
// long. It walks the batch one trie level at a time, so that the
// independent (mostly cache-missing) node loads of a vector overlap
// instead of each lookup waiting for its previous level.
func (t *IPv6Table) LookupBatch(hi, lo []uint64, adjs []uint32) {
	for len(hi) > lookupVec {
		t.lookupBatch(hi[:lookupVec], lo[:lookupVec], adjs[:lookupVec])
		hi, lo, adjs = hi[lookupVec:], lo[lookupVec:], adjs[lookupVec:]
	}
	t.lookupBatch(hi, lo, adjs)
}

func (t *IPv6Table) lookupBatch(hi, lo []uint64, out []uint32) {
	lo = lo[:len(hi)]
	out = out[:len(hi)]
	var pend [lookupVec]uint8 // batch positions still descending
	var cur [lookupVec]uint32 // their current node
	np := 0
	direct := t.direct
	for i, h := range hi {
		e := direct[h>>48]
		out[i] = e & adj6Mask
		pend[np&(lookupVec-1)] = uint8(i)
		cur[i&(lookupVec-1)] = e &^ e6Node
		np += int(e >> 31)
	}
	nodes, leaves := t.nodes, t.leaves
	for level := direct6Bits; np > 0; level += stride6 {
		m := 0
		for _, i := range pend[:np] {
			var v uint
			if level < 64 {
				v = uint(hi[i]>>(56-level)) & 0xff
			} else {
				v = uint(lo[i]>>(120-level)) & 0xff
			}
			n := &nodes[cur[i]]
			w, b := v>>6&3, v&63
			x := n.vec[w]
			if x&(1<<b) != 0 {
				cur[i] = n.base1 + uint32(n.vcum[w]) + uint32(bits.OnesCount64(x&(1<<b-1)))
				pend[m] = i
				m++
				continue
			}
			j := int(n.lcum[w]) + bits.OnesCount64(n.leafvec[w]&(2<<b-1)) - 1
			var l uint32
			if n.base0 == inlineBase {
				l = n.inl[j&(inlineLeaves-1)]
			} else {
				l = leaves[int(n.base0)+j]
			}
			if l == 0 {
				l = n.def
			}
			out[i] = l & adj6Mask
		}
		np = m
	}
}

// Adj returns the adjacency with index i, as returned by Lookup.
func (t *IPv6Table) Adj(i uint32) Adjacency6 { return t.adj[i] }

// MemBytes approximates the memory held by this copy, in bytes.
func (t *IPv6Table) MemBytes() int {
	const nodeSize, adjSize = 128, 32 // Adjacency6: Kind, Ifindex, NextHop, Group
	n := len(t.direct)*4 + cap(t.nodes)*nodeSize + cap(t.leaves)*4 + cap(t.adj)*adjSize
	for c := range numClasses6 {
		n += cap(t.freeNodes[c])*4 + cap(t.freeLeaves[c])*4
	}
	return n
}

// setAdj stores adjacency a at index i, growing the adjacency array as
// needed. The table must be one no thread reads.
func (t *IPv6Table) setAdj(i uint32, a Adjacency6) {
	t.adj = setAt(t.adj, i, a)
}

// byteAt returns the address byte a node at level decides on.
func byteAt(hi, lo uint64, level int) uint {
	if level < 64 {
		return uint(hi>>(56-level)) & 0xff
	}
	return uint(lo>>(120-level)) & 0xff
}

// nodeLevel returns the level of the node that holds prefixes of length
// plen > 16: the L with L < plen <= L+8.
func nodeLevel(plen int) int { return direct6Bits + (plen-direct6Bits-1)/stride6*stride6 }

func mkDef(idx uint32, plen int) uint32 { return uint32(plen)<<e6LenShift | idx }

func defLen(d uint32) int { return int(d >> e6LenShift) }

// insert makes prefix hi, lo / plen resolve to adjacency idx, keeping
// every more specific prefix; it also replaces an existing one. The table
// must be one no thread reads.
func (t *IPv6Table) insert(hi, lo uint64, plen int, idx uint32) {
	d := mkDef(idx, plen)
	if plen <= direct6Bits {
		first := hi >> 48
		for i := first; i < first+1<<(direct6Bits-plen); i++ {
			e := t.direct[i]
			if e&e6Node != 0 {
				t.pushDef(e&^e6Node, d, plen, false)
			} else if defLen(e) <= plen {
				t.direct[i] = d
			}
		}
		return
	}
	ni := t.root(hi)
	level := direct6Bits
	for level+stride6 < plen {
		ni = t.child(ni, byteAt(hi, lo, level), level)
		level += stride6
	}
	t.setRange(ni, level, hi, lo, plen, d, false)
}

// remove deletes prefix hi, lo / plen. cover is the longest remaining
// prefix that covers it among the lengths the prefix's own node (or, for
// plen <= 16, the direct table) holds, as mkDef(idx, len); 0 if none. The
// table must be one no thread reads.
func (t *IPv6Table) remove(hi, lo uint64, plen int, cover uint32) {
	if plen <= direct6Bits {
		first := hi >> 48
		for i := first; i < first+1<<(direct6Bits-plen); i++ {
			e := t.direct[i]
			if e&e6Node != 0 {
				t.pushDef(e&^e6Node, cover, plen, true)
			} else if defLen(e) == plen {
				t.direct[i] = cover
			}
		}
		return
	}
	// Walk down, remembering the path for collapsing emptied nodes.
	var path [16]uint32
	e := t.direct[hi>>48]
	if e&e6Node == 0 {
		return // the RIB never removes a prefix it did not insert
	}
	ni := e &^ e6Node
	level, depth := direct6Bits, 0
	for level+stride6 < plen {
		path[depth] = ni
		depth++
		n := &t.nodes[ni]
		v := byteAt(hi, lo, level)
		if !hasBit(&n.vec, v) {
			return
		}
		ni = n.base1 + uint32(rankBelow(&n.vec, v))
		level += stride6
	}
	t.setRange(ni, level, hi, lo, plen, cover, true)
	// Remove nodes left without children and prefixes, bottom up.
	for {
		n := &t.nodes[ni]
		if n.vec != [4]uint64{} || bits.OnesCount64(n.leafvec[0]) != 1 || n.leafvec[1]|n.leafvec[2]|n.leafvec[3] != 0 ||
			n.inl[0] != 0 {
			return
		}
		def := n.def
		if depth == 0 {
			t.freeNodeBlock(ni, 1)
			t.nnodes--
			t.direct[hi>>48] = def
			return
		}
		depth--
		level -= stride6
		parent := path[depth]
		leaf := uint32(0)
		if l := defLen(def); l > level {
			leaf = uint32(l-level)<<e6LenShift | def&adj6Mask
		}
		t.removeChild(parent, byteAt(hi, lo, level), leaf)
		ni = parent
	}
}

// root returns the level-16 node of the address, creating it from the
// direct entry if there is none.
func (t *IPv6Table) root(hi uint64) uint32 {
	e := t.direct[hi>>48]
	if e&e6Node != 0 {
		return e &^ e6Node
	}
	ni := t.allocNodes(1)
	t.nnodes++
	t.initNode(ni, e)
	t.direct[hi>>48] = e6Node | ni
	return ni
}

// initNode makes node ni an empty node: no children, every leaf 0.
func (t *IPv6Table) initNode(ni uint32, def uint32) {
	t.nodes[ni] = node6{leafvec: [4]uint64{1}, lcum: [4]uint8{0, 1, 1, 1}, base0: inlineBase, def: def}
}

// child returns the child of node ni (at level) for slot v, creating it
// if the slot is a leaf.
func (t *IPv6Table) child(ni uint32, v uint, level int) uint32 {
	n := &t.nodes[ni]
	r := uint32(rankBelow(&n.vec, v))
	if hasBit(&n.vec, v) {
		return n.base1 + r
	}
	def := n.def
	if l := t.leaf(n, rankTo(&n.leafvec, v)-1); l != 0 {
		def = mkDef(l&adj6Mask, level+int(l>>e6LenShift))
	}
	// Insert the new node at position r of the children block.
	cnt := popcnt4(&n.vec)
	old := n.base1
	base := old
	if cnt == 0 || class6(cnt+1) != class6(cnt) {
		base = t.allocNodes(cnt + 1)
		copy(t.nodes[base:base+r], t.nodes[old:old+r])
		copy(t.nodes[base+r+1:base+cnt+1], t.nodes[old+r:old+cnt])
		if cnt > 0 {
			t.freeNodeBlock(old, cnt)
		}
	} else {
		copy(t.nodes[base+r+1:base+cnt+1], t.nodes[base+r:base+cnt])
	}
	t.nnodes++
	n = &t.nodes[ni] // allocNodes may have moved the array
	n.base1 = base
	n.vec[v>>6] |= 1 << (v & 63)
	n.vcum = cum4(&n.vec)
	t.initNode(base+r, def)
	t.editLeaves(ni, 0, 0, editSet, 0, 0) // the slot's leaf leaves its run
	return base + r
}

// removeChild turns child slot v of node ni back into a leaf of value
// leaf, releasing the (empty) child node.
func (t *IPv6Table) removeChild(ni uint32, v uint, leaf uint32) {
	n := &t.nodes[ni]
	r := uint32(rankBelow(&n.vec, v))
	cnt := popcnt4(&n.vec)
	old := n.base1
	t.nnodes--
	switch {
	case cnt == 1:
		t.freeNodeBlock(old, 1)
		n.base1 = 0
	case class6(cnt-1) != class6(cnt):
		base := t.allocNodes(cnt - 1)
		copy(t.nodes[base:base+r], t.nodes[old:old+r])
		copy(t.nodes[base+r:base+cnt-1], t.nodes[old+r+1:old+cnt])
		t.freeNodeBlock(old, cnt)
		n = &t.nodes[ni]
		n.base1 = base
	default:
		copy(t.nodes[old+r:old+cnt-1], t.nodes[old+r+1:old+cnt])
		t.nodes[old+cnt-1] = node6{}
	}
	n.vec[v>>6] &^= 1 << (v & 63)
	n.vcum = cum4(&n.vec)
	t.editLeaves(ni, v, v+1, editSet, 0, leaf)
}

// setRange writes prefix plen (value d = mkDef(adj, plen)) into node ni
// at level, or removes it (d is then the cover, or 0). Leaves of the
// prefix's slots are overwritten when their prefix is not longer
// (insert) or is the prefix (remove); child slots get the route as def,
// pushed down to the nodes that inherited it.
func (t *IPv6Table) setRange(ni uint32, level int, hi, lo uint64, plen int, d uint32, removing bool) {
	n := &t.nodes[ni]
	rel := uint32(plen - level)
	leaf := uint32(0) // the value written into leaves
	childDef := d     // the value pushed into children's defs
	if l := defLen(d); l > level {
		leaf = uint32(l-level)<<e6LenShift | d&adj6Mask
	}
	if removing && leaf == 0 {
		childDef = n.def
	}
	a := byteAt(hi, lo, level)
	z := a + 1<<(level+stride6-plen)
	mode := editInsert
	if removing {
		mode = editRemove
	}
	t.editLeaves(ni, a, z, mode, rel, leaf)
	n = &t.nodes[ni]
	for w := a >> 6; w < 4 && w*64 < z; w++ {
		bm := n.vec[w] & rangeMask(w, a, z)
		for bm != 0 {
			v := w*64 + uint(bits.TrailingZeros64(bm))
			bm &= bm - 1
			t.pushDef(n.base1+uint32(rankBelow(&n.vec, v)), childDef, plen, removing)
		}
	}
}

// rangeMask returns the bits of word w that fall in slots [a, z).
func rangeMask(w, a, z uint) uint64 {
	m := ^uint64(0)
	if a > w*64 {
		m <<= a - w*64
	}
	if z < w*64+64 {
		m &= uint64(1)<<(z-w*64) - 1
	}
	return m
}

// pushDef makes prefix plen the def (value d) of node ni and of the nodes
// below that inherit it: when inserting, those whose def is not longer;
// when removing, those whose def is the prefix (d is then the new def).
func (t *IPv6Table) pushDef(ni uint32, d uint32, plen int, removing bool) {
	n := &t.nodes[ni]
	l := defLen(n.def)
	if l > plen || (removing && l != plen) {
		return
	}
	n.def = d
	if n.vec == [4]uint64{} {
		return
	}
	cnt := popcnt4(&n.vec)
	for c := n.base1; c < n.base1+cnt; c++ {
		t.pushDef(c, d, plen, removing)
	}
}

func popcnt4(bm *[4]uint64) uint32 {
	return uint32(bits.OnesCount64(bm[0]) + bits.OnesCount64(bm[1]) + bits.OnesCount64(bm[2]) + bits.OnesCount64(bm[3]))
}

// run6 is one run of equal leaves: from slot start up to the next run's
// start, child slots excepted.
type run6 struct {
	start uint32
	val   uint32
}

// Leaf edit modes: what editLeaves does to a leaf of the edited range.
const (
	editSet    = iota // always write the new value
	editInsert        // write it over leaves of length <= rel
	editRemove        // write it over leaves of length == rel
)

// editLeaves rewrites node ni's leaves in slots [a, z) (see the edit
// modes) and re-encodes the runs for the node's current child bitmap, so
// that it also serves after a slot turned into a child or back. It works
// on runs, not slots: a node has a few runs on average. The leaf block is
// reallocated if its size class changes.
func (t *IPv6Table) editLeaves(ni uint32, a, z uint, mode int, rel, leaf uint32) {
	n := &t.nodes[ni]
	in := t.runs[:0]
	for w, bm := range n.leafvec {
		for bm != 0 {
			in = append(in, run6{uint32(w*64 + bits.TrailingZeros64(bm)), t.leaf(n, len(in))})
			bm &= bm - 1
		}
	}
	oldCnt := uint32(len(in))
	if len(in) == 0 {
		in = append(in, run6{})
	}
	in[0].start = 0 // leading child slots belong to the first run
	out := t.runs2[:0]
	emit := func(s, e uint, v uint32) {
		s = nextLeafSlot(&n.vec, s)
		if s >= e || (len(out) > 0 && out[len(out)-1].val == v) {
			return
		}
		out = append(out, run6{uint32(s), v})
	}
	for i, r := range in {
		s, e := uint(r.start), uint(256)
		if i+1 < len(in) {
			e = uint(in[i+1].start)
		}
		if e <= a || s >= z {
			emit(s, e, r.val)
			continue
		}
		nv := r.val
		switch l := r.val >> e6LenShift; {
		case mode == editSet, mode == editInsert && l <= rel, mode == editRemove && l == rel:
			nv = leaf
		}
		if s < a {
			emit(s, a, r.val)
		}
		emit(max(s, a), min(e, z), nv)
		if e > z {
			emit(z, e, r.val)
		}
	}

	cnt := uint32(len(out))
	base := n.base0
	switch {
	case cnt <= inlineLeaves:
		if base != inlineBase {
			t.freeLeafBlock(base, oldCnt)
		}
		base = inlineBase
	case base == inlineBase || class6(cnt) != class6(oldCnt):
		if base != inlineBase {
			t.freeLeafBlock(base, oldCnt)
		}
		base = t.allocLeaves(cnt)
		n = &t.nodes[ni] // n points into t.nodes, which allocLeaves does not move
	}
	n.base0 = base
	n.leafvec = [4]uint64{}
	n.inl = [inlineLeaves]uint32{}
	for i, r := range out {
		n.leafvec[r.start>>6] |= 1 << (r.start & 63)
		if base == inlineBase {
			n.inl[i] = r.val
		} else {
			t.leaves[base+uint32(i)] = r.val
		}
	}
	n.lcum = cum4(&n.leafvec)
	// Clear the block's unused tail, so that both copies stay identical
	// whatever the block held before.
	if base != inlineBase {
		clear(t.leaves[base+cnt : base+1<<class6(cnt)])
	}
}

// leaf returns leaf number i of node n.
func (t *IPv6Table) leaf(n *node6, i int) uint32 {
	if n.base0 == inlineBase {
		return n.inl[i&(inlineLeaves-1)]
	}
	return t.leaves[int(n.base0)+i]
}

// nextLeafSlot returns the first slot >= s that is not a child, or 256.
func nextLeafSlot(vec *[4]uint64, s uint) uint {
	for w := s >> 6; w < 4; w++ {
		m := ^vec[w]
		if w == s>>6 {
			m &= ^uint64(0) << (s & 63)
		}
		if m != 0 {
			return w*64 + uint(bits.TrailingZeros64(m))
		}
	}
	return 256
}

// class6 returns the size class of a block of n (1..256) entries: blocks
// hold 1<<class6(n) entries.
func class6(n uint32) int { return bits.Len32(n - 1) }

func (t *IPv6Table) allocNodes(n uint32) uint32 {
	c := class6(n)
	if f := t.freeNodes[c]; len(f) > 0 {
		b := f[len(f)-1]
		t.freeNodes[c] = f[:len(f)-1]
		return b
	}
	b := uint32(len(t.nodes))
	if uint64(b)+1<<c >= e6Node {
		panic("fwd: IPv6 table out of node indices")
	}
	t.nodes = append(t.nodes, make([]node6, 1<<c)...)
	return b
}

func (t *IPv6Table) freeNodeBlock(b, n uint32) {
	c := class6(n)
	clear(t.nodes[b : b+1<<c])
	t.freeNodes[c] = append(t.freeNodes[c], b)
}

func (t *IPv6Table) allocLeaves(n uint32) uint32 {
	c := class6(n)
	if f := t.freeLeaves[c]; len(f) > 0 {
		b := f[len(f)-1]
		t.freeLeaves[c] = f[:len(f)-1]
		return b
	}
	b := uint32(len(t.leaves))
	if uint64(b)+1<<c > 1<<32-1 {
		panic("fwd: IPv6 table out of leaf indices")
	}
	t.leaves = append(t.leaves, make([]uint32, 1<<c)...)
	return b
}

func (t *IPv6Table) freeLeafBlock(b, n uint32) {
	c := class6(n)
	clear(t.leaves[b : b+1<<c])
	t.freeLeaves[c] = append(t.freeLeaves[c], b)
}

// IPv6ToHiLo returns a's 128 bits as two big-endian halves: hi holds the
// first 8 bytes (2001:db8:: has hi 0x20010db800000000). An IPv4 address
// is mapped (::ffff:a.b.c.d); the zero Addr yields 0, 0.
func IPv6ToHiLo(a netip.Addr) (hi, lo uint64) {
	if !a.IsValid() {
		return 0, 0
	}
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

// HiLoToIPv6 is the inverse of IPv6ToHiLo.
func HiLoToIPv6(hi, lo uint64) netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	return netip.AddrFrom16(b)
}

// String for debugging a node.
func (n *node6) String() string {
	return fmt.Sprintf("node{vec %x leafvec %x base1 %d base0 %d def %#x}", n.vec, n.leafvec, n.base1, n.base0, n.def)
}
