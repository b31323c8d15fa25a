//go:build linux

package afpacket

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/driver"
)

var _ driver.Shedder = (*Driver)(nil)

// Shed implements driver.Shedder, using the receive time the kernel writes
// into every frame header (tp_sec, tp_nsec). Shedding a frame costs the
// header read, the flow hash and, per slot or block, the status word: no
// copy and no packet. With several receive queues each ring is shed in
// turn, up to max frames in all.
func (d *Driver) Shed(cutoff int64, max int, m *driver.FlowMeter) int {
	n := 0
	for i := range d.qs {
		if n >= max {
			break
		}
		switch r := d.qs[i].rx.(type) {
		case *ring2:
			n += r.shed(cutoff, max-n, m, &d.cnt)
		case *ring3:
			n += r.shed(cutoff, max-n, m)
		}
	}
	return n
}

// HeadTime implements driver.Shedder: the kernel's receive time of the
// oldest frame at the head of a ring (false with no frame handed over
// yet).
func (d *Driver) HeadTime() (int64, bool) {
	oldest, found := int64(0), false
	for i := range d.qs {
		if t, ok := headTime(d.qs[i].rx); ok && (!found || t < oldest) {
			oldest, found = t, true
		}
	}
	return oldest, found
}

// headTime is the receive time of the frame the reader of rx is at.
func headTime(rx rxRing) (int64, bool) {
	switch r := rx.(type) {
	case *ring2:
		if atomic.LoadUint32(r.status(r.off))&unix.TP_STATUS_USER == 0 {
			return 0, false
		}
		h := (*unix.Tpacket2Hdr)(unsafe.Pointer(&r.mem[r.off]))
		return int64(h.Sec)*1e9 + int64(h.Nsec), true
	case *ring3:
		if h := r.head(); h != nil {
			return int64(h.Sec)*1e9 + int64(h.Nsec), true
		}
	}
	return 0, false
}

// shed drops frames from the head of a TPACKET_V2 ring: see Shed. A
// TP_STATUS_COPY slot's queued frame is read and dropped with it (one
// system call, counted in cnt).
func (r *ring2) shed(cutoff int64, max int, m *driver.FlowMeter, cnt *driver.Counters) int {
	n := 0
	for n < max {
		st := atomic.LoadUint32(r.status(r.off))
		if st&unix.TP_STATUS_USER == 0 {
			break
		}
		h := (*unix.Tpacket2Hdr)(unsafe.Pointer(&r.mem[r.off]))
		if int64(h.Sec)*1e9+int64(h.Nsec) >= cutoff {
			break
		}
		if f, ok := r.peek(st); ok && !m.Sheddable(f.data) {
			break
		}
		r.drop(st, cnt)
		n++
	}
	return n
}

// head is the header of the next frame of a TPACKET_V3 ring, opening the
// next block if the kernel has handed it over; nil if there is none or it
// is malformed (recv counts it).
func (r *ring3) head() *unix.Tpacket3Hdr {
	for r.left == 0 {
		if !r.open() {
			return nil
		}
	}
	if _, _, ok := r.peek(); !ok {
		return nil
	}
	return (*unix.Tpacket3Hdr)(unsafe.Pointer(&r.mem[r.base+r.off]))
}

// shed drops frames from the head of a TPACKET_V3 ring, frame by frame
// (a block goes back to the kernel after its last one): see Shed. The
// deep V3 ring (thousands of small frames) absorbs the thread's absences
// and shedding keeps its standing queue short.
func (r *ring3) shed(cutoff int64, max int, m *driver.FlowMeter) int {
	n := 0
	for n < max {
		h := r.head()
		if h == nil || int64(h.Sec)*1e9+int64(h.Nsec) >= cutoff {
			break
		}
		f, next, _ := r.peek() // head checked it
		if !m.Sheddable(f.data) {
			break
		}
		r.advance(next) // a malformed link releases the block: shed with it
		n++
	}
	return n
}
