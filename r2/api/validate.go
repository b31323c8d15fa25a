package api

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/r2go/r2/r2/ctl"
)

// The functions in this file are the API's syntactic checks. They are
// exported so that utilities can report a bad argument (or a bad line of a
// route file) before they send anything, with the same words the server
// would use.

// CheckIfname reports whether name is a valid Linux interface name.
func CheckIfname(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty interface name")
	case len(name) > MaxIfnameLen:
		return fmt.Errorf("interface name %q is %d bytes long; Linux allows at most %d", name, len(name), MaxIfnameLen)
	case name == "." || name == "..":
		return fmt.Errorf("%q is not a valid interface name", name)
	}
	for _, c := range name {
		if c == '/' || c == ':' || c <= ' ' || c == 0x7f || c > 0x7e {
			return fmt.Errorf("interface name %q contains %q, which Linux does not allow", name, c)
		}
	}
	return nil
}

// CheckInstance reports whether name can name an R2 instance (and so its
// socket file): letters, digits, '-', '_' and '.', not starting with '.'.
func CheckInstance(name string) error {
	if name == "" {
		return fmt.Errorf("empty instance name")
	}
	if len(name) > 64 {
		return fmt.Errorf("instance name %q is longer than 64 bytes", name)
	}
	if name[0] == '.' {
		return fmt.Errorf("instance name %q starts with '.'", name)
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return fmt.Errorf("instance name %q contains %q; use letters, digits, '-', '_' and '.'", name, c)
		}
	}
	return nil
}

// ParseMAC parses an Ethernet (EUI-48) unicast MAC address such as
// "8a:61:da:68:46:76". The empty string gives nil, "use the Linux MAC".
func ParseMAC(s string) (net.HardwareAddr, error) {
	if s == "" {
		return nil, nil
	}
	mac, err := net.ParseMAC(s)
	if err != nil {
		return nil, fmt.Errorf("bad MAC address %q: want six hex bytes like 8a:61:da:68:46:76", s)
	}
	if len(mac) != 6 {
		return nil, fmt.Errorf("bad MAC address %q: %d bytes long; Ethernet MACs have 6", s, len(mac))
	}
	if mac[0]&1 != 0 {
		return nil, fmt.Errorf("bad MAC address %q: multicast (lowest bit of the first byte set); an interface needs a unicast MAC", s)
	}
	if string(mac) == "\x00\x00\x00\x00\x00\x00" {
		return nil, fmt.Errorf("bad MAC address %q: all zeros", s)
	}
	return mac, nil
}

// ParseAddr parses one IPv4 or IPv6 address such as "10.1.1.1" or
// "2001:db8::1". what names the address in messages ("next hop",
// "address"). IPv4-mapped IPv6 addresses and zones ("fe80::1%eth0") are
// refused: the interface is always given on its own.
func ParseAddr(what, s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, fmt.Errorf("empty %s", what)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		if strings.Contains(s, "/") {
			return netip.Addr{}, fmt.Errorf("bad %s %q: want a single address like 10.1.1.1, not a prefix", what, s)
		}
		return netip.Addr{}, fmt.Errorf("bad %s %q: %s", what, s, cause(err))
	}
	if a.Is4In6() {
		return netip.Addr{}, fmt.Errorf("%s %q is an IPv4-mapped IPv6 address; write it as %s", what, s, a.Unmap())
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%s %q has a zone; give the address as %s and the interface on its own", what, s, a.WithZone(""))
	}
	return a, nil
}

// ParsePrefix parses an IPv4 or IPv6 prefix in CIDR form, host bits
// allowed: "10.1.1.1/24", "2001:db8::1/64". what names it in messages.
func ParsePrefix(what, s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, fmt.Errorf("empty %s", what)
	}
	addr, bits, ok := strings.Cut(s, "/")
	if !ok {
		return netip.Prefix{}, fmt.Errorf("bad %s %q: missing the /length (e.g. %q)", what, s, s+"/24")
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad %s %q: %s", what, s, cause(err))
	}
	if a.Is4In6() {
		return netip.Prefix{}, fmt.Errorf("%s %q is an IPv4-mapped IPv6 prefix; write IPv4 prefixes as such", what, s)
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("bad %s %q: a prefix has no zone", what, s)
	}
	maxBits := a.BitLen()
	n, err := strconv.Atoi(bits)
	if err != nil || n < 0 || n > maxBits || bits != strconv.Itoa(n) {
		return netip.Prefix{}, fmt.Errorf("bad %s %q: prefix length %q is not a number from 0 to %d", what, s, bits, maxBits)
	}
	return netip.PrefixFrom(a, n), nil
}

