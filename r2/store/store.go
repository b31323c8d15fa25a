// Package store is the keyed store through which independently written
// nodes (R2's own and out-of-tree extensions) share state without touching
// each other's memory, after the memory pool of seed 003: the host owns the
// store, values are found by a 32-bit key whose meaning the extensions
// agree on, and neither extension needs to import the other.
//
// A value lives in one of two places, and the thread contract differs:
//
//   - Published values are set by the control side (Store.Publish) and are
//     immutable once published. Publishing makes a new Snapshot and hands it
//     to every forwarding thread the way route tables are handed over (a
//     control message handled between graph runs, acknowledged before
//     Publish returns). A node reads them with Thread.Published, typically
//     once per Dispatch, without locks.
//   - Per-thread values are made once per forwarding thread
//     (Thread.Local / LocalOf, called from a node's Clone, on the control
//     side, where clones are made one at a time) and from then on read and
//     written only by that thread's nodes, during Dispatch, without locks or
//     atomics. Two nodes that ask for the same key on the same thread get the
//     same value: one can count what the other reads.
//
// Nothing here allocates on the forwarding path: Published is a map read
// and the Local value is a pointer the node keeps from Clone.
package store

import (
	"fmt"
	"maps"
	"sync"
)

// Key names a value. The numbering is the extensions' business; a common
// convention is a 16-bit owner prefix and a 16-bit index (0x5243_0001).
type Key uint32

// String formats a key in hex, the way extensions write them.
func (k Key) String() string { return fmt.Sprintf("%#08x", uint32(k)) }

// Snapshot is an immutable set of published values.
type Snapshot struct {
	vals map[Key]any
	// Gen counts publications; it lets a node notice a change cheaply.
	Gen uint64
}

// Get returns the value published under k, or nil.
func (s *Snapshot) Get(k Key) any {
	if s == nil {
		return nil
	}
	return s.vals[k]
}

// Len is the number of published values.
func (s *Snapshot) Len() int {
	if s == nil {
		return 0
	}
	return len(s.vals)
}

// Store is the control side of the store. It is safe for concurrent use.
type Store struct {
	mu      sync.Mutex
	cur     *Snapshot
	publish func(*Snapshot)
}

// New returns an empty store. publish is supplied by the engine: it makes
// every forwarding thread use the snapshot and returns once all of them
// have; nil publishes nowhere (tests).
func New(publish func(*Snapshot)) *Store {
	return &Store{cur: &Snapshot{vals: map[Key]any{}}, publish: publish}
}

// SetPublisher sets the function that hands snapshots to the threads (the
// engine calls it once its threads exist).
func (s *Store) SetPublisher(publish func(*Snapshot)) {
	s.mu.Lock()
	s.publish = publish
	s.mu.Unlock()
}

// Publish sets the value of k (nil deletes it) and returns once every
// forwarding thread sees the new snapshot. v must not be changed afterwards:
// publish a new value instead.
func (s *Store) Publish(k Key, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	vals := maps.Clone(s.cur.vals)
	if v == nil {
		delete(vals, k)
	} else {
		vals[k] = v
	}
	s.cur = &Snapshot{vals: vals, Gen: s.cur.Gen + 1}
	if s.publish != nil {
		s.publish(s.cur)
	}
}

// Get returns the published value of k, or nil.
func (s *Store) Get(k Key) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur.Get(k)
}

// Current is the latest snapshot (what a new thread starts with).
func (s *Store) Current() *Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Thread is one forwarding thread's view of the store. Its published
// snapshot is swapped by the thread itself between graph runs; its local
// values are created on the control side (from Clone) and then used only by
// the thread. It is not safe for concurrent use beyond that contract.
type Thread struct {
	snap  *Snapshot
	local map[Key]any
}

// NewThread makes a thread's view starting at snap.
func NewThread(snap *Snapshot) *Thread {
	return &Thread{snap: snap, local: map[Key]any{}}
}

// Published returns the value published under k in the snapshot the thread
// uses now, or nil. A nil Thread has no values.
func (t *Thread) Published(k Key) any {
	if t == nil {
		return nil
	}
	return t.snap.Get(k)
}

// Gen is the generation of the snapshot in use.
func (t *Thread) Gen() uint64 {
	if t == nil || t.snap == nil {
		return 0
	}
	return t.snap.Gen
}

// Swap makes snap the thread's snapshot. The engine calls it on the thread.
func (t *Thread) Swap(snap *Snapshot) { t.snap = snap }

// Local returns the thread's value for k, making it with mk the first time.
// Call it from Clone, not from Dispatch.
func (t *Thread) Local(k Key, mk func() any) any {
	if v, ok := t.local[k]; ok {
		return v
	}
	v := mk()
	t.local[k] = v
	return v
}

// LocalOf is Local for a value of type *T. Two extensions that use one key
// with different types are built into one binary by mistake; LocalOf panics
// then, at start-up, naming the key and both types.
func LocalOf[T any](t *Thread, k Key, mk func() *T) *T {
	if t == nil {
		return mk() // no store: a private value
	}
	v := t.Local(k, func() any { return mk() })
	p, ok := v.(*T)
	if !ok {
		panic(fmt.Sprintf("store: key %v holds a %T, not a %T", k, v, (*T)(nil)))
	}
	return p
}

// Table is a fixed array of 64-bit cells: the common currency of
// extensions that count things for each other. Its layout (what index
// means what) is part of the meaning of its key, which the extensions agree
// on; neither needs the other's types.
type Table struct {
	Cells []uint64
}

// NewTable makes a table of n cells.
func NewTable(n int) *Table { return &Table{Cells: make([]uint64, n)} }
