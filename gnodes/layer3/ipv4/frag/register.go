package frag

import (
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/registry"
)

func init() {
	registry.Register(registry.Decl{
		Name:  names.IPv4Frag,
		Scope: registry.PerGraph,
		New:   func(e *registry.Env) graph.Node { return New(e.Intfs) },
		Sets:  "fragments carry OutIfindex, NextHop and Meta of the original",
		Uses:  "L3, OutIfindex, NextHop",
	})
}
