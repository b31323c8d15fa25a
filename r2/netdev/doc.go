// Package netdev tells R2 what it needs to know about Linux interfaces: a
// one-off Lookup of an interface's index, MAC address, MTU and state, and
// Watch, a stream of the changes that matter to a forwarding plane (an
// interface going up or down, changing its MTU or disappearing).
//
// Both talk rtnetlink (through github.com/vishvananda/netlink) in the
// network namespace of the calling thread, which for R2 is the namespace
// its interfaces live in. They are control-side tools: they allocate, and
// no forwarding thread calls them.
//
// Only Ethernet interfaces (ARPHRD_ETHER, 6-byte MAC) are of use to R2;
// Lookup rejects the others with ErrNotEthernet, so a typo that names the
// loopback or a tunnel fails at configuration time, not with odd drops.
//
// OperUp follows the kernel's own test (netif_oper_up): the operational
// state is "up", or "unknown" for drivers that do not report one (tun,
// dummy), with the interface administratively up.
package netdev
