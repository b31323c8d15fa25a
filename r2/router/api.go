package router

import (
	"net/netip"

	"github.com/r2go/r2/r2/ctl"
)

// API is the part of the router that the API server calls directly: the
// policy methods whose requests and results are ctl types. The server's
// Backend (package api) embeds it, the daemon's backend embeds *Router, and
// so adding an API method means the IDL, its handler, the method here and
// on Router, and the utility that uses it; nothing in between.
//
// The server validates syntax before calling (names, addresses, prefixes
// without host bits) and calls one method at a time. A refused request
// returns an error wrapping a ctl sentinel (its kind reaches the client)
// and changes nothing.
type API interface {
	// AddAddr gives interface ifname the address p (host bits set, e.g.
	// 1.1.1.2/24 or 2001:db8:1::2/64).
	AddAddr(ifname string, p netip.Prefix) error
	// DelAddr removes address p from interface ifname.
	DelAddr(ifname string, p netip.Prefix) error
	// Interfaces describes interface name, or all interfaces if name is "".
	Interfaces(name string) ([]ctl.IfInfo, error)

	// AddRoutes adds routes, all or nothing.
	AddRoutes(rs []ctl.Route) error
	// DelRoutes removes routes, all or nothing.
	DelRoutes(rs []ctl.Route) error
	// LookupRoute returns the longest-prefix match for a.
	LookupRoute(a netip.Addr) (ctl.Route, error)
	// Routes returns the number of routes and up to limit of them starting
	// at offset, in a stable order (limit >= 1, offset >= 0).
	Routes(offset, limit int) (total int, rs []ctl.Route, err error)
}
