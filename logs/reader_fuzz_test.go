package logs_test

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	gt "github.com/r2go/r2/r2/graph/graphtest"

	"github.com/r2go/r2/logs"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz from the seeds built in the tests")

var le = binary.LittleEndian

// The pristine file of FuzzLogsRead: two rings of eight entries, three
// formats. Offsets from doc.go, "File layout".
const (
	fuzzThreads = 2
	fuzzEntries = 8
	headerSize  = 256
	formatsOff  = 256
	slotSize    = 128
	ringHdrSize = 64
)

// ringsOff and ringStride are read from the pristine file's header.
var ringsOff, ringStride int

// pristineLogs makes the pristine file: thread 0 has wrapped its ring (12
// entries written, the newest 8 kept), thread 1 wrote 3. It returns the
// file's bytes and the entries a reader gets from it.
func pristineLogs(t testing.TB) ([]byte, []logs.Entry) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "r2-fuzz-logs")
	f, err := logs.Create(path, fuzzThreads, fuzzEntries)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ids []logs.Format
	for _, s := range []string{"EtherDecap: arp op %d from %ip at %mac on ifindex %d", "drop %x", "100%% literal"} {
		id, err := f.Register(s)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	f.Enable()
	for i := range 12 {
		f.Logger(0).Log(ids[i%3], uint64(i), 0x0a010001, 0x020000000001, ^uint64(0))
	}
	for i := range 3 {
		f.Logger(1).Log(ids[i%2], uint64(100+i), 1, 2, 3)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := logs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	es, err := r.Entries()
	if err != nil || len(es) != fuzzEntries+3 {
		t.Fatalf("pristine file: %d entries, %v", len(es), err)
	}
	ringsOff, ringStride = int(le.Uint64(b[48:])), int(le.Uint64(b[56:]))
	return b, es
}

// Regions of the file that edits aim at, so that most of them land where
// the reader looks: [start, length). The last is the whole file.
func regions(size int) [][2]int {
	ringLen := ringHdrSize + fuzzEntries*logs.EntrySize
	return [][2]int{
		{0, headerSize},
		{formatsOff, 4 * slotSize},
		{ringsOff, ringLen},
		{ringsOff + ringStride, ringLen},
		{0, size},
	}
}

// decodeLogEdits reads records of [region, offset high, offset low, length,
// bytes...] from b: offsets wrap around the region, lengths stop at the end
// of the file.
func decodeLogEdits(b []byte, size int) (offs []int, datas [][]byte) {
	rs := regions(size)
	for len(b) >= 4 {
		r := rs[int(b[0])%len(rs)]
		off := r[0] + (int(b[1])<<8|int(b[2]))%r[1]
		n := min(int(b[3]), len(b)-4, size-off)
		offs, datas = append(offs, off), append(datas, b[4:4+n])
		b = b[4+n:]
	}
	return offs, datas
}

// logEdit builds one record for the seeds: data at off within region r.
func logEdit(r, off int, data []byte) []byte {
	return append([]byte{byte(r), byte(off >> 8), byte(off), byte(len(data))}, data...)
}

func logSeeds() map[string]gt.Seed {
	cat := func(bs ...[]byte) []byte { return slices.Concat(bs...) }
	u32 := func(v uint32) []byte { return le.AppendUint32(nil, v) }
	u64 := func(v uint64) []byte { return le.AppendUint64(nil, v) }
	const hdr, formats, ring0, ring1 = 0, 1, 2, 3
	slot := func(i int) int { return ringHdrSize + (i%fuzzEntries)*logs.EntrySize }
	return map[string]gt.Seed{
		"pristine":           {[]byte{}, uint32(0)},
		"bad_magic":          {logEdit(hdr, 0, []byte("R2CNTRS")), uint32(0)},
		"bad_version":        {logEdit(hdr, 8, u32(7)), uint32(0)},
		"threads_huge":       {logEdit(hdr, 16, u32(4096)), uint32(0)},
		"threads_zero":       {logEdit(hdr, 16, u32(0)), uint32(0)},
		"entries_not_pow2":   {logEdit(hdr, 20, u32(12)), uint32(0)},
		"entries_huge":       {logEdit(hdr, 20, u32(1<<20)), uint32(0)},
		"one_ring_two_pages": {cat(logEdit(hdr, 16, u32(1)), logEdit(hdr, 20, u32(64)), logEdit(hdr, 56, u64(8192))), uint32(0)},
		"file_size_field":    {logEdit(hdr, 64, u64(1<<40)), uint32(0)},
		"cut_header":         {[]byte{}, uint32(100)},
		"cut_rings":          {[]byte{}, uint32(40000)},
		"formats_too_many":   {logEdit(hdr, 132, u32(300)), uint32(0)},
		"formats_unused":     {logEdit(hdr, 132, u32(200)), uint32(0)},
		"format_len_huge":    {logEdit(formats, 0, []byte{0xff, 0xff}), uint32(0)},
		"format_bad_verb":    {logEdit(formats, slotSize, cat([]byte{4, 0}, []byte("%q%d"))), uint32(0)},
		"format_bad_utf8":    {logEdit(formats, 2*slotSize, cat([]byte{3, 0}, []byte("\xff%d"))), uint32(0)},
		"format_five_args":   {logEdit(formats, 0, cat([]byte{10, 0}, []byte("%d%d%d%d%d"))), uint32(0)},
		"format_json_escape": {logEdit(formats, slotSize, cat([]byte{8, 0}, []byte("\"\\\n\x01%x\t\x7f"))), uint32(0)},
		"head_huge":          {logEdit(ring0, 0, u64(1<<63)), uint32(0)},
		"head_max":           {logEdit(ring1, 0, u64(^uint64(0))), uint32(0)},
		"base_after_head":    {logEdit(ring0, 8, u64(1000)), uint32(0)},
		"torn_claim":         {logEdit(ring0, slot(5)+8, u64(99)), uint32(0)},
		"torn_seq":           {logEdit(ring1, slot(1), u64(7)), uint32(0)},
		"wrong_thread":       {logEdit(ring1, slot(0)+26, []byte{0, 0}), uint32(0)},
		"unknown_format":     {logEdit(ring0, slot(9)+24, []byte{0xff, 0x00}), uint32(0)},
		"time_extreme":       {logEdit(ring1, slot(2)+16, u64(1<<63)), uint32(0)},
		"torn_many":          {cat(logEdit(ring0, 0, u64(4)), logEdit(ring0, slot(0), u64(0)), logEdit(4, 500, []byte{1, 2, 3})), uint32(0)},
	}
}

func TestFuzzLogsReadSeeds(t *testing.T) {
	gt.SyncSeeds(t, "FuzzLogsRead", logSeeds(), *updateSeeds)
}

// FuzzLogsRead writes a log file with arbitrary torn or hostile bytes
// (edits to a valid file, possibly cut short) and reads it as r2log does.
// Open must fail with one of the package's errors or succeed; Entries must
// fail with ErrCorrupt or return at most a ring's worth of entries per
// thread, in order, each a valid JSON line, the same on a second call, and
// each from a slot that proves it whole (checkSlots).
// An entry whose slot, ring header and the header's constant part were not
// touched is shown as before (its message too if the live header words and
// its format were not touched either),
// and an untouched file reads exactly as before.
func FuzzLogsRead(f *testing.F) {
	// The seeds are in testdata/fuzz/FuzzLogsRead (TestFuzzLogsReadSeeds).
	pristine, want := pristineLogs(f)
	path := filepath.Join(f.TempDir(), "r2-fuzz-logs")
	f.Fuzz(func(t *testing.T, edits []byte, cut uint32) {
		b := append([]byte(nil), pristine...)
		dirty := make([]bool, len(b))
		offs, datas := decodeLogEdits(edits, len(b))
		for i, off := range offs {
			copy(b[off:], datas[i])
			for j := range datas[i] {
				dirty[off+j] = true
			}
		}
		if cut != 0 {
			n := int(cut) % len(b)
			b = b[:n]
			for i := n; i < len(dirty); i++ {
				dirty[i] = true
			}
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		touched := func(from, to int) bool { return slices.Contains(dirty[from:to], true) }

		r, err := logs.Open(path)
		if err != nil {
			if !errors.Is(err, logs.ErrBadMagic) && !errors.Is(err, logs.ErrVersion) &&
				!errors.Is(err, logs.ErrTruncated) && !errors.Is(err, logs.ErrCorrupt) {
				t.Fatalf("Open: unexpected error %v", err)
			}
			if !touched(0, len(dirty)) {
				t.Fatalf("untouched file refused: %v", err)
			}
			return
		}
		defer func() {
			if err := r.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := r.Close(); !errors.Is(err, logs.ErrClosed) {
				t.Errorf("second Close: %v", err)
			}
		}()
		// A header may describe another geometry that fits the same file
		// (32 entries per ring take the same 4096-byte stride as 8; one
		// ring of 64 takes two pages): that is a valid file, read as it
		// says.
		threads, entries := r.Threads(), r.EntriesPerThread()
		g := geometry{ringsOff: int(le.Uint64(b[48:])), stride: int(le.Uint64(b[56:])), entries: entries}
		if threads < 1 || entries < 1 || ringHdrSize+entries*logs.EntrySize > g.stride || g.ringsOff+threads*g.stride > len(b) {
			t.Fatalf("opened with %d threads of %d entries, rings at %d every %d, in %d bytes", threads, entries, g.ringsOff, g.stride, len(b))
		}
		r.Enabled()
		r.ClearGeneration()
		got, err := r.Entries()
		if err != nil {
			if !errors.Is(err, logs.ErrCorrupt) || !touched(0, headerSize) {
				t.Fatalf("Entries: %v", err)
			}
			return
		}
		checkEntries(t, got, threads, entries)
		checkSlots(t, b, got, g)
		again, err := r.Entries()
		if err != nil || !gocmp.Equal(got, again) {
			t.Fatalf("second Entries differs: %v\n%s", err, gocmp.Diff(got, again))
		}
		if err := logs.WriteJSON(io.Discard, got); err != nil {
			t.Fatal(err)
		}

		// What was not touched reads as before.
		if !touched(0, len(dirty)) {
			if diff := gocmp.Diff(want, got); diff != "" {
				t.Fatalf("untouched file reads differently (-want +got):\n%s", diff)
			}
		}
		type key struct {
			thread int
			seq    uint64
		}
		gotBy := map[key]logs.Entry{}
		for _, e := range got {
			gotBy[key{e.Thread, e.Seq}] = e
		}
		for _, w := range want {
			if touched(0, 128) {
				break // the geometry may have changed: slots are elsewhere
			}
			ring := ringsOff + w.Thread*ringStride
			slot := ring + ringHdrSize + int(w.Seq%fuzzEntries)*logs.EntrySize
			if touched(ring, ring+ringHdrSize) || touched(slot, slot+logs.EntrySize) {
				continue
			}
			// The same head and base, the same slot: the entry is shown.
			g, ok := gotBy[key{w.Thread, w.Seq}]
			if !ok {
				t.Fatalf("untouched entry %d of thread %d missing", w.Seq, w.Thread)
			}
			fslot := formatsOff + (int(w.FormatID)-1)*slotSize
			if touched(0, headerSize) || touched(fslot, fslot+slotSize) {
				g.Format, g.Message, w.Format, w.Message = "", "", "", ""
			}
			if diff := gocmp.Diff(w, g); diff != "" {
				t.Fatalf("untouched entry %d of thread %d (-want +got):\n%s", w.Seq, w.Thread, diff)
			}
		}
	})
}

// checkEntries checks what any file, however damaged, may give: entries of
// existing threads, at most a ring's worth each, sorted, as valid JSON.
func checkEntries(t *testing.T, es []logs.Entry, threads, entries int) {
	t.Helper()
	perThread := map[int]int{}
	for i, e := range es {
		if e.Thread < 0 || e.Thread >= threads {
			t.Fatalf("entry of thread %d", e.Thread)
		}
		if perThread[e.Thread]++; perThread[e.Thread] > entries {
			t.Fatalf("more than %d entries for thread %d", entries, e.Thread)
		}
		if i > 0 {
			p := es[i-1]
			if c := cmp.Or(p.Time.Compare(e.Time), cmp.Compare(p.Thread, e.Thread), cmp.Compare(p.Seq, e.Seq)); c >= 0 {
				t.Fatalf("entries %d and %d out of order", i-1, i)
			}
		}
		if j := e.JSON(); !json.Valid(j) {
			t.Fatalf("entry %d is not valid JSON: %s", i, j)
		}
	}
}

// geometry is where the rings of a file are, as its header says.
type geometry struct{ ringsOff, stride, entries int }

// checkSlots checks each entry against the bytes of its slot in b: shown
// only if entry n of its ring is in the window readers show, both halves of
// the sequence say n+1 and the slot names the ring's thread; time, format
// and arguments as stored.
func checkSlots(t *testing.T, b []byte, es []logs.Entry, g geometry) {
	t.Helper()
	for _, e := range es {
		ring := g.ringsOff + e.Thread*g.stride
		head, base := le.Uint64(b[ring:]), le.Uint64(b[ring+8:])
		if e.Seq >= head || e.Seq < base || head-e.Seq > uint64(g.entries) {
			t.Fatalf("entry %d of thread %d shown with head %d, base %d", e.Seq, e.Thread, head, base)
		}
		slot := b[ring+ringHdrSize+int(e.Seq%uint64(g.entries))*logs.EntrySize:][:logs.EntrySize]
		seq, claim, meta := le.Uint64(slot), le.Uint64(slot[8:]), le.Uint64(slot[24:])
		if seq != e.Seq+1 || claim != e.Seq+1 || meta>>16 != uint64(e.Thread) {
			t.Fatalf("entry %d of thread %d shown from a slot with seq %d, claim %d, meta %#x", e.Seq, e.Thread, seq, claim, meta)
		}
		args := [logs.MaxArgs]uint64{le.Uint64(slot[32:]), le.Uint64(slot[40:]), le.Uint64(slot[48:]), le.Uint64(slot[56:])}
		if e.Time.UnixNano() != int64(le.Uint64(slot[16:])) || e.FormatID != logs.Format(meta&0xffff) || e.Args != args {
			t.Fatalf("entry %d of thread %d: %+v, slot %x", e.Seq, e.Thread, e, slot)
		}
	}
}
