//go:build linux

package afxdp

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// An AF_XDP ring is a power-of-two array of descriptors plus a producer and
// a consumer index (free-running uint32 counters, an entry's slot being
// index&mask) and a flags word, all in memory the kernel maps for the
// socket. Each ring has one producer and one consumer, so the only
// synchronisation is the index word the other side reads: the producer
// writes descriptors, then stores its index (a release); the consumer loads
// that index (an acquire), reads the descriptors, then stores its own
// index. Go's sync/atomic loads and stores are sequentially consistent,
// which is stronger than needed and costs nothing more on x86 and arm64
// for loads.
//
// The offsets of the three words and of the descriptor array come from
// getsockopt(XDP_MMAP_OFFSETS); the mmap page offset picks the ring:
// XDP_PGOFF_RX_RING, XDP_PGOFF_TX_RING, XDP_UMEM_PGOFF_FILL_RING,
// XDP_UMEM_PGOFF_COMPLETION_RING. Fill and completion rings carry UMEM
// addresses (uint64); Rx and Tx rings carry struct xdp_desc (address,
// length, options: 16 bytes).
//
// Both sides cache the other's index and reload it only when the cached
// value says the ring is full (producer) or empty (consumer), so a batch
// costs one shared-cache-line load and one store.
type ring struct {
	mem      []byte  // the mapping
	producer *uint32 // in mem
	consumer *uint32 // in mem
	flags    *uint32 // in mem: XDP_RING_NEED_WAKEUP
	mask     uint32  // entries-1
	entries  uint32

	// prod and cons are this side's view: for a ring we produce into
	// (fill, Tx), prod is our next index and cons the kernel's consumer
	// index last loaded; for a ring we consume (completion, Rx), cons is
	// our next index and prod the kernel's producer index last loaded.
	prod, cons uint32
	// published is the producer index last stored, so that submit
	// writes the shared word only when there is something new.
	published uint32
}

// addrRing is a fill or completion ring.
type addrRing struct {
	ring
	descs []uint64 // in mem
}

// descRing is an Rx or Tx ring.
type descRing struct {
	ring
	descs []unix.XDPDesc // in mem
}

// mapRing maps the ring at page offset pgoff of the socket, with entries
// descriptors of descSize bytes at off.Desc.
func mapRing(fd int, pgoff int64, off unix.XDPRingOffset, entries int, descSize int) (ring, error) {
	size := int(off.Desc) + entries*descSize
	mem, err := unix.Mmap(fd, pgoff, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return ring{}, err
	}
	r := ring{
		mem:      mem,
		producer: (*uint32)(unsafe.Pointer(&mem[off.Producer])),
		consumer: (*uint32)(unsafe.Pointer(&mem[off.Consumer])),
		flags:    (*uint32)(unsafe.Pointer(&mem[off.Flags])),
		mask:     uint32(entries - 1),
		entries:  uint32(entries),
	}
	// A fresh ring has both indexes at 0, but read them anyway: that is
	// the contract.
	r.prod = atomic.LoadUint32(r.producer)
	r.cons = atomic.LoadUint32(r.consumer)
	r.published = r.prod
	return r, nil
}

func mapAddrRing(fd int, pgoff int64, off unix.XDPRingOffset, entries int) (addrRing, error) {
	r, err := mapRing(fd, pgoff, off, entries, 8)
	if err != nil {
		return addrRing{}, err
	}
	return addrRing{ring: r, descs: unsafe.Slice((*uint64)(unsafe.Pointer(&r.mem[off.Desc])), entries)}, nil
}

func mapDescRing(fd int, pgoff int64, off unix.XDPRingOffset, entries int) (descRing, error) {
	r, err := mapRing(fd, pgoff, off, entries, int(unsafe.Sizeof(unix.XDPDesc{})))
	if err != nil {
		return descRing{}, err
	}
	return descRing{ring: r, descs: unsafe.Slice((*unix.XDPDesc)(unsafe.Pointer(&r.mem[off.Desc])), entries)}, nil
}

// unmap releases the mapping (if any) and zeroes r, so every method sees
// an empty ring afterwards.
func (r *ring) unmap() error {
	if r.mem == nil {
		return nil
	}
	err := unix.Munmap(r.mem)
	*r = ring{}
	return err
}

// mapped reports whether the ring exists.
func (r *ring) mapped() bool { return r.mem != nil }

