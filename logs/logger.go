package logs

import (
	"sync/atomic"
	"time"
)

// clock gives wall-clock nanoseconds for the price of a monotonic clock
// read: the wall time at an anchor plus the monotonic time since it.
// time.Since on a time with a monotonic reading reads only the monotonic
// clock, where time.Now reads both.
type clock struct {
	anchor time.Time // carries a monotonic reading
	wall   int64     // anchor as ns since the Unix epoch
}

func newClock() clock {
	now := time.Now()
	return clock{anchor: now, wall: now.UnixNano()}
}

func (c *clock) now() int64 { return c.wall + int64(time.Since(c.anchor)) }

// Logger writes one forwarding thread's ring. It is owned by that thread and
// is not safe for concurrent use: there is exactly one writer per ring, which
// is why Log needs no lock. [File.Logger] returns the same Logger for the
// same thread every time.
type Logger struct {
	enabled *uint32 // the header's live enabled word; loaded by every Log
	head    *uint64 // the ring's live head, stored after every entry
	ring    []entry // the ring's entries, in the shared mapping
	mask    uint64  // len(ring)-1; len(ring) is a power of two
	next    uint64  // number of the next entry; equals *head between calls
	meta    uint64  // the thread, pre-shifted into the entry's meta word
	clock   clock   // shared anchor of all Loggers of the file
}

// Log appends an entry with format f and arguments a, b, c, d to the ring,
// overwriting the oldest entry when the ring is full. While logging is
// disabled it costs one atomic load and a branch; it never allocates, locks
// or makes a system call. Unused arguments are conventionally 0.
func (l *Logger) Log(f Format, a, b, c, d uint64) {
	if atomic.LoadUint32(l.enabled) == 0 {
		return
	}
	l.log(f, a, b, c, d)
}

// log is Log's slow half, kept out of line so Log inlines into callers.
func (l *Logger) log(f Format, a, b, c, d uint64) {
	n := l.next
	storeEntry(&l.ring[n&l.mask], n+1, uint64(l.clock.now()), l.meta|uint64(f), a, b, c, d)
	l.next = n + 1
	atomic.StoreUint64(l.head, n+1) // publish: readers may now copy entry n
}

// Enabled reports whether logging is on, for callers that want to skip
// computing arguments that are expensive to gather.
func (l *Logger) Enabled() bool { return atomic.LoadUint32(l.enabled) != 0 }

// discardEnabled stays 0 forever: the enabled word of Discard's Logger.
var discardEnabled uint32

// Discard returns a Logger that never writes: its Log returns after the
// enabled check. Use it for nodes built without a log file, in tests and
// tools. Every call returns a new Logger, so each thread can own one.
func Discard() *Logger {
	return &Logger{enabled: &discardEnabled}
}
