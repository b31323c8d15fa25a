package encap

// IPv6 next hops (packets with packet.MetaIPv6, next hop in NextHop6) are
// resolved with neighbour discovery (RFC 4861) the way IPv4 ones are with
// ARP: a thread-owned table (neigh6Table) filled by msg.MAC6Learned; on a
// miss up to HoldPerNextHop packets are held, a neighbour solicitation goes
// to the next hop's solicited-node group at most once per ARPInterval, and
// the packets are dropped after ResolveTimeout. An entry in use older than
// RefreshAge is re-solicited by unicast to the MAC we know (a light form of
// neighbour unreachability detection: the answer refreshes it, silence lets
// it age out after MaxAge). Multicast next hops map to 33:33 MACs directly.

import (
	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/logs"
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/packet"
)

// NS frame layout: Ethernet, IPv6, the 24-byte solicitation and our source
// link-layer address option.
const (
	nsLen      = 24 + 8
	nsFrameLen = hdr.EtherLen + hdr.IPv6Len + nsLen
)

type pending6 struct {
	ip    [16]byte // zero: free slot
	n     int
	held  [HoldPerNextHop]*packet.Packet
	first int64 // when the first packet was held
	asked int64 // last solicitation
}

// nd6 is a clone's IPv6 resolution state, owned by its thread.
type nd6 struct {
	neighs   neigh6Table
	pend     []pending6 // len MaxPending
	npend    int
	resolved bool // some pending next hop may have been learned
	c        nd6Cntrs
	logReq   logs.Format
	logGone  logs.Format
}

type nd6Cntrs struct {
	miss, pendFull, timeout, nsSent, learned, tableFull, aged, refresh counters.Counter
}

func newND6(c *graph.CloneCtx, name string) nd6 {
	cnt := func(s string) counters.Counter { return c.Counter(name, s) }
	return nd6{
		neighs: newNeigh6Table(NeighSize), pend: make([]pending6, MaxPending),
		c: nd6Cntrs{miss: cnt("nd_miss"), pendFull: cnt("nd_pending_full"), timeout: cnt("nd_resolve_timeout"),
			nsSent: cnt("ns_sent"), learned: cnt("neigh6_learned"), tableFull: cnt("neigh6_table_full"),
			aged: cnt("neigh6_aged"), refresh: cnt("neigh6_refresh")},
		logReq:  c.LogFormat("EtherEncap: neighbour solicitation for interface id %x (prefix %x) on ifindex %d"),
		logGone: c.LogFormat("EtherEncap: interface id %x (prefix %x) on ifindex %d did not answer: %d packets dropped"),
	}
}

// learn6 records that ip is at mac.
func (n *Node) learn6(ip *[16]byte, mac [6]byte, static bool) {
	if n.nd.neighs.set(ip, mac, n.now, static) {
		n.nd.c.learned.Inc()
		n.nd.resolved = true
	} else {
		n.nd.c.tableFull.Inc()
	}
}

// dispatch6 sends or holds one IPv6 packet.
func (n *Node) dispatch6(d *graph.Dispatch, intf *fwd.Interface, p *packet.Packet) {
	nh := &p.NextHop6
	if *nh == ([16]byte{}) {
		d.Drop(p, n.c.noNextHop) // nothing routed it: never guess a MAC
		return
	}
	if nh[0] == 0xff {
		n.send(d, intf, p, hdr.MulticastMAC(nh[:]), hdr.EtherTypeIPv6)
		return
	}
	e := n.nd.neighs.get(nh)
	if e == nil {
		n.nd.c.miss.Inc()
		n.hold6(d, intf, p)
		return
	}
	if !e.static && n.now-e.seen > RefreshAge && n.now-e.asked > ARPInterval {
		e.asked = n.now
		if e.unans <= e.seen {
			e.unans = n.now // the first unanswered solicitation: unanswered counts from it
		}
		n.nd.c.refresh.Inc()
		n.solicit(d, intf, nh, &e.mac)
	}
	n.send(d, intf, p, e.mac, hdr.EtherTypeIPv6)
}

// hold6 keeps p until its next hop is resolved, soliciting it.
func (n *Node) hold6(d *graph.Dispatch, intf *fwd.Interface, p *packet.Packet) {
	ip := &p.NextHop6
	var pe, free *pending6
	for i := range n.nd.pend {
		if n.nd.pend[i].ip == *ip {
			pe = &n.nd.pend[i]
			break
		}
		if free == nil && n.nd.pend[i].ip == ([16]byte{}) {
			free = &n.nd.pend[i]
		}
	}
	if pe == nil {
		if free == nil {
			d.Drop(p, n.nd.c.pendFull)
			return
		}
		pe = free
		*pe = pending6{ip: *ip, first: n.now, asked: n.now - ARPInterval}
		n.nd.npend++
		n.report(msg.Up{Kind: msg.UpResolving, Is6: true, IP6: *ip})
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
		n.solicit(d, intf, &pe.ip, nil)
	}
	d.WakeIn(ARPInterval)
}

