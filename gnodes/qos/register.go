package qos

import (
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/registry"
)

func init() {
	registry.Register(registry.Decl{
		Name:     "QoS",
		Scope:    registry.PerInterface,
		NodeName: names.QoS,
		NewIf: func(e *registry.IfEnv) graph.Node {
			var w Waker
			if e.Wake != nil {
				w = e.Wake
			}
			return New(e.Intf.Name, e.Intf.Owner, w)
		},
		Uses: "the frame (Ethernet, IPv4/IPv6 and port headers) for classification",
		Sets: "nothing: packets leave in the scheduler's order and time",
	})
}
