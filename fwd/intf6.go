package fwd

import "net/netip"

// IPv6 helpers on Interface. Addrs holds the prefixes of both families; the
// helpers below look only at the IPv6 ones (an IPv4-mapped address is not
// an IPv6 address here), as HasAddr and OnLink look only at the IPv4 ones.

// is6 reports whether p is an IPv6 prefix.
func is6(p netip.Prefix) bool { return p.Addr().Is6() && !p.Addr().Is4In6() }

// isLinkLocal6 reports whether a is in fe80::/10.
func isLinkLocal6(a *[16]byte) bool { return a[0] == 0xfe && a[1]&0xc0 == 0x80 }

// HasAddr6 reports whether a is one of the interface's IPv6 addresses.
func (i *Interface) HasAddr6(a [16]byte) bool {
	for _, p := range i.Addrs {
		if is6(p) && p.Addr().As16() == a {
			return true
		}
	}
	return false
}

// OnLink6 reports whether a is inside one of the interface's IPv6 prefixes
// (link-local addresses are on-link on every interface that has one).
func (i *Interface) OnLink6(a [16]byte) bool {
	ll := isLinkLocal6(&a)
	addr := netip.AddrFrom16(a)
	for _, p := range i.Addrs {
		if !is6(p) {
			continue
		}
		if p.Contains(addr) {
			return true
		}
		if ll {
			if b := p.Addr().As16(); isLinkLocal6(&b) {
				return true
			}
		}
	}
	return false
}

// LinkLocal returns the interface's first link-local (fe80::/10) address.
func (i *Interface) LinkLocal() ([16]byte, bool) {
	for _, p := range i.Addrs {
		if !is6(p) {
			continue
		}
		if b := p.Addr().As16(); isLinkLocal6(&b) {
			return b, true
		}
	}
	return [16]byte{}, false
}

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
// IPv6 addresses.
func (i *Interface) HasSolicitedNode6(a [16]byte) bool {
	if a != [16]byte{0: 0xff, 1: 0x02, 11: 0x01, 12: 0xff, 13: a[13], 14: a[14], 15: a[15]} {
		return false
	}
	for _, p := range i.Addrs {
		if !is6(p) {
			continue
		}
		if b := p.Addr().As16(); b[13] == a[13] && b[14] == a[14] && b[15] == a[15] {
			return true
		}
	}
	return false
}
