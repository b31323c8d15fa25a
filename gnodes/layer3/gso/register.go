package gso

import (
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/registry"
)

func init() {
	registry.Register(registry.Decl{
		Name:  names.GSO,
		Scope: registry.PerGraph,
		New:   func(e *registry.Env) graph.Node { return New(e.Intfs) },
		Sets:  "segments carry InIfindex, OutIfindex, NextHop(6) and Meta of the super-frame; GSO cleared",
		Uses:  "GSO, OutIfindex",
	})
}
