// Package all links R2's built-in nodes into a binary: importing it runs
// every node package's registration (see r2/registry). The daemon imports
// it; a binary with out-of-tree nodes imports it too, or picks the
// built-in packages it wants one by one.
package all

import (
	_ "github.com/r2go/r2/gnodes/encapmux"
	_ "github.com/r2go/r2/gnodes/interface"
	_ "github.com/r2go/r2/gnodes/layer2/eth/decap"
	_ "github.com/r2go/r2/gnodes/layer2/eth/encap"
	_ "github.com/r2go/r2/gnodes/layer3/gso"
	_ "github.com/r2go/r2/gnodes/layer3/ipv4/frag"
	_ "github.com/r2go/r2/gnodes/layer3/ipv4/fwd"
	_ "github.com/r2go/r2/gnodes/layer3/ipv4/local"
	_ "github.com/r2go/r2/gnodes/layer3/ipv6/fwd"
	_ "github.com/r2go/r2/gnodes/layer3/ipv6/local"
	_ "github.com/r2go/r2/gnodes/layer3/parse"
	_ "github.com/r2go/r2/gnodes/qos"
)
