//go:build linux

package afxdp

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/packet"
)

// frameShift is log2(FrameSize): a UMEM address is frame<<frameShift plus
// the offset of the data in the frame.
const frameShift = 11

// Compile-time check that 1<<frameShift == FrameSize (a negative untyped
// constant does not convert to uint).
const (
	_ uint = FrameSize - 1<<frameShift
	_ uint = 1<<frameShift - FrameSize
)

// Ownership bits (see Driver.held).
func (d *Driver) setHeld(i uint32)           { d.held[i>>6] |= 1 << (i & 63) }
func (d *Driver) clearHeld(i uint32)         { d.held[i>>6] &^= 1 << (i & 63) }
func (d *Driver) isHeld(i uint32) bool       { return d.held[i>>6]&(1<<(i&63)) != 0 }
func (d *Driver) frameOf(addr uint64) uint32 { return uint32(addr >> frameShift) }

// Recv implements driver.Driver. Received frames are already packets of
// Config.Pool (the kernel wrote them into pool memory): Recv hands them
// over, data at the offset the kernel chose (256 in copy mode), then lends
// as many fresh packets to the fill ring. pool must be Config.Pool, the
// owner thread's. It also reaps Tx completions and retries a Tx kick the
// kernel cut short. When the pool cannot refill the fill ring, Recv counts
// RxNoBuf; frames keep coming while the kernel has buffers left, then the
// kernel drops (Stats.RxDropped).
func (d *Driver) Recv(pool *packet.Pool, pkts []*packet.Packet) int {
	if d.fd < 0 {
		return 0
	}
	if d.txHeld > 0 {
		d.reap()
	}
	if d.txKick {
		d.kickTx()
	}
	if len(d.waiting) > 0 {
		d.sendWaiting(pool)
	}
	n := 0
	if len(d.carry) > 0 {
		var more bool
		if n, more = d.recvCarried(pkts); more {
			d.cnt.RxBatches.Inc()
			return n
		}
	}
	n += d.sched.Recv(d, pool, pkts[n:])
	if d.sup != nil && d.sup.waiting() {
		// After the rings: see mergeSuper.
		n = d.mergeSuper(pkts, n)
	}
	if n < len(pkts) && d.neigh.ready() {
		// Copies of the host's ARP and ND (host-owned mode only).
		n += d.neigh.recv(d.pool, pkts[n:])
	}
	d.topUp()
	if n > 0 {
		d.cnt.RxBatches.Inc()
	}
	return n
}

// RecvRing implements driver.RxRings: it hands over up to len(pkts)
// frames of Rx ring ring. pool is Config.Pool (Recv checked).
func (d *Driver) RecvRing(ring int, _ *packet.Pool, pkts []*packet.Packet) int {
	r := &d.rx[ring]
	n := 0
	if avail := r.avail(); avail > 0 {
		// A frame of several descriptors makes one packet: n does
		// not move while its descriptors are read, so one that starts
		// with room for it ends with room for it, however many
		// descriptors it takes (the kernel publishes whole frames).
		start := r.cons
		var mbStamp int64 // of the last multi-buffer frame begun
		for ; avail > 0 && n < len(pkts); avail-- {
			desc := &r.descs[r.cons&r.mask]
			cont := desc.Options&unix.XDP_PKT_CONTD != 0
			if cont && d.mb.cur == nil && !d.mb.skip && d.mb.big != nil {
				// A multi-buffer frame starts: its big packet is
				// taken before its descriptors, so that with none
				// left the frame waits in the ring (the graph's Rx
				// throttling) instead of being dropped.
				p := d.mb.big.Get()
				if p == nil {
					d.cnt.RxNoBuf.Inc()
					break
				}
				p.SetLen(0)
				// Its stamp, for the order of super-frames
				// (insertByStamp) and the read mark.
				mbStamp = d.stamp(desc.Addr)
				binary.NativeEndian.PutUint64(p.Buf()[p.Head()-stampLen:], uint64(mbStamp))
				d.mb.cur = p
			}
			r.cons++
			i := d.frameOf(desc.Addr)
			if i >= d.npkts || !d.isHeld(i) {
				// Not a frame we lent: never hand it out, nor
				// the rest of its multi-buffer frame.
				d.cnt.RxErrors.Inc()
				d.mb.abort(cont)
				continue
			}
			if cont || d.mb.cur != nil || d.mb.skip {
				// Part of a multi-buffer frame: copied into a big
				// packet, the chunk goes back to the kernel.
				p := d.gather(i, desc, cont)
				d.refill(i)
				if p != nil {
					d.rxFinish(p)
					pkts[n] = p
					n++
				}
				continue
			}
			p := d.pool.Packet(i)
			off, l := uint32(desc.Addr&(FrameSize-1))+d.stampSkip, desc.Len-d.stampSkip
			if desc.Len < d.stampSkip || l > d.maxFrame || !p.SetHeadLen(int(off), int(l)) {
				// Too long for the MTU (or past the chunk):
				// straight back to the kernel, still held.
				d.cnt.RxErrors.Inc()
				d.refill(i)
				continue
			}
			d.fillHeld--
			d.clearHeld(i)
			d.rxFinish(p)
			pkts[n] = p
			n++
		}
		if d.readMarks != nil && r.cons != start {
			// The last frame taken: the program may move its flows
			// now (readmark_linux.go). A chunk given back or of a
			// multi-buffer frame has lost its stamp; then the last
			// multi-buffer frame's, if any (older marks are safe).
			t := d.stamp(r.descs[(r.cons-1)&r.mask].Addr)
			if t == 0 {
				t = mbStamp
			}
			d.markRead(ring, t)
		}
		r.release()
	}
	return n
}

