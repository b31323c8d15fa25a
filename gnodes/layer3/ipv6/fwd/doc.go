// Package ipv6fwd is IPv6Fwd, the IPv6 forwarding node.
//
// For a vector of packets it first collects the destinations and looks them
// all up in one batch, then for each packet, in this order:
//
//   - drops packets whose header is inconsistent (shorter than 40 bytes,
//     not version 6, payload length beyond the frame: bad_header); padding
//     beyond the payload length is trimmed;
//   - drops martians (RFC 4291): an unspecified, loopback or multicast
//     source (martian_src), an unspecified or loopback destination
//     (martian_dst);
//   - follows the extension header chain through at most MaxExtHeaders
//     headers when there is one: a header running past the end of the
//     packet or a hop-by-hop header anywhere but first is dropped
//     (bad_ext_hdr), and so is a type 0 routing header (rh0, RFC 5095).
//     The options of a hop-by-hop header are processed as RFC 8200 4.2
//     requires of every node: Pad1, PadN and router alert are accepted;
//     an unrecognised option is skipped, or the packet is dropped
//     (unknown_option) with or without a Parameter Problem (code 2,
//     pointing at the option) as the option type's two high bits say.
//     Fragments are forwarded unchanged;
//   - multicast destinations are never forwarded: ff02::1, ff02::2 and the
//     solicited-node addresses of the input interface go to IPv6Local, the
//     rest are dropped (multicast);
//   - a link-local destination can only be the router itself: to IPv6Local
//     if it is an address of the input interface, else dropped
//     (link_local); a packet with a link-local source that would have to
//     leave its link is dropped (link_local) with Destination Unreachable
//     "beyond scope of source address"; unicast in a link-layer broadcast
//     is not forwarded (l2_broadcast);
//   - local routes (fwd.AdjLocal) go to IPv6Local; no route: Destination
//     Unreachable, no route (no_route); hop limit <= 1: Time Exceeded
//     (hop_limit_exceeded); missing or down output interface (no_intf,
//     intf_down); larger than the output MTU: Packet Too Big with the MTU
//     (too_big), since routers never fragment IPv6 (RFC 8200 5);
//   - otherwise the hop limit is decremented (IPv6 has no header
//     checksum) and the packet goes to EncapMux.
//
// Errors are passed to IPv6Local, which decides whether one may be sent and
// rate-limits them. Every packet is counted exactly once: in forwarded, in
// the counter of its drop or error reason, or by reaching IPv6Local for the
// router itself.
//
// Packets IPv6Local originates (MetaLocalOrigin) skip the martian and
// extension header checks, keep their hop limit and never cause an error
// (one to the router itself is dropped: local); one addressed to a
// link-local destination leaves through its InIfindex (the interface the
// packet it answers came in on), as no route can say which link a
// link-local address is on, and one from a link-local source may only
// leave through that interface.
//
// Metadata used: InIfindex, Meta (MetaLocalOrigin, MetaL2Broadcast). Set:
// OutIfindex, NextHop6 (the gateway, or the destination on a connected
// prefix) and Meta |= MetaIPv6 for EncapMux; for IPv6Local, Meta =
// MetaICMPError | type<<8 | code (keeping MetaL2Broadcast) and NextHop = the
// MTU (Packet Too Big) or pointer (Parameter Problem).
//
// Next nodes: Drop, EncapMux, IPv6Local.
//
// The route table and interface snapshot are immutable and swapped whole by
// control messages (msg.IPv6Table, msg.Interfaces) between graph runs.
package ipv6fwd
