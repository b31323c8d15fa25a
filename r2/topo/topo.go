//go:build linux

package topo

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/internal/netnsx"
)

// Default addresses of the topology (design.md, "Test topology").
const (
	DefaultH1Addr      = "10.1.0.1/24"
	DefaultH2Addr      = "10.2.0.1/24"
	DefaultRouterAddrA = "10.1.0.2/24"
	DefaultRouterAddrB = "10.2.0.2/24"
	DefaultMTU         = 1500

	// IPv6 addresses, used when Config.IPv6 is set.
	DefaultH1Addr6      = "2001:db8:1::1/64"
	DefaultH2Addr6      = "2001:db8:2::1/64"
	DefaultRouterAddr6A = "2001:db8:1::2/64"
	DefaultRouterAddr6B = "2001:db8:2::2/64"
)

// MaxPrefixLen is the longest Config.Prefix: Linux interface names hold 15
// bytes and the longest suffix the package appends is 3 ("-ra").
const MaxPrefixLen = 12

// Name suffixes. Namespaces and interfaces derive their names from the
// prefix with these, and nothing else, so Cleanup can find them.
const (
	sufH1NS     = "-h1" // namespace of h1
	sufH2NS     = "-h2" // namespace of h2
	sufRouterNS = "-r"  // namespace of the kernel router (RouterNS mode)
	sufRouterA  = "-ra" // router-side end of the h1 link
	sufRouterB  = "-rb" // router-side end of the h2 link
	sufH1If     = "-h1" // h1's end of the h1 link, inside h1
	sufH2If     = "-h2" // h2's end of the h2 link, inside h2
)

// linkUpTimeout bounds the wait for the veth ends to become operationally
// up. Until the kernel's linkwatch has run (up to a second after the carrier
// comes up) a veth drops what is sent on it.
const linkUpTimeout = 5 * time.Second

// Config describes a topology. The zero value, with a Prefix, is an R2-mode
// topology with the default addresses.
type Config struct {
	// Prefix is the unique name prefix of this run: every namespace and
	// interface name is Prefix plus a short suffix. At most MaxPrefixLen
	// characters from [A-Za-z0-9_-], starting with a letter or digit.
	// Empty means UniquePrefix().
	Prefix string
	// RouterNS false (R2 mode) leaves the router-side veth ends in the
	// caller's namespace with no IPv4 address; true (kernel baseline mode)
	// puts them in a namespace of their own with RouterAddrA/RouterAddrB
	// and kernel IPv4 forwarding on.
	RouterNS bool
	// H1Addr and H2Addr are the hosts' addresses with prefix length.
	// Defaults DefaultH1Addr, DefaultH2Addr.
	H1Addr, H2Addr string
	// RouterAddrA and RouterAddrB are the router's addresses on the h1 and
	// h2 links: h1's and h2's default gateway. They are assigned to the
	// kernel only in RouterNS mode; in R2 mode R2 owns them. Defaults
	// DefaultRouterAddrA, DefaultRouterAddrB.
	RouterAddrA, RouterAddrB string
	// MTU of all veth ends. 0 means DefaultMTU.
	MTU int
	// Queues, if not 0, gives every veth end that many receive and
	// transmit queues (ip link add ... numrxqueues N numtxqueues N): a
	// host's flows spread over the router side's receive queues by their
	// hash. 0 leaves the kernel's default.
	Queues int
	// IPv6 true gives the hosts (and, in kernel mode, the router) IPv6
	// beside IPv4: H1Addr6 and H2Addr6 with default routes via
	// RouterAddr6A and RouterAddr6B, EUI-64 link-local addresses, and in
	// kernel mode net.ipv6.conf.all.forwarding=1. DAD is off (accept_dad=0,
	// addresses added with nodad), so addresses are usable at once, and the
	// hosts send no router solicitations and ignore advertisements. In R2
	// mode the router-side ends still have IPv6 disabled in the kernel: R2
	// owns the router addresses and answers neighbour solicitations.
	// False (the default) disables IPv6 everywhere, as before.
	IPv6 bool
	// H1Addr6, H2Addr6, RouterAddr6A and RouterAddr6B are the IPv6
	// counterparts of H1Addr ... RouterAddrB, used when IPv6 is set.
	// Defaults DefaultH1Addr6 ... DefaultRouterAddr6B.
	H1Addr6, H2Addr6, RouterAddr6A, RouterAddr6B string
	// Offloads true leaves the veth defaults (checksum offload, TSO, GSO
	// on). False turns tx/rx checksumming, TSO (all tx-tcp*-segmentation
	// features), UDP segmentation, GSO, GRO (and its gro-list and UDP
	// forwarding variants) and LRO off on all four ends.
	Offloads bool
}

