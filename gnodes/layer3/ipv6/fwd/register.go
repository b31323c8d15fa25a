package ipv6fwd

import (
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/registry"
)

func init() {
	registry.Register(registry.Decl{
		Name:  names.IPv6Fwd,
		Scope: registry.PerGraph,
		New:   func(e *registry.Env) graph.Node { return New(e.IPv6, e.Intfs) },
		Uses:  "L3, InIfindex, Meta (LocalOrigin, L2Broadcast)",
		Sets:  "OutIfindex, NextHop6, Meta IPv6; Meta ICMP error type/code and NextHop = MTU or pointer for IPv6Local; hop limit",
	})
}
