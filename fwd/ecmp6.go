package fwd

// Group6 is Group for IPv6 routes: an ECMP set of IPv6 paths.
//
// A Group6 (632 bytes) is larger than 512, so the Go allocator puts an
// 8-byte header in front of it, in an object of the 640-byte class whose
// objects start on 64-byte boundaries: the 56 bytes of fields before the
// buckets put them on a cache line of their own (TestGroupBucketsOneLine).
type Group6 struct {
	n int
	// Members are the paths: gateway or connected adjacencies.
	Members []Adjacency6
	// Weights are the members' relative weights (1..256 each).
	Weights []int
	// bucket maps the hash's top bits to a member index (Group.bucket).
	bucket  [GroupBuckets]uint8
	members [MaxGroupMembers]Adjacency6
}

// NewGroup6 makes an IPv6 group of 2..MaxGroupMembers members with
// weights (nil: all 1).
func NewGroup6(members []Adjacency6, weights []int) (*Group6, error) {
	n := len(members)
	weights, err := checkGroup(n, weights)
	if err != nil {
		return nil, err
	}
	if err := checkMembers(members); err != nil {
		return nil, err
	}
	bucket, err := fillBuckets(weights)
	if err != nil {
		return nil, err
	}
	g := &Group6{bucket: bucket, n: n, Weights: append([]int(nil), weights...)}
	copy(g.members[:], members)
	g.Members = g.members[:n:n]
	return g, nil
}

// Member returns the index of the member flow hash h maps to (see
// Group.Member).
func (g *Group6) Member(h uint32) int { return int(g.bucket[h>>(32-groupBucketBits)]) }

// Len is the number of members.
func (g *Group6) Len() int { return g.n }

// At returns member i (0 <= i < Len()): for the forwarding path.
func (g *Group6) At(i int) *Adjacency6 { return &g.members[i&(MaxGroupMembers-1)] }

// String lists the members and weights.
func (g *Group6) String() string { return groupString(g.Members, g.Weights) }

// Multipath6 returns the adjacency for group g: member 0 with g.
func Multipath6(g *Group6) Adjacency6 {
	a := g.Members[0]
	a.Group = g
	return a
}
