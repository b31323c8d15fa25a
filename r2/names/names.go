// Package names is the one place where graph node names are made.
//
// Nodes find each other by name: a node declares the names of its next
// nodes and the graph resolves them to indices when it is finalized. Keeping
// every name here (instead of letting nodes build strings themselves) means a
// typo is a compile error and a rename happens in one place. Per-interface
// nodes carry the interface's Linux name, which is also what an operator sees
// in the counters.
package names

// Names of the nodes that exist once per graph.
const (
	// Drop is the sink at index 0 of every graph: a push to it frees the
	// packet and counts it.
	Drop = "Drop"
	// L3Parse identifies and validates the layer 3 protocol.
	L3Parse = "L3Parse"
	// IPv4Fwd looks up routes and decrements the TTL.
	IPv4Fwd = "IPv4Fwd"
	// IPv4Local handles packets addressed to the router itself (ICMP echo,
	// and errors the router originates).
	IPv4Local = "IPv4Local"
	// IPv4Frag fragments packets larger than their output MTU.
	IPv4Frag = "IPv4Frag"
	// GSO segments super-frames and finishes checksums in software for
	// outputs that cannot.
	GSO = "GSO"
	// IPv6Fwd looks up IPv6 routes and decrements the hop limit.
	IPv6Fwd = "IPv6Fwd"
	// IPv6Local handles IPv6 packets addressed to the router itself (ICMPv6
	// echo) and the ICMPv6 errors the router originates.
	IPv6Local = "IPv6Local"
	// EncapMux picks the per-interface encapsulation node by output ifindex.
	EncapMux = "EncapMux"
)

// IfNode is the name of the driver node (Rx and Tx) of interface ifname.
func IfNode(ifname string) string { return "IfNode:" + ifname }

// EtherDecap is the name of the Ethernet decapsulation node of ifname.
func EtherDecap(ifname string) string { return "EtherDecap:" + ifname }

// EtherEncap is the name of the Ethernet encapsulation node of ifname.
func EtherEncap(ifname string) string { return "EtherEncap:" + ifname }
