package main

import (
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// source is the kernel's side: netlink subscriptions to links, addresses,
// routes and neighbours of the current network namespace, merged into one
// channel of Events. A subscription that fails (ENOBUFS: the socket
// overflowed and notifications were lost) closes Lost; the caller then
// opens a new source, dumps, and resyncs.
type source struct {
	Events chan Event
	Lost   chan struct{} // closed when a subscription failed
	Err    error         // why, once Lost is closed

	done     chan struct{}
	lostOnce sync.Once
	mu       sync.Mutex
	cbErr    error // the last error a subscription reported
	wg       sync.WaitGroup
}

// eventQueue is how many converted notifications wait for the follower.
// The kernel socket buffers behind it (rcvbuf) absorb the rest of a burst.
const eventQueue = 1 << 16

// openSource subscribes (before any dump, so that nothing falls between the
// dump and the notifications) with rcvbuf bytes of socket receive buffer
// per subscription (SO_RCVBUFFORCE, as root: above net.core.rmem_max).
func openSource(rcvbuf int) (*source, error) {
	s := &source{Events: make(chan Event, eventQueue), Lost: make(chan struct{}), done: make(chan struct{})}
	fail := func(err error) {
		s.lostOnce.Do(func() {
			s.mu.Lock()
			if s.cbErr != nil {
				err = fmt.Errorf("%v: %w", err, s.cbErr)
			}
			s.mu.Unlock()
			s.Err = err
			close(s.Lost)
		})
	}
	onErr := func(what string) func(error) {
		return func(err error) {
			s.mu.Lock()
			s.cbErr = fmt.Errorf("%s: %w", what, err)
			s.mu.Unlock()
		}
	}
	links := make(chan netlink.LinkUpdate, 1024)
	addrs := make(chan netlink.AddrUpdate, 1024)
	routes := make(chan netlink.RouteUpdate, 4096)
	neighs := make(chan netlink.NeighUpdate, 1024)
	var err error
	if err = netlink.LinkSubscribeWithOptions(links, s.done, netlink.LinkSubscribeOptions{
		ErrorCallback: onErr("link"), ReceiveBufferSize: rcvbuf, ReceiveBufferForceSize: true}); err != nil {
		close(s.done)
		return nil, fmt.Errorf("subscribe to links: %w", err)
	}
	if err = netlink.AddrSubscribeWithOptions(addrs, s.done, netlink.AddrSubscribeOptions{
		ErrorCallback: onErr("address"), ReceiveBufferSize: rcvbuf, ReceiveBufferForceSize: true}); err != nil {
		close(s.done)
		return nil, fmt.Errorf("subscribe to addresses: %w", err)
	}
	if err = netlink.RouteSubscribeWithOptions(routes, s.done, netlink.RouteSubscribeOptions{
		ErrorCallback: onErr("route"), ReceiveBufferSize: rcvbuf, ReceiveBufferForceSize: true}); err != nil {
		close(s.done)
		return nil, fmt.Errorf("subscribe to routes: %w", err)
	}
	if err = netlink.NeighSubscribeWithOptions(neighs, s.done, netlink.NeighSubscribeOptions{
		ErrorCallback: onErr("neighbour"), ReceiveBufferSize: rcvbuf, ReceiveBufferForceSize: true}); err != nil {
		close(s.done)
		return nil, fmt.Errorf("subscribe to neighbours: %w", err)
	}
	pump := func(what string, f func() (Event, bool, bool)) {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for {
				ev, use, open := f()
				if !open {
					select {
					case <-s.done:
					default:
						fail(fmt.Errorf("%s subscription closed (socket overflow or error)", what))
					}
					return
				}
				if !use {
					continue
				}
				select {
				case s.Events <- ev:
				case <-s.done:
					return
				}
			}
		}()
	}
	pump("link", func() (Event, bool, bool) {
		u, ok := <-links
		if !ok {
			return Event{}, false, false
		}
		l := linkOf(u.Link)
		if u.Header.Type == unix.RTM_DELLINK {
			return Event{Op: OpLinkDel, Link: l}, true, true
		}
		return Event{Op: OpLinkSet, Link: l}, true, true
	})
	pump("address", func() (Event, bool, bool) {
		u, ok := <-addrs
		if !ok {
			return Event{}, false, false
		}
		p, pok := prefixOf(&u.LinkAddress, false)
		if !pok {
			return Event{}, false, true
		}
		op := OpAddrDel
		if u.NewAddr {
			op = OpAddrAdd
		}
		return Event{Op: op, Addr: Addr{LinkIndex: u.LinkIndex, Prefix: p}}, true, true
	})
	pump("route", func() (Event, bool, bool) {
		u, ok := <-routes
		if !ok {
			return Event{}, false, false
		}
		r, rok := routeOf(u.Route)
		if !rok {
			return Event{}, false, true
		}
		op := OpRouteSet
		if u.Type == unix.RTM_DELROUTE {
			op = OpRouteDel
		}
		return Event{Op: op, Route: r}, true, true
	})
	pump("neighbour", func() (Event, bool, bool) {
		u, ok := <-neighs
		if !ok {
			return Event{}, false, false
		}
		a, aok := netip.AddrFromSlice(u.IP)
		if !aok {
			return Event{}, false, true
		}
		op := OpNeighSet
		if u.Type == unix.RTM_DELNEIGH {
			op = OpNeighDel
		}
		return Event{Op: op, Neigh: neighOf(u.Neigh, a)}, true, true
	})
	return s, nil
}

