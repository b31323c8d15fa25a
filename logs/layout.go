package logs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

// Sizes and offsets of the file layout; doc.go describes them.
const (
	magic   = "R2LOGS\x00\x00"
	version = 1

	headerSize     = 256
	ringHeaderSize = 64
	// EntrySize is the size of an entry in bytes: a cache line, so writing
	// one touches one line, and a reader copies one line per entry.
	EntrySize = 64
	// MaxArgs is the number of arguments an entry carries. Four uint64 fit
	// the 64-byte entry next to the sequence word, time and format.
	MaxArgs = 4
	// MaxFormats is the number of formats a file can hold. R2 registers a
	// handful per node type; 256 slots take 32 KiB.
	MaxFormats     = 256
	formatSlotSize = 128
	// MaxFormatLen is the longest format in bytes: a slot less its length.
	MaxFormatLen = formatSlotSize - 2

	// MaxThreads bounds the number of rings; the entry stores the thread in
	// 16 bits, but a router never needs more than a few hundred.
	MaxThreads = 4096
	// MaxEntries bounds entries per ring (64 MiB of entries per thread).
	MaxEntries = 1 << 20

	pageSize = 4096

	// Header field offsets.
	offVersion        = 8
	offHeaderSize     = 12
	offThreads        = 16
	offEntries        = 20
	offEntrySize      = 24
	offFormatSlots    = 28
	offFormatSlotSize = 32
	offRingHeaderSize = 36
	offFormatsOff     = 40
	offRingsOff       = 48
	offRingStride     = 56
	offFileSize       = 64
	offCreated        = 72
	offPID            = 80
	offEnabled        = 128 // live, uint32
	offNumFormats     = 132 // live, uint32
	offClearGen       = 136 // live, uint64
)

// Errors returned by Open and Create; they are wrapped with the path, so test
// them with errors.Is.
var (
	ErrBadMagic  = errors.New("logs: not an R2 log file (bad magic)")
	ErrVersion   = errors.New("logs: unsupported log file version")
	ErrTruncated = errors.New("logs: log file is truncated")
	ErrCorrupt   = errors.New("logs: log file header is inconsistent")
	ErrClosed    = os.ErrClosed
)

// layout is the geometry of a file, computed by Create and checked by Open.
type layout struct {
	threads    int
	entries    int // per ring, a power of two
	formatsOff int
	ringsOff   int
	ringStride int
	size       int
}

func newLayout(threads, entries int) layout {
	l := layout{threads: threads, entries: entries, formatsOff: headerSize}
	l.ringsOff = roundUp(l.formatsOff+MaxFormats*formatSlotSize, pageSize)
	l.ringStride = roundUp(ringHeaderSize+entries*EntrySize, pageSize)
	l.size = l.ringsOff + threads*l.ringStride
	return l
}

// ring returns the offsets of ring t's header and of its first entry.
func (l layout) ring(t int) (hdr, entries int) {
	hdr = l.ringsOff + t*l.ringStride
	return hdr, hdr + ringHeaderSize
}

// writeHeader fills the constant part of the header. The live words are
// left zero: logging off, no formats, clear generation 0.
func (l layout) writeHeader(mem []byte, created int64, pid int) {
	le := binary.LittleEndian
	copy(mem, magic)
	le.PutUint32(mem[offVersion:], version)
	le.PutUint32(mem[offHeaderSize:], headerSize)
	le.PutUint32(mem[offThreads:], uint32(l.threads))
	le.PutUint32(mem[offEntries:], uint32(l.entries))
	le.PutUint32(mem[offEntrySize:], EntrySize)
	le.PutUint32(mem[offFormatSlots:], MaxFormats)
	le.PutUint32(mem[offFormatSlotSize:], formatSlotSize)
	le.PutUint32(mem[offRingHeaderSize:], ringHeaderSize)
	le.PutUint64(mem[offFormatsOff:], uint64(l.formatsOff))
	le.PutUint64(mem[offRingsOff:], uint64(l.ringsOff))
	le.PutUint64(mem[offRingStride:], uint64(l.ringStride))
	le.PutUint64(mem[offFileSize:], uint64(l.size))
	le.PutUint64(mem[offCreated:], uint64(created))
	le.PutUint32(mem[offPID:], uint32(pid))
}

// parseHeader checks the header of a file of fileSize bytes (mem holds at
// least its first headerSize bytes) and returns its layout. Readers accept
// only the geometry this version writes: the sizes are not negotiable.
func parseHeader(mem []byte, fileSize int64) (layout, error) {
	if m := mem[:min(len(mem), len(magic))]; string(m) != magic[:len(m)] {
		return layout{}, ErrBadMagic
	}
	if len(mem) < headerSize || fileSize < headerSize {
		return layout{}, fmt.Errorf("%w: %d bytes, the header alone is %d", ErrTruncated, fileSize, headerSize)
	}
	le := binary.LittleEndian
	if v := le.Uint32(mem[offVersion:]); v != version {
		return layout{}, fmt.Errorf("%w: %d (want %d)", ErrVersion, v, version)
	}
	threads := le.Uint32(mem[offThreads:])
	entries := le.Uint32(mem[offEntries:])
	if threads < 1 || threads > MaxThreads || entries < 1 || entries > MaxEntries || entries&(entries-1) != 0 {
		return layout{}, fmt.Errorf("%w: %d threads, %d entries per ring", ErrCorrupt, threads, entries)
	}
	l := newLayout(int(threads), int(entries))
	for _, c := range []struct {
		off  int
		want uint64
		wide bool
	}{
		{offHeaderSize, headerSize, false},
		{offEntrySize, EntrySize, false},
		{offFormatSlots, MaxFormats, false},
		{offFormatSlotSize, formatSlotSize, false},
		{offRingHeaderSize, ringHeaderSize, false},
		{offFormatsOff, uint64(l.formatsOff), true},
		{offRingsOff, uint64(l.ringsOff), true},
		{offRingStride, uint64(l.ringStride), true},
		{offFileSize, uint64(l.size), true},
	} {
		got := uint64(le.Uint32(mem[c.off:]))
		if c.wide {
			got = le.Uint64(mem[c.off:])
		}
		if got != c.want {
			return layout{}, fmt.Errorf("%w: field at offset %d is %d, want %d", ErrCorrupt, c.off, got, c.want)
		}
	}
	if fileSize < int64(l.size) {
		return layout{}, fmt.Errorf("%w: %d bytes, header says %d", ErrTruncated, fileSize, l.size)
	}
	return l, nil
}

func roundUp(n, to int) int { return (n + to - 1) / to * to }

// nativeLittleEndian reports whether this host stores integers
// little-endian, as the file format requires: forwarding threads write
// entries with native stores.
var nativeLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

var errBigEndian = fmt.Errorf("logs: big-endian hosts are not supported: %w", errors.ErrUnsupported)
