package api

import (
	"net"
	"net/netip"
	"path/filepath"
)

// Backend is the engine's control side as the API server sees it. The server
// validates every argument before calling a method (names are valid Linux
// interface names, prefixes and addresses are IPv4, route prefixes have no
// host bits set...), and calls at most one method at a time. A returned error
// is sent to the client as an ApiErr carrying err.Error(), so it should say
// what was wrong in terms the operator understands. A method that returns an
// error must leave the state unchanged.
type Backend interface {
	// AddInterface attaches a Linux interface to the router.
	AddInterface(req AddIf) error
	// DelInterface detaches the interface called name.
	DelInterface(name string) error
	// AddAddr gives interface ifname the address p (host bits set, e.g.
	// 1.1.1.2/24).
	AddAddr(ifname string, p netip.Prefix) error
	// DelAddr removes address p from interface ifname.
	DelAddr(ifname string, p netip.Prefix) error
	// Interfaces describes interface name, or all interfaces if name is "".
	Interfaces(name string) ([]IfInfo, error)

	// AddRoutes adds routes, all or nothing.
	AddRoutes(rs []Route) error
	// DelRoutes removes routes, all or nothing.
	DelRoutes(rs []Route) error
	// LookupRoute returns the longest-prefix match for a.
	LookupRoute(a netip.Addr) (Route, error)
	// Routes returns the number of routes in the table and up to limit of
	// them starting at offset, in a stable order (limit >= 1, offset >= 0).
	Routes(offset, limit int) (total int, rs []Route, err error)

	// LogEnable turns the forwarding-path logger on.
	LogEnable() error
	// LogDisable turns it off.
	LogDisable() error
	// LogClear empties it.
	LogClear() error
	// LogEnabled reports whether it is on.
	LogEnabled() bool
}

// AddIf is a request to attach a Linux interface.
type AddIf struct {
	// Name is the Linux interface name.
	Name string
	// Ifindex is R2's index for the interface, 0..MaxIfindex, or -1 to let
	// the backend pick a free one.
	Ifindex int
	// MAC is the address to use; nil means the Linux interface's own.
	MAC net.HardwareAddr
	// Thread is the owning forwarding thread, or -1 to let the backend pick.
	Thread int
	// Driver is "" (the backend's default) or one of Options.Drivers.
	Driver string
}

// IfInfo describes one interface.
type IfInfo struct {
	Name       string           // Linux interface name
	Ifindex    int              // R2's index
	LinuxIndex int              // the kernel's ifindex
	MAC        net.HardwareAddr // the MAC R2 uses
	MTU        int              // bytes
	Up         bool             // link up
	Addrs      []netip.Prefix   // interface addresses, host bits set
	Thread     int              // owning forwarding thread
	Driver     string           // "afpacket", "afxdp", ...
	RxPkts     uint64           // packets received
	TxPkts     uint64           // packets sent
	RxDrops    uint64           // packets dropped on receive
	TxDrops    uint64           // packets dropped on send
}

// Route kinds.
const (
	// KindConnected is a route to a directly attached network: no next hop,
	// the destination itself is resolved on Ifname.
	KindConnected = "connected"
	// KindLocal is a /32 for one of the router's own addresses.
	KindLocal = "local"
	// KindGateway is a route through the next hop NextHop on Ifname.
	KindGateway = "gateway"
)

// Route is one IPv4 route.
type Route struct {
	// Prefix is the destination, masked (no host bits set).
	Prefix netip.Prefix
	// NextHop is the gateway; the zero Addr (invalid) for connected and
	// local routes.
	NextHop netip.Addr
	// Ifname is the output interface.
	Ifname string
	// Kind is KindConnected, KindLocal or KindGateway.
	Kind string
}

// Limits on requests, checked before the backend is called.
const (
	// MaxIfindex is the largest R2 interface index a client may ask for.
	// R2 indexes per-interface tables by it, so it stays small.
	MaxIfindex = 4095
	// MaxThread is the largest thread number a client may ask for.
	MaxThread = 1023
	// MaxIfnameLen is Linux's limit (IFNAMSIZ - 1).
	MaxIfnameLen = 15
	// MaxPage is the most routes Route.show returns in one call. The real
	// cap may be lower: a page must fit in one frame (see pageCap).
	MaxPage = 10000
	// MaxBatch is the most routes add_batch and del_batch accept per call.
	// In practice the frame size binds first: about 10000 IPv4 routes fit
	// in the default 1 MiB.
	MaxBatch = 65536
)

// SocketDir is where instances put their API sockets.
const SocketDir = "/run/r2"

// DefaultInstance is the name of the instance utilities talk to by default.
const DefaultInstance = "default"

// SocketPath returns the API socket path of instance: /run/r2/<instance>.sock.
// An empty instance means DefaultInstance.
func SocketPath(instance string) string {
	if instance == "" {
		instance = DefaultInstance
	}
	return filepath.Join(SocketDir, instance+".sock")
}
