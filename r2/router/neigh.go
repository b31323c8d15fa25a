//go:build linux

package router

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/r2/ctl"
	"github.com/r2go/r2/r2/msg"
)

// Neighbours on the control side. The forwarding threads resolve next hops
// themselves (EtherEncap asks, EtherDecap learns and reports); the control
// side keeps the table of record, relays what one thread learned to all,
// and takes entries set through the API:
//
//   - learned entries come from the threads' reports; their state is
//     incomplete (a thread is asking), reachable (confirmed within
//     ReachableTime), stale (older) or failed (a thread gave up: no
//     answer to a first request or to a refresh);
//   - static entries (the operator) and kernel entries (the kernel
//     follower, r2follow) are set through the API, never age in the
//     threads, are never overwritten by learning, and go only when deleted
//     through the API or with their interface or subnet. The two kinds
//     behave alike; kernel marks what the follower owns, so that its
//     resyncs never touch what an operator set.
//
// A failed next hop that is a member of a multipath group is listed in its
// interface's FailedNextHops (a new interface snapshot, copy-on-write like
// a down interface), which the groups' pick skips: the member's flows move
// to the other members, and flows of healthy members stay where they are.
// The control side asks for such next hops every ProbeInterval (msg.Probe:
// the owner thread sends one request); an answer, a static or kernel entry
// or any learning makes the entry reachable and the member usable again.

const (
	// ReachableTime is how long a learned entry counts as reachable after
	// it was last confirmed (EtherEncap's refresh age).
	ReachableTime = 30 * time.Second
	// ProbeInterval is how often failed multipath next hops are asked
	// for, and how often group membership changes reach FailedNextHops.
	ProbeInterval = time.Second
	// failedKeep is how long a failed entry that no group uses is listed.
	failedKeep = time.Minute
	// incompleteKeep drops an incomplete entry whose outcome was never
	// reported (a report lost to a full uplink).
	incompleteKeep = 10 * time.Second
	// resolveTimeout is EtherEncap's: a failure reported less than this
	// after an answer was relayed is a thread that missed the answer.
	resolveTimeout = 3 * time.Second
	// maxUnresolved bounds the incomplete and failed entries kept: a scan
	// of a connected subnet makes one per address.
	maxUnresolved = 1024
)

type neighKind uint8

const (
	kindLearned neighKind = iota
	kindStatic
	kindKernel
)

var neighKindNames = [...]string{kindLearned: ctl.NeighLearned, kindStatic: ctl.NeighStatic, kindKernel: ctl.NeighKernel}

type neighState uint8

const (
	stateOK neighState = iota // has a MAC
	stateIncomplete
	stateFailed
)

type neighKey struct {
	ifindex int32
	ip      netip.Addr // IPv4 or IPv6 (never 4-in-6, never zoned)
}

type neighEntry struct {
	mac     [6]byte
	updated time.Time // set, learned or confirmed (for failed: when it failed)
	kind    neighKind
	state   neighState
}

// relay receives reports from forwarding threads, relays news to all, and
// probes failed multipath next hops.
func (r *Router) relay() {
	defer close(r.relayDone)
	tick := time.NewTicker(ProbeInterval)
	defer tick.Stop()
	up := r.eng.Uplink()
	for {
		select {
		case u, ok := <-up:
			if !ok {
				return
			}
			r.report(u)
		case <-tick.C:
			r.tick()
		}
	}
}

