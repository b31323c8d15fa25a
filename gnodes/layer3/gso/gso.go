// Package gso is GSO, the software segmentation node.
//
// Drivers with vnet headers (AF_PACKET) receive GSO/GRO super-frames, up to
// 64 KiB of TCP or UDP payload in one frame, and frames whose TCP or UDP
// checksum the sender left to offload (packet.GSO). Forwarding hands them to
// an output that takes them as they are (fwd.Interface.Offload: the kernel
// then segments and checksums; AF_XDP sends them through an AF_PACKET
// socket of its interface, package r2/driver/vnet). For any other output
// (AF_XDP with super_frames off, AF_PACKET without vnet headers, a segment
// larger than the MTU with DF clear) the
// forwarding nodes push them here, and GSO does in software what the kernel
// would: it cuts a super-frame into segments of GSO.Size payload bytes, each
// a packet of its own with its own headers, and finishes every checksum.
//
// TCP (tcp4/tcp6 GSO): every segment gets the IP and TCP headers of the
// super-frame with its own IP length (and, for IPv4, an ID one more than the
// previous segment's and a new header checksum), a sequence number advanced
// by the payload before it, FIN and PSH only on the last segment, CWR only
// on the first, and its own TCP checksum. UDP (UDP_SEGMENT, udp_l4 GSO):
// every segment is a datagram of its own, with its own UDP length and
// checksum. A frame that is not a super-frame only has its checksum
// finished.
//
// Segments go to EncapMux; an IPv4 segment still larger than the output's
// MTU (possible only with DF clear, which forwarding checked) goes to
// IPv4Frag.
package gso

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

const (
	nextDrop = iota // graph.Drop
	nextMux
	nextFrag
	numNext
)

// MaxSegments is the most segments GSO makes of one super-frame: a
// vector's worth. Linux's smallest TCP MSS (536 bytes for IPv4) cuts 64 KiB
// into 123.
const MaxSegments = graph.VecSize

// TCP flags GSO handles per segment.
const (
	tcpFIN = 0x01
	tcpPSH = 0x08
	tcpCWR = 0x80
)

// Node is GSO. Owned by one forwarding thread; not safe for concurrent use.
type Node struct {
	intfs *fwd.Interfaces // swapped by msg.Interfaces
	// segs holds the segments of one super-frame; reused to avoid
	// allocations.
	segs [MaxSegments]*packet.Packet
	c    cntrs
}

type cntrs struct {
	segmented, segments, csumDone counters.Counter
	passed                        counters.Counter // queued behind others only (IPv4Fwd, IPv6Fwd)
	noBuf, bad, noIntf            counters.Counter
}

// New makes GSO for the interfaces in intfs.
func New(intfs *fwd.Interfaces) *Node { return &Node{intfs: intfs} }

// Name implements graph.Node.
func (n *Node) Name() string { return names.GSO }

// NextNames implements graph.Node.
func (n *Node) NextNames() []string {
	return []string{nextDrop: names.Drop, nextMux: names.EncapMux, nextFrag: names.IPv4Frag}
}

// Rank implements graph.Ranker: after forwarding, before EncapMux.
func (n *Node) Rank() int { return graph.RankL3Local + 2 }

// Clone implements graph.Node.
func (n *Node) Clone(c *graph.CloneCtx) graph.Node {
	cnt := func(s string) counters.Counter { return c.Counter(names.GSO, s) }
	return &Node{intfs: n.intfs, c: cntrs{
		segmented: cnt("segmented"), segments: cnt("segments"), csumDone: cnt("csum_done"), passed: cnt("passed"),
		noBuf: cnt("nobuf"), bad: cnt("bad_superframe"), noIntf: cnt("no_intf")}}
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
		// Leave packets in the vector (work for the next run) rather
		// than make more segments than EncapMux can take now.
		if d.Space(nextMux) < min(Count(p), MaxSegments) || d.Space(nextFrag) < min(Count(p), MaxSegments) {
			d.More()
			return
		}
		d.Pop()
		out := n.intfs.Get(p.OutIfindex)
		if out == nil {
			d.Drop(p, n.c.noIntf)
			continue
		}
		if p.GSO == (packet.GSO{}) {
			// Nothing to do: queued behind a flow's super-frame so
			// as not to overtake its segments.
			n.c.passed.Inc()
			n.send(d, p, out.MTU)
			continue
		}
		if p.GSO.Size == 0 {
			hdr.CompleteChecksumL3(p.Data())
			p.GSO = packet.GSO{}
			n.c.csumDone.Inc()
			n.send(d, p, out.MTU)
			continue
		}
		k, err := Segment(p, d.Pool(), n.segs[:])
		switch err {
		case nil:
		case ErrNoBuf:
			d.Drop(p, n.c.noBuf)
			continue
		default:
			d.Drop(p, n.c.bad)
			continue
		}
		n.c.segmented.Inc()
		n.c.segments.Add(uint64(k))
		for i, s := range n.segs[:k] {
			n.send(d, s, out.MTU)
			n.segs[i] = nil
		}
		d.Free(p)
	}
}

// send pushes p on to EncapMux, or to IPv4Frag if it is an IPv4 packet
// larger than mtu.
func (n *Node) send(d *graph.Dispatch, p *packet.Packet, mtu int) {
	if p.Len() > mtu && p.Meta&packet.MetaIPv6 == 0 {
		d.Push(nextFrag, p)
		return
	}
	d.Push(nextMux, p)
}

