package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path"
	"slices"
	"sort"
	"time"

	"github.com/r2go/r2/apis/common"
	"github.com/r2go/r2/r2/ctl"
)

// Config is what the follower follows.
type Config struct {
	// Patterns select the interfaces to attach, by name or glob ("veth*").
	Patterns []string
	// Table is the kernel routing table followed (254, main, by default).
	Table int
	// HostOwned attaches interfaces in R2's host-owned-addresses mode:
	// the kernel answers ARP, NDP and traffic to the addresses.
	HostOwned bool
	// Batch is the most routes per API call.
	Batch int
	// Logf logs what the follower did.
	Logf func(format string, args ...any)
	// Resolve asks the kernel how it reaches a gateway that is not on one
	// of R2's connected subnets: the gateway's own route's next hop and
	// output interface. nil: such routes are refused.
	Resolve func(gw netip.Addr) (NextHop, error)
	// ResolveNeigh asks the kernel to resolve a gateway on a link (the
	// kernel's ifindex) that it has no neighbour entry for; the answer
	// arrives as a neighbour event. nil: gateways are not asked for.
	ResolveNeigh func(link int, ip netip.Addr) error
}

// resolveEvery is how often a gateway without a usable kernel neighbour is
// asked for again.
const resolveEvery = 5 * time.Second

// DefaultBatch is the most routes per add_batch or del_batch: 4096 IPv6
// routes stay well under the API's default 1 MiB frame.
const DefaultBatch = 4096

// Refused reports whether err is R2 refusing a request (which left the
// router unchanged), rather than a failure of the connection.
func Refused(err error) bool {
	var ae *common.ApiErr
	return errors.As(err, &ae)
}

// r2Route is a route as the follower programmed it into R2.
type r2Route = ctl.Route

// Follower mirrors the kernel's links, addresses, routes and neighbours
// into R2. Apply records kernel events; Flush sends R2 what changed since
// the last Flush. It is used from one goroutine.
//
// Neighbours: every kernel neighbour on a followed interface with a
// link-layer address the kernel believes (NUD reachable, stale, delay,
// probe or permanent) and an address on one of R2's subnets of that
// interface (or IPv6 link-local) is set in R2 as a neighbour of kind
// "kernel"; a failed, incomplete or NOARP entry, or a deleted one, is
// removed from R2. Kernel entries are held by R2 like static ones (never
// aged, not overwritten by R2's own learning) but apart from them: the
// follower's resyncs (mark and sweep against R2's list) touch only the
// kernel kind, never what an operator set. The kernel is the authority
// here because in host-owned mode the ARP and NDP answers are the
// kernel's (with AF_XDP R2 may not see them at all), and its neighbour
// state machine already probes and expires them. The gateways of the
// routes sent to R2 that have no usable kernel neighbour are asked for
// (Config.ResolveNeigh, at most every resolveEvery each), so that the
// kernel resolves them and the answer flows into R2.
type Follower struct {
	cfg Config
	r2  R2

	// The kernel's view.
	links  map[int]Link                  // by kernel ifindex
	addrs  map[int]map[netip.Prefix]bool // by kernel ifindex
	routes kTable                        // the followed table's routes by prefix
	neighs map[neighKey]Neigh

	// What R2 has, as far as the follower knows.
	r2ifs    map[string]bool // attached, with their host-owned mode
	r2addrs  map[string]map[netip.Prefix]bool
	r2routes r2Table
	// r2neighs are R2's kernel-kind neighbours: their MACs.
	r2neighs map[ifIP]string
	// gws counts the routes in R2 through each gateway; asked is when
	// the kernel was last asked to resolve one.
	gws   map[ifIP]int
	asked map[ifIP]time.Time
	// neighsDirty: a followed neighbour changed since the last Flush.
	neighsDirty bool
	// refused are the prefixes the kernel has and R2 does not, with why.
	refused map[netip.Prefix]string

	dirty    map[netip.Prefix]struct{}
	allDirty bool      // re-evaluate every route (addresses or links changed, resync)
	since    time.Time // the oldest event not yet flushed

	logged map[string]int // log lines per refusal reason
	Stats  Stats
}

