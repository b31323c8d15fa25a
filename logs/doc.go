// Package logs is R2's forwarding-path logger: one ring of fixed-size binary
// entries per forwarding thread, in a shared-memory file that other processes
// (r2log) map read-only and print, without asking the daemon anything.
//
// Logging a message must cost almost nothing on a thread that moves millions
// of packets a second, so an entry is not text. It is a timestamp, the id of
// a format registered once by the control side, and four uint64 arguments.
// The reader turns the entry into text, with the format stored in the file.
//
// # Roles
//
// The control side calls [Create] (the file lives under /dev/shm, normally
// /dev/shm/r2-<instance>-logs), [File.Register] for every message format, and
// hands [File.Logger](thread) to each forwarding thread. It switches logging
// with [File.Enable] and [File.Disable] (it is off after Create) and forgets
// old entries with [File.Clear].
//
// Each ring has a single writer, the forwarding thread that owns it, and
// takes no lock. [Logger.Log] first loads the header's enabled word
// atomically; while logging is off that load and a branch are all it costs.
// While it is on, Log reads a monotonic clock, writes the entry with plain
// stores (on amd64) and publishes it with one atomic store of the ring's
// head.
//
// Readers, in this process or another one, call [Open] and [Reader.Entries],
// which copies every ring, skips entries the writer was overwriting during
// the copy, and merges the threads by timestamp.
//
// # File layout
//
// All integers are little-endian (R2 refuses to run on big-endian hosts);
// offsets are in bytes from the start of the file unless said otherwise.
// Words marked "live" change while R2 runs and are read and written with
// atomic loads and stores; every other header field is written once, before
// the file appears under its name (Create builds it under a temporary name
// and renames it into place, so a reader never sees a half-made file).
//
//	Header (256 bytes)
//	  0  [8]byte  magic "R2LOGS\x00\x00"
//	  8  uint32   version (1)
//	 12  uint32   header size (256)
//	 16  uint32   threads: number of rings
//	 20  uint32   entries per ring (a power of two)
//	 24  uint32   entry size (64)
//	 28  uint32   format slots (256)
//	 32  uint32   format slot size (128)
//	 36  uint32   ring header size (64)
//	 40  uint64   formats offset (256)
//	 48  uint64   rings offset (page-aligned)
//	 56  uint64   ring stride: bytes from one ring header to the next
//	              (page-aligned, so rings of different threads never share
//	              a cache line)
//	 64  uint64   file size
//	 72  int64    creation time, ns since the Unix epoch
//	 80  uint32   pid of the process that created the file
//	 84..127      reserved (zero)
//	128  uint32   live: enabled (0 off, 1 on); written by the control side,
//	              loaded by every Log call
//	132  uint32   live: formats in use; bumped after the slot it covers is
//	              written
//	136  uint64   live: clear generation, bumped by every Clear
//	144..255      reserved (zero)
//
//	Format slot i (128 bytes at formats offset + i*128) holds format id i+1
//	  0  uint16   length in bytes (at most 126)
//	  2  [126]byte the format text, UTF-8
//
//	Ring t (at rings offset + t*stride)
//	  0  uint64   live: head, the number of entries ever written to the ring;
//	              written only by thread t, with an atomic store after the
//	              entry is complete
//	  8  uint64   live: base, the index of the first entry readers show;
//	              written only by the control side (Clear sets it to head)
//	 16..63       reserved (zero)
//	 64           entries: entries-per-ring slots of 64 bytes; entry number
//	              n (counting from 0 since Create) is in slot n mod entries
//
//	Entry (64 bytes)
//	  0  uint64   seq: n+1 for entry number n, written last (0: slot never
//	              written)
//	  8  uint64   claim: n+1 for entry number n, written first
//	 16  int64    time, ns since the Unix epoch
//	 24  uint16   format id (1-based; 0 is never registered)
//	 26  uint16   thread (equals the ring index)
//	 28  uint32   reserved (zero)
//	 32  [4]uint64 arguments
//
// # Format strings
//
// A format is text with up to four placeholders, replaced in order by the
// entry's arguments: %d (unsigned decimal), %x (hex, no prefix), %ip (the low
// 32 bits as an IPv4 address in host order, printed as a dotted quad), %ip6
// (two arguments, the high and low 64 bits of an IPv6 address, printed in
// RFC 5952 form), %mac (the low 48 bits as a MAC address, most significant
// byte first) and %% (a percent sign); the arguments the placeholders take
// add up to at most four. Register rejects anything else, so readers can
// rely on it.
//
// # Reading without locks
//
// The writer of ring t writes entry n into its slot as: claim = n+1, then
// time, format and thread, and arguments, then seq = n+1, and finally
// publishes it with an atomic store of head = n+1. A reader of ring t:
//
//  1. loads head h and base b (atomic loads);
//  2. for each entry n from max(b, h-entries) to h-1, loads seq, then the
//     other words, then claim, all from the slot n mod entries;
//  3. keeps entry n only if seq and claim both equal n+1 (and its thread is
//     t); otherwise the writer was overwriting the slot, and the entry is
//     skipped.
//
// This is a sequence lock with the two halves of the sequence in two words,
// the reader loading them in the reverse of the order the writer stores them:
// seq = n+1 proves that entry n was complete before the copy began, and claim
// = n+1 at the end proves that no later entry had begun to overwrite the slot
// while it was copied. So a torn entry is never shown, and a ring that is
// not being written shows all of its newest entries. The argument needs the
// stores of one entry to become visible in program order: they do on amd64,
// where the writer uses plain stores (a cycle each); elsewhere it uses atomic
// stores. Readers load every word atomically on every architecture.
//
// # Timestamps
//
// Every [Logger] of a File shares one clock: the wall time at Create plus the
// monotonic time elapsed since then, so a Log call reads the monotonic clock
// only (one vDSO call) and entries of different threads merge in the order
// they happened. Times can drift from the wall clock by whatever NTP has
// slewed since Create.
//
// # Clear
//
// Clear bumps the clear generation and sets each ring's base to its head.
// Writers never read base, so Clear needs no cooperation from them; an entry
// written while Clear runs may or may not survive it. Readers that keep state
// between reads (a "follow" mode) can watch the generation to notice a Clear.
//
// # Files and permissions
//
// Create replaces a stale file at the same path (a reader that still maps the
// old file keeps reading the old one). The file gets mode 0644, set with
// chmod so the umask does not narrow it: entries hold addresses and
// counters, not secrets, and r2log should not need root to read them.
//
// A File must not be closed while a forwarding thread may still call Log:
// Close unmaps the rings, and Log does not check (it would cost a branch on
// every call). Stop the threads, then Close, then Remove.
package logs
