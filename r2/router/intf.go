//go:build linux

package router

import (
	"fmt"
	"net"
	"net/netip"
	"sort"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/r2/ctl"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/registry"
)

// Interface describes an interface to attach.
type Interface struct {
	Name       string
	Ifindex    int32 // -1: the lowest free index
	MAC        [6]byte
	MTU        int
	LinuxIndex int
	Owner      int // -1: the thread with the fewest interfaces
}

// AddInterface attaches drv as interface spec. On success the router owns
// drv and closes it when the interface is deleted.
func (r *Router) AddInterface(spec Interface, drv driver.Driver) error {
	if err := r.lock(); err != nil {
		return err
	}
	defer r.mu.Unlock()
	if spec.Name == "" {
		return fmt.Errorf("interface name is empty: %w", ctl.ErrInvalid)
	}
	if r.intfs.ByName(spec.Name) != nil {
		return fmt.Errorf("interface %s: %w", spec.Name, ctl.ErrExists)
	}
	if spec.Ifindex < 0 {
		spec.Ifindex = r.freeIfindex()
		if spec.Ifindex < 0 {
			return fmt.Errorf("no free ifindex (at most %d interfaces): %w", fwd.MaxIfindex, ctl.ErrInvalid)
		}
	} else if spec.Ifindex >= fwd.MaxIfindex {
		return fmt.Errorf("ifindex %d out of range 0..%d: %w", spec.Ifindex, fwd.MaxIfindex-1, ctl.ErrInvalid)
	} else if x := r.intfs.Get(spec.Ifindex); x != nil {
		return fmt.Errorf("ifindex %d is used by %s: %w", spec.Ifindex, x.Name, ctl.ErrExists)
	}
	threads := r.eng.Threads()
	if spec.Owner < 0 {
		spec.Owner = r.leastLoaded()
	} else if spec.Owner >= threads {
		return fmt.Errorf("thread %d does not exist (threads 0..%d): %w", spec.Owner, threads-1, ctl.ErrInvalid)
	}
	if spec.MTU == 0 {
		spec.MTU = 1500
	}
	if spec.MAC == ([6]byte{}) || spec.MAC[0]&1 == 1 {
		return fmt.Errorf("interface %s: MAC %s is not a unicast address: %w", spec.Name, macString(spec.MAC), ctl.ErrInvalid)
	}
	fi := &fwd.Interface{Ifindex: spec.Ifindex, Name: spec.Name, LinuxIndex: spec.LinuxIndex, MAC: spec.MAC,
		MTU: spec.MTU, Owner: spec.Owner, Up: true}
	if o, ok := drv.(driver.Offloader); ok && o.Offloads() {
		fi.Offload = true
	}
	if fi.MTU >= 1280 {
		// The EUI-64 link-local address, as Linux gives every interface.
		fi.Addrs = []netip.Prefix{netip.PrefixFrom(fwd.LinkLocalFromMAC(fi.MAC), 64)}
	}
	if err := fi.Validate(); err != nil {
		return fmt.Errorf("interface %s: %v: %w", spec.Name, err, ctl.ErrInvalid)
	}
	snap := r.intfs.With(fi)
	if err := r.eng.AddInterface(registry.IfEnv{Intf: fi, Driver: drv}, snap); err != nil {
		return fmt.Errorf("interface %s: %v: %w", spec.Name, err, ctl.ErrInternal)
	}
	r.intfs = snap
	r.drvs[fi.Name] = drv
	r.logf("interface %s added: ifindex %d, thread %d, driver %s", fi.Name, fi.Ifindex, fi.Owner, DriverName(drv))
	return nil
}

// DriverName names drv and, for drivers that report one, the mode they run
// in ("afxdp copy").
func DriverName(d driver.Driver) string {
	if d == nil {
		return "none"
	}
	if m, ok := d.(driver.ModeReporter); ok {
		return d.Kind() + " " + m.ActiveMode()
	}
	return d.Kind()
}

func (r *Router) freeIfindex() int32 {
	for i := int32(0); i < fwd.MaxIfindex; i++ {
		if r.intfs.Get(i) == nil {
			return i
		}
	}
	return -1
}

