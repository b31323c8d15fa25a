package api

import (
	"context"
	"time"

	"golang.org/x/net/bpf"

	"github.com/r2go/r2/apis/graphapi"
	"github.com/r2go/r2/r2/graph"
)

// Limits of the Graph service.
const (
	// MaxCaptureRead is the most packets one capture_read returns.
	MaxCaptureRead = 4096
	// maxCaptureBytes bounds the packet data of one capture_read reply so
	// that it fits the default 1 MiB frame with room for the framing.
	maxCaptureBytes = 512 << 10
	// MaxFilterLen is the longest BPF program accepted (the kernel's
	// BPF_MAXINSNS).
	MaxFilterLen = 4096
	// MaxNodeNameLen bounds node names in requests.
	MaxNodeNameLen = 255
	// MaxLease is the longest capture lease: a forgotten capture ends
	// within it.
	MaxLease = 10 * time.Minute
	// MaxRingKB is the largest capture ring per thread.
	MaxRingKB = 64 << 10
)

// graphHandler implements the Graph service.
type graphHandler struct{ *core }

var _ graphapi.Graph = graphHandler{}

func (h graphHandler) SetRuntime(_ context.Context, on bool) (err error) {
	defer h.guard("set_runtime", &err)
	return h.call(func() error { return h.b.SetRuntime(on) })
}

func (h graphHandler) Runtime(context.Context) (on bool, err error) {
	defer h.guard("runtime", &err)
	err = h.call(func() error { on = h.b.Runtime(); return nil })
	return on, err
}

func (h graphHandler) Graph(_ context.Context, thread int32) (tg *graphapi.ThreadGraph, err error) {
	defer h.guard("graph", &err)
	var nodes []graph.NodeInfo
	var threads int
	if err := h.call(func() error {
		threads = h.b.Threads()
		if thread < 0 || int(thread) >= threads {
			return apiErr("no thread %d; threads are 0 to %d", thread, threads-1)
		}
		var err error
		nodes, err = h.b.Graph(int(thread))
		return err
	}); err != nil {
		return nil, err
	}
	tg = &graphapi.ThreadGraph{Thread: thread, Threads: int32(threads), Nodes: make([]*graphapi.Node, len(nodes))}
	for i, n := range nodes {
		gn := &graphapi.Node{Name: n.Name, Rank: int32(n.Rank), Enq: int64(n.Enq), Edges: make([]*graphapi.Edge, len(n.Edges))}
		for j, e := range n.Edges {
			gn.Edges[j] = &graphapi.Edge{To: e.To, Pkts: int64(e.Pkts)}
		}
		tg.Nodes[i] = gn
	}
	return tg, nil
}

// captureSpec checks a capture request and converts it.
func captureSpec(s *graphapi.CaptureSpec) (graph.CaptureSpec, time.Duration, error) {
	var out graph.CaptureSpec
	if s == nil {
		return out, 0, apiErr("capture: no spec")
	}
	for _, n := range []string{s.Node, s.FromNode} {
		if len(n) > MaxNodeNameLen {
			return out, 0, apiErr("capture: node name of %d bytes (at most %d)", len(n), MaxNodeNameLen)
		}
	}
	if s.Node == "" {
		return out, 0, apiErr("capture: no node")
	}
	if len(s.Filter) > MaxFilterLen {
		return out, 0, apiErr("capture: filter of %d instructions (at most %d)", len(s.Filter), MaxFilterLen)
	}
	if s.Snap < 0 || s.RingKb < 0 || s.RingKb > MaxRingKB {
		return out, 0, apiErr("capture: snap %d, ring_kb %d out of range (ring_kb at most %d)", s.Snap, s.RingKb, MaxRingKB)
	}
	lease := time.Duration(s.LeaseMs) * time.Millisecond
	if lease < time.Second || lease > MaxLease {
		return out, 0, apiErr("capture: lease %v out of range (1s to %v)", lease, MaxLease)
	}
	out = graph.CaptureSpec{Node: s.Node, From: s.FromNode, Snap: int(s.Snap), RingBytes: int(s.RingKb) << 10}
	for i, in := range s.Filter {
		if in == nil || in.Code < 0 || in.Code > 0xffff || in.Jt < 0 || in.Jt > 0xff || in.Jf < 0 || in.Jf > 0xff || in.K < 0 || in.K > 0xffffffff {
			return out, 0, apiErr("capture: filter instruction %d out of range", i)
		}
		out.Filter = append(out.Filter, bpf.RawInstruction{Op: uint16(in.Code), Jt: uint8(in.Jt), Jf: uint8(in.Jf), K: uint32(in.K)})
	}
	if len(out.Filter) > 0 {
		ins, ok := bpf.Disassemble(out.Filter)
		if !ok {
			return out, 0, apiErr("capture: filter has an unknown instruction")
		}
		if _, err := bpf.NewVM(ins); err != nil {
			return out, 0, apiErr("capture: bad filter: %v", err)
		}
	}
	return out, lease, nil
}

func (h graphHandler) CaptureStart(_ context.Context, s *graphapi.CaptureSpec) (handle int64, err error) {
	defer h.guard("capture_start", &err)
	spec, lease, err := captureSpec(s)
	if err != nil {
		return 0, err
	}
	err = h.call(func() error {
		var err error
		handle, err = h.b.StartCapture(spec, lease)
		return err
	})
	return handle, err
}

func (h graphHandler) CaptureRead(_ context.Context, handle int64, max int32) (b *graphapi.CaptureBatch, err error) {
	defer h.guard("capture_read", &err)
	if max < 1 || max > MaxCaptureRead {
		return nil, apiErr("capture_read: max %d out of range (1 to %d)", max, MaxCaptureRead)
	}
	// Without the backend lock (see Backend.ReadCapture).
	recs, matched, lost, err := h.b.ReadCapture(handle, int(max), maxCaptureBytes)
	if err != nil {
		return nil, wrap(err)
	}
	b = &graphapi.CaptureBatch{Pkts: make([]*graphapi.Packet, len(recs)), Matched: int64(matched), Lost: int64(lost)}
	for i, r := range recs {
		b.Pkts[i] = &graphapi.Packet{TsNs: r.Time.UnixNano(), OrigLen: int32(r.OrigLen), Thread: int32(r.Thread), Data: r.Data}
	}
	return b, nil
}

func (h graphHandler) CaptureStop(_ context.Context, handle int64) (err error) {
	defer h.guard("capture_stop", &err)
	return h.call(func() error { return h.b.StopCapture(handle) })
}
