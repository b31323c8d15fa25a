package router

import (
	"net/netip"
	"time"

	"github.com/r2go/r2/r2/ctl"
	"github.com/r2go/r2/r2/graph"
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
	// SetHostOwned switches interface ifname's host-owned-addresses mode.
	SetHostOwned(ifname string, on bool) error

	// AddRoutes adds routes, all or nothing.
	AddRoutes(rs []ctl.Route) error
	// DelRoutes removes routes, all or nothing.
	DelRoutes(rs []ctl.Route) error
	// LookupRoute returns the longest-prefix match for a.
	LookupRoute(a netip.Addr) (ctl.Route, error)
	// Routes returns the number of routes and up to limit of them starting
	// at offset, in a stable order (limit >= 1, offset >= 0).
	Routes(offset, limit int) (total int, rs []ctl.Route, err error)

	// SetNeighbours adds or replaces static or kernel neighbours (n.Kind
	// "static" or "kernel"; n.Ifname, n.IP, n.MAC), all or nothing.
	SetNeighbours(ns []ctl.Neighbour) error
	// DelNeighbours removes neighbours (n.Ifname, n.IP), all or nothing.
	DelNeighbours(ns []ctl.Neighbour) error
	// ShowNeighbours lists the neighbours of ifname ("": all), learned,
	// static and kernel, with their state and age.
	ShowNeighbours(ifname string) ([]ctl.Neighbour, error)

	// SetRuntime turns the per-node runtime statistics on or off.
	SetRuntime(on bool) error
	// Runtime reports whether they are on.
	Runtime() bool
	// Graph describes forwarding thread's graph with per-edge packet
	// counts (thread is checked against Threads first).
	Graph(thread int) ([]graph.NodeInfo, error)
	// StartCapture starts a capture (its filter already checked) that
	// stops by itself when ReadCapture is not called for lease.
	StartCapture(spec graph.CaptureSpec, lease time.Duration) (int64, error)
	// ReadCapture renews capture h's lease and takes up to max records
	// (about maxBytes of data), with its totals of matched and lost packets.
	// It is called without the backend lock: a capture is read while a
	// long route load runs.
	ReadCapture(h int64, max, maxBytes int) ([]graph.Record, uint64, uint64, error)
	// StopCapture stops capture h.
	StopCapture(h int64) error
	// Threads is the number of forwarding threads.
	Threads() int
}
