package counters

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Kind says how many values a counter has and what they mean.
type Kind uint8

// Counter kinds.
const (
	KindSingle  Kind = 1 // one value
	KindPktByte Kind = 2 // packets, bytes
	KindArray   Kind = 3 // a small array, e.g. a histogram
)

func (k Kind) String() string {
	switch k {
	case KindSingle:
		return "single"
	case KindPktByte:
		return "pkt+byte"
	case KindArray:
		return "array"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

const (
	magic       = "R2CNTRS\x00"
	version     = 1
	headerSize  = 128
	entrySize   = 32
	flagLive    = 1
	maxNameLen  = 255
	maxArrayLen = 64

	offDirOff    = 16
	offDirCap    = 24
	offNamesOff  = 32
	offNamesCap  = 40
	offValsOff   = 48
	offValsCap   = 56
	offDirUsed   = 64
	offNamesUsed = 72
	offGen       = 80
)

// Sizes of a registry; the zero value of a field means its default.
type Sizes struct {
	Entries int // directory entries (default 65536)
	Names   int // bytes of names (default 2 MiB)
	Values  int // uint64 value slots (default 262144, 2 MiB)
}

func (s Sizes) withDefaults() Sizes {
	if s.Entries <= 0 {
		s.Entries = 65536
	}
	if s.Names <= 0 {
		s.Names = 2 << 20
	}
	if s.Values <= 0 {
		s.Values = 262144
	}
	return s
}

// ErrFull is returned when the directory, names or values area has no room.
var ErrFull = errors.New("counters: shared memory area is full")

// Registry allocates counters. It is used by the control side only and is
// safe for concurrent use; forwarding threads never touch it, they hold the
// counters it returned.
type Registry struct {
	mu    sync.Mutex
	mem   []byte // the whole mapping
	path  string // "" for an anonymous mapping
	dir   []byte
	names []byte
	vals  []uint64
	// free lists of released value runs, keyed by length, reused first so a
	// flapping interface does not exhaust the area.
	free map[int][]uint64
	// overflow receives the writes of counters that did not fit, so callers
	// never have to handle an allocation failure on a path that cannot fail.
	overflow  []uint64
	overflows uint64
}

// Create makes (or replaces) the counters file at path, typically
// /dev/shm/r2-<instance>-counters, and maps it read-write.
func Create(path string, s Sizes) (*Registry, error) {
	s = s.withDefaults()
	size := layoutSize(s)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("counters: create %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Truncate(int64(size)); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("counters: size %s: %w", path, err)
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("counters: mmap %s: %w", path, err)
	}
	r := newRegistry(mem, s)
	r.path = path
	return r, nil
}

// NewMem makes a registry in anonymous memory, for tests and for running
// without a shared-memory file.
func NewMem(s Sizes) (*Registry, error) {
	s = s.withDefaults()
	mem, err := unix.Mmap(-1, 0, layoutSize(s), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("counters: mmap anonymous: %w", err)
	}
	return newRegistry(mem, s), nil
}

func layoutSize(s Sizes) int {
	namesOff := headerSize + s.Entries*entrySize
	valsOff := (namesOff + s.Names + 7) &^ 7
	return valsOff + s.Values*8
}

func newRegistry(mem []byte, s Sizes) *Registry {
	namesOff := headerSize + s.Entries*entrySize
	valsOff := (namesOff + s.Names + 7) &^ 7
	le := binary.LittleEndian
	copy(mem, magic)
	le.PutUint32(mem[8:], version)
	le.PutUint32(mem[12:], entrySize)
	le.PutUint64(mem[offDirOff:], headerSize)
	le.PutUint64(mem[offDirCap:], uint64(s.Entries))
	le.PutUint64(mem[offNamesOff:], uint64(namesOff))
	le.PutUint64(mem[offNamesCap:], uint64(s.Names))
	le.PutUint64(mem[offValsOff:], uint64(valsOff))
	le.PutUint64(mem[offValsCap:], uint64(s.Values))
	// The values area is read as uint64 by both sides; the mapping is page
	// aligned and valsOff is 8-byte aligned, so this view is well aligned.
	vals := unsafe.Slice((*uint64)(unsafe.Pointer(&mem[valsOff])), s.Values)
	return &Registry{
		mem:      mem,
		dir:      mem[headerSize:namesOff],
		names:    mem[namesOff : namesOff+s.Names],
		vals:     vals[:0:s.Values],
		free:     map[int][]uint64{},
		overflow: make([]uint64, maxArrayLen),
	}
}

// Path is the file backing the registry, "" for anonymous memory.
func (r *Registry) Path() string { return r.path }

func (r *Registry) word(off int) *uint64 { return (*uint64)(unsafe.Pointer(&r.mem[off])) }

// Alloc reserves n values named name for thread and returns them. The slice
// points into shared memory and is written by that thread only.
func (r *Registry) Alloc(thread int, name string, kind Kind, n int) ([]uint64, error) {
	if name == "" || len(name) > maxNameLen {
		return nil, fmt.Errorf("counters: bad name %q (1 to %d bytes)", name, maxNameLen)
	}
	if n <= 0 || n > maxArrayLen {
		return nil, fmt.Errorf("counters: %s: bad number of values %d (1 to %d)", name, n, maxArrayLen)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	dirUsed := int(atomic.LoadUint64(r.word(offDirUsed)))
	namesUsed := int(*r.word(offNamesUsed))
	if (dirUsed+1)*entrySize > len(r.dir) || namesUsed+len(name) > len(r.names) {
		r.overflows++
		return nil, fmt.Errorf("counters: %s: %w", name, ErrFull)
	}
	var first int
	if runs := r.free[n]; len(runs) > 0 {
		first = int(runs[len(runs)-1])
		r.free[n] = runs[:len(runs)-1]
		clear(r.vals[first : first+n : first+n])
	} else {
		first = len(r.vals)
		if first+n > cap(r.vals) {
			r.overflows++
			return nil, fmt.Errorf("counters: %s: %w", name, ErrFull)
		}
		r.vals = r.vals[:first+n]
	}
	copy(r.names[namesUsed:], name)
	e := r.dir[dirUsed*entrySize : (dirUsed+1)*entrySize]
	le := binary.LittleEndian
	le.PutUint32(e[0:], uint32(namesUsed))
	le.PutUint16(e[4:], uint16(len(name)))
	e[6] = byte(kind)
	e[7] = flagLive
	le.PutUint32(e[8:], uint32(thread))
	le.PutUint32(e[12:], uint32(n))
	le.PutUint64(e[16:], uint64(first))
	*r.word(offNamesUsed) = uint64(namesUsed + len(name))
	atomic.StoreUint64(r.word(offDirUsed), uint64(dirUsed+1))
	atomic.AddUint64(r.word(offGen), 1)
	return r.vals[first : first+n : first+n], nil
}

// Release marks every live counter of thread whose name starts with prefix
// as gone (thread < 0: all threads), and recycles its values. It is used
// when a node leaves the graph, e.g. an interface is deleted.
func (r *Registry) Release(thread int, prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	le := binary.LittleEndian
	dirUsed := int(atomic.LoadUint64(r.word(offDirUsed)))
	released := 0
	for i := 0; i < dirUsed; i++ {
		e := r.dir[i*entrySize : (i+1)*entrySize]
		if e[7]&flagLive == 0 {
			continue
		}
		if thread >= 0 && int(le.Uint32(e[8:])) != thread {
			continue
		}
		off, l := le.Uint32(e[0:]), le.Uint16(e[4:])
		if !strings.HasPrefix(string(r.names[off:off+uint32(l)]), prefix) {
			continue
		}
		e[7] &^= flagLive
		n := int(le.Uint32(e[12:]))
		r.free[n] = append(r.free[n], le.Uint64(e[16:]))
		released++
	}
	if released > 0 {
		atomic.AddUint64(r.word(offGen), 1)
	}
	return released
}

// Overflows is the number of allocations that did not fit.
func (r *Registry) Overflows() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.overflows
}

// Counter allocates a single-value counter. It never fails: if the area is
// full the counter writes to a scratch slot and Overflows counts it.
func (r *Registry) Counter(thread int, name string) Counter {
	v, err := r.Alloc(thread, name, KindSingle, 1)
	if err != nil {
		return Counter{v: &r.overflow[0]}
	}
	return Counter{v: &v[0]}
}

// PktByte allocates a packets+bytes pair; like Counter it never fails.
func (r *Registry) PktByte(thread int, name string) PktByte {
	v, err := r.Alloc(thread, name, KindPktByte, 2)
	if err != nil {
		return PktByte{v: (*[2]uint64)(r.overflow[:2])}
	}
	return PktByte{v: (*[2]uint64)(v)}
}

// Array allocates n values (at most 64); like Counter it never fails.
func (r *Registry) Array(thread int, name string, n int) Array {
	v, err := r.Alloc(thread, name, KindArray, n)
	if err != nil {
		if n > len(r.overflow) || n <= 0 {
			n = len(r.overflow)
		}
		return Array{v: r.overflow[:n:n]}
	}
	return Array{v: v}
}

// Snapshot reads every live counter of this registry.
func (r *Registry) Snapshot() []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	es, _ := parse(r.mem)
	return es
}

// Close unmaps the memory. Counters handed out must no longer be written.
func (r *Registry) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mem == nil {
		return nil
	}
	err := unix.Munmap(r.mem)
	r.mem, r.dir, r.names, r.vals = nil, nil, nil, nil
	return err
}

