package api_test

import (
	"strings"
	"testing"

	"github.com/r2go/r2/r2/api"
)

func TestParsers(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func() error
		want string // "" for success
	}{
		{"prefix ok", func() error { _, err := api.ParsePrefix("p", "10.1.1.1/24"); return err }, ""},
		{"prefix /0", func() error { _, err := api.ParsePrefix("p", "0.0.0.0/0"); return err }, ""},
		{"prefix leading zero length", func() error { _, err := api.ParsePrefix("p", "10.1.1.1/024"); return err }, `prefix length "024"`},
		{"prefix empty length", func() error { _, err := api.ParsePrefix("p", "10.1.1.1/"); return err }, `prefix length ""`},
		{"prefix negative length", func() error { _, err := api.ParsePrefix("p", "10.1.1.1/-1"); return err }, `prefix length "-1"`},
		{"prefix leading zero octet", func() error { _, err := api.ParsePrefix("p", "10.01.1.1/24"); return err }, `bad p "10.01.1.1/24"`},
		{"prefix 4in6", func() error { _, err := api.ParsePrefix("p", "::ffff:1.2.3.4/120"); return err }, "IPv4-mapped"},
		{"prefix ipv6", func() error { _, err := api.ParsePrefix("p", "2001:db8::1/64"); return err }, ""},
		{"prefix ipv6 /128", func() error { _, err := api.ParsePrefix("p", "2001:db8::1/128"); return err }, ""},
		{"prefix ipv6 /129", func() error { _, err := api.ParsePrefix("p", "2001:db8::1/129"); return err }, "from 0 to 128"},
		{"prefix ipv4 /33", func() error { _, err := api.ParsePrefix("p", "10.0.0.0/33"); return err }, "from 0 to 32"},
		{"route ipv6 host bits", func() error { _, err := api.ParseRoutePrefix("2001:db8::1/32"); return err }, "did you mean 2001:db8::/32?"},
		{"ifaddr ipv6 multicast", func() error { _, err := api.ParseIfAddr("ff02::1/64"); return err }, "multicast"},
		{"ifaddr ipv6 /0", func() error { _, err := api.ParseIfAddr("2001:db8::1/0"); return err }, "2001:db8::1/64"},
		{"ifaddr ipv6 loopback", func() error { _, err := api.ParseIfAddr("::1/128"); return err }, "loopback"},
		{"route ipv6 link-local next hop", func() error { _, err := api.ParseRoute("2001:db8:9::/48", "fe80::1", "eth0", "", false); return err }, ""},
		{"route ipv6 local /128", func() error { _, err := api.ParseRoute("2001:db8::1/128", "", "eth0", "local", false); return err }, ""},
		{"route ipv6 local /64", func() error { _, err := api.ParseRoute("2001:db8::/64", "", "eth0", "local", false); return err }, "host route"},
		{"route ipv6 via ipv4", func() error { _, err := api.ParseRoute("2001:db8::/32", "10.1.0.1", "eth0", "", false); return err }, "other address family"},
		{"route drop", func() error { _, err := api.ParseRoute("192.0.2.0/24", "", "", "drop", false); return err }, ""},
		{"route drop with interface", func() error { _, err := api.ParseRoute("192.0.2.0/24", "", "eth0", "drop", false); return err }, "neither next hop nor interface"},
		{"route drop with next hop", func() error { _, err := api.ParseRoute("192.0.2.0/24", "10.1.0.1", "", "drop", false); return err }, "neither next hop nor interface"},
		{"prefix space", func() error { _, err := api.ParsePrefix("p", " 10.1.1.1/24"); return err }, `bad p " 10.1.1.1/24"`},
		{"prefix empty", func() error { _, err := api.ParsePrefix("p", ""); return err }, "empty p"},
		{"prefix no length", func() error { _, err := api.ParsePrefix("p", "10.1.1.1"); return err }, `missing the /length (e.g. "10.1.1.1/24")`},
		{"prefix no length quoted", func() error { _, err := api.ParsePrefix("p", "\x94\n"); return err }, `(e.g. "\x94\n/24")`},
		{"route /32", func() error { _, err := api.ParseRoutePrefix("3.1.1.1/32"); return err }, ""},
		{"route default", func() error { _, err := api.ParseRoutePrefix("0.0.0.0/0"); return err }, ""},
		{"route default host bits", func() error { _, err := api.ParseRoutePrefix("1.2.3.4/0"); return err }, "did you mean 0.0.0.0/0?"},
		{"ifaddr broadcast", func() error { _, err := api.ParseIfAddr("255.255.255.255/32"); return err }, "limited broadcast"},
		{"ifaddr loopback", func() error { _, err := api.ParseIfAddr("127.0.0.1/8"); return err }, "loopback"},
		{"ifaddr zero", func() error { _, err := api.ParseIfAddr("0.0.0.0/8"); return err }, "unspecified"},
		{"addr zone", func() error { _, err := api.ParseAddr("a", "fe80::1%eth0"); return err }, "has a zone"},
		{"addr 4in6", func() error { _, err := api.ParseAddr("a", "::ffff:10.0.0.1"); return err }, "write it as 10.0.0.1"},
		{"addr ipv6", func() error { _, err := api.ParseAddr("a", "2001:db8::1"); return err }, ""},
		{"addr zone quoted", func() error { _, err := api.ParseAddr("a", "fe80::1%\x1b[2J"); return err }, `a "fe80::1%\x1b[2J" has a zone`},
		{"prefix zone quoted", func() error { _, err := api.ParsePrefix("p", "fe80::1%\n/64"); return err }, `bad p "fe80::1%\n/64"`},
		{"mac dashes", func() error { _, err := api.ParseMAC("8a-61-da-68-46-76"); return err }, ""},
		{"mac empty", func() error { _, err := api.ParseMAC(""); return err }, ""},
		{"ifname tab", func() error { return api.CheckIfname("a\tb") }, `contains '\t'`},
		{"ifname colon", func() error { return api.CheckIfname("eth0:1") }, `contains ':'`},
		{"ifname dot", func() error { return api.CheckIfname(".") }, "not a valid interface name"},
		{"ifname utf8", func() error { return api.CheckIfname("é") }, "contains"},
		{"ifname 15", func() error { return api.CheckIfname("abcdefghijklmno") }, ""},
		{"route kind local", func() error { _, err := api.ParseRoute("1.1.1.2/32", "", "veth0", "local", false); return err }, ""},
		{"route kind connected with nexthop", func() error {
			_, err := api.ParseRoute("1.1.1.0/24", "1.1.1.1", "veth0", "connected", false)
			return err
		}, "a connected route has no next hop"},
		{"route del without ifname", func() error { _, err := api.ParseRoute("1.1.1.0/24", "", "", "", true); return err }, ""},
		{"route del bad ifname", func() error { _, err := api.ParseRoute("1.1.1.0/24", "", "a/b", "", true); return err }, "contains '/'"},
		{"route nexthop broadcast", func() error { _, err := api.ParseRoute("1.1.1.0/24", "255.255.255.255", "x", "", false); return err }, "not a unicast"},
	} {
		err := tc.f()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	if m, _ := api.ParseMAC(""); m != nil {
		t.Errorf("ParseMAC(\"\") = %v, want nil", m)
	}
	if p := api.SocketPath(""); p != "/run/r2/default.sock" {
		t.Errorf("SocketPath(\"\") = %q", p)
	}
}
