package local

import (
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/registry"
)

func init() {
	registry.Register(registry.Decl{
		Name:  names.IPv4Local,
		Scope: registry.PerGraph,
		New:   func(e *registry.Env) graph.Node { return New(e.Intfs) },
		Sets:  "a reply or error in place or in a new packet, Meta LocalOrigin, back to IPv4Fwd",
		Uses:  "L3, InIfindex, Meta (ICMPError type/code, L2Broadcast), NextHop (MTU for frag-needed)",
	})
}