// Topology is a built topology. Its exported fields are read-only; its
// methods are safe for concurrent use.
type Topology struct {
	// Config is the configuration it was built from, defaults filled in.
	Config Config

	// H1NS, H2NS and RouterNSName are the namespace names; RouterNSName
	// is "" (the caller's namespace) in R2 mode.
	H1NS, H2NS, RouterNSName string
	// RouterIfA and RouterIfB are the router-side veth ends, facing h1 and
	// h2: the interfaces R2 attaches to in R2 mode.
	RouterIfA, RouterIfB string
	// RouterIndexA and RouterIndexB are their ifindexes (in RouterNSName).
	RouterIndexA, RouterIndexB int
	// H1If and H2If are the hosts' veth ends, inside H1NS and H2NS.
	H1If, H2If string
	// MAC addresses of the four veth ends.
	H1MAC, H2MAC, RouterMACA, RouterMACB net.HardwareAddr
	// Addresses (without prefix length) from Config.
	H1IP, H2IP, RouterIPA, RouterIPB netip.Addr
	// IPv6 addresses (without prefix length) from Config, and the hosts'
	// link-local addresses as the kernel chose them (without zone); all
	// invalid unless Config.IPv6.
	H1IP6, H2IP6, RouterIP6A, RouterIP6B, H1LL, H2LL netip.Addr

	mu     sync.Mutex
	closed bool
	// root is the namespace of the caller of New ("" in names).
	root netns.NsHandle
	// nsh and nlh hold an open namespace handle and netlink handle for
	// every namespace of the topology, keyed by name ("" is root).
	nsh map[string]netns.NsHandle
	nlh map[string]*netlink.Handle
	// createdNS are the namespaces New created, in creation order.
	createdNS []string
	// createdLinks are the veth pairs New created, each as the namespace
	// and name of one end (deleting one end deletes the pair).
	createdLinks []nsLink
	// sinks are the traffic sinks attached with AddSink.
	sinks []*Sink
}

// nsLink names an interface in a namespace of the topology.
type nsLink struct {
	ns, name string
}

// testHookBeforeReturn, when set (by tests), runs at the end of New; an error
// makes New fail and tear down.
var testHookBeforeReturn func(*Topology) error