// Stats are the follower's counters, shown as JSON.
type Stats struct {
	Events        uint64            `json:"events"`          // kernel notifications applied
	RoutesKernel  int               `json:"routes_kernel"`   // prefixes in the followed kernel table
	RoutesR2      int               `json:"routes_r2"`       // routes the follower keeps in R2
	Refused       int               `json:"refused"`         // kernel prefixes R2 does not get, now
	RefusedWhy    map[string]uint64 `json:"refused_reasons"` // refusals so far, by reason
	Skipped       map[string]uint64 `json:"skipped"`         // notifications not followed, by reason
	Batches       uint64            `json:"batches"`         // add_batch and del_batch calls
	Added         uint64            `json:"added"`           // routes sent in add batches
	Deleted       uint64            `json:"deleted"`         // routes sent in del batches
	Flushes       uint64            `json:"flushes"`
	LastLagMs     float64           `json:"last_lag_ms"` // oldest pending event to R2's last reply
	MaxLagMs      float64           `json:"max_lag_ms"`
	Resyncs       uint64            `json:"resyncs"`         // kernel resyncs (start-up, netlink overflow)
	Overflows     uint64            `json:"overflows"`       // netlink notifications lost (each led to a resync)
	R2Resyncs     uint64            `json:"r2_resyncs"`      // R2 state read back (start-up, reconnection)
	Reconnects    uint64            `json:"reconnects"`      // API connections re-established
	Multipath     uint64            `json:"multipath"`       // multipath routes sent with fewer paths than the kernel's (some unusable)
	LastResyncSec float64           `json:"last_resync_s"`   // duration of the last resync
	LastResyncOps int               `json:"last_resync_ops"` // routes sent by the last resync
	NeighsKernel  int               `json:"neighs_kernel"`   // usable kernel neighbours R2 should have
	NeighsR2      int               `json:"neighs_r2"`       // kernel neighbours the follower keeps in R2
	NeighAdded    uint64            `json:"neigh_added"`     // neighbours set in R2 (added or changed)
	NeighDeleted  uint64            `json:"neigh_deleted"`   // neighbours removed from R2
	NeighRefused  uint64            `json:"neigh_refused"`   // neighbours R2 refused
	NeighBatches  uint64            `json:"neigh_batches"`   // add_neighbours and del_neighbours calls
	NeighResolves uint64            `json:"neigh_resolves"`  // gateways the kernel was asked to resolve
}

// ifIP is an address on an R2 interface.
type ifIP struct {
	ifname string
	ip     netip.Addr
}

