//go:build linux

package afpacket

import (
	"encoding/binary"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/packet"
)

// Offsets in a TPACKET_V3 block descriptor (struct tpacket_block_desc,
// whose hdr is a struct tpacket_hdr_v1).
const (
	bdStatus     = 8  // block_status: TP_STATUS_KERNEL or TP_STATUS_USER|...
	bdNumPkts    = 12 // num_pkts: frames in the block
	bdFirstPkt   = 16 // offset_to_first_pkt, from the start of the block
	bdHeaderSize = 48 // the descriptor, the least a block holds
)

// tpStatusVLANTPIDValid is TP_STATUS_VLAN_TPID_VALID (not in x/sys/unix):
// tp_vlan_tpid holds the stripped tag's TPID.
const tpStatusVLANTPIDValid = 1 << 6

// rxRing walks the TPACKET_V3 receive ring. It is owned by the driver's
// owner thread; the kernel is the only other party, and the block status
// words are the only memory both write.
//
// Blocks are used in ring order by both sides: the kernel fills block k,
// retires it (status TP_STATUS_USER) and moves on to k+1 if the user has
// given it back (TP_STATUS_KERNEL), else it freezes the ring and drops
// until it is. So the reader only ever looks at block cur.
type rxRing struct {
	mem       []byte // the mapping: blocks*blockSize bytes
	blockSize int
	blocks    int
	maxFrame  int // longest frame accepted, VLAN tag included

	cur  int    // block being read, or waited for
	base int    // offset of block cur in mem
	left uint32 // frames of block cur not yet read; 0: not yet opened
	off  int    // offset in block cur of the next frame's tpacket3_hdr
}

// init starts walking the ring mapped at mem from its first block, where
// the kernel starts filling.
func (r *rxRing) init(mem []byte, blockSize, blocks, maxFrame int) {
	*r = rxRing{mem: mem, blockSize: blockSize, blocks: blocks, maxFrame: maxFrame}
}

// reset forgets the ring and returns its mapping for unmapping (nil if
// none); pending and Recv then see an empty ring.
func (r *rxRing) reset() []byte {
	mem := r.mem
	*r = rxRing{}
	return mem
}

// status is the status word of the block at offset base. The kernel
// writes it last when it retires a block, so an atomic load that sees
// TP_STATUS_USER also sees every frame of the block.
func (r *rxRing) status(base int) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.mem[base+bdStatus]))
}

// pending reports whether Recv has a frame to return.
func (r *rxRing) pending() bool {
	if r.left > 0 {
		return true
	}
	return r.mem != nil && atomic.LoadUint32(r.status(r.base))&unix.TP_STATUS_USER != 0
}

// open takes block cur if the kernel has handed it over, and reports
// whether it did. An empty block is given back at once.
func (r *rxRing) open() bool {
	if r.mem == nil || atomic.LoadUint32(r.status(r.base))&unix.TP_STATUS_USER == 0 {
		return false
	}
	blk := r.mem[r.base : r.base+r.blockSize]
	r.left = binary.NativeEndian.Uint32(blk[bdNumPkts:])
	r.off = int(binary.NativeEndian.Uint32(blk[bdFirstPkt:]))
	if r.left == 0 {
		r.release()
	}
	return true
}

// release gives block cur back to the kernel and moves to the next. The
// atomic store orders every read of the block before the kernel can see
// it free and write it again.
func (r *rxRing) release() {
	atomic.StoreUint32(r.status(r.base), unix.TP_STATUS_KERNEL)
	r.left = 0
	r.cur++
	r.base += r.blockSize
	if r.cur == r.blocks {
		r.cur, r.base = 0, 0
	}
}

// frame is what Recv needs of one tpacket3_hdr.
type frame struct {
	data   []byte // tp_snaplen bytes at tp_mac
	wire   int    // tp_len
	next   uint32 // tp_next_offset
	status uint32 // tp_status
	tci    uint16 // stripped VLAN tag, if status says so
	tpid   uint16
}

