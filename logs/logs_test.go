package logs

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// newTestFile creates a log file under t.TempDir, closed at cleanup.
func newTestFile(t testing.TB, threads, entries int) *File {
	t.Helper()
	f, err := Create(filepath.Join(t.TempDir(), "r2-test-logs"), threads, entries)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// openTestReader opens a separate read-only mapping of f's file.
func openTestReader(t testing.TB, f *File) *Reader {
	t.Helper()
	r, err := Open(f.Path())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func mustRegister(t testing.TB, f *File, format string) Format {
	t.Helper()
	id, err := f.Register(format)
	if err != nil {
		t.Fatalf("Register(%q): %v", format, err)
	}
	return id
}

func entries(t testing.TB, r *Reader) []Entry {
	t.Helper()
	es, err := r.Entries()
	if err != nil {
		t.Fatalf("Entries: %v", err)
	}
	return es
}

func TestLayoutRoundTrip(t *testing.T) {
	f := newTestFile(t, 2, 16)
	fmtA := mustRegister(t, f, "rx %d bytes from %ip")
	fmtB := mustRegister(t, f, "learned %mac on %x")
	before := time.Now()
	f.Enable()
	f.Logger(0).Log(fmtA, 1500, 0x0a010001, 0, 0)
	f.Logger(1).Log(fmtB, 0x02aabbccddee, 0x1f, 7, 8)
	after := time.Now()

	r := openTestReader(t, f)
	if r.Threads() != 2 || r.EntriesPerThread() != 16 || !r.Enabled() {
		t.Errorf("reader: threads %d, entries %d, enabled %v; want 2, 16, true", r.Threads(), r.EntriesPerThread(), r.Enabled())
	}
	es := entries(t, r)
	if len(es) != 2 {
		t.Fatalf("got %d entries, want 2: %v", len(es), es)
	}
	want := []Entry{
		{Thread: 0, Seq: 0, FormatID: fmtA, Format: "rx %d bytes from %ip", Message: "rx 1500 bytes from 10.1.0.1", Args: [MaxArgs]uint64{1500, 0x0a010001}},
		{Thread: 1, Seq: 0, FormatID: fmtB, Format: "learned %mac on %x", Message: "learned 02:aa:bb:cc:dd:ee on 1f", Args: [MaxArgs]uint64{0x02aabbccddee, 0x1f, 7, 8}},
	}
	for i, e := range es {
		if e.Time.Before(before.Add(-time.Millisecond)) || e.Time.After(after.Add(time.Millisecond)) {
			t.Errorf("entry %d time %v not within [%v, %v]", i, e.Time, before, after)
		}
		e.Time = time.Time{}
		if e != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, e, want[i])
		}
	}

	// The bytes on disk follow doc.go.
	raw, err := os.ReadFile(f.Path())
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	lay := newLayout(2, 16)
	if len(raw) != lay.size {
		t.Fatalf("file is %d bytes, want %d", len(raw), lay.size)
	}
	for _, c := range []struct {
		name string
		got  uint64
		want uint64
	}{
		{"version", uint64(le.Uint32(raw[8:])), 1},
		{"header size", uint64(le.Uint32(raw[12:])), 256},
		{"threads", uint64(le.Uint32(raw[16:])), 2},
		{"entries", uint64(le.Uint32(raw[20:])), 16},
		{"entry size", uint64(le.Uint32(raw[24:])), 64},
		{"format slots", uint64(le.Uint32(raw[28:])), 256},
		{"format slot size", uint64(le.Uint32(raw[32:])), 128},
		{"ring header size", uint64(le.Uint32(raw[36:])), 64},
		{"formats offset", le.Uint64(raw[40:]), 256},
		{"rings offset", le.Uint64(raw[48:]), 36864},
		{"ring stride", le.Uint64(raw[56:]), 4096},
		{"file size", le.Uint64(raw[64:]), uint64(len(raw))},
		{"pid", uint64(le.Uint32(raw[80:])), uint64(os.Getpid())},
		{"enabled", uint64(le.Uint32(raw[128:])), 1},
		{"formats in use", uint64(le.Uint32(raw[132:])), 2},
		{"clear generation", le.Uint64(raw[136:]), 0},
		{"format 2 length", uint64(le.Uint16(raw[256+128:])), uint64(len("learned %mac on %x"))},
		{"ring 1 head", le.Uint64(raw[36864+4096:]), 1},
		{"ring 1 base", le.Uint64(raw[36864+4096+8:]), 0},
		{"ring 1 entry 0 seq", le.Uint64(raw[36864+4096+64:]), 1},
		{"ring 1 entry 0 claim", le.Uint64(raw[36864+4096+64+8:]), 1},
		{"ring 1 entry 0 format", uint64(le.Uint16(raw[36864+4096+64+24:])), uint64(fmtB)},
		{"ring 1 entry 0 thread", uint64(le.Uint16(raw[36864+4096+64+26:])), 1},
		{"ring 1 entry 0 reserved", uint64(le.Uint32(raw[36864+4096+64+28:])), 0},
		{"ring 1 entry 0 arg 0", le.Uint64(raw[36864+4096+64+32:]), 0x02aabbccddee},
		{"ring 1 entry 0 arg 3", le.Uint64(raw[36864+4096+64+56:]), 8},
		{"ring 1 entry 1 seq", le.Uint64(raw[36864+4096+128:]), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if string(raw[:8]) != "R2LOGS\x00\x00" {
		t.Errorf("magic = %q", raw[:8])
	}
	if got := string(raw[256+2 : 256+2+len("rx %d bytes from %ip")]); got != "rx %d bytes from %ip" {
		t.Errorf("format slot 0 text = %q", got)
	}
	created := time.Unix(0, int64(le.Uint64(raw[72:])))
	if created.After(before) || before.Sub(created) > time.Minute {
		t.Errorf("creation time %v, want shortly before %v", created, before)
	}
	if tm := time.Unix(0, int64(le.Uint64(raw[36864+4096+64+16:]))); !tm.Equal(es[1].Time) {
		t.Errorf("entry time on disk %v, reader says %v", tm, es[1].Time)
	}
}

func TestWraparoundKeepsNewest(t *testing.T) {
	f := newTestFile(t, 1, 5) // rounded up to 8
	if f.EntriesPerThread() != 8 {
		t.Fatalf("EntriesPerThread = %d, want 8", f.EntriesPerThread())
	}
	id := mustRegister(t, f, "i=%d")
	f.Enable()
	l := f.Logger(0)
	for i := range 21 {
		l.Log(id, uint64(i), 0, 0, 0)
	}
	es := entries(t, openTestReader(t, f))
	if len(es) != 8 {
		t.Fatalf("got %d entries, want 8", len(es))
	}
	for i, e := range es {
		want := uint64(13 + i)
		if e.Seq != want || e.Args[0] != want || e.Message != fmt.Sprintf("i=%d", want) {
			t.Errorf("entry %d: seq %d, arg %d, msg %q; want %d", i, e.Seq, e.Args[0], e.Message, want)
		}
		if i > 0 && e.Time.Before(es[i-1].Time) {
			t.Errorf("entry %d time %v before entry %d time %v", i, e.Time, i-1, es[i-1].Time)
		}
	}
}

func TestMergeByTime(t *testing.T) {
	f := newTestFile(t, 3, 64)
	id := mustRegister(t, f, "step %d")
	f.Enable()
	// Log from the threads in an order that is neither by thread nor by
	// entry number; the merge must restore it from the timestamps.
	order := []int{2, 0, 0, 1, 2, 2, 1, 0, 1, 2}
	for step, th := range order {
		f.Logger(th).Log(id, uint64(step), 0, 0, 0)
		// Guarantee distinct timestamps even on a coarse clock.
		for start := time.Now(); time.Since(start) < time.Microsecond; {
		}
	}
	es := entries(t, openTestReader(t, f))
	if len(es) != len(order) {
		t.Fatalf("got %d entries, want %d", len(es), len(order))
	}
	for step, e := range es {
		if e.Thread != order[step] || e.Args[0] != uint64(step) {
			t.Errorf("merged entry %d: thread %d step %d, want thread %d step %d", step, e.Thread, e.Args[0], order[step], step)
		}
		if step > 0 && !e.Time.After(es[step-1].Time) {
			t.Errorf("entry %d time %v not after %v", step, e.Time, es[step-1].Time)
		}
	}
}

func TestDisabledWritesNothing(t *testing.T) {
	f := newTestFile(t, 2, 8)
	id := mustRegister(t, f, "x %d")
	if f.Enabled() {
		t.Fatal("logging is on after Create")
	}
	r := openTestReader(t, f)
	f.Logger(0).Log(id, 1, 0, 0, 0)
	if es := entries(t, r); len(es) != 0 {
		t.Fatalf("disabled: got %d entries", len(es))
	}
	if h := atomic.LoadUint64(f.Logger(0).head); h != 0 {
		t.Fatalf("disabled: head moved to %d", h)
	}
	f.Enable()
	if !f.Enabled() || !r.Enabled() || !f.Logger(1).Enabled() {
		t.Fatal("Enable not seen by File, Reader and Logger")
	}
	f.Logger(0).Log(id, 2, 0, 0, 0)
	f.Disable()
	f.Logger(0).Log(id, 3, 0, 0, 0)
	es := entries(t, r)
	if len(es) != 1 || es[0].Args[0] != 2 {
		t.Fatalf("got %+v, want only the entry logged while enabled", es)
	}
	if r.Enabled() {
		t.Error("reader sees logging on after Disable")
	}
}

func TestClear(t *testing.T) {
	f := newTestFile(t, 2, 4)
	id := mustRegister(t, f, "%d")
	f.Enable()
	for i := range 6 {
		f.Logger(i%2).Log(id, uint64(i), 0, 0, 0)
	}
	r := openTestReader(t, f)
	if n := len(entries(t, r)); n != 6 {
		t.Fatalf("before Clear: %d entries, want 6", n)
	}
	f.Clear()
	if g := r.ClearGeneration(); g != 1 || f.ClearGeneration() != 1 {
		t.Errorf("clear generation: reader %d, file %d, want 1", g, f.ClearGeneration())
	}
	if es := entries(t, r); len(es) != 0 {
		t.Fatalf("after Clear: %+v, want none", es)
	}
	// New entries show, and a wrap after Clear still shows the newest ring.
	for i := 100; i < 107; i++ {
		f.Logger(1).Log(id, uint64(i), 0, 0, 0)
	}
	es := entries(t, r)
	if len(es) != 4 {
		t.Fatalf("after Clear and 7 entries in a ring of 4: %d entries, want 4", len(es))
	}
	for i, e := range es {
		if e.Thread != 1 || e.Args[0] != uint64(103+i) {
			t.Errorf("entry %d: thread %d arg %d, want thread 1 arg %d", i, e.Thread, e.Args[0], 103+i)
		}
	}
}

func TestUnknownFormat(t *testing.T) {
	f := newTestFile(t, 1, 4)
	f.Enable()
	f.Logger(0).Log(Format(99), 1, 0x20, 0, 0)
	es := entries(t, openTestReader(t, f))
	if len(es) != 1 || es[0].Message != "unknown format 99: 0x1 0x20 0x0 0x0" || es[0].Format != "" {
		t.Fatalf("got %+v", es)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	good := newTestFile(t, 1, 4)
	goodBytes, err := os.ReadFile(good.Path())
	if err != nil {
		t.Fatal(err)
	}
	patched := func(off int, v uint32) []byte {
		b := append([]byte(nil), goodBytes...)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	tests := []struct {
		name    string
		content []byte // nil: no file
		want    error
	}{
		{"missing", nil, fs.ErrNotExist},
		{"empty", []byte{}, ErrTruncated},
		{"short garbage", []byte("hello"), ErrBadMagic},
		{"bad magic", append([]byte("R2CNTRS\x00"), goodBytes[8:]...), ErrBadMagic},
		{"header only", goodBytes[:100], ErrTruncated},
		{"half a file", goodBytes[:len(goodBytes)/2], ErrTruncated},
		{"version 2", patched(offVersion, 2), ErrVersion},
		{"zero threads", patched(offThreads, 0), ErrCorrupt},
		{"entries not a power of two", patched(offEntries, 3), ErrCorrupt},
		{"other entry size", patched(offEntrySize, 48), ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
			if tt.content != nil {
				if err := os.WriteFile(path, tt.content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			r, err := Open(path)
			if err == nil {
				r.Close()
				t.Fatalf("Open succeeded, want %v", tt.want)
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("Open = %v, want %v naming %s", err, tt.want, path)
			}
		})
	}
}

func TestCreateErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name             string
		path             string
		threads, entries int
	}{
		{"no threads", filepath.Join(dir, "a"), 0, 8},
		{"too many threads", filepath.Join(dir, "b"), MaxThreads + 1, 8},
		{"no entries", filepath.Join(dir, "c"), 1, 0},
		{"too many entries", filepath.Join(dir, "d"), 1, MaxEntries + 1},
		{"missing directory", filepath.Join(dir, "nope", "e"), 1, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Create(tt.path, tt.threads, tt.entries)
			if err == nil {
				f.Close()
				t.Fatal("Create succeeded")
			}
			if _, err := os.Stat(tt.path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a failed Create left %s behind (%v)", tt.path, err)
			}
		})
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestCreateReplacesStaleFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r2-stale-logs")
	if err := os.WriteFile(path, []byte("stale garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	old, err := Create(path, 1, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	id := mustRegister(t, old, "old %d")
	old.Enable()
	old.Logger(0).Log(id, 1, 0, 0, 0)
	oldReader := openTestReader(t, old)

	f, err := Create(path, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o644 {
		t.Errorf("mode %v, want -rw-r--r--", perm)
	}
	r := openTestReader(t, f)
	if r.Threads() != 2 || len(entries(t, r)) != 0 || r.Enabled() {
		t.Errorf("new file: %d threads, enabled %v; want 2 threads, empty, disabled", r.Threads(), r.Enabled())
	}
	// A reader of the replaced file still reads the old one.
	if es := entries(t, oldReader); len(es) != 1 || es[0].Message != "old 1" {
		t.Errorf("old reader: %+v", es)
	}
}

func TestDevShm(t *testing.T) {
	if _, err := os.Stat("/dev/shm"); err != nil {
		t.Skip("no /dev/shm")
	}
	path := InstancePath(fmt.Sprintf("logstest-%d-%d", os.Getpid(), time.Now().UnixNano()))
	f, err := Create(path, 1, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		os.Remove(path)
	})
	id := mustRegister(t, f, "shm %d")
	f.Enable()
	f.Logger(0).Log(id, 42, 0, 0, 0)
	if es := entries(t, openTestReader(t, f)); len(es) != 1 || es[0].Message != "shm 42" {
		t.Fatalf("got %+v", es)
	}
	if err := f.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Remove: %v", err)
	}
}

func TestClose(t *testing.T) {
	f := newTestFile(t, 1, 4)
	r := openTestReader(t, f)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
	f.Enable() // must not fault
	f.Clear()
	if f.Enabled() {
		t.Error("closed file reports logging on")
	}
	if _, err := f.Register("x"); !errors.Is(err, ErrClosed) {
		t.Errorf("Register after Close = %v, want ErrClosed", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Entries(); !errors.Is(err, ErrClosed) {
		t.Errorf("Entries after Close = %v, want ErrClosed", err)
	}
}

func TestLoggerPanicsOutOfRange(t *testing.T) {
	f := newTestFile(t, 2, 4)
	if f.Logger(1) != f.Logger(1) {
		t.Error("Logger(1) returns a different Logger each time")
	}
	defer func() {
		if recover() == nil {
			t.Error("Logger(2) of a 2-thread file did not panic")
		}
	}()
	f.Logger(2)
}

// TestTornEntrySkipped plays the writer at the worst moments: it is
// overwriting the slot of the oldest entry with entry 6 while the reader
// copies that slot. The slot's seq still names the old entry, so only claim,
// loaded last, can tell the copy is torn.
func TestTornEntrySkipped(t *testing.T) {
	tests := []struct {
		name  string
		write func(e *entry) // what the writer has done to the slot so far
	}{
		{"claimed", func(e *entry) { e.claim = 7 }},
		{"claimed and half written", func(e *entry) {
			e.claim = 7
			e.time = 1
			e.args = [MaxArgs]uint64{0xbad, 0xbad}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTestFile(t, 1, 4)
			id := mustRegister(t, f, "%d %d")
			f.Enable()
			l := f.Logger(0)
			for i := range 6 { // entries 2..5 are in the ring
				l.Log(id, uint64(i), uint64(i), 0, 0)
			}
			r := openTestReader(t, f)
			if es := entries(t, r); len(es) != 4 || es[0].Seq != 2 {
				t.Fatalf("before: got %+v, want entries 2..5", es)
			}
			testHookCopy = func(thread int, n uint64) {
				if n == 2 {
					tt.write(&l.ring[6&l.mask]) // entry 6 lands on entry 2's slot
				}
			}
			t.Cleanup(func() { testHookCopy = nil })
			es := entries(t, r)
			testHookCopy = nil
			if len(es) != 3 {
				t.Fatalf("got %d entries, want 3 (entry 2 torn): %+v", len(es), es)
			}
			for i, e := range es {
				if want := uint64(3 + i); e.Seq != want || e.Args[0] != want || e.Args[1] != want {
					t.Errorf("entry %d = seq %d args %v, want %d", i, e.Seq, e.Args, want)
				}
			}
			if r.Skipped() != 1 {
				t.Errorf("Skipped = %d, want 1", r.Skipped())
			}
			// The writer finishes entry 6: now it shows, and entry 2 is gone.
			l.Log(id, 6, 6, 0, 0)
			es = entries(t, r)
			if len(es) != 4 || es[0].Seq != 3 || es[3].Seq != 6 || es[3].Args[1] != 6 {
				t.Errorf("after the write completed: %+v", es)
			}
		})
	}
}

func TestDamagedEntrySkipped(t *testing.T) {
	f := newTestFile(t, 2, 4)
	id := mustRegister(t, f, "%d")
	f.Enable()
	for i := range 3 {
		f.Logger(0).Log(id, uint64(i), 0, 0, 0)
	}
	f.Logger(1).Log(id, 9, 0, 0, 0)
	f.Logger(0).ring[1].seq = 7         // not entry 1's seq
	f.Logger(1).ring[0].meta |= 5 << 16 // claims another thread
	r := openTestReader(t, f)
	es := entries(t, r)
	if len(es) != 2 || es[0].Args[0] != 0 || es[1].Args[0] != 2 {
		t.Fatalf("got %+v, want entries 0 and 2 of thread 0", es)
	}
	if r.Skipped() != 2 {
		t.Errorf("Skipped = %d, want 2", r.Skipped())
	}
}

// TestConcurrentWritersAndReader runs writers in goroutines, wrapping small
// rings many times, while a reader reads. Every entry the reader returns must
// be exactly what its writer wrote; run it with -race.
func TestConcurrentWritersAndReader(t *testing.T) {
	const threads, size = 3, 16
	f := newTestFile(t, threads, size)
	id := mustRegister(t, f, "n=%d b=%x c=%d t=%d")
	f.Enable()
	r := openTestReader(t, f)

	perWriter := 1000000
	if testing.Short() || raceEnabled {
		perWriter = 100000
	}
	var wg sync.WaitGroup
	var stop atomic.Bool
	for th := range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := f.Logger(th)
			for n := range uint64(perWriter) {
				l.Log(id, n, n*7+uint64(th), ^n, uint64(th))
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); stop.Store(true); close(done) }()

	reads, seen := 0, 0
	lastSeq := make([]int64, threads)
	for !stop.Load() || reads == 0 {
		es, err := r.Entries()
		if err != nil {
			t.Fatal(err)
		}
		reads++
		seen += len(es)
		for i := range lastSeq {
			lastSeq[i] = -1
		}
		for i, e := range es {
			n, th := e.Seq, uint64(e.Thread)
			if e.Args != [MaxArgs]uint64{n, n*7 + th, ^n, th} || e.FormatID != id {
				t.Fatalf("read %d: garbage entry %+v", reads, e)
			}
			if want := fmt.Sprintf("n=%d b=%x c=%d t=%d", n, n*7+th, ^n, th); e.Message != want {
				t.Fatalf("message %q, want %q", e.Message, want)
			}
			if int64(n) <= lastSeq[th] {
				t.Fatalf("thread %d: entry %d after %d", th, n, lastSeq[th])
			}
			lastSeq[th] = int64(n)
			if i > 0 && e.Time.Before(es[i-1].Time) {
				t.Fatalf("entries out of time order at %d", i)
			}
		}
		runtime.Gosched()
	}
	<-done
	es := entries(t, r)
	if len(es) != threads*size {
		t.Errorf("after writers stopped: %d entries, want %d", len(es), threads*size)
	}
	for _, e := range es {
		if e.Seq < uint64(perWriter-size) {
			t.Errorf("thread %d entry %d is not among the newest %d", e.Thread, e.Seq, size)
		}
	}
	t.Logf("%d reads, %d entries checked, %d torn entries skipped", reads, seen, r.Skipped())
}

func TestLogAllocs(t *testing.T) {
	f := newTestFile(t, 1, 64)
	id := mustRegister(t, f, "%d")
	l := f.Logger(0)
	if n := testing.AllocsPerRun(1000, func() { l.Log(id, 1, 2, 3, 4) }); n != 0 {
		t.Errorf("Log while disabled: %v allocs, want 0", n)
	}
	f.Enable()
	if n := testing.AllocsPerRun(1000, func() { l.Log(id, 1, 2, 3, 4) }); n != 0 {
		t.Errorf("Log while enabled: %v allocs, want 0", n)
	}
	if h := atomic.LoadUint64(l.head); h != 1001 {
		t.Errorf("head = %d, want 1001 (AllocsPerRun warm-up + runs)", h)
	}
	d := Discard()
	if n := testing.AllocsPerRun(100, func() { d.Log(id, 1, 2, 3, 4) }); n != 0 || d.Enabled() {
		t.Errorf("Discard logger: %v allocs, enabled %v", n, d.Enabled())
	}
}

func TestEntryJSON(t *testing.T) {
	e := Entry{
		Time:    time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("x", 3600)),
		Thread:  3,
		Message: "quote \" backslash \\ tab \t nl \n ctl \x01 ü",
	}
	var got struct {
		Time   string `json:"time"`
		Thread int    `json:"thread"`
		Msg    string `json:"msg"`
	}
	b := e.JSON()
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if got.Time != "2024-05-06T06:08:09.123456789Z" || got.Thread != 3 || got.Msg != e.Message {
		t.Errorf("decoded %+v from %s", got, b)
	}
	if want := `{"time":"2024-05-06T06:08:09.123456789Z","thread":3,"msg":"quote \" backslash \\ tab \t nl \n ctl \u0001 ü"}`; string(b) != want {
		t.Errorf("JSON =\n%s\nwant\n%s", b, want)
	}
	if s := appendJSONString(nil, "a\xffb"); string(s) != `"a\ufffdb"` {
		t.Errorf("invalid UTF-8 encoded as %s", s)
	}

	var sb strings.Builder
	if err := WriteJSON(&sb, []Entry{e, {Time: e.Time, Thread: 0, Message: "two"}}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(sb.String(), "\n")
	if len(lines) != 3 || lines[0] != string(b) || lines[2] != "" || !strings.Contains(lines[1], `"msg":"two"`) {
		t.Errorf("WriteJSON wrote %q", sb.String())
	}
}

func BenchmarkLog(b *testing.B) {
	f := newTestFile(b, 1, 1024)
	id := mustRegister(b, f, "bench %d %x %ip %mac")
	l := f.Logger(0)
	b.Run("off", func(b *testing.B) {
		f.Disable()
		b.ReportAllocs()
		for i := uint64(0); b.Loop(); i++ {
			l.Log(id, i, 2, 3, 4)
		}
	})
	b.Run("on", func(b *testing.B) {
		f.Enable()
		b.ReportAllocs()
		for i := uint64(0); b.Loop(); i++ {
			l.Log(id, i, 2, 3, 4)
		}
	})
}

func TestInstancePath(t *testing.T) {
	if got, want := InstancePath("blue"), "/dev/shm/r2-blue-logs"; got != want {
		t.Errorf("InstancePath(blue) = %q, want %q", got, want)
	}
}
