package decap

// IPv6 neighbour discovery (RFC 4861) on the receive side: neighbour
// solicitations for our addresses are answered in place with an
// advertisement sent straight back to IfNode (as ARP requests are), and the
// link-layer addresses that solicitations and advertisements carry are
// reported to the control side (msg.UpMAC6), which relays them to every
// thread's EtherEncap. Other ND messages (router solicitations and
// advertisements, redirects) go on to L3Parse unchanged.
//
// Every NS or NA ends in exactly one of the counters nd_bad_hop_limit,
// nd_bad_checksum, nd_bad, nd_ns_not_for_us, nd_na_sent (the answer is the
// packet itself, pushed to IfNode), nd_na_received and nd_na_our_addr;
// nd_learned and uplink_full count reports on top.

import (
	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/logs"
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/packet"
)

// ND message layout: both NS and NA are 24 bytes (type, code, checksum,
// 4 bytes of flags or reserved, the target address) followed by options.
const (
	ndLen       = 24
	ndOptSLLA   = 1 // source link-layer address
	ndOptTLLA   = 2 // target link-layer address
	naFlagR     = 0x80
	naFlagS     = 0x40
	naFlagO     = 0x20
	naReplyLen  = ndLen + 8 // with our TLLA option
	naReplyHops = 255
	ndOff       = hdr.EtherLen + hdr.IPv6Len // ICMPv6 in the frame
)

// allNodes is ff02::1, the destination of advertisements answering DAD.
var allNodes = [16]byte{0: 0xff, 1: 0x02, 15: 1}

// ndState is the clone's neighbour-discovery counters and log format.
type ndState struct {
	badHopLimit, badChecksum, bad, nsNotForUs counters.Counter
	nsHost                                    counters.Counter // solicitations for a host-owned address, left to Linux
	naSent, naReceived, naOurAddr, learned    counters.Counter
	logLearn, logOurs                         logs.Format
}

func newND(c *graph.CloneCtx, name string) ndState {
	return ndState{
		badHopLimit: c.Counter(name, "nd_bad_hop_limit"),
		badChecksum: c.Counter(name, "nd_bad_checksum"),
		bad:         c.Counter(name, "nd_bad"),
		nsNotForUs:  c.Counter(name, "nd_ns_not_for_us"),
		nsHost:      c.Counter(name, "nd_ns_host_owned"),
		naSent:      c.Counter(name, "nd_na_sent"),
		naReceived:  c.Counter(name, "nd_na_received"),
		naOurAddr:   c.Counter(name, "nd_na_our_addr"),
		learned:     c.Counter(name, "nd_learned"),
		logLearn:    c.LogFormat("EtherDecap: nd type %d from interface id %x at %mac on ifindex %d"),
		logOurs:     c.LogFormat("EtherDecap: address with interface id %x on ifindex %d advertised by %mac (duplicate?)"),
	}
}

// isOurGroupMAC reports whether a multicast MAC is one of the IPv6 groups
// the interface listens to: all-nodes ff02::1, all-routers ff02::2 (we are
// a router, RFC 4291 2.8) and the solicited-node groups of its addresses.
func isOurGroupMAC(mac []byte, intf *fwd.Interface) bool {
	_ = mac[5]
	if mac[0] != 0x33 || mac[1] != 0x33 {
		return false
	}
	if mac[2] == 0 && mac[3] == 0 && mac[4] == 0 && (mac[5] == 1 || mac[5] == 2) {
		return true
	}
	return intf.IsSolicitedNodeMAC(mac)
}

// ipv6 takes an IPv6 frame accepted by the MAC filter: NS and NA are
// handled here, everything else goes to L3Parse. l2multi says the frame
// was link-layer broadcast or multicast.
func (n *Node) ipv6(d *graph.Dispatch, p *packet.Packet, intf *fwd.Interface, l2multi bool) {
	data := p.Data()
	if len(data) >= ndOff+4 && data[hdr.EtherLen]>>4 == 6 && data[hdr.EtherLen+6] == hdr.ProtoICMPv6 {
		if t := data[ndOff]; t == hdr.ICMPv6NeighSolicit || t == hdr.ICMPv6NeighAdvert {
			if n.ndForUs(data, intf) {
				n.ndMsg(d, p, intf)
				return
			}
		}
	}
	if l2multi {
		p.Meta |= packet.MetaL2Broadcast
	}
	p.Pull(hdr.EtherLen)
	p.L3 = p.Head()
	d.Push(nextL3Parse, p)
}

