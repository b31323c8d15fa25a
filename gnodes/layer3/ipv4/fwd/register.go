package ipv4fwd

import (
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/registry"
)

func init() {
	registry.Register(registry.Decl{
		Name:  names.IPv4Fwd,
		Scope: registry.PerGraph,
		New:   func(e *registry.Env) graph.Node { return New(e.IPv4, e.Intfs) },
		Sets:  "OutIfindex, NextHop (gateway or destination); Meta ICMP error type/code and NextHop = MTU for IPv4Local; TTL and header checksum",
		Uses:  "L3, InIfindex, Meta (LocalOrigin, L2Broadcast)",
	})
}
