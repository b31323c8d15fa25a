// Package decap is EtherDecap, the per-interface Ethernet decapsulation
// node.
//
// It accepts frames addressed to the interface's MAC or to broadcast (and,
// for IPv6, to the multicast groups the interface is in: all-nodes,
// all-routers and the solicited-node groups of its addresses), strips the
// Ethernet header and passes IPv4 and IPv6 to L3Parse. ARP is handled
// here: requests for one of the interface's addresses are answered in place
// (the request buffer becomes the reply, sent straight back to IfNode), and
// sender addresses are reported to the control side, which relays them to
// every thread's EtherEncap. IPv6 neighbour solicitations and
// advertisements are handled the same way (nd.go). Everything else is
// counted and dropped.
package decap

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
	nextL3Parse
	nextIf
	numNext
)

// Node is EtherDecap for one interface.
type Node struct {
	ifindex int32
	ifname  string
	name    string
	intf    *fwd.Interface // current config, swapped by msg.Interfaces

	// Per clone.
	uplink *msg.Uplink
	thread int
	c      cntrs
	log    *logs.Logger
	logARP logs.Format
	nd     ndState // IPv6 neighbour discovery (nd.go)
}

type cntrs struct {
	runt, notForUs, multicast, vlan, unknownType counters.Counter
	arpBad, arpNotForUs, arpRequests, arpReplies counters.Counter
	arpSent, arpLearned, uplinkFull              counters.Counter
	arpHost                                      counters.Counter // requests for a host-owned address, left to Linux
}

// New makes EtherDecap for intf.
func New(intf *fwd.Interface) *Node {
	return &Node{ifindex: intf.Ifindex, ifname: intf.Name, name: names.EtherDecap(intf.Name), intf: intf}
}

// Name implements graph.Node.
func (n *Node) Name() string { return n.name }

// NextNames implements graph.Node.
func (n *Node) NextNames() []string {
	return []string{nextDrop: names.Drop, nextL3Parse: names.L3Parse, nextIf: names.IfNode(n.ifname)}
}

// Clone implements graph.Node.
func (n *Node) Clone(c *graph.CloneCtx) graph.Node {
	x := &Node{ifindex: n.ifindex, ifname: n.ifname, name: n.name, intf: n.intf, uplink: c.Uplink, thread: c.Thread,
		log: c.Logger(), logARP: c.LogFormat("EtherDecap: arp op %d from %ip at %mac on ifindex %d")}
	x.c = cntrs{
		runt:        c.Counter(n.name, "runt"),
		notForUs:    c.Counter(n.name, "not_for_us"),
		multicast:   c.Counter(n.name, "multicast"),
		vlan:        c.Counter(n.name, "vlan"),
		unknownType: c.Counter(n.name, "unknown_ethertype"),
		arpBad:      c.Counter(n.name, "arp_bad"),
		arpNotForUs: c.Counter(n.name, "arp_not_for_us"),
		arpRequests: c.Counter(n.name, "arp_requests"),
		arpReplies:  c.Counter(n.name, "arp_replies"),
		arpSent:     c.Counter(n.name, "arp_replies_sent"),
		arpLearned:  c.Counter(n.name, "arp_learned"),
		uplinkFull:  c.Counter(n.name, "uplink_full"),
		arpHost:     c.Counter(n.name, "arp_host_owned"),
	}
	x.nd = newND(c, n.name)
	return x
}

// Control implements graph.Node.
func (n *Node) Control(m msg.Msg) {
	if m, ok := m.(msg.Interfaces); ok {
		if i := m.Snapshot.Get(n.ifindex); i != nil {
			n.intf = i
		}
	}
}

