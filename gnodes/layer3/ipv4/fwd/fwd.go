// Package ipv4fwd is IPv4Fwd, the IPv4 forwarding node.
//
// For a vector of packets it first collects the destinations and looks them
// all up in one batch (the route table overlaps the cache misses of a
// batch), then for each packet: filters martian addresses (RFC 1812 5.3.7),
// delivers packets for the router to IPv4Local, decrements the TTL with an
// incremental checksum update, checks the output MTU (of each segment, for
// a GSO super-frame), and stores the output
// interface and next hop in the packet for EncapMux and EtherEncap.
//
// Errors that deserve an ICMP answer (no route, TTL expired, fragmentation
// needed) are counted here and passed to IPv4Local marked with the ICMP type
// and code; IPv4Local decides whether an error may be sent (never about an
// ICMP error, a non-first fragment or a broadcast) and rate-limits them.
//
// The route table and interface snapshot are immutable and swapped whole by
// control messages between graph runs, so a lookup never takes a lock and
// never sees a half-applied change.
package ipv4fwd

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

const (
	nextDrop = iota // graph.Drop
	nextEncapMux
	nextLocal
	nextFrag
	nextGSO
	numNext
)

// Node is IPv4Fwd.
type Node struct {
	table *fwd.IPv4Table  // swapped by msg.IPv4Table
	intfs *fwd.Interfaces // swapped by msg.Interfaces

	// Per clone, reused to avoid allocations.
	pkts [graph.VecSize]*packet.Packet
	dsts [graph.VecSize]uint32
	adjs [graph.VecSize]uint32
	// fwdPkts and fwdBytes accumulate the forwarded counter over a batch.
	fwdPkts, fwdBytes int
	c                 cntrs
	log               *logs.Logger
	// Log formats.
	logNoRoute, logTTL logs.Format
}

type cntrs struct {
	fwded                             counters.PktByte
	noRoute, ttlExpired, fragNeeded   counters.Counter
	toFrag, noIntf, intfDown, toGSO   counters.Counter
	behindGSO                         counters.Counter
	martianSrc, martianDst, multicast counters.Counter
	broadcast, local, l2Broadcast     counters.Counter
}

// New makes IPv4Fwd using table and intfs until told otherwise.
func New(table *fwd.IPv4Table, intfs *fwd.Interfaces) *Node {
	return &Node{table: table, intfs: intfs}
}

// Name implements graph.Node.
func (n *Node) Name() string { return names.IPv4Fwd }

// NextNames implements graph.Node.
func (n *Node) NextNames() []string {
	return []string{nextDrop: names.Drop, nextEncapMux: names.EncapMux, nextLocal: names.IPv4Local, nextFrag: names.IPv4Frag, nextGSO: names.GSO}
}

// Clone implements graph.Node.
func (n *Node) Clone(c *graph.CloneCtx) graph.Node {
	name := names.IPv4Fwd
	return &Node{table: n.table, intfs: n.intfs, log: c.Logger(),
		logNoRoute: c.LogFormat("IPv4Fwd: no route to %ip from %ip (in ifindex %d)"),
		logTTL:     c.LogFormat("IPv4Fwd: ttl expired: %ip -> %ip (in ifindex %d)"),
		c: cntrs{
			fwded:       c.PktByte(name, "forwarded"),
			noRoute:     c.Counter(name, "no_route"),
			ttlExpired:  c.Counter(name, "ttl_expired"),
			fragNeeded:  c.Counter(name, "frag_needed"),
			toFrag:      c.Counter(name, "to_fragment"),
			toGSO:       c.Counter(name, "to_gso"),
			behindGSO:   c.Counter(name, "behind_gso"),
			noIntf:      c.Counter(name, "no_intf"),
			intfDown:    c.Counter(name, "intf_down"),
			martianSrc:  c.Counter(name, "martian_src"),
			martianDst:  c.Counter(name, "martian_dst"),
			multicast:   c.Counter(name, "multicast"),
			broadcast:   c.Counter(name, "broadcast"),
			local:       c.Counter(name, "local"),
			l2Broadcast: c.Counter(name, "l2_broadcast"),
		}}
}

