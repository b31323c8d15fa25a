package api_test

import (
	"flag"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/r2go/r2/r2/api"
	gt "github.com/r2go/r2/r2/graph/graphtest"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz from the seeds built in the tests")

// validateSeeds are the seed corpus of FuzzValidate: a route as a client
// gives it (prefix, next hop, interface, kind, delete). Every parser also
// gets each string on its own.
func validateSeeds() map[string]gt.Seed {
	return map[string]gt.Seed{
		"gateway":         {"3.1.1.0/24", "2.1.1.1", "veth_r2_2", "", false},
		"connected":       {"1.1.1.0/24", "", "veth0", "connected", false},
		"local":           {"1.1.1.2/32", "", "veth0", "local", false},
		"default":         {"0.0.0.0/0", "10.0.0.1", "eth0", "gateway", false},
		"delete":          {"1.1.1.0/24", "", "", "", true},
		"host_bits":       {"10.1.1.1/24", "10.1.1.254", "eth0", "", false},
		"ifaddr":          {"1.1.1.2/24", "8a:61:da:68:46:76", "default", "gateway", false},
		"mac_dashes":      {"8a-61-da-68-46-76", "8a61.da68.4676", "r2.test-1_x", "", false},
		"mac_multicast":   {"01:00:5e:00:00:01", "00:00:00:00:00:00", "..", "", true},
		"mac_long":        {"00:00:5e:00:53:01:02:03", "", ".hidden", "bogus", false},
		"ipv6":            {"::ffff:1.2.3.4/120", "fe80::1%eth0", "eth0:1", "", false},
		"zone_in_prefix":  {"fe80::1%a\x1b[2J/64", "1.2.3.4/32", "a b", "", false},
		"leading_zeros":   {"10.01.1.1/024", "010.1.1.1", "abcdefghijklmnop", "", false},
		"unicode":         {"1.1.1.0/24", "", "é", "", false},
		"broadcast":       {"255.255.255.255/32", "255.255.255.255", "x", "", false},
		"loopback":        {"127.0.0.1/8", "127.0.0.1", "lo", "", false},
		"empty":           {"", "", "", "", false},
		"prefix_no_len":   {"10.1.1.1", "", "eth0", "", false},
		"prefix_bad_len":  {"10.1.1.1/33", "1.2.3.4", "eth0", "connected", false},
		"local_not_32":    {"10.1.1.0/24", "", "eth0", "local", false},
		"gateway_no_hop":  {"10.1.1.0/24", "", "eth0", "gateway", false},
		"connected_w_hop": {"10.1.1.0/24", "10.1.1.1", "eth0", "connected", false},
	}
}

func TestFuzzValidateSeeds(t *testing.T) {
	gt.SyncSeeds(t, "FuzzValidate", validateSeeds(), *updateSeeds)
}

// FuzzValidate runs every syntactic check of the API on arbitrary strings.
// An accepted value must be canonical: its String form is the input (MACs,
// which have several spellings, parse back to the same bytes), and it has
// the properties its parser promises. A refusal must carry a message a
// utility can print as is: non-empty, valid UTF-8, no control characters.
func FuzzValidate(f *testing.F) {
	// The seeds are in testdata/fuzz/FuzzValidate (TestFuzzValidateSeeds).
	f.Fuzz(func(t *testing.T, prefix, nexthop, ifname, kind string, del bool) {
		for _, s := range []string{prefix, nexthop, ifname, kind} {
			checkSingle(t, s)
		}
		r, err := api.ParseRoute(prefix, nexthop, ifname, kind, del)
		if err != nil {
			checkMessage(t, "ParseRoute", err)
			return
		}
		nh := ""
		if r.NextHop.IsValid() {
			nh = r.NextHop.String()
		}
		// IPv6 has many spellings of one address: the check is that the
		// input parses to the value (IPv4 spellings are canonical).
		wantPfx, _ := netip.ParsePrefix(prefix)
		wantNH, _ := netip.ParseAddr(nexthop)
		if r.Prefix != wantPfx || (nexthop != "" && r.NextHop != wantNH) || (nexthop == "" && r.NextHop.IsValid()) ||
			r.Ifname != ifname || r.Prefix.Masked() != r.Prefix || (r.Prefix.Addr().Is4() && r.Prefix.String() != prefix) {
			t.Errorf("ParseRoute(%q, %q, %q) = %+v", prefix, nexthop, ifname, r)
		}
		if r.NextHop.IsValid() && r.NextHop.Is4() != r.Prefix.Addr().Is4() {
			t.Errorf("route with next hop of the other family: %+v", r)
		}
		switch r.Kind {
		case api.KindGateway:
			if !r.NextHop.IsValid() {
				t.Errorf("gateway route without a next hop: %+v", r)
			}
		case api.KindConnected, api.KindLocal:
			if r.NextHop.IsValid() || r.Kind == api.KindLocal && r.Prefix.Bits() != r.Prefix.Addr().BitLen() {
				t.Errorf("bad %s route: %+v", r.Kind, r)
			}
		default:
			t.Errorf("route kind %q", r.Kind)
		}
		if kind != "" && r.Kind != kind {
			t.Errorf("kind %q became %q", kind, r.Kind)
		}
		if ifname != "" || !del {
			if err := api.CheckIfname(r.Ifname); err != nil {
				t.Errorf("route accepted with interface %q: %v", r.Ifname, err)
			}
		}
		// What the route prints as parses back to the same route.
		r2, err := api.ParseRoute(r.Prefix.String(), nh, r.Ifname, r.Kind, del)
		if err != nil {
			t.Fatalf("route %+v does not parse back: %v", r, err)
		}
		if diff := cmp.Diff(r, r2, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
			cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Errorf("route changed when parsed back (-first +second):\n%s", diff)
		}
	})
}

// checkSingle runs each single-value parser on s.
func checkSingle(t *testing.T, s string) {
	t.Helper()
	if a, err := api.ParseAddr("address", s); err != nil {
		checkMessage(t, "ParseAddr", err)
		if std, err := netip.ParseAddr(s); err == nil && std.Is4() {
			t.Errorf("ParseAddr(%q) refused an IPv4 address: %v", s, err)
		}
	} else if std, err := netip.ParseAddr(s); err != nil || std != a || a.Zone() != "" || a.Is4In6() || (a.Is4() && a.String() != s) {
		t.Errorf("ParseAddr(%q) = %v", s, a)
	}

	p, err := api.ParsePrefix("prefix", s)
	if err != nil {
		checkMessage(t, "ParsePrefix", err)
	} else if std, err := netip.ParsePrefix(s); err != nil || std != p || p.Addr().Is4In6() || (p.Addr().Is4() && p.String() != s) {
		t.Errorf("ParsePrefix(%q) = %v", s, p)
	}
	if ip, err := api.ParseIfAddr(s); err != nil {
		checkMessage(t, "ParseIfAddr", err)
	} else {
		a := ip.Addr()
		if p != ip || ip.Bits() < 1 || a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() || a == netip.MustParseAddr("255.255.255.255") {
			t.Errorf("ParseIfAddr(%q) = %v", s, ip)
		}
	}
	if rp, err := api.ParseRoutePrefix(s); err != nil {
		checkMessage(t, "ParseRoutePrefix", err)
	} else if p != rp || rp.Masked() != rp {
		t.Errorf("ParseRoutePrefix(%q) = %v", s, rp)
	}

	if mac, err := api.ParseMAC(s); err != nil {
		checkMessage(t, "ParseMAC", err)
	} else if s == "" {
		if mac != nil {
			t.Errorf("ParseMAC(\"\") = %v", mac)
		}
	} else if len(mac) != 6 || mac[0]&1 != 0 || string(mac) == "\x00\x00\x00\x00\x00\x00" {
		t.Errorf("ParseMAC(%q) = %v", s, mac)
	} else if back, err := api.ParseMAC(mac.String()); err != nil || back.String() != mac.String() {
		t.Errorf("ParseMAC(%q) = %v, which parses back as %v, %v", s, mac, back, err)
	}

	if err := api.CheckIfname(s); err != nil {
		checkMessage(t, "CheckIfname", err)
	} else if len(s) < 1 || len(s) > api.MaxIfnameLen || s == "." || s == ".." || strings.ContainsAny(s, "/:") ||
		strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		t.Errorf("CheckIfname accepted %q", s)
	}

	if err := api.CheckInstance(s); err != nil {
		checkMessage(t, "CheckInstance", err)
	} else if path := api.SocketPath(s); filepath.Dir(path) != filepath.Dir(api.SocketPath("")) || filepath.Base(path) != s+".sock" {
		t.Errorf("instance %q has socket %q", s, path)
	}
}

// checkMessage checks that err can be shown to a user as is.
func checkMessage(t *testing.T, fn string, err error) {
	t.Helper()
	msg := err.Error()
	if msg == "" || !utf8.ValidString(msg) || strings.ContainsFunc(msg, unicode.IsControl) {
		t.Errorf("%s: unprintable refusal %s", fn, fmt.Sprintf("%q", msg))
	}
}