// Dispatch implements graph.Node.
func (n *Node) Dispatch(d *graph.Dispatch) {
	intf := n.intf
	for p := d.Pop(); p != nil; p = d.Pop() {
		data := p.Data()
		if len(data) < hdr.EtherLen {
			d.Drop(p, n.c.runt)
			continue
		}
		eth := hdr.Ether(data)
		ours := hdr.MACEqual(eth.Dst(), intf.MAC)
		bcast := !ours && hdr.IsBroadcast(eth.Dst())
		if !ours && !bcast {
			if eth.Type() == hdr.EtherTypeIPv6 && isOurGroupMAC(eth.Dst(), intf) {
				n.ipv6(d, p, intf, true)
				continue
			}
			if hdr.IsMulticast(eth.Dst()) {
				d.Drop(p, n.c.multicast)
			} else {
				d.Drop(p, n.c.notForUs)
			}
			continue
		}
		switch eth.Type() {
		case hdr.EtherTypeIPv6:
			n.ipv6(d, p, intf, bcast)
		case hdr.EtherTypeIPv4:
			if bcast {
				p.Meta |= packet.MetaL2Broadcast
			}
			p.Pull(hdr.EtherLen)
			p.L3 = p.Head()
			d.Push(nextL3Parse, p)
		case hdr.EtherTypeARP:
			n.arp(d, p, intf)
		case hdr.EtherTypeVLAN:
			d.Drop(p, n.c.vlan)
		default:
			d.Drop(p, n.c.unknownType)
		}
	}
}

// arp answers requests for our addresses and reports what it learns.
func (n *Node) arp(d *graph.Dispatch, p *packet.Packet, intf *fwd.Interface) {
	data := p.Data()
	a := hdr.ARP(data[hdr.EtherLen:])
	if !a.Valid() {
		d.Drop(p, n.c.arpBad)
		return
	}
	op, spa, tpa := a.Op(), a.SenderIP(), a.TargetIP()
	sha := a.SenderMAC()
	if (op != hdr.ARPRequest && op != hdr.ARPReply) || hdr.IsMulticast(sha) || spa == 0 && op == hdr.ARPReply {
		d.Drop(p, n.c.arpBad)
		return
	}
	if op == hdr.ARPRequest {
		n.c.arpRequests.Inc()
	} else {
		n.c.arpReplies.Inc()
	}
	forUs := intf.HasAddr(tpa)
	// Learn the sender if it is a neighbour on one of our subnets (spa 0 is
	// an address probe, RFC 5227, and teaches nothing).
	if spa != 0 && intf.OnLink(spa) {
		u := msg.Up{Kind: msg.UpMAC, Thread: n.thread, Ifindex: n.ifindex, IP: spa, Create: forUs}
		copy(u.MAC[:], sha)
		n.log.Log(n.logARP, uint64(op), uint64(spa), macU64(sha), uint64(n.ifindex))
		if n.uplink.Send(u) {
			n.c.arpLearned.Inc()
		} else {
			n.c.uplinkFull.Inc()
		}
	}
	if op == hdr.ARPRequest && forUs && intf.HostOwned {
		n.c.arpHost.Inc() // the kernel, which has a copy, answers
		d.Free(p)
		return
	}
	if op != hdr.ARPRequest || !forUs || spa == tpa {
		// Replies, requests for other hosts and gratuitous ARP end here.
		if !forUs {
			n.c.arpNotForUs.Inc()
		}
		d.Free(p)
		return
	}
	// Turn the request into the reply in place.
	var peer [6]byte
	copy(peer[:], sha)
	eth := hdr.Ether(data)
	eth.SetDst(peer)
	eth.SetSrc(intf.MAC)
	hdr.PutARP(a, hdr.ARPReply, intf.MAC, tpa, peer, spa)
	// Pad to the Ethernet minimum as a NIC would.
	p.Resize(hdr.EtherMinFrame)
	clear(p.Data()[hdr.EtherLen+hdr.ARPLen:])
	n.c.arpSent.Inc()
	d.Push(nextIf, p)
}

var _ graph.Node = (*Node)(nil)

// Rank implements graph.Ranker.
func (n *Node) Rank() int { return graph.RankL2In }

// macU64 packs a MAC into the low 48 bits for the logger.
func macU64(m []byte) uint64 {
	return uint64(m[0])<<40 | uint64(m[1])<<32 | uint64(m[2])<<24 | uint64(m[3])<<16 | uint64(m[4])<<8 | uint64(m[5])
}
