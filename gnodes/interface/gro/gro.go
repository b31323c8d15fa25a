// Package gro coalesces the TCP segments of one received batch into
// super-frames (software GRO), as Linux's NAPI GRO and VPP's gro-coalesce
// do for their inputs.
//
// Why: a segment costs R2 about as much as a super-frame of 45 of them on
// the way out (a sendmsg, a skb, a device transmit each), so a TCP stream
// from hosts whose offloads are off keeps R2's thread inside sendmmsg.
// Merged, the segments leave as one super-frame that the kernel (AF_PACKET
// with vnet headers) or the GSO node cuts back into exactly the segments
// that arrived.
//
// IfNode calls Coalescer.Merge on each batch a driver received. Nothing is
// held across batches: a segment waits for no later one. Within a batch a
// small table of open flows (MaxFlows) lets segments of a flow merge across
// ACKs and other flows' frames between them. A flow's merged packet takes
// the position of its first segment, and any frame of the flow that cannot
// merge (a FIN, a super-frame, a segment out of sequence) closes the flow,
// so the order within a flow is kept.
//
// Only what Linux's GRO merges and what re-segments into the original
// bytes is merged: Ethernet frames without VLAN tags and without trailing
// bytes; IPv4 with a 20-byte header whose checksum is right, not a
// fragment, the same TOS, TTL and DF, IDs incrementing by one (what
// segmentation gives back); IPv6 without extension headers, the same
// traffic class, flow label and hop limit; TCP with the same ports,
// acknowledgement, window, urgent pointer, data offset and option bytes,
// only ACK set (PSH allowed on a flow's last segment), contiguous sequence
// numbers, payload in every segment, all the size of the first but the last
// (no larger); a checksum that verifies, unless the driver validated it
// (packet.GSODataValid) or the sender left it to be finished
// (packet.GSONeedsCsum at the TCP checksum: there is nothing to verify, and
// the merged packet's checksum is left to be finished anyway, as Linux's
// GRO takes CHECKSUM_PARTIAL segments); at most MaxSegments segments and
// 65,535 bytes of IP packet. A frame that fails a check passes unmerged,
// exactly as received.
//
// A merged packet is what the kernel hands R2 for a GRO packet through a
// vnet header: a big packet with packet.GSO Type GSOTCPv4 or GSOTCPv6, Size
// the first segment's payload length, GSONeedsCsum with CsumStart and
// CsumOffset at the TCP checksum, which holds the pseudo-header sum of the
// whole packet; IPv4 total length and header checksum (IPv6 payload length)
// of the whole, and the last segment's PSH.
package gro

import (
	"encoding/binary"

	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/packet"
)

const (
	// MaxFlows is how many flows a batch merges at once. A batch of a
	// host's TCP stream holds that flow's segments and the reverse
	// direction's ACKs (another flow, never merged); 8 leaves room for a
	// few parallel streams. A ninth closes the oldest.
	MaxFlows = 8
	// MaxSegments bounds the segments of one merged packet: 64 KiB of
	// 1,024-byte segments, and far below what the GSO node cuts at once
	// (gso.MaxSegments, 256).
	MaxSegments = 64
	// maxIP is the largest IP packet (total length, or payload length plus
	// the IPv6 header): what the 16-bit length fields can say.
	maxIP = 65535
)

// TCP flags.
const (
	tcpPSH = 0x08
	tcpACK = 0x10
)

// Stats are what a Merge did, for IfNode's counters.
type Stats struct {
	Packets  int // merged packets built
	Segments int // segments merged into them
	CsumBad  int // segments left unmerged because their checksum was wrong
	NoBuf    int // merges given up because the big pool was empty
}

// seg is a parsed candidate segment.
type seg struct {
	v6    bool
	l4    int // offset of the TCP header in the frame
	hl    int // Ethernet, IP and TCP headers
	pay   int // TCP payload bytes
	seq   uint32
	id    uint16 // IPv4 ID
	flags byte
	hash  uint32 // of the flow key, to skip most comparisons
}

