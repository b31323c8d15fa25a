package ipv6fwd

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
	nextGSO
	numNext
)

// MaxExtHeaders bounds the extension headers followed looking for a type 0
// routing header: real chains have one to three (RFC 7045, RFC 8504 5.3
// lets a node limit them), and eight keeps a hostile chain's cost bounded.
// A longer chain is forwarded without looking further.
const MaxExtHeaders = 8

// Address tests on the two 64-bit halves of an IPv6 address.
const (
	llHi     = 0xfe80 >> 6 // fe80::/10: the top 10 bits
	mcastTop = 0xff
)

func isMulticast(hi uint64) bool             { return hi>>56 == mcastTop }
func isLinkLocal(hi uint64) bool             { return hi>>54 == llHi }
func isUnspecOrLoop(hi, lo uint64) bool      { return hi == 0 && lo <= 1 }
func isV4Mapped(hi, lo uint64) bool          { return hi == 0 && lo>>32 == 0xffff }
func isAllNodesOrRouters(hi, lo uint64) bool { return hi == 0xff02<<48 && (lo == 1 || lo == 2) }

// Node is IPv6Fwd. A clone is owned by one forwarding thread and is not safe
// for concurrent use.
type Node struct {
	table *fwd.IPv6Table  // swapped by msg.IPv6Table
	intfs *fwd.Interfaces // swapped by msg.Interfaces

	// Per clone, reused to avoid allocations.
	pkts   [graph.VecSize]*packet.Packet
	hi, lo [graph.VecSize]uint64
	adjs   [graph.VecSize]uint32
	// fwdPkts and fwdBytes accumulate the forwarded counter over a batch.
	fwdPkts, fwdBytes int
	c                 cntrs
	log               *logs.Logger
	// Log formats.
	logNoRoute, logHopLimit logs.Format
}

type cntrs struct {
	fwded                             counters.PktByte
	badHeader, martianSrc, martianDst counters.Counter
	badExtHdr, rh0, unknownOption     counters.Counter
	multicast, linkLocal, l2Broadcast counters.Counter
	noRoute, hopLimit, tooBig, local  counters.Counter
	noIntf, intfDown, toGSO           counters.Counter
}

// New makes IPv6Fwd using table (not nil: an empty RIB's Active table) and
// intfs until told otherwise.
func New(table *fwd.IPv6Table, intfs *fwd.Interfaces) *Node {
	return &Node{table: table, intfs: intfs}
}

// Name implements graph.Node.
func (n *Node) Name() string { return names.IPv6Fwd }

// NextNames implements graph.Node.
func (n *Node) NextNames() []string {
	return []string{nextDrop: names.Drop, nextEncapMux: names.EncapMux, nextLocal: names.IPv6Local, nextGSO: names.GSO}
}

// Clone implements graph.Node.
func (n *Node) Clone(c *graph.CloneCtx) graph.Node {
	cnt := func(s string) counters.Counter { return c.Counter(names.IPv6Fwd, s) }
	return &Node{table: n.table, intfs: n.intfs, log: c.Logger(),
		logNoRoute:  c.LogFormat("IPv6Fwd: no route to %ip6 (in ifindex %d)"),
		logHopLimit: c.LogFormat("IPv6Fwd: hop limit exceeded to %ip6 (in ifindex %d)"),
		c: cntrs{
			fwded:         c.PktByte(names.IPv6Fwd, "forwarded"),
			badHeader:     cnt("bad_header"),
			martianSrc:    cnt("martian_src"),
			martianDst:    cnt("martian_dst"),
			badExtHdr:     cnt("bad_ext_hdr"),
			rh0:           cnt("rh0"),
			unknownOption: cnt("unknown_option"),
			multicast:     cnt("multicast"),
			linkLocal:     cnt("link_local"),
			l2Broadcast:   cnt("l2_broadcast"),
			noRoute:       cnt("no_route"),
			hopLimit:      cnt("hop_limit_exceeded"),
			tooBig:        cnt("too_big"),
			local:         cnt("local"),
			noIntf:        cnt("no_intf"),
			intfDown:      cnt("intf_down"),
			toGSO:         cnt("to_gso"),
		}}
}

// Control implements graph.Node.
func (n *Node) Control(m msg.Msg) {
	switch m := m.(type) {
	case msg.IPv6Table:
		n.table = m.Table
	case msg.Interfaces:
		n.intfs = m.Snapshot
	}
}

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
			if data := p.Data(); len(data) >= hdr.IPv6Len {
				n.hi[k], n.lo[k] = hdr.IPv6(data).DstHiLo()
			} else {
				n.hi[k], n.lo[k] = 0, 0 // dropped as bad_header
			}
			k++
		}
		if k == 0 {
			return
		}
		t.LookupBatch(n.hi[:k], n.lo[:k], n.adjs[:k])
		for i := 0; i < k; i++ {
			n.forward(d, t, n.pkts[i], n.hi[i], n.lo[i], n.adjs[i])
			n.pkts[i] = nil
		}
		// Counted once per batch: the counters live in shared memory.
		n.c.fwded.AddN(n.fwdPkts, n.fwdBytes)
		n.fwdPkts, n.fwdBytes = 0, 0
	}
}

