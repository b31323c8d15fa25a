//go:build linux

package router

import (
	"time"

	"github.com/r2go/r2/r2/graph"
)

// Operating the graph: runtime statistics, the live graph and packet
// captures. The engine does the work; these are the router's entry points
// for the API.

// SetRuntime turns the per-node runtime statistics on or off.
func (r *Router) SetRuntime(on bool) error {
	r.eng.SetRuntime(on)
	return nil
}

// Runtime reports whether the runtime statistics are on.
func (r *Router) Runtime() bool { return r.eng.Runtime() }

// Graph describes thread's graph with per-edge packet counts.
func (r *Router) Graph(thread int) ([]graph.NodeInfo, error) { return r.eng.Graph(thread) }

// StartCapture starts a capture that stops by itself if it is not read for
// lease.
func (r *Router) StartCapture(spec graph.CaptureSpec, lease time.Duration) (int64, error) {
	return r.eng.StartCapture(spec, lease)
}

// ReadCapture renews capture h's lease and takes what it captured.
func (r *Router) ReadCapture(h int64, max, maxBytes int) ([]graph.Record, uint64, uint64, error) {
	return r.eng.ReadCapture(h, max, maxBytes)
}

// StopCapture stops capture h.
func (r *Router) StopCapture(h int64) error { return r.eng.StopCapture(h) }