// flow is one run of mergeable segments in a batch.
type flow struct {
	head, last int32 // first and last segment (batch indices)
	segs       int   // segments in the flow
	hl         int   // header bytes (every segment's)
	l4         int   // offset of the TCP header
	payload    int   // payload bytes of all segments
	mss        int   // payload bytes of the first segment
	seq        uint32
	id         uint16 // the next segment's expected seq and IPv4 ID
	hash       uint32
	v6         bool
	verified   bool // the head's checksum was checked
	failed     bool // no buffer to merge into: segments go out as they are
}

// What classify found.
const (
	kindOther     = iota // not TCP: no flow's business
	kindFlush            // TCP that cannot be told apart by flow (a fragment, extension headers): close all flows
	kindNoMerge          // a TCP frame that cannot be merged: close its flow
	kindCandidate        // a segment that may merge
)

// Coalescer merges the segments of a batch. It keeps its tables between
// calls (reused to avoid allocations); owned by one forwarding thread, not
// safe for concurrent use.
type Coalescer struct {
	role  []int32 // per batch index: the frame's flow, or -1
	next  []int32 // per batch index: the flow's next segment, or -1
	flows []flow  // the batch's flows, in order of their first segment
	open  [MaxFlows]int32
	nOpen int
	// evict is where the next flow goes once open is full (the oldest).
	evict int
}

// New makes a Coalescer for batches of up to n frames.
func New(n int) *Coalescer {
	return &Coalescer{role: make([]int32, n), next: make([]int32, n), flows: make([]flow, 0, n)}
}

// Merge coalesces the frames pkts (data at the Ethernet header, as a driver
// received them) in place: it returns how many packets pkts now holds at
// its front, merged ones in the place of their flow's first segment, and
// what it did. Merged segments are freed to pool; merged packets come from
// pool.Big(). The slots after the returned count hold stale pointers.
func (c *Coalescer) Merge(pool *packet.Pool, pkts []*packet.Packet) (int, Stats) {
	var st Stats
	n := len(pkts)
	if n < 2 || n > len(c.role) {
		return n, st
	}
	c.classify(pkts, &st)
	if len(c.flows) == 0 {
		return n, st
	}
	w := 0
	for i, p := range pkts {
		r := c.role[i]
		if r < 0 {
			pkts[w] = p
			w++
			continue
		}
		f := &c.flows[r]
		if int32(i) != f.head {
			if f.failed {
				pkts[w] = p
				w++
			}
			continue // merged into the packet at f.head, and freed
		}
		if f.segs < 2 {
			pkts[w] = p
			w++
			continue
		}
		m := c.build(pool, pkts, f)
		if m == nil {
			f.failed = true
			st.NoBuf++
			pkts[w] = p
			w++
			continue
		}
		st.Packets++
		st.Segments += f.segs
		for j := f.head; j >= 0; j = c.next[j] {
			pool.Free(pkts[j])
		}
		pkts[w] = m
		w++
	}
	return w, st
}

// classify parses every frame and groups the candidates into flows.
func (c *Coalescer) classify(pkts []*packet.Packet, st *Stats) {
	c.flows = c.flows[:0]
	c.nOpen, c.evict = 0, 0
	for i, p := range pkts {
		c.role[i], c.next[i] = -1, -1
		b := p.Data()
		s, kind := parse(b)
		switch kind {
		case kindOther:
			continue
		case kindFlush:
			c.nOpen, c.evict = 0, 0
			continue
		}
		// A super-frame is not a plain segment, nor a frame whose
		// metadata points elsewhere than its TCP checksum.
		if kind == kindCandidate && (p.GSO.Size != 0 || p.GSO.Flags&packet.GSONeedsCsum != 0 && !partialTCP(p, s.l4)) {
			kind = kindNoMerge
		}
		o := c.lookup(pkts, b, s.hash, s.v6, s.l4)
		if kind == kindNoMerge {
			if o >= 0 {
				c.close(o)
			}
			continue
		}
		if o >= 0 {
			f := &c.flows[c.open[o]]
			switch c.join(pkts, f, p, b, &s) {
			case joined:
				c.role[i] = c.open[o]
				c.next[f.last] = int32(i)
				f.last = int32(i)
				f.segs++
				f.payload += s.pay
				f.seq += uint32(s.pay)
				f.id++
				if s.pay < f.mss || s.flags&tcpPSH != 0 || f.segs == MaxSegments {
					c.close(o)
				}
				continue
			case badCsum:
				st.CsumBad++
				c.close(o)
				continue
			case badHead:
				st.CsumBad++
			}
			c.close(o) // a new run of the flow starts here
		}
		if s.flags&tcpPSH != 0 {
			continue // nothing may follow it: a flow of one
		}
		c.start(int32(i), &s)
	}
}

