package fwd

import (
	"fmt"
	"strings"
)

// Group6 is Group for IPv6 routes: an ECMP set of IPv6 paths.
type Group6 struct {
	bucket  [GroupBuckets]uint8
	n       int
	members [MaxGroupMembers]Adjacency6
	// Members are the paths: gateway or connected adjacencies.
	Members []Adjacency6
	// Weights are the members' relative weights (1..256 each).
	Weights []int
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

// Member returns the index of the member flow hash h maps to.
func (g *Group6) Member(h uint32) int { return int(g.bucket[h&(GroupBuckets-1)]) }

// Len is the number of members.
func (g *Group6) Len() int { return g.n }

// At returns member i (0 <= i < Len()): for the forwarding path.
func (g *Group6) At(i int) *Adjacency6 { return &g.members[i&(MaxGroupMembers-1)] }

// String lists the members and weights.
func (g *Group6) String() string {
	var b strings.Builder
	for i, m := range g.Members {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (%d)", m, g.Weights[i])
	}
	return b.String()
}

// Multipath6 returns the adjacency for group g: member 0 with g.
func Multipath6(g *Group6) Adjacency6 {
	a := g.Members[0]
	a.Group = g
	return a
}
