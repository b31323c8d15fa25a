package fwd

// ribCore is the part of IPv4RIB and IPv6RIB that does not depend on the
// address family: the two table copies and the double-copy protocol that
// changes them (begin, record, commit), and the adjacency and group
// interning whose indices both copies share. The RIBs embed it and keep
// what is their family's own: the routes by prefix, the covering-route
// search and the recorded operations' meaning.
//
// T is the table copy (*IPv4Table, *IPv6Table), A its adjacency, G the
// multipath group A may hold, O one recorded table operation. Not safe for
// concurrent use; the RIB's caller serialises.
type ribCore[T ribTable[A, O], A ribAdj[A, G], G anyGroup[A], O any] struct {
	// publish makes every forwarding thread use the given table and returns
	// once all of them acknowledged; see NewIPv4RIB.
	publish func(active T)
	tables  [2]T
	// active is the index in tables of the copy last published.
	active int

	// The adjacency interning: equal adjacencies share one index, the same
	// in both table copies. adjs is the master copy the tables are synced
	// from; index 0 is the zero adjacency (drop) and is never freed.
	adjs    []A
	adjRef  []uint32 // number of routes using each index
	adjIdx  map[A]uint32
	adjFree []uint32 // indices with refcount 0, reused first
	// groups are the multipath groups the adjacencies hold, interned
	// (groups.go): a group is taken in by ref and let go by unref with
	// the one adjacency that holds it.
	groups groupSet[A, G]
	// newGroup and multipath are the family's NewGroup and Multipath, for
	// withoutIfindex.
	newGroup  func(members []A, weights []int) (G, error)
	multipath func(G) A

	// ops and dirtyAdj record the current change so that it can be
	// replayed on the second copy; reused to avoid allocations.
	ops      []O
	dirtyAdj []uint32
}

// ribTable is what the double-copy protocol needs of a table copy.
type ribTable[A, O any] interface {
	MemBytes() int
	// setAdj stores adjacency a at index i; applyOps replays recorded
	// operations. Both only on a copy no thread reads.
	setAdj(i uint32, a A)
	applyOps(ops []O)
}

// ribAdj is what the interning needs of an adjacency: whether it is
// multipath (group, the zero G if not) and the same adjacency with
// another, equal group (withGroup).
type ribAdj[A any, G any] interface {
	comparable
	group() G
	withGroup(G) A
	usesIfindex(ifindex int32) bool
	outIfindex() int32
}

// init makes an empty core over two empty table copies.
func (r *ribCore[T, A, G, O]) init(publish func(T), t0, t1 T, newGroup func([]A, []int) (G, error), multipath func(G) A) {
	r.publish = publish
	r.tables = [2]T{t0, t1}
	r.adjs = make([]A, 1, 16)
	r.adjRef = make([]uint32, 1, 16)
	r.adjIdx = make(map[A]uint32)
	r.newGroup, r.multipath = newGroup, multipath
}

// activeTable returns the table copy that forwarding threads use.
func (r *ribCore[T, A, G, O]) activeTable() T { return r.tables[r.active] }

// MemBytes approximates the memory of both table copies, in bytes.
func (r *ribCore[T, A, G, O]) MemBytes() int {
	return r.tables[0].MemBytes() + r.tables[1].MemBytes()
}

// findGroup returns the group with these members and weights (nil: all
// 1) that routes of the RIB use, if there is one.
func (r *ribCore[T, A, G, O]) findGroup(members []A, weights []int) G {
	g, _ := r.groups.find(members, weights)
	return g
}

// GroupStats counts the multipath groups that routes use, and those made
// and freed so far.
func (r *ribCore[T, A, G, O]) GroupStats() GroupStats { return r.groups.stats() }

// eachGroup calls fn for every multipath group that routes use.
func (r *ribCore[T, A, G, O]) eachGroup(fn func(G)) { r.groups.each(fn) }

// begin starts recording a change.
func (r *ribCore[T, A, G, O]) begin() {
	r.ops = r.ops[:0]
	r.dirtyAdj = r.dirtyAdj[:0]
}

// record appends one table operation to the current change.
func (r *ribCore[T, A, G, O]) record(op O) { r.ops = append(r.ops, op) }

// commit applies the recorded change to the unused copy, publishes it, and
// applies it to the copy the threads just stopped using.
func (r *ribCore[T, A, G, O]) commit() {
	if len(r.ops) == 0 {
		return
	}
	next := 1 - r.active
	r.apply(r.tables[next])
	r.publish(r.tables[next])
	r.active = next
	r.apply(r.tables[1-next])
	if cap(r.ops) > maxKeptOps {
		r.ops = nil // do not keep a table load's worth of scratch alive
	}
}