// service6 sends held packets whose next hop got resolved, re-solicits, and
// gives up on next hops that never answered.
func (n *Node) service6(d *graph.Dispatch, intf *fwd.Interface) {
	resolved := n.nd.resolved
	n.nd.resolved = false
	for i := range n.nd.pend {
		pe := &n.nd.pend[i]
		if pe.ip == ([16]byte{}) {
			continue
		}
		if resolved {
			if e := n.nd.neighs.get(&pe.ip); e != nil {
				for j := 0; j < pe.n; j++ {
					n.c.flushed.Inc()
					n.send(d, intf, pe.held[j], e.mac, hdr.EtherTypeIPv6)
				}
				*pe = pending6{}
				n.nd.npend--
				continue
			}
		}
		if n.now-pe.first >= ResolveTimeout {
			n.log.Log(n.nd.logGone, lo64(&pe.ip), hi64(&pe.ip), uint64(n.ifindex), uint64(pe.n))
			n.report(msg.Up{Kind: msg.UpFailed, Is6: true, IP6: pe.ip})
			for j := 0; j < pe.n; j++ {
				d.Drop(pe.held[j], n.nd.c.timeout)
			}
			*pe = pending6{}
			n.nd.npend--
			continue
		}
		if n.now-pe.asked >= ARPInterval {
			pe.asked = n.now
			n.solicit(d, intf, &pe.ip, nil)
		}
		d.WakeIn(ARPInterval)
	}
}

// solicit sends a neighbour solicitation for target: to its solicited-node
// group, or by unicast to mac when we know it (refresh). The source is our
// address on target's prefix, else our link-local address; our MAC goes in
// the source link-layer address option.
func (n *Node) solicit(d *graph.Dispatch, intf *fwd.Interface, target *[16]byte, mac *[6]byte) {
	p := d.Pool().Get()
	if p == nil {
		return // counted by the pool
	}
	p.Resize(nsFrameLen)
	b := p.Data()
	var dst [16]byte
	var dstMAC [6]byte
	if mac == nil {
		dst = hdr.SolicitedNode(target[:])
		dstMAC = hdr.MulticastMAC(dst[:])
	} else {
		dst, dstMAC = *target, *mac
	}
	src := intf.SrcFor6(*target)
	eth := hdr.Ether(b)
	eth.SetDst(dstMAC)
	eth.SetSrc(intf.MAC)
	eth.SetType(hdr.EtherTypeIPv6)
	hdr.PutIPv6(b[hdr.EtherLen:], 0, nsLen, hdr.ProtoICMPv6, 255, &src, &dst)
	m := b[hdr.EtherLen+hdr.IPv6Len:]
	m[0], m[1], m[2], m[3] = hdr.ICMPv6NeighSolicit, 0, 0, 0
	m[4], m[5], m[6], m[7] = 0, 0, 0, 0
	copy(m[8:24], target[:])
	m[24], m[25] = 1, 1 // source link-layer address, 8 bytes
	copy(m[26:32], intf.MAC[:])
	c := hdr.ICMPv6Checksum(src[:], dst[:], m)
	m[2], m[3] = byte(c>>8), byte(c)
	p.L2 = p.Head()
	n.nd.c.nsSent.Inc()
	n.log.Log(n.nd.logReq, lo64(target), hi64(target), uint64(n.ifindex), 0)
	d.Push(nextIf, p)
}

// removed6 frees held IPv6 packets.
func (n *Node) removed6(pool *packet.Pool) {
	for i := range n.nd.pend {
		for j := 0; j < n.nd.pend[i].n; j++ {
			pool.Free(n.nd.pend[i].held[j])
		}
		n.nd.pend[i] = pending6{}
	}
	n.nd.npend = 0
}

func hi64(a *[16]byte) uint64 {
	return uint64(a[0])<<56 | uint64(a[1])<<48 | uint64(a[2])<<40 | uint64(a[3])<<32 |
		uint64(a[4])<<24 | uint64(a[5])<<16 | uint64(a[6])<<8 | uint64(a[7])
}

func lo64(a *[16]byte) uint64 {
	return uint64(a[8])<<56 | uint64(a[9])<<48 | uint64(a[10])<<40 | uint64(a[11])<<32 |
		uint64(a[12])<<24 | uint64(a[13])<<16 | uint64(a[14])<<8 | uint64(a[15])
}