// Close ends the subscriptions.
func (s *source) Close() {
	close(s.done)
	s.wg.Wait()
}

func linkOf(l netlink.Link) Link {
	a := l.Attrs()
	return Link{Index: a.Index, Name: a.Name, Up: a.Flags&net.FlagUp != 0}
}

// prefixOf converts an address or a destination; masked for routes.
func prefixOf(n *net.IPNet, mask bool) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	ones, bits := n.Mask.Size()
	if bits != a.BitLen() {
		return netip.Prefix{}, false
	}
	p := netip.PrefixFrom(a, ones)
	if mask {
		p = p.Masked()
	}
	return p, true
}

func addrOf(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	return a.Unmap()
}

// routeOf converts a netlink route; false for what the follower cannot use
// (MPLS and other families).
func routeOf(r netlink.Route) (KRoute, bool) {
	out := KRoute{Table: r.Table, Type: r.Type, Protocol: int(r.Protocol), Priority: r.Priority}
	switch {
	case r.Dst != nil:
		p, ok := prefixOf(r.Dst, true)
		if !ok {
			return KRoute{}, false
		}
		out.Prefix = p
	case r.Family == unix.AF_INET:
		out.Prefix = netip.MustParsePrefix("0.0.0.0/0")
	case r.Family == unix.AF_INET6:
		out.Prefix = netip.MustParsePrefix("::/0")
	default:
		return KRoute{}, false
	}
	if len(r.MultiPath) > 0 {
		for _, nh := range r.MultiPath {
			out.NHs = append(out.NHs, NextHop{Gw: addrOf(nh.Gw), OIF: nh.LinkIndex, Weight: nh.Hops + 1})
		}
	} else if r.LinkIndex != 0 || r.Gw != nil {
		out.NHs = []NextHop{{Gw: addrOf(r.Gw), OIF: r.LinkIndex, Weight: 1}}
	}
	return out, true
}

// dump reads the kernel's links, addresses, routes of table and neighbours.
func dump(table int) (Dump, error) {
	var d Dump
	ls, err := netlink.LinkList()
	if err != nil {
		return d, fmt.Errorf("dump links: %w", err)
	}
	for _, l := range ls {
		d.Links = append(d.Links, linkOf(l))
	}
	as, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return d, fmt.Errorf("dump addresses: %w", err)
	}
	for _, a := range as {
		if p, ok := prefixOf(a.IPNet, false); ok {
			d.Addrs = append(d.Addrs, Addr{LinkIndex: a.LinkIndex, Prefix: p})
		}
	}
	err = netlink.RouteListFilteredIter(netlink.FAMILY_ALL, &netlink.Route{Table: table}, netlink.RT_FILTER_TABLE, func(r netlink.Route) bool {
		if kr, ok := routeOf(r); ok {
			d.Routes = append(d.Routes, kr)
		}
		return true
	})
	if err != nil {
		return d, fmt.Errorf("dump routes: %w", err)
	}
	ns, err := netlink.NeighList(0, netlink.FAMILY_ALL)
	if err != nil {
		return d, fmt.Errorf("dump neighbours: %w", err)
	}
	for _, n := range ns {
		if a, ok := netip.AddrFromSlice(n.IP); ok {
			d.Neighs = append(d.Neighs, neighOf(n, a))
		}
	}
	return d, nil
}

// resolveGw asks the kernel how it reaches gw.
func resolveGw(gw netip.Addr) (NextHop, error) {
	rs, err := netlink.RouteGet(gw.AsSlice())
	if err != nil {
		return NextHop{}, err
	}
	if len(rs) == 0 {
		return NextHop{}, fmt.Errorf("no route to %s", gw)
	}
	return NextHop{Gw: addrOf(rs[0].Gw), OIF: rs[0].LinkIndex, Weight: 1}, nil
}

func neighOf(n netlink.Neigh, a netip.Addr) Neigh {
	out := Neigh{LinkIndex: n.LinkIndex, IP: a.Unmap(), State: n.State}
	if len(n.HardwareAddr) > 0 {
		out.MAC = n.HardwareAddr.String()
	}
	return out
}

// resolveNeigh asks the kernel to resolve ip on link (RTM_NEWNEIGH with
// NTF_USE, as the kernel's own output path would: it creates the entry if
// needed and sends an ARP request or a neighbour solicitation); the
// answer comes back as a neighbour notification.
func resolveNeigh(link int, ip netip.Addr) error {
	fam := netlink.FAMILY_V4
	if ip.Is6() {
		fam = netlink.FAMILY_V6
	}
	return netlink.NeighSet(&netlink.Neigh{LinkIndex: link, Family: fam, IP: ip.AsSlice(), State: netlink.NUD_NONE, Flags: netlink.NTF_USE})
}
