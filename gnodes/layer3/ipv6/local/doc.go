// Package local is IPv6Local: the router's own IPv6 endpoint.
//
// It answers ICMPv6 echo requests sent to any of the router's IPv6
// addresses, global or link-local, and to the all-nodes, all-routers and
// solicited-node multicast addresses IPv6Fwd lets through; the reply comes
// from the address that was pinged (for a multicast request, from an
// address of the input interface, RFC 4443 4.2).
//
// It turns packets that IPv6Fwd marked with an ICMPv6 error (destination
// unreachable, packet too big with the MTU, time exceeded, parameter
// problem with the pointer) into that error, addressed to the original
// sender. The error quotes as much of the offending packet as fits in 1280
// bytes (RFC 4443 2.4 c) and is built in place in front of it, or in a new
// packet from the thread's pool when the headroom is short. Its source is
// the input interface's global address (preferring one on the sender's
// prefix), or its link-local address when the sender's address is
// link-local or the interface has no global one. As RFC 4443 2.4 e
// requires, no error is sent about an ICMPv6 error message (types below
// 128), about a packet from an unspecified, loopback or multicast source,
// or about a packet sent to a multicast address or in a link-layer
// broadcast, except Packet Too Big and Parameter Problem code 2. Errors are
// rate-limited per thread by a token bucket (ErrorRate per second, bursts
// of ErrorBurst), as IPv4Local does.
//
// Replies and errors leave with MetaLocalOrigin and go back through
// IPv6Fwd, whose route lookup picks the output (and which sends one
// addressed to a link-local address out of the packet's InIfindex, which is
// kept). Everything else addressed to the router is counted and dropped:
// fragments (no reassembly), TCP, UDP and other protocols, ICMPv6 other
// than echo requests, and neighbour discovery messages (nd_unexpected:
// EtherDecap answers those before they get here).
//
// Metadata used: InIfindex, Meta (MetaICMPError with the type and code,
// MetaL2Broadcast), NextHop (the MTU or pointer of an error). Set: Meta =
// MetaLocalOrigin | MetaIPv6, NextHop = 0, L3; InIfindex is kept.
//
// Next nodes: Drop, IPv6Fwd.
package local
