package fwd

import "net/netip"

// IPv6 helpers for Interface. IPv6 addresses live in Addrs next to the IPv4
// ones (e.g. 2001:db8:1::1/64, fe80::1/64). Besides them, the EUI-64
// link-local address derived from the interface's MAC (LinkLocalFromMAC)
// is always one of the interface's addresses, configured or not, so
// neighbour discovery works from the moment an interface is attached. The
// methods below do not allocate: forwarding threads call them per packet.

// LinkLocalFromMAC is the EUI-64 link-local address of an Ethernet MAC
// (RFC 4291 appendix A, RFC 2464 5): fe80::/64 with the interface
// identifier made of the MAC with ff:fe inserted in the middle and the
// universal/local bit flipped. 52:54:00:12:34:56 gives fe80::5054:ff:fe12:3456.
func LinkLocalFromMAC(mac [6]byte) netip.Addr {
	return netip.AddrFrom16(linkLocal16(mac))
}

func linkLocal16(mac [6]byte) [16]byte {
	return [16]byte{0: 0xfe, 1: 0x80,
		8: mac[0] ^ 0x02, 9: mac[1], 10: mac[2], 11: 0xff, 12: 0xfe, 13: mac[3], 14: mac[4], 15: mac[5]}
}

// LinkLocal is the interface's link-local address: the first fe80::/10
// address in Addrs, or else the EUI-64 one of its MAC. It is the source of
// the neighbour solicitations the router sends for link-local targets.
func (i *Interface) LinkLocal() [16]byte {
	for _, a := range i.Addrs {
		if b := a.Addr(); b.Is6() && b.IsLinkLocalUnicast() {
			return b.As16()
		}
	}
	return linkLocal16(i.MAC)
}

// HasAddr6 reports whether ip is one of the interface's IPv6 addresses,
// counting the EUI-64 link-local address of its MAC.
func (i *Interface) HasAddr6(ip [16]byte) bool {
	if ip == linkLocal16(i.MAC) {
		return true
	}
	for _, a := range i.Addrs {
		if b := a.Addr(); b.Is6() && b.As16() == ip {
			return true
		}
	}
	return false
}

// OnLink6 reports whether ip is reachable on the interface without a
// gateway: link-local (fe80::/10) or inside one of its IPv6 prefixes.
func (i *Interface) OnLink6(ip [16]byte) bool {
	if ip[0] == 0xfe && ip[1]&0xc0 == 0x80 {
		return true
	}
	_, ok := i.prefixFor6(ip)
	return ok
}

// SrcFor6 is the address the router speaks from to the on-link neighbour
// ip: an address of the interface whose prefix holds ip, otherwise (and
// always for link-local ip) the link-local address.
func (i *Interface) SrcFor6(ip [16]byte) [16]byte {
	if ip[0] != 0xfe || ip[1]&0xc0 != 0x80 {
		if a, ok := i.prefixFor6(ip); ok {
			return a
		}
	}
	return i.LinkLocal()
}

// prefixFor6 returns the first non-link-local IPv6 address of the interface
// whose prefix holds ip.
func (i *Interface) prefixFor6(ip [16]byte) ([16]byte, bool) {
	for _, a := range i.Addrs {
		b := a.Addr()
		if !b.Is6() || b.IsLinkLocalUnicast() {
			continue
		}
		if a16 := b.As16(); samePrefix6(&a16, &ip, a.Bits()) {
			return a16, true
		}
	}
	return [16]byte{}, false
}

// IsSolicitedNodeMAC reports whether mac (33:33:ff:xx:xx:xx) is the
// Ethernet address of the solicited-node group (ff02::1:ffxx:xxxx) of one
// of the interface's IPv6 addresses, the EUI-64 link-local included.
func (i *Interface) IsSolicitedNodeMAC(mac []byte) bool {
	_ = mac[5]
	if mac[0] != 0x33 || mac[1] != 0x33 || mac[2] != 0xff {
		return false
	}
	if mac[3] == i.MAC[3] && mac[4] == i.MAC[4] && mac[5] == i.MAC[5] {
		return true // the EUI-64 link-local address's group
	}
	for _, a := range i.Addrs {
		if b := a.Addr(); b.Is6() {
			a16 := b.As16()
			if a16[13] == mac[3] && a16[14] == mac[4] && a16[15] == mac[5] {
				return true
			}
		}
	}
	return false
}

// Addrs6 returns the interface's configured IPv6 prefixes (allocating; not
// for the forwarding path).
func (i *Interface) Addrs6() []netip.Prefix {
	var out []netip.Prefix
	for _, a := range i.Addrs {
		if a.Addr().Is6() && !a.Addr().Is4In6() {
			out = append(out, a)
		}
	}
	return out
}

// samePrefix6 reports whether a and b agree in their first bits bits.
func samePrefix6(a, b *[16]byte, bits int) bool {
	if bits < 0 || bits > 128 {
		return false
	}
	n := bits / 8
	for k := 0; k < n; k++ {
		if a[k] != b[k] {
			return false
		}
	}
	if r := bits % 8; r != 0 {
		m := byte(0xff) << (8 - r)
		return (a[n]^b[n])&m == 0
	}
	return true
}

// is6 reports whether p is an IPv6 prefix (an IPv4-mapped one is not).
func is6(p netip.Prefix) bool { return p.Addr().Is6() && !p.Addr().Is4In6() }

// isLinkLocal6 reports whether a is in fe80::/10.
func isLinkLocal6(a *[16]byte) bool { return a[0] == 0xfe && a[1]&0xc0 == 0x80 }

// Global6 returns a non-link-local IPv6 address of the interface: the
// first one whose prefix holds near, else the first one.
func (i *Interface) Global6(near [16]byte) ([16]byte, bool) {
	var first [16]byte
	found := false
	addr := netip.AddrFrom16(near)
	for _, p := range i.Addrs {
		if !is6(p) {
			continue
		}
		b := p.Addr().As16()
		if isLinkLocal6(&b) {
			continue
		}
		if p.Contains(addr) {
			return b, true
		}
		if !found {
			first, found = b, true
		}
	}
	return first, found
}

// HasSolicitedNode6 reports whether a is the solicited-node multicast
// address (ff02::1:ffXX:XXXX, RFC 4291 2.7.1) of one of the interface's
// IPv6 addresses, the EUI-64 link-local one included.
func (i *Interface) HasSolicitedNode6(a [16]byte) bool {
	if a != [16]byte{0: 0xff, 1: 0x02, 11: 0x01, 12: 0xff, 13: a[13], 14: a[14], 15: a[15]} {
		return false
	}
	return i.IsSolicitedNodeMAC([]byte{0x33, 0x33, 0xff, a[13], a[14], a[15]})
}
