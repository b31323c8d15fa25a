//go:build linux

package afpacket

import (
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/packet"
)

// setupV2 makes the Rx ring of q's socket a TPACKET_V2 ring of frame
// slots (its share of Config.Frames) and maps it. The kernel allocates the ring in blocks that slots may not
// straddle; blocks of one page (or one slot, if larger) are the easiest
// to find, and as Config.FrameSize is a power of two and Config.Frames
// fills whole blocks, the slots lie back to back in the mapping.
func (d *Driver) setupV2(q *rxq) error {
	c := &d.cfg
	if err := unix.SetsockoptInt(q.fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V2); err != nil {
		return fmt.Errorf("PACKET_VERSION TPACKET_V2: %w", err)
	}
	blockSize := max(os.Getpagesize(), c.FrameSize)
	frames := c.Frames / c.RxQueues // withV2Defaults made it whole pages
	size := frames * c.FrameSize
	req := unix.TpacketReq{
		Block_size: uint32(blockSize),
		Block_nr:   uint32(size / blockSize),
		Frame_size: uint32(c.FrameSize),
		Frame_nr:   uint32(frames),
	}
	if err := unix.SetsockoptTpacketReq(q.fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fmt.Errorf("PACKET_RX_RING %d frames of %d bytes: %w", frames, c.FrameSize, err)
	}
	if err := mapRing(q, size); err != nil {
		return err
	}
	r := &ring2{mem: q.mem, frameSize: c.FrameSize, frames: frames, opt: c.rxOpts()}
	if !c.NoVnetHdr {
		if err := setupCopy(q.fd); err != nil {
			return err
		}
		r.long = newCopyRx(q.fd, c.RxLong)
	}
	q.rx = r
	return nil
}

// ring2 walks a TPACKET_V2 receive ring: frames slots of frameSize bytes,
// each starting with a tpacket2_hdr whose first word, tp_status, says who
// owns the slot.
//
// Slots are used in ring order by both sides: the kernel writes a frame
// into slot k, sets its status to TP_STATUS_USER (last, after a write
// barrier) and wakes the poller, and takes slot k+1 for the next frame if
// the user has given it back (TP_STATUS_KERNEL), else it drops the frame.
// So the reader only ever looks at slot cur, starting from the first,
// where the kernel starts writing. (Two CPUs receiving at once may finish
// slots k and k+1 out of order; the reader then waits for k, which is
// a matter of nanoseconds.)
type ring2 struct {
	mem       []byte // the mapping: frames*frameSize bytes
	frameSize int
	frames    int
	opt       rxOpts

	cur int // slot being read, or waited for
	off int // offset of slot cur in mem

	// long reads the frames of TP_STATUS_COPY slots from the socket
	// (vnet headers only; nil otherwise, and the kernel then marks no
	// slot so).
	long *copyRx
}

// status is the status word of the slot at offset off. An atomic load
// that sees TP_STATUS_USER also sees the frame the kernel wrote before.
func (r *ring2) status(off int) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.mem[off]))
}

// pending implements rxRing.
func (r *ring2) pending() bool {
	return atomic.LoadUint32(r.status(r.off))&unix.TP_STATUS_USER != 0
}

// recv implements rxRing.
func (r *ring2) recv(pool *packet.Pool, pkts []*packet.Packet, cnt *driver.Counters) int {
	n := 0
	for n < len(pkts) {
		st := atomic.LoadUint32(r.status(r.off))
		if st&unix.TP_STATUS_USER == 0 {
			break
		}
		f, ok := r.peek(st)
		if !ok {
			cnt.RxErrors.Inc()
			r.drop(st, cnt)
			continue
		}
		if f.outgoing {
			// Not R2's to forward: a copy of what the interface sent.
			r.opt.outgoing.Inc()
			r.drop(st, cnt)
			continue
		}
		var p *packet.Packet
		more := true
		if st&unix.TP_STATUS_COPY != 0 && r.long != nil {
			p, more = r.long.take(pool, &f, &r.opt, cnt)
		} else {
			p, more = take(pool, &f, &r.opt, cnt)
		}
		if !more {
			break
		}
		if p != nil {
			pkts[n] = p
			n++
		}
		r.release()
	}
	return n
}

// drop gives slot cur, whose status word is status, back without taking
// its frame: a TP_STATUS_COPY slot's frame is consumed from the socket's
// queue first, so later slots still pair with their queue entries.
func (r *ring2) drop(status uint32, cnt *driver.Counters) {
	if status&unix.TP_STATUS_COPY != 0 && r.long != nil {
		r.long.discard(cnt)
	}
	r.release()
}

// peek reads the header of the frame in slot cur, whose status word is
// status. ok is false if it points outside the slot: a malformed slot,
// which the caller drops.
func (r *ring2) peek(status uint32) (f frame, ok bool) {
	slot := r.mem[r.off : r.off+r.frameSize]
	h := (*unix.Tpacket2Hdr)(unsafe.Pointer(&slot[0]))
	start := int(h.Mac)
	end := start + int(h.Snaplen)
	if start < unix.SizeofTpacket2Hdr || end > r.frameSize {
		return f, false
	}
	f = frame{
		data:   slot[start:end:end],
		wire:   int(h.Len),
		status: status,
		tci:    h.Vlan_tci,
		tpid:   h.Vlan_tpid,
		// The sockaddr_ll follows the header, aligned to 16 bytes.
		outgoing: outgoingAt(slot[(unix.SizeofTpacket2Hdr+15)&^15 : start]),
	}
	if r.opt.vnet {
		// The kernel writes the virtio_net_hdr just before the frame.
		if start-vnetHdrLen < unix.SizeofTpacket2Hdr {
			return f, false
		}
		f.vnet = slot[start-vnetHdrLen : start : start]
	}
	return f, true
}

// release gives slot cur back to the kernel and moves to the next. The
// atomic store orders every read of the slot before the kernel can see it
// free and write it again.
func (r *ring2) release() {
	atomic.StoreUint32(r.status(r.off), unix.TP_STATUS_KERNEL)
	r.cur++
	r.off += r.frameSize
	if r.cur == r.frames {
		r.cur, r.off = 0, 0
	}
}
