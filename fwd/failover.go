package fwd

// Multipath failover on the forwarding path: when the member a flow hashes
// to cannot carry traffic (its interface is down or its next hop failed),
// the flow moves to the next member that can, in member order, so that
// every flow of that member moves the same way. Both families walk their
// group the same way; only the usability test differs.

// usablePath is a group member as the forwarding path sees it.
type usablePath interface {
	// usableOn reports whether the member may carry traffic through its
	// output interface in (Interface.Usable, Usable6).
	usableOn(in *Interface) bool
	outIfindex() int32
}

// memberList is a group as the forwarding path walks it.
type memberList[P usablePath] interface {
	Len() int
	At(i int) P
}

// nextUsable returns the first member after member i (wrapping around)
// that may carry traffic, with its output interface; false if none may.
func nextUsable[P usablePath, G memberList[P]](g G, i int, intfs *Interfaces) (P, *Interface, bool) {
	n := g.Len()
	for k := 1; k < n; k++ {
		j := i + k
		if j >= n {
			j -= n
		}
		a := g.At(j)
		if o := intfs.Get(a.outIfindex()); o != nil && a.usableOn(o) {
			return a, o, true
		}
	}
	var none P
	return none, nil, false
}

// Failover returns the first member after member i (wrapping around) that
// may carry traffic (Interface.Usable), with its output interface in
// intfs; false if none may. For the forwarding path, when member i cannot.
func (g *Group) Failover(i int, intfs *Interfaces) (*Adjacency, *Interface, bool) {
	return nextUsable(g, i, intfs)
}

// Failover is Group.Failover for IPv6 (Interface.Usable6).
func (g *Group6) Failover(i int, intfs *Interfaces) (*Adjacency6, *Interface, bool) {
	return nextUsable(g, i, intfs)
}

func (a *Adjacency) usableOn(in *Interface) bool  { return in.Usable(a.NextHop) }
func (a *Adjacency6) usableOn(in *Interface) bool { return in.Usable6(&a.NextHop) }