func (r *Router) leastLoaded() int {
	load := make([]int, r.eng.Threads())
	for _, i := range r.intfs.All() {
		load[i.Owner]++
	}
	best := 0
	for i, l := range load {
		if l < load[best] {
			best = i
		}
	}
	return best
}

// PickOwner is the thread with the fewest interfaces, where AddInterface
// with Owner -1 would put a new one.
func (r *Router) PickOwner() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leastLoaded()
}

// Threads is the number of forwarding threads.
func (r *Router) Threads() int { return r.eng.Threads() }

// DelInterface detaches interface name: its routes and addresses go, its
// nodes leave every graph, and its driver is closed.
func (r *Router) DelInterface(name string) error {
	fi, err := r.lockIf(name)
	if err != nil {
		return err
	}
	defer r.mu.Unlock()
	// Routes through the interface first, so nothing is forwarded to it
	// while its nodes go away.
	removed := r.rib.DelByIfindex(fi.Ifindex)
	for _, rt := range removed {
		delete(r.addrRoutes, rt.Prefix)
	}
	removed6 := r.rib6.DelByIfindex(fi.Ifindex)
	for _, rt := range removed6 {
		delete(r.addrRoutes, rt.Prefix)
	}
	r.qosForget(name)
	snap := r.intfs.Without(fi.Ifindex)
	r.eng.DelInterface(name, snap)
	r.intfs = snap
	for k := range r.neighs {
		if k.ifindex == fi.Ifindex {
			r.delNeigh(k) // the threads dropped the node that held them
		}
	}
	drv := r.drvs[name]
	delete(r.drvs, name)
	if drv != nil {
		err = drv.Close()
	}
	r.logf("interface %s deleted (%d routes removed)", name, len(removed)+len(removed6))
	if err != nil {
		return fmt.Errorf("interface %s deleted, but closing its driver failed: %v: %w", name, err, ctl.ErrInternal)
	}
	return nil
}

// SetUp marks interface name up or down (the Linux link's state): packets
// routed to a down interface are dropped and counted.
func (r *Router) SetUp(name string, up bool) error {
	fi, err := r.lockIf(name)
	if err != nil {
		return err
	}
	defer r.mu.Unlock()
	if fi.Up == up {
		return nil
	}
	ni := fi.Clone()
	ni.Up = up
	r.publishIntfs(r.intfs.With(ni))
	r.logf("interface %s is now %s", name, map[bool]string{true: "up", false: "down"}[up])
	return nil
}

// SetHostOwned switches interface name's host-owned-addresses mode (see
// fwd.Interface.HostOwned): on, the Linux host answers ARP, NDP and traffic
// for the interface's addresses and R2 only forwards.
func (r *Router) SetHostOwned(name string, on bool) error {
	fi, err := r.lockIf(name)
	if err != nil {
		return err
	}
	defer r.mu.Unlock()
	if fi.HostOwned == on {
		return nil
	}
	ni := fi.Clone()
	ni.HostOwned = on
	if err := r.tellHost(fi, ni); err != nil {
		return fmt.Errorf("interface %s: %v: %w", name, err, ctl.ErrInternal)
	}
	r.publishIntfs(r.intfs.With(ni))
	r.logf("interface %s: host-owned addresses %s", name, map[bool]string{true: "on", false: "off"}[on])
	return nil
}

// tellHost tells the driver of interface ni, if it decides itself what
// reaches the host (driver.HostPasser: AF_XDP), ni's host-owned mode and
// addresses, before the threads see ni (old is the interface as it was).
// Nothing is said when the interface is not host-owned and was not. Caller
// holds r.mu.
func (r *Router) tellHost(old, ni *fwd.Interface) error {
	h, ok := r.drvs[ni.Name].(driver.HostPasser)
	if !ok || (!old.HostOwned && !ni.HostOwned) {
		return nil
	}
	return h.SetHostOwned(ni.HostOwned, hostAddrs(ni))
}

// tellHostLogged is tellHost where the change cannot be refused any more
// (an address is gone): a failure only leaves the host a stale address,
// whose frames still reach it, so it is logged.
func (r *Router) tellHostLogged(old, ni *fwd.Interface) {
	if err := r.tellHost(old, ni); err != nil {
		r.logf("interface %s: %v", ni.Name, err)
	}
}