// lookup finds the open flow of frame b: the index in c.open, or -1.
func (c *Coalescer) lookup(pkts []*packet.Packet, b []byte, hash uint32, v6 bool, l4 int) int {
	for o := 0; o < c.nOpen; o++ {
		f := &c.flows[c.open[o]]
		if f.hash != hash || f.v6 != v6 || f.l4 != l4 {
			continue
		}
		h := pkts[f.head].Data()
		if sameKey(h, b, v6, l4) {
			return o
		}
	}
	return -1
}

// sameKey reports whether frames a and b, both parsed (TCP header at l4),
// are of one flow: Ethernet header, addresses and ports.
func sameKey(a, b []byte, v6 bool, l4 int) bool {
	if string(a[:hdr.EtherLen]) != string(b[:hdr.EtherLen]) ||
		binary.BigEndian.Uint32(a[l4:]) != binary.BigEndian.Uint32(b[l4:]) {
		return false
	}
	ip := hdr.EtherLen
	if v6 {
		return string(a[ip+8:ip+40]) == string(b[ip+8:ip+40])
	}
	return binary.BigEndian.Uint64(a[ip+12:]) == binary.BigEndian.Uint64(b[ip+12:])
}

// start opens a flow headed by frame i.
func (c *Coalescer) start(i int32, s *seg) {
	c.flows = append(c.flows, flow{
		head: i, last: i, segs: 1, hl: s.hl, l4: s.l4, payload: s.pay, mss: s.pay,
		seq: s.seq + uint32(s.pay), id: s.id + 1, hash: s.hash, v6: s.v6,
	})
	c.role[i] = int32(len(c.flows) - 1)
	if c.nOpen < MaxFlows {
		c.open[c.nOpen] = int32(len(c.flows) - 1)
		c.nOpen++
		return
	}
	// Full: the oldest open flow closes (open is kept in age order by
	// close, so the oldest is first).
	c.close(0)
	c.open[c.nOpen] = int32(len(c.flows) - 1)
	c.nOpen++
}

// close removes open flow o from the table, keeping the others in age
// order.
func (c *Coalescer) close(o int) {
	copy(c.open[o:c.nOpen], c.open[o+1:c.nOpen])
	c.nOpen--
}

// Outcomes of join.
const (
	joined   = iota
	mismatch // the segment does not continue the flow: it may start another
	badCsum  // its checksum is wrong: it goes out alone
	badHead  // the flow's first segment's checksum is wrong: it goes out alone, this one may start a run
)

// join checks whether segment s (frame b of packet p) continues flow f.
func (c *Coalescer) join(pkts []*packet.Packet, f *flow, p *packet.Packet, b []byte, s *seg) int {
	if s.hl != f.hl || s.seq != f.seq || s.pay > f.mss || s.flags&^tcpPSH != tcpACK ||
		!s.v6 && s.id != f.id ||
		f.hl+f.payload+s.pay-hdr.EtherLen > maxIP || f.hl+f.payload+s.pay > packet.MaxBigData {
		return mismatch
	}
	h := pkts[f.head].Data()
	if !sameHeaders(h, b, f.v6, f.l4, f.hl) {
		return mismatch
	}
	if !f.verified {
		if !trusted(pkts[f.head]) && !csumOK(h, f.v6, f.l4) {
			return badHead
		}
		f.verified = true
	}
	if !trusted(p) && !csumOK(b, s.v6, s.l4) {
		return badCsum
	}
	return joined
}

