package registry

import (
	"strings"
	"testing"

	"github.com/r2go/r2/r2/graph"
)

// The registry is global; each test uses names of its own.

type stub struct {
	graph.NoControl
	name string
}

func (s *stub) Name() string                     { return s.name }
func (s *stub) NextNames() []string              { return nil }
func (s *stub) Clone(*graph.CloneCtx) graph.Node { return s }
func (s *stub) Dispatch(*graph.Dispatch)         {}

func perGraph(name string) Decl {
	return Decl{Name: name, Scope: PerGraph, New: func(*Env) graph.Node { return &stub{name: name} }}
}

func find(name string) (Decl, bool) {
	for _, d := range Decls() {
		if d.Name == name {
			return d, true
		}
	}
	return Decl{}, false
}

// forgetAfter removes the declarations and replacements of names when t
// ends, so that the test can run again in the same process (-count).
func forgetAfter(t *testing.T, names ...string) {
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range names {
			delete(builtin, n)
			delete(replaced, n)
		}
	})
}

func TestReplaceWinsWhateverTheOrder(t *testing.T) {
	forgetAfter(t, "T1", "T2", "T3")
	// Replacement registered before the built-in (init order between
	// packages is not something an extension controls).
	repl := perGraph("T1")
	repl.Uses = "replacement"
	Replace(repl)
	Register(perGraph("T1"))
	if d, _ := find("T1"); d.Uses != "replacement" {
		t.Fatal("built-in registered after the replacement won")
	}
	// And after.
	Register(perGraph("T2"))
	repl2 := perGraph("T2")
	repl2.Uses = "replacement"
	Replace(repl2)
	if d, _ := find("T2"); d.Uses != "replacement" {
		t.Fatal("replacement registered after the built-in lost")
	}
	// A replacement of a name nobody registers adds it.
	Replace(perGraph("T3"))
	if _, ok := find("T3"); !ok {
		t.Fatal("replacement of an unknown name not added")
	}
}

func TestMalformedAndDuplicatePanic(t *testing.T) {
	forgetAfter(t, "M5", "M6")
	for _, tc := range []struct {
		name string
		do   func()
		want string
	}{
		{"no name", func() { Register(Decl{Scope: PerGraph}) }, "without a name"},
		{"per-graph without New", func() { Register(Decl{Name: "M1", Scope: PerGraph}) }, "needs New"},
		{"per-interface without NodeName", func() {
			Register(Decl{Name: "M2", Scope: PerInterface, NewIf: func(*IfEnv) graph.Node { return nil }})
		}, "needs NewIf and NodeName"},
		{"per-interface before", func() {
			Register(Decl{Name: "M3", Scope: PerInterface, Before: "X", NodeName: func(s string) string { return s },
				NewIf: func(*IfEnv) graph.Node { return nil }})
		}, "cannot be inserted"},
		{"bad scope", func() { Register(Decl{Name: "M4", Scope: 9}) }, "unknown scope"},
		{"duplicate", func() { Register(perGraph("M5")); Register(perGraph("M5")) }, "registered twice"},
		{"replaced twice", func() { Replace(perGraph("M6")); Replace(perGraph("M6")) }, "replaced twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				v := recover()
				if v == nil {
					t.Fatal("no panic")
				}
				if s := toString(v); !strings.Contains(s, tc.want) {
					t.Fatalf("panic %q, want it to mention %q", s, tc.want)
				}
			}()
			tc.do()
		})
	}
}

func toString(v any) string {
	if e, ok := v.(error); ok {
		return e.Error()
	}
	s, _ := v.(string)
	return s
}

func TestScopesAndIntercepts(t *testing.T) {
	forgetAfter(t, "S-a", "S-b", "S-if")
	a := perGraph("S-a")
	a.Before = "S-target"
	b := perGraph("S-b")
	b.Before = "S-target"
	Register(b)
	Register(a)
	Register(Decl{Name: "S-if", Scope: PerInterface, NodeName: func(n string) string { return "S-if:" + n },
		NewIf: func(e *IfEnv) graph.Node { return &stub{name: "S-if:" + e.Intf.Name} }})
	chain := Intercepts()["S-target"]
	if len(chain) != 2 || chain[0] != "S-a" || chain[1] != "S-b" {
		t.Fatalf("chain %v, want [S-a S-b] (by name)", chain)
	}
	for _, d := range Of(PerInterface) {
		if d.Scope != PerInterface {
			t.Fatalf("Of(PerInterface) returned %s", d.Name)
		}
	}
	found := false
	for _, d := range Of(PerGraph) {
		if d.Name == "S-if" {
			t.Fatal("per-interface node listed as per-graph")
		}
		found = found || d.Name == "S-a"
	}
	if !found {
		t.Fatal("S-a missing from per-graph nodes")
	}
}