// hostAddrs are what frames to hand to the host in host-owned mode are
// addressed to: fi's addresses (the link-local one included) and the
// broadcast addresses of its IPv4 subnets.
func hostAddrs(fi *fwd.Interface) []netip.Addr {
	out := make([]netip.Addr, 0, len(fi.Addrs)+1)
	for _, p := range fi.Addrs {
		out = append(out, p.Addr())
		if p.Addr().Is4() && p.Bits() <= 30 {
			out = append(out, broadcastOf(p))
		}
	}
	return out
}

// AddAddr gives interface ifname the address p (e.g. 10.1.0.2/24) and
// installs its connected route and local routes.
func (r *Router) AddAddr(ifname string, p netip.Prefix) error {
	fi, err := r.lockIf(ifname)
	if err != nil {
		return err
	}
	defer r.mu.Unlock()
	if p.IsValid() && is6(p.Addr()) {
		return r.addAddr6(fi, p)
	}
	if !p.IsValid() || !p.Addr().Is4() || p.Bits() < 1 {
		return fmt.Errorf("address %s: need an IPv4 address with a prefix length 1..32: %w", p, ctl.ErrInvalid)
	}
	a := p.Addr()
	if a.IsMulticast() || a.IsLoopback() || a.IsUnspecified() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return fmt.Errorf("address %s is not a unicast host address: %w", p, ctl.ErrInvalid)
	}
	if p.Bits() <= 30 && (p.Masked().Addr() == a || broadcastOf(p) == a) {
		return fmt.Errorf("address %s is the network or broadcast address of %s: %w", a, p.Masked(), ctl.ErrInvalid)
	}
	for _, i := range r.intfs.All() {
		for _, x := range i.Addrs {
			if x.Addr() == a {
				return fmt.Errorf("address %s is already on %s: %w", a, i.Name, ctl.ErrExists)
			}
		}
	}
	routes := addrRoutes(fi.Ifindex, p)
	for _, rt := range routes {
		if cur, ok := r.rib.Get(rt.Prefix); ok && r.addrRoutes[rt.Prefix] == 0 {
			return fmt.Errorf("address %s needs route %s, which is a static route (%s); delete it first: %w", p, rt.Prefix, cur.Adj, ctl.ErrExists)
		}
		if cur, ok := r.rib.Get(rt.Prefix); ok && cur.Adj != rt.Adj {
			return fmt.Errorf("address %s: subnet %s is already connected through another interface: %w", p, rt.Prefix, ctl.ErrExists)
		}
	}
	ni := fi.Clone()
	ni.Addrs = append(ni.Addrs, p)
	if err := r.tellHost(fi, ni); err != nil {
		return fmt.Errorf("address %s: %v: %w", p, err, ctl.ErrInternal)
	}
	r.publishIntfs(r.intfs.With(ni))
	var add []fwd.Route
	for _, rt := range routes {
		if r.addrRoutes[rt.Prefix] == 0 {
			add = append(add, rt)
		}
		r.addrRoutes[rt.Prefix]++
	}
	if err := r.rib.AddBatch(add); err != nil {
		return fmt.Errorf("address %s: %v: %w", p, err, ctl.ErrInternal) // validated above; not expected
	}
	return nil
}

// DelAddr removes address p from interface ifname, with the routes it
// installed.
func (r *Router) DelAddr(ifname string, p netip.Prefix) error {
	fi, err := r.lockIf(ifname)
	if err != nil {
		return err
	}
	defer r.mu.Unlock()
	idx := -1
	for i, x := range fi.Addrs {
		if x == p {
			idx = i
		}
	}
	if idx < 0 {
		return fmt.Errorf("address %s is not on %s: %w", p, ifname, ctl.ErrNotFound)
	}
	if is6(p.Addr()) {
		if err := r.delAddr6Routes(fi, p); err != nil {
			return err
		}
		ni := fi.Clone()
		ni.Addrs = append(ni.Addrs[:idx:idx], ni.Addrs[idx+1:]...)
		r.publishIntfs(r.intfs.With(ni))
		r.forgetOffLink(ni)
		r.tellHostLogged(fi, ni)
		return nil
	}
	var del []netip.Prefix
	for _, rt := range addrRoutes(fi.Ifindex, p) {
		r.addrRoutes[rt.Prefix]--
		if r.addrRoutes[rt.Prefix] <= 0 {
			delete(r.addrRoutes, rt.Prefix)
			del = append(del, rt.Prefix)
		}
	}
	// Static routes through a next hop on the vanishing subnet stay: like
	// Linux, their packets will find no neighbour. Routes first, then the
	// address, so no thread sees an address without its routes.
	if err := r.rib.DelBatch(del); err != nil {
		return fmt.Errorf("address %s: %v: %w", p, err, ctl.ErrInternal)
	}
	ni := fi.Clone()
	ni.Addrs = append(ni.Addrs[:idx:idx], ni.Addrs[idx+1:]...)
	r.publishIntfs(r.intfs.With(ni))
	r.tellHostLogged(fi, ni)
	r.forgetOffLink(ni)
	return nil
}

