package local

import (
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/registry"
)

func init() {
	registry.Register(registry.Decl{
		Name:  names.IPv6Local,
		Scope: registry.PerGraph,
		New:   func(e *registry.Env) graph.Node { return New(e.Intfs) },
		Uses:  "L3, InIfindex, Meta (ICMPError type/code, IPv6, L2Broadcast), NextHop (MTU or pointer)",
		Sets:  "an echo reply or ICMPv6 error in place or in a new packet, Meta LocalOrigin|IPv6, back to IPv6Fwd",
	})
}
