//go:build linux

package afpacket

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/driver"
)

var _ driver.Shedder = (*Driver)(nil)

// Shed implements driver.Shedder on a TPACKET_V2 ring, using the receive
// time the kernel writes into every frame header (tp_sec, tp_nsec). A
// TPACKET_V3 ring stamps frames as well, but hands them over in blocks;
// it sheds nothing. Shedding a frame costs a status load, the header read,
// the flow hash and the status store: no copy and no packet.
func (d *Driver) Shed(cutoff int64, max int, m *driver.FlowMeter) int {
	r, ok := d.rx.(*ring2)
	if !ok {
		return 0
	}
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
		if f, ok := r.peek(st); ok && !m.Heavy(f.data) {
			break
		}
		r.drop(st, &d.cnt)
		n++
	}
	return n
}
