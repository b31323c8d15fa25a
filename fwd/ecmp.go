package fwd

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"
)

// ECMP ("load balance object" in R2): a route whose Adjacency has a Group
// spreads its flows over the group's members. The group is immutable and
// shared like the rest of a table's adjacencies; the adjacency that holds
// it is member 0 (so code that ignores groups sees a single path), plus
// the Group pointer.
//
// Flows map to members through GroupBuckets buckets filled in proportion
// to the members' weights, by a hash of the addresses, the protocol and
// the ports (addresses only for fragments): a flow always takes the same
// member, so it is never reordered, as long as the group does not change.

const (
	// GroupBuckets is how many buckets a group's weights are spread over:
	// 64 keeps weight ratios within 1/64 and fits one cache line.
	GroupBuckets = 1 << groupBucketBits
	// MaxGroupMembers bounds a group (Linux allows more; BGP multipath
	// rarely uses more than 8).
	MaxGroupMembers = 16
)

// Group is an ECMP set. Build it with NewGroup; do not modify it after.
//
// A Group (504 bytes) is allocated in the 512-byte size class, whose
// objects start on 64-byte boundaries, so its buckets (first) are one
// cache line (TestGroupBucketsOneLine): a pick reads that line and the
// chosen member's.
type Group struct {
	// bucket maps a flow hash's low bits to a member index. It comes
	// first, and the members follow in the same object, so that a pick
	// touches one allocation.
	bucket [GroupBuckets]uint8
	// n is the number of members.
	n int
	// members holds Members' elements.
	members [MaxGroupMembers]Adjacency
	// Members are the paths: gateway or connected adjacencies (a slice of
	// members, for the control side).
	Members []Adjacency
	// Weights are the members' relative weights (1..256 each).
	Weights []int
}

// NewGroup makes a group of 2..MaxGroupMembers members with weights (nil:
// all 1).
func NewGroup(members []Adjacency, weights []int) (*Group, error) {
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
	g := &Group{bucket: bucket, n: n, Weights: append([]int(nil), weights...)}
	copy(g.members[:], members)
	g.Members = g.members[:n:n]
	return g, nil
}

// groupMember is what a group of either family is made of.
type groupMember interface {
	comparable
	fmt.Stringer
	validate() error
	isPath() bool
}

// checkMembers checks a group's members: valid single paths (gateway or
// connected, not themselves groups), none given twice.
func checkMembers[A groupMember](members []A) error {
	for i, m := range members {
		if !m.isPath() {
			return fmt.Errorf("next hop %d of a multipath route is %s: want a gateway or a connected path", i, m)
		}
		if err := m.validate(); err != nil {
			return err
		}
		for _, o := range members[:i] {
			if o == m {
				return fmt.Errorf("next hop %s given twice", m)
			}
		}
	}
	return nil
}

func (a Adjacency) isPath() bool {
	return a.Group == nil && (a.Kind == AdjGateway || a.Kind == AdjConnected)
}

func (a Adjacency6) isPath() bool {
	return a.Group == nil && (a.Kind == AdjGateway || a.Kind == AdjConnected)
}

// checkGroup checks a group's size and weights (nil: all 1), returned.
func checkGroup(n int, weights []int) ([]int, error) {
	if n < 2 || n > MaxGroupMembers {
		return nil, fmt.Errorf("a multipath route has 2 to %d next hops, not %d", MaxGroupMembers, n)
	}
	if weights == nil {
		weights = make([]int, n)
		for i := range weights {
			weights[i] = 1
		}
	}
	if len(weights) != n {
		return nil, fmt.Errorf("%d weights for %d next hops", len(weights), n)
	}
	return weights, nil
}

