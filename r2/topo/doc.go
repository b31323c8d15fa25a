// Package topo builds and tears down the network test topology used by R2's
// end-to-end tests, its benchmark tool and its demo:
//
//	h1 [10.1.0.1/24] --veth-- [A] router [B] --veth-- [10.2.0.1/24] h2
//
// h1 and h2 are network namespaces of their own. The router side ("R-side")
// veth ends A and B live in one of two places, chosen by [Config.RouterNS]:
//
//   - R2 mode (the default): in the root namespace, i.e. the network namespace
//     of the goroutine that called [New], which is where the R2 engine runs and
//     opens its AF_PACKET sockets. The kernel gets no IPv4 address on A or B
//     (R2 owns 10.1.0.2 and 10.2.0.2 and answers ARP for them), IPv6 is
//     disabled on them, IPv4 forwarding is off and strict reverse-path
//     filtering on for them, and arp_ignore is 8 (never answer ARP), so the
//     kernel neither sends on them nor forwards what arrives on them, even
//     when the root namespace forwards between other interfaces.
//     Until R2 runs, h1 cannot reach h2.
//   - Kernel mode (RouterNS true): in a third namespace with the addresses
//     10.1.0.2/24 and 10.2.0.2/24 and kernel IPv4 forwarding on. This is the
//     baseline that R2's numbers are compared with.
//
// h1 and h2 use the router addresses as default gateway. IPv6 is disabled in
// h1, h2 and the router namespace so that the links carry only the traffic a
// test sends (no router solicitations, MLD or DAD), and loopback is up in
// every namespace. With [Config.IPv6] the hosts get 2001:db8:1::1/64 and
// 2001:db8:2::1/64 as well, with default routes via 2001:db8:1::2 and
// 2001:db8:2::2 (in kernel mode the router namespace has those and forwards
// IPv6); DAD is off so every address is usable at once, the hosts send no
// router solicitations, and only MLD reports remain as unsolicited traffic. Unless [Config.Offloads] is set, checksum offload, TSO, GSO
// and GRO are turned off on all four veth ends (ETHTOOL_SFEATURES through the
// SIOCETHTOOL ioctl, as `ethtool -K` does; no ethtool program needed), so
// that frames seen by an AF_PACKET reader are complete, checksummed and no
// larger than the MTU. [Topology.Offloads] reads them back.
//
// All namespace and interface names derive from a short per-run prefix (see
// [UniquePrefix]), so that several topologies, and several test processes, can
// exist at once. [Topology.Close] removes everything a topology created and is
// safe to call more than once; [Cleanup] removes what an interrupted run left
// behind, given its prefix. Namespaces are named (bind-mounted in /run/netns,
// as `ip netns add` does), so `ip netns exec` and [Topology.Exec] work on them.
//
// The package never leaves an OS thread of the caller in another namespace:
// every step that must run inside a namespace (sysctl writes, ethtool ioctls,
// namespace creation) runs on a dedicated locked goroutine whose thread is
// discarded if it cannot be switched back. Netlink requests go through
// per-namespace handles ([netlink.NewHandleAt]).
//
// Everything here needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and Linux.
// [Topology.Exec] and [Topology.Ping] run the `ip` (iproute2) and `ping`
// (iputils-ping) programs.
package topo
