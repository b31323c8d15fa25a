// Package encap is EtherEncap, the per-interface Ethernet encapsulation
// node.
//
// It prepends the Ethernet header: the interface's MAC as source, and as
// destination the MAC of the packet's next hop from this thread's neighbour
// table. The table is owned by the thread and filled by control messages
// (MACs that some thread's EtherDecap learned, relayed by the control side
// to every thread).
//
// On a miss it holds a few packets per next hop (HoldPerNextHop, at most
// MaxPending next hops at once), sends an ARP request at most once a second
// per next hop, and sends the held packets when the answer arrives; after
// ResolveTimeout it drops them, counted. Entries are forgotten when they are
// MaxAge old; an entry in use that is older than RefreshAge is re-asked for
// (the packets still flow meanwhile), so a moved host is noticed; if that
// refresh goes unanswered for ResolveTimeout the entry is dropped.
//
// Static entries (msg.MACLearned.Static: set through the API by an
// operator or the kernel follower) never age, are never re-asked for and
// are not overwritten by learning.
//
// The node tells the control side (msg.Up) when it starts resolving a
// next hop (UpResolving) and when it gives up on one (UpFailed: a first
// resolution or a refresh unanswered), so that the control side knows the
// neighbour's state and multipath groups stop choosing a failed next hop;
// msg.Probe makes the interface's owner thread ask for a next hop once.
//
// IPv6 packets (packet.MetaIPv6) are resolved the same way with neighbour
// discovery instead of ARP, in a table of their own (nd.go).
package encap

