package fwd

import (
	"fmt"
	"net/netip"
	"slices"
)

// MaxIfindex bounds R2 ifindexes: valid ones are 0 <= ifindex < MaxIfindex.
// A fixed bound lets nodes keep per-interface state in plain arrays, and
// 1024 is far more interfaces than one software router serves.
const MaxIfindex = 1024

// Interface is the configuration of one R2 interface. Once it is part of
// an [Interfaces] snapshot it is shared with the forwarding threads and
// must not be modified: Clone it, change the clone and build a new
// snapshot.
type Interface struct {
	// Ifindex is R2's index of the interface, in [0, MaxIfindex).
	Ifindex int32
	// Name is unique among the interfaces.
	Name string
	// LinuxIndex is the kernel's ifindex of the underlying device.
	LinuxIndex int
	// MAC is the interface's Ethernet address.
	MAC [6]byte
	// MTU is the largest IP packet the interface sends, in bytes.
	MTU int
	// Addrs are the interface's IPv4 addresses with their subnet length,
	// e.g. 10.1.0.2/24.
	Addrs []netip.Prefix
	// Owner is the forwarding thread that does the interface's Rx and Tx.
	Owner int
	// Up says whether the interface forwards packets.
	Up bool
	// HostOwned says that the interface's addresses belong to the Linux
	// host (a routing daemon's BGP session, ARP and NDP are answered by
	// the kernel, which gets a copy of every frame): R2 answers neither
	// ARP nor neighbour solicitations for them and drops, counted, what is
	// addressed to them; it still forwards and sends ICMP errors.
	HostOwned bool
	// Offload says whether the interface's driver sends GSO super-frames
	// and frames with a checksum left to finish as they are
	// (driver.Offloader); forwarding sends such packets for other
	// interfaces to the GSO node first, which segments and checksums
	// them in software.
	Offload bool
	// FailedNextHops are next hops on this interface, members of
	// multipath groups, that the control side marked failed (the
	// encapsulation node gave up resolving them): the multipath pick
	// skips them as it skips a down interface, until they resolve again.
	// Replaced, never modified: the slices are shared between snapshots.
	FailedNextHops []uint32
	// FailedNextHops6 is FailedNextHops for IPv6 next hops.
	FailedNextHops6 [][16]byte
}

// Validate checks the fields that the forwarding threads rely on. Callers
// validate before With, which does not check.
func (i *Interface) Validate() error {
	switch {
	case i.Ifindex < 0 || i.Ifindex >= MaxIfindex:
		return fmt.Errorf("fwd: interface %q: ifindex %d out of range [0, %d)", i.Name, i.Ifindex, MaxIfindex)
	case i.Name == "":
		return fmt.Errorf("fwd: interface %d: empty name", i.Ifindex)
	case i.MTU < 68 || i.MTU > 65535: // 68: the minimum IPv4 MTU (RFC 791)
		return fmt.Errorf("fwd: interface %q: MTU %d out of range [68, 65535]", i.Name, i.MTU)
	case i.Owner < 0:
		return fmt.Errorf("fwd: interface %q: negative owner thread %d", i.Name, i.Owner)
	}
	for n, a := range i.Addrs {
		if !a.IsValid() || a.Addr().Is4In6() || a.Addr().Zone() != "" {
			return fmt.Errorf("fwd: interface %q: address %s is not an IPv4 or IPv6 address with prefix length", i.Name, a)
		}
		if a.Addr().Is6() && i.MTU < 1280 {
			return fmt.Errorf("fwd: interface %q: IPv6 address %s needs an MTU of at least 1280, not %d", i.Name, a, i.MTU)
		}
		if slices.ContainsFunc(i.Addrs[:n], func(b netip.Prefix) bool { return b.Addr() == a.Addr() }) {
			return fmt.Errorf("fwd: interface %q: address %s listed twice", i.Name, a.Addr())
		}
	}
	return nil
}

// Clone returns a deep copy of i, to modify before building a new snapshot.
func (i *Interface) Clone() *Interface {
	c := *i
	c.Addrs = slices.Clone(i.Addrs)
	return &c
}

// HasAddr reports whether ip (host byte order) is one of the interface's
// addresses.
func (i *Interface) HasAddr(ip uint32) bool {
	for _, a := range i.Addrs {
		if a.Addr().Is4() && as4U32(a.Addr()) == ip {
			return true
		}
	}
	return false
}

