//go:build amd64

package logs

// storeEntry writes an entry for its ring's writer: claim first, seq last.
// On amd64 other cores see a core's stores in program order, and the Go
// compiler keeps stores in program order, so plain stores are enough for the
// reader's check (doc.go, "Reading without locks") and cost a cycle each
// instead of a locked instruction each.
func storeEntry(e *entry, seq, time, meta, a, b, c, d uint64) {
	e.claim = seq
	e.time = time
	e.meta = meta
	e.args = [MaxArgs]uint64{a, b, c, d}
	e.seq = seq
}
