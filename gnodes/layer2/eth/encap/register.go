package encap

import (
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/registry"
)

func init() {
	registry.Register(registry.Decl{
		Name:     "EtherEncap",
		Scope:    registry.PerInterface,
		NodeName: names.EtherEncap,
		NewIf:    func(e *registry.IfEnv) graph.Node { return New(e.Intf) },
		Sets:     "Ethernet header (pushed into headroom); ARP requests; held packets",
		Uses:     "OutIfindex, NextHop, Meta",
	})
}
