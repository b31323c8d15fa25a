package ifnode

import (
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/registry"
)

func init() {
	registry.Register(registry.Decl{
		Name:     "IfNode",
		Scope:    registry.PerInterface,
		NodeName: names.IfNode,
		NewIf: func(e *registry.IfEnv) graph.Node {
			return New(e.Intf.Ifindex, e.Intf.Name, e.Intf.Owner, e.Driver, e.Wake)
		},
		Sets: "Rx: InIfindex, data at Headroom",
		Uses: "Tx: the frame (Data)",
	})
}