// trusted reports whether p's TCP checksum needs no check: the driver
// validated it, or the sender left it to be finished (partialTCP, checked
// by classify).
func trusted(p *packet.Packet) bool {
	return p.GSO.Flags&(packet.GSODataValid|packet.GSONeedsCsum) != 0
}

// partialTCP reports whether p, a plain TCP segment whose TCP header is at
// l4 in its data, has its checksum left to be finished there (what a
// driver that saw CHECKSUM_PARTIAL gives it: AF_PACKET's vnet header,
// AF_XDP's markPartial).
func partialTCP(p *packet.Packet, l4 int) bool {
	return int(p.GSO.CsumStart) == p.Head()+l4 && p.GSO.CsumOffset == 16
}

// sameHeaders compares what segmentation copies from the first segment's
// headers into every segment: all but lengths, IPv4 ID and header checksum,
// sequence number, flags and TCP checksum. Flags were checked by join.
func sameHeaders(a, b []byte, v6 bool, l4, hl int) bool {
	ip := hdr.EtherLen
	if v6 {
		if binary.BigEndian.Uint32(a[ip:]) != binary.BigEndian.Uint32(b[ip:]) || // version, class, label
			binary.BigEndian.Uint16(a[ip+6:]) != binary.BigEndian.Uint16(b[ip+6:]) { // next header, hop limit
			return false
		}
	} else if binary.BigEndian.Uint16(a[ip:]) != binary.BigEndian.Uint16(b[ip:]) || // version, IHL, TOS
		binary.BigEndian.Uint32(a[ip+6:]) != binary.BigEndian.Uint32(b[ip+6:]) { // flags, fragment, TTL, protocol
		return false
	}
	t := l4
	return binary.BigEndian.Uint32(a[t+8:]) == binary.BigEndian.Uint32(b[t+8:]) && // ack
		a[t+12] == b[t+12] && // data offset, reserved bits
		binary.BigEndian.Uint16(a[t+14:]) == binary.BigEndian.Uint16(b[t+14:]) && // window
		binary.BigEndian.Uint16(a[t+18:]) == binary.BigEndian.Uint16(b[t+18:]) && // urgent pointer
		string(a[t+20:hl]) == string(b[t+20:hl]) // options (timestamps)
}

// csumOK verifies the TCP checksum of parsed frame b.
func csumOK(b []byte, v6 bool, l4 int) bool {
	ip := b[hdr.EtherLen:]
	n := len(b) - l4
	var pseudo uint32
	if v6 {
		pseudo = hdr.PseudoSum6(ip[8:24], ip[24:40], n, hdr.ProtoTCP)
	} else {
		pseudo = hdr.Sum(ip[12:20], uint32(hdr.ProtoTCP)+uint32(n))
	}
	return hdr.Fold(hdr.Sum(b[l4:], pseudo)) == 0xffff
}