// ndForUs reports whether an ND message is addressed to this node: to a
// multicast group (the MAC filter let it in) or to one of our addresses.
// A unicast one for another address is just a packet to forward.
func (n *Node) ndForUs(data []byte, intf *fwd.Interface) bool {
	if len(data) < ndOff {
		return false
	}
	dst := hdr.IPv6(data[hdr.EtherLen:]).Dst()
	return hdr.IsIPv6Multicast(dst) || intf.HasAddr6([16]byte(dst))
}

// ndMsg validates an NS or NA (RFC 4861 7.1.1, 7.1.2) and acts on it.
func (n *Node) ndMsg(d *graph.Dispatch, p *packet.Packet, intf *fwd.Interface) {
	data := p.Data()
	ip := hdr.IPv6(data[hdr.EtherLen:])
	plen := ip.PayloadLen()
	if plen < ndLen || ndOff+plen > len(data) || hdr.IsMulticast(hdr.Ether(data).Src()) {
		d.Drop(p, n.nd.bad) // short or truncated; or a forged source MAC
		return
	}
	icmp := data[ndOff : ndOff+plen] // trailing Ethernet padding excluded
	if ip.HopLimit() != 255 {
		d.Drop(p, n.nd.badHopLimit) // not from a neighbour: possibly forged from afar
		return
	}
	if hdr.Checksum(icmp, hdr.PseudoSum6(ip.Src(), ip.Dst(), plen, hdr.ProtoICMPv6)) != 0 {
		d.Drop(p, n.nd.badChecksum)
		return
	}
	target := [16]byte(icmp[8:24])
	if icmp[1] != 0 || hdr.IsIPv6Multicast(target[:]) {
		d.Drop(p, n.nd.bad)
		return
	}
	lla, ok := ndOptions(icmp, icmp[0])
	if !ok {
		d.Drop(p, n.nd.bad)
		return
	}
	src := [16]byte(ip.Src())
	if icmp[0] == hdr.ICMPv6NeighSolicit {
		n.ns(d, p, intf, src, target, lla)
	} else {
		n.na(d, p, intf, target, lla, icmp[4])
	}
}

// ndOptions walks the options of an ND message of type typ and returns the
// link-layer address option that type carries (SLLA for NS, TLLA for NA),
// nil if absent. It reports false for a malformed option list: an option of
// length 0 or overrunning the message, or a link-layer address option that
// is not one Ethernet address (or is a multicast one).
func ndOptions(icmp []byte, typ uint8) (lla []byte, ok bool) {
	want := uint8(ndOptSLLA)
	if typ == hdr.ICMPv6NeighAdvert {
		want = ndOptTLLA
	}
	for o := icmp[ndLen:]; len(o) > 0; {
		if len(o) < 2 || o[1] == 0 || int(o[1])*8 > len(o) {
			return nil, false
		}
		l := int(o[1]) * 8
		if o[0] == want && lla == nil {
			if l != 8 || hdr.IsMulticast(o[2:8]) {
				return nil, false
			}
			lla = o[2:8]
		}
		o = o[l:]
	}
	return lla, true
}

// ns answers a solicitation for one of our addresses, in place.
func (n *Node) ns(d *graph.Dispatch, p *packet.Packet, intf *fwd.Interface, src, target [16]byte, slla []byte) {
	data := p.Data()
	dad := src == [16]byte{}
	if dad {
		// RFC 4861 7.1.1: a DAD probe goes to a solicited-node group and
		// carries no source link-layer address.
		dst := hdr.IPv6(data[hdr.EtherLen:]).Dst()
		if slla != nil || !isSolicitedNode(dst) {
			d.Drop(p, n.nd.bad)
			return
		}
	}
	if !intf.HasAddr6(target) {
		d.Drop(p, n.nd.nsNotForUs) // Linux learns nothing from these either
		return
	}
	eth := hdr.Ether(data)
	var peer [6]byte
	copy(peer[:], eth.Src())
	if slla != nil {
		copy(peer[:], slla)
		if !intf.HasAddr6(src) {
			n.report(src, peer, true, hdr.ICMPv6NeighSolicit)
		}
	}
	if intf.HostOwned {
		d.Drop(p, n.nd.nsHost) // the kernel, which has a copy, answers
		return
	}
	// The solicitation becomes our advertisement.
	dst := src
	flags := uint8(naFlagR | naFlagS | naFlagO)
	if dad {
		dst, peer, flags = allNodes, hdr.MulticastMAC(allNodes[:]), naFlagR|naFlagO
	}
	if !p.Resize(ndOff + naReplyLen) {
		d.Drop(p, n.nd.bad) // no tailroom: cannot happen with packet.BufSize buffers
		return
	}
	putNA(p.Data(), intf.MAC, peer, &target, &dst, flags)
	n.nd.naSent.Inc()
	d.Push(nextIf, p)
}