// fillBuckets spreads GroupBuckets buckets over members in proportion to
// their weights (largest remainder, at least one each), interleaved.
func fillBuckets(weights []int) ([GroupBuckets]uint8, error) {
	var bucket [GroupBuckets]uint8
	n := len(weights)
	total := 0
	for i, w := range weights {
		if w < 1 || w > 256 {
			return bucket, fmt.Errorf("next hop %d: weight %d out of range 1..256", i, w)
		}
		total += w
	}
	counts := make([]int, n)
	rem := make([]int, n)
	used := 0
	for i, w := range weights {
		counts[i] = max(1, GroupBuckets*w/total)
		rem[i] = GroupBuckets * w % total
		used += counts[i]
	}
	for used < GroupBuckets {
		best := 0
		for i := range rem {
			if rem[i] > rem[best] {
				best = i
			}
		}
		counts[best]++
		rem[best] = -1
		used++
	}
	for used > GroupBuckets { // the minimum of one pushed us over
		big := 0
		for i := range counts {
			if counts[i] > counts[big] {
				big = i
			}
		}
		counts[big]--
		used--
	}
	// Interleave the members over the buckets (not runs), so that nearby
	// hashes do not all land on one member.
	b := 0
	for b < GroupBuckets {
		for i := range counts {
			if counts[i] > 0 && b < GroupBuckets {
				bucket[b] = uint8(i)
				counts[i]--
				b++
			}
		}
	}
	return bucket, nil
}

// Member returns the index of the member flow hash h maps to: bucket h's
// top bits (see FlowHash4).
func (g *Group) Member(h uint32) int { return int(g.bucket[h>>(32-groupBucketBits)]) }

// Len is the number of members.
func (g *Group) Len() int { return g.n }

// At returns member i (0 <= i < Len()) without going through the Members
// slice: for the forwarding path.
func (g *Group) At(i int) *Adjacency { return &g.members[i&(MaxGroupMembers-1)] }

// String lists the members and weights: "gateway 10.1.0.1 if 0 (1), ...".
func (g *Group) String() string { return groupString(g.Members, g.Weights) }

// groupString lists a group's members of either family with their weights.
func groupString[A fmt.Stringer](members []A, weights []int) string {
	var b strings.Builder
	for i, m := range members {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (%d)", m, weights[i])
	}
	return b.String()
}

// The flow hash is one 64x64->128-bit multiply (a single MUL instruction
// on amd64 and arm64) of the addresses by the protocol and ports, whose
// two halves are folded together (as wyhash's "mum"): the high half depends
// on every bit of both operands, so the folded bits do too. Forwarding
// computes it only for routes that have a group, and a group takes its
// bucket from the hash's top bits (Member). Chosen over two plain
// multiplies, whose top bits mixed sequential source addresses poorly (a
// 4-path split of 1,000 such flows off by up to 34-56%), and over the
// three-multiply murmur3 finalizer used before, with the same spread: on
// 1,000 flows over 4 equal paths at most 14-18% off even in the worst of
// 50 trials of each of seven patterns, as random choice gives; the
// forwarding nodes' tests hold the 2- and 4-path spread within 10%.
const (
	flowK1 = 0x9e3779b97f4a7c15 // 2^64 / the golden ratio
	flowK2 = 0xff51afd7ed558ccd // murmur3's finalizer multiplier
	// groupBucketBits is log2(GroupBuckets): Member uses the hash's top
	// groupBucketBits bits.
	groupBucketBits = 6
)

// FlowHash4 mixes an IPv4 flow's addresses, protocol and ports (0 for
// fragments and protocols without ports) into 32 bits.
func FlowHash4(src, dst uint32, proto uint8, ports uint32) uint32 {
	return mum(uint64(src)<<32|uint64(dst), uint64(ports)<<8|uint64(proto))
}

// FlowHash6 is FlowHash4 for IPv6: each address is folded to 64 bits
// first, and the destination's rotated so that its interface identifier
// does not overlap the ports.
func FlowHash6(src, dst *[16]byte, proto uint8, ports uint32) uint32 {
	s := binary.LittleEndian.Uint64(src[:8]) ^ binary.LittleEndian.Uint64(src[8:])
	d := binary.LittleEndian.Uint64(dst[:8]) ^ binary.LittleEndian.Uint64(dst[8:])
	return mum(s, bits.RotateLeft64(d, 40)^(uint64(ports)<<8|uint64(proto)))
}

// mum multiplies x and y, each xored with a constant first (so that a zero
// operand does not zero the product), and folds the 128-bit product.
func mum(x, y uint64) uint32 {
	hi, lo := bits.Mul64(x^flowK1, y^flowK2)
	return uint32(hi ^ lo)
}