// member picks the path of multipath group g for packet ip, and returns it
// with its output interface: by the flow hash of the addresses, the next
// header and the ports of TCP, UDP and SCTP right after the fixed header
// (a flow with extension headers hashes on addresses and next header
// alone, which keeps it on one path too), or, if that member's interface is
// down or its next hop failed (fwd.Interface.Usable6), the next member
// that is usable.
func (n *Node) member(g *fwd.Group6, ip hdr.IPv6) (*fwd.Adjacency6, *fwd.Interface) {
	var ports uint32
	nh := ip[6]
	if (nh == hdr.ProtoTCP || nh == hdr.ProtoUDP || nh == 132) && len(ip) >= hdr.IPv6Len+4 {
		l4 := ip[hdr.IPv6Len:]
		ports = uint32(l4[0])<<24 | uint32(l4[1])<<16 | uint32(l4[2])<<8 | uint32(l4[3])
	}
	i := g.Member(fwd.FlowHash6((*[16]byte)(ip[8:24]), (*[16]byte)(ip[24:40]), nh, ports))
	m := g.At(i)
	out := n.intfs.Get(m.Ifindex)
	if out != nil && out.Usable6(&m.NextHop) {
		return m, out
	}
	if a, o, ok := g.Failover(i, n.intfs); ok {
		return a, o
	}
	return m, out
}

