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
	// MaxData is the largest frame a packet can carry.
	MaxData = BufSize - Headroom
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

// RxBuf returns the room for a received frame: MaxData bytes starting at
// Headroom. After writing n bytes into it call SetLen(n).
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
	if len(b) > MaxData {
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