// size is the length of f once its VLAN tag is back.
func (f *frame) size() int {
	if f.status&unix.TP_STATUS_VLAN_VALID != 0 {
		return len(f.data) + 4
	}
	return len(f.data)
}

// peek reads the header of the next frame of block cur. ok is false if it
// points outside the block: a malformed block, which the caller drops.
func (r *rxRing) peek() (f frame, ok bool) {
	blk := r.mem[r.base : r.base+r.blockSize]
	off := r.off
	if off < bdHeaderSize || off > r.blockSize-unix.SizeofTpacket3Hdr {
		return f, false
	}
	h := (*unix.Tpacket3Hdr)(unsafe.Pointer(&blk[off]))
	start := off + int(h.Mac)
	end := start + int(h.Snaplen)
	if int(h.Mac) < unix.SizeofTpacket3Hdr || end > r.blockSize {
		return f, false
	}
	return frame{
		data:   blk[start:end:end],
		wire:   int(h.Len),
		next:   h.Next_offset,
		status: h.Status,
		tci:    uint16(h.Hv1.Vlan_tci),
		tpid:   h.Hv1.Vlan_tpid,
	}, true
}

// advance moves past the frame f just peeked, giving the block back after
// its last frame. It reports false if the block claims more frames but
// does not link to them; the block is then given back too.
func (r *rxRing) advance(f *frame) bool {
	r.left--
	switch {
	case r.left == 0:
		r.release()
	case f.next == 0:
		r.release()
		return false
	default:
		r.off += int(f.next)
	}
	return true
}

// Recv implements driver.Driver: it copies up to len(pkts) frames from the
// ring into packets of pool. It makes no system call and never blocks.
func (d *Driver) Recv(pool *packet.Pool, pkts []*packet.Packet) int {
	r := &d.rx
	n := 0
	for n < len(pkts) {
		if r.left == 0 {
			if !r.open() {
				break
			}
			continue
		}
		f, ok := r.peek()
		if !ok {
			d.cnt.RxErrors.Inc()
			r.release()
			continue
		}
		// Truncated (longer than a block), oversized or runt: drop it
		// before it takes a packet.
		if len(f.data) != f.wire || f.size() > r.maxFrame || len(f.data) < 14 {
			d.cnt.RxErrors.Inc()
			if !r.advance(&f) {
				d.cnt.RxErrors.Inc()
			}
			continue
		}
		p := pool.Get()
		if p == nil {
			// Leave the frame in the ring for a later call.
			d.cnt.RxNoBuf.Inc()
			break
		}
		p.SetLen(copyFrame(p.RxBuf(), &f))
		if f.status&unix.TP_STATUS_CSUMNOTREADY != 0 {
			// A local sender left the checksum to "hardware" (a veth
			// peer with checksum offload): finish it, or the receiver
			// drops what we forward.
			hdr.CompleteChecksum(p.Data())
			d.cnt.RxCsumFixed.Inc()
		}
		pkts[n] = p
		n++
		if !r.advance(&f) {
			d.cnt.RxErrors.Inc()
		}
	}
	if n > 0 {
		d.cnt.RxBatches.Inc()
	}
	return n
}

// copyFrame copies f into buf, the Rx room of a packet, putting back the
// VLAN tag the kernel stripped, and returns the frame's length. The caller
// checked that it fits.
func copyFrame(buf []byte, f *frame) int {
	if f.status&unix.TP_STATUS_VLAN_VALID == 0 {
		return copy(buf, f.data)
	}
	tpid := uint16(0x8100)
	if f.status&tpStatusVLANTPIDValid != 0 && f.tpid != 0 {
		tpid = f.tpid
	}
	copy(buf[:12], f.data[:12])
	binary.BigEndian.PutUint16(buf[12:], tpid)
	binary.BigEndian.PutUint16(buf[14:], f.tci)
	return 16 + copy(buf[16:], f.data[12:])
}
