package graph

import "testing"

// TestIntercept inserts nodes in front of a node without changing the
// nodes that lead to it, and takes them out again.
func TestIntercept(t *testing.T) {
	for _, tc := range []struct {
		name  string
		chain []string
		add   []string // chain members present in the graph
		want  string   // the path A takes to the sink, as node names
	}{
		{"none", nil, nil, "A>C"},
		{"one", []string{"X"}, []string{"X"}, "A>X>C"},
		{"two in order", []string{"X", "Y"}, []string{"X", "Y"}, "A>X>Y>C"},
		{"absent member skipped", []string{"X", "Y"}, []string{"Y"}, "A>Y>C"},
		{"all absent", []string{"X", "Y"}, nil, "A>C"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := newTestGraph(t, 16)
			a := &fwdNode{name: "A", next: "C"}
			out := &sink{name: "C", size: 8}
			g.Add(a)
			g.Add(out)
			nodes := map[string]*fwdNode{}
			for _, x := range tc.add {
				n := &fwdNode{name: x, next: "C"}
				nodes[x] = n
				g.Add(n)
			}
			g.Intercept("C", tc.chain)
			g.Finalize()
			path := "A"
			for s := g.byName["A"].next[1].to; ; {
				path += ">" + s.name
				if s.name == "C" {
					break
				}
				s = s.next[1].to
				if len(path) > 40 {
					t.Fatalf("loop: %s", path)
				}
			}
			if path != tc.want {
				t.Fatalf("path %s, want %s", path, tc.want)
			}
			// A packet really travels it.
			inject(t, g, "A", 1)
			for i := 0; i < 4; i++ { // unranked nodes run after C: one hop a run
				g.Run()
			}
			if len(out.got) != 1 {
				t.Fatalf("sink got %d packets", len(out.got))
			}
			for _, x := range tc.add {
				if nodes[x].seen != 1 {
					t.Errorf("%s saw %d packets", x, nodes[x].seen)
				}
			}
			g.pool.Free(out.got[0])
			// Interceptions survive cloning and can be removed.
			c := g.Clone(g.ctx, g.pool)
			if got := c.byName["A"].next[1].to.name; got != g.byName["A"].next[1].to.name {
				t.Errorf("clone resolves A's edge to %s, original to %s", got, g.byName["A"].next[1].to.name)
			}
			g.Intercept("C", nil)
			g.Finalize()
			if got := g.byName["A"].next[1].to.name; got != "C" {
				t.Errorf("after removing the interception A leads to %s", got)
			}
		})
	}
}
