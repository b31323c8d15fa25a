package graph

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/bpf"

	"github.com/r2go/r2/r2/packet"
)

// Packet capture on graph edges (BESS's per-gate tcpdump, VPP's pcap
// trace). A capture names a node and optionally the node feeding it: every
// packet pushed to Node (from From, if set) that passes the filter is
// copied, by the pushing thread, into that thread's ring of the capture.
// A push tests one pointer of the target slot, which it reads anyway, so a
// graph without captures pays one predictable branch per push.
//
// The rings are in the daemon's memory, single producer (the thread) and
// single consumer (the control side, Capture.Read): the API hands records
// to the utility, and reading is what keeps a capture alive (the lease is
// kept by the router). A full ring never delays forwarding: the packet is
// counted as lost.

// MaxCaptures is how many captures can run at once: a few operators
// looking at a few edges; every push to a tapped node walks the list.
const MaxCaptures = 8

// DefaultRingBytes is a capture's ring per thread: about 500 full-sized
// frames, or several thousand small ones, between two reads.
const DefaultRingBytes = 1 << 20

// Errors of AddCapture.
var (
	ErrCapturesFull = errors.New("graph: every capture slot is in use")
	ErrBadFilter    = errors.New("graph: bad capture filter")
)

// Obs is the observability state an engine's threads share: the runtime
// statistics switch and the captures. The zero value is ready.
type Obs struct {
	runtime atomic.Bool
	mu      sync.Mutex
	caps    [MaxCaptures]*Capture
}

// CaptureSpec says what a capture takes.
type CaptureSpec struct {
	// Node is the node whose input is captured.
	Node string
	// From, if set, limits the capture to packets pushed by this node (one
	// edge).
	From string
	// Filter is a classic BPF program run on the frame (Ethernet header
	// first); empty: every packet. Its return value caps the bytes kept.
	Filter []bpf.RawInstruction
	// Snap is the most bytes kept per packet (0: the whole frame).
	Snap int
	// RingBytes is the ring size per thread, rounded up to a power of two
	// (0: DefaultRingBytes).
	RingBytes int
}

// Capture is a running capture: its spec and one ring per thread.
type Capture struct {
	Spec  CaptureSpec
	vm    *bpf.VM
	rings []*ring
	// readMu makes Read the rings' single consumer even when two API
	// calls read the same capture.
	readMu sync.Mutex
}

// NewCapture makes a capture for an engine with threads threads.
func NewCapture(spec CaptureSpec, threads int) (*Capture, error) {
	c := &Capture{Spec: spec}
	if len(spec.Filter) > 0 {
		ins, ok := bpf.Disassemble(spec.Filter)
		if !ok {
			return nil, fmt.Errorf("%w: unknown instruction", ErrBadFilter)
		}
		vm, err := bpf.NewVM(ins)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadFilter, err)
		}
		c.vm = vm
	}
	size := spec.RingBytes
	if size <= 0 {
		size = DefaultRingBytes
	}
	n := 4096
	for n < size {
		n <<= 1
	}
	for i := 0; i < threads; i++ {
		c.rings = append(c.rings, &ring{buf: make([]byte, n), mask: uint64(n - 1)})
	}
	return c, nil
}

// AddCapture installs c in a free slot and returns the slot. The threads
// start capturing at their next Finalize (engine: Captures changed).
func (o *Obs) AddCapture(c *Capture) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, x := range o.caps {
		if x == nil {
			o.caps[i] = c
			return i, nil
		}
	}
	return -1, ErrCapturesFull
}

// RemoveCapture empties slot id and returns what was there (nil if none).
// Threads stop writing to it at their next Finalize; its rings stay
// readable.
func (o *Obs) RemoveCapture(id int) *Capture {
	if id < 0 || id >= MaxCaptures {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.caps[id]
	o.caps[id] = nil
	return c
}

// Capture returns the capture in slot id, or nil.
func (o *Obs) Capture(id int) *Capture {
	if id < 0 || id >= MaxCaptures {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.caps[id]
}

// Record is one captured packet.
type Record struct {
	// Time is the wall-clock time of the graph run that pushed it.
	Time time.Time
	// OrigLen is the frame's length; len(Data) may be less (snap length).
	OrigLen int
	// Thread is the forwarding thread that pushed it.
	Thread int
	Data   []byte
}

// Read takes up to max records (and about maxBytes of data) from the
// rings, oldest first across threads, and reports the totals so far of
// packets that matched and of those lost because a ring was full.
func (c *Capture) Read(max, maxBytes int) (recs []Record, matched, lost uint64) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	for t, r := range c.rings {
		recs = r.read(recs, t, max, maxBytes)
		matched += r.matched.Load()
		lost += r.lost.Load()
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Time.Before(recs[j].Time) })
	return recs, matched, lost
}

