package packet

import "encoding/binary"

const (
	// BufSize is the size of every packet buffer: a 1500-byte MTU frame plus
	// headroom fits with room to spare, and 2 KiB matches AF_XDP frame sizes
	// so a pool can be laid over a UMEM.
	BufSize = 2048
	// Headroom is left in front of received data for headers added on the
	// way out (Ethernet 14, VLAN 4, tunnels); 128 covers any stack of them we
	// foresee.
	Headroom = 128
	// MaxData is the largest frame a packet of a normal pool can carry.
	MaxData = BufSize - Headroom
	// BigBufSize is the size of a big packet's buffer (see Pool.SetBig):
	// the largest IP packet (65,535 bytes) in an Ethernet frame with one
	// 802.1Q tag (18 more) after Headroom, rounded up to whole 4 KiB pages
	// (17 of them, 69,632 bytes).
	BigBufSize = 17 << 12
	// MaxBigData is the largest frame a big packet can carry.
	MaxBigData = BigBufSize - Headroom
)

// GSO describes a super-frame (several TCP or UDP segments carried as one
// frame, as Linux hands them over with GSO, TSO and GRO) and a checksum left
// to be finished, in the terms of the virtio_net_hdr that AF_PACKET
// exchanges with PACKET_VNET_HDR. The zero value is a plain packet whose
// checksums are complete.
//
// Invariant kept by the drivers that set it: a packet with Size > 0 also
// has GSONeedsCsum, with the pseudo-header checksum in its L4 checksum
// field, so an output either hands all of it to the kernel or segments it
// in software (gnodes/layer3/gso).
type GSO struct {
	// CsumStart is the offset in the buffer (like L2 and L3, so it does
	// not move when headers are pulled or pushed) of the header whose
	// checksum is to be finished: the TCP or UDP header.
	CsumStart uint16
	// CsumOffset is the offset of the checksum field from CsumStart: 16
	// for TCP, 6 for UDP.
	CsumOffset uint16
	// Size is the payload bytes of every segment but the last (gso_size);
	// 0 for a packet that is not a super-frame.
	Size uint16
	// Type is the kind of super-frame: GSOTCPv4, GSOUDP, GSOTCPv6,
	// possibly with GSOECN; GSONone for none.
	Type uint8
	// Flags are GSONeedsCsum and GSODataValid.
	Flags uint8
}

// GSO types (virtio_net_hdr gso_type) and flags (virtio_net_hdr flags).
const (
	GSONone  uint8 = 0
	GSOTCPv4 uint8 = 1
	GSOUDP   uint8 = 3 // UDP fragmentation offload (UFO); not forwarded
	GSOTCPv6 uint8 = 4
	GSOUDPL4 uint8 = 5 // UDP segmentation (UDP_SEGMENT), both families
	GSOECN   uint8 = 0x80

	// GSONeedsCsum: the checksum at CsumStart+CsumOffset holds only the
	// pseudo-header sum; whoever sends the frame finishes it.
	GSONeedsCsum uint8 = 1
	// GSODataValid: the receiving side already validated the checksum.
	GSODataValid uint8 = 2
)

// Meta flags and fields.
const (
	// MetaLocalOrigin marks a packet the router made itself (an ICMP reply
	// or error): forwarding does not decrement its TTL and never answers it
	// with an ICMP error.
	MetaLocalOrigin uint32 = 1 << 31
	// MetaICMPError asks the local node to answer the packet with the ICMP
	// error whose type and code are in the low 16 bits (type<<8 | code).
	MetaICMPError uint32 = 1 << 30
	// MetaL2Broadcast marks a packet that arrived in a link-layer broadcast
	// frame: it must not be forwarded nor answered with an ICMP error
	// (RFC 1812 5.3.4, 4.3.2.7).
	MetaL2Broadcast uint32 = 1 << 29
	// MetaIPv6 marks an IPv6 packet: the encapsulation node resolves
	// NextHop6 (with neighbour discovery) instead of NextHop (with ARP).
	MetaIPv6 uint32 = 1 << 28
	// MetaSparse marks a packet received from a receive queue whose
	// flows are light (a ping, a routing protocol beside a flood): its
	// output interface sends it ahead of the packets of other queues
	// waiting there (fq_codel's sparse flows first). Only drivers with
	// several receive queues set it, with the queue in MetaRxQueueMask.
	MetaSparse uint32 = 1 << 27
	// MetaRxQueueMask holds the receive queue a packet came from
	// (MetaRxQueueShift), with MetaSparse: an output never lets a packet
	// overtake one of its own queue, so a flow's order is kept.
	MetaRxQueueMask  uint32 = 0x7f << MetaRxQueueShift
	MetaRxQueueShift        = 16
	// MetaICMPMask selects the ICMP type and code.
	MetaICMPMask uint32 = 0xffff
)