// maxKeptOps bounds the recorded-change buffer kept between changes:
// enough for routine batches, while the buffer of a full table load
// (about 1M ops, 16 MB) is released.
const maxKeptOps = 1 << 14

func (r *ribCore[T, A, G, O]) apply(t T) {
	// Adjacencies first, at their final value: an index freed and reused
	// within one batch is no longer referenced by any route of its old
	// value once the batch is done.
	for _, i := range r.dirtyAdj {
		t.setAdj(i, r.adjs[i])
	}
	t.applyOps(r.ops)
}

// ref returns the interned index of a, taking a reference.
func (r *ribCore[T, A, G, O]) ref(a A) uint32 {
	var zeroA A
	if a == zeroA {
		return 0
	}
	var zeroG G
	if g := a.group(); g != zeroG {
		// An equal group already in use makes this the same adjacency.
		a = a.withGroup(r.groups.intern(g))
	}
	if i, ok := r.adjIdx[a]; ok {
		r.adjRef[i]++
		return i
	}
	var i uint32
	if n := len(r.adjFree); n > 0 {
		i = r.adjFree[n-1]
		r.adjFree = r.adjFree[:n-1]
	} else {
		if len(r.adjs) >= MaxAdjacencies {
			panic("fwd: more than MaxAdjacencies distinct adjacencies")
		}
		i = uint32(len(r.adjs))
		r.adjs = append(r.adjs, zeroA)
		r.adjRef = append(r.adjRef, 0)
	}
	r.adjs[i] = a
	r.adjRef[i] = 1
	r.adjIdx[a] = i
	r.dirtyAdj = append(r.dirtyAdj, i)
	return i
}

// unref drops a reference to index i, freeing it when no route uses it.
func (r *ribCore[T, A, G, O]) unref(i uint32) {
	if i == 0 {
		return
	}
	r.adjRef[i]--
	if r.adjRef[i] > 0 {
		return
	}
	delete(r.adjIdx, r.adjs[i])
	var zeroG G
	if g := r.adjs[i].group(); g != zeroG {
		r.groups.release(g)
	}
	var zeroA A
	r.adjs[i] = zeroA
	r.adjFree = append(r.adjFree, i)
	r.dirtyAdj = append(r.dirtyAdj, i)
}

// ifFate is what becomes of an adjacency when an interface goes
// (DelByIfindex): whether it uses the interface, and if so whether a
// multipath adjacency keeps other paths (adj).
type ifFate[A any] struct {
	uses, keep bool
	adj        A
}

// ifFates decides, once per adjacency index for all the routes that share
// it, what taking interface ifindex out does to it; false if no route
// uses the interface.
func (r *ribCore[T, A, G, O]) ifFates(ifindex int32) ([]ifFate[A], bool) {
	fates := make([]ifFate[A], len(r.adjs))
	found := false
	for i, a := range r.adjs {
		if r.adjRef[i] > 0 && a.usesIfindex(ifindex) {
			na, keep := r.withoutIfindex(a, ifindex)
			fates[i], found = ifFate[A]{uses: true, keep: keep, adj: na}, true
		}
	}
	return fates, found
}

// withoutIfindex is multipath adjacency a without its paths through
// interface ifindex: a group of the others, or the one left as a plain
// adjacency; false if none is left or a is not multipath.
func (r *ribCore[T, A, G, O]) withoutIfindex(a A, ifindex int32) (A, bool) {
	var zeroA A
	var zeroG G
	g := a.group()
	if g == zeroG {
		return zeroA, false
	}
	members, weights := g.paths()
	ms, ws := pathsWithout(members, weights, ifindex)
	switch len(ms) {
	case 0:
		return zeroA, false
	case 1:
		return ms[0], true
	}
	if g, ok := r.groups.find(ms, ws); ok {
		return r.multipath(g), true
	}
	g, err := r.newGroup(ms, ws)
	if err != nil {
		return zeroA, false // not expected: a subset of a valid group
	}
	return r.multipath(g), true
}

func (a Adjacency) group() *Group                   { return a.Group }
func (a Adjacency6) group() *Group6                 { return a.Group }
func (a Adjacency) withGroup(g *Group) Adjacency    { a.Group = g; return a }
func (a Adjacency6) withGroup(g *Group6) Adjacency6 { a.Group = g; return a }

// setAt stores a at index i of s, growing s as needed, and returns s: a
// table copy's adjacency array, which grows as the RIB interns more.
func setAt[A any](s []A, i uint32, a A) []A {
	if int(i) >= len(s) {
		if int(i) < cap(s) {
			s = s[:i+1]
		} else {
			s = append(s, make([]A, int(i)+1-len(s))...)
		}
	}
	s[i] = a
	return s
}
