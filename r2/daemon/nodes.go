package daemon

// The built-in nodes (see r2/registry): a binary built on this package gets
// them all, and replaces or adds nodes with registry.Replace and
// registry.Register from its own packages.
import _ "github.com/r2go/r2/gnodes/all"
