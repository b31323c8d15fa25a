package graph

// NodeInfo describes one node of a thread's graph and its edges.
type NodeInfo struct {
	Name string
	Rank int
	// Enq is the packets pushed into the node (its enq counter).
	Enq uint64
	// Edges are the node's next nodes by index (0 is Drop).
	Edges []EdgeInfo
}

// EdgeInfo is one edge and the packets pushed along it since the node was
// added.
type EdgeInfo struct {
	To   string
	Pkts uint64
}

// Snapshot describes the graph in run order (Drop first). Call it on the
// graph's thread (engine OnThread): it reads the thread's plain counts.
func (g *Graph) Snapshot() []NodeInfo {
	out := make([]NodeInfo, len(g.slots))
	for i, s := range g.slots {
		n := NodeInfo{Name: s.name, Rank: s.rank, Enq: s.enq.Value() + uint64(s.vec.tail-s.counted)}
		if s.drop {
			n.Enq = g.dropped.Value()
		}
		for _, e := range s.next {
			n.Edges = append(n.Edges, EdgeInfo{To: e.to.name, Pkts: e.pkts})
		}
		out[i] = n
	}
	return out
}