// RingPending implements driver.RxRings.
func (d *Driver) RingPending(ring int) bool { return d.rx[ring].ready() }

// FreshPending implements driver.FreshPender: a light ring has a frame.
func (d *Driver) FreshPending() bool { return d.sched.FreshPending(d) }

// refill puts UMEM frame i, which the kernel filled and the driver still
// holds, back on the fill ring (submitted by topUp). There is room: the
// ring has a slot for every frame lent.
func (d *Driver) refill(i uint32) {
	d.clearStamp(i)
	d.fill.descs[d.fill.prod&d.fill.mask] = uint64(i) << frameShift
	d.fill.prod++
}

// rxFinish marks a checksum a veth peer left partial as one to finish
// (markPartial; Config says whether to look).
func (d *Driver) rxFinish(p *packet.Packet) {
	if d.csumCheck && markPartial(p) {
		d.cnt.RxCsumFixed.Inc()
	}
}

// topUp lends pool packets to the fill ring until the kernel holds
// fillTarget of them, and submits what Recv put back. It counts RxNoBuf
// when the pool runs dry.
func (d *Driver) topUp() {
	want := d.fillTarget - d.fillHeld
	if want > 0 {
		want = min(want, d.fill.free(want))
		k := uint32(0)
		for ; k < want; k++ {
			p := d.pool.Get()
			if p == nil {
				d.cnt.RxNoBuf.Inc()
				break
			}
			i := p.Index()
			d.setHeld(i)
			d.clearStamp(i)
			d.fill.descs[d.fill.prod&d.fill.mask] = uint64(i) << frameShift
			d.fill.prod++
		}
		d.fillHeld += k
	}
	d.fill.submit()
	d.primed = true
	if d.needWakeup && d.fill.needWakeup() {
		wakeRx(d.fd)
		d.cnt.Syscalls.Inc()
	}
}

// reap frees the packets whose transmission the kernel has completed.
func (d *Driver) reap() {
	n := d.comp.avail()
	if n == 0 {
		return
	}
	for range n {
		i := d.frameOf(d.comp.descs[d.comp.cons&d.comp.mask])
		d.comp.cons++
		if i >= d.npkts || !d.isHeld(i) {
			d.cnt.TxErrors.Inc() // cannot happen: not a frame we sent
			continue
		}
		d.clearHeld(i)
		d.txHeld--
		d.pool.Free(d.pool.Packet(i))
	}
	d.comp.release()
}

// Send implements driver.Driver. Packets of Config.Pool go on the Tx ring
// as they are (their buffer is UMEM) and return to the pool when the
// kernel completes them; packets of other pools (handed over by other
// threads) are first copied into a packet of Config.Pool (TxCopies) and
// freed to pool at once. A sendto(2) kick makes the kernel transmit (one
// per call when the batch is within the Tx budget; see kickTx). Frames
// longer than MTU+18 bytes, and frames for which the Tx ring or the pool
// has no room, are dropped and counted in TxErrors. It returns how many
// frames went on the Tx ring.
//
// Super-frames and frames with a checksum left to finish (vnet.Needs),
// which come only while the driver offers them (Offloads), leave whole
// through the interface's AF_PACKET socket (d.vnet), counted in TxVnet.
// A flow's frames keep their order across the two paths (sendRuns); the
// count returned includes frames held for that, which leave later.
func (d *Driver) Send(pool *packet.Pool, pkts []*packet.Packet) int {
	if d.fd < 0 {
		d.cnt.TxErrors.Add(uint64(len(pkts)))
		for _, p := range pkts {
			pool.Free(p)
		}
		return 0
	}
	if d.vnet == nil {
		return d.sendRing(pool, pkts)
	}
	if len(d.waiting) > 0 {
		d.sendWaiting(pool)
		if len(d.waiting) > 0 {
			return d.wait(pool, pkts, false)
		}
	}
	return d.sendRuns(pool, pkts, false)
}

// sendWhole sends pkts through the interface's AF_PACKET socket and frees
// them to pool.
func (d *Driver) sendWhole(pool *packet.Pool, pkts []*packet.Packet) int {
	sent, calls := d.vnet.Send(pkts)
	d.cnt.Syscalls.Add(uint64(calls))
	d.cfg.TxVnet.Add(uint64(sent))
	d.vnetSent = d.vnetSent || sent > 0
	if sent < len(pkts) {
		d.cnt.TxErrors.Add(uint64(len(pkts) - sent))
	}
	for _, p := range pkts {
		pool.Free(p)
	}
	return sent
}