// Packet is one frame and its metadata. A packet is owned by exactly one
// place at a time (a pool, a node's vector, a driver ring); it is not safe
// for concurrent use.
type Packet struct {
	buf  []byte // the whole buffer, len BufSize
	head int    // start of data in buf
	tail int    // end of data in buf

	// L2 and L3 are offsets into buf of the link and network headers, -1
	// when not yet known.
	L2, L3 int
	// InIfindex is the R2 ifindex the packet arrived on.
	InIfindex int32
	// OutIfindex is the R2 ifindex it leaves through, set by a forwarding
	// node.
	OutIfindex int32
	// NextHop is the IPv4 address (host order) whose MAC the encapsulation
	// node needs: the gateway, or the destination on a connected subnet.
	NextHop uint32
	// NextHop6 is the IPv6 address whose MAC the encapsulation node needs,
	// when Meta has MetaIPv6.
	NextHop6 [16]byte
	// Meta passes small facts between adjacent nodes (see the Meta*
	// constants); cleared on every Get.
	Meta uint32
	// GSO says whether the packet is a super-frame, or has a checksum to
	// finish; cleared on every Get.
	GSO GSO

	pool  *Pool
	index uint32 // position in the pool, and frame number for UMEM pools
	free  bool   // in a pool's free stack or return ring
}

// Data is the frame from the current head to the tail.
func (p *Packet) Data() []byte { return p.buf[p.head:p.tail] }

// Len is the length of Data.
func (p *Packet) Len() int { return p.tail - p.head }

// Head is the offset of the start of data in the buffer.
func (p *Packet) Head() int { return p.head }

// Buf is the whole buffer, for code that works with header offsets.
func (p *Packet) Buf() []byte { return p.buf }

// Index is the packet's position in its pool.
func (p *Packet) Index() uint32 { return p.index }

// Pool is the pool the packet belongs to.
func (p *Packet) Pool() *Pool { return p.pool }

// RxBuf returns the room for a received frame: MaxData bytes (MaxBigData
// for a big packet) starting at Headroom. After writing n bytes into it call SetLen(n).
func (p *Packet) RxBuf() []byte { return p.buf[Headroom:] }

// SetLen makes the data the n bytes at Headroom (a freshly received frame).
func (p *Packet) SetLen(n int) {
	p.head = Headroom
	p.tail = Headroom + n
}

// SetHeadLen makes the data the n bytes at offset off of the buffer (a
// frame the kernel wrote into the buffer at an offset of its choosing, as
// AF_XDP does). It reports false if they do not fit.
func (p *Packet) SetHeadLen(off, n int) bool {
	if off < 0 || n < 0 || off+n > len(p.buf) {
		return false
	}
	p.head, p.tail = off, off+n
	return true
}

// SetData copies b in as the packet's data at Headroom. It reports false,
// copying nothing, if b does not fit.
func (p *Packet) SetData(b []byte) bool {
	if len(b) > len(p.buf)-Headroom {
		return false
	}
	p.SetLen(copy(p.buf[Headroom:], b))
	return true
}

// Pull removes n bytes from the front (a header being stripped). It reports
// false and changes nothing if there are fewer than n bytes.
func (p *Packet) Pull(n int) bool {
	if n < 0 || n > p.tail-p.head {
		return false
	}
	p.head += n
	return true
}

// Push prepends n bytes and returns them for the caller to fill, or nil if
// the headroom is used up.
func (p *Packet) Push(n int) []byte {
	if n < 0 || n > p.head {
		return nil
	}
	p.head -= n
	return p.buf[p.head : p.head+n]
}

// Trim cuts the data to n bytes (e.g. Ethernet padding after an IPv4
// total length). It reports false if n is negative or beyond the data.
func (p *Packet) Trim(n int) bool {
	if n < 0 || n > p.tail-p.head {
		return false
	}
	p.tail = p.head + n
	return true
}

// reset clears metadata for the next user of the buffer.
func (p *Packet) reset() {
	p.head, p.tail = Headroom, Headroom
	p.L2, p.L3 = -1, -1
	p.InIfindex, p.OutIfindex = -1, -1
	p.NextHop = 0
	p.Meta = 0
	p.GSO = GSO{}
}

// Big reports whether the packet is a big one (BigBufSize bytes).
func (p *Packet) Big() bool { return len(p.buf) > BufSize }

// GSOSegLen is the length of one full segment's IP packet of a super-frame
// whose data starts at its IP header: the IP and TCP or UDP headers plus
// GSO.Size. It is 0 when the packet is not a super-frame or its headers
// do not fit.
func (p *Packet) GSOSegLen() int {
	if p.GSO.Size == 0 {
		return 0
	}
	l4 := int(p.GSO.CsumStart)
	if l4 < p.head || l4+20 > p.tail {
		return 0
	}
	var l4len int
	switch p.GSO.Type &^ GSOECN {
	case GSOTCPv4, GSOTCPv6:
		l4len = int(p.buf[l4+12]>>4) * 4
	case GSOUDPL4:
		l4len = 8
	default:
		return 0
	}
	return l4 - p.head + l4len + int(p.GSO.Size)
}

// Resize makes the data n bytes long from the current head, growing into
// the tailroom if needed (new bytes are not cleared). It reports false if n
// does not fit.
func (p *Packet) Resize(n int) bool {
	if n < 0 || p.head+n > len(p.buf) {
		return false
	}
	p.tail = p.head + n
	return true
}

// Uint16 reads a big-endian 16-bit value at offset off of the buffer.
func (p *Packet) Uint16(off int) uint16 { return binary.BigEndian.Uint16(p.buf[off:]) }