// New builds the topology described by cfg. On error it removes everything
// it created before returning. The caller must Close the topology.
func New(cfg Config) (*Topology, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	t := &Topology{
		Config:    cfg,
		H1NS:      cfg.Prefix + sufH1NS,
		H2NS:      cfg.Prefix + sufH2NS,
		RouterIfA: cfg.Prefix + sufRouterA,
		RouterIfB: cfg.Prefix + sufRouterB,
		H1If:      cfg.Prefix + sufH1If,
		H2If:      cfg.Prefix + sufH2If,
		root:      netns.None(),
		nsh:       map[string]netns.NsHandle{},
		nlh:       map[string]*netlink.Handle{},
	}
	if cfg.RouterNS {
		t.RouterNSName = cfg.Prefix + sufRouterNS
	}
	for _, a := range []struct {
		s   string
		dst *netip.Addr
	}{{cfg.H1Addr, &t.H1IP}, {cfg.H2Addr, &t.H2IP}, {cfg.RouterAddrA, &t.RouterIPA}, {cfg.RouterAddrB, &t.RouterIPB}} {
		p, err := netip.ParsePrefix(a.s)
		if err != nil || !p.Addr().Is4() {
			return nil, fmt.Errorf("topo: address %q: want an IPv4 address with prefix length", a.s)
		}
		*a.dst = p.Addr()
	}
	if cfg.IPv6 {
		for _, a := range []struct {
			s   string
			dst *netip.Addr
		}{{cfg.H1Addr6, &t.H1IP6}, {cfg.H2Addr6, &t.H2IP6}, {cfg.RouterAddr6A, &t.RouterIP6A}, {cfg.RouterAddr6B, &t.RouterIP6B}} {
			p, err := netip.ParsePrefix(a.s)
			if err != nil || !p.Addr().Is6() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
				return nil, fmt.Errorf("topo: address %q: want an IPv6 address with prefix length", a.s)
			}
			*a.dst = p.Addr()
		}
	}
	if left, err := Leftovers(cfg.Prefix); err != nil {
		return nil, fmt.Errorf("topo: %w", err)
	} else if len(left) > 0 {
		return nil, fmt.Errorf("topo: prefix %q in use: %v exist (another run, or leftovers: see Cleanup)", cfg.Prefix, left)
	}
	if err := t.build(); err != nil {
		if cerr := t.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("teardown: %w", cerr))
		}
		return nil, fmt.Errorf("topo %s: %w", cfg.Prefix, err)
	}
	return t, nil
}

// withDefaults validates c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Prefix == "" {
		c.Prefix = UniquePrefix()
	}
	if err := validPrefix(c.Prefix); err != nil {
		return c, err
	}
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&c.H1Addr, DefaultH1Addr)
	def(&c.H2Addr, DefaultH2Addr)
	def(&c.RouterAddrA, DefaultRouterAddrA)
	def(&c.RouterAddrB, DefaultRouterAddrB)
	def(&c.H1Addr6, DefaultH1Addr6)
	def(&c.H2Addr6, DefaultH2Addr6)
	def(&c.RouterAddr6A, DefaultRouterAddr6A)
	def(&c.RouterAddr6B, DefaultRouterAddr6B)
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.MTU < 68 || c.MTU > 65535 {
		return c, fmt.Errorf("topo: MTU %d out of range [68, 65535]", c.MTU)
	}
	return c, nil
}

// validPrefix checks that p makes valid, path-safe interface names.
func validPrefix(p string) error {
	if len(p) == 0 || len(p) > MaxPrefixLen {
		return fmt.Errorf("topo: prefix %q: want 1 to %d characters", p, MaxPrefixLen)
	}
	for i, c := range p {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || i > 0 && (c == '-' || c == '_')
		if !ok {
			return fmt.Errorf("topo: prefix %q: want [A-Za-z0-9][A-Za-z0-9_-]*", p)
		}
	}
	return nil
}

