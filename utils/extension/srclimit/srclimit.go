// Package srclimit is an example out-of-tree node, SrcLimit: it drops IPv4
// packets from a source /24 that has sent more than a limit through this
// thread. It reads the per-thread counts that srccount writes into R2's
// keyed store and the limit that its Start hook publishes there; it never
// imports srccount. It sits in front of IPv4Fwd, after SrcCount (chains
// run in name order).
//
// The limit comes from the environment variable R2EXT_SRC_LIMIT when the
// daemon starts (0 or unset: no limit).
//
// Uses: L3 (Data starts at the IPv4 header).
// Sets: nothing; packets continue to IPv4Fwd or are dropped (over_limit).
package srclimit

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/logs"
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/registry"
	"github.com/r2go/r2/r2/store"

	"example.com/r2ext/shared"
)

// Name is the node's name.
const Name = "SrcLimit"

// EnvLimit names the environment variable read at start.
const EnvLimit = "R2EXT_SRC_LIMIT"

const (
	nextDrop = iota
	nextFwd
	numNext
)

// Node is SrcLimit.
type Node struct {
	graph.NoControl
	st     *store.Thread
	table  *store.Table // written by SrcCount on the same thread
	passed counters.Counter
	over   counters.Counter
	log    *logs.Logger
	logFmt logs.Format
}

func init() {
	registry.Register(registry.Decl{
		Name:   Name,
		Scope:  registry.PerGraph,
		Before: names.IPv4Fwd,
		New:    func(*registry.Env) graph.Node { return &Node{} },
		Start:  start,
		Uses:   "L3",
	})
}

// start publishes the limit from the environment.
func start(s *store.Store) error {
	v := os.Getenv(EnvLimit)
	if v == "" {
		return nil
	}
	limit, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return fmt.Errorf("%s=%q: want a number of packets", EnvLimit, v)
	}
	s.Publish(shared.KeySrcLimit, limit)
	return nil
}

// Name implements graph.Node.
func (n *Node) Name() string { return Name }

// NextNames implements graph.Node.
func (n *Node) NextNames() []string {
	return []string{nextDrop: names.Drop, nextFwd: names.IPv4Fwd}
}

// Rank implements graph.Ranker: after SrcCount, before IPv4Fwd.
func (n *Node) Rank() int { return graph.RankL3Parse + 6 }

// Clone implements graph.Node.
func (n *Node) Clone(c *graph.CloneCtx) graph.Node {
	return &Node{
		st: c.Store,
		table: store.LocalOf(c.Store, shared.KeySrcCounts, func() *store.Table {
			return store.NewTable(shared.TableSize)
		}),
		passed: c.Counter(Name, "passed"),
		over:   c.Counter(Name, "over_limit"),
		log:    c.Logger(),
		logFmt: c.LogFormat("SrcLimit: %ip over its limit (%d packets)"),
	}
}

// Dispatch implements graph.Node.
func (n *Node) Dispatch(d *graph.Dispatch) {
	limit, _ := n.st.Published(shared.KeySrcLimit).(uint64)
	k := 0
	for p := d.Pop(); p != nil; p = d.Pop() {
		b := p.Data()
		if limit > 0 && len(b) >= 20 {
			src := binary.BigEndian.Uint32(b[12:16])
			if c := n.table.Cells[shared.Slot(src)]; c > limit {
				n.log.Log(n.logFmt, uint64(src), c, 0, 0)
				d.Drop(p, n.over)
				continue
			}
		}
		k++
		d.Push(nextFwd, p)
	}
	n.passed.Add(uint64(k))
}

// Control implements graph.Node.
func (n *Node) Control(msg.Msg) {}

var _ graph.Node = (*Node)(nil)