// addrRoutes are the routes an interface address needs: its subnet
// (connected), itself (local) and, for subnets with one, the subnet
// broadcast address (local, so directed broadcasts are not forwarded).
func addrRoutes(ifindex int32, p netip.Prefix) []fwd.Route {
	rs := []fwd.Route{{Prefix: netip.PrefixFrom(p.Addr(), 32), Adj: fwd.Adjacency{Kind: fwd.AdjLocal, Ifindex: ifindex}}}
	if p.Bits() < 32 {
		rs = append(rs, fwd.Route{Prefix: p.Masked(), Adj: fwd.Adjacency{Kind: fwd.AdjConnected, Ifindex: ifindex}})
	}
	if p.Bits() <= 30 {
		rs = append(rs, fwd.Route{Prefix: netip.PrefixFrom(broadcastOf(p), 32), Adj: fwd.Adjacency{Kind: fwd.AdjLocal, Ifindex: ifindex}})
	}
	return rs
}

func broadcastOf(p netip.Prefix) netip.Addr {
	v := fwd.IPv4ToU32(p.Addr()) | (1<<(32-p.Bits()) - 1)
	return fwd.U32ToIPv4(v)
}

// Interfaces describes the interfaces (all, or the one named), with their
// traffic counters.
func (r *Router) Interfaces(name string) ([]ctl.IfInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var list []*fwd.Interface
	if name != "" {
		fi, err := r.byName(name)
		if err != nil {
			return nil, err
		}
		list = []*fwd.Interface{fi}
	} else {
		list = append(list, r.intfs.All()...)
	}
	sort.Slice(list, func(a, b int) bool { return list[a].Ifindex < list[b].Ifindex })
	totals := map[string][]uint64{}
	for _, t := range counters.Totals(r.eng.Counters().Snapshot()) {
		totals[t.Name] = t.Sum
	}
	get := func(name string, i int) uint64 {
		if v := totals[name]; len(v) > i {
			return v[i]
		}
		return 0
	}
	out := make([]ctl.IfInfo, 0, len(list))
	for _, fi := range list {
		c := func(what string) string { return names.IfNodeCounter(fi.Name, what) }
		ii := ctl.IfInfo{Name: fi.Name, Ifindex: int(fi.Ifindex), LinuxIndex: fi.LinuxIndex,
			MAC: net.HardwareAddr(append([]byte(nil), fi.MAC[:]...)), MTU: fi.MTU, Up: fi.Up,
			Addrs: append([]netip.Prefix(nil), fi.Addrs...), Thread: fi.Owner, Driver: DriverName(r.drvs[fi.Name]), HostOwned: fi.HostOwned}
		ii.RxPkts, ii.RxBytes = get(c(names.IfRx), 0), get(c(names.IfRx), 1)
		ii.TxPkts, ii.TxBytes = get(c(names.IfTx), 0), get(c(names.IfTx), 1)
		ii.RxDrops = get(c(driver.DrvRxNoBuf), 0) + get(c(driver.DrvRxErrors), 0) + get(c(driver.DrvKernelDrops), 0)
		ii.TxDrops = get(c(names.IfTxErrors), 0) + get(c(names.IfHandoffFull), 0) + get(c(names.IfNoDriver), 0)
		out = append(out, ii)
	}
	return out, nil
}
