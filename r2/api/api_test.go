package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/r2go/r2/apis/common"
	"github.com/r2go/r2/apis/route"
	"github.com/r2go/r2/r2/api"
	"github.com/r2go/r2/r2/api/apitest"
)

// dial connects a client to the server at path.
func dial(t *testing.T, path string) *api.Client {
	t.Helper()
	c, err := api.Dial("unix", path, api.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// why returns the text of an ApiErr, or fails the test.
func why(t *testing.T, err error) string {
	t.Helper()
	var ae *common.ApiErr
	if !errors.As(err, &ae) {
		t.Fatalf("got error %v (%T), want an ApiErr", err, err)
	}
	return ae.Why
}

var ctx = context.Background()

// netipEqual lets cmp compare netip values, which have unexported fields.
var netipEqual = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

// setup returns a fake backend holding interfaces veth0 (1.1.1.2/24) and
// veth1, a route, and a connected client.
func setup(t *testing.T) (*apitest.Backend, *api.Client) {
	t.Helper()
	b := apitest.New()
	_, path := apitest.Serve(t, b, api.Options{})
	c := dial(t, path)
	must(t, c.Interface.AddIf(ctx, "veth0", 0, "8a:61:da:68:46:76", 0, ""))
	must(t, c.Interface.AddIf(ctx, "veth1", -1, "", -1, "afxdp"))
	must(t, c.Interface.AddIP(ctx, "veth0", "1.1.1.2/24"))
	must(t, c.Route.AddRoute(ctx, &route.RouteEntry{Prefix: "3.1.1.0/24", Nexthop: "1.1.1.1", Ifname: "veth0"}))
	return b, c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func rt(prefix, nh, ifname string) *route.RouteEntry {
	return &route.RouteEntry{Prefix: prefix, Nexthop: nh, Ifname: ifname}
}

// TestRejected sends bad requests: each must fail with an ApiErr carrying a
// precise message and leave the backend exactly as it was. Syntactic errors
// must not reach the backend at all.
func TestRejected(t *testing.T) {
	b, c := setup(t)
	tests := []struct {
		name      string
		call      func() error
		want      string // substring of the ApiErr text
		toBackend bool   // the backend judges this one
	}{
		// Interface.
		{"add_if empty name", func() error { return c.Interface.AddIf(ctx, "", 1, "", -1, "") }, "empty interface name", false},
		{"add_if long name", func() error { return c.Interface.AddIf(ctx, "abcdefghijklmnop", 1, "", -1, "") }, "is 16 bytes long; Linux allows at most 15", false},
		{"add_if slash", func() error { return c.Interface.AddIf(ctx, "a/b", 1, "", -1, "") }, `contains '/'`, false},
		{"add_if space", func() error { return c.Interface.AddIf(ctx, "a b", 1, "", -1, "") }, `contains ' '`, false},
		{"add_if ifindex low", func() error { return c.Interface.AddIf(ctx, "veth2", -2, "", -1, "") }, "ifindex -2 out of range; want 0 to 4095, or -1", false},
		{"add_if ifindex high", func() error { return c.Interface.AddIf(ctx, "veth2", 4096, "", -1, "") }, "ifindex 4096 out of range", false},
		{"add_if thread", func() error { return c.Interface.AddIf(ctx, "veth2", 2, "", -7, "") }, "thread -7 out of range", false},
		{"add_if driver", func() error { return c.Interface.AddIf(ctx, "veth2", 2, "", -1, "dpdk") }, `unknown driver "dpdk"`, false},
		{"add_if mac syntax", func() error { return c.Interface.AddIf(ctx, "veth2", 2, "8a:61:da:68:46", -1, "") }, `bad MAC address "8a:61:da:68:46"`, false},
		{"add_if mac long", func() error { return c.Interface.AddIf(ctx, "veth2", 2, "00:00:5e:00:53:01:02:03", -1, "") }, "8 bytes long; Ethernet MACs have 6", false},
		{"add_if mac multicast", func() error { return c.Interface.AddIf(ctx, "veth2", 2, "01:00:5e:00:00:01", -1, "") }, "multicast", false},
		{"add_if mac zero", func() error { return c.Interface.AddIf(ctx, "veth2", 2, "00:00:00:00:00:00", -1, "") }, "all zeros", false},
		{"add_if exists", func() error { return c.Interface.AddIf(ctx, "veth0", 5, "", -1, "") }, "interface veth0 already exists", true},
		{"add_if ifindex used", func() error { return c.Interface.AddIf(ctx, "veth2", 0, "", -1, "") }, "ifindex 0 is in use", true},
		{"del_if empty", func() error { return c.Interface.DelIf(ctx, "") }, "empty interface name", false},
		{"del_if unknown", func() error { return c.Interface.DelIf(ctx, "nope") }, "no interface nope", true},
		{"add_ip no length", func() error { return c.Interface.AddIP(ctx, "veth0", "1.1.1.3") }, `missing the /length`, false},
		{"add_ip bad addr", func() error { return c.Interface.AddIP(ctx, "veth0", "1.1.1.256/24") }, `bad interface address "1.1.1.256/24": IPv4 field has value >255`, false},
		{"add_ip bad len", func() error { return c.Interface.AddIP(ctx, "veth0", "1.1.1.3/33") }, `prefix length "33" is not a number from 0 to 32`, false},
		{"add_ip ipv6", func() error { return c.Interface.AddIP(ctx, "veth0", "2001:db8::1/64") }, "is IPv6; R2 handles IPv4 only", false},
		{"add_ip /0", func() error { return c.Interface.AddIP(ctx, "veth0", "1.1.1.3/0") }, "has length /0", false},
		{"add_ip multicast", func() error { return c.Interface.AddIP(ctx, "veth0", "224.0.0.1/24") }, "multicast", false},
		{"add_ip bad ifname", func() error { return c.Interface.AddIP(ctx, "", "1.1.1.3/24") }, "empty interface name", false},
		{"add_ip dup", func() error { return c.Interface.AddIP(ctx, "veth0", "1.1.1.2/24") }, "already has address 1.1.1.2/24", true},
		{"add_ip unknown if", func() error { return c.Interface.AddIP(ctx, "veth9", "1.1.1.3/24") }, "no interface veth9", true},
		{"del_ip missing", func() error { return c.Interface.DelIP(ctx, "veth0", "1.1.1.3/24") }, "has no address 1.1.1.3/24", true},
		{"del_ip bad", func() error { return c.Interface.DelIP(ctx, "veth0", "x") }, `missing the /length`, false},
		{"show bad name", func() error { _, err := c.Interface.Show(ctx, "a/b"); return err }, `contains '/'`, false},
		{"show unknown", func() error { _, err := c.Interface.Show(ctx, "veth9"); return err }, "no interface veth9", true},

		// Route.
		{"add_route host bits", func() error { return c.Route.AddRoute(ctx, rt("10.1.1.1/24", "1.1.1.1", "veth0")) },
			"route prefix 10.1.1.1/24 has host bits set; did you mean 10.1.1.0/24?", false},
		{"add_route bad prefix", func() error { return c.Route.AddRoute(ctx, rt("10.1.1/24", "1.1.1.1", "veth0")) }, `bad route prefix "10.1.1/24": IPv4 address too short`, false},
		{"add_route ipv6", func() error { return c.Route.AddRoute(ctx, rt("2001:db8::/32", "", "veth0")) }, `route prefix "2001:db8::/32" is IPv6`, false},
		{"add_route bad nexthop", func() error { return c.Route.AddRoute(ctx, rt("10.1.1.0/24", "1.1.1", "veth0")) }, `bad next hop "1.1.1"`, false},
		{"add_route nexthop prefix", func() error { return c.Route.AddRoute(ctx, rt("10.1.1.0/24", "1.1.1.1/32", "veth0")) }, "not a prefix", false},
		{"add_route nexthop ipv6", func() error { return c.Route.AddRoute(ctx, rt("10.1.1.0/24", "fe80::1", "veth0")) }, `next hop "fe80::1" is IPv6`, false},
		{"add_route nexthop zero", func() error { return c.Route.AddRoute(ctx, rt("10.1.1.0/24", "0.0.0.0", "veth0")) }, "next hop 0.0.0.0 is not a unicast address", false},
		{"add_route no ifname", func() error { return c.Route.AddRoute(ctx, rt("10.1.1.0/24", "1.1.1.1", "")) }, "route 10.1.1.0/24: empty interface name", false},
		{"add_route kind", func() error {
			return c.Route.AddRoute(ctx, &route.RouteEntry{Prefix: "10.1.1.0/24", Ifname: "veth0", Kind: "static"})
		}, `unknown kind "static"`, false},
		{"add_route gateway without nexthop", func() error {
			return c.Route.AddRoute(ctx, &route.RouteEntry{Prefix: "10.1.1.0/24", Ifname: "veth0", Kind: "gateway"})
		}, "a gateway route needs a next hop", false},
		{"add_route local not /32", func() error {
			return c.Route.AddRoute(ctx, &route.RouteEntry{Prefix: "10.1.1.0/24", Ifname: "veth0", Kind: "local"})
		}, "a local route is a /32", false},
		{"add_route nil", func() error { return c.Route.AddRoute(ctx, nil) }, "empty route prefix", false},
		{"add_route exists", func() error { return c.Route.AddRoute(ctx, rt("3.1.1.0/24", "1.1.1.1", "veth0")) }, "route 3.1.1.0/24 already exists", true},
		{"add_route unknown if", func() error { return c.Route.AddRoute(ctx, rt("4.0.0.0/8", "1.1.1.1", "veth9")) }, "no interface veth9", true},
		{"del_route missing", func() error { return c.Route.DelRoute(ctx, rt("4.0.0.0/8", "", "")) }, "no route 4.0.0.0/8", true},
		{"del_route host bits", func() error { return c.Route.DelRoute(ctx, rt("3.1.1.1/24", "", "")) }, "did you mean 3.1.1.0/24?", false},
		{"add_batch one bad", func() error {
			return c.Route.AddBatch(ctx, []*route.RouteEntry{rt("5.0.0.0/8", "1.1.1.1", "veth0"), rt("6.0.0.1/8", "1.1.1.1", "veth0")})
		}, "route #1 of the batch: route prefix 6.0.0.1/8 has host bits set; did you mean 6.0.0.0/8?", false},
		{"add_batch backend refuses one", func() error {
			return c.Route.AddBatch(ctx, []*route.RouteEntry{rt("5.0.0.0/8", "1.1.1.1", "veth0"), rt("6.0.0.0/8", "1.1.1.1", "veth9")})
		}, "route 6.0.0.0/8: no interface veth9", true},
		{"add_batch duplicate", func() error {
			return c.Route.AddBatch(ctx, []*route.RouteEntry{rt("5.0.0.0/8", "1.1.1.1", "veth0"), rt("5.0.0.0/8", "1.1.1.1", "veth0")})
		}, "route 5.0.0.0/8 already exists", true},
		{"del_batch one missing", func() error {
			return c.Route.DelBatch(ctx, []*route.RouteEntry{rt("3.1.1.0/24", "", ""), rt("9.0.0.0/8", "", "")})
		}, "no route 9.0.0.0/8", true},
		{"lookup bad", func() error { _, err := c.Route.Lookup(ctx, "3.1.1"); return err }, `bad address "3.1.1"`, false},
		{"lookup prefix", func() error { _, err := c.Route.Lookup(ctx, "3.1.1.0/24"); return err }, "not a prefix", false},
		{"lookup ipv6", func() error { _, err := c.Route.Lookup(ctx, "::1"); return err }, `address "::1" is IPv6`, false},
		{"lookup empty", func() error { _, err := c.Route.Lookup(ctx, ""); return err }, "empty address", false},
		{"lookup miss", func() error { _, err := c.Route.Lookup(ctx, "9.9.9.9"); return err }, "no route to 9.9.9.9", true},
		{"show negative offset", func() error { _, err := c.Route.Show(ctx, -1, 10); return err }, "negative offset -1", false},
		{"show negative limit", func() error { _, err := c.Route.Show(ctx, 0, -5); return err }, "negative limit -5", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, calls := b.State(), len(b.Calls())
			got := why(t, tc.call())
			if !strings.Contains(got, tc.want) {
				t.Errorf("error %q does not contain %q", got, tc.want)
			}
			if diff := cmp.Diff(before, b.State(), netipEqual); diff != "" {
				t.Errorf("state changed by a refused request (-before +after):\n%s", diff)
			}
			if reached := len(b.Calls()) > calls; reached != tc.toBackend {
				t.Errorf("request reached the backend: %v, want %v (calls %q)", reached, tc.toBackend, b.Calls()[calls:])
			}
		})
	}
}

// TestAccepted makes good calls and checks what the backend got and what
// the client gets back.
func TestAccepted(t *testing.T) {
	b, c := setup(t)

	// Interface.
	infos, err := c.Interface.Show(ctx, "")
	must(t, err)
	if len(infos) != 2 || infos[0].Name != "veth0" || infos[1].Name != "veth1" {
		t.Fatalf("show: %v", infos)
	}
	i0 := infos[0]
	if i0.Ifindex != 0 || i0.Mac != "8a:61:da:68:46:76" || i0.Mtu != 1500 || !i0.Up || i0.LinuxIndex != 100 ||
		i0.Driver != "afpacket" || i0.RxPkts != 10 || i0.TxDrops != 2 || !cmp.Equal(i0.Addrs, []string{"1.1.1.2/24"}) {
		t.Errorf("show veth0: %+v", i0)
	}
	if infos[1].Ifindex != 1 || infos[1].Driver != "afxdp" {
		t.Errorf("show veth1: %+v", infos[1])
	}
	one, err := c.Interface.Show(ctx, "veth1")
	must(t, err)
	if len(one) != 1 || one[0].Name != "veth1" {
		t.Errorf("show veth1: %v", one)
	}
	must(t, c.Interface.AddIP(ctx, "veth0", "1.1.2.2/24"))
	must(t, c.Interface.DelIP(ctx, "veth0", "1.1.1.2/24"))
	if got := b.State().Ifaces["veth0"].Addrs; !cmp.Equal(got, []netip.Prefix{netip.MustParsePrefix("1.1.2.2/24")}, netipEqual) {
		t.Errorf("veth0 addresses %v", got)
	}
	must(t, c.Interface.AddIf(ctx, "veth2", 7, "", 3, "afpacket"))
	if got := b.State().Ifaces["veth2"]; got.Ifindex != 7 || got.Thread != 3 || got.Driver != "afpacket" {
		t.Errorf("veth2: %+v", got)
	}
	must(t, c.Interface.DelIf(ctx, "veth2"))
	if _, ok := b.State().Ifaces["veth2"]; ok {
		t.Error("veth2 not deleted")
	}

	// Route.
	must(t, c.Route.AddRoute(ctx, rt("3.1.1.1/32", "1.1.1.1", "veth0")))
	must(t, c.Route.AddRoute(ctx, rt("1.1.2.0/24", "", "veth0")))
	must(t, c.Route.AddRoute(ctx, &route.RouteEntry{Prefix: "1.1.2.2/32", Ifname: "veth0", Kind: "local"}))
	got, err := c.Route.Lookup(ctx, "3.1.1.1")
	must(t, err)
	if want := (&route.RouteEntry{Prefix: "3.1.1.1/32", Nexthop: "1.1.1.1", Ifname: "veth0", Kind: "gateway"}); !cmp.Equal(got, want) {
		t.Errorf("lookup 3.1.1.1: %v, want %v", got, want)
	}
	got, err = c.Route.Lookup(ctx, "3.1.1.2")
	must(t, err)
	if got.Prefix != "3.1.1.0/24" {
		t.Errorf("lookup 3.1.1.2: %v", got)
	}
	got, err = c.Route.Lookup(ctx, "1.1.2.9")
	must(t, err)
	if got.Kind != "connected" || got.Nexthop != "" {
		t.Errorf("lookup 1.1.2.9: %v", got)
	}
	must(t, c.Route.DelRoute(ctx, rt("3.1.1.1/32", "", "")))
	if _, ok := b.State().Routes[netip.MustParsePrefix("3.1.1.1/32")]; ok {
		t.Error("3.1.1.1/32 not deleted")
	}
	var batch []*route.RouteEntry
	for i := range 300 {
		batch = append(batch, rt(fmt.Sprintf("20.%d.%d.0/24", i/256, i%256), "1.1.1.1", "veth0"))
	}
	must(t, c.Route.AddBatch(ctx, batch))
	must(t, c.Route.AddBatch(ctx, nil)) // empty: a no-op
	page, err := c.Route.Show(ctx, 0, 0)
	must(t, err)
	if page.Total != 303 || len(page.Routes) != 303 {
		t.Errorf("show 0 0: total %d, %d routes", page.Total, len(page.Routes))
	}
	page, err = c.Route.Show(ctx, 300, 10)
	must(t, err)
	if page.Total != 303 || len(page.Routes) != 3 || page.Routes[0].Prefix != "20.1.41.0/24" {
		t.Errorf("show 300 10: %v", page)
	}
	page, err = c.Route.Show(ctx, 1<<50, 10)
	must(t, err)
	if page.Total != 303 || len(page.Routes) != 0 {
		t.Errorf("show past the end: %v", page)
	}
	must(t, c.Route.DelBatch(ctx, batch[:100]))
	if n := len(b.State().Routes); n != 203 {
		t.Errorf("%d routes after del_batch, want 203", n)
	}

	// Log.
	on, err := c.Log.Enabled(ctx)
	must(t, err)
	if on {
		t.Error("log enabled at start")
	}
	must(t, c.Log.Enable(ctx))
	if on, err := c.Log.Enabled(ctx); err != nil || !on {
		t.Errorf("enabled after enable: %v %v", on, err)
	}
	must(t, c.Log.Clear(ctx))
	must(t, c.Log.Disable(ctx))
	if st := b.State(); st.LogOn || st.LogGen != 1 {
		t.Errorf("log state %+v", st)
	}
}

// TestPageCap checks that show caps the page size however much is asked.
func TestPageCap(t *testing.T) {
	b, c := setup(t)
	var batch []*route.RouteEntry
	for i := range 12000 {
		batch = append(batch, rt(fmt.Sprintf("30.%d.%d.0/24", i/256, i%256), "1.1.1.1", "veth0"))
	}
	for i := 0; i < len(batch); i += 6000 {
		must(t, c.Route.AddBatch(ctx, batch[i:i+6000]))
	}
	for _, limit := range []int64{0, 1 << 40} {
		page, err := c.Route.Show(ctx, 0, limit)
		must(t, err)
		if page.Total != 12001 || len(page.Routes) < 5000 || len(page.Routes) > api.MaxPage {
			t.Errorf("limit %d: total %d, page of %d", limit, page.Total, len(page.Routes))
		}
	}
	if calls := b.Calls(); !strings.HasPrefix(calls[len(calls)-1], "Routes0 ") {
		t.Errorf("last call %q", calls[len(calls)-1])
	}
}

// TestPanic checks that a panicking backend gives an "internal error" and
// a count, and the server goes on serving.
func TestPanic(t *testing.T) {
	b := apitest.New()
	s, path := apitest.Serve(t, b, api.Options{})
	c := dial(t, path)
	must(t, c.Interface.AddIf(ctx, "veth0", 0, "", -1, ""))
	b.PanicOn = "AddRoutes"
	err := c.Route.AddRoute(ctx, rt("3.0.0.0/8", "1.1.1.1", "veth0"))
	if got := why(t, err); !strings.HasPrefix(got, "internal error: add_route: fake backend: AddRoutes exploded") {
		t.Errorf("got %q", got)
	}
	if s.Panics() != 1 {
		t.Errorf("Panics() = %d, want 1", s.Panics())
	}
	// The same connection and the backend lock still work.
	if _, err := c.Interface.Show(ctx, ""); err != nil {
		t.Fatal(err)
	}
	b.PanicOn = ""
	must(t, c.Route.AddRoute(ctx, rt("3.0.0.0/8", "1.1.1.1", "veth0")))
}
