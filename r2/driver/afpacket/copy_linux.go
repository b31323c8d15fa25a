//go:build linux

package afpacket

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/packet"
)

// setupCopy turns the copy path on for the TPACKET_V2 ring of socket fd
// with vnet headers: with PACKET_COPY_THRESH, a frame longer than a slot
// still gets its slot (its header, its virtio_net_hdr and the part that fits, marked
// TP_STATUS_COPY), and the kernel queues the whole frame, without copying
// it, on the socket's receive queue, where recvmsg reads it. Slots and
// queue entries are made under one lock, so the queue holds the long
// frames in the order of their slots. The queue is bounded by the receive
// buffer: a frame arriving while it is full gets a truncated slot without
// TP_STATUS_COPY, which Recv drops as truncated (RxErrors).
func setupCopy(fd int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_COPY_THRESH, 1); err != nil {
		return fmt.Errorf("PACKET_COPY_THRESH: %w", err)
	}
	// SO_RCVBUFFORCE passes net.core.rmem_max but needs CAP_NET_ADMIN;
	// without it take what SO_RCVBUF gives (a smaller queue only drops
	// super-frames sooner under a backlog, and that is counted).
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, CopyRcvBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, CopyRcvBuf)
	}
	return nil
}

// copyRx reads the frames of TP_STATUS_COPY slots from the socket's queue,
// one recvmsg each, straight into a packet: the frame is copied once, from
// the kernel's buffers, where a slot big enough for it would cost two
// copies (into the slot, then into a packet) and make every slot, and so
// the whole ring, 34 times larger. Owned by the ring's owner thread.
type copyRx struct {
	fd   int
	long counters.Counter // frames read (Config.RxLong)
	// recvmsg's vectors, preallocated and reused to avoid allocations:
	// the virtio_net_hdr the kernel puts first, then the packet's room.
	vnet [vnetHdrLen]byte
	iov  [2]unix.Iovec
	msg  unix.Msghdr
}

// newCopyRx returns the copy path of socket fd.
func newCopyRx(fd int, long counters.Counter) *copyRx {
	c := &copyRx{fd: fd, long: long}
	c.iov[0].Base = &c.vnet[0]
	c.iov[0].SetLen(vnetHdrLen)
	c.msg.Iov = &c.iov[0]
	c.msg.SetIovlen(len(c.iov))
	return c
}

// take is the take of a TP_STATUS_COPY slot, whose header f describes (its
// data truncated, its wire length whole): it reads the frame the slot
// stands for from the queue into a packet of pool or of its big pool. It
// returns as take does: nil and more false (the pool is empty, nothing
// read: the slot stays for a later call), or the frame's packet, or nil
// for a frame dropped and counted, whose queue entry is consumed too.
func (c *copyRx) take(pool *packet.Pool, f *frame, o *rxOpts, cnt *driver.Counters) (p *packet.Packet, more bool) {
	limit := o.maxFrame
	if len(f.vnet) == vnetHdrLen && f.vnet[1] != vnetGSONone {
		limit = o.maxGSO
	}
	tag := 0 // the VLAN tag the kernel stripped, put back in front
	if f.status&unix.TP_STATUS_VLAN_VALID != 0 {
		tag = 4
	}
	size := f.wire + tag
	from := pool
	if size > packet.MaxData {
		from = pool.Big()
	}
	if size > limit || f.wire < 14 || from == nil {
		c.discard(cnt)
		cnt.RxErrors.Inc()
		return nil, true
	}
	if p = from.Get(); p == nil {
		cnt.RxNoBuf.Inc()
		return nil, false
	}
	buf := p.RxBuf()
	n, ok := c.recv(buf[tag:size], cnt)
	if !ok || n != f.wire {
		// Not the frame the slot announced: cannot happen while slots
		// and queue entries pair up one to one.
		pool.Free(p)
		cnt.RxErrors.Inc()
		return nil, true
	}
	if tag != 0 {
		tpid := uint16(0x8100)
		if f.status&tpStatusVLANTPIDValid != 0 && f.tpid != 0 {
			tpid = f.tpid
		}
		hdr.TagBack(buf, tpid, f.tci)
	}
	p.SetLen(size)
	// The header recvmsg wrote describes the frame read (the slot's
	// is the same); data stays nil, so vlanTagBack sees the tag by the
	// status alone.
	if !readVnet(p, &frame{status: f.status, vnet: c.vnet[:]}) {
		pool.Free(p)
		cnt.RxErrors.Inc()
		return nil, true
	}
	c.long.Inc()
	return p, true
}

// discard consumes the queue entry of a TP_STATUS_COPY slot dropped
// without its frame (oversized, malformed, shed).
func (c *copyRx) discard(cnt *driver.Counters) { c.recv(nil, cnt) }

// recv reads the next queued frame into b with recvmsg (never blocking)
// and returns its whole length, longer than b if the frame was (MSG_TRUNC:
// the rest is discarded), or false if the queue was empty.
func (c *copyRx) recv(b []byte, cnt *driver.Counters) (int, bool) {
	c.iov[1].Base = unsafe.SliceData(b)
	c.iov[1].SetLen(len(b))
	r, _, errno := unix.Syscall(unix.SYS_RECVMSG, uintptr(c.fd), uintptr(unsafe.Pointer(&c.msg)), unix.MSG_DONTWAIT|unix.MSG_TRUNC)
	c.iov[1].Base = nil // do not keep the packet reachable from here
	cnt.Syscalls.Inc()
	if errno != 0 || int(r) < vnetHdrLen {
		return 0, false
	}
	return int(r) - vnetHdrLen, true
}