func (n *Node) forward(d *graph.Dispatch, t *fwd.IPv6Table, p *packet.Packet, dhi, dlo uint64, ai uint32) {
	data := p.Data()
	if len(data) < hdr.IPv6Len || data[0]>>4 != 6 {
		d.Drop(p, n.c.badHeader)
		return
	}
	ip := hdr.IPv6(data)
	if l := hdr.IPv6Len + ip.PayloadLen(); l != len(data) {
		if l > len(data) {
			d.Drop(p, n.c.badHeader)
			return
		}
		p.Trim(l) // link-layer padding
		data = p.Data()
		ip = hdr.IPv6(data)
	}
	origin := p.Meta&packet.MetaLocalOrigin != 0
	shi, slo := ip.SrcHiLo()
	if !origin {
		// Martians (RFC 4291 2.5.2, 2.5.3, 2.5.5.2, 2.7).
		if isUnspecOrLoop(shi, slo) || isMulticast(shi) || isV4Mapped(shi, slo) {
			d.Drop(p, n.c.martianSrc)
			return
		}
		if isUnspecOrLoop(dhi, dlo) || isV4Mapped(dhi, dlo) {
			d.Drop(p, n.c.martianDst)
			return
		}
		if !n.extHeaders(d, p, ip, dhi) {
			return
		}
	}
	var a fwd.Adjacency6
	switch {
	case isMulticast(dhi):
		// No multicast routing: only what is addressed to the router
		// itself on this link is taken in.
		if !origin && n.multicastForUs(p.InIfindex, ip, dhi, dlo) {
			d.Push(nextLocal, p)
			return
		}
		d.Drop(p, n.c.multicast)
		return
	case isLinkLocal(dhi):
		if origin {
			// An answer to a link-local address goes back out of the
			// link the question came in on.
			a = fwd.Adjacency6{Kind: fwd.AdjConnected, Ifindex: p.InIfindex}
			break
		}
		if in := n.intfs.Get(p.InIfindex); in != nil && in.HasAddr6([16]byte(ip.Dst())) {
			d.Push(nextLocal, p)
			return
		}
		d.Drop(p, n.c.linkLocal)
		return
	default:
		a = t.Adj(ai)
		if a.Kind == fwd.AdjLocal {
			if origin {
				d.Drop(p, n.c.local) // the router talking to itself
				return
			}
			d.Push(nextLocal, p)
			return
		}
		if p.Meta&packet.MetaL2Broadcast != 0 {
			// Unicast IP in a link-layer broadcast is never forwarded
			// (as RFC 1812 5.3.4 says for IPv4), nor answered.
			d.Drop(p, n.c.l2Broadcast)
			return
		}
		if isLinkLocal(shi) && (a.Kind == fwd.AdjDrop || a.Ifindex != p.InIfindex) {
			// A link-local source never leaves its link (RFC 4291 2.5.6);
			// back out of the same link is still on-link. Our own
			// packets from a link-local address answer one that came in
			// on InIfindex, so the same holds for them.
			n.c.linkLocal.Inc()
			n.icmpError(d, p, origin, hdr.ICMPv6DestUnreach, hdr.ICMPv6BeyondScope, 0)
			return
		}
		if a.Kind == fwd.AdjDrop {
			n.c.noRoute.Inc()
			n.log.Log(n.logNoRoute, dhi, dlo, uint64(p.InIfindex), 0)
			n.icmpError(d, p, origin, hdr.ICMPv6DestUnreach, hdr.ICMPv6NoRoute, 0)
			return
		}
	}
	if !origin && ip.HopLimit() <= 1 {
		n.c.hopLimit.Inc()
		n.log.Log(n.logHopLimit, dhi, dlo, uint64(p.InIfindex), 0)
		n.icmpError(d, p, origin, hdr.ICMPv6TimeExceeded, hdr.ICMPv6HopLimitExceed, 0)
		return
	}
	var out *fwd.Interface
	if a.Group != nil {
		var m *fwd.Adjacency6
		m, out = n.member(a.Group, ip)
		a = *m
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
	l3len := len(data)
	if p.GSO.Size != 0 {
		// A super-frame leaves as segments: the MTU applies to
		// them (the kernel's skb_gso_validate_network_len).
		l3len = p.GSOSegLen()
	}
	if l3len > out.MTU {
		// Routers never fragment IPv6 (RFC 8200 5).
		n.c.tooBig.Inc()
		n.icmpError(d, p, origin, hdr.ICMPv6PacketTooBig, 0, uint32(out.MTU))
		return
	}
	if !origin {
		data[7]-- // the hop limit; IPv6 has no header checksum
	}
	p.OutIfindex = a.Ifindex
	if a.Kind == fwd.AdjGateway {
		p.NextHop6 = a.NextHop
	} else {
		p.NextHop6 = [16]byte(ip.Dst())
	}
	p.Meta |= packet.MetaIPv6
	n.fwdPkts++
	n.fwdBytes += len(data)
	if p.GSO.Flags&packet.GSONeedsCsum != 0 && !out.Offload {
		// A super-frame or an unfinished checksum the output cannot
		// take: GSO segments and checksums it in software first.
		n.c.toGSO.Inc()
		d.Push(nextGSO, p)
		return
	}
	d.Push(nextEncapMux, p)
}

// extHeaders follows the extension header chain of a packet from outside:
// it processes hop-by-hop options and drops malformed chains and type 0
// routing headers. It reports whether the packet goes on; if not, p was
// dropped or handed to IPv6Local for a Parameter Problem.
func (n *Node) extHeaders(d *graph.Dispatch, p *packet.Packet, ip hdr.IPv6, dhi uint64) bool {
	switch ip.NextHeader() {
	case hdr.ProtoHopByHop, hdr.ProtoIPv6Route, hdr.ProtoIPv6Frag, hdr.ProtoIPv6DstOpts, hdr.ProtoAH:
	default:
		return true // no extension header: the common case
	}
	c, ok := hdr.WalkIPv6(ip, MaxExtHeaders)
	if !ok {
		d.Drop(p, n.c.badExtHdr)
		return false
	}
	if c.HBHLen > 0 {
		res, off := hdr.IPv6Options(ip[hdr.IPv6Len : hdr.IPv6Len+c.HBHLen])
		switch res {
		case hdr.OptOK:
		case hdr.OptMalformed:
			d.Drop(p, n.c.badExtHdr)
			return false
		case hdr.OptDiscard:
			d.Drop(p, n.c.unknownOption)
			return false
		default:
			if res == hdr.OptParamProblemUnicast && isMulticast(dhi) {
				d.Drop(p, n.c.unknownOption)
				return false
			}
			n.c.unknownOption.Inc()
			n.icmpError(d, p, false, hdr.ICMPv6ParamProblem, hdr.ICMPv6UnknownOption, uint32(hdr.IPv6Len+off))
			return false
		}
	}
	if c.RH0 {
		d.Drop(p, n.c.rh0) // RFC 5095: deprecated, a traffic amplifier
		return false
	}
	return true
}

// multicastForUs reports whether the multicast destination dhi:dlo is one
// the router listens to on ifindex: all-nodes, all-routers, or the
// solicited-node address of one of the interface's addresses.
func (n *Node) multicastForUs(ifindex int32, ip hdr.IPv6, dhi, dlo uint64) bool {
	if isAllNodesOrRouters(dhi, dlo) {
		return n.intfs.Get(ifindex) != nil
	}
	in := n.intfs.Get(ifindex)
	return in != nil && in.HasSolicitedNode6([16]byte(ip.Dst()))
}

// icmpError passes p to IPv6Local to be answered with an ICMPv6 error (the
// counter of the reason was already bumped). info is the MTU for Packet Too
// Big, the pointer for Parameter Problem.
func (n *Node) icmpError(d *graph.Dispatch, p *packet.Packet, origin bool, typ, code uint8, info uint32) {
	if origin {
		d.Free(p) // never answer our own packets
		return
	}
	p.Meta = p.Meta&packet.MetaL2Broadcast | packet.MetaICMPError | packet.MetaIPv6 | uint32(typ)<<8 | uint32(code)
	p.NextHop = info
	d.Push(nextLocal, p)
}

var _ graph.Node = (*Node)(nil)

// Rank implements graph.Ranker.
func (n *Node) Rank() int { return graph.RankL3Fwd }