// report handles one report of a forwarding thread.
func (r *Router) report(u msg.Up) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.intfs.Get(u.Ifindex) == nil {
		return
	}
	var ip netip.Addr
	switch {
	case u.Kind == msg.UpMAC6 || (u.Kind == msg.UpResolving || u.Kind == msg.UpFailed) && u.Is6:
		ip = netip.AddrFrom16(u.IP6)
	case u.Kind == msg.UpMAC || u.Kind == msg.UpResolving || u.Kind == msg.UpFailed:
		ip = fwd.U32ToIPv4(u.IP)
	default:
		return
	}
	k := neighKey{u.Ifindex, ip}
	cur := r.neighs[k]
	now := time.Now()
	switch u.Kind {
	case msg.UpMAC, msg.UpMAC6:
		switch {
		case cur != nil && cur.kind != kindLearned:
			return // static and kernel entries are not overwritten by learning
		case cur == nil && !u.Create:
			return // a host we never talked to
		case cur != nil && cur.state == stateOK && cur.mac == u.MAC && now.Sub(cur.updated) < time.Second:
			return // nothing new
		}
		r.putNeigh(k, &neighEntry{mac: u.MAC, updated: now})
		r.sendLearned(k, u.MAC, false)
		if cur != nil && cur.state == stateFailed {
			r.updateFailed(k.ifindex)
		}
	case msg.UpResolving:
		if cur == nil && r.unresolved < maxUnresolved {
			r.putNeigh(k, &neighEntry{updated: now, state: stateIncomplete})
		}
	case msg.UpFailed:
		switch {
		case cur != nil && cur.kind != kindLearned, cur != nil && cur.state == stateFailed:
			return
		case cur != nil && cur.state == stateOK && now.Sub(cur.updated) < resolveTimeout:
			return // answered meanwhile: the thread gave up just before the news reached it
		case cur == nil && r.unresolved >= maxUnresolved:
			return
		}
		r.putNeigh(k, &neighEntry{updated: now, state: stateFailed})
		if cur != nil && cur.state == stateOK {
			r.sendForget(k) // the other threads stop using the MAC too
		}
		r.updateFailed(k.ifindex)
	}
}

// tick drops stale unresolved entries, probes failed multipath next hops
// and brings FailedNextHops up to date with the groups.
func (r *Router) tick() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	now := time.Now()
	members := r.memberNextHops()
	for k, e := range r.neighs {
		switch {
		case e.state == stateIncomplete && now.Sub(e.updated) > incompleteKeep:
			r.delNeigh(k)
		case e.state == stateFailed && members[k]:
			p := msg.Probe{Ifindex: k.ifindex}
			if k.ip.Is4() {
				p.IP = fwd.IPv4ToU32(k.ip)
			} else {
				p.Is6, p.IP6 = true, k.ip.As16()
			}
			r.eng.Send(p)
		case e.state == stateFailed && now.Sub(e.updated) > failedKeep:
			r.delNeigh(k)
		}
	}
	// One pass over the neighbours for every interface's list.
	failed := r.failedNextHops(-1, members)
	for _, fi := range r.intfs.All() {
		r.publishFailed(fi, failed[fi.Ifindex])
	}
}

// putNeigh sets entry k, keeping the count of unresolved entries. Caller
// holds r.mu.
func (r *Router) putNeigh(k neighKey, e *neighEntry) {
	if old := r.neighs[k]; old != nil && old.state != stateOK {
		r.unresolved--
	}
	if e.state != stateOK {
		r.unresolved++
	}
	r.neighs[k] = e
}

// delNeigh removes entry k (the threads are not told). Caller holds r.mu.
func (r *Router) delNeigh(k neighKey) {
	if old := r.neighs[k]; old != nil {
		if old.state != stateOK {
			r.unresolved--
		}
		delete(r.neighs, k)
	}
}

// sendLearned tells every thread the MAC of k.
func (r *Router) sendLearned(k neighKey, mac [6]byte, static bool) {
	if k.ip.Is4() {
		r.eng.Send(msg.MACLearned{Ifindex: k.ifindex, IP: fwd.IPv4ToU32(k.ip), MAC: mac, Static: static})
	} else {
		r.eng.Send(msg.MAC6Learned{Ifindex: k.ifindex, IP: k.ip.As16(), MAC: mac, Static: static})
	}
}

// sendForget tells every thread to forget k.
func (r *Router) sendForget(k neighKey) {
	if k.ip.Is4() {
		r.eng.Send(msg.MACForget{Ifindex: k.ifindex, IP: fwd.IPv4ToU32(k.ip)})
	} else {
		r.eng.Send(msg.MAC6Forget{Ifindex: k.ifindex, IP: k.ip.As16()})
	}
}