import (
	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/logs"
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

// Resolution and aging parameters, close to Linux's defaults.
const (
	HoldPerNextHop = 4  // packets held per unresolved next hop (Linux: unres_qlen ~ 3 frames' worth)
	MaxPending     = 64 // unresolved next hops at once
	NeighSize      = 4096
	ARPInterval    = int64(1e9)   // between requests for one next hop
	ResolveTimeout = int64(3e9)   // give up on a next hop after this
	RefreshAge     = int64(30e9)  // re-ask for an entry in use after this
	MaxAge         = int64(300e9) // forget an entry after this
)

const (
	nextDrop = iota // graph.Drop
	nextIf
	numNext
)

type pending struct {
	ip    uint32
	n     int
	held  [HoldPerNextHop]*packet.Packet
	first int64 // when the first packet was held
	asked int64 // last request
}

// Node is EtherEncap for one interface.
type Node struct {
	ifindex int32
	ifname  string
	name    string
	intf    *fwd.Interface

	// Per clone, owned by the thread.
	neighs   neighTable
	pend     []pending // len MaxPending; ip 0 = free
	npend    int
	resolved bool  // some pending next hop may have been learned
	now      int64 // Now of the last Dispatch
	lastAge  int64
	nd       nd6 // IPv6 neighbours and pending resolutions (nd.go)
	thread   int
	uplink   *msg.Uplink
	probes   [maxProbes]probe // asked for by msg.Probe, sent by the next Dispatch
	nprobes  int
	c        cntrs
	log      *logs.Logger
	logReq   logs.Format
	logGone  logs.Format
}

type cntrs struct {
	miss, held, holdFull, pendFull, timeout, arpSent, noSrc, noHeadroom counters.Counter
	learned, tableFull, aged, refresh, flushed, noNextHop               counters.Counter
	unanswered, upLost, probes                                          counters.Counter
}

// maxProbes bounds the probes one Control burst may queue before the next
// Dispatch; the control side re-probes every few seconds, so a probe lost
// to a full queue is sent next time.
const maxProbes = 16

type probe struct {
	is6 bool
	ip  uint32
	ip6 [16]byte
}

// New makes EtherEncap for intf.
func New(intf *fwd.Interface) *Node {
	return &Node{ifindex: intf.Ifindex, ifname: intf.Name, name: names.EtherEncap(intf.Name), intf: intf}
}

// Name implements graph.Node.
func (n *Node) Name() string { return n.name }

// NextNames implements graph.Node.
func (n *Node) NextNames() []string {
	return []string{nextDrop: names.Drop, nextIf: names.IfNode(n.ifname)}
}

// Clone implements graph.Node.
func (n *Node) Clone(c *graph.CloneCtx) graph.Node {
	x := &Node{ifindex: n.ifindex, ifname: n.ifname, name: n.name, intf: n.intf,
		neighs: newNeighTable(NeighSize), pend: make([]pending, MaxPending), log: c.Logger(),
		thread: c.Thread, uplink: c.Uplink,
		logReq:  c.LogFormat("EtherEncap: arp request for %ip on ifindex %d"),
		logGone: c.LogFormat("EtherEncap: %ip on ifindex %d did not answer: %d packets dropped")}
	cnt := func(s string) counters.Counter { return c.Counter(n.name, s) }
	x.c = cntrs{
		miss: cnt("arp_miss"), held: cnt("held"), holdFull: cnt("hold_full"), pendFull: cnt("pending_full"),
		timeout: cnt("resolve_timeout"), arpSent: cnt("arp_requests_sent"), noSrc: cnt("no_src_addr"),
		noHeadroom: cnt("no_headroom"), learned: cnt("neigh_learned"), tableFull: cnt("neigh_table_full"),
		aged: cnt("neigh_aged"), refresh: cnt("neigh_refresh"), flushed: cnt("held_sent"), noNextHop: cnt("no_next_hop"),
		unanswered: cnt("neigh_unanswered"), upLost: cnt("reports_lost"), probes: cnt("probes"),
	}
	x.nd = newND6(c, n.name)
	return x
}

// Control implements graph.Node.
func (n *Node) Control(m msg.Msg) {
	switch m := m.(type) {
	case msg.Interfaces:
		if i := m.Snapshot.Get(n.ifindex); i != nil {
			n.intf = i
		}
	case msg.MACLearned:
		if m.Ifindex != n.ifindex {
			return
		}
		if n.neighs.set(m.IP, m.MAC, n.now, m.Static) {
			n.c.learned.Inc()
			n.resolved = true
		} else {
			n.c.tableFull.Inc()
		}
	case msg.MAC6Learned:
		if m.Ifindex == n.ifindex {
			n.learn6(&m.IP, m.MAC, m.Static)
		}
	case msg.MAC6Forget:
		if m.Ifindex == n.ifindex {
			n.nd.neighs.del(&m.IP)
		}
	case msg.Probe:
		// Only the owner asks: one request on the wire, not one per thread.
		if m.Ifindex == n.ifindex && n.thread == n.intf.Owner && n.nprobes < maxProbes {
			n.probes[n.nprobes] = probe{is6: m.Is6, ip: m.IP, ip6: m.IP6}
			n.nprobes++
		}
	case msg.MACForget:
		if m.Ifindex != n.ifindex {
			return
		}
		if m.IP == 0 {
			n.neighs.clear()
			n.nd.neighs.clear()
		} else {
			n.neighs.del(m.IP)
		}
	}
}

// Neighbours is the number of entries in this clone's IPv4 table.
func (n *Node) Neighbours() int { return n.neighs.n }

// Neighbours6 is the number of entries in this clone's IPv6 table.
func (n *Node) Neighbours6() int { return n.nd.neighs.n }

// Dispatch implements graph.Node.
func (n *Node) Dispatch(d *graph.Dispatch) {
	n.now = d.Now()
	intf := n.intf
	if n.npend > 0 {
		n.service(d, intf)
	}
	if n.nd.npend > 0 {
		n.service6(d, intf)
	}
	if n.nprobes > 0 {
		n.sendProbes(d, intf)
	}
	if n.now-n.lastAge > int64(1e9) {
		n.lastAge = n.now
		n.c.aged.Add(uint64(n.neighs.expire(n.now - MaxAge)))
		n.nd.c.aged.Add(uint64(n.nd.neighs.expire(n.now - MaxAge)))
		cutoff := n.now - ResolveTimeout
		n.c.unanswered.Add(uint64(n.neighs.unanswered(cutoff, func(ip uint32) {
			n.report(msg.Up{Kind: msg.UpFailed, IP: ip})
		})))
		n.c.unanswered.Add(uint64(n.nd.neighs.unanswered(cutoff, func(ip *[16]byte) {
			n.report(msg.Up{Kind: msg.UpFailed, Is6: true, IP6: *ip})
		})))
	}
	for p := d.Pop(); p != nil; p = d.Pop() {
		if p.Meta&packet.MetaIPv6 != 0 {
			n.dispatch6(d, intf, p)
			continue
		}
		if p.NextHop == 0 {
			d.Drop(p, n.c.noNextHop) // nothing routed it: never guess a MAC
			continue
		}
		e := n.neighs.get(p.NextHop)
		if e == nil {
			n.c.miss.Inc()
			n.hold(d, intf, p)
			continue
		}
		if !e.static && n.now-e.seen > RefreshAge && n.now-e.asked > ARPInterval {
			e.asked = n.now
			if e.unans <= e.seen {
				e.unans = n.now // the first unanswered request: unanswered counts from it
			}
			n.c.refresh.Inc()
			n.request(d, intf, p.NextHop)
		}
		n.send(d, intf, p, e.mac, hdr.EtherTypeIPv4)
	}
}

// report tells the control side about a next hop of this interface
// (counted when the uplink is full: the control side then learns it from
// the next report). Without an uplink (a graph with no control side)
// nobody listens, and nothing is lost.
func (n *Node) report(u msg.Up) {
	if n.uplink == nil {
		return
	}
	u.Thread, u.Ifindex = n.thread, n.ifindex
	if !n.uplink.Send(u) {
		n.c.upLost.Inc()
	}
}

// sendProbes asks once for each next hop msg.Probe named.
func (n *Node) sendProbes(d *graph.Dispatch, intf *fwd.Interface) {
	for i := 0; i < n.nprobes; i++ {
		pr := &n.probes[i]
		n.c.probes.Inc()
		if pr.is6 {
			n.solicit(d, intf, &pr.ip6, nil)
		} else {
			n.request(d, intf, pr.ip)
		}
	}
	n.nprobes = 0
}

func (n *Node) send(d *graph.Dispatch, intf *fwd.Interface, p *packet.Packet, mac [6]byte, etype uint16) {
	h := p.Push(hdr.EtherLen)
	if h == nil {
		d.Drop(p, n.c.noHeadroom)
		return
	}
	eth := hdr.Ether(h)
	eth.SetDst(mac)
	eth.SetSrc(intf.MAC)
	eth.SetType(etype)
	p.L2 = p.Head()
	d.Push(nextIf, p)
}

// hold keeps p until its next hop is resolved, asking for it.
func (n *Node) hold(d *graph.Dispatch, intf *fwd.Interface, p *packet.Packet) {
	ip := p.NextHop
	var pe, free *pending
	for i := range n.pend {
		if n.pend[i].ip == ip {
			pe = &n.pend[i]
			break
		}
		if free == nil && n.pend[i].ip == 0 {
			free = &n.pend[i]
		}
	}
	if pe == nil {
		if free == nil {
			d.Drop(p, n.c.pendFull)
			return
		}
		pe = free
		*pe = pending{ip: ip, first: n.now, asked: n.now - ARPInterval}
		n.npend++
		n.report(msg.Up{Kind: msg.UpResolving, IP: ip})
	}
	if pe.n == len(pe.held) {
		d.Drop(p, n.c.holdFull)
	} else {
		pe.held[pe.n] = p
		pe.n++
		n.c.held.Inc()
	}
	if n.now-pe.asked >= ARPInterval {
		pe.asked = n.now
		n.request(d, intf, ip)
	}
	d.WakeIn(ARPInterval)
}

// service sends held packets whose next hop got resolved, re-asks, and
// gives up on next hops that never answered.
func (n *Node) service(d *graph.Dispatch, intf *fwd.Interface) {
	resolved := n.resolved
	n.resolved = false
	for i := range n.pend {
		pe := &n.pend[i]
		if pe.ip == 0 {
			continue
		}
		if resolved {
			if e := n.neighs.get(pe.ip); e != nil {
				for j := 0; j < pe.n; j++ {
					n.c.flushed.Inc()
					n.send(d, intf, pe.held[j], e.mac, hdr.EtherTypeIPv4)
				}
				*pe = pending{}
				n.npend--
				continue
			}
		}
		if n.now-pe.first >= ResolveTimeout {
			n.log.Log(n.logGone, uint64(pe.ip), uint64(n.ifindex), uint64(pe.n), 0)
			n.report(msg.Up{Kind: msg.UpFailed, IP: pe.ip})
			for j := 0; j < pe.n; j++ {
				d.Drop(pe.held[j], n.c.timeout)
			}
			*pe = pending{}
			n.npend--
			continue
		}
		if n.now-pe.asked >= ARPInterval {
			pe.asked = n.now
			n.request(d, intf, pe.ip)
		}
		d.WakeIn(ARPInterval)
	}
}

// request broadcasts an ARP request for ip from the interface address on
// ip's subnet.
func (n *Node) request(d *graph.Dispatch, intf *fwd.Interface, ip uint32) {
	src, ok := srcFor(intf, ip)
	if !ok {
		n.c.noSrc.Inc()
		return
	}
	p := d.Pool().Get()
	if p == nil {
		return // counted by the pool
	}
	p.Resize(hdr.EtherMinFrame)
	b := p.Data()
	clear(b)
	eth := hdr.Ether(b)
	eth.SetDst([6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	eth.SetSrc(intf.MAC)
	eth.SetType(hdr.EtherTypeARP)
	hdr.PutARP(b[hdr.EtherLen:], hdr.ARPRequest, intf.MAC, src, [6]byte{}, ip)
	p.L2 = p.Head()
	n.c.arpSent.Inc()
	n.log.Log(n.logReq, uint64(ip), uint64(n.ifindex), 0, 0)
	d.Push(nextIf, p)
}

func srcFor(intf *fwd.Interface, ip uint32) (uint32, bool) {
	var first uint32
	found := false
	for _, a := range intf.Addrs {
		if !a.Addr().Is4() {
			continue // IPv6 addresses share the list
		}
		v := fwd.IPv4ToU32(a.Addr())
		if !found {
			first, found = v, true
		}
		bits := a.Bits()
		if bits == 0 || (v^ip)>>(32-bits) == 0 {
			return v, true
		}
	}
	return first, found
}

// Removed implements graph.Remover: held packets are freed.
func (n *Node) Removed(pool *packet.Pool) {
	for i := range n.pend {
		for j := 0; j < n.pend[i].n; j++ {
			pool.Free(n.pend[i].held[j])
		}
		n.pend[i] = pending{}
	}
	n.npend = 0
	n.removed6(pool)
}

var _ graph.Node = (*Node)(nil)

// Rank implements graph.Ranker.
func (n *Node) Rank() int { return graph.RankL2Out }
