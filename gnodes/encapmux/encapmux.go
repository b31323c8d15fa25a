// Package encapmux is EncapMux: it sends each packet to the encapsulation
// node of its output interface (EtherEncap:<ifname>), chosen by the output
// ifindex forwarding stored in the packet. Forwarding nodes therefore never
// need to know which interfaces exist; only this node's next list changes
// when interfaces come and go.
package encapmux

import (
	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
)

// Node is EncapMux.
type Node struct {
	intfs *fwd.Interfaces
	// next[i] is the next-node index for ifindex i-1 (0: none). It is
	// rebuilt with NextNames, which the graph calls on Finalize.
	next []int
	c    counters.Counter // no_intf
	cbad counters.Counter // bad_ifindex
}

// New makes EncapMux for the interfaces in intfs.
func New(intfs *fwd.Interfaces) *Node { return &Node{intfs: intfs} }

// Name implements graph.Node.
func (n *Node) Name() string { return names.EncapMux }

// NextNames implements graph.Node: Drop, then one entry per ifindex up to
// the largest present, "" (resolving to Drop) for holes.
func (n *Node) NextNames() []string {
	all := n.intfs.All()
	max := int32(-1)
	for _, i := range all {
		if i.Ifindex > max {
			max = i.Ifindex
		}
	}
	nn := make([]string, max+2)
	nn[0] = names.Drop
	next := make([]int, max+2)
	for _, i := range all {
		nn[i.Ifindex+1] = names.EtherEncap(i.Name)
		next[i.Ifindex+1] = int(i.Ifindex + 1)
	}
	n.next = next
	return nn
}

// Clone implements graph.Node.
func (n *Node) Clone(c *graph.CloneCtx) graph.Node {
	x := &Node{intfs: n.intfs}
	x.c = c.Counter(names.EncapMux, "no_intf")
	x.cbad = c.Counter(names.EncapMux, "bad_ifindex")
	x.NextNames()
	return x
}

// Control implements graph.Node. The engine re-finalizes the graph after
// an interface change, which calls NextNames.
func (n *Node) Control(m msg.Msg) {
	if m, ok := m.(msg.Interfaces); ok {
		n.intfs = m.Snapshot
	}
}

// Dispatch implements graph.Node.
func (n *Node) Dispatch(d *graph.Dispatch) {
	next := n.next
	for p := d.Pop(); p != nil; p = d.Pop() {
		i := int(p.OutIfindex) + 1
		if uint(i) >= uint(len(next)) {
			d.Drop(p, n.cbad)
			continue
		}
		if next[i] == 0 {
			d.Drop(p, n.c)
			continue
		}
		d.Push(next[i], p)
	}
}

var _ graph.Node = (*Node)(nil)

// Rank implements graph.Ranker.
func (n *Node) Rank() int { return graph.RankMux }
