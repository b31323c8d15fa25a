package fwd

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// AdjKind says what to do with a packet whose route resolved to an
// adjacency.
type AdjKind uint8

const (
	// AdjDrop discards the packet. It is the zero value, so that a zeroed
	// table entry (no route) means drop.
	AdjDrop AdjKind = iota
	// AdjLocal delivers the packet to the router itself.
	AdjLocal
	// AdjConnected sends the packet out of Ifindex to the packet's own
	// destination, which is on the attached subnet.
	AdjConnected
	// AdjGateway sends the packet out of Ifindex to the next hop NextHop.
	AdjGateway

	numAdjKinds
)

var adjKindNames = [numAdjKinds]string{"drop", "local", "connected", "gateway"}

// String returns the kind's name ("drop", "local", "connected", "gateway").
func (k AdjKind) String() string {
	if k < numAdjKinds {
		return adjKindNames[k]
	}
	return fmt.Sprintf("AdjKind(%d)", uint8(k))
}

// Adjacency is the result of a route lookup: how and where to send the
// packet. It is a small comparable value so that the RIB can intern equal
// adjacencies into one index.
type Adjacency struct {
	// Kind says what to do with the packet.
	Kind AdjKind
	// Ifindex is the R2 ifindex of the output interface (for AdjLocal, the
	// interface that owns the address).
	Ifindex int32
	// NextHop is the gateway's IPv4 address in host byte order; 0 unless
	// Kind is AdjGateway.
	NextHop uint32
	// Group, when not nil, makes this a multipath adjacency: Kind, Ifindex
	// and NextHop are those of member 0, and forwarding picks a member per
	// flow (see Group).
	Group *Group
}

// String formats the adjacency the way route listings show it, e.g.
// "gateway 10.2.0.1 if 2".
func (a Adjacency) String() string {
	if a.Group != nil {
		return "multipath " + a.Group.String()
	}
	switch a.Kind {
	case AdjDrop:
		return "drop"
	case AdjGateway:
		return fmt.Sprintf("gateway %s if %d", U32ToIPv4(a.NextHop), a.Ifindex)
	default:
		return fmt.Sprintf("%s if %d", a.Kind, a.Ifindex)
	}
}

// validate checks the fields a route's adjacency must have. The error text
// has no "fwd:" prefix; callers add context.
func (a Adjacency) validate() error {
	if a.Kind >= numAdjKinds {
		return fmt.Errorf("unknown adjacency kind %d", uint8(a.Kind))
	}
	if a.Kind == AdjDrop {
		return nil
	}
	if g := a.Group; g != nil {
		if len(g.Members) < 2 || g.Members[0].Kind != a.Kind || g.Members[0].Ifindex != a.Ifindex || g.Members[0].NextHop != a.NextHop {
			return fmt.Errorf("multipath adjacency must be its group's member 0")
		}
	}
	if a.Ifindex < 0 || a.Ifindex >= MaxIfindex {
		return fmt.Errorf("%s adjacency ifindex %d out of range [0, %d)", a.Kind, a.Ifindex, MaxIfindex)
	}
	switch {
	case a.Kind == AdjGateway && a.NextHop == 0:
		return fmt.Errorf("gateway adjacency needs a next hop")
	case a.Kind != AdjGateway && a.NextHop != 0:
		return fmt.Errorf("%s adjacency must not have a next hop (got %s)", a.Kind, U32ToIPv4(a.NextHop))
	}
	return nil
}

// usesIfindex reports whether packets sent through a go through (or, for
// local delivery, belong to) interface ifindex.
func (a Adjacency) usesIfindex(ifindex int32) bool {
	if a.Group != nil {
		for _, m := range a.Group.Members {
			if m.Ifindex == ifindex {
				return true
			}
		}
		return false
	}
	return a.Kind != AdjDrop && a.Ifindex == ifindex
}

// Multipath returns the adjacency for group g: member 0 with g.
func Multipath(g *Group) Adjacency {
	a := g.Members[0]
	a.Group = g
	return a
}

// IPv4ToU32 returns a's IPv4 address as a uint32 in host byte order
// (10.1.0.2 is 0x0a010002). An IPv4-mapped IPv6 address is unmapped; any
// other address (IPv6, the zero Addr) yields 0.
func IPv4ToU32(a netip.Addr) uint32 {
	if !a.Is4() && !a.Is4In6() {
		return 0
	}
	return as4U32(a)
}

// as4U32 is IPv4ToU32 for an address known to be IPv4; small enough to
// inline into per-packet loops.
func as4U32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

// U32ToIPv4 is the inverse of IPv4ToU32.
func U32ToIPv4(ip uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)})
}
