package logs

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Entry is one decoded log entry.
type Entry struct {
	Time     time.Time       // when the entry was written
	Thread   int             // the forwarding thread that wrote it
	Seq      uint64          // entry number in the thread's ring, from 0 at Create
	FormatID Format          // the registered format
	Format   string          // the format text ("" if the id is unknown)
	Message  string          // the format with the arguments filled in
	Args     [MaxArgs]uint64 // the raw arguments
}

// Reader maps a log file read-only and decodes its entries. It may run in
// any process and never blocks or slows the writers. Its methods are safe
// for concurrent use.
type Reader struct {
	path string
	lay  layout

	mu      sync.Mutex
	mem     []byte       // the file, mapped read-only; nil after Close
	formats []readFormat // formats seen so far, by id-1; they never change
	raw     []rawEntry   // scratch copies, reused between Entries calls
	skipped uint64       // entries dropped as torn or damaged
}

// readFormat is a format as read from its slot.
type readFormat struct {
	text string
	segs []segment
	ok   bool // false if the slot did not hold a valid format
}

// rawEntry is an entry copied out of a ring.
type rawEntry struct {
	thread int
	n      uint64 // entry number
	e      entry
}

// testHookCopy, if set, runs before a reader copies entry n of a thread's
// ring; tests use it to play a writer at the worst moment.
var testHookCopy func(thread int, n uint64)

// Open maps the log file at path read-only and checks its header. Errors
// wrap the os error (test with errors.Is(err, fs.ErrNotExist)) or one of
// ErrBadMagic, ErrVersion, ErrTruncated and ErrCorrupt.
func Open(path string) (*Reader, error) {
	if !nativeLittleEndian {
		return nil, errBigEndian
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("logs: open: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("logs: open: %w", err)
	}
	hdr := make([]byte, headerSize)
	n, err := io.ReadFull(f, hdr)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, fmt.Errorf("logs: open %s: %w", path, err)
	}
	lay, err := parseHeader(hdr[:n], st.Size())
	if err != nil {
		return nil, fmt.Errorf("logs: open %s: %w", path, err)
	}
	mem, err := mmapFile(f, lay.size, false)
	if err != nil {
		return nil, fmt.Errorf("logs: open %s: mmap: %w", path, err)
	}
	return &Reader{path: path, lay: lay, mem: mem}, nil
}

// Path returns the file's path.
func (r *Reader) Path() string { return r.path }

// Threads returns the number of rings.
func (r *Reader) Threads() int { return r.lay.threads }

// EntriesPerThread returns the size of each ring.
func (r *Reader) EntriesPerThread() int { return r.lay.entries }

// Enabled reports whether logging is on (false after Close).
func (r *Reader) Enabled() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mem != nil && atomic.LoadUint32(word32(r.mem, offEnabled)) != 0
}

// ClearGeneration returns the number of Clear calls since the file was
// created (0 after Close).
func (r *Reader) ClearGeneration() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mem == nil {
		return 0
	}
	return atomic.LoadUint64(word64(r.mem, offClearGen))
}

// Skipped returns how many entries Entries has dropped so far because a
// writer was overwriting them while they were copied, or they were damaged.
func (r *Reader) Skipped() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skipped
}

// Close unmaps the file. Closing twice returns ErrClosed.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mem == nil {
		return ErrClosed
	}
	mem := r.mem
	r.mem = nil
	if err := munmap(mem); err != nil {
		return fmt.Errorf("logs: unmap %s: %w", r.path, err)
	}
	return nil
}

// Entries returns the entries of every ring, oldest first, merged by time
// (ties broken by thread, then entry number). It shows at most the newest
// EntriesPerThread entries of each thread, none from before the last Clear,
// and never an entry that was being overwritten while it was copied (see
// doc.go, "Reading without locks").
func (r *Reader) Entries() ([]Entry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mem == nil {
		return nil, ErrClosed
	}
	raw := r.raw[:0]
	for t := range r.lay.threads {
		raw = r.copyRing(raw, t)
	}
	r.raw = raw
	// Formats after entries: a format is published before any entry that
	// uses it, so every format an entry copied above names is visible now.
	if err := r.loadFormats(); err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(raw))
	for i := range raw {
		out = append(out, r.decode(&raw[i]))
	}
	slices.SortFunc(out, func(a, b Entry) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Thread, b.Thread), cmp.Compare(a.Seq, b.Seq))
	})
	return out, nil
}