// Remove closes the registry and deletes its file.
func (r *Registry) Remove() error {
	err := r.Close()
	if r.path != "" {
		if rmErr := os.Remove(r.path); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) && err == nil {
			err = rmErr
		}
	}
	return err
}

// Counter is one 64-bit value owned by one forwarding thread. Not safe for
// concurrent writers: only its thread writes it.
type Counter struct{ v *uint64 }

// Inc adds one.
func (c Counter) Inc() { *c.v++ }

// Add adds n.
func (c Counter) Add(n uint64) { *c.v += n }

// Store sets the counter, for a value kept elsewhere and published (the
// kernel's drop count of a socket, read by the control side).
func (c Counter) Store(v uint64) { *c.v = v }

// Value reads the counter (racy by design when read by another thread).
func (c Counter) Value() uint64 {
	if c.v == nil {
		return 0
	}
	return *c.v
}

// Valid reports whether the counter was allocated.
func (c Counter) Valid() bool { return c.v != nil }

// PktByte counts packets and their bytes.
type PktByte struct{ v *[2]uint64 }

// Add counts one packet of n bytes.
func (c PktByte) Add(n int) { c.v[0]++; c.v[1] += uint64(n) }

// AddN counts pkts packets totalling n bytes.
func (c PktByte) AddN(pkts, n int) { c.v[0] += uint64(pkts); c.v[1] += uint64(n) }

// Pkts is the packet count.
func (c PktByte) Pkts() uint64 {
	if c.v == nil {
		return 0
	}
	return c.v[0]
}

// Bytes is the byte count.
func (c PktByte) Bytes() uint64 {
	if c.v == nil {
		return 0
	}
	return c.v[1]
}

// Array is a small fixed array of values, e.g. a size histogram.
type Array struct{ v []uint64 }

// Inc adds one to value i; out-of-range indices are ignored.
func (a Array) Inc(i int) {
	if uint(i) < uint(len(a.v)) {
		a.v[i]++
	}
}

// Len is the number of values.
func (a Array) Len() int { return len(a.v) }

// Value reads value i.
func (a Array) Value(i int) uint64 { return a.v[i] }
