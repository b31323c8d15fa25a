package decap

import (
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/registry"
)

func init() {
	registry.Register(registry.Decl{
		Name:     "EtherDecap",
		Scope:    registry.PerInterface,
		NodeName: names.EtherDecap,
		NewIf:    func(e *registry.IfEnv) graph.Node { return New(e.Intf) },
		Sets:     "L2, L3 offset candidate, Meta L2Broadcast; ARP replies straight to IfNode",
		Uses:     "InIfindex",
	})
}
