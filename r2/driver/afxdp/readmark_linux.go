//go:build linux

package afxdp

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// Read marks: what keeps light-flow steering from reordering a flow.
//
// Steering (Config.LightGap) moves a flow to another ring of its queue
// only across a gap in its frames, or after a dense run in ring 0, and a
// move is safe only if none of the flow's frames still waits in the ring
// it leaves: the thread would read the new ring's frames first (ring 0 is
// served first) and forward the flow out of order. A gap does not say
// that: a thread kept off its CPU (a loaded machine, CI) leaves frames in
// its rings longer than any gap (seen: 250 TCP segments overtaken by 64
// later ones after a 4 ms pause, with R2's thread 17 ms behind).
//
// So the driver tells the program how far it has read each ring: an array
// map of one u64 per XSKMAP slot, memory-mapped (BPF_F_MMAPABLE), into
// which RecvRing and Shed store, after taking frames from a ring, the
// stamp of the last one (the program's clock reading, which it also keeps
// as the flow's last time). The program moves a flow only when its ring's
// mark has reached the flow's previous frame (bpfasm.SteerRead); else the
// frame stays in the flow's ring. One atomic store per ring per Recv; no
// system call.

// readMarks is the mapped array of the rings' read marks of one program.
type readMarks struct {
	m   *ebpf.Map
	mem []byte
	// marks are mem as u64s, slot i the mark of XSKMAP slot i.
	marks []uint64
}

// newReadMarks makes the read-mark array of slots rings and maps it.
func newReadMarks(slots int) (*readMarks, error) {
	m, err := ebpf.NewMap(&ebpf.MapSpec{
		Name:       "r2_ring_read",
		Type:       ebpf.Array,
		KeySize:    4,
		ValueSize:  8,
		MaxEntries: uint32(slots),
		Flags:      unix.BPF_F_MMAPABLE,
	})
	if err != nil {
		return nil, fmt.Errorf("read-mark map: %w", err)
	}
	size := (slots*8 + unix.Getpagesize() - 1) &^ (unix.Getpagesize() - 1)
	mem, err := unix.Mmap(m.FD(), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("read-mark map: mmap: %w", err)
	}
	return &readMarks{m: m, mem: mem, marks: unsafe.Slice((*uint64)(unsafe.Pointer(&mem[0])), slots)}, nil
}

// of is the marks of a queue's rings, rings of them from slot queue*rings.
func (r *readMarks) of(queue, rings int) []uint64 {
	if r == nil {
		return nil
	}
	return r.marks[queue*rings : (queue+1)*rings : (queue+1)*rings]
}

// close unmaps the array and closes its map.
func (r *readMarks) close() error {
	r.marks = nil
	err := unix.Munmap(r.mem)
	if cerr := r.m.Close(); err == nil {
		err = cerr
	}
	return err
}

// markRead stores stamp t as ring's read mark, if the driver has marks
// and t is a stamp (not 0).
func (d *Driver) markRead(ring int, t int64) {
	if ring < len(d.readMarks) && t != 0 {
		atomic.StoreUint64(&d.readMarks[ring], uint64(t))
	}
}