// copyRing appends the valid entries of ring t to raw.
func (r *Reader) copyRing(raw []rawEntry, t int) []rawEntry {
	hdr, ents := r.lay.ring(t)
	rh, ring := ringAt(r.mem, hdr, ents, r.lay.entries)
	size := uint64(len(ring))
	head := atomic.LoadUint64(&rh.head)
	start := atomic.LoadUint64(&rh.base)
	if head > size && head-size > start {
		start = head - size
	}
	for n := start; n < head; n++ {
		if testHookCopy != nil {
			testHookCopy(t, n)
		}
		e := &ring[n&(size-1)]
		c := rawEntry{thread: t, n: n}
		// seq first and claim last: the reverse of the writer's order.
		c.e.seq = atomic.LoadUint64(&e.seq)
		c.e.time = atomic.LoadUint64(&e.time)
		c.e.meta = atomic.LoadUint64(&e.meta)
		for i := range e.args {
			c.e.args[i] = atomic.LoadUint64(&e.args[i])
		}
		c.e.claim = atomic.LoadUint64(&e.claim)
		// Keep entry n only if it was complete before the copy (seq) and
		// no later entry had begun to overwrite it by the end (claim),
		// and the slot says it belongs to thread t.
		if c.e.seq != n+1 || c.e.claim != n+1 || c.e.meta>>16 != uint64(t) {
			r.skipped++
			continue
		}
		raw = append(raw, c)
	}
	return raw
}

// loadFormats reads the formats registered since the last call.
func (r *Reader) loadFormats() error {
	n := atomic.LoadUint32(word32(r.mem, offNumFormats))
	if n > MaxFormats {
		return fmt.Errorf("logs: read %s: %w: %d formats", r.path, ErrCorrupt, n)
	}
	for i := len(r.formats); i < int(n); i++ {
		slot := r.mem[r.lay.formatsOff+i*formatSlotSize:][:formatSlotSize]
		var f readFormat
		if l := int(binary.LittleEndian.Uint16(slot)); l <= MaxFormatLen {
			f.text = string(slot[2 : 2+l])
			segs, err := parseFormat(f.text)
			f.segs, f.ok = segs, err == nil
		}
		r.formats = append(r.formats, f)
	}
	return nil
}

// decode turns a copied entry into an Entry.
func (r *Reader) decode(c *rawEntry) Entry {
	id := Format(c.e.meta & 0xffff)
	e := Entry{
		Time:     time.Unix(0, int64(c.e.time)),
		Thread:   c.thread,
		Seq:      c.n,
		FormatID: id,
		Args:     c.e.args,
	}
	if id >= 1 && int(id) <= len(r.formats) && r.formats[id-1].ok {
		f := &r.formats[id-1]
		e.Format = f.text
		e.Message = render(f.segs, e.Args)
		return e
	}
	e.Message = fmt.Sprintf("unknown format %d: %#x %#x %#x %#x", id, e.Args[0], e.Args[1], e.Args[2], e.Args[3])
	return e
}

// JSON returns the entry as one JSON object, without a newline:
// {"time":"<RFC 3339, ns, UTC>","thread":N,"msg":"..."}.
func (e Entry) JSON() []byte { return e.AppendJSON(nil) }

// AppendJSON appends the entry's JSON object (see JSON) to b.
func (e Entry) AppendJSON(b []byte) []byte {
	b = append(b, `{"time":"`...)
	b = e.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","thread":`...)
	b = strconv.AppendInt(b, int64(e.Thread), 10)
	b = append(b, `,"msg":`...)
	b = appendJSONString(b, e.Message)
	return append(b, '}')
}

// WriteJSON writes the entries to w as JSON lines, one object per line.
func WriteJSON(w io.Writer, entries []Entry) error {
	var b []byte // reused for every line
	for i := range entries {
		b = append(entries[i].AppendJSON(b[:0]), '\n')
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// appendJSONString appends s as a JSON string, escaping quotes, backslashes
// and control characters, and replacing invalid UTF-8 with U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c == '\r':
			b = append(b, `\r`...)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
		i++
	}
	return append(b, '"')
}
