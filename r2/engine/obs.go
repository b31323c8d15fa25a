//go:build linux

package engine

import (
	"github.com/r2go/r2/r2/graph"
)

// SetRuntime turns the per-node runtime statistics on or off on every
// thread (counters "<node>/rt_calls", "rt_pkts", "rt_ns"; see package
// graph). The threads see the switch at their next run.
func (e *Engine) SetRuntime(on bool) { e.obs.SetRuntime(on) }

// Runtime reports whether the runtime statistics are on.
func (e *Engine) Runtime() bool { return e.obs.Runtime() }

// StartCapture installs a capture and returns its slot once every thread
// captures.
func (e *Engine) StartCapture(spec graph.CaptureSpec) (int, *graph.Capture, error) {
	c, err := graph.NewCapture(spec, len(e.threads))
	if err != nil {
		return -1, nil, err
	}
	id, err := e.obs.AddCapture(c)
	if err != nil {
		return -1, nil, err
	}
	e.refreshTaps()
	return id, c, nil
}

// StopCapture removes the capture in slot id and returns it once no thread
// writes to it any more (nil if the slot was empty); what its rings still
// hold can be read.
func (e *Engine) StopCapture(id int) *graph.Capture {
	c := e.obs.RemoveCapture(id)
	if c != nil {
		e.refreshTaps()
	}
	return c
}

// Capture returns the capture in slot id, or nil.
func (e *Engine) Capture(id int) *graph.Capture { return e.obs.Capture(id) }

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
