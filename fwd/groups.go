package fwd

// Group interning. A RIB keeps one group per distinct set of paths and
// weights, so that routes with the same paths share one group (and, since
// the group's adjacency is its member 0 plus the group, one adjacency
// index). A group lives exactly as long as that adjacency: the RIB takes it
// in when a route first uses it and lets it go when the last route using
// it goes (replaced, deleted, or shrunk by an interface deletion). Groups
// are therefore bounded by the routes, not by the history of the table: a
// follower under BGP churn does not accumulate them.

// groupKey is what makes two groups the same: the members in order and
// their weights. Order counts because it decides which buckets a member
// gets, i.e. where each flow goes.
type groupKey[A comparable] struct {
	n       int
	weights [MaxGroupMembers]uint16 // 1..256
	members [MaxGroupMembers]A
}

// makeGroupKey returns the key of members and weights (nil: all 1), and
// false if they cannot make a group (a count out of range, mismatched
// lengths).
func makeGroupKey[A comparable](members []A, weights []int) (groupKey[A], bool) {
	var k groupKey[A]
	n := len(members)
	if n < 2 || n > MaxGroupMembers || (weights != nil && len(weights) != n) {
		return k, false
	}
	k.n = n
	copy(k.members[:], members)
	for i := range n {
		w := 1
		if weights != nil {
			w = weights[i]
		}
		if w < 1 || w > 256 {
			return k, false
		}
		k.weights[i] = uint16(w)
	}
	return k, true
}

// anyGroup is a group of either family, as a groupSet holds it.
type anyGroup[A comparable] interface {
	comparable
	paths() ([]A, []int)
}

func (g *Group) paths() ([]Adjacency, []int)   { return g.Members, g.Weights }
func (g *Group6) paths() ([]Adjacency6, []int) { return g.Members, g.Weights }

// groupSet is a RIB's interned groups: the groups its routes use, by key.
// Not safe for concurrent use (the RIB's caller serialises).
type groupSet[A comparable, G anyGroup[A]] struct {
	m map[groupKey[A]]G
	// made and freed count the groups taken in and let go, for statistics.
	made, freed uint64
}

func (s *groupSet[A, G]) keyOf(g G) groupKey[A] {
	ms, ws := g.paths()
	k, _ := makeGroupKey(ms, ws) // g was checked when it was made
	return k
}

// intern returns the group equal to g that the set holds, taking g in if
// there is none.
func (s *groupSet[A, G]) intern(g G) G {
	k := s.keyOf(g)
	if c, ok := s.m[k]; ok {
		return c
	}
	if s.m == nil {
		s.m = make(map[groupKey[A]]G)
	}
	s.m[k] = g
	s.made++
	return g
}

// release lets g go: no route uses it any more.
func (s *groupSet[A, G]) release(g G) {
	delete(s.m, s.keyOf(g))
	s.freed++
}

// find returns the held group with these members and weights (nil: all 1).
func (s *groupSet[A, G]) find(members []A, weights []int) (G, bool) {
	k, ok := makeGroupKey(members, weights)
	if !ok {
		var zero G
		return zero, false
	}
	g, ok := s.m[k]
	return g, ok
}

// GroupStats describes a RIB's multipath groups.
type GroupStats struct {
	// Live is the number of groups that routes use now.
	Live int
	// Made and Freed count the groups taken in and let go since the RIB
	// was made (Live = Made - Freed).
	Made, Freed uint64
}

// each calls fn for every held group, in no particular order.
func (s *groupSet[A, G]) each(fn func(G)) {
	for _, g := range s.m {
		fn(g)
	}
}

func (s *groupSet[A, G]) stats() GroupStats {
	return GroupStats{Live: len(s.m), Made: s.made, Freed: s.freed}
}

// pathsWithout returns the members that do not use interface ifindex, and
// their weights.
func pathsWithout[A interface{ outIfindex() int32 }](members []A, weights []int, ifindex int32) ([]A, []int) {
	var ms []A
	var ws []int
	for i, m := range members {
		if m.outIfindex() != ifindex {
			ms = append(ms, m)
			ws = append(ws, weights[i])
		}
	}
	return ms, ws
}

func (a Adjacency) outIfindex() int32  { return a.Ifindex }
func (a Adjacency6) outIfindex() int32 { return a.Ifindex }