// OnLink reports whether ip (host byte order) is inside one of the
// interface's subnets, i.e. reachable without a gateway.
func (i *Interface) OnLink(ip uint32) bool {
	for _, a := range i.Addrs {
		if a.Addr().Is4() && (as4U32(a.Addr())^ip)&lenToMask(a.Bits()) == 0 {
			return true
		}
	}
	return false
}

// Usable reports whether a multipath member through this interface to
// next hop nh (0 for a connected member) may carry traffic: the interface
// is up and nh is not one of FailedNextHops. The list is empty but for
// failures, so the usual cost is the Up test and one length check.
func (i *Interface) Usable(nh uint32) bool {
	if !i.Up {
		return false
	}
	for _, f := range i.FailedNextHops {
		if f == nh {
			return false
		}
	}
	return true
}

// Usable6 is Usable for an IPv6 next hop.
func (i *Interface) Usable6(nh *[16]byte) bool {
	if !i.Up {
		return false
	}
	for k := range i.FailedNextHops6 {
		if i.FailedNextHops6[k] == *nh {
			return false
		}
	}
	return true
}

// Interfaces is an immutable snapshot of the interface configuration,
// indexed by R2 ifindex. Forwarding threads read it without locks; the
// control side derives new snapshots with With and Without and broadcasts
// them. The zero value and nil are empty snapshots.
type Interfaces struct {
	// byIndex[ifindex] is the interface or nil; its length is the largest
	// ifindex plus one, which keeps snapshots of a few interfaces small.
	byIndex []*Interface
	// all lists the interfaces by ascending ifindex.
	all    []*Interface
	byName map[string]*Interface
	// offload is set when some interface has Offload.
	offload bool
}

// Get returns the interface with R2 ifindex ifindex, or nil.
func (s *Interfaces) Get(ifindex int32) *Interface {
	if s == nil || uint32(ifindex) >= uint32(len(s.byIndex)) { // also rejects negatives
		return nil
	}
	return s.byIndex[ifindex]
}

// ByName returns the interface called name, or nil.
func (s *Interfaces) ByName(name string) *Interface {
	if s == nil {
		return nil
	}
	return s.byName[name]
}

// All returns the interfaces by ascending ifindex. The slice is shared:
// callers must not modify it.
func (s *Interfaces) All() []*Interface {
	if s == nil {
		return nil
	}
	return s.all
}

// AnyOffload reports whether some interface's driver sends GSO
// super-frames whole (Offload): whether a super-frame built on receive
// (software GRO) can leave as one frame anywhere. With none, every one
// would be cut again in software, which costs more than never merging.
func (s *Interfaces) AnyOffload() bool { return s != nil && s.offload }

// Len returns the number of interfaces.
func (s *Interfaces) Len() int {
	if s == nil {
		return 0
	}
	return len(s.all)
}

// With returns a new snapshot holding i in place of any interface with the
// same ifindex; s is unchanged. The snapshot takes ownership of i. i must
// be valid (see Validate) and its name not used by another ifindex; With
// panics if the ifindex is out of range.
func (s *Interfaces) With(i *Interface) *Interfaces {
	if i.Ifindex < 0 || i.Ifindex >= MaxIfindex {
		panic(fmt.Sprintf("fwd: Interfaces.With: ifindex %d out of range", i.Ifindex))
	}
	all := make([]*Interface, 0, s.Len()+1)
	for _, o := range s.All() {
		if o.Ifindex != i.Ifindex {
			all = append(all, o)
		}
	}
	at, _ := slices.BinarySearchFunc(all, i.Ifindex, func(o *Interface, ifindex int32) int {
		return int(o.Ifindex - ifindex)
	})
	all = slices.Insert(all, at, i)
	return newInterfaces(all)
}

// Without returns a new snapshot without the interface with ifindex
// ifindex (s itself if there is none); s is unchanged.
func (s *Interfaces) Without(ifindex int32) *Interfaces {
	if s.Get(ifindex) == nil {
		return s
	}
	all := make([]*Interface, 0, s.Len()-1)
	for _, o := range s.All() {
		if o.Ifindex != ifindex {
			all = append(all, o)
		}
	}
	return newInterfaces(all)
}

// newInterfaces builds a snapshot from interfaces sorted by ifindex.
func newInterfaces(all []*Interface) *Interfaces {
	s := &Interfaces{all: all, byName: make(map[string]*Interface, len(all))}
	if n := len(all); n > 0 {
		s.byIndex = make([]*Interface, all[n-1].Ifindex+1)
	}
	for _, i := range all {
		s.byIndex[i.Ifindex] = i
		s.byName[i.Name] = i
		s.offload = s.offload || i.Offload
	}
	return s
}