// Count is the number of segments of super-frame p (1 for a packet that
// is not one).
func Count(p *packet.Packet) int {
	if p.GSO.Size == 0 {
		return 1
	}
	hl := p.GSOSegLen() - int(p.GSO.Size)
	pay := p.Len() - hl
	if hl <= 0 || pay <= 0 {
		return 1
	}
	return (pay + int(p.GSO.Size) - 1) / int(p.GSO.Size)
}

// Errors of Segment.
var (
	// ErrBad: the packet is not a super-frame GSO can cut (headers
	// missing or inconsistent with its GSO metadata, too many segments).
	ErrBad = errorString("gso: malformed super-frame")
	// ErrNoBuf: the pool ran out of packets.
	ErrNoBuf = errorString("gso: no packet buffers")
)

type errorString string

func (e errorString) Error() string { return string(e) }

// Segment cuts super-frame p, whose data starts at its IPv4 or IPv6
// header, into segments, packets of pool (of its big pool for segments
// that do not fit a normal packet), and puts them in segs. It returns
// how many; p itself is left as it was, for the caller to free. On error
// no segment is left allocated.
func Segment(p *packet.Packet, pool *packet.Pool, segs []*packet.Packet) (int, error) {
	data := p.Data()
	mss := int(p.GSO.Size)
	l4 := int(p.GSO.CsumStart) - p.Head()
	if mss == 0 || len(data) < 1 || l4 < hdr.IPv4MinLen || l4+8 > len(data) {
		return 0, ErrBad
	}
	v4 := data[0]>>4 == 4
	var l4h int
	tcp := false
	switch p.GSO.Type &^ packet.GSOECN {
	case packet.GSOTCPv4, packet.GSOTCPv6:
		if l4+20 > len(data) {
			return 0, ErrBad
		}
		tcp = true
		l4h = int(data[l4+12]>>4) * 4
	case packet.GSOUDPL4:
		l4h = 8
	default:
		return 0, ErrBad
	}
	var proto uint8
	if v4 {
		ip := hdr.IPv4(data)
		if l4 != ip.HeaderLen() || ip.TotalLen() != len(data) {
			return 0, ErrBad
		}
		proto = ip.Protocol()
	} else {
		if data[0]>>4 != 6 || l4 < hdr.IPv6Len || hdr.IPv6Len+hdr.IPv6(data).PayloadLen() != len(data) {
			return 0, ErrBad
		}
		proto = protoTCP
		if !tcp {
			proto = protoUDP
		}
	}
	if tcp && proto != protoTCP || !tcp && proto != protoUDP {
		return 0, ErrBad
	}
	hl := l4 + l4h
	if l4h < 8 || tcp && l4h < 20 || hl > len(data) {
		return 0, ErrBad
	}
	payload := data[hl:]
	k := (len(payload) + mss - 1) / mss
	if k == 0 || k > len(segs) {
		return 0, ErrBad
	}
	var id uint16
	var seq uint32
	var flags byte
	if v4 {
		id = hdr.IPv4(data).ID()
	}
	if tcp {
		seq = binary.BigEndian.Uint32(data[l4+4:])
		flags = data[l4+13]
	}
	for i := 0; i < k; i++ {
		off := i * mss
		chunk := min(mss, len(payload)-off)
		from := pool
		if hl+chunk > packet.MaxData {
			from = pool.Big()
		}
		var s *packet.Packet
		if from != nil {
			s = from.Get()
		}
		if s == nil || !s.Resize(hl+chunk) {
			if s != nil {
				pool.Free(s)
			}
			for j := range segs[:i] {
				pool.Free(segs[j])
				segs[j] = nil
			}
			return 0, ErrNoBuf
		}
		b := s.Data()
		copy(b, data[:hl])
		copy(b[hl:], payload[off:off+chunk])
		l4len := l4h + chunk
		var pseudo uint32
		if v4 {
			ip := hdr.IPv4(b)
			binary.BigEndian.PutUint16(b[2:], uint16(hl+chunk))
			binary.BigEndian.PutUint16(b[4:], id+uint16(i))
			ip.SetChecksum(0)
			ip.SetChecksum(hdr.Checksum(b[:l4], 0))
			pseudo = hdr.Sum(b[12:20], uint32(proto)+uint32(l4len))
		} else {
			binary.BigEndian.PutUint16(b[4:], uint16(hl+chunk-hdr.IPv6Len))
			pseudo = hdr.PseudoSum6(b[8:24], b[24:40], l4len, proto)
		}
		h := b[l4:]
		var csum int
		if tcp {
			binary.BigEndian.PutUint32(h[4:], seq+uint32(off))
			f := flags
			if i != k-1 {
				f &^= tcpFIN | tcpPSH
			}
			if i != 0 {
				f &^= tcpCWR
			}
			h[13] = f
			csum = 16
		} else {
			binary.BigEndian.PutUint16(h[4:], uint16(l4len))
			csum = 6
		}
		h[csum], h[csum+1] = 0, 0
		c := ^hdr.Fold(hdr.Sum(h[:l4len], pseudo))
		if c == 0 && !tcp {
			c = 0xffff // 0 means "no checksum" in UDP
		}
		binary.BigEndian.PutUint16(h[csum:], c)
		s.L3 = s.Head()
		s.InIfindex, s.OutIfindex, s.Meta = p.InIfindex, p.OutIfindex, p.Meta
		s.NextHop, s.NextHop6 = p.NextHop, p.NextHop6
		segs[i] = s
	}
	return k, nil
}

const (
	protoTCP = 6
	protoUDP = 17
)

var _ graph.Node = (*Node)(nil)
