package encapmux

import (
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/registry"
)

func init() {
	registry.Register(registry.Decl{
		Name:  names.EncapMux,
		Scope: registry.PerGraph,
		New:   func(e *registry.Env) graph.Node { return New(e.Intfs) },
		Sets:  "nothing; picks EtherEncap of OutIfindex",
		Uses:  "OutIfindex",
	})
}
