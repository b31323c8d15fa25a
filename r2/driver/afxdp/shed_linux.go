//go:build linux

package afxdp

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/driver"
)

// Shedding (driver.Shedder) needs to know how long a frame has waited in
// its Rx ring, which an AF_XDP descriptor does not say. R2's XDP program
// writes the time it ran (bpf_ktime_get_ns, CLOCK_MONOTONIC) into stampLen
// bytes of metadata just before the frame (stampRedirect), and the kernel
// copies the metadata into the UMEM chunk with the frame in copy mode (in
// zero-copy mode it is written there). A chunk's stamp slot is zeroed each
// time it is lent to the fill ring, so a device whose driver has no
// metadata support leaves 0 there, and 0 means "not stamped": such frames
// are never shed.

var _ driver.Shedder = (*Driver)(nil)

// stampOff is where a received frame's stamp lies in its chunk: just before
// the data, which the kernel puts XDP_PACKET_HEADROOM into the chunk.
const stampOff = xdpPacketHeadroom - stampLen

// clockEvery is how many HeadTime calls reuse the offset from the
// monotonic clock of the stamps to the wall clock of Shed's cutoff (two
// system calls to measure). The two advance together (NTP slews both);
// only a step of the wall clock moves the offset, and it is measured again
// after this many calls.
const clockEvery = 1 << 12

// clearStamp zeroes the stamp slot of chunk i before it is lent.
func (d *Driver) clearStamp(i uint32) {
	binary.NativeEndian.PutUint64(d.pool.Mem()[uint64(i)<<frameShift+stampOff:], 0)
}

// stamp is the monotonic time the program stamped the frame at UMEM
// address addr with, or 0: in the metadata before the frame, or in its
// first stampLen bytes (stampSkip).
func (d *Driver) stamp(addr uint64) int64 {
	if d.frameOf(addr) >= d.npkts {
		return 0
	}
	if d.stampSkip > 0 {
		if addr&(FrameSize-1)+stampLen > FrameSize {
			return 0
		}
		return int64(binary.NativeEndian.Uint64(d.pool.Mem()[addr:]))
	}
	if addr&(FrameSize-1) != xdpPacketHeadroom {
		return 0
	}
	return int64(binary.NativeEndian.Uint64(d.pool.Mem()[addr-stampLen:]))
}

// monoToWall measures the offset from CLOCK_MONOTONIC to the wall clock.
func monoToWall() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return 0
	}
	return time.Now().UnixNano() - ts.Nano()
}

// HeadTime implements driver.Shedder: the stamp of the oldest frame at the
// head of an Rx ring, on the wall clock (false when no ring has a stamped
// frame).
func (d *Driver) HeadTime() (int64, bool) {
	oldest := int64(0)
	for i := range d.rx {
		r := &d.rx[i]
		if r.avail() == 0 {
			continue
		}
		if t := d.stamp(r.descs[r.cons&r.mask].Addr); t != 0 && (oldest == 0 || t < oldest) {
			oldest = t
		}
	}
	if oldest == 0 {
		return 0, false
	}
	if d.clockCalls++; d.clockCalls >= clockEvery || d.clockOff == 0 {
		d.clockOff, d.clockCalls = monoToWall(), 0
	}
	return oldest + d.clockOff, true
}

// Shed implements driver.Shedder: from the head of each Rx ring in turn it
// gives back to the fill ring, uncopied, the frames stamped before cutoff
// whose flows m counts as heavy, up to max in all. It stops in a ring at
// its first frame that is younger, unstamped, light, or the start of a
// multi-buffer frame (those go to Recv).
func (d *Driver) Shed(cutoff int64, max int, m *driver.FlowMeter) int {
	if d.fd < 0 || d.clockOff == 0 {
		return 0
	}
	mono := cutoff - d.clockOff
	mem := d.pool.Mem()
	n := 0
	for i := range d.rx {
		r := &d.rx[i]
		k := 0
		var last int64
		for avail := r.avail(); avail > 0 && n < max; avail-- {
			desc := &r.descs[r.cons&r.mask]
			t := d.stamp(desc.Addr)
			if t == 0 || t >= mono || desc.Options&unix.XDP_PKT_CONTD != 0 ||
				desc.Len > FrameSize-xdpPacketHeadroom || desc.Len < d.stampSkip || !d.isHeld(d.frameOf(desc.Addr)) {
				break
			}
			if !m.Sheddable(mem[desc.Addr+uint64(d.stampSkip) : desc.Addr+uint64(desc.Len)]) {
				break
			}
			r.cons++
			d.refill(d.frameOf(desc.Addr))
			last = t
			k++
			n++
		}
		if k > 0 {
			d.markRead(i, last) // shed frames are taken too
			r.release()
		}
	}
	if n > 0 {
		d.fill.submit()
	}
	return n
}