// memberNextHops are the gateways of multipath group members, by
// interface. Caller holds r.mu.
func (r *Router) memberNextHops() map[neighKey]bool {
	out := map[neighKey]bool{}
	for _, g := range r.groups {
		for _, m := range g.Members {
			if m.Kind == fwd.AdjGateway {
				out[neighKey{m.Ifindex, fwd.U32ToIPv4(m.NextHop)}] = true
			}
		}
	}
	for _, g := range r.groups6 {
		for _, m := range g.Members {
			if m.Kind == fwd.AdjGateway {
				out[neighKey{m.Ifindex, netip.AddrFrom16(m.NextHop)}] = true
			}
		}
	}
	return out
}

// updateFailed publishes interface ifindex with the failed multipath next
// hops it has now, if they changed. Caller holds r.mu.
func (r *Router) updateFailed(ifindex int32) {
	if fi := r.intfs.Get(ifindex); fi != nil {
		r.publishFailed(fi, r.failedNextHops(ifindex, r.memberNextHops())[ifindex])
	}
}

// failedList is an interface's failed multipath next hops.
type failedList struct {
	v4 []uint32
	v6 [][16]byte
}

// failedNextHops lists the failed neighbours that are multipath members,
// by interface (ifindex -1: every interface). Caller holds r.mu.
func (r *Router) failedNextHops(ifindex int32, members map[neighKey]bool) map[int32]*failedList {
	out := map[int32]*failedList{}
	for k, e := range r.neighs {
		if e.state != stateFailed || ifindex >= 0 && k.ifindex != ifindex || !members[k] {
			continue
		}
		l := out[k.ifindex]
		if l == nil {
			l = &failedList{}
			out[k.ifindex] = l
		}
		if k.ip.Is4() {
			l.v4 = append(l.v4, fwd.IPv4ToU32(k.ip))
		} else {
			l.v6 = append(l.v6, k.ip.As16())
		}
	}
	return out
}

// publishFailed makes l (nil: none) fi's FailedNextHops if they differ.
// Caller holds r.mu.
func (r *Router) publishFailed(fi *fwd.Interface, l *failedList) {
	if l == nil {
		l = &failedList{}
	}
	slices.Sort(l.v4)
	slices.SortFunc(l.v6, func(a, b [16]byte) int { return netip.AddrFrom16(a).Compare(netip.AddrFrom16(b)) })
	if slices.Equal(l.v4, fi.FailedNextHops) && slices.Equal(l.v6, fi.FailedNextHops6) {
		return
	}
	ni := fi.Clone()
	ni.FailedNextHops, ni.FailedNextHops6 = l.v4, l.v6
	r.publishIntfs(r.intfs.With(ni))
	r.logf("interface %s: failed multipath next hops now %d IPv4, %d IPv6", fi.Name, len(l.v4), len(l.v6))
}

// forgetOffLink drops the neighbours of fi that no address of fi covers
// any more (their subnet went with an address), and tells the threads to
// forget them: a later address on that subnet starts with fresh ARP, as
// Linux flushes the neighbours of a removed subnet. Static entries go too.
// Caller holds r.mu.
func (r *Router) forgetOffLink(fi *fwd.Interface) {
	for k := range r.neighs {
		if k.ifindex == fi.Ifindex && !onLink(fi, k.ip) {
			r.delNeigh(k)
			r.sendForget(k)
		}
	}
	r.updateFailed(fi.Ifindex)
}

func onLink(fi *fwd.Interface, ip netip.Addr) bool {
	if ip.Is4() {
		return fi.OnLink(fwd.IPv4ToU32(ip))
	}
	return fi.OnLink6(ip.As16())
}

// Neighbours lists the resolved neighbours (those with a MAC).
func (r *Router) Neighbours() []ctl.Neighbour {
	all, _ := r.ShowNeighbours("")
	out := all[:0]
	for _, n := range all {
		if n.MAC != nil {
			out = append(out, n)
		}
	}
	return out
}

