package logs

import "unsafe"

// ringHeader is the Go view of a ring header (doc.go, "Ring t"). Both words
// are live: only atomic loads and stores touch them.
type ringHeader struct {
	head uint64 // entries ever written; stored by the ring's writer only
	base uint64 // first entry readers show; stored by Clear only
	_    [6]uint64
}

// entry is the Go view of an entry (doc.go, "Entry"). The host is
// little-endian (Create and Open check), so native words match the file.
type entry struct {
	seq   uint64          // entry number + 1, stored after the rest
	claim uint64          // entry number + 1, stored before the rest
	time  uint64          // wall-clock ns since the Unix epoch
	meta  uint64          // format id | thread<<16
	args  [MaxArgs]uint64 // the arguments of Log
}

// The Go views must match the documented sizes exactly.
var (
	_ [EntrySize - unsafe.Sizeof(entry{})]struct{}
	_ [unsafe.Sizeof(entry{}) - EntrySize]struct{}
	_ [ringHeaderSize - unsafe.Sizeof(ringHeader{})]struct{}
	_ [unsafe.Sizeof(ringHeader{}) - ringHeaderSize]struct{}
)

// word32 and word64 return the live header word at off. mmap returns
// page-aligned memory and every live word is naturally aligned, as the
// atomic operations require.
func word32(mem []byte, off int) *uint32 { return (*uint32)(unsafe.Pointer(&mem[off])) }

func word64(mem []byte, off int) *uint64 { return (*uint64)(unsafe.Pointer(&mem[off])) }

// ringAt returns the views of the ring header at hdr and of its n entries,
// which start at ents.
func ringAt(mem []byte, hdr, ents, n int) (*ringHeader, []entry) {
	_ = mem[ents+n*EntrySize-1] // bounds check once for the whole ring
	h := (*ringHeader)(unsafe.Pointer(&mem[hdr]))
	return h, unsafe.Slice((*entry)(unsafe.Pointer(&mem[ents])), n)
}
