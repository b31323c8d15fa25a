package logs

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// fileMode is the mode of a new log file, set with chmod: world-readable
// so r2log needs no privileges; see doc.go, "Files and permissions".
const fileMode = 0o644

// File is the control side's handle on a log file: it creates the file,
// registers formats, hands out Loggers and switches logging. Its methods are
// safe for concurrent use by control goroutines, except Close and Remove,
// which must not run concurrently with anything else.
type File struct {
	path string
	mem  []byte // the whole file, mapped read-write; nil after Close
	lay  layout

	enabled    *uint32 // live header words
	numFormats *uint32
	clearGen   *uint64

	rings   []*ringHeader // one per thread
	loggers []*Logger     // one per thread, handed out by Logger

	mu      sync.Mutex        // serialises the control methods and Close
	formats map[string]Format // registered formats, for deduplication
}

// Create makes the log file at path, replacing any stale file there, with
// one ring per forwarding thread. entriesPerThread is rounded up to a power
// of two (so a ring index is a mask, not a division). Logging is disabled
// until Enable.
func Create(path string, threads, entriesPerThread int) (*File, error) {
	if !nativeLittleEndian {
		return nil, errBigEndian
	}
	if threads < 1 || threads > MaxThreads {
		return nil, fmt.Errorf("logs: create %s: %d threads, want 1..%d", path, threads, MaxThreads)
	}
	if entriesPerThread < 1 || entriesPerThread > MaxEntries {
		return nil, fmt.Errorf("logs: create %s: %d entries per thread, want 1..%d", path, entriesPerThread, MaxEntries)
	}
	entries := 1 << bits.Len(uint(entriesPerThread-1))
	lay := newLayout(threads, entries)

	// Build the file under a temporary name in the same directory and
	// rename it into place: readers see either the old file or a complete
	// new one, never a header being written.
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("logs: create %s: %w", path, err)
	}
	var mem []byte
	fail := func(what string, err error) (*File, error) {
		if mem != nil {
			munmap(mem)
		}
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("logs: create %s: %s: %w", path, what, err)
	}
	if err := tmp.Chmod(fileMode); err != nil {
		return fail("chmod", err)
	}
	if err := tmp.Truncate(int64(lay.size)); err != nil {
		return fail("size", err)
	}
	if mem, err = mmapFile(tmp, lay.size, true); err != nil {
		return fail("mmap", err)
	}
	clk := newClock()
	lay.writeHeader(mem, clk.wall, os.Getpid())
	if err := tmp.Close(); err != nil {
		return fail("close", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fail("rename", err)
	}

	f := &File{
		path:       path,
		mem:        mem,
		lay:        lay,
		enabled:    word32(mem, offEnabled),
		numFormats: word32(mem, offNumFormats),
		clearGen:   word64(mem, offClearGen),
		rings:      make([]*ringHeader, threads),
		loggers:    make([]*Logger, threads),
		formats:    make(map[string]Format),
	}
	for t := range threads {
		hdr, ents := lay.ring(t)
		rh, ring := ringAt(mem, hdr, ents, entries)
		f.rings[t] = rh
		f.loggers[t] = &Logger{
			enabled: f.enabled,
			head:    &rh.head,
			ring:    ring,
			mask:    uint64(entries - 1),
			meta:    uint64(t) << 16,
			clock:   clk,
		}
	}
	return f, nil
}

// Path returns the file's path.
func (f *File) Path() string { return f.path }

// Threads returns the number of rings.
func (f *File) Threads() int { return f.lay.threads }

// EntriesPerThread returns the size of each ring, after rounding up.
func (f *File) EntriesPerThread() int { return f.lay.entries }

// Logger returns the Logger of forwarding thread thread, always the same one
// for the same thread. It panics if thread is out of range, a wiring bug.
func (f *File) Logger(thread int) *Logger {
	if thread < 0 || thread >= len(f.loggers) {
		panic(fmt.Sprintf("logs: Logger(%d) of a file with %d threads", thread, len(f.loggers)))
	}
	return f.loggers[thread]
}

// Register stores format in the file and returns its id, or the id it
// already has. Forwarding threads may be logging meanwhile: a format is
// published before Register returns, so a reader can always print the
// entries that use it. The format syntax is in doc.go.
func (f *File) Register(format string) (Format, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mem == nil {
		return 0, ErrClosed
	}
	if id, ok := f.formats[format]; ok {
		return id, nil
	}
	if _, err := parseFormat(format); err != nil {
		return 0, fmt.Errorf("logs: format %q: %w", format, err)
	}
	n := atomic.LoadUint32(f.numFormats)
	if n >= MaxFormats {
		return 0, ErrFormatsFull
	}
	slot := f.mem[f.lay.formatsOff+int(n)*formatSlotSize:][:formatSlotSize]
	binary.LittleEndian.PutUint16(slot, uint16(len(format)))
	copy(slot[2:], format)
	atomic.StoreUint32(f.numFormats, n+1) // publish the slot
	id := Format(n + 1)
	f.formats[format] = id
	return id, nil
}

// Enable turns logging on for every thread. It does nothing after Close.
func (f *File) Enable() { f.setEnabled(1) }

// Disable turns logging off for every thread; Log calls already past the
// check finish their entry. It does nothing after Close.
func (f *File) Disable() { f.setEnabled(0) }

func (f *File) setEnabled(v uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mem != nil {
		atomic.StoreUint32(f.enabled, v)
	}
}

// Enabled reports whether logging is on (false after Close).
func (f *File) Enabled() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mem != nil && atomic.LoadUint32(f.enabled) != 0
}

// Clear hides every entry written so far from readers, without stopping or
// waiting for writers: it bumps the clear generation and moves each ring's
// base to its head. An entry being written during Clear may survive it.
// It does nothing after Close.
func (f *File) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mem == nil {
		return
	}
	atomic.AddUint64(f.clearGen, 1)
	for _, r := range f.rings {
		atomic.StoreUint64(&r.base, atomic.LoadUint64(&r.head))
	}
}

// ClearGeneration returns the number of Clear calls since Create (0 after
// Close).
func (f *File) ClearGeneration() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mem == nil {
		return 0
	}
	return atomic.LoadUint64(f.clearGen)
}

// Close unmaps the file; the file itself stays for readers until Remove.
// No forwarding thread may use a Logger of f during or after Close: its ring
// is gone and Log would fault. Closing twice returns ErrClosed.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mem == nil {
		return ErrClosed
	}
	mem := f.mem
	f.mem = nil
	if err := munmap(mem); err != nil {
		return fmt.Errorf("logs: unmap %s: %w", f.path, err)
	}
	return nil
}

// Remove deletes the file from the file system. Readers that have it open
// keep their mapping; the memory is freed when the last one closes it.
// Remove does not Close f.
func (f *File) Remove() error {
	if err := os.Remove(f.path); err != nil {
		return fmt.Errorf("logs: remove: %w", err)
	}
	return nil
}
