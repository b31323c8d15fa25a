// Package registry is the one place that says what R2's forwarding graph
// is made of. Every node package declares its node here, once, from its own
// init function: its name, whether it exists once per graph or once per
// interface, how to construct it, and optionally which node it is inserted
// in front of. The engine builds every thread's graph, and the nodes of an
// interface when it is attached and detached, from these declarations
// alone; it imports no node package.
//
// Out-of-tree nodes use the same path. An external Go module imports R2,
// registers its nodes (Register for a new node, Replace to substitute a
// built-in one by name) and calls the daemon's exported entry point
// (r2/daemon.Main) from its own main: its binary is R2 with its nodes, with
// the same utilities, counters and logs. Package gnodes/all links the
// built-in nodes in.
//
// A node's next nodes are not declared here: each node lists them by name
// (graph.Node.NextNames) and the graph resolves names when it is finalized.
// A node that must sit between two existing ones without changing them
// declares Before: every edge to that node goes through it first (a feature
// arc, in VPP's terms).
package registry

import (
	"fmt"
	"sort"
	"sync"

	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/store"
)

// Scope says how many instances of a node a graph has.
type Scope uint8

const (
	// PerGraph nodes exist once in every thread's graph (L3Parse, IPv4Fwd).
	PerGraph Scope = iota
	// PerInterface nodes exist once per attached interface in every
	// thread's graph (IfNode, EtherDecap, EtherEncap).
	PerInterface
)

// Env is the shared, immutable state a per-graph node starts with. Later
// versions reach nodes through control messages (msg.IPv4Table,
// msg.Interfaces, msg.Store).
type Env struct {
	// IPv4 is the IPv4 route table in use.
	IPv4 *fwd.IPv4Table
	// IPv6 is the IPv6 route table in use.
	IPv6 *fwd.IPv6Table
	// Intfs is the interface configuration.
	Intfs *fwd.Interfaces
}

// IfEnv is what a per-interface node is made for.
type IfEnv struct {
	// Intf is the interface's configuration when it is attached.
	Intf *fwd.Interface
	// Driver moves its frames (nil: not attached, Tx is dropped).
	Driver driver.Driver
	// Wake wakes the interface's owner thread.
	Wake interface{ Wake() }
}

// Decl declares a node.
type Decl struct {
	// Name is the node's name for per-graph nodes, and the declaration's
	// name (the kind of node, e.g. "EtherDecap") for per-interface ones.
	Name string
	// Scope is PerGraph or PerInterface.
	Scope Scope
	// NodeName is the node's name on interface ifname (PerInterface only),
	// from package names.
	NodeName func(ifname string) string
	// Before, when set, is the per-graph node this one is inserted in
	// front of: edges to Before lead here, and this node's own edge named
	// Before leads on. Several nodes before one node form a chain in the
	// order of their names.
	Before string
	// New makes a per-graph node, the prototype that is cloned into every
	// thread.
	New func(env *Env) graph.Node
	// NewIf makes a per-interface node's prototype.
	NewIf func(ife *IfEnv) graph.Node
	// Start, when set, runs once when the engine has started, with the
	// keyed store: an extension publishes its initial values there, or
	// starts a goroutine that keeps them current.
	Start func(s *store.Store) error
	// Uses and Sets document, next to the declaration, the packet
	// metadata the node reads and writes (VPP's node docs do the same);
	// they are for readers and are not enforced.
	Uses, Sets string
}

func (d Decl) check() error {
	if d.Name == "" {
		return fmt.Errorf("registry: declaration without a name")
	}
	switch d.Scope {
	case PerGraph:
		if d.New == nil || d.NewIf != nil || d.NodeName != nil {
			return fmt.Errorf("registry: per-graph node %s needs New (and no NewIf or NodeName)", d.Name)
		}
	case PerInterface:
		if d.NewIf == nil || d.NodeName == nil || d.New != nil {
			return fmt.Errorf("registry: per-interface node %s needs NewIf and NodeName (and no New)", d.Name)
		}
		if d.Before != "" {
			return fmt.Errorf("registry: per-interface node %s cannot be inserted before another node", d.Name)
		}
	default:
		return fmt.Errorf("registry: node %s has unknown scope %d", d.Name, d.Scope)
	}
	return nil
}

var (
	mu       sync.Mutex
	builtin  = map[string]Decl{}
	replaced = map[string]Decl{}
)

// Register declares a node. It panics on a malformed declaration or a name
// declared twice: both are programming errors found at start-up.
func Register(d Decl) {
	if err := d.check(); err != nil {
		panic(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := builtin[d.Name]; dup {
		panic(fmt.Sprintf("registry: node %s registered twice", d.Name))
	}
	builtin[d.Name] = d
}

// Replace substitutes d for the node registered under the same name,
// whenever that registration happens (init order between packages does not
// matter). Replacing a name nobody registers adds it. It panics on a
// malformed declaration or a second replacement of one name.
func Replace(d Decl) {
	if err := d.check(); err != nil {
		panic(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := replaced[d.Name]; dup {
		panic(fmt.Sprintf("registry: node %s replaced twice", d.Name))
	}
	replaced[d.Name] = d
}

// Decls returns the effective declarations (replacements win), sorted by
// name.
func Decls() []Decl {
	mu.Lock()
	defer mu.Unlock()
	out := make([]Decl, 0, len(builtin)+len(replaced))
	for name, d := range builtin {
		if r, ok := replaced[name]; ok {
			d = r
		}
		out = append(out, d)
	}
	for name, d := range replaced {
		if _, ok := builtin[name]; !ok {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Of returns the effective declarations of one scope, sorted by name.
func Of(s Scope) []Decl {
	var out []Decl
	for _, d := range Decls() {
		if d.Scope == s {
			out = append(out, d)
		}
	}
	return out
}

// Intercepts returns, for every node that others are inserted before, the
// chain of inserted node names in order.
func Intercepts() map[string][]string {
	out := map[string][]string{}
	for _, d := range Decls() {
		if d.Before != "" {
			out[d.Before] = append(out[d.Before], d.Name)
		}
	}
	return out
}
