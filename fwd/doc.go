// Package fwd holds R2's forwarding objects: the data that forwarding
// threads read on every packet and that the control side changes at
// runtime. That is interface configuration ([Interface], [Interfaces]),
// adjacencies ([Adjacency], what to do with a packet once its route is
// known), the IPv4 route table ([IPv4Table], [IPv4RIB]) and the IPv6 one
// ([IPv6Table], [IPv6RIB], [Adjacency6]; its structure and why it differs
// from IPv4's are described in ipv6table.go). Both route tables follow the
// same double-copy protocol, written once in ribcore.go.
//
// fwd is a tier-1 package: it imports only the standard library, so every
// other R2 package may use it.
//
// # Sharing without locks
//
// Forwarding threads never take a lock. The control side never changes an
// object that a forwarding thread may be reading; it changes a copy and then
// broadcasts "use this copy", as R2 does:
//
//   - Interface config is a copy-on-write snapshot. To change it, Clone the
//     [Interface], modify the clone, build a new snapshot with
//     [Interfaces.With], and broadcast that snapshot. Snapshots are never
//     modified after they are built.
//
//   - The IPv4 lookup structure is too big to copy per change (the DIR-24-8
//     top level alone is 64 MiB), so [IPv4RIB] keeps exactly two copies. A
//     change is applied to the copy no thread uses, published (the engine's
//     publish function returns once every thread has switched to it), and
//     then applied to the other copy, which no thread uses any more. Both
//     copies are identical between changes, and a batch of changes costs a
//     single publish. The routes themselves and the adjacency interning live
//     once, in the RIB.
//
// # Lookup structure
//
// [IPv4Table] is a DIR-24-8 table: one 2^24-entry array indexed by the top
// 24 bits of the destination, plus 256-entry groups for the /24s that hold
// longer prefixes. Most lookups cost one memory access and none allocate.
// Each entry stores the index of an adjacency in the table's own adjacency
// array (index 0 is the drop adjacency: no route) and the length of the
// prefix it came from, so adding a route keeps more specific routes and
// deleting one restores the covering route without rebuilding anything.
//
// Addresses on the data path are uint32 in host byte order ([IPv4ToU32],
// [U32ToIPv4]); the control side API uses [net/netip].
package fwd
