package graph

import (
	_ "unsafe" // for go:linkname

	"github.com/r2go/r2/counters"
)

// Runtime statistics (VPP's "show runtime"): while they are on, every run
// stamps the monotonic clock once at its start and once after each node
// that had work, so the cost is one clock read per busy node and run, not
// per packet. A node's time runs from the previous stamp to its own, so the
// few nanoseconds of the idle nodes visited in between (a Dispatch that
// returns at once) go to the next busy node.
//
// The values are counters in the engine's registry, per node and thread,
// written with plain stores by the thread:
//
//	<node>/rt_calls  dispatches that handled packets
//	<node>/rt_pkts   packets handled: popped from the vector, plus packets
//	                 an input node admitted (received) in the dispatch
//	<node>/rt_ns     nanoseconds spent in the node (input nodes: every
//	                 dispatch, so polling without traffic counts too)
//
// Vectors per call is rt_pkts/rt_calls, time per packet rt_ns/rt_pkts.

// Runtime counter names, after "<node>/".
const (
	RTCalls = "rt_calls"
	RTPkts  = "rt_pkts"
	RTNs    = "rt_ns"
)

type rtCounters struct{ calls, pkts, ns counters.Counter }

func newRTCounters(c *CloneCtx, node string) rtCounters {
	return rtCounters{calls: c.Counter(node, RTCalls), pkts: c.Counter(node, RTPkts), ns: c.Counter(node, RTNs)}
}

// nanotime is the runtime's monotonic clock: one vDSO call, without the
// wall-clock read time.Now adds.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// runTimed is Run's node loop with runtime statistics.
func (g *Graph) runTimed(d *Dispatch) {
	last := nanotime()
	for i := 1; i < len(g.slots); i++ {
		s := g.slots[i]
		input := i <= g.inputs
		d.after = 0
		if input {
			s = g.slots[1+(i-1+g.rot)%g.inputs]
			d.after = g.inputs - i
		}
		g.enter(d, s)
		if d.n == 0 && !input {
			s.node.Dispatch(d)
			g.countEdges(s)
			continue
		}
		head, budget := s.vec.head, d.budget
		s.node.Dispatch(d)
		g.countEdges(s)
		now := nanotime()
		s.rt.ns.Add(uint64(now - last))
		last = now
		if n := uint64(s.vec.head-head) + uint64(budget-d.budget); n > 0 {
			s.rt.calls.Inc()
			s.rt.pkts.Add(n)
		}
	}
}

// SetRuntime turns the runtime statistics on or off for every thread; the
// threads see it at their next run.
func (o *Obs) SetRuntime(on bool) { o.runtime.Store(on) }

// Runtime reports whether the runtime statistics are on.
func (o *Obs) Runtime() bool { return o.runtime.Load() }