// ring is a single-producer single-consumer byte ring of records:
//
//	0   int64   time, unix ns
//	8   uint32  captured length (0xffffffff: wrap marker, skip to the start)
//	12  uint32  original length
//	16  data, padded to 16 bytes
//
// Records are 16-byte aligned so a wrap marker always fits at the end.
type ring struct {
	buf        []byte
	mask       uint64
	head, tail atomic.Uint64 // consumer, producer positions
	// matched and lost are written by the producer only.
	matched, lost atomic.Uint64
}

const (
	recHdr     = 16
	wrapMarker = 0xffffffff
)

func (r *ring) put(ts int64, a, b []byte, orig int) {
	r.matched.Store(r.matched.Load() + 1)
	n := uint64(len(a) + len(b))
	need := (recHdr + n + 15) &^ 15
	size := uint64(len(r.buf))
	tail := r.tail.Load()
	pos := tail & r.mask
	total := need
	if pos+need > size {
		total += size - pos
	}
	if total > size-(tail-r.head.Load()) {
		r.lost.Store(r.lost.Load() + 1)
		return
	}
	le := binary.LittleEndian
	if pos+need > size {
		le.PutUint32(r.buf[pos+8:], wrapMarker)
		tail += size - pos
		pos = 0
	}
	h := r.buf[pos : pos+need]
	le.PutUint64(h, uint64(ts))
	le.PutUint32(h[8:], uint32(n))
	le.PutUint32(h[12:], uint32(orig))
	copy(h[recHdr+copy(h[recHdr:], a):], b)
	r.tail.Store(tail + need)
}

func (r *ring) read(recs []Record, thread, max, maxBytes int) []Record {
	le := binary.LittleEndian
	head, tail := r.head.Load(), r.tail.Load()
	size := uint64(len(r.buf))
	for head < tail && len(recs) < max && maxBytes > 0 {
		pos := head & r.mask
		n := le.Uint32(r.buf[pos+8:])
		if n == wrapMarker {
			head += size - pos
			continue
		}
		h := r.buf[pos:]
		recs = append(recs, Record{
			Time:    time.Unix(0, int64(le.Uint64(h))),
			OrigLen: int(le.Uint32(h[12:])),
			Thread:  thread,
			Data:    append([]byte(nil), h[recHdr:recHdr+n]...),
		})
		maxBytes -= int(n)
		head += (recHdr + uint64(n) + 15) &^ 15
	}
	r.head.Store(head)
	return recs
}

// tapSet is the captures on one node's input, on one thread.
type tapSet struct {
	taps []tap
	// scratch holds a frame whose link-layer header is synthesized (a
	// packet made at layer 3, e.g. an ICMP reply): reused, no allocation.
	scratch []byte
}

type tap struct {
	from *slot // nil: any
	c    *Capture
	r    *ring
}

// applyTaps points the slots at the captures that concern them; called by
// Finalize, on the thread.
func (g *Graph) applyTaps() {
	for _, s := range g.slots {
		s.taps = nil
	}
	o := g.ctx.Obs
	if o == nil || g.ctx.Thread < 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, c := range o.caps {
		if c == nil || g.ctx.Thread >= len(c.rings) {
			continue
		}
		t, ok := g.byName[c.Spec.Node]
		if !ok {
			continue
		}
		var from *slot
		if c.Spec.From != "" {
			if from, ok = g.byName[c.Spec.From]; !ok {
				continue
			}
		}
		if t.taps == nil {
			t.taps = &tapSet{scratch: make([]byte, packet.BufSize+14)}
		}
		t.taps.taps = append(t.taps.taps, tap{from: from, c: c, r: c.rings[g.ctx.Thread]})
	}
}

// capture copies p into the rings of t's captures that take it.
func (d *Dispatch) capture(t *slot, p *packet.Packet) {
	ts := d.g.epochNs + d.now
	buf := p.Buf()
	head := p.Head()
	end := head + p.Len()
	var frame []byte
	if p.L2 >= 0 && p.L2 <= head {
		frame = buf[p.L2:end]
	} else {
		// No link-layer header yet: a zero Ethernet header with the
		// EtherType of the IP version, so the pcap stays LINKTYPE_ETHERNET.
		sc := t.taps.scratch
		clear(sc[:12])
		et := uint16(0x0800)
		if p.Len() > 0 && buf[head]>>4 == 6 {
			et = 0x86dd
		}
		binary.BigEndian.PutUint16(sc[12:], et)
		frame = sc[:14+copy(sc[14:], buf[head:end])]
	}
	for i := range t.taps.taps {
		tp := &t.taps.taps[i]
		if tp.from != nil && tp.from != d.s {
			continue
		}
		keep := len(frame)
		if tp.c.vm != nil {
			n, err := tp.c.vm.Run(frame)
			if err != nil || n <= 0 {
				continue
			}
			keep = min(keep, n)
		}
		if s := tp.c.Spec.Snap; s > 0 {
			keep = min(keep, s)
		}
		tp.r.put(ts, frame[:keep], nil, len(frame))
	}
}
