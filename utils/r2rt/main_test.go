package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/r2go/r2/r2/api"
	"github.com/r2go/r2/r2/api/apitest"
)

func r2rt(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

var netipEqual = cmpopts.EquateComparable(netip.Prefix{}, netip.Addr{})

// setup starts a server whose fake backend has interfaces veth_r2_1 and
// veth_r2_2, and returns a function that prefixes "-s socket" to args.
func setup(t *testing.T, o api.Options) (*apitest.Backend, func(...string) []string) {
	b := apitest.New()
	_, sock := apitest.Serve(t, b, o)
	for i, name := range []string{"veth_r2_1", "veth_r2_2"} {
		if err := b.AddInterface(api.AddIf{Name: name, Ifindex: i, Thread: -1}); err != nil {
			t.Fatal(err)
		}
	}
	return b, func(args ...string) []string { return append([]string{"-s", sock}, args...) }
}

func routeOf(prefix, nh, ifname string) api.Route {
	r, err := api.ParseRoute(prefix, nh, ifname, "", false)
	if err != nil {
		panic(err)
	}
	return r
}

func TestRoute(t *testing.T) {
	b, s := setup(t, api.Options{})
	for _, args := range [][]string{
		s("route", "3.1.1.1/32", "2.1.1.1", "veth_r2_2"),
		s("route", "3.1.1.0/24", "2.1.1.2", "veth_r2_2"),
		s("route", "2.1.1.0/24", "-", "veth_r2_2"),
		s("route", "9.0.0.0/8", "2.1.1.9", "veth_r2_1"),
		s("route", "9.0.0.0/8", "--del"),
		s("route", "3.1.1.0/24", "2.1.1.2", "veth_r2_2", "--del"),
	} {
		if code, stdout, stderr := r2rt(args...); code != 0 || stderr != "" || stdout != "" {
			t.Fatalf("r2rt %q: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
	want := map[netip.Prefix]api.Route{
		netip.MustParsePrefix("3.1.1.1/32"): routeOf("3.1.1.1/32", "2.1.1.1", "veth_r2_2"),
		netip.MustParsePrefix("2.1.1.0/24"): routeOf("2.1.1.0/24", "", "veth_r2_2"),
	}
	if diff := cmp.Diff(want, b.State().Routes, netipEqual); diff != "" {
		t.Fatalf("routes (-want +got):\n%s", diff)
	}

	code, out, stderr := r2rt(s("show", "3.1.1.1")...)
	if code != 0 || stderr != "" {
		t.Fatalf("show 3.1.1.1: exit %d, %q", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !cmp.Equal(strings.Fields(lines[1]), []string{"3.1.1.1/32", "2.1.1.1", "veth_r2_2", "gateway"}) {
		t.Errorf("show 3.1.1.1:\n%s", out)
	}
	_, out, _ = r2rt(s("show", "2.1.1.7")...)
	if !strings.Contains(out, "2.1.1.0/24") || !strings.Contains(out, "connected") {
		t.Errorf("show 2.1.1.7:\n%s", out)
	}

	before := b.State()
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no command", s(), 2, "missing command"},
		{"unknown", s("frob"), 2, `unknown command "frob"`},
		{"route short", s("route", "3.0.0.0/8", "1.1.1.1"), 2, "route takes PREFIX NEXTHOP IFNAME"},
		{"show nothing", s("show"), 2, `show takes "all" or one address`},
		{"del misplaced", s("show", "all", "--del"), 2, "--del only goes with"},
		{"chunk misplaced", s("show", "all", "--chunk", "5"), 2, "--chunk goes with 'load'"},
		{"load nothing", s("load"), 2, "load takes one file name"},
		{"host bits", s("route", "10.1.1.1/24", "2.1.1.1", "veth_r2_2"), 1,
			"r2rt: route prefix 10.1.1.1/24 has host bits set; did you mean 10.1.1.0/24?\n"},
		{"bad nexthop", s("route", "10.1.1.0/24", "2.1.1", "veth_r2_2"), 1, `bad next hop "2.1.1"`},
		{"unknown if", s("route", "10.1.1.0/24", "2.1.1.1", "veth9"), 1, "no interface veth9"},
		{"exists", s("route", "3.1.1.1/32", "2.1.1.1", "veth_r2_2"), 1, "route 3.1.1.1/32 already exists"},
		{"del missing", s("route", "4.0.0.0/8", "--del"), 1, "no route 4.0.0.0/8"},
		{"no match", s("show", "8.8.8.8"), 1, "no route to 8.8.8.8"},
		{"bad address", s("show", "8.8.8"), 1, `bad address "8.8.8"`},
		{"load missing file", s("load", "/nonexistent/routes"), 1, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := r2rt(tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) || stdout != "" {
				t.Errorf("r2rt %q: exit %d, stdout %q, stderr %q; want %d and %q", tc.args, code, stdout, stderr, tc.code, tc.stderr)
			}
		})
	}
	if diff := cmp.Diff(before, b.State(), netipEqual); diff != "" {
		t.Errorf("failed commands changed the state:\n%s", diff)
	}
}

// TestShowAllPages checks that show all fetches every page. A small frame
// size makes the server's pages small.
func TestShowAllPages(t *testing.T) {
	b, s := setup(t, api.Options{MaxFrameSize: 64 << 10})
	const n = 1200
	var rs []api.Route
	for i := range n {
		rs = append(rs, routeOf(fmt.Sprintf("10.%d.%d.0/24", i/256, i%256), "1.1.1.1", "veth_r2_1"))
	}
	if err := b.AddRoutes(rs); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := r2rt(s("show", "all")...)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, %q", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != n+2 || lines[len(lines)-1] != fmt.Sprintf("%d routes", n) {
		t.Fatalf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
	for i, line := range lines[1 : n+1] {
		if want := fmt.Sprintf("10.%d.%d.0/24", i/256, i%256); strings.Fields(line)[0] != want {
			t.Fatalf("line %d: %q, want %s", i+1, line, want)
		}
	}
	pages := 0
	for _, c := range b.Calls() {
		if strings.HasPrefix(c, "Routes") {
			pages++
		}
	}
	if pages < 3 {
		t.Errorf("%d pages fetched; the test wants several", pages)
	}
}

func write(t *testing.T, text string) string {
	path := filepath.Join(t.TempDir(), "routes.txt")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoad(t *testing.T) {
	b, s := setup(t, api.Options{})
	file := write(t, `# test routes
3.1.1.0/24 2.1.1.1 veth_r2_2
3.1.2.0/24  2.1.1.1	veth_r2_2   # tabs and spaces

2.1.1.0/24 - veth_r2_2
4.0.0.0/8 1.1.1.1 veth_r2_1
`)
	code, out, stderr := r2rt(s("load", file, "--chunk", "3")...)
	if code != 0 || stderr != "" || !strings.HasPrefix(out, "loaded 4 routes from "+file+" in ") {
		t.Fatalf("load: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if n := len(b.State().Routes); n != 4 {
		t.Errorf("%d routes, want 4", n)
	}
	if calls := strings.Join(b.Calls(), " "); !strings.Contains(calls, "AddRoutes3 AddRoutes1") {
		t.Errorf("want batches of 3 and 1, got calls %s", calls)
	}

	// Bad lines: all reported with file:line, nothing sent.
	bad := write(t, `5.0.0.0/8 1.1.1.1 veth_r2_1
5.1.1.1/16 1.1.1.1 veth_r2_1
5.2.0.0/16 1.1.1.1
5.3.0.0/16 1.1.1 veth_r2_1
`)
	before, calls := b.State(), len(b.Calls())
	code, out, stderr = r2rt(s("load", bad)...)
	want := bad + ":2: route prefix 5.1.1.1/16 has host bits set; did you mean 5.1.0.0/16?\n" +
		bad + ":3: want PREFIX NEXTHOP IFNAME, got 2 fields\n" +
		bad + ":4: bad next hop \"1.1.1\": IPv4 address too short\n" +
		"r2rt: " + bad + " has errors; nothing was sent\n"
	if code != 1 || out != "" || stderr != want {
		t.Errorf("bad file: exit %d, stdout %q, stderr:\n%s\nwant:\n%s", code, out, stderr, want)
	}
	if len(b.Calls()) != calls {
		t.Errorf("bad file reached the server: %q", b.Calls()[calls:])
	}
	if diff := cmp.Diff(before, b.State(), netipEqual); diff != "" {
		t.Errorf("bad file changed the state:\n%s", diff)
	}

	// Refused by the backend in the second batch: the first stays.
	refused := write(t, `6.0.0.0/8 1.1.1.1 veth_r2_1
6.1.0.0/16 1.1.1.1 veth_r2_1
# a comment
6.2.0.0/16 1.1.1.1 veth_r2_1
6.3.0.0/16 1.1.1.1 veth9
`)
	code, out, stderr = r2rt(s("load", refused, "--chunk", "2")...)
	want = "r2rt: " + refused + " lines 4-5: route 6.3.0.0/16: no interface veth9\n" +
		"r2rt: loaded 2 routes (those before line 4); the batch from line 4 on and the rest were not\n"
	if code != 1 || out != "" || stderr != want {
		t.Errorf("refused: exit %d, stdout %q, stderr:\n%s\nwant:\n%s", code, out, stderr, want)
	}
	if _, ok := b.State().Routes[netip.MustParsePrefix("6.1.0.0/16")]; !ok {
		t.Error("first batch not loaded")
	}
	if _, ok := b.State().Routes[netip.MustParsePrefix("6.2.0.0/16")]; ok {
		t.Error("failed batch partly loaded")
	}

	// --del takes them away again.
	code, out, stderr = r2rt(s("load", file, "--del")...)
	if code != 0 || stderr != "" || !strings.HasPrefix(out, "deleted 4 routes") {
		t.Fatalf("load --del: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if n := len(b.State().Routes); n != 2 {
		t.Errorf("%d routes after delete, want 2", n)
	}
}

func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--help"}, "usage: r2rt [-i NAME | -s PATH | -a HOST:PORT] COMMAND"},
		{[]string{"route", "--help"}, "usage: r2rt route PREFIX NEXTHOP IFNAME [--del]"},
		{[]string{"route", "1.0.0.0/8", "-h"}, "usage: r2rt route PREFIX"},
		{[]string{"show", "--help"}, "usage: r2rt show all"},
		{[]string{"load", "--help"}, "usage: r2rt load FILE"},
	} {
		code, stdout, stderr := r2rt(tc.args...)
		if code != 0 || stderr != "" || !strings.HasPrefix(stdout, tc.want) {
			t.Errorf("r2rt %q: exit %d, stderr %q, stdout %q; want 0 and %q", tc.args, code, stderr, stdout, tc.want)
		}
	}
}

// TestLoadIPv6 loads a file mixing both families, with link-local next
// hops, and checks show all and lookups of IPv6 addresses.
func TestLoadIPv6(t *testing.T) {
	b, s := setup(t, api.Options{})
	file := write(t, `2001:db8:9::/48 fe80::1 veth_r2_2
10.9.0.0/16 2.1.1.1 veth_r2_2
2001:db8:9:1::/64 2001:db8:2::1 veth_r2_1   # longer, inside the /48
2001:db8:a::/64 - veth_r2_2
`)
	code, out, stderr := r2rt(s("load", file)...)
	if code != 0 || stderr != "" || !strings.HasPrefix(out, "loaded 4 routes") {
		t.Fatalf("load: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	want := map[netip.Prefix]api.Route{
		netip.MustParsePrefix("2001:db8:9::/48"):   routeOf("2001:db8:9::/48", "fe80::1", "veth_r2_2"),
		netip.MustParsePrefix("10.9.0.0/16"):       routeOf("10.9.0.0/16", "2.1.1.1", "veth_r2_2"),
		netip.MustParsePrefix("2001:db8:9:1::/64"): routeOf("2001:db8:9:1::/64", "2001:db8:2::1", "veth_r2_1"),
		netip.MustParsePrefix("2001:db8:a::/64"):   routeOf("2001:db8:a::/64", "", "veth_r2_2"),
	}
	if diff := cmp.Diff(want, b.State().Routes, netipEqual); diff != "" {
		t.Fatalf("routes (-want +got):\n%s", diff)
	}
	_, out, _ = r2rt(s("show", "all")...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var got [][]string
	for _, l := range lines[1 : len(lines)-1] {
		got = append(got, strings.Fields(l))
	}
	wantRows := [][]string{
		{"10.9.0.0/16", "2.1.1.1", "veth_r2_2", "gateway"},
		{"2001:db8:9::/48", "fe80::1", "veth_r2_2", "gateway"},
		{"2001:db8:9:1::/64", "2001:db8:2::1", "veth_r2_1", "gateway"},
		{"2001:db8:a::/64", "-", "veth_r2_2", "connected"},
	}
	if diff := cmp.Diff(wantRows, got); diff != "" || lines[len(lines)-1] != "4 routes" {
		t.Errorf("show all (-want +got):\n%s\n%s", diff, out)
	}
	for addr, row := range map[string][]string{
		"2001:db8:9::5":    wantRows[1],
		"2001:db8:9:1::77": wantRows[2],
		"10.9.3.4":         wantRows[0],
	} {
		code, out, stderr := r2rt(s("show", addr)...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || stderr != "" || len(lines) != 2 || !cmp.Equal(strings.Fields(lines[1]), row) {
			t.Errorf("show %s: exit %d, stderr %q:\n%s", addr, code, stderr, out)
		}
	}

	// Bad IPv6 lines are reported like IPv4 ones, before anything is sent.
	bad := write(t, `2001:db8:b::1/48 fe80::1 veth_r2_2
2001:db8:b::/48 fe80::1%veth_r2_2 veth_r2_2
2001:db8:b::/48 ::ffff:2.1.1.1 veth_r2_2
2001:db8:b::/48 2.1.1.1 veth_r2_2
::ffff:2.0.0.0/104 2.1.1.1 veth_r2_2
2001:db8:b::/129 fe80::1 veth_r2_2
`)
	calls := len(b.Calls())
	code, out, stderr = r2rt(s("load", bad)...)
	wantErr := bad + ":1: route prefix 2001:db8:b::1/48 has host bits set; did you mean 2001:db8:b::/48?\n" +
		bad + ":2: next hop \"fe80::1%veth_r2_2\" has a zone; give the address as fe80::1 and the interface on its own\n" +
		bad + ":3: next hop \"::ffff:2.1.1.1\" is an IPv4-mapped IPv6 address; write it as 2.1.1.1\n" +
		bad + ":4: route 2001:db8:b::/48: next hop 2.1.1.1 is of the other address family\n" +
		bad + ":5: route prefix \"::ffff:2.0.0.0/104\" is an IPv4-mapped IPv6 prefix; write IPv4 prefixes as such\n" +
		bad + ":6: bad route prefix \"2001:db8:b::/129\": prefix length \"129\" is not a number from 0 to 128\n" +
		"r2rt: " + bad + " has errors; nothing was sent\n"
	if code != 1 || out != "" || stderr != wantErr {
		t.Errorf("bad file: exit %d, stdout %q, stderr:\n%s\nwant:\n%s", code, out, stderr, wantErr)
	}
	if len(b.Calls()) != calls {
		t.Errorf("bad file reached the server: %q", b.Calls()[calls:])
	}
}

// TestLoadLongIPv6 loads 10000 IPv6 routes of the longest textual form in
// one go: they must be split so that no call exceeds the server's frame
// limit (10000 such routes take about 1.3 MB on the wire).
func TestLoadLongIPv6(t *testing.T) {
	b, s := setup(t, api.Options{})
	var sb strings.Builder
	const n = 10000
	for i := range n {
		fmt.Fprintf(&sb, "2001:db8:1234:5678:9abc:def0:%04x:0/112 fe80:1234:5678:9abc:def0:1234:5678:9abc veth_r2_2\n", i)
	}
	file := write(t, sb.String())
	code, out, stderr := r2rt(s("load", file)...)
	if code != 0 || stderr != "" || !strings.HasPrefix(out, fmt.Sprintf("loaded %d routes", n)) {
		t.Fatalf("load: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if got := len(b.State().Routes); got != n {
		t.Fatalf("%d routes, want %d", got, n)
	}
	if calls := strings.Join(b.Calls(), " "); strings.Count(calls, "AddRoutes") < 2 {
		t.Errorf("want the file split into several batches, got calls %s", calls)
	}
}

// TestShowJSON parses show -json (all, over several pages, and one
// address), the schema the README documents.
func TestShowJSON(t *testing.T) {
	b, s := setup(t, api.Options{MaxFrameSize: 64 << 10})
	const n = 1200
	var rs []api.Route
	for i := range n {
		rs = append(rs, routeOf(fmt.Sprintf("10.%d.%d.0/24", i/256, i%256), "1.1.1.1", "veth_r2_1"))
	}
	if err := b.AddRoutes(rs); err != nil {
		t.Fatal(err)
	}
	type route struct {
		Prefix  string `json:"prefix"`
		Nexthop string `json:"nexthop"`
		Ifname  string `json:"ifname"`
		Kind    string `json:"kind"`
	}
	decode := func(out string, v any) {
		t.Helper()
		dec := json.NewDecoder(strings.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Fatalf("%v\n%.2000s", err, out)
		}
	}

	code, out, stderr := r2rt(s("show", "all", "-json")...)
	if code != 0 || stderr != "" {
		t.Fatalf("show all -json: exit %d, %q", code, stderr)
	}
	var all struct {
		Routes []route `json:"routes"`
		Total  int     `json:"total"`
	}
	decode(out, &all)
	if all.Total != len(all.Routes) || all.Total < n {
		t.Fatalf("total %d, %d routes; want >= %d", all.Total, len(all.Routes), n)
	}
	found := 0
	for _, r := range all.Routes {
		if strings.HasPrefix(r.Prefix, "10.") {
			if r.Nexthop != "1.1.1.1" || r.Ifname != "veth_r2_1" || r.Kind == "" {
				t.Errorf("route %+v", r)
			}
			found++
		}
	}
	if found != n {
		t.Errorf("%d of the %d routes in the JSON", found, n)
	}

	code, out, stderr = r2rt(s("show", "10.0.3.7", "--json")...)
	if code != 0 || stderr != "" {
		t.Fatalf("show ADDRESS -json: exit %d, %q", code, stderr)
	}
	var one route
	decode(out, &one)
	if want := (route{"10.0.3.0/24", "1.1.1.1", "veth_r2_1", one.Kind}); one != want || one.Kind == "" {
		t.Errorf("show 10.0.3.7 -json = %+v, want %+v", one, want)
	}

	// An empty table is still an object with an array.
	_, s2 := setup(t, api.Options{})
	code, out, _ = r2rt(s2("show", "all", "-json")...)
	var empty map[string]any
	decode(out, &empty)
	if code != 0 || fmt.Sprint(empty["routes"]) != "[]" || empty["total"] != float64(0) {
		t.Errorf("empty table: exit %d, %v", code, empty)
	}
	if code, _, stderr := r2rt(s("load", "-", "-json")...); code != 2 || !strings.Contains(stderr, "--json only goes with 'show'") {
		t.Errorf("load -json: exit %d, %q", code, stderr)
	}
}