// build does the work of New; on error the caller tears down.
func (t *Topology) build() error {
	cfg := t.Config
	var err error
	if t.root, err = netns.Get(); err != nil {
		return fmt.Errorf("get current netns: %w", err)
	}
	if t.nlh[""], err = netlink.NewHandleAt(t.root); err != nil {
		return fmt.Errorf("netlink handle: %w", err)
	}
	t.nsh[""] = t.root

	// Namespaces, with IPv6 off before any interface appears in them (new
	// interfaces copy net.ipv6.conf.default).
	quiet := []sysctl{
		{"net/ipv6/conf/all/disable_ipv6", "1"},
		{"net/ipv6/conf/default/disable_ipv6", "1"},
	}
	if cfg.IPv6 {
		// IPv6 on, but as quiet as it gets: no DAD (addresses usable at
		// once, no probes), no router solicitations, no autoconfiguration
		// from advertisements. MLD reports for the solicited-node groups
		// remain (R2 drops them: EtherDecap multicast).
		quiet = []sysctl{
			{"net/ipv6/conf/default/accept_dad", "0"},
			{"net/ipv6/conf/all/accept_dad", "0"},
			{"net/ipv6/conf/default/router_solicitations", "0"},
			{"net/ipv6/conf/default/accept_ra", "0"},
			{"net/ipv6/conf/all/accept_ra", "0"},
			{"net/ipv6/conf/default/disable_ipv6", "0"},
			{"net/ipv6/conf/all/disable_ipv6", "0"},
		}
	}
	names := []string{t.H1NS, t.H2NS}
	if cfg.RouterNS {
		names = append(names, t.RouterNSName)
	}
	for _, name := range names {
		h, err := netnsx.NewNamed(name)
		if err != nil {
			return err
		}
		t.createdNS = append(t.createdNS, name)
		t.nsh[name] = h
		if t.nlh[name], err = netlink.NewHandleAt(h); err != nil {
			return fmt.Errorf("netlink handle in %s: %w", name, err)
		}
		settings := quiet
		if name == t.RouterNSName {
			settings = append(settings[:len(settings):len(settings)], sysctl{"net/ipv4/ip_forward", "1"})
			if cfg.IPv6 {
				settings = append(settings, sysctl{"net/ipv6/conf/all/forwarding", "1"})
			}
		}
		if err := writeSysctls(h, settings); err != nil {
			return fmt.Errorf("netns %s: %w", name, err)
		}
		if err := t.linkUp(name, "lo"); err != nil {
			return err
		}
	}

	// Veth pairs, created in the router's namespace with the peer directly
	// in the host's, so no name ever appears anywhere else.
	pairs := []struct{ rif, hns, hif string }{
		{t.RouterIfA, t.H1NS, t.H1If},
		{t.RouterIfB, t.H2NS, t.H2If},
	}
	for _, p := range pairs {
		la := netlink.NewLinkAttrs()
		la.Name = p.rif
		la.MTU = cfg.MTU
		v := netlink.NewVeth(la)
		v.PeerName = p.hif
		v.PeerMTU = uint32(cfg.MTU)
		if cfg.Queues > 0 {
			la.NumRxQueues, la.NumTxQueues = cfg.Queues, cfg.Queues
			v.LinkAttrs = la
			v.PeerNumRxQueues, v.PeerNumTxQueues = uint32(cfg.Queues), uint32(cfg.Queues)
		}
		v.PeerNamespace = netlink.NsFd(t.nsh[p.hns])
		if err := t.nlh[t.RouterNSName].LinkAdd(v); err != nil {
			return fmt.Errorf("add veth %s/%s: %w", p.rif, p.hif, err)
		}
		t.createdLinks = append(t.createdLinks, nsLink{t.RouterNSName, p.rif})
	}

	ends := []nsLink{{t.H1NS, t.H1If}, {t.H2NS, t.H2If}, {t.RouterNSName, t.RouterIfA}, {t.RouterNSName, t.RouterIfB}}
	if !cfg.Offloads {
		for _, e := range ends {
			if err := disableOffloads(t.nsh[e.ns], e.name); err != nil {
				return err
			}
		}
	}

	// Router side.
	if cfg.RouterNS {
		if err := t.addAddr(t.RouterNSName, t.RouterIfA, cfg.RouterAddrA); err != nil {
			return err
		}
		if err := t.addAddr(t.RouterNSName, t.RouterIfB, cfg.RouterAddrB); err != nil {
			return err
		}
		if cfg.IPv6 {
			if err := t.addAddr(t.RouterNSName, t.RouterIfA, cfg.RouterAddr6A); err != nil {
				return err
			}
			if err := t.addAddr(t.RouterNSName, t.RouterIfB, cfg.RouterAddr6B); err != nil {
				return err
			}
		}
	} else {
		// Set while the links are down, before IPv6 could send anything.
		var s []sysctl
		for _, ifn := range []string{t.RouterIfA, t.RouterIfB} {
			s = append(s,
				sysctl{"net/ipv6/conf/" + ifn + "/disable_ipv6", "1"},
				// Never forward (or answer ICMP for) what R2's
				// peers send to the kernel, even if the root
				// namespace forwards between other interfaces.
				sysctl{"net/ipv4/conf/" + ifn + "/forwarding", "0"},
				sysctl{"net/ipv4/conf/" + ifn + "/rp_filter", "1"},
				// Never answer ARP: R2 does.
				sysctl{"net/ipv4/conf/" + ifn + "/arp_ignore", "8"},
			)
		}
		if err := writeSysctls(t.root, s); err != nil {
			return fmt.Errorf("root netns: %w", err)
		}
	}
	if err := t.addAddr(t.H1NS, t.H1If, cfg.H1Addr); err != nil {
		return err
	}
	if err := t.addAddr(t.H2NS, t.H2If, cfg.H2Addr); err != nil {
		return err
	}
	if cfg.IPv6 {
		if err := t.addAddr(t.H1NS, t.H1If, cfg.H1Addr6); err != nil {
			return err
		}
		if err := t.addAddr(t.H2NS, t.H2If, cfg.H2Addr6); err != nil {
			return err
		}
	}
	for _, e := range ends {
		if err := t.linkUp(e.ns, e.name); err != nil {
			return err
		}
	}
	for _, e := range ends {
		if err := t.waitOperUp(e.ns, e.name); err != nil {
			return err
		}
	}
	if err := t.addRoute(t.H1NS, "0.0.0.0/0", t.RouterIPA.String()); err != nil {
		return err
	}
	if err := t.addRoute(t.H2NS, "0.0.0.0/0", t.RouterIPB.String()); err != nil {
		return err
	}
	if cfg.IPv6 {
		if err := t.addRoute(t.H1NS, "::/0", t.RouterIP6A.String()); err != nil {
			return err
		}
		if err := t.addRoute(t.H2NS, "::/0", t.RouterIP6B.String()); err != nil {
			return err
		}
		if t.H1LL, err = t.waitLinkLocal(t.H1NS, t.H1If); err != nil {
			return err
		}
		if t.H2LL, err = t.waitLinkLocal(t.H2NS, t.H2If); err != nil {
			return err
		}
	}

	// Read back what the kernel chose.
	for _, e := range []struct {
		nsLink
		mac   *net.HardwareAddr
		index *int
	}{
		{ends[0], &t.H1MAC, nil},
		{ends[1], &t.H2MAC, nil},
		{ends[2], &t.RouterMACA, &t.RouterIndexA},
		{ends[3], &t.RouterMACB, &t.RouterIndexB},
	} {
		l, err := t.nlh[e.ns].LinkByName(e.name)
		if err != nil {
			return fmt.Errorf("link %s: %w", e.name, err)
		}
		*e.mac = l.Attrs().HardwareAddr
		if e.index != nil {
			*e.index = l.Attrs().Index
		}
		if !cfg.RouterNS && e.ns == "" {
			addrs, err := t.nlh[""].AddrList(l, netlink.FAMILY_V4)
			if err != nil {
				return fmt.Errorf("addresses of %s: %w", e.name, err)
			}
			if len(addrs) > 0 {
				return fmt.Errorf("router end %s has IPv4 addresses %v in R2 mode", e.name, addrs)
			}
		}
	}
	if testHookBeforeReturn != nil {
		return testHookBeforeReturn(t)
	}
	return nil
}

