// Package srccount is an example out-of-tree node, SrcCount: it counts
// IPv4 packets per source /24 into a per-thread table of R2's keyed store,
// where other nodes (srclimit) read it. It sits in front of IPv4Fwd.
//
// Uses: L3 (Data starts at the IPv4 header, as L3Parse leaves it).
// Sets: nothing; every packet continues to IPv4Fwd.
package srccount

import (
	"encoding/binary"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/registry"
	"github.com/r2go/r2/r2/store"

	"example.com/r2ext/shared"
)

// Name is the node's name.
const Name = "SrcCount"

const (
	nextDrop = iota
	nextFwd
	numNext
)

// Node is SrcCount.
type Node struct {
	graph.NoControl
	table   *store.Table     // per thread, shared with srclimit
	counted counters.Counter // packets counted
}

func init() {
	registry.Register(registry.Decl{
		Name:   Name,
		Scope:  registry.PerGraph,
		Before: names.IPv4Fwd,
		New:    func(*registry.Env) graph.Node { return &Node{} },
		Uses:   "L3",
	})
}

// Name implements graph.Node.
func (n *Node) Name() string { return Name }

// NextNames implements graph.Node.
func (n *Node) NextNames() []string {
	return []string{nextDrop: names.Drop, nextFwd: names.IPv4Fwd}
}

// Rank implements graph.Ranker: between L3Parse and IPv4Fwd.
func (n *Node) Rank() int { return graph.RankL3Parse + 5 }

// Clone implements graph.Node: each thread counts into its own table.
func (n *Node) Clone(c *graph.CloneCtx) graph.Node {
	return &Node{
		table: store.LocalOf(c.Store, shared.KeySrcCounts, func() *store.Table {
			return store.NewTable(shared.TableSize)
		}),
		counted: c.Counter(Name, "counted"),
	}
}

// Dispatch implements graph.Node.
func (n *Node) Dispatch(d *graph.Dispatch) {
	k := 0
	for p := d.Pop(); p != nil; p = d.Pop() {
		b := p.Data()
		if len(b) >= 20 {
			n.table.Cells[shared.Slot(binary.BigEndian.Uint32(b[12:16]))]++
			k++
		}
		d.Push(nextFwd, p)
	}
	n.counted.Add(uint64(k))
}

// Control implements graph.Node.
func (n *Node) Control(msg.Msg) {}

var _ graph.Node = (*Node)(nil)