// NewFollower returns a follower that programs r2 (which may be nil until
// Connect).
func NewFollower(cfg Config) *Follower {
	if cfg.Table == 0 {
		cfg.Table = tableMain
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	return &Follower{
		cfg:      cfg,
		links:    map[int]Link{},
		addrs:    map[int]map[netip.Prefix]bool{},
		routes:   newKTable(0),
		neighs:   map[neighKey]Neigh{},
		r2neighs: map[ifIP]string{},
		gws:      map[ifIP]int{},
		asked:    map[ifIP]time.Time{},
		r2ifs:    map[string]bool{},
		r2addrs:  map[string]map[netip.Prefix]bool{},
		r2routes: newR2Table(),
		refused:  map[netip.Prefix]string{},
		dirty:    map[netip.Prefix]struct{}{},
		logged:   map[string]int{},
		Stats:    Stats{RefusedWhy: map[string]uint64{}, Skipped: map[string]uint64{}},
	}
}

// follows reports whether the link called name is one to attach.
func (f *Follower) follows(name string) bool {
	for _, p := range f.cfg.Patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// attached reports whether R2 has the interface called name.
func (f *Follower) attached(name string) bool {
	_, ok := f.r2ifs[name]
	return ok
}

// Pending reports whether events wait for a Flush.
func (f *Follower) Pending() bool { return !f.since.IsZero() }

func (f *Follower) touch() {
	if f.since.IsZero() {
		f.since = time.Now()
	}
}

func (f *Follower) skip(why string) { f.Stats.Skipped[why]++ }

// Apply records one kernel event.
func (f *Follower) Apply(ev Event) {
	f.Stats.Events++
	switch ev.Op {
	case OpLinkSet:
		old, ok := f.links[ev.Link.Index]
		f.links[ev.Link.Index] = ev.Link
		if !ok || old.Name != ev.Link.Name {
			f.allDirty = true
			f.touch()
		}
	case OpLinkDel:
		if _, ok := f.links[ev.Link.Index]; ok {
			delete(f.links, ev.Link.Index)
			delete(f.addrs, ev.Link.Index)
			f.allDirty = true
			f.touch()
		}
	case OpAddrAdd, OpAddrDel:
		m := f.addrs[ev.Addr.LinkIndex]
		if m == nil {
			m = map[netip.Prefix]bool{}
			f.addrs[ev.Addr.LinkIndex] = m
		}
		if ev.Op == OpAddrAdd {
			m[ev.Addr.Prefix] = true
		} else {
			delete(m, ev.Addr.Prefix)
		}
		f.allDirty = true
		f.touch()
	case OpRouteSet, OpRouteDel:
		r := ev.Route
		if why := f.ignore(r); why != "" {
			f.skip(why)
			return
		}
		rs := f.routes.get(r.Prefix)
		i := slices.IndexFunc(rs, func(x KRoute) bool { return x.Priority == r.Priority })
		switch {
		case ev.Op == OpRouteSet && i >= 0:
			rs[i] = r
		case ev.Op == OpRouteSet:
			rs = append(rs, r)
		case i >= 0:
			rs = slices.Delete(rs, i, i+1)
		}
		f.routes.set(r.Prefix, rs)
		f.dirty[r.Prefix] = struct{}{}
		f.touch()
	case OpNeighSet, OpNeighDel:
		n := ev.Neigh
		k := neighKey{n.LinkIndex, n.IP}
		old, had := f.neighs[k]
		if ev.Op == OpNeighSet {
			f.neighs[k] = n
		} else {
			delete(f.neighs, k)
		}
		oldMAC, oldOK := old.usableMAC()
		newMAC, newOK := n.usableMAC()
		if ev.Op == OpNeighDel {
			newOK = false
		}
		if had && oldOK == newOK && oldMAC == newMAC || !had && !newOK {
			return // nothing R2 would see (reachable -> stale, say)
		}
		if l, ok := f.links[n.LinkIndex]; ok && f.follows(l.Name) {
			f.neighsDirty = true
			f.touch()
		}
	}
}

// ignore says why route r is not followed at all, or "".
func (f *Follower) ignore(r KRoute) string {
	switch {
	case r.Table == tableLocal:
		return "local table"
	case r.Table != f.cfg.Table:
		return "other table"
	case r.Protocol == rtprotKernel:
		return "kernel route (R2 derives it from the address)"
	case r.Type == rtnLocal || r.Type == rtnBroadcast || r.Type == rtnMulticast || r.Type == rtnAnycast:
		return "local, broadcast, anycast or multicast type"
	case r.Prefix.Addr().Is6() && (r.Prefix.Addr().IsLinkLocalUnicast() || r.Prefix.Addr().IsMulticast()):
		return "IPv6 link-local or multicast destination"
	}
	return ""
}

// Replace makes d the kernel's view (a resync: mark everything, sweep what
// the dump no longer has at the next Flush).
func (f *Follower) Replace(d Dump) {
	f.links = map[int]Link{}
	f.addrs = map[int]map[netip.Prefix]bool{}
	f.routes = newKTable(len(d.Routes))
	f.neighs = map[neighKey]Neigh{}
	f.allDirty = true
	f.touch()
	n := f.Stats.Events
	for _, l := range d.Links {
		f.Apply(Event{Op: OpLinkSet, Link: l})
	}
	for _, a := range d.Addrs {
		f.Apply(Event{Op: OpAddrAdd, Addr: a})
	}
	for _, r := range d.Routes {
		f.Apply(Event{Op: OpRouteSet, Route: r})
	}
	for _, nb := range d.Neighs {
		f.Apply(Event{Op: OpNeighSet, Neigh: nb})
	}
	f.Stats.Events = n
	f.Stats.Resyncs++
}

// Connect makes r2 the router to program and reads back what it has: the
// followed interfaces, their addresses and the routes through them. The next
// Flush sends only the differences.
func (f *Follower) Connect(r2 R2) error {
	f.r2 = r2
	ifs, err := r2.Interfaces()
	if err != nil {
		return fmt.Errorf("read R2's interfaces: %w", err)
	}
	f.r2ifs = map[string]bool{}
	f.r2addrs = map[string]map[netip.Prefix]bool{}
	owned := map[netip.Prefix]bool{} // connected and local routes of addresses
	for _, i := range ifs {
		if !f.follows(i.Name) {
			continue
		}
		f.r2ifs[i.Name] = i.HostOwned == f.cfg.HostOwned
		m := map[netip.Prefix]bool{}
		for _, a := range i.Addrs {
			if a.Addr().Is6() && a.Addr().IsLinkLocalUnicast() {
				continue // R2's own EUI-64 address
			}
			m[a] = true
			owned[a.Masked()] = true
		}
		f.r2addrs[i.Name] = m
	}
	f.r2routes = newR2Table()
	f.gws = map[ifIP]int{}
	for off := 0; ; {
		total, rs, err := r2.Routes(off, 10000)
		if err != nil {
			return fmt.Errorf("read R2's routes: %w", err)
		}
		for _, r := range rs {
			if r.Kind != ctl.KindDrop && !f.attached(r.Ifname) || r.Kind == ctl.KindLocal || r.Kind == ctl.KindConnected && owned[r.Prefix] {
				continue
			}
			if r.Kind != ctl.KindDrop {
				r.Kind = ""
			}
			f.setR2Route(r)
		}
		off += len(rs)
		if len(rs) == 0 || off >= total {
			break
		}
	}
	ns, err := r2.Neighbours()
	if err != nil {
		return fmt.Errorf("read R2's neighbours: %w", err)
	}
	f.r2neighs = map[ifIP]string{}
	for _, n := range ns {
		if n.Kind == ctl.NeighKernel && f.attached(n.Ifname) && n.MAC != nil {
			f.r2neighs[ifIP{n.Ifname, n.IP}] = n.MAC.String()
		}
	}
	f.allDirty = true
	f.touch()
	f.Stats.R2Resyncs++
	f.cfg.Logf("R2: %d followed interfaces, %d routes and %d kernel neighbours through them", len(f.r2ifs), f.r2routes.len(), len(f.r2neighs))
	return nil
}

// LostInterfaces reports whether R2's interfaces (ifs) lack one the
// follower attached: R2 restarted between two looks, or someone detached it.
func (f *Follower) LostInterfaces(ifs []ctl.IfInfo) bool {
	have := map[string]bool{}
	for _, i := range ifs {
		have[i.Name] = true
	}
	for name := range f.r2ifs {
		if !have[name] {
			return true
		}
	}
	return false
}

// Flush sends R2 what changed. An error that is not a refusal means the
// connection to R2 is in doubt: reconnect and Connect again, then Flush.
func (f *Follower) Flush() error {
	if f.r2 == nil {
		return errors.New("not connected to R2")
	}
	if f.since.IsZero() {
		return nil
	}
	start := f.since
	f.Stats.Flushes++
	full := f.allDirty
	if err := f.flushLinks(); err != nil {
		return err
	}
	addrsDel, err := f.flushAddrs()
	if err != nil {
		return err
	}
	if err := f.flushRoutes(); err != nil {
		return err
	}
	if err := f.flushNeighs(full); err != nil {
		return err
	}
	for _, a := range addrsDel {
		if err := f.r2.DelAddr(a.ifname, a.p); err != nil && !Refused(err) {
			return err
		}
		delete(f.r2addrs[a.ifname], a.p)
		f.cfg.Logf("address %s removed from %s", a.p, a.ifname)
	}
	f.ResolveGateways(time.Now())
	f.since = time.Time{}
	lag := time.Since(start).Seconds() * 1000
	f.Stats.LastLagMs = lag
	f.Stats.MaxLagMs = max(f.Stats.MaxLagMs, lag)
	f.Stats.RoutesKernel = f.routes.len()
	f.Stats.RoutesR2 = f.r2routes.len()
	f.Stats.Refused = len(f.refused)
	f.Stats.NeighsR2 = len(f.r2neighs)
	if full {
		f.Stats.LastResyncSec = lag / 1000
	}
	return nil
}

// linkNames are the kernel's followed links by name.
func (f *Follower) linkNames() map[string]Link {
	out := map[string]Link{}
	for _, l := range f.links {
		if f.follows(l.Name) {
			out[l.Name] = l
		}
	}
	return out
}

func (f *Follower) flushLinks() error {
	if !f.allDirty {
		return nil
	}
	want := f.linkNames()
	for _, name := range sortedKeys(want) {
		modeOK, attached := f.r2ifs[name]
		if modeOK {
			continue
		}
		if !attached {
			if err := f.r2.AddInterface(name); err != nil {
				if !Refused(err) {
					return err
				}
				f.cfg.Logf("interface %s: R2 refused to attach it: %v", name, err)
				continue
			}
			f.r2ifs[name] = false
			f.r2addrs[name] = map[netip.Prefix]bool{}
			f.cfg.Logf("interface %s attached", name)
		}
		if err := f.r2.SetHostOwned(name, f.cfg.HostOwned); err != nil {
			if !Refused(err) {
				return err
			}
			f.cfg.Logf("interface %s: R2 refused the host-owned mode %v: %v", name, f.cfg.HostOwned, err)
			continue
		}
		f.r2ifs[name] = true
		if f.cfg.HostOwned {
			f.cfg.Logf("interface %s: host-owned addresses (Linux answers ARP, NDP and traffic to them)", name)
		}
	}
	for _, name := range sortedKeys(f.r2ifs) {
		if _, ok := want[name]; ok {
			continue
		}
		if err := f.r2.DelInterface(name); err != nil && !Refused(err) {
			return err
		}
		delete(f.r2ifs, name)
		delete(f.r2addrs, name)
		for p, r := range f.r2routes.all() { // R2 removed them with the interface
			if r.Ifname == name {
				f.delR2Route(p)
			}
		}
		for k := range f.r2neighs {
			if k.ifname == name {
				delete(f.r2neighs, k)
			}
		}
		f.cfg.Logf("interface %s detached (gone from the kernel)", name)
	}
	return nil
}

type ifAddr struct {
	ifname string
	p      netip.Prefix
}

// flushAddrs adds the addresses R2 lacks and returns those to delete once
// the routes that may depend on them are gone.
func (f *Follower) flushAddrs() ([]ifAddr, error) {
	if !f.allDirty {
		return nil, nil
	}
	var del []ifAddr
	links := f.linkNames()
	for _, name := range sortedKeys(f.r2ifs) {
		want := map[netip.Prefix]bool{}
		if l, ok := links[name]; ok {
			for p := range f.addrs[l.Index] {
				if p.Addr().Is6() && p.Addr().IsLinkLocalUnicast() {
					continue // R2 derives its own (the same EUI-64, from the same MAC)
				}
				want[p] = true
			}
		}
		have := f.r2addrs[name]
		for _, p := range sortedKeys(want) {
			if have[p] {
				continue
			}
			if err := f.r2.AddAddr(name, p); err != nil {
				if !Refused(err) {
					return nil, err
				}
				f.cfg.Logf("address %s on %s: R2 refused it: %v", p, name, err)
				continue
			}
			have[p] = true
			f.cfg.Logf("address %s added to %s", p, name)
		}
		for _, p := range sortedKeys(have) {
			if !want[p] {
				del = append(del, ifAddr{name, p})
			}
		}
	}
	return del, nil
}

// view is what R2 will know when the routes are sent: interface names by
// kernel index, and the addresses of each followed interface.
type view struct {
	byIndex map[int]string
	addrs   map[string][]netip.Prefix // addresses that stay
	owned   map[netip.Prefix]bool     // prefixes of R2's connected and local routes
	gwCache map[netip.Addr]gwRes
}

type gwRes struct {
	nh  NextHop
	err error
}

func (f *Follower) view() *view {
	v := &view{byIndex: map[int]string{}, addrs: map[string][]netip.Prefix{}, owned: map[netip.Prefix]bool{}, gwCache: map[netip.Addr]gwRes{}}
	for _, l := range f.links {
		v.byIndex[l.Index] = l.Name
		if !f.attached(l.Name) {
			continue
		}
		for p := range f.addrs[l.Index] {
			if f.r2addrs[l.Name][p] { // what R2 has (a refused address does not count)
				v.addrs[l.Name] = append(v.addrs[l.Name], p)
				v.owned[p.Masked()] = true
				v.owned[netip.PrefixFrom(p.Addr(), p.Addr().BitLen())] = true
			}
		}
	}
	return v
}

// onLink reports whether gw is a neighbour R2 can reach on ifname.
func (v *view) onLink(ifname string, gw netip.Addr) bool {
	if gw.Is6() && gw.IsLinkLocalUnicast() {
		return true
	}
	for _, p := range v.addrs[ifname] {
		if p.Contains(gw) && p.Addr() != gw {
			return true
		}
	}
	return false
}

// translate is the R2 route for the kernel's routes to prefix p, or why
// there is none ("" when the kernel has no route either).
func (f *Follower) translate(v *view, p netip.Prefix) (r2Route, bool, string) {
	krs := f.routes.get(p)
	if len(krs) == 0 {
		return r2Route{}, false, ""
	}
	kr := krs[0]
	for _, x := range krs[1:] {
		if x.Priority < kr.Priority {
			kr = x
		}
	}
	if v.owned[p] {
		return r2Route{}, false, "same prefix as an interface address's route"
	}
	switch kr.Type {
	case rtnUnicast:
	case rtnBlackhole, rtnUnreachable, rtnProhibit:
		// R2's drop route answers with an ICMP unreachable, like the
		// kernel's unreachable; a blackhole would answer nothing.
		return r2Route{Prefix: p, Kind: ctl.KindDrop}, true, ""
	case rtnThrow:
		return r2Route{}, false, "throw route (policy routing): R2 has one table"
	default:
		return r2Route{}, false, fmt.Sprintf("route type %d", kr.Type)
	}
	if len(kr.NHs) == 0 {
		return r2Route{}, false, "no next hop"
	}
	if len(kr.NHs) > 1 {
		// ECMP: every path R2 can reach, with its weight.
		var paths []ctl.Path
		var why string
		for _, nh := range kr.NHs {
			r, ok, w := f.path(v, p, nh)
			if !ok {
				why = w
				continue
			}
			paths = append(paths, ctl.Path{NextHop: r.NextHop, Ifname: r.Ifname, Weight: max(nh.Weight, 1)})
		}
		switch {
		case len(paths) == 0:
			return r2Route{}, false, why
		case len(paths) < len(kr.NHs):
			f.Stats.Multipath++
			f.logOnce("multipath partial", "route %s: %d of %d next hops usable (%s)", p, len(paths), len(kr.NHs), why)
		}
		if len(paths) == 1 {
			return r2Route{Prefix: p, NextHop: paths[0].NextHop, Ifname: paths[0].Ifname}, true, ""
		}
		return r2Route{Prefix: p, NextHop: paths[0].NextHop, Ifname: paths[0].Ifname, Paths: paths}, true, ""
	}
	return f.path(v, p, kr.NHs[0])
}

// path translates one next hop of a kernel route to p.
func (f *Follower) path(v *view, p netip.Prefix, nh NextHop) (r2Route, bool, string) {
	name, ok := v.byIndex[nh.OIF]
	if !ok || !f.attached(name) {
		return r2Route{}, false, "output interface not followed"
	}
	if !nh.Gw.IsValid() {
		return r2Route{Prefix: p, Ifname: name}, true, ""
	}
	if v.onLink(name, nh.Gw) {
		return r2Route{Prefix: p, NextHop: nh.Gw, Ifname: name}, true, ""
	}
	// The kernel reaches this gateway some other way (onlink flag,
	// recursive): use the next hop it resolved the gateway to.
	if f.cfg.Resolve == nil {
		return r2Route{}, false, "next hop not on a connected subnet of R2"
	}
	res, ok := v.gwCache[nh.Gw]
	if !ok {
		res.nh, res.err = f.cfg.Resolve(nh.Gw)
		v.gwCache[nh.Gw] = res
	}
	if res.err != nil {
		return r2Route{}, false, "next hop not on a connected subnet of R2, and the kernel cannot resolve it"
	}
	name2, ok := v.byIndex[res.nh.OIF]
	switch {
	case !ok || !f.attached(name2):
		return r2Route{}, false, "next hop resolves through an interface not followed"
	case res.nh.Gw.IsValid() && v.onLink(name2, res.nh.Gw):
		return r2Route{Prefix: p, NextHop: res.nh.Gw, Ifname: name2}, true, ""
	case !res.nh.Gw.IsValid() && v.onLink(name2, nh.Gw):
		return r2Route{Prefix: p, NextHop: nh.Gw, Ifname: name2}, true, ""
	}
	return r2Route{}, false, "next hop not on a connected subnet of R2 (kernel: on-link or recursive)"
}

func (f *Follower) logOnce(reason, format string, args ...any) {
	n := f.logged[reason]
	f.logged[reason] = n + 1
	switch {
	case n < 10:
		f.cfg.Logf(format, args...)
	case n == 10:
		f.cfg.Logf("(more %q; counted in the statistics)", reason)
	}
}

func (f *Follower) refuse(p netip.Prefix, why string) {
	if f.refused[p] == why {
		return
	}
	f.refused[p] = why
	f.Stats.RefusedWhy[why]++
	f.logOnce(why, "route %s not sent to R2: %s", p, why)
}

func (f *Follower) flushRoutes() error {
	v := f.view()
	var keys []netip.Prefix
	if f.allDirty {
		seen := make(map[netip.Prefix]struct{}, f.routes.len()+f.r2routes.len())
		for p := range f.routes.prefixes() {
			seen[p] = struct{}{}
		}
		for p := range f.r2routes.all() {
			seen[p] = struct{}{}
		}
		for p := range f.refused {
			seen[p] = struct{}{}
		}
		keys = make([]netip.Prefix, 0, len(seen))
		for p := range seen {
			keys = append(keys, p)
		}
	} else {
		keys = make([]netip.Prefix, 0, len(f.dirty))
		for p := range f.dirty {
			keys = append(keys, p)
		}
	}
	var add, del []r2Route
	for _, p := range keys {
		want, ok, why := f.translate(v, p)
		have, has := f.r2routes.get(p)
		switch {
		case ok:
			delete(f.refused, p)
			if !has || !have.Equal(want) {
				add = append(add, want)
			}
		case has:
			del = append(del, have)
		}
		if !ok {
			if why == "" {
				delete(f.refused, p)
			} else {
				f.refuse(p, why)
			}
		}
	}
	if f.allDirty {
		f.Stats.LastResyncOps = len(add) + len(del)
	}
	// Deletions first: a replaced route is an add (R2 replaces), and what
	// goes is out before addresses are removed.
	sortRoutes(del)
	sortRoutes(add)
	if err := f.send(del, true); err != nil {
		return err
	}
	if err := f.send(add, false); err != nil {
		return err
	}
	clear(f.dirty)
	f.allDirty = false
	return nil
}

// send programs routes in batches; a refused batch is split until the
// routes R2 refuses are found, which are counted and logged.
func (f *Follower) send(rs []r2Route, del bool) error {
	for len(rs) > 0 {
		n := min(len(rs), f.cfg.Batch)
		if err := f.sendBatch(rs[:n], del); err != nil {
			return err
		}
		rs = rs[n:]
	}
	return nil
}

func (f *Follower) sendBatch(rs []r2Route, del bool) error {
	var err error
	f.Stats.Batches++
	if del {
		err = f.r2.DelRoutes(rs)
	} else {
		err = f.r2.AddRoutes(rs)
	}
	switch {
	case err == nil:
		for _, r := range rs {
			if del {
				f.delR2Route(r.Prefix)
			} else {
				f.setR2Route(r)
			}
		}
		if del {
			f.Stats.Deleted += uint64(len(rs))
		} else {
			f.Stats.Added += uint64(len(rs))
		}
		return nil
	case !Refused(err):
		return err
	case len(rs) > 1:
		h := len(rs) / 2
		if err := f.sendBatch(rs[:h], del); err != nil {
			return err
		}
		return f.sendBatch(rs[h:], del)
	}
	r := rs[0]
	if del {
		// R2 no longer has it (deleted with its interface or address):
		// what the follower wanted.
		f.delR2Route(r.Prefix)
		return nil
	}
	f.refuse(r.Prefix, "refused by R2")
	f.logOnce("refused by R2 detail", "R2 refused route %s: %v", r, err)
	return nil
}

// setR2Route records that R2 has r, counting its gateways.
func (f *Follower) setR2Route(r r2Route) {
	if old, ok := f.r2routes.get(r.Prefix); ok {
		f.countGws(old, -1)
	}
	f.r2routes.set(r)
	f.countGws(r, 1)
}

// delR2Route records that R2 no longer has the route to p.
func (f *Follower) delR2Route(p netip.Prefix) {
	if old, ok := f.r2routes.get(p); ok {
		f.countGws(old, -1)
		f.r2routes.del(p)
	}
}

func (f *Follower) countGws(r r2Route, d int) {
	add := func(k ifIP) {
		if f.gws[k] += d; f.gws[k] <= 0 {
			delete(f.gws, k)
		}
	}
	if len(r.Paths) > 0 {
		for _, p := range r.Paths {
			if p.NextHop.IsValid() {
				add(ifIP{p.Ifname, p.NextHop})
			}
		}
		return
	}
	if r.NextHop.IsValid() {
		add(ifIP{r.Ifname, r.NextHop})
	}
}

// flushNeighs makes R2's kernel neighbours those of the kernel (the
// usable ones on followed interfaces and R2's subnets) after a change of
// neighbours or, when full, of links or addresses: a full
// mark-and-sweep comparison, since neighbours are few. The changes of one
// Flush go in batches of up to Config.Batch (add_neighbours,
// del_neighbours), deletions first.
func (f *Follower) flushNeighs(full bool) error {
	if !full && !f.neighsDirty {
		return nil
	}
	v := f.view()
	want := map[ifIP]string{}
	for _, n := range f.neighs {
		name, ok := v.byIndex[n.LinkIndex]
		if !ok || !f.attached(name) {
			continue
		}
		mac, ok := n.usableMAC()
		if !ok {
			continue
		}
		if !v.onLink(name, n.IP) {
			f.skip("neighbour not on a subnet of R2")
			continue
		}
		want[ifIP{name, n.IP}] = mac
	}
	f.Stats.NeighsKernel = len(want)
	var add, del []ctl.Neighbour
	for _, k := range sortedIfIPs(want) {
		if f.r2neighs[k] != want[k] {
			m, _ := net.ParseMAC(want[k])
			add = append(add, ctl.Neighbour{Ifname: k.ifname, IP: k.ip, MAC: m})
		}
	}
	for _, k := range sortedIfIPs(f.r2neighs) {
		if _, ok := want[k]; !ok {
			del = append(del, ctl.Neighbour{Ifname: k.ifname, IP: k.ip})
		}
	}
	// Deletions first, as for routes.
	for _, b := range []struct {
		ns  []ctl.Neighbour
		del bool
	}{{del, true}, {add, false}} {
		for ns := b.ns; len(ns) > 0; {
			n := min(len(ns), f.cfg.Batch)
			if err := f.sendNeighs(ns[:n], b.del); err != nil {
				return err
			}
			ns = ns[n:]
		}
	}
	f.neighsDirty = false
	return nil
}

// sendNeighs sends one batch of neighbours; a refused batch is split until
// the entries R2 refuses are found, which are counted and logged.
func (f *Follower) sendNeighs(ns []ctl.Neighbour, del bool) error {
	var err error
	f.Stats.NeighBatches++
	if del {
		err = f.r2.DelNeighbours(ns)
	} else {
		err = f.r2.SetNeighbours(ns)
	}
	switch {
	case err == nil:
		for _, n := range ns {
			k := ifIP{n.Ifname, n.IP}
			if del {
				delete(f.r2neighs, k)
				f.Stats.NeighDeleted++
				f.cfg.Logf("neighbour %s on %s removed", n.IP, n.Ifname)
			} else {
				f.r2neighs[k] = n.MAC.String()
				f.Stats.NeighAdded++
				f.cfg.Logf("neighbour %s on %s is at %s", n.IP, n.Ifname, n.MAC)
			}
		}
		return nil
	case !Refused(err):
		return err
	case len(ns) > 1:
		h := len(ns) / 2
		if err := f.sendNeighs(ns[:h], del); err != nil {
			return err
		}
		return f.sendNeighs(ns[h:], del)
	}
	n := ns[0]
	if del {
		delete(f.r2neighs, ifIP{n.Ifname, n.IP}) // R2 no longer has it, as wanted
		return nil
	}
	f.Stats.NeighRefused++
	f.logOnce("neighbour refused", "neighbour %s on %s: R2 refused it: %v", n.IP, n.Ifname, err)
	return nil
}

// ResolveGateways asks the kernel to resolve the gateways of R2's routes
// that have no usable kernel neighbour, each at most every resolveEvery.
// The daemon calls it after every Flush and once a second.
func (f *Follower) ResolveGateways(now time.Time) {
	if f.cfg.ResolveNeigh == nil {
		return
	}
	byName := map[string]int{}
	for _, l := range f.links {
		byName[l.Name] = l.Index
	}
	for k := range f.asked {
		if f.gws[k] == 0 {
			delete(f.asked, k)
		}
	}
	for _, k := range sortedIfIPs(f.gws) {
		link, ok := byName[k.ifname]
		if !ok {
			continue
		}
		if _, ok := f.neighs[neighKey{link, k.ip}].usableMAC(); ok {
			continue
		}
		if t, ok := f.asked[k]; ok && now.Sub(t) < resolveEvery {
			continue
		}
		f.asked[k] = now
		f.Stats.NeighResolves++
		if err := f.cfg.ResolveNeigh(link, k.ip); err != nil {
			f.logOnce("neighbour resolution", "asking the kernel to resolve %s on %s: %v", k.ip, k.ifname, err)
		}
	}
}

func sortedIfIPs[V any](m map[ifIP]V) []ifIP {
	out := make([]ifIP, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b ifIP) int {
		if a.ifname != b.ifname {
			if a.ifname < b.ifname {
				return -1
			}
			return 1
		}
		return a.ip.Compare(b.ip)
	})
	return out
}

func sortRoutes(rs []r2Route) {
	sort.Slice(rs, func(i, j int) bool {
		return rs[i].Prefix.Addr().Less(rs[j].Prefix.Addr()) || rs[i].Prefix.Addr() == rs[j].Prefix.Addr() && rs[i].Prefix.Bits() < rs[j].Prefix.Bits()
	})
}

func sortedKeys[K interface {
	comparable
	~string | netip.Prefix
}, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b K) int { return cmpKey(a, b) })
	return out
}

func cmpKey[K comparable](a, b K) int {
	switch x := any(a).(type) {
	case string:
		y := any(b).(string)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case netip.Prefix:
		return x.Compare(any(b).(netip.Prefix))
	}
	return 0
}
