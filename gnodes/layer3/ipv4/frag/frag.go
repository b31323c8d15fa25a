// Package frag is IPv4Frag: it fragments IPv4 packets larger than the MTU
// of their output interface when the sender allows it (DF clear), as RFC
// 1812 5.2.6 requires of a router. IPv4Fwd sends it only those packets;
// packets with DF set are answered with "fragmentation needed" instead.
//
// Each fragment is a new packet from the thread's pool: the header (the
// first fragment keeps every option, the others only options whose copy
// flag is set, RFC 791), a slice of the payload at an offset that is a
// multiple of 8, MF on every fragment but the last (or on all if the
// original was itself a non-last fragment), and a fresh header checksum.
// The original is freed. When the pool runs dry mid-packet the fragments
// made so far are sent and the packet is counted in frag_nobuf (the
// receiver cannot reassemble it, as if the link had lost a fragment). The
// node only takes a packet from its vector when EncapMux has room for all
// its fragments, so fragments are never dropped for a full vector.
package frag

import (
	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

const (
	nextDrop = iota // graph.Drop
	nextMux
	numNext
)

// Node is IPv4Frag.
type Node struct {
	intfs *fwd.Interfaces // swapped by msg.Interfaces
	c     cntrs
}

type cntrs struct {
	fragmented, fragments, noBuf, noIntf, badMTU, badOffset counters.Counter
}

// New makes IPv4Frag.
func New(intfs *fwd.Interfaces) *Node { return &Node{intfs: intfs} }

// Name implements graph.Node.
func (n *Node) Name() string { return names.IPv4Frag }

// NextNames implements graph.Node.
func (n *Node) NextNames() []string {
	return []string{nextDrop: names.Drop, nextMux: names.EncapMux}
}

// Rank implements graph.Ranker: after forwarding, before the mux.
func (n *Node) Rank() int { return graph.RankL3Local + 1 }

// Clone implements graph.Node.
func (n *Node) Clone(c *graph.CloneCtx) graph.Node {
	cnt := func(s string) counters.Counter { return c.Counter(names.IPv4Frag, s) }
	return &Node{intfs: n.intfs, c: cntrs{fragmented: cnt("fragmented"), fragments: cnt("fragments"),
		noBuf: cnt("frag_nobuf"), noIntf: cnt("no_intf"), badMTU: cnt("mtu_too_small"), badOffset: cnt("bad_offset")}}
}

// Control implements graph.Node.
func (n *Node) Control(m msg.Msg) {
	if m, ok := m.(msg.Interfaces); ok {
		n.intfs = m.Snapshot
	}
}

// Dispatch implements graph.Node.
func (n *Node) Dispatch(d *graph.Dispatch) {
	for {
		p := d.Peek()
		if p == nil {
			return
		}
		out := n.intfs.Get(p.OutIfindex)
		// Leave packets in the vector (work for the next run) rather than
		// make more fragments than EncapMux can take now. A 9000-byte
		// packet over a 576-byte MTU makes 17 fragments; a 1900-byte one
		// over a 68-byte MTU up to 40.
		if out != nil && d.Space(nextMux) < min(maxFragments(p, out.MTU), graph.VecSize) {
			d.More()
			return
		}
		d.Pop()
		if out == nil {
			d.Drop(p, n.c.noIntf)
			continue
		}
		n.fragment(d, p, out.MTU)
	}
}

// maxFragments bounds the fragments fragment makes of p for mtu: every
// fragment carries at least the payload room of the first (later ones copy
// only some of the options).
func maxFragments(p *packet.Packet, mtu int) int {
	ip := hdr.IPv4(p.Data())
	ihl := ip.HeaderLen()
	room := (mtu - ihl) &^ 7
	if room < 8 {
		return 0 // dropped as mtu_too_small
	}
	return (ip.TotalLen() - ihl + room - 1) / room
}

// fragment splits p for an IP MTU of mtu and frees it.
func (n *Node) fragment(d *graph.Dispatch, p *packet.Packet, mtu int) {
	data := p.Data()
	ip := hdr.IPv4(data)
	ihl := ip.HeaderLen()
	total := ip.TotalLen()
	// Options with the copy flag (bit 7 of the type) go in every fragment.
	var later [60]byte
	laterLen := copy(later[:], data[:hdr.IPv4MinLen])
	for o := data[hdr.IPv4MinLen:ihl]; len(o) > 0; {
		if o[0] == 0 { // end of list
			break
		}
		l := 1
		if o[0] != 1 {
			l = int(o[1]) // L3Parse checked the list
		}
		if o[0]&0x80 != 0 {
			laterLen += copy(later[laterLen:], o[:l])
		}
		o = o[l:]
	}
	for laterLen%4 != 0 {
		later[laterLen] = 0
		laterLen++
	}
	// Room for payload in the first and in later fragments, multiples of 8.
	firstRoom := (mtu - ihl) &^ 7
	laterRoom := (mtu - laterLen) &^ 7
	if firstRoom < 8 || laterRoom < 8 {
		d.Drop(p, n.c.badMTU) // an MTU below 28 bytes is a configuration error
		return
	}
	ff := ip.FlagsFrag()
	baseOff := int(ff&hdr.IPv4OffMask) * 8
	moreAfter := ff&hdr.IPv4FlagMF != 0 // p is itself a non-last fragment
	payload := data[ihl:total]
	if baseOff+len(payload) > 0xffff {
		// A fragment ending beyond the largest datagram (RFC 791) cannot be
		// reassembled, and the offsets of its later fragments would not fit
		// the 13-bit field: they would spill into the flags.
		d.Drop(p, n.c.badOffset)
		return
	}
	n.c.fragmented.Inc()
	for off := 0; off < len(payload); {
		h := later[:laterLen]
		room := laterRoom
		if off == 0 {
			h = data[:ihl]
			room = firstRoom
		}
		chunk := min(room, len(payload)-off)
		f := d.Pool().Get()
		if f == nil {
			n.c.noBuf.Inc()
			break
		}
		f.Resize(len(h) + chunk)
		b := f.Data()
		copy(b, h)
		copy(b[len(h):], payload[off:off+chunk])
		fh := hdr.IPv4(b)
		fh[0] = 0x40 | byte(len(h)/4)
		be16(fh[2:], uint16(len(h)+chunk))
		flags := ff &^ (hdr.IPv4FlagMF | hdr.IPv4OffMask)
		if off+chunk < len(payload) || moreAfter {
			flags |= hdr.IPv4FlagMF
		}
		be16(fh[6:], flags|uint16((baseOff+off)/8))
		fh.SetChecksum(0)
		fh.SetChecksum(hdr.Checksum(fh[:len(h)], 0))
		f.L3 = f.Head()
		f.InIfindex, f.OutIfindex, f.NextHop, f.Meta = p.InIfindex, p.OutIfindex, p.NextHop, p.Meta
		n.c.fragments.Inc()
		d.Push(nextMux, f)
		off += chunk
	}
	d.Free(p)
}

func be16(b []byte, v uint16) { b[0], b[1] = byte(v>>8), byte(v) }

var _ graph.Node = (*Node)(nil)