// ShowNeighbours lists the neighbours of interface ifname ("": all
// interfaces) by interface and address, with their kind, state and age.
func (r *Router) ShowNeighbours(ifname string) ([]ctl.Neighbour, error) {
	if err := r.lock(); err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	want := int32(-1)
	if ifname != "" {
		fi, err := r.byName(ifname)
		if err != nil {
			return nil, err
		}
		want = fi.Ifindex
	}
	now := time.Now()
	out := []ctl.Neighbour{}
	for k, e := range r.neighs {
		fi := r.intfs.Get(k.ifindex)
		if fi == nil || want >= 0 && k.ifindex != want {
			continue
		}
		n := ctl.Neighbour{Ifname: fi.Name, IP: k.ip, Kind: neighKindNames[e.kind], Age: now.Sub(e.updated)}
		switch {
		case e.kind != kindLearned:
			n.State = ctl.NeighStatic
		case e.state == stateIncomplete:
			n.State = ctl.NeighIncomplete
		case e.state == stateFailed:
			n.State = ctl.NeighFailed
		case n.Age < ReachableTime:
			n.State = ctl.NeighReachable
		default:
			n.State = ctl.NeighStale
		}
		if e.state == stateOK {
			n.MAC = net.HardwareAddr(append([]byte(nil), e.mac[:]...))
		}
		out = append(out, n)
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Ifname != out[b].Ifname {
			return out[a].Ifname < out[b].Ifname
		}
		return out[a].IP.Less(out[b].IP)
	})
	return out, nil
}

func macString(m [6]byte) string { return net.HardwareAddr(m[:]).String() }

// AddNeighbour sets a static neighbour: SetNeighbours with kind static.
func (r *Router) AddNeighbour(ifname string, ip netip.Addr, mac [6]byte) error {
	return r.SetNeighbours([]ctl.Neighbour{{Ifname: ifname, IP: ip, MAC: mac[:], Kind: ctl.NeighStatic}})
}

// SetNeighbours adds or replaces, all or nothing, static (Kind "static"
// or "") or kernel (Kind "kernel") neighbours: n.IP at n.MAC on interface
// n.Ifname, which must be on one of the interface's connected subnets; it
// tells every thread. An entry replaces whatever the address had, except
// that a kernel entry does not replace a static one (ErrExists).
func (r *Router) SetNeighbours(ns []ctl.Neighbour) error {
	if err := r.lock(); err != nil {
		return err
	}
	defer r.mu.Unlock()
	type set struct {
		k    neighKey
		mac  [6]byte
		kind neighKind
	}
	sets := make([]set, 0, len(ns))
	seen := make(map[neighKey]bool, len(ns))
	for i, n := range ns {
		k, mac, kind, err := r.checkNeighbour(n)
		if err == nil && seen[k] {
			err = fmt.Errorf("neighbour %s on %s given twice: %w", n.IP, n.Ifname, ctl.ErrInvalid)
		}
		if err != nil {
			if len(ns) > 1 {
				return fmt.Errorf("neighbour %d of %d: %w", i+1, len(ns), err)
			}
			return err
		}
		seen[k] = true
		sets = append(sets, set{k, mac, kind})
	}
	failed := map[int32]bool{}
	now := time.Now()
	for _, x := range sets {
		if old := r.neighs[x.k]; old != nil && old.state == stateFailed {
			failed[x.k.ifindex] = true
		}
		r.putNeigh(x.k, &neighEntry{mac: x.mac, updated: now, kind: x.kind})
		r.sendLearned(x.k, x.mac, true)
	}
	for ifindex := range failed {
		r.updateFailed(ifindex)
	}
	return nil
}

