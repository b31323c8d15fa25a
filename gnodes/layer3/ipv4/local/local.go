// Package local is IPv4Local: the router's own IPv4 endpoint.
//
// It answers ICMP echo requests sent to any of the router's addresses, and
// turns packets that IPv4Fwd marked with an ICMP error (no route, TTL
// expired, fragmentation needed) into that error, addressed to the original
// sender. Both are built in place in the original buffer and go back to
// IPv4Fwd marked as locally originated, so they are routed like any packet
// but never decrement a TTL or trigger another error.
//
// As RFC 1812 4.3.2.7 requires, no error is sent about an ICMP error, a
// non-first fragment, a packet to a multicast or the limited broadcast
// address, or a packet from a broadcast, multicast or zero address. Errors
// are rate-limited per thread by a token bucket (ErrorRate per second,
// bursts of ErrorBurst) like Linux's icmp_ratelimit, generous enough for
// traceroute's three probes per hop. Other traffic addressed to
// the router (TCP, UDP, ...) is counted and dropped: R2 is a forwarding
// plane, not a host.
package local

import (
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
	// maxErrorLen caps an ICMP error at the 576 bytes every host accepts
	// (RFC 1812 4.3.2.3).
	maxErrorLen = 576
)

const (
	nextDrop = iota // graph.Drop
	nextIPv4
	numNext
)

// Node is IPv4Local.
type Node struct {
	intfs *fwd.Interfaces

	// Per clone.
	tokens int64 // in units of 1/ErrorRate s, i.e. ms at 1000/s
	last   int64
	ipID   uint16
	c      cntrs
}

type cntrs struct {
	echo, errors, limited, notEligible, noSrc, badICMP         counters.Counter
	fragment, notOurs, tcp, udp, otherProto, otherICMP, tooBig counters.Counter
	hostOwned                                                  counters.Counter // for a host-owned interface: the kernel answers
}

// New makes IPv4Local.
func New(intfs *fwd.Interfaces) *Node { return &Node{intfs: intfs} }

// Name implements graph.Node.
func (n *Node) Name() string { return names.IPv4Local }

// NextNames implements graph.Node.
func (n *Node) NextNames() []string {
	return []string{nextDrop: names.Drop, nextIPv4: names.IPv4Fwd}
}