// parse classifies Ethernet frame b and, for TCP, reads what merging needs.
func parse(b []byte) (s seg, kind int) {
	if len(b) < hdr.EtherLen+hdr.IPv4MinLen {
		return s, kindOther
	}
	et := binary.BigEndian.Uint16(b[12:])
	ip := b[hdr.EtherLen:]
	switch et {
	case hdr.EtherTypeIPv4:
		if ip[0] != 0x45 {
			if ip[0]>>4 == 4 && ip[9] == hdr.ProtoTCP {
				return s, kindFlush // options: ports not at a fixed place (rare)
			}
			return s, kindOther
		}
		if ip[9] != hdr.ProtoTCP {
			return s, kindOther
		}
		if hdr.IPv4(ip).IsFragment() {
			return s, kindFlush
		}
		s.l4 = hdr.EtherLen + hdr.IPv4MinLen
		s.id = binary.BigEndian.Uint16(ip[4:])
		if len(b) < s.l4+20 {
			return s, kindFlush
		}
		s.hash = binary.BigEndian.Uint32(ip[12:]) ^ binary.BigEndian.Uint32(ip[16:])*0x9e3779b1
	case hdr.EtherTypeIPv6:
		if len(ip) < hdr.IPv6Len || ip[0]>>4 != 6 {
			return s, kindOther
		}
		switch ip[6] {
		case hdr.ProtoTCP:
		case hdr.ProtoUDP, hdr.ProtoICMPv6:
			return s, kindOther
		default:
			return s, kindFlush // extension headers: the upper layer is not at a fixed place
		}
		s.v6 = true
		s.l4 = hdr.EtherLen + hdr.IPv6Len
		if len(b) < s.l4+20 {
			return s, kindFlush
		}
		s.hash = binary.BigEndian.Uint32(ip[20:]) ^ binary.BigEndian.Uint32(ip[36:])*0x9e3779b1
	default:
		return s, kindOther
	}
	t := b[s.l4:]
	s.hash ^= binary.BigEndian.Uint32(t) * 0x85ebca6b
	s.seq = binary.BigEndian.Uint32(t[4:])
	s.flags = t[13]
	doff := int(t[12]>>4) * 4
	s.hl = s.l4 + doff
	if s.v6 {
		if hdr.EtherLen+hdr.IPv6Len+hdr.IPv6(ip).PayloadLen() != len(b) {
			return s, kindNoMerge // truncated, or trailing bytes
		}
	} else if hdr.EtherLen+hdr.IPv4(ip).TotalLen() != len(b) || !hdr.HeaderChecksumOK(ip[:hdr.IPv4MinLen]) {
		return s, kindNoMerge
	}
	if doff < 20 || s.hl >= len(b) || s.flags&^tcpPSH != tcpACK {
		return s, kindNoMerge // no payload, or flags other than ACK (and PSH)
	}
	s.pay = len(b) - s.hl
	return s, kindCandidate
}

// build copies the segments of flow f into a big packet of pool and makes
// it a super-frame; nil if there is none.
func (c *Coalescer) build(pool *packet.Pool, pkts []*packet.Packet, f *flow) *packet.Packet {
	big := pool.Big()
	if big == nil {
		return nil
	}
	m := big.Get()
	if m == nil {
		return nil
	}
	total := f.hl + f.payload
	if !m.Resize(total) {
		big.Free(m)
		return nil
	}
	d := m.Data()
	head := pkts[f.head].Data()
	copy(d, head[:f.hl])
	off := f.hl
	for j := f.head; j >= 0; j = c.next[j] {
		off += copy(d[off:], pkts[j].Data()[f.hl:])
	}
	ip := d[hdr.EtherLen:]
	typ := packet.GSOTCPv4
	if f.v6 {
		typ = packet.GSOTCPv6
		hdr.IPv6(ip).SetPayloadLen(total - hdr.EtherLen - hdr.IPv6Len)
	} else {
		binary.BigEndian.PutUint16(ip[2:], uint16(total-hdr.EtherLen))
		hdr.IPv4(ip).SetChecksum(0)
		hdr.IPv4(ip).SetChecksum(hdr.Checksum(ip[:hdr.IPv4MinLen], 0))
	}
	d[f.l4+13] = pkts[f.last].Data()[f.l4+13] // the last segment's PSH
	hdr.SetPseudoChecksum(ip)
	// The segments' receive queue (and sparse mark): an output orders
	// packets by it (packet.MetaRxQueueMask), so the super-frame must
	// not look as if it came from elsewhere than the flow's later
	// segments.
	m.Meta = pkts[f.head].Meta
	m.GSO = packet.GSO{
		CsumStart:  uint16(m.Head() + f.l4),
		CsumOffset: 16,
		Size:       uint16(f.mss),
		Type:       typ,
		Flags:      packet.GSONeedsCsum,
	}
	return m
}
