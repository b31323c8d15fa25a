// Package ctl defines R2's control-plane requests and results once: the
// route, interface, address and neighbour types that the API server, the
// router (the control-side policy) and the utilities all use, and the kinds
// of error a request can meet. It depends on the standard library only.
package ctl

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Route kinds.
const (
	// KindConnected is a route to a directly attached network: no next hop,
	// the destination itself is resolved on Ifname.
	KindConnected = "connected"
	// KindLocal is a host route for one of the router's own addresses (or
	// a subnet broadcast address, delivered to the router and dropped).
	KindLocal = "local"
	// KindGateway is a route through the next hop NextHop on Ifname.
	KindGateway = "gateway"
	// KindDrop discards what it matches and answers with an ICMP
	// destination unreachable (rate limited): a routing daemon's
	// blackhole, unreachable or prohibit route. It has neither next hop
	// nor interface.
	KindDrop = "drop"
)

// Route is a route request or an installed route.
type Route struct {
	// Prefix is the destination, masked (no host bits set).
	Prefix netip.Prefix
	// NextHop is the gateway; the zero Addr (invalid) for connected and
	// local routes.
	NextHop netip.Addr
	// Ifname is the output interface.
	Ifname string
	// Paths, when it has two or more entries, makes the route multipath
	// (ECMP): packets are spread over the paths per flow, in proportion to
	// their weights; NextHop and Ifname are then those of Paths[0].
	Paths []Path
	// Kind is KindConnected, KindLocal, KindGateway or KindDrop. In a request, ""
	// means gateway when NextHop is set and connected otherwise.
	Kind string
}

// Path is one next hop of a multipath route.
type Path struct {
	NextHop netip.Addr // invalid: the destination is on Ifname's link
	Ifname  string
	Weight  int // 1..256; 0 in a request means 1
}

// Equal reports whether r and o are the same route.
func (r Route) Equal(o Route) bool {
	if r.Prefix != o.Prefix || r.NextHop != o.NextHop || r.Ifname != o.Ifname || r.Kind != o.Kind || len(r.Paths) != len(o.Paths) {
		return false
	}
	for i := range r.Paths {
		if r.Paths[i] != o.Paths[i] {
			return false
		}
	}
	return true
}

// String formats r the way ip route does ("10.0.0.0/8 via 10.1.0.1 dev
// eth0", "10.1.0.0/24 connected dev eth0").
func (r Route) String() string {
	if len(r.Paths) > 1 {
		s := r.Prefix.String()
		for _, p := range r.Paths {
			if p.NextHop.IsValid() {
				s += fmt.Sprintf(" nexthop via %s dev %s weight %d", p.NextHop, p.Ifname, max(p.Weight, 1))
			} else {
				s += fmt.Sprintf(" nexthop dev %s weight %d", p.Ifname, max(p.Weight, 1))
			}
		}
		return s
	}
	if r.NextHop.IsValid() {
		return fmt.Sprintf("%s via %s dev %s", r.Prefix, r.NextHop, r.Ifname)
	}
	if r.Kind == KindDrop {
		return fmt.Sprintf("%s drop", r.Prefix)
	}
	if r.Kind != "" {
		return fmt.Sprintf("%s %s dev %s", r.Prefix, r.Kind, r.Ifname)
	}
	return fmt.Sprintf("%s dev %s", r.Prefix, r.Ifname)
}

// AddIf is a request to attach a Linux interface.
type AddIf struct {
	// Name is the Linux interface name.
	Name string
	// Ifindex is R2's index for the interface, or -1 to pick a free one.
	Ifindex int
	// MAC is the address to use; nil means the Linux interface's own.
	MAC net.HardwareAddr
	// Thread is the owning forwarding thread, or -1 to pick one.
	Thread int
	// Threads, when it has more than one, are the threads serving the
	// interface, each with its own socket (Thread is Threads[0], the
	// owner); nil or one: Thread alone.
	Threads []int
	// Driver is "" (the daemon's default) or a registered driver name.
	Driver string
}