// Offloads implements driver.Offloader: super-frames and frames with a
// checksum to finish are taken while the AF_PACKET socket for them is
// open.
func (d *Driver) Offloads() bool { return d.vnet != nil }

// SuperFrames reports whether super-frames leave whole (Offloads) and, if
// not, why (for the log).
func (d *Driver) SuperFrames() (on bool, why string) { return d.vnet != nil, d.vnetWhy }

// sendRing puts pkts on the Tx ring (Send without super-frames).
func (d *Driver) sendRing(pool *packet.Pool, pkts []*packet.Packet) int {
	if d.txHeld > 0 {
		d.reap()
	}
	room := d.tx.free(uint32(len(pkts)))
	sent, descs := uint32(0), uint32(0)
	for _, p := range pkts {
		n := p.Len()
		if descs == room {
			// Sized for what Send expected; the kernel may have
			// consumed more since (or chains took several).
			room = descs + d.tx.free(1) // free counts from what is written
		}
		if uint32(n) > d.maxFrame || n == 0 || descs == room {
			d.cnt.TxErrors.Inc()
			pool.Free(p)
			continue
		}
		if n > packet.MaxData {
			// A big packet: a chain of chunks, if the socket takes
			// multi-buffer frames.
			k := d.sendMulti(p, &room, descs)
			if k == 0 {
				d.cnt.TxErrors.Inc()
			} else {
				d.copies.Inc()
				sent++
				descs += k
			}
			pool.Free(p)
			continue
		}
		if p.Pool() != d.pool {
			q := d.pool.Get()
			if q == nil {
				d.cnt.TxErrors.Inc()
				pool.Free(p)
				continue
			}
			q.SetData(p.Data())
			d.copies.Inc()
			pool.Free(p)
			p = q
		}
		i := p.Index()
		if d.isHeld(i) {
			// Sent twice in one batch, or sent while queued: a bug
			// upstream. The first copy is on its way; drop this one
			// without freeing it.
			d.cnt.TxErrors.Inc()
			continue
		}
		d.setHeld(i)
		desc := &d.tx.descs[d.tx.prod&d.tx.mask]
		desc.Addr = uint64(i)<<frameShift + uint64(p.Head())
		desc.Len = uint32(n)
		desc.Options = 0
		d.tx.prod++
		sent++
		descs++
	}
	if sent > 0 {
		d.tx.submit()
		d.txHeld += descs
		d.kickTx()
	}
	return int(sent)
}

// kickTx makes the kernel transmit what is on the Tx ring: always in copy
// mode (the kernel transmits only inside the kick, up to the Tx budget per
// call), only when the ring asks for it in zero-copy mode. It kicks again
// while the kernel makes progress and leaves descriptors behind. txKick
// stays set while descriptors remain (budget exhausted, device busy), so
// that Pending keeps the owner thread coming back; it is cleared when the
// interface is down, so a dead link does not make the thread spin (the
// next Send kicks again).
func (d *Driver) kickTx() {
	if d.zc && !d.tx.needWakeup() {
		d.txKick = false
		return
	}
	// One kick transmits up to the Tx budget; a batch larger than that
	// (or a kernel that stops early) takes a few more. The bound keeps
	// a device that drains slowly but steadily from holding the owner
	// thread: what is left waits for the next Recv or Send, and Pending
	// stays true meanwhile.
	kicks := (d.tx.prod-d.tx.consumed())/d.txBudget + 2
	for range kicks {
		before := d.tx.consumed()
		e := kick(d.fd)
		d.cnt.Syscalls.Inc()
		switch e {
		case unix.ENETDOWN, unix.ENXIO:
			d.txKick = false
			return
		case unix.EBUSY:
			// NET_XMIT_DROP: the device dropped one frame (its
			// completion still comes back).
			d.cnt.TxErrors.Inc()
		}
		after := d.tx.consumed()
		d.txKick = after != d.tx.prod
		if !d.txKick || after == before {
			return
		}
	}
}

// Pending reports whether the owner thread should call Recv again without
// waiting for Fd: the fill ring was never filled, the Rx ring has frames,
// completions wait to be reaped, or the kernel left Tx descriptors to kick
// again. Frames merely in flight (sent, not yet completed) do not count:
// their completion needs no action to arrive, and the next Recv or Send
// reaps it, so waiting for it would only make the thread spin.
func (d *Driver) Pending() bool {
	if d.fd < 0 {
		return false
	}
	if !d.primed || d.txKick || len(d.waiting) > 0 || (d.txHeld > 0 && d.comp.ready()) {
		return true
	}
	if len(d.carry) > 0 || d.sup != nil && d.sup.waiting() {
		return true
	}
	for i := range d.rx {
		if d.rx[i].ready() {
			return true
		}
	}
	return false
}