// ParseIfAddr parses an interface address, "1.1.1.2/24" or
// "2001:db8:1::1/64": a prefix whose address is usable by a host (not
// unspecified, loopback, multicast, or the limited broadcast) and whose
// length is not 0.
func ParseIfAddr(s string) (netip.Prefix, error) {
	p, err := ParsePrefix("interface address", s)
	if err != nil {
		return p, err
	}
	a := p.Addr()
	switch {
	case p.Bits() == 0:
		return netip.Prefix{}, fmt.Errorf("interface address %s has length /0; give the subnet's length, e.g. %s/%d", s, a, map[bool]int{true: 24, false: 64}[a.Is4()])
	case a.IsUnspecified():
		return netip.Prefix{}, fmt.Errorf("interface address %s is the unspecified address", s)
	case a.IsLoopback():
		return netip.Prefix{}, fmt.Errorf("interface address %s is a loopback address", s)
	case a.IsMulticast():
		return netip.Prefix{}, fmt.Errorf("interface address %s is a multicast address", s)
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return netip.Prefix{}, fmt.Errorf("interface address %s is the limited broadcast address", s)
	}
	return p, nil
}

// ParseRoutePrefix parses a route's destination, which must have no host
// bits set: "10.1.1.0/24" is fine, "10.1.1.1/24" is refused with a hint.
func ParseRoutePrefix(s string) (netip.Prefix, error) {
	p, err := ParsePrefix("route prefix", s)
	if err != nil {
		return p, err
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("route prefix %s has host bits set; did you mean %s?", s, m)
	}
	return p, nil
}

// ParseRoute checks one route as a client gives it: prefix (masked), next
// hop ("" for a connected or local route), output interface and kind ("" to
// derive it: gateway with a next hop, connected without). A route to delete
// (del true) may omit the interface; the backend matches on the prefix.
func ParseRoute(prefix, nexthop, ifname, kind string, del bool) (Route, error) {
	var r Route
	var err error
	if r.Prefix, err = ParseRoutePrefix(prefix); err != nil {
		return Route{}, err
	}
	if nexthop != "" {
		if r.NextHop, err = ParseAddr("next hop", nexthop); err != nil {
			return Route{}, err
		}
		a := r.NextHop
		if a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return Route{}, fmt.Errorf("next hop %s is not a unicast address a neighbour can have", a)
		}
		if a.Is4() != r.Prefix.Addr().Is4() {
			return Route{}, fmt.Errorf("route %s: next hop %s is of the other address family", prefix, a)
		}
	}
	if ifname != "" || !del && kind != KindDrop {
		if err := CheckIfname(ifname); err != nil {
			return Route{}, fmt.Errorf("route %s: %v", prefix, err)
		}
	}
	r.Ifname = ifname
	switch kind {
	case "":
		if r.NextHop.IsValid() {
			kind = KindGateway
		} else {
			kind = KindConnected
		}
	case KindGateway:
		if !r.NextHop.IsValid() {
			return Route{}, fmt.Errorf("route %s: a gateway route needs a next hop", prefix)
		}
	case KindDrop:
		if r.NextHop.IsValid() || ifname != "" {
			return Route{}, fmt.Errorf("route %s: a drop route has neither next hop nor interface", prefix)
		}
	case KindConnected, KindLocal:
		if r.NextHop.IsValid() {
			return Route{}, fmt.Errorf("route %s: a %s route has no next hop (got %s)", prefix, kind, r.NextHop)
		}
		if kind == KindLocal && r.Prefix.Bits() != r.Prefix.Addr().BitLen() {
			return Route{}, fmt.Errorf("route %s: a local route is a host route (/32 or /128)", prefix)
		}
	default:
		return Route{}, fmt.Errorf("route %s: unknown kind %q; want %s, %s, %s or %s", prefix, kind, KindConnected, KindLocal, KindGateway, KindDrop)
	}
	r.Kind = kind
	return r, nil
}

// Path is one next hop of a multipath route as a client gives it.
type Path struct {
	Nexthop, Ifname string
	Weight          int
}

// ParseMultipath checks a multipath (ECMP) route: a masked prefix and 2 to
// MaxPaths paths, each a next hop ("" for a connected path) of the
// prefix's family, an interface and a weight (0 means 1; at most 256).
// The result's NextHop and Ifname are those of the first path.
func ParseMultipath(prefix string, paths []Path) (Route, error) {
	var r Route
	var err error
	if r.Prefix, err = ParseRoutePrefix(prefix); err != nil {
		return Route{}, err
	}
	if len(paths) < 2 || len(paths) > MaxPaths {
		return Route{}, fmt.Errorf("route %s: a multipath route has 2 to %d paths, not %d", prefix, MaxPaths, len(paths))
	}
	for i, p := range paths {
		one, err := ParseRoute(prefix, p.Nexthop, p.Ifname, "", false)
		if err != nil {
			return Route{}, fmt.Errorf("path #%d: %v", i, err)
		}
		if p.Weight < 0 || p.Weight > 256 {
			return Route{}, fmt.Errorf("route %s: path #%d: weight %d out of range 1..256 (0 means 1)", prefix, i, p.Weight)
		}
		r.Paths = append(r.Paths, ctl.Path{NextHop: one.NextHop, Ifname: one.Ifname, Weight: max(p.Weight, 1)})
	}
	r.NextHop, r.Ifname = r.Paths[0].NextHop, r.Paths[0].Ifname
	r.Kind = KindGateway
	if !r.NextHop.IsValid() {
		r.Kind = KindConnected
	}
	return r, nil
}

// cause strips the "netip.ParseAddr(...): " wrapper from a netip error.
func cause(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, "): "); i >= 0 {
		return s[i+3:]
	}
	return s
}
