package local

import (
	"encoding/binary"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

// Error rate limit.
const (
	ErrorRate  = 1000 // tokens per second
	ErrorBurst = 100
)

// errHdrLen is the IPv6 and ICMPv6 headers in front of the quote of an
// error; maxQuote keeps the whole error within the minimum MTU.
const (
	errHdrLen = hdr.IPv6Len + 8
	maxQuote  = hdr.ICMPv6MaxError - errHdrLen
	// maxExtHeaders bounds the extension headers followed to find the
	// upper-layer protocol (as IPv6Fwd's walk).
	maxExtHeaders = 8
)

const (
	nextDrop = iota // graph.Drop
	nextIPv6
	numNext
)

var be = binary.BigEndian

// Node is IPv6Local. A clone is owned by one forwarding thread and is not
// safe for concurrent use.
type Node struct {
	intfs *fwd.Interfaces // swapped by msg.Interfaces

	// Per clone: the error token bucket.
	tokens int64 // in units of 1/ErrorRate s, i.e. ms at 1000/s
	last   int64
	c      cntrs
}

type cntrs struct {
	echo, errors, limited, suppressed, noSrc, noBuf   counters.Counter
	badHeader, badExtHdr, badSrc, badICMP, fragment   counters.Counter
	notOurs, tcp, udp, otherProto, otherICMP, ndUnexp counters.Counter
	hostOwned                                         counters.Counter // for a host-owned interface: the kernel answers
}

// New makes IPv6Local.
func New(intfs *fwd.Interfaces) *Node { return &Node{intfs: intfs} }

// Name implements graph.Node.
func (n *Node) Name() string { return names.IPv6Local }

// NextNames implements graph.Node.
func (n *Node) NextNames() []string {
	return []string{nextDrop: names.Drop, nextIPv6: names.IPv6Fwd}
}

// Clone implements graph.Node.
func (n *Node) Clone(c *graph.CloneCtx) graph.Node {
	cnt := func(s string) counters.Counter { return c.Counter(names.IPv6Local, s) }
	return &Node{intfs: n.intfs, tokens: ErrorBurst, c: cntrs{
		echo: cnt("echo_replies"), errors: cnt("icmp_errors_sent"), limited: cnt("icmp_rate_limited"),
		suppressed: cnt("icmp_error_suppressed"), noSrc: cnt("no_src_addr"), noBuf: cnt("no_buf"),
		badHeader: cnt("bad_header"), badExtHdr: cnt("bad_ext_hdr"), badSrc: cnt("bad_src"),
		badICMP: cnt("bad_icmp"), fragment: cnt("fragment"), notOurs: cnt("not_our_addr"),
		tcp: cnt("tcp"), udp: cnt("udp"), otherProto: cnt("other_proto"), otherICMP: cnt("other_icmp"),
		ndUnexp: cnt("nd_unexpected"), hostOwned: cnt("host_owned"),
	}}
}

// Control implements graph.Node.
func (n *Node) Control(m msg.Msg) {
	if m, ok := m.(msg.Interfaces); ok {
		n.intfs = m.Snapshot
	}
}

// Dispatch implements graph.Node.
func (n *Node) Dispatch(d *graph.Dispatch) {
	n.refill(d.Now())
	for p := d.Pop(); p != nil; p = d.Pop() {
		ip, ok := header(p)
		if !ok {
			d.Drop(p, n.c.badHeader)
			continue
		}
		if p.Meta&packet.MetaICMPError != 0 {
			n.icmpError(d, p, ip)
			continue
		}
		n.deliver(d, p, ip)
	}
}

// header checks p's IPv6 header (IPv6Fwd did; this node must not trust
// that) and trims link-layer padding.
func header(p *packet.Packet) (hdr.IPv6, bool) {
	data := p.Data()
	if len(data) < hdr.IPv6Len || data[0]>>4 != 6 {
		return nil, false
	}
	l := hdr.IPv6Len + hdr.IPv6(data).PayloadLen()
	if l > len(data) {
		return nil, false
	}
	p.Trim(l)
	return hdr.IPv6(data[:l]), true
}

// deliver handles a packet addressed to the router.
func (n *Node) deliver(d *graph.Dispatch, p *packet.Packet, ip hdr.IPv6) {
	dst := [16]byte(ip.Dst())
	mcast := hdr.IsIPv6Multicast(dst[:])
	if !n.forUs(p.InIfindex, dst, mcast) {
		d.Drop(p, n.c.notOurs)
		return
	}
	if in := n.intfs.Get(p.InIfindex); in != nil && in.HostOwned {
		d.Drop(p, n.c.hostOwned) // the kernel got a copy of the frame and answers
		return
	}
	c, ok := hdr.WalkIPv6(ip, maxExtHeaders)
	switch {
	case !ok:
		d.Drop(p, n.c.badExtHdr)
		return
	case c.Frag:
		d.Drop(p, n.c.fragment) // no reassembly in a forwarding plane
		return
	case !c.Upper:
		d.Drop(p, n.c.otherProto) // a chain longer than we follow
		return
	}
	switch c.Proto {
	case hdr.ProtoICMPv6:
	case hdr.ProtoTCP:
		d.Drop(p, n.c.tcp)
		return
	case hdr.ProtoUDP:
		d.Drop(p, n.c.udp)
		return
	default:
		d.Drop(p, n.c.otherProto)
		return
	}
	icmp := ip[c.Off:]
	if len(icmp) < 4 || hdr.Checksum(icmp, hdr.PseudoSum6(ip.Src(), ip.Dst(), len(icmp), hdr.ProtoICMPv6)) != 0 {
		d.Drop(p, n.c.badICMP)
		return
	}
	switch typ := icmp[0]; {
	case typ == hdr.ICMPv6EchoRequest && icmp[1] == 0 && len(icmp) >= 8:
	case typ == hdr.ICMPv6EchoRequest:
		d.Drop(p, n.c.badICMP)
		return
	case typ >= hdr.ICMPv6RouterSolicit && typ <= hdr.ICMPv6Redirect:
		d.Drop(p, n.c.ndUnexp)
		return
	default:
		d.Drop(p, n.c.otherICMP)
		return
	}
	req := [16]byte(ip.Src())
	if badSource(req[:]) {
		d.Drop(p, n.c.badSrc)
		return
	}
	src := dst // the address that was pinged
	if mcast {
		if src, ok = n.srcFor(p.InIfindex, req); !ok {
			d.Drop(p, n.c.noSrc)
			return
		}
	}
	// The reply keeps the request's identifier, sequence and data;
	// extension headers are not echoed.
	data := []byte(ip)
	if c.Off > hdr.IPv6Len {
		copy(data[hdr.IPv6Len:], icmp)
		data = data[:hdr.IPv6Len+len(icmp)]
		p.Trim(len(data))
		icmp = data[hdr.IPv6Len:]
	}
	icmp[0] = hdr.ICMPv6EchoReply
	icmp[2], icmp[3] = 0, 0
	be.PutUint16(icmp[2:], hdr.ICMPv6Checksum(src[:], req[:], icmp))
	hdr.PutIPv6(data, ip.TrafficClass(), len(icmp), hdr.ProtoICMPv6, hdr.DefaultHopLimit, &src, &req)
	p.Meta = packet.MetaLocalOrigin | packet.MetaIPv6
	p.GSO = packet.GSO{} // a reply or error, no longer the super-frame it was
	p.NextHop = 0
	n.c.echo.Inc()
	d.Push(nextIPv6, p)
}

// icmpError turns p into the ICMPv6 error IPv6Fwd asked for.
func (n *Node) icmpError(d *graph.Dispatch, p *packet.Packet, ip hdr.IPv6) {
	typ, code := uint8(p.Meta>>8), uint8(p.Meta)
	if !n.eligible(p, ip, typ, code) {
		d.Drop(p, n.c.suppressed)
		return
	}
	if n.tokens <= 0 {
		d.Drop(p, n.c.limited)
		return
	}
	orig := [16]byte(ip.Src())
	src, ok := n.srcFor(p.InIfindex, orig)
	if !ok {
		d.Drop(p, n.c.noSrc)
		return
	}
	var info uint32
	if typ == hdr.ICMPv6PacketTooBig || typ == hdr.ICMPv6ParamProblem {
		info = p.NextHop // the MTU or the pointer
	}
	quote := min(len(ip), maxQuote)
	if p.Push(errHdrLen) != nil {
		p.Trim(errHdrLen + quote)
	} else {
		// Not enough headroom in front of the packet: copy the quote
		// into a new one.
		q := d.Pool().Get()
		if q == nil {
			d.Drop(p, n.c.noBuf)
			return
		}
		q.SetLen(errHdrLen + quote)
		copy(q.Data()[errHdrLen:], ip[:quote])
		q.InIfindex = p.InIfindex
		d.Free(p)
		p = q
	}
	out := p.Data()
	icmp := out[hdr.IPv6Len:]
	icmp[0], icmp[1] = typ, code
	icmp[2], icmp[3] = 0, 0
	be.PutUint32(icmp[4:], info)
	be.PutUint16(icmp[2:], hdr.ICMPv6Checksum(src[:], orig[:], icmp))
	hdr.PutIPv6(out, 0, len(icmp), hdr.ProtoICMPv6, hdr.DefaultHopLimit, &src, &orig)
	p.L3 = p.Head()
	p.Meta = packet.MetaLocalOrigin | packet.MetaIPv6
	p.GSO = packet.GSO{} // a reply or error, no longer the super-frame it was
	p.NextHop = 0
	n.tokens--
	n.c.errors.Inc()
	d.Push(nextIPv6, p)
}

// eligible applies RFC 4443 2.4 (e): no error about an ICMPv6 error, about
// a packet whose source does not identify one node, or about a packet sent
// to a multicast address or a link-layer broadcast (except Packet Too Big
// and Parameter Problem code 2, which multicast senders need).
func (n *Node) eligible(p *packet.Packet, ip hdr.IPv6, typ, code uint8) bool {
	if badSource(ip.Src()) {
		return false
	}
	if p.Meta&packet.MetaL2Broadcast != 0 || hdr.IsIPv6Multicast(ip.Dst()) {
		if typ != hdr.ICMPv6PacketTooBig && (typ != hdr.ICMPv6ParamProblem || code != hdr.ICMPv6UnknownOption) {
			return false
		}
	}
	c, ok := hdr.WalkIPv6(ip, maxExtHeaders)
	if !ok {
		return false // cannot tell what it carries: keep quiet
	}
	if c.Upper && c.Proto == hdr.ProtoICMPv6 {
		// An error about a truncated ICMPv6 message could be about an error.
		return c.Off < len(ip) && ip[c.Off] >= hdr.ICMPv6EchoRequest
	}
	return true
}

// badSource reports whether a cannot be answered: unspecified, loopback,
// multicast or IPv4-mapped.
func badSource(a []byte) bool {
	hi, lo := be.Uint64(a), be.Uint64(a[8:])
	return hi == 0 && (lo <= 1 || lo>>32 == 0xffff) || a[0] == 0xff
}

// forUs reports whether dst is the router's: one of its addresses, or for a
// multicast destination all-nodes, all-routers or a solicited-node address
// of the input interface.
func (n *Node) forUs(ifindex int32, dst [16]byte, mcast bool) bool {
	if mcast {
		in := n.intfs.Get(ifindex)
		if in == nil {
			return false
		}
		if dst == allNodes || dst == allRouters {
			return true
		}
		return in.HasSolicitedNode6(dst)
	}
	for _, i := range n.intfs.All() {
		if i.HasAddr6(dst) {
			return true
		}
	}
	return false
}

var (
	allNodes   = [16]byte{0xff, 0x02, 15: 1}
	allRouters = [16]byte{0xff, 0x02, 15: 2}
)

// srcFor picks the source of a message to peer about a packet that came in
// on ifindex. A link-local peer is answered from the input interface's
// link-local address (every interface has one: the configured one or the
// EUI-64 one of its MAC). Any other peer gets a global address: the input
// interface's (on peer's prefix if it has one there), else one of the
// router's on peer's prefix, else any; with none, there is no source (a
// link-local source would not reach an off-link peer).
func (n *Node) srcFor(ifindex int32, peer [16]byte) ([16]byte, bool) {
	in := n.intfs.Get(ifindex)
	if hdr.IsIPv6LinkLocal(peer[:]) {
		if in == nil {
			return [16]byte{}, false
		}
		return in.LinkLocal(), true
	}
	if in != nil {
		if g, ok := in.Global6(peer); ok {
			return g, true
		}
	}
	// The address on peer's prefix if there is one, else the first.
	for _, i := range n.intfs.All() {
		if i.OnLink6(peer) {
			if g, ok := i.Global6(peer); ok {
				return g, true
			}
		}
	}
	for _, i := range n.intfs.All() {
		if g, ok := i.Global6(peer); ok {
			return g, true
		}
	}
	return [16]byte{}, false
}

// refill adds tokens for the time since the last Dispatch.
func (n *Node) refill(now int64) {
	if n.last == 0 {
		n.last = now
		return
	}
	add := (now - n.last) * ErrorRate / 1e9
	if add > 0 {
		n.tokens += add
		if n.tokens > ErrorBurst {
			n.tokens = ErrorBurst
		}
		n.last += add * 1e9 / ErrorRate
	}
}

var _ graph.Node = (*Node)(nil)

// Rank implements graph.Ranker.
func (n *Node) Rank() int { return graph.RankL3Local }