// Control implements graph.Node.
func (n *Node) Control(m msg.Msg) {
	switch m := m.(type) {
	case msg.IPv4Table:
		n.table = m.Table
	case msg.Interfaces:
		n.intfs = m.Snapshot
	}
}

// Interfaces is the interface snapshot the node forwards with: only from
// the node's own thread (engine.OnThread), to see what it has applied.
func (n *Node) Interfaces() *fwd.Interfaces { return n.intfs }

// Dispatch implements graph.Node.
func (n *Node) Dispatch(d *graph.Dispatch) {
	t := n.table
	for {
		k := 0
		for k < len(n.pkts) {
			p := d.Pop()
			if p == nil {
				break
			}
			n.pkts[k] = p
			n.dsts[k] = hdr.IPv4(p.Data()).Dst()
			k++
		}
		if k == 0 {
			return
		}
		t.LookupBatch(n.dsts[:k], n.adjs[:k])
		for i := 0; i < k; i++ {
			n.forward(d, t, n.pkts[i], n.dsts[i], n.adjs[i])
			n.pkts[i] = nil
		}
		// Counted once per batch: the counters live in shared memory.
		n.c.fwded.AddN(n.fwdPkts, n.fwdBytes)
		n.fwdPkts, n.fwdBytes = 0, 0
	}
}

// member picks the path of multipath group g for packet ip, and returns it
// with its output interface: by the flow hash, or, if that member's
// interface is down or its next hop failed (fwd.Interface.Usable), the
// next member that is usable.
func (n *Node) member(g *fwd.Group, ip hdr.IPv4) (*fwd.Adjacency, *fwd.Interface) {
	var ports uint32
	proto := ip.Protocol()
	if !ip.IsFragment() && (proto == hdr.ProtoTCP || proto == hdr.ProtoUDP || proto == protoSCTP) {
		if l4 := ip.HeaderLen(); len(ip) >= l4+4 {
			ports = uint32(ip[l4])<<24 | uint32(ip[l4+1])<<16 | uint32(ip[l4+2])<<8 | uint32(ip[l4+3])
		}
	}
	i := g.Member(fwd.FlowHash4(ip.Src(), ip.Dst(), proto, ports))
	m := g.At(i)
	out := n.intfs.Get(m.Ifindex)
	if out != nil && out.Usable(m.NextHop) {
		return m, out
	}
	if a, o, ok := g.Failover(i, n.intfs); ok {
		return a, o
	}
	return m, out
}

// protoSCTP has ports where TCP and UDP have them.
const protoSCTP = 132