// Clone implements graph.Node.
func (n *Node) Clone(c *graph.CloneCtx) graph.Node {
	cnt := func(s string) counters.Counter { return c.Counter(names.IPv4Local, s) }
	return &Node{intfs: n.intfs, tokens: ErrorBurst, ipID: uint16(c.Thread) << 12, c: cntrs{
		echo: cnt("echo_replies"), errors: cnt("icmp_errors_sent"), limited: cnt("icmp_rate_limited"),
		notEligible: cnt("icmp_error_suppressed"), noSrc: cnt("no_src_addr"), badICMP: cnt("bad_icmp"),
		fragment: cnt("fragment"), notOurs: cnt("not_our_addr"), tcp: cnt("tcp"), udp: cnt("udp"),
		otherProto: cnt("other_proto"), otherICMP: cnt("other_icmp"), tooBig: cnt("echo_too_big"),
		hostOwned: cnt("host_owned"),
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
		if p.Meta&packet.MetaICMPError != 0 {
			n.icmpError(d, p)
			continue
		}
		n.deliver(d, p)
	}
}

// deliver handles a packet addressed to the router.
func (n *Node) deliver(d *graph.Dispatch, p *packet.Packet) {
	data := p.Data()
	ip := hdr.IPv4(data)
	if !n.isOurs(ip.Dst()) {
		// A subnet broadcast address, routed here so it is not forwarded
		// (RFC 2644).
		d.Drop(p, n.c.notOurs)
		return
	}
	if in := n.intfs.Get(p.InIfindex); in != nil && in.HostOwned {
		d.Drop(p, n.c.hostOwned) // the kernel got a copy of the frame and answers
		return
	}
	if ip.IsFragment() {
		d.Drop(p, n.c.fragment) // no reassembly in a forwarding plane
		return
	}
	switch ip.Protocol() {
	case hdr.ProtoICMP:
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
	ihl := ip.HeaderLen()
	icmp := data[ihl:]
	if len(icmp) < hdr.ICMPLen || hdr.Checksum(icmp, 0) != 0 {
		d.Drop(p, n.c.badICMP)
		return
	}
	if icmp[0] != hdr.ICMPEchoRequest || icmp[1] != 0 {
		d.Drop(p, n.c.otherICMP)
		return
	}
	// The reply keeps the request's identifier, sequence and data; options
	// are not echoed (the header is rewritten without them).
	if ihl > hdr.IPv4MinLen {
		copy(data[hdr.IPv4MinLen:], icmp)
		data = data[:len(data)-(ihl-hdr.IPv4MinLen)]
		p.Trim(len(data))
		icmp = data[hdr.IPv4MinLen:]
	}
	src, dst := ip.Src(), ip.Dst()
	icmp[0] = hdr.ICMPEchoReply
	icmp[2], icmp[3] = 0, 0
	c := hdr.Checksum(icmp, 0)
	icmp[2], icmp[3] = byte(c>>8), byte(c)
	n.ipID++
	hdr.PutIPv4(data, ip.TOS(), len(data), n.ipID, hdr.DefaultTTL, hdr.ProtoICMP, dst, src)
	p.Meta = packet.MetaLocalOrigin
	p.GSO = packet.GSO{} // a reply or error, no longer the super-frame it was
	n.c.echo.Inc()
	d.Push(nextIPv4, p)
}

// icmpError turns p into the ICMP error IPv4Fwd asked for.
func (n *Node) icmpError(d *graph.Dispatch, p *packet.Packet) {
	data := p.Data()
	ip := hdr.IPv4(data)
	if !n.eligible(p, ip) {
		d.Drop(p, n.c.notEligible)
		return
	}
	if n.tokens <= 0 {
		d.Drop(p, n.c.limited)
		return
	}
	orig := ip.Src()
	src, ok := n.srcFor(p.InIfindex, orig)
	if !ok {
		d.Drop(p, n.c.noSrc)
		return
	}
	typ, code := uint8(p.Meta>>8), uint8(p.Meta)
	info := p.NextHop
	// Quote as much of the original as fits in 576 bytes.
	quote := len(data)
	if quote > maxErrorLen-hdr.IPv4MinLen-hdr.ICMPLen {
		quote = maxErrorLen - hdr.IPv4MinLen - hdr.ICMPLen
	}
	head := p.Push(hdr.IPv4MinLen + hdr.ICMPLen)
	if head == nil {
		d.Drop(p, n.c.tooBig)
		return
	}
	total := hdr.IPv4MinLen + hdr.ICMPLen + quote
	p.Trim(total)
	out := p.Data()
	icmp := out[hdr.IPv4MinLen:]
	icmp[0], icmp[1] = typ, code
	icmp[2], icmp[3] = 0, 0
	// Bytes 4-7: unused, or the next-hop MTU for fragmentation needed
	// (RFC 1191).
	icmp[4], icmp[5] = 0, 0
	icmp[6], icmp[7] = byte(info>>8), byte(info)
	c := hdr.Checksum(icmp, 0)
	icmp[2], icmp[3] = byte(c>>8), byte(c)
	n.ipID++
	hdr.PutIPv4(out, 0xc0, total, n.ipID, hdr.DefaultTTL, hdr.ProtoICMP, src, orig)
	p.L3 = p.Head()
	p.Meta = packet.MetaLocalOrigin
	p.GSO = packet.GSO{} // a reply or error, no longer the super-frame it was
	p.NextHop = 0
	n.tokens--
	n.c.errors.Inc()
	d.Push(nextIPv4, p)
}

// eligible applies RFC 1812 4.3.2.7: no errors about errors, non-first
// fragments, packets to a multicast or the limited broadcast address, or
// packets whose source cannot be answered. IPv4Fwd drops packets to those
// destinations before asking for an error; the check here keeps the rule
// true whoever marks the packet.
func (n *Node) eligible(p *packet.Packet, ip hdr.IPv4) bool {
	if p.Meta&packet.MetaL2Broadcast != 0 || ip.FlagsFrag()&hdr.IPv4OffMask != 0 || ip.Dst() >= 0xe0000000 {
		return false
	}
	src := ip.Src()
	if src == 0 || src>>24 == 127 || src >= 0xe0000000 {
		return false
	}
	if ip.Protocol() == hdr.ProtoICMP {
		ihl := ip.HeaderLen()
		if len(ip) <= ihl {
			return false
		}
		switch ip[ihl] {
		case hdr.ICMPEchoRequest, hdr.ICMPEchoReply, 13, 14, 15, 16, 17, 18: // queries
		default:
			return false
		}
	}
	return true
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

func (n *Node) isOurs(ip uint32) bool {
	for _, i := range n.intfs.All() {
		if i.HasAddr(ip) {
			return true
		}
	}
	return false
}

// srcFor picks the source of an error about a packet that came in on
// ifindex from orig: the input interface's IPv4 address on orig's subnet,
// else its first IPv4 address, else any IPv4 address of the router.
// (Addrs holds IPv6 prefixes too; they are skipped.)
func (n *Node) srcFor(ifindex int32, orig uint32) (uint32, bool) {
	if in := n.intfs.Get(ifindex); in != nil {
		first, found := uint32(0), false
		for _, a := range in.Addrs {
			if !a.Addr().Is4() {
				continue
			}
			v := fwd.IPv4ToU32(a.Addr())
			if b := a.Bits(); b == 0 || (v^orig)>>(32-b) == 0 {
				return v, true
			}
			if !found {
				first, found = v, true
			}
		}
		if found {
			return first, true
		}
	}
	for _, i := range n.intfs.All() {
		for _, a := range i.Addrs {
			if a.Addr().Is4() {
				return fwd.IPv4ToU32(a.Addr()), true
			}
		}
	}
	return 0, false
}

var _ graph.Node = (*Node)(nil)

// Rank implements graph.Ranker.
func (n *Node) Rank() int { return graph.RankL3Local }