// IfInfo describes one attached interface.
type IfInfo struct {
	Name       string           // Linux interface name
	Ifindex    int              // R2's index
	LinuxIndex int              // the kernel's ifindex
	MAC        net.HardwareAddr // the MAC R2 uses
	MTU        int              // bytes
	Up         bool             // link up
	Addrs      []netip.Prefix   // interface addresses, host bits set
	Thread     int              // owning forwarding thread
	Driver     string           // "afpacket", "afxdp (copy)", ...
	RxPkts     uint64           // packets received
	TxPkts     uint64           // packets sent
	RxBytes    uint64           // bytes received
	TxBytes    uint64           // bytes sent
	RxDrops    uint64           // packets dropped on receive
	TxDrops    uint64           // packets dropped on send
	HostOwned  bool             // the Linux host answers for the addresses
}

// Neighbour is an IP-to-MAC mapping on an interface, as R2 knows it.
type Neighbour struct {
	Ifname string
	IP     netip.Addr
	MAC    net.HardwareAddr // nil while incomplete or failed
	// Kind is how the entry came: NeighLearned (ARP, neighbour
	// discovery), NeighStatic (the API) or NeighKernel (the API, from the
	// kernel follower).
	Kind string
	// State is NeighStatic for static and kernel entries; for learned ones
	// NeighReachable (confirmed within the last 30 s), NeighStale (older:
	// re-asked for when used), NeighIncomplete (being resolved) or
	// NeighFailed (no answer: multipath groups avoid it).
	State string
	// Age is the time since the entry was last set or confirmed.
	Age time.Duration
}

// Neighbour kinds and states (Neighbour.Kind, Neighbour.State).
const (
	NeighLearned    = "learned"
	NeighStatic     = "static"
	NeighKernel     = "kernel"
	NeighReachable  = "reachable"
	NeighStale      = "stale"
	NeighIncomplete = "incomplete"
	NeighFailed     = "failed"
)

// ErrKind classifies a refused request, so that scripts need not parse the
// text. The values are those of the API's ErrKind enum.
type ErrKind int

// Error kinds.
const (
	KindUnknown  ErrKind = 0 // not classified
	KindInvalid  ErrKind = 1 // the request is malformed or contradicts itself
	KindNotFound ErrKind = 2 // it names something that does not exist
	KindExists   ErrKind = 3 // it would create something that exists
	KindBusy     ErrKind = 4 // the router cannot take it now (shutting down, limits)
	KindInternal ErrKind = 5 // a bug or a system failure
)

func (k ErrKind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindNotFound:
		return "not found"
	case KindExists:
		return "exists"
	case KindBusy:
		return "busy"
	case KindInternal:
		return "internal"
	}
	return "unknown"
}

// Sentinel errors; messages wrap them with details ("route 10.0.0.0/8:
// interface eth9: not found").
var (
	ErrInvalid  = errors.New("invalid")
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrBusy     = errors.New("busy")
	ErrClosed   = fmt.Errorf("router is shutting down: %w", ErrBusy)
	ErrInternal = errors.New("internal error")
)

// KindOf classifies err by the sentinel it wraps.
func KindOf(err error) ErrKind {
	switch {
	case err == nil:
		return KindUnknown
	case errors.Is(err, ErrInvalid):
		return KindInvalid
	case errors.Is(err, ErrNotFound):
		return KindNotFound
	case errors.Is(err, ErrExists):
		return KindExists
	case errors.Is(err, ErrBusy):
		return KindBusy
	case errors.Is(err, ErrInternal):
		return KindInternal
	}
	return KindUnknown
}

// Errorf formats an error of kind k: the text is the message, and
// errors.Is(err, <the kind's sentinel>) holds.
func Errorf(k ErrKind, format string, args ...any) error {
	return &kindError{kind: k, msg: fmt.Sprintf(format, args...)}
}

type kindError struct {
	kind ErrKind
	msg  string
}

func (e *kindError) Error() string { return e.msg }

func (e *kindError) Is(target error) bool {
	switch target {
	case ErrInvalid:
		return e.kind == KindInvalid
	case ErrNotFound:
		return e.kind == KindNotFound
	case ErrExists:
		return e.kind == KindExists
	case ErrBusy:
		return e.kind == KindBusy
	case ErrInternal:
		return e.kind == KindInternal
	}
	return false
}