func (n *Node) forward(d *graph.Dispatch, t *fwd.IPv4Table, p *packet.Packet, dst, ai uint32) {
	ip := hdr.IPv4(p.Data())
	origin := p.Meta&packet.MetaLocalOrigin != 0
	if !origin {
		src := ip.Src()
		// Martians (RFC 1812 5.3.7): this network, loopback, multicast or
		// class E sources, and this-network or loopback destinations.
		if s := src >> 24; s == 0 || s == 127 || s >= 224 {
			d.Drop(p, n.c.martianSrc)
			return
		}
		if x := dst >> 24; x == 0 || x == 127 {
			d.Drop(p, n.c.martianDst)
			return
		}
	}
	if dst >= 0xe0000000 {
		if dst == 0xffffffff {
			// Limited broadcast is never forwarded (RFC 1812 5.3.5.1).
			d.Drop(p, n.c.broadcast)
		} else {
			d.Drop(p, n.c.multicast) // no multicast routing
		}
		return
	}
	a := t.Adj(ai)
	if p.Meta&packet.MetaL2Broadcast != 0 && a.Kind != fwd.AdjLocal {
		// Unicast IP in a link-layer broadcast is never forwarded
		// (RFC 1812 5.3.4), nor answered with an error.
		d.Drop(p, n.c.l2Broadcast)
		return
	}
	switch a.Kind {
	case fwd.AdjLocal:
		if origin {
			d.Drop(p, n.c.local) // the router talking to itself
			return
		}
		d.Push(nextLocal, p)
		return
	case fwd.AdjDrop:
		n.c.noRoute.Inc()
		n.log.Log(n.logNoRoute, uint64(dst), uint64(ip.Src()), uint64(p.InIfindex), 0)
		n.icmpError(d, p, origin, hdr.ICMPDestUnreach, hdr.ICMPNetUnreach, 0)
		return
	}
	if !origin && ip.TTL() <= 1 {
		n.c.ttlExpired.Inc()
		n.log.Log(n.logTTL, uint64(ip.Src()), uint64(dst), uint64(p.InIfindex), 0)
		n.icmpError(d, p, origin, hdr.ICMPTimeExceeded, hdr.ICMPTTLExceeded, 0)
		return
	}
	var out *fwd.Interface
	if a.Group != nil {
		a, out = n.member(a.Group, ip)
	} else {
		out = n.intfs.Get(a.Ifindex)
	}
	if out == nil {
		d.Drop(p, n.c.noIntf)
		return
	}
	if !out.Up {
		d.Drop(p, n.c.intfDown)
		return
	}
	// A super-frame leaves as segments: the MTU applies to them (the
	// kernel's skb_gso_validate_network_len).
	l3len := ip.TotalLen()
	if p.GSO.Size != 0 {
		l3len = p.GSOSegLen()
	}
	tooBig := l3len > out.MTU
	if tooBig && ip.FlagsFrag()&hdr.IPv4FlagDF != 0 {
		n.c.fragNeeded.Inc()
		n.icmpError(d, p, origin, hdr.ICMPDestUnreach, hdr.ICMPFragNeeded, uint32(out.MTU))
		return
	}
	if !origin {
		ip.DecTTL()
	}
	p.OutIfindex = a.Ifindex
	if a.Kind == fwd.AdjGateway {
		p.NextHop = a.NextHop
	} else {
		p.NextHop = dst
	}
	n.fwdPkts++
	n.fwdBytes += p.Len()
	if p.GSO.Flags&packet.GSONeedsCsum != 0 && (tooBig || !out.Offload) {
		// A super-frame or an unfinished checksum the output cannot
		// take: GSO segments and checksums it in software first.
		n.c.toGSO.Inc()
		d.Push(nextGSO, p)
		return
	}
	if !out.Offload && d.Queued(nextGSO) > 0 {
		// Behind what waits in GSO: GSO's segments reach EncapMux after
		// what goes there straight, so a flow's next packet must not.
		n.c.behindGSO.Inc()
		d.Push(nextGSO, p)
		return
	}
	if tooBig {
		n.c.toFrag.Inc()
		d.Push(nextFrag, p) // DF clear: IPv4Frag splits it
		return
	}
	d.Push(nextEncapMux, p)
}

// icmpError passes p to IPv4Local to be answered with an ICMP error (the
// counter of the reason was already bumped). info is the next-hop MTU for
// fragmentation needed.
func (n *Node) icmpError(d *graph.Dispatch, p *packet.Packet, origin bool, typ, code uint8, info uint32) {
	if origin {
		d.Free(p) // never answer our own packets
		return
	}
	p.Meta = packet.MetaICMPError | uint32(typ)<<8 | uint32(code)
	p.NextHop = info
	d.Push(nextLocal, p)
}

var _ graph.Node = (*Node)(nil)

// Rank implements graph.Ranker.
func (n *Node) Rank() int { return graph.RankL3Fwd }
