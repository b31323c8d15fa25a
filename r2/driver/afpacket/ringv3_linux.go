//go:build linux

package afpacket

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/driver"
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

// setupV3 makes the Rx ring of q's socket a TPACKET_V3 ring of blocks (its
// share of Config.Blocks) and maps it.
func (d *Driver) setupV3(q *rxq) error {
	c := &d.cfg
	blocks := c.Blocks / c.RxQueues // withV3Defaults made it whole
	if err := unix.SetsockoptInt(q.fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fmt.Errorf("PACKET_VERSION TPACKET_V3: %w", err)
	}
	req := unix.TpacketReq3{
		Block_size:     uint32(c.BlockSize),
		Block_nr:       uint32(blocks),
		Frame_size:     uint32(c.FrameSize),
		Frame_nr:       uint32(blocks * (c.BlockSize / c.FrameSize)),
		Retire_blk_tov: c.blockTimeoutMs(),
	}
	if err := unix.SetsockoptTpacketReq3(q.fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fmt.Errorf("PACKET_RX_RING %d blocks of %d bytes: %w", blocks, c.BlockSize, err)
	}
	if err := mapRing(q, blocks*c.BlockSize); err != nil {
		return err
	}
	q.rx = &ring3{mem: q.mem, blockSize: c.BlockSize, blocks: blocks, opt: c.rxOpts()}
	return nil
}

// ring3 walks a TPACKET_V3 receive ring.
//
// Blocks are used in ring order by both sides: the kernel fills block k,
// retires it (status TP_STATUS_USER) and moves on to k+1 if the user has
// given it back (TP_STATUS_KERNEL), else it freezes the ring and drops
// until it is. So the reader only ever looks at block cur, starting from
// the first, where the kernel starts filling.
type ring3 struct {
	mem       []byte // the mapping: blocks*blockSize bytes
	blockSize int
	blocks    int
	opt       rxOpts

	cur  int    // block being read, or waited for
	base int    // offset of block cur in mem
	left uint32 // frames of block cur not yet read; 0: not yet opened
	off  int    // offset in block cur of the next frame's tpacket3_hdr
}

// status is the status word of the block at offset base. The kernel
// writes it last when it retires a block, so an atomic load that sees
// TP_STATUS_USER also sees every frame of the block.
func (r *ring3) status(base int) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.mem[base+bdStatus]))
}

// pending implements rxRing.
func (r *ring3) pending() bool {
	return r.left > 0 || atomic.LoadUint32(r.status(r.base))&unix.TP_STATUS_USER != 0
}

// recv implements rxRing.
func (r *ring3) recv(pool *packet.Pool, pkts []*packet.Packet, cnt *driver.Counters) int {
	n := 0
	for n < len(pkts) {
		if r.left == 0 {
			if !r.open() {
				break
			}
			continue
		}
		f, next, ok := r.peek()
		if !ok {
			cnt.RxErrors.Inc()
			r.release()
			continue
		}
		if f.outgoing {
			// Not R2's to forward: a copy of what the interface sent.
			r.opt.outgoing.Inc()
			if !r.advance(next) {
				cnt.RxErrors.Inc()
			}
			continue
		}
		p, more := take(pool, &f, &r.opt, cnt)
		if !more {
			break
		}
		if p != nil {
			pkts[n] = p
			n++
		}
		if !r.advance(next) {
			cnt.RxErrors.Inc()
		}
	}
	return n
}

// open takes block cur if the kernel has handed it over, and reports
// whether it did. An empty block is given back at once.
func (r *ring3) open() bool {
	if atomic.LoadUint32(r.status(r.base))&unix.TP_STATUS_USER == 0 {
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
func (r *ring3) release() {
	atomic.StoreUint32(r.status(r.base), unix.TP_STATUS_KERNEL)
	r.left = 0
	r.cur++
	r.base += r.blockSize
	if r.cur == r.blocks {
		r.cur, r.base = 0, 0
	}
}

// peek reads the header of the next frame of block cur; next is its
// tp_next_offset. ok is false if it points outside the block: a malformed
// block, which the caller drops.
func (r *ring3) peek() (f frame, next uint32, ok bool) {
	blk := r.mem[r.base : r.base+r.blockSize]
	off := r.off
	if off < bdHeaderSize || off > r.blockSize-unix.SizeofTpacket3Hdr {
		return f, 0, false
	}
	h := (*unix.Tpacket3Hdr)(unsafe.Pointer(&blk[off]))
	start := off + int(h.Mac)
	end := start + int(h.Snaplen)
	if int(h.Mac) < unix.SizeofTpacket3Hdr || end > r.blockSize {
		return f, 0, false
	}
	f = frame{
		data:   blk[start:end:end],
		wire:   int(h.Len),
		status: h.Status,
		tci:    uint16(h.Hv1.Vlan_tci),
		tpid:   h.Hv1.Vlan_tpid,
		// The sockaddr_ll follows the header, aligned to 16 bytes.
		outgoing: outgoingAt(blk[off+(unix.SizeofTpacket3Hdr+15)&^15 : start]),
	}
	if r.opt.vnet {
		// The kernel writes the virtio_net_hdr just before the frame.
		if int(h.Mac)-vnetHdrLen < unix.SizeofTpacket3Hdr {
			return f, 0, false
		}
		f.vnet = blk[start-vnetHdrLen : start : start]
	}
	return f, h.Next_offset, true
}

// advance moves past the frame just peeked, whose tp_next_offset is next,
// giving the block back after its last frame. It reports false if the
// block claims more frames but does not link to them; the block is then
// given back too.
func (r *ring3) advance(next uint32) bool {
	r.left--
	switch {
	case r.left == 0:
		r.release()
	case next == 0:
		r.release()
		return false
	default:
		r.off += int(next)
	}
	return true
}