// na learns from an advertisement. Like Linux it creates an entry only for
// a solicited one (an answer to us); others update what exists. A solicited
// one without the override flag is reported like one with it: Up has no
// way to say "do not replace a different address" (see RFC 4861 7.2.5).
func (n *Node) na(d *graph.Dispatch, p *packet.Packet, intf *fwd.Interface, target [16]byte, tlla []byte, flags uint8) {
	dst := hdr.IPv6(p.Data()[hdr.EtherLen:]).Dst()
	mcast := hdr.IsIPv6Multicast(dst)
	if mcast && flags&naFlagS != 0 {
		d.Drop(p, n.nd.bad) // RFC 4861 7.1.2: solicited ones are unicast
		return
	}
	if intf.HasAddr6(target) {
		if tlla != nil && !hdr.MACEqual(tlla, intf.MAC) { // not our own NA looped back
			n.log.Log(n.nd.logOurs, lo64(target), uint64(n.ifindex), macU64(tlla), 0)
		}
		d.Drop(p, n.nd.naOurAddr)
		return
	}
	// RFC 4861 7.2.5: an unsolicited advertisement without the override
	// flag changes no entry (it creates none, and must not replace a
	// different address), so it is not reported.
	if tlla != nil && flags&(naFlagS|naFlagO) != 0 {
		n.report(target, [6]byte(tlla), flags&naFlagS != 0, hdr.ICMPv6NeighAdvert)
	}
	d.Drop(p, n.nd.naReceived)
}

// report sends an UpMAC6 report for ip at mac.
func (n *Node) report(ip [16]byte, mac [6]byte, create bool, typ uint8) {
	n.log.Log(n.nd.logLearn, uint64(typ), lo64(ip), macU64(mac[:]), uint64(n.ifindex))
	if n.uplink.Send(msg.Up{Kind: msg.UpMAC6, Thread: n.thread, Ifindex: n.ifindex, IP6: ip, MAC: mac, Create: create}) {
		n.nd.learned.Inc()
	} else {
		n.c.uplinkFull.Inc()
	}
}

// putNA writes a whole Ethernet frame holding a neighbour advertisement
// for target with our MAC as target link-layer address into f
// (ndOff+naReplyLen bytes), from target to dst.
func putNA(f []byte, our, peer [6]byte, target, dst *[16]byte, flags uint8) {
	eth := hdr.Ether(f)
	eth.SetDst(peer)
	eth.SetSrc(our)
	eth.SetType(hdr.EtherTypeIPv6)
	hdr.PutIPv6(f[hdr.EtherLen:], 0, naReplyLen, hdr.ProtoICMPv6, naReplyHops, target, dst)
	m := f[ndOff : ndOff+naReplyLen]
	m[0], m[1], m[2], m[3] = hdr.ICMPv6NeighAdvert, 0, 0, 0
	m[4], m[5], m[6], m[7] = flags, 0, 0, 0
	copy(m[8:24], target[:])
	m[24], m[25] = ndOptTLLA, 1
	copy(m[26:32], our[:])
	c := hdr.ICMPv6Checksum(target[:], dst[:], m)
	m[2], m[3] = byte(c>>8), byte(c)
}

// isSolicitedNode reports whether a is in ff02::1:ff00:0/104.
func isSolicitedNode(a []byte) bool {
	return a[0] == 0xff && a[1] == 0x02 && a[2]|a[3]|a[4]|a[5]|a[6]|a[7]|a[8]|a[9]|a[10] == 0 && a[11] == 1 && a[12] == 0xff
}

// lo64 is the interface identifier half of an address, for the logger.
func lo64(a [16]byte) uint64 {
	return uint64(a[8])<<56 | uint64(a[9])<<48 | uint64(a[10])<<40 | uint64(a[11])<<32 |
		uint64(a[12])<<24 | uint64(a[13])<<16 | uint64(a[14])<<8 | uint64(a[15])
}
