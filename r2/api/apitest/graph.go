package apitest

import (
	"slices"
	"time"

	"github.com/r2go/r2/r2/ctl"
	"github.com/r2go/r2/r2/graph"
)

// GraphState is what the fake holds for the Graph service. Set Nodes and
// Packets before serving; the rest is the fake's record.
type GraphState struct {
	// Nodes is every thread's graph (default: a small IPv4 path).
	Nodes []graph.NodeInfo
	// Packets are what a capture delivers, on its first read.
	Packets []graph.Record
	// NThreads is the number of threads (default 2).
	NThreads int

	RuntimeOn bool
	// Specs are the captures started, by handle - 1; Stopped the handles
	// stopped.
	Specs   []graph.CaptureSpec
	Leases  []time.Duration
	Stopped []int64
	read    map[int64]bool
}

// DefaultNodes is the fake's graph unless GraphState.Nodes is set.
var DefaultNodes = []graph.NodeInfo{
	{Name: "Drop", Enq: 1},
	{Name: "IfNode:veth0", Enq: 10, Edges: []graph.EdgeInfo{{To: "Drop"}, {To: "EtherDecap:veth0", Pkts: 12}}},
	{Name: "EtherDecap:veth0", Rank: 10, Enq: 12, Edges: []graph.EdgeInfo{{To: "Drop", Pkts: 1}, {To: "L3Parse", Pkts: 11}}},
	{Name: "L3Parse", Rank: 20, Enq: 11, Edges: []graph.EdgeInfo{{To: "Drop"}, {To: "EtherEncap:veth0", Pkts: 10}}},
	{Name: "EtherEncap:veth0", Rank: 60, Enq: 10, Edges: []graph.EdgeInfo{{To: "Drop"}, {To: "IfNode:veth0", Pkts: 10}}},
}

// SetRuntime implements api.Backend.
func (b *Backend) SetRuntime(on bool) error {
	b.enter("SetRuntime", on)
	defer b.mu.Unlock()
	b.G.RuntimeOn = on
	return nil
}

// Runtime implements api.Backend.
func (b *Backend) Runtime() bool {
	b.enter("Runtime")
	defer b.mu.Unlock()
	return b.G.RuntimeOn
}

// Threads implements api.Backend.
func (b *Backend) Threads() int {
	b.enter("Threads")
	defer b.mu.Unlock()
	return b.threads()
}

func (b *Backend) threads() int {
	if b.G.NThreads > 0 {
		return b.G.NThreads
	}
	return 2
}

// Graph implements api.Backend.
func (b *Backend) Graph(thread int) ([]graph.NodeInfo, error) {
	b.enter("Graph", thread)
	defer b.mu.Unlock()
	if thread < 0 || thread >= b.threads() {
		return nil, ctl.Errorf(ctl.KindNotFound, "no thread %d", thread)
	}
	if b.G.Nodes != nil {
		return slices.Clone(b.G.Nodes), nil
	}
	return slices.Clone(DefaultNodes), nil
}

// StartCapture implements api.Backend: handles are 1, 2, ...
func (b *Backend) StartCapture(spec graph.CaptureSpec, lease time.Duration) (int64, error) {
	b.enter("StartCapture", spec.Node, spec.From)
	defer b.mu.Unlock()
	found := false
	nodes := b.G.Nodes
	if nodes == nil {
		nodes = DefaultNodes
	}
	for _, n := range nodes {
		found = found || n.Name == spec.Node
	}
	if !found {
		return 0, ctl.Errorf(ctl.KindNotFound, "no such node: %s", spec.Node)
	}
	b.G.Specs = append(b.G.Specs, spec)
	b.G.Leases = append(b.G.Leases, lease)
	return int64(len(b.G.Specs)), nil
}

// ReadCapture implements api.Backend: the first read of a capture returns
// G.Packets, later ones nothing.
func (b *Backend) ReadCapture(h int64, max, maxBytes int) ([]graph.Record, uint64, uint64, error) {
	b.mu.Lock() // not recorded: utilities poll it
	defer b.mu.Unlock()
	if h < 1 || int(h) > len(b.G.Specs) || slices.Contains(b.G.Stopped, h) {
		return nil, 0, 0, ctl.Errorf(ctl.KindNotFound, "no such capture")
	}
	if b.G.read == nil {
		b.G.read = map[int64]bool{}
	}
	n := uint64(len(b.G.Packets))
	if b.G.read[h] {
		return nil, n, 0, nil
	}
	b.G.read[h] = true
	return slices.Clone(b.G.Packets[:min(max, len(b.G.Packets))]), n, 0, nil
}

// StopCapture implements api.Backend.
func (b *Backend) StopCapture(h int64) error {
	b.enter("StopCapture", h)
	defer b.mu.Unlock()
	if h < 1 || int(h) > len(b.G.Specs) || slices.Contains(b.G.Stopped, h) {
		return ctl.Errorf(ctl.KindNotFound, "no such capture")
	}
	b.G.Stopped = append(b.G.Stopped, h)
	return nil
}
