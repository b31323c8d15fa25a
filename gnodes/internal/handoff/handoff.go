// Package handoff is how a node's clone on a thread that does not own the
// node passes its packets to the owner: through a bounded lock-free MPSC
// ring shared by all clones, waking the owner (IfNode and QoS hand their
// transmit vectors over this way). The owner drains the ring in its own
// Dispatch; what differs between the nodes is only what the owner does
// with the packets, so that stays in each node.
package handoff

import (
	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/packet"
	"github.com/r2go/r2/r2/ring"
)

// Waker wakes a forwarding thread (poll.Waker in the engine).
type Waker interface{ Wake() }

// Send moves every packet of d's vector into q, counting each in sent. A
// packet that finds q full is dropped and counted in full: the owner is
// behind, and waiting for it would stall this thread. If it enqueued any,
// Send wakes the owner once (wake may be nil: tests without threads),
// which costs a syscall only if the owner announced it may sleep.
func Send(d *graph.Dispatch, q *ring.MPSC[*packet.Packet], wake Waker, sent, full counters.Counter) {
	handed := false
	for p := d.Pop(); p != nil; p = d.Pop() {
		if !q.Enqueue(p) {
			d.Drop(p, full)
			continue
		}
		sent.Inc()
		handed = true
	}
	if handed && wake != nil {
		wake.Wake()
	}
}