// free returns how many entries the producer may write now, at least want
// if possible without reloading the consumer index.
func (r *ring) free(want uint32) uint32 {
	n := r.cons + r.entries - r.prod
	if n >= want {
		return n
	}
	r.cons = atomic.LoadUint32(r.consumer)
	return r.cons + r.entries - r.prod
}

// submit publishes the entries written since the last submit.
func (r *ring) submit() {
	if r.prod != r.published {
		atomic.StoreUint32(r.producer, r.prod)
		r.published = r.prod
	}
}

// avail returns how many entries the consumer may read now, reloading the
// producer index when the cached one shows nothing.
func (r *ring) avail() uint32 {
	n := r.prod - r.cons
	if n > 0 {
		return n
	}
	r.prod = atomic.LoadUint32(r.producer)
	return r.prod - r.cons
}

// release gives the entries read since the last release back.
func (r *ring) release() { atomic.StoreUint32(r.consumer, r.cons) }

// ready reports, for a ring we consume, whether the kernel has produced
// entries we have not read. It does not update the cache.
func (r *ring) ready() bool {
	return r.mem != nil && atomic.LoadUint32(r.producer) != r.cons
}

// unconsumed reports, for a ring we produce, whether the kernel has yet to
// consume entries we submitted.
func (r *ring) unconsumed() bool {
	return r.mem != nil && atomic.LoadUint32(r.consumer) != r.prod
}

// consumed loads the kernel's consumer index of a ring we produce.
func (r *ring) consumed() uint32 { return atomic.LoadUint32(r.consumer) }

// needWakeup reports whether the kernel set XDP_RING_NEED_WAKEUP.
func (r *ring) needWakeup() bool {
	return atomic.LoadUint32(r.flags)&unix.XDP_RING_NEED_WAKEUP != 0
}

// getMmapOffsets reads the ring layout of the socket (struct
// xdp_mmap_offsets, the version with flags, Linux 5.4+).
func getMmapOffsets(fd int) (unix.XDPMmapOffsets, error) {
	var off unix.XDPMmapOffsets
	size := uint32(unsafe.Sizeof(off))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_XDP, unix.XDP_MMAP_OFFSETS,
		uintptr(unsafe.Pointer(&off)), uintptr(unsafe.Pointer(&size)), 0)
	if e != 0 {
		return off, e
	}
	if size != uint32(unsafe.Sizeof(off)) {
		// Pre-5.4 kernels answer with the layout without flags.
		return off, fmt.Errorf("XDP_MMAP_OFFSETS: %d bytes, want %d (kernel before 5.4)", size, unsafe.Sizeof(off))
	}
	return off, nil
}

// getStatistics reads XDP_STATISTICS; older kernels fill only a prefix.
func getStatistics(fd int) (unix.XDPStatistics, error) {
	var st unix.XDPStatistics
	size := uint32(unsafe.Sizeof(st))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_XDP, unix.XDP_STATISTICS,
		uintptr(unsafe.Pointer(&st)), uintptr(unsafe.Pointer(&size)), 0)
	if e != 0 {
		return st, e
	}
	return st, nil
}

// registerUMEM registers mem (page-aligned, a whole number of frames) as
// the socket's UMEM, in aligned mode with FrameSize chunks and no headroom
// of our own.
func registerUMEM(fd int, mem []byte) error {
	reg := unix.XDPUmemReg{
		Addr: uint64(uintptr(unsafe.Pointer(unsafe.SliceData(mem)))),
		Len:  uint64(len(mem)),
		Size: FrameSize,
	}
	_, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.SOL_XDP, unix.XDP_UMEM_REG,
		uintptr(unsafe.Pointer(&reg)), unsafe.Sizeof(reg), 0)
	if e != 0 {
		return e
	}
	return nil
}

// pageAligned reports whether mem starts on a page boundary, as a UMEM
// must.
func pageAligned(mem []byte, pageSize int) bool {
	return len(mem) > 0 && uintptr(unsafe.Pointer(unsafe.SliceData(mem)))%uintptr(pageSize) == 0
}

// kick makes the kernel look at the Tx ring (and, in copy mode, transmit
// up to the Tx budget): sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0). A raw
// syscall, so that it allocates nothing.
func kick(fd int) unix.Errno {
	_, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
	return e
}

// wakeRx wakes a zero-copy driver that stopped reading the fill ring
// (XDP_RING_NEED_WAKEUP on it): recvfrom(fd, NULL, 0, MSG_DONTWAIT, ...).
func wakeRx(fd int) unix.Errno {
	_, _, e := unix.Syscall6(unix.SYS_RECVFROM, uintptr(fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
	return e
}
