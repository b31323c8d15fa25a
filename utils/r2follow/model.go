package main

import (
	"net"
	"net/netip"

	"github.com/r2go/r2/r2/ctl"
)

// The kernel's objects as the follower sees them: only the fields it uses,
// in types that do not depend on netlink, so that the follower's logic is
// tested with events made by hand.

// Link is a Linux network interface.
type Link struct {
	Index int    // the kernel's ifindex
	Name  string // e.g. "veth0"
	Up    bool   // administratively and operationally up
}

// Addr is an interface address (host bits set, e.g. 10.1.0.2/24).
type Addr struct {
	LinkIndex int
	Prefix    netip.Prefix
}

// NextHop is one path of a kernel route.
type NextHop struct {
	Gw     netip.Addr // invalid: the destination is on OIF's link
	OIF    int        // the kernel's ifindex
	Weight int        // 1..256 (ip route's weight; 1 for a single path)
}

// Kernel route types (linux/rtnetlink.h RTN_*), those the follower maps.
const (
	rtnUnicast     = 1
	rtnLocal       = 2
	rtnBroadcast   = 3
	rtnAnycast     = 4
	rtnMulticast   = 5
	rtnBlackhole   = 6
	rtnUnreachable = 7
	rtnProhibit    = 8
	rtnThrow       = 9
)

// Kernel route protocols (RTPROT_*) the follower treats specially.
const (
	rtprotKernel = 2
)

// Tables (RT_TABLE_*).
const (
	tableMain  = 254
	tableLocal = 255
)

// KRoute is a kernel route.
type KRoute struct {
	Table    int
	Prefix   netip.Prefix // masked
	Type     int          // RTN_*
	Protocol int          // RTPROT_*
	Priority int          // metric: of two routes to one prefix the lower wins
	NHs      []NextHop    // one or more (multipath)
}

// Neigh is a kernel neighbour entry.
type Neigh struct {
	LinkIndex int
	IP        netip.Addr
	MAC       string // the link-layer address, "" if none
	State     int    // NUD_* bits
}

// Neighbour states (linux/neighbour.h NUD_*).
const (
	nudIncomplete = 0x01
	nudReachable  = 0x02
	nudStale      = 0x04
	nudDelay      = 0x08
	nudProbe      = 0x10
	nudFailed     = 0x20
	nudNoARP      = 0x40
	nudPermanent  = 0x80
)

// usableMAC is n's MAC if R2 should know it: the kernel has a link-layer
// address it believes (reachable, stale, delay, probe or permanent), not
// a NOARP entry (multicast, point-to-point) and not a failed or incomplete
// one.
func (n Neigh) usableMAC() (string, bool) {
	if n.State&(nudReachable|nudStale|nudDelay|nudProbe|nudPermanent) == 0 ||
		n.State&(nudIncomplete|nudFailed|nudNoARP) != 0 {
		return "", false
	}
	m, err := net.ParseMAC(n.MAC)
	if err != nil || len(m) != 6 || m[0]&1 != 0 || string(m) == "\x00\x00\x00\x00\x00\x00" {
		return "", false
	}
	return m.String(), true
}

// neighKey is a kernel neighbour's identity.
type neighKey struct {
	LinkIndex int
	IP        netip.Addr
}

// Op says what an Event does.
type Op uint8

// Event operations.
const (
	OpLinkSet Op = iota + 1 // add or change a link
	OpLinkDel
	OpAddrAdd
	OpAddrDel
	OpRouteSet // add or replace
	OpRouteDel
	OpNeighSet
	OpNeighDel
)

// Event is one kernel notification, or one object of a dump.
type Event struct {
	Op    Op
	Link  Link
	Addr  Addr
	Route KRoute
	Neigh Neigh
}

// Dump is the kernel's state in one go, for a resync.
type Dump struct {
	Links  []Link
	Addrs  []Addr
	Routes []KRoute
	Neighs []Neigh
}

// R2 is what the follower programs: R2's API, implemented by the Thrift
// client (thriftR2) and by a fake in the tests. A refusal (the router said
// no, the request left it unchanged) is an error for which Refused reports
// true; any other error means the connection is in doubt.
type R2 interface {
	Interfaces() ([]ctl.IfInfo, error)
	AddInterface(name string) error
	SetHostOwned(name string, on bool) error
	DelInterface(name string) error
	AddAddr(ifname string, p netip.Prefix) error
	DelAddr(ifname string, p netip.Prefix) error
	AddRoutes(rs []ctl.Route) error
	DelRoutes(rs []ctl.Route) error
	Routes(offset, limit int) (total int, rs []ctl.Route, err error)
	// SetNeighbours adds or replaces kernel-kind neighbours (Ifname, IP,
	// MAC), all or nothing.
	SetNeighbours(ns []ctl.Neighbour) error
	// DelNeighbours removes neighbours (Ifname, IP), all or nothing.
	DelNeighbours(ns []ctl.Neighbour) error
	// Neighbours lists R2's neighbours (all kinds).
	Neighbours() ([]ctl.Neighbour, error)
	Close() error
}