// checkNeighbour validates one entry of SetNeighbours. Caller holds r.mu.
func (r *Router) checkNeighbour(n ctl.Neighbour) (neighKey, [6]byte, neighKind, error) {
	var kind neighKind
	switch n.Kind {
	case "", ctl.NeighStatic:
		kind = kindStatic
	case ctl.NeighKernel:
		kind = kindKernel
	default:
		return neighKey{}, [6]byte{}, 0, fmt.Errorf("neighbour %s: kind %q: want %q or %q: %w", n.IP, n.Kind, ctl.NeighStatic, ctl.NeighKernel, ctl.ErrInvalid)
	}
	if len(n.MAC) != 6 {
		return neighKey{}, [6]byte{}, 0, fmt.Errorf("neighbour %s: MAC %q is not a 6-byte Ethernet address: %w", n.IP, n.MAC, ctl.ErrInvalid)
	}
	mac := [6]byte(n.MAC)
	if mac == ([6]byte{}) || mac[0]&1 == 1 {
		return neighKey{}, [6]byte{}, 0, fmt.Errorf("neighbour %s: MAC %s is not a unicast address: %w", n.IP, macString(mac), ctl.ErrInvalid)
	}
	fi, err := r.byName(n.Ifname)
	if err != nil {
		return neighKey{}, [6]byte{}, 0, err
	}
	ip, err := checkNeighAddr(fi, n.IP)
	if err != nil {
		return neighKey{}, [6]byte{}, 0, err
	}
	k := neighKey{fi.Ifindex, ip}
	if old := r.neighs[k]; kind == kindKernel && old != nil && old.kind == kindStatic {
		// The operator's entry wins over the kernel's mirror, so that the
		// follower's later deletion cannot take it away.
		return neighKey{}, [6]byte{}, 0, fmt.Errorf("neighbour %s on %s is static (set by an operator); delete it first to let the kernel's entry in: %w", ip, fi.Name, ctl.ErrExists)
	}
	return k, mac, kind, nil
}

// checkNeighAddr checks that ip may be a neighbour on fi and returns it
// as the table keys it.
func checkNeighAddr(fi *fwd.Interface, ip netip.Addr) (netip.Addr, error) {
	switch {
	case !ip.IsValid() || ip.Is4In6():
		return ip, fmt.Errorf("neighbour %s: need an IPv4 or IPv6 address: %w", ip, ctl.ErrInvalid)
	case ip.Zone() != "":
		return ip, fmt.Errorf("neighbour %s: no zone: the interface is %s: %w", ip, fi.Name, ctl.ErrInvalid)
	case ip.IsUnspecified() || ip.IsMulticast() || ip.IsLoopback() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return ip, fmt.Errorf("neighbour %s is not a unicast host address: %w", ip, ctl.ErrInvalid)
	}
	if !onLink(fi, ip) {
		var subnets []string
		for _, a := range fi.Addrs {
			if a.Addr().Is4() == ip.Is4() && !a.Addr().IsLinkLocalUnicast() {
				subnets = append(subnets, a.Masked().String())
			}
		}
		have := "it has none of that family"
		if len(subnets) > 0 {
			have = "its subnets: " + strings.Join(subnets, ", ")
		}
		return ip, fmt.Errorf("neighbour %s is not on a connected subnet of %s (%s): %w", ip, fi.Name, have, ctl.ErrInvalid)
	}
	for _, a := range fi.Addrs {
		if a.Addr() == ip {
			return ip, fmt.Errorf("neighbour %s is an address of %s itself: %w", ip, fi.Name, ctl.ErrInvalid)
		}
	}
	return ip, nil
}

// DelNeighbours removes, all or nothing, the neighbours n.IP of
// interfaces n.Ifname, whatever their kind, and tells every thread to
// forget them.
func (r *Router) DelNeighbours(ns []ctl.Neighbour) error {
	if err := r.lock(); err != nil {
		return err
	}
	defer r.mu.Unlock()
	keys := make([]neighKey, 0, len(ns))
	for i, n := range ns {
		fi, err := r.byName(n.Ifname)
		if err == nil {
			k := neighKey{fi.Ifindex, n.IP}
			if r.neighs[k] == nil || slices.Contains(keys, k) {
				err = fmt.Errorf("neighbour %s on %s: %w", n.IP, n.Ifname, ctl.ErrNotFound)
			}
			keys = append(keys, k)
		}
		if err != nil {
			if len(ns) > 1 {
				return fmt.Errorf("neighbour %d of %d: %w", i+1, len(ns), err)
			}
			return err
		}
	}
	failed := map[int32]bool{}
	for _, k := range keys {
		if r.neighs[k].state == stateFailed {
			failed[k.ifindex] = true
		}
		r.delNeigh(k)
		r.sendForget(k)
	}
	for ifindex := range failed {
		r.updateFailed(ifindex)
	}
	return nil
}
