//go:build linux

package engine

import (
	"fmt"
	"sync"
	"time"

	r2ctl "github.com/r2go/r2/r2/ctl"
	"github.com/r2go/r2/r2/graph"
)

// SetRuntime turns the per-node runtime statistics on or off on every
// thread (counters "<node>/rt_calls", "rt_pkts", "rt_ns"; see package
// graph). The threads see the switch at their next run.
func (e *Engine) SetRuntime(on bool) { e.obs.SetRuntime(on) }

// Runtime reports whether the runtime statistics are on.
func (e *Engine) Runtime() bool { return e.obs.Runtime() }

// ErrNoCapture is returned for a capture handle that is not (or no longer)
// running: stopped, or its lease ran out.
var ErrNoCapture = fmt.Errorf("no such capture (stopped, or not read within its lease): %w", r2ctl.ErrNotFound)

// ErrNoNode is returned for a capture on a node that is not in the graph.
var ErrNoNode = fmt.Errorf("%w: no such node", r2ctl.ErrNotFound)

// capLeases keeps each running capture's handle and lease timer: a capture
// nobody reads for its lease is stopped, so a killed reader does not leave
// it on forever.
type capLeases struct {
	mu  sync.Mutex
	seq int64
	by  [graph.MaxCaptures]*capLease
}

type capLease struct {
	handle int64
	c      *graph.Capture
	timer  *time.Timer
	lease  time.Duration
}

// StartCapture installs a capture and returns its handle once every thread
// captures. The capture stops by itself when ReadCapture is not called for
// lease (minimum one second).
func (e *Engine) StartCapture(spec graph.CaptureSpec, lease time.Duration) (int64, error) {
	if lease < time.Second {
		lease = time.Second
	}
	var missing string
	if err := e.OnThread(0, func(t *Thread) {
		for _, n := range []string{spec.Node, spec.From} {
			if n != "" && t.g.Node(n) == nil {
				missing = n
			}
		}
	}); err != nil {
		return 0, err
	}
	if missing != "" {
		return 0, fmt.Errorf("%w %s", ErrNoNode, missing)
	}
	c, err := graph.NewCapture(spec, len(e.threads))
	if err != nil {
		return 0, fmt.Errorf("%w: %w", r2ctl.ErrInvalid, err)
	}
	id, err := e.obs.AddCapture(c)
	if err != nil {
		return 0, fmt.Errorf("%w: every capture slot is in use (%d captures)", r2ctl.ErrBusy, graph.MaxCaptures)
	}
	l := &e.caps
	l.mu.Lock()
	l.seq++
	h := l.seq*graph.MaxCaptures + int64(id)
	cl := &capLease{handle: h, c: c, lease: lease}
	cl.timer = time.AfterFunc(lease, func() { e.StopCapture(h) })
	l.by[id] = cl
	l.mu.Unlock()
	e.refreshTaps()
	return h, nil
}

// lookup returns the lease of handle h; caller holds l.mu.
func (l *capLeases) lookup(h int64) (int, *capLease) {
	if h <= 0 {
		return -1, nil
	}
	id := int(h % graph.MaxCaptures)
	if cl := l.by[id]; cl != nil && cl.handle == h {
		return id, cl
	}
	return -1, nil
}

// ReadCapture renews capture h's lease and takes up to max records (about
// maxBytes of data) from it, with its totals of matched and lost packets.
func (e *Engine) ReadCapture(h int64, max, maxBytes int) ([]graph.Record, uint64, uint64, error) {
	l := &e.caps
	l.mu.Lock()
	_, cl := l.lookup(h)
	if cl != nil {
		cl.timer.Reset(cl.lease)
	}
	l.mu.Unlock()
	if cl == nil {
		return nil, 0, 0, ErrNoCapture
	}
	recs, matched, lost := cl.c.Read(max, maxBytes)
	return recs, matched, lost, nil
}

// StopCapture stops capture h once no thread writes to it any more.
func (e *Engine) StopCapture(h int64) error {
	l := &e.caps
	l.mu.Lock()
	id, cl := l.lookup(h)
	if cl != nil {
		cl.timer.Stop()
		l.by[id] = nil
	}
	l.mu.Unlock()
	if cl == nil {
		return ErrNoCapture
	}
	e.obs.RemoveCapture(id)
	e.refreshTaps()
	return nil
}

// Captures is the number of running captures.
func (e *Engine) Captures() int {
	l := &e.caps
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, cl := range l.by {
		if cl != nil {
			n++
		}
	}
	return n
}

// refreshTaps has every thread re-resolve the captures (Finalize).
func (e *Engine) refreshTaps() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	e.broadcast(func(*Thread) ctl { return ctl{finalize: true} })
}

// Graph describes thread i's graph: its nodes in run order with their
// edges and the packets pushed along each.
func (e *Engine) Graph(i int) ([]graph.NodeInfo, error) {
	var out []graph.NodeInfo
	err := e.OnThread(i, func(t *Thread) { out = t.g.Snapshot() })
	return out, err
}
