//go:build !amd64

package logs

import "sync/atomic"

// storeEntry writes an entry for its ring's writer: claim first, seq last.
// Weakly ordered CPUs may make plain stores visible out of order, for
// instance an argument before claim; atomic stores keep them in order
// (doc.go, "Reading without locks").
func storeEntry(e *entry, seq, time, meta, a, b, c, d uint64) {
	atomic.StoreUint64(&e.claim, seq)
	atomic.StoreUint64(&e.time, time)
	atomic.StoreUint64(&e.meta, meta)
	atomic.StoreUint64(&e.args[0], a)
	atomic.StoreUint64(&e.args[1], b)
	atomic.StoreUint64(&e.args[2], c)
	atomic.StoreUint64(&e.args[3], d)
	atomic.StoreUint64(&e.seq, seq)
}
