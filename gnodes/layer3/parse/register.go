package parse

import (
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/registry"
)

func init() {
	registry.Register(registry.Decl{
		Name:  names.L3Parse,
		Scope: registry.PerGraph,
		New:   func(*registry.Env) graph.Node { return New() },
		Sets:  "IPv4: header validated, frame trimmed to the total length; IPv6 passed to IPv6Fwd unchecked",
		Uses:  "InIfindex, L2",
	})
}
