package ring

import (
	"math/bits"
	"sync/atomic"
)

// cacheLine is the padding unit between hot indices. 128 rather than 64
// because x86's adjacent-line prefetcher pulls cache lines in pairs, so two
// indices 64 bytes apart still false-share on many Intel cores.
const cacheLine = 128

// maxCapacity bounds the slot count so that the sequence arithmetic, which
// compares positions as signed differences, can never be confused.
const maxCapacity = 1 << 62

// pad separates fields that different threads write.
type pad [cacheLine]byte

// slot is one ring entry; seq encodes whose turn it is (see the package doc).
type slot[T any] struct {
	seq atomic.Uint64
	val T
}

// MPSC is a bounded lock-free multi-producer, single-consumer queue.
//
// Enqueue is safe from any number of goroutines. Dequeue and DequeueBatch
// must only be called by one consumer goroutine at a time. Len and Cap are
// safe from anywhere.
type MPSC[T any] struct {
	_ pad
	// tail is the next position producers will claim; shared by all
	// producers, advanced by CAS.
	tail atomic.Uint64
	_    pad
	// head is the next position the consumer will read. Only the consumer
	// writes it; it is atomic so Len may read it from other goroutines.
	head atomic.Uint64
	_    pad
	// mask is capacity-1; slots holds capacity entries. Both are read-only
	// after construction.
	mask  uint64
	slots []slot[T]
}

// NewMPSC returns an empty ring holding capacity elements, rounded up to a
// power of two (and to at least 2: with one slot the "full" sequence of a lap
// equals the "free" sequence of the next, so the scheme needs two). It panics
// if capacity <= 0 or is absurdly large.
func NewMPSC[T any](capacity int) *MPSC[T] {
	return newMPSCAt[T](capacity, 0)
}

// newMPSCAt builds a ring whose positions start at start instead of 0, so
// tests can drive the 64-bit positions across their wraparound.
func newMPSCAt[T any](capacity int, start uint64) *MPSC[T] {
	if capacity <= 0 || uint64(capacity) > maxCapacity {
		panic("ring: capacity out of range")
	}
	n := uint64(2)
	if capacity > 2 {
		n = 1 << bits.Len64(uint64(capacity)-1)
	}
	r := &MPSC[T]{mask: n - 1, slots: make([]slot[T], n)}
	// Slot j is first used by the lowest position >= start that maps to it.
	for j := range r.slots {
		r.slots[j].seq.Store(start + ((uint64(j) - start) & r.mask))
	}
	r.tail.Store(start)
	r.head.Store(start)
	return r
}

// Enqueue appends v. It is safe for concurrent use and never blocks; it
// returns false if the ring is full, in which case the caller should drop v
// and count the drop.
func (r *MPSC[T]) Enqueue(v T) bool {
	pos := r.tail.Load()
	for {
		s := &r.slots[pos&r.mask]
		seq := s.seq.Load()
		switch dif := int64(seq - pos); {
		case dif == 0:
			// The slot is free for pos; claim pos, then fill and publish.
			if r.tail.CompareAndSwap(pos, pos+1) {
				s.val = v
				s.seq.Store(pos + 1)
				return true
			}
			pos = r.tail.Load()
		case dif < 0:
			// The consumer has not yet freed this slot from the previous
			// lap: the ring is full.
			return false
		default:
			// Another producer claimed pos since we loaded tail; retry at
			// the current tail.
			pos = r.tail.Load()
		}
	}
}

// Dequeue removes and returns the oldest published element. It reports false
// if the ring is empty, or if the oldest position was claimed by a producer
// that has not finished publishing it yet. Single consumer only.
func (r *MPSC[T]) Dequeue() (T, bool) {
	var zero T
	pos := r.head.Load()
	s := &r.slots[pos&r.mask]
	if s.seq.Load() != pos+1 {
		return zero, false
	}
	v := s.val
	// Clear the slot so a dequeued pointer does not keep garbage alive
	// until the slot is overwritten a lap later.
	s.val = zero
	s.seq.Store(pos + r.mask + 1)
	r.head.Store(pos + 1)
	return v, true
}

// DequeueBatch moves up to len(out) published elements into out, oldest
// first, and returns how many it moved. Single consumer only. It publishes
// the head once per batch, which is cheaper than repeated Dequeue calls.
func (r *MPSC[T]) DequeueBatch(out []T) int {
	var zero T
	pos := r.head.Load()
	n := 0
	for n < len(out) {
		s := &r.slots[pos&r.mask]
		if s.seq.Load() != pos+1 {
			break
		}
		out[n] = s.val
		s.val = zero
		s.seq.Store(pos + r.mask + 1)
		pos++
		n++
	}
	if n > 0 {
		r.head.Store(pos)
	}
	return n
}

// Len returns the number of claimed, not yet dequeued positions. It is only a
// snapshot: it includes elements still being published, and may be stale by
// the time the caller uses it.
func (r *MPSC[T]) Len() int {
	// Load head first: tail only grows, so a later tail load is >= head.
	h := r.head.Load()
	t := r.tail.Load()
	n := t - h
	// A producer may claim a slot freed by the consumer before the
	// consumer publishes its new head; clamp that transient overshoot.
	if n > r.mask+1 {
		n = r.mask + 1
	}
	return int(n)
}

// Cap returns the number of slots, a power of two.
func (r *MPSC[T]) Cap() int {
	return int(r.mask + 1)
}