// handle returns the netlink handle of namespace ns of the topology.
func (t *Topology) handle(ns string) (*netlink.Handle, error) {
	h := t.nlh[ns]
	if h == nil {
		return nil, fmt.Errorf("namespace %q is not part of topology %s", ns, t.Config.Prefix)
	}
	return h, nil
}

// linkUp sets ifname in ns administratively up.
func (t *Topology) linkUp(ns, ifname string) error {
	h, err := t.handle(ns)
	if err != nil {
		return err
	}
	l, err := h.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("link %s in %q: %w", ifname, ns, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s in %q up: %w", ifname, ns, err)
	}
	return nil
}

// waitOperUp waits until ifname in ns is operationally up: only then does the
// kernel transmit on it.
func (t *Topology) waitOperUp(ns, ifname string) error {
	h, err := t.handle(ns)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(linkUpTimeout)
	for {
		l, err := h.LinkByName(ifname)
		if err != nil {
			return fmt.Errorf("link %s in %q: %w", ifname, ns, err)
		}
		if st := l.Attrs().OperState; st == netlink.OperUp {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("link %s in %q: operstate %v after %v", ifname, ns, st, linkUpTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitLinkLocal waits for the kernel's link-local address on ifname in ns
// (added once the link has its carrier; usable at once without DAD) and
// returns it.
func (t *Topology) waitLinkLocal(ns, ifname string) (netip.Addr, error) {
	h, err := t.handle(ns)
	if err != nil {
		return netip.Addr{}, err
	}
	l, err := h.LinkByName(ifname)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("link %s in %q: %w", ifname, ns, err)
	}
	deadline := time.Now().Add(linkUpTimeout)
	for {
		addrs, err := h.AddrList(l, netlink.FAMILY_V6)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("addresses of %s in %q: %w", ifname, ns, err)
		}
		for _, a := range addrs {
			ip, ok := netip.AddrFromSlice(a.IP)
			if ok && ip.IsLinkLocalUnicast() && a.Flags&unix.IFA_F_TENTATIVE == 0 {
				return ip, nil
			}
		}
		if time.Now().After(deadline) {
			return netip.Addr{}, fmt.Errorf("link %s in %q: no usable link-local address after %v (%v)", ifname, ns, linkUpTimeout, addrs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// addAddr adds prefix (for example "10.3.0.1/32" or "2001:db8:9::1/128")
// to ifname in ns; an IPv6 address is added without DAD (nodad).
func (t *Topology) addAddr(ns, ifname, prefix string) error {
	h, err := t.handle(ns)
	if err != nil {
		return err
	}
	a, err := netlink.ParseAddr(prefix)
	if err != nil {
		return fmt.Errorf("address %q: %w", prefix, err)
	}
	if a.IP.To4() == nil {
		a.Flags |= unix.IFA_F_NODAD
	}
	l, err := h.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("link %s in %q: %w", ifname, ns, err)
	}
	if err := h.AddrAdd(l, a); err != nil {
		return fmt.Errorf("add %s to %s in %q: %w", prefix, ifname, ns, err)
	}
	return nil
}

// addRoute adds a route to prefix via gateway via in ns.
func (t *Topology) addRoute(ns, prefix, via string) error {
	h, err := t.handle(ns)
	if err != nil {
		return err
	}
	_, dst, err := net.ParseCIDR(prefix)
	if err != nil {
		return fmt.Errorf("route prefix %q: %w", prefix, err)
	}
	gw := net.ParseIP(via)
	if gw == nil {
		return fmt.Errorf("route gateway %q: not an IP address", via)
	}
	if err := h.RouteAdd(&netlink.Route{Dst: dst, Gw: gw}); err != nil {
		return fmt.Errorf("add route %s via %s in %q: %w", prefix, via, ns, err)
	}
	return nil
}

// ownNS checks that ns is one of the namespaces this topology created: the
// methods that change configuration refuse to touch the root namespace.
func (t *Topology) ownNS(ns string) error {
	for _, n := range t.createdNS {
		if n == ns {
			return nil
		}
	}
	return fmt.Errorf("topo %s: namespace %q was not created by this topology", t.Config.Prefix, ns)
}

// AddHostAddr adds the address prefix (for example "10.3.0.1/32") to
// interface ifname (for example t.H2If or "lo") in namespace ns, which must
// be one the topology created (H1NS, H2NS or RouterNSName, not the root
// namespace). Use it with AddHostRoute for a "host behind a static route".
func (t *Topology) AddHostAddr(ns, ifname, prefix string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return fmt.Errorf("topo %s: %w", t.Config.Prefix, net.ErrClosed)
	}
	if err := t.ownNS(ns); err != nil {
		return err
	}
	return t.addAddr(ns, ifname, prefix)
}

// AddHostRoute adds a route to prefix (for example "10.3.0.0/24") via the
// gateway address via in namespace ns, which must be one the topology
// created.
func (t *Topology) AddHostRoute(ns, prefix, via string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return fmt.Errorf("topo %s: %w", t.Config.Prefix, net.ErrClosed)
	}
	if err := t.ownNS(ns); err != nil {
		return err
	}
	return t.addRoute(ns, prefix, via)
}

// Offloads reads back the offloads of interface ifname in namespace ns (""
// is the caller's namespace at New), keyed by the names of the top-level
// lines of `ethtool -k`: tx-checksumming, rx-checksumming,
// tcp-segmentation-offload, generic-segmentation-offload,
// generic-receive-offload, and the UDP GSO/GRO and LRO variants that
// Config.Offloads also covers. An offload is on when any of its features is.
func (t *Topology) Offloads(ns, ifname string) (map[string]bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, fmt.Errorf("topo %s: %w", t.Config.Prefix, net.ErrClosed)
	}
	h, ok := t.nsh[ns]
	if !ok {
		return nil, fmt.Errorf("namespace %q is not part of topology %s", ns, t.Config.Prefix)
	}
	return getOffloads(h, ifname)
}

// DisableOffloads turns every offload Config.Offloads covers off on
// interface ifname in namespace ns, as New does for all of them without
// Config.Offloads: for a topology whose hosts differ (one offloading, one
// not).
func (t *Topology) DisableOffloads(ns, ifname string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return fmt.Errorf("topo %s: %w", t.Config.Prefix, net.ErrClosed)
	}
	h, ok := t.nsh[ns]
	if !ok {
		return fmt.Errorf("namespace %q is not part of topology %s", ns, t.Config.Prefix)
	}
	return disableOffloads(h, ifname)
}

// Close removes the veth pairs and namespaces the topology created. It is
// idempotent, and tolerates things already removed (for example by Cleanup).
// A namespace that a process still runs in survives, empty and unnamed,
// until that process exits.
func (t *Topology) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	var errs []error
	for _, s := range t.sinks {
		if err := s.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	// Delete links explicitly: deleting a namespace frees its interfaces
	// asynchronously, and R2-mode ends live in the root namespace.
	for i := len(t.createdLinks) - 1; i >= 0; i-- {
		l := t.createdLinks[i]
		if err := delLink(t.nlh[l.ns], l.name); err != nil {
			errs = append(errs, err)
		}
	}
	for _, h := range t.nlh {
		if h != nil {
			h.Close()
		}
	}
	for name, h := range t.nsh {
		if name != "" {
			h.Close()
		}
	}
	for i := len(t.createdNS) - 1; i >= 0; i-- {
		if err := netnsx.Delete(t.createdNS[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if t.root.IsOpen() {
		t.root.Close()
	}
	t.nlh, t.nsh = nil, nil
	return errors.Join(errs...)
}

// delLink deletes interface name through h; a missing link (or handle) is
// not an error.
func delLink(h *netlink.Handle, name string) error {
	if h == nil {
		return nil
	}
	l, err := h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return nil
		}
		return fmt.Errorf("link %s: %w", name, err)
	}
	if err := h.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}
