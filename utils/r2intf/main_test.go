package main

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/r2go/r2/r2/api"
	"github.com/r2go/r2/r2/api/apitest"
)

// r2intf runs the command and returns its exit status and output.
func r2intf(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestR2intf(t *testing.T) {
	b := apitest.New()
	_, sock := apitest.Serve(t, b, api.Options{})
	s := func(args ...string) []string { return append([]string{"-s", sock}, args...) }

	// Good commands, in order: each must succeed and print nothing on
	// stderr.
	for _, args := range [][]string{
		s("veth_r2_1", "add", "0", "8a:61:da:68:46:76"),
		s("veth_r2_2", "add", "auto", "--thread", "2", "--driver", "afxdp"),
		{"veth_r2_3", "add", "7", "-s", sock}, // flags anywhere
		s("veth_r2_1", "ip", "1.1.1.2/24"),
		s("veth_r2_1", "ip", "1.1.9.2/24"),
		s("veth_r2_1", "ip", "1.1.9.2/24", "--del"),
		s("veth_r2_1", "ip", "2001:db8:1::2/64"),
		s("veth_r2_1", "ip", "fe80::1/64"),
		s("veth_r2_1", "ip", "2001:db8:5::2/64"),
		s("veth_r2_1", "ip", "2001:db8:5::2/64", "--del"),
		s("veth_r2_3", "del"),
	} {
		if code, _, stderr := r2intf(args...); code != 0 || stderr != "" {
			t.Fatalf("r2intf %q: exit %d, stderr %q", args, code, stderr)
		}
	}
	want := map[string]apitest.Iface{
		"veth_r2_1": {Ifindex: 0, MAC: "8a:61:da:68:46:76", Driver: "afpacket", Addrs: []netip.Prefix{
			netip.MustParsePrefix("1.1.1.2/24"), netip.MustParsePrefix("2001:db8:1::2/64"), netip.MustParsePrefix("fe80::1/64")}},
		"veth_r2_2": {Ifindex: 1, MAC: "02:00:00:00:00:01", Thread: 2, Driver: "afxdp"},
	}
	if diff := cmp.Diff(want, b.State().Ifaces, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
		t.Fatalf("interfaces (-want +got):\n%s", diff)
	}

	// show, three ways.
	for _, args := range [][]string{s("show"), s("show", "veth_r2_1"), s("veth_r2_1", "show")} {
		code, out, stderr := r2intf(args...)
		if code != 0 || stderr != "" {
			t.Fatalf("r2intf %q: exit %d, stderr %q", args, code, stderr)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if !strings.HasPrefix(lines[0], "NAME") {
			t.Errorf("r2intf %q: no header: %q", args, out)
		}
		row := strings.Fields(lines[1])
		wantRow := []string{"veth_r2_1", "0", "100", "8a:61:da:68:46:76", "up", "1500", "0", "afpacket", "10", "1", "20", "2", "1.1.1.2/24,2001:db8:1::2/64,fe80::1/64"}
		if !cmp.Equal(row, wantRow) {
			t.Errorf("r2intf %q: row %q, want %q", args, row, wantRow)
		}
		if wantLines := map[bool]int{true: 3, false: 2}[len(args) == 3]; len(lines) != wantLines {
			t.Errorf("r2intf %q: %d lines, want %d:\n%s", args, len(lines), wantLines, out)
		}
	}

	before := b.State()
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		// Command line errors: exit 2, nothing sent.
		{"no command", s(), 2, "missing command"},
		{"only ifname", s("veth0"), 2, `missing command after "veth0"`},
		{"unknown command", s("veth0", "frob"), 2, `unknown command "frob"`},
		{"add no ifindex", s("veth0", "add"), 2, "add takes IFINDEX|auto"},
		{"add bad ifindex", s("veth0", "add", "x"), 2, `ifindex "x" is not a number`},
		{"add too many", s("veth0", "add", "1", "8a:61:da:68:46:76", "x"), 2, "add takes"},
		{"del extra", s("veth0", "del", "x"), 2, "del takes no arguments"},
		{"ip missing", s("veth0", "ip"), 2, "ip takes one address"},
		{"show too many", s("show", "a", "b"), 2, "at most one interface"},
		{"flag misplaced", s("veth0", "del", "--thread", "1"), 2, "--thread only goes with 'add'"},
		{"del misplaced", s("veth0", "add", "1", "--del"), 2, "--del only goes with 'ip'"},
		{"unknown flag", s("show", "--bogus"), 2, "flag provided but not defined: -bogus"},
		{"bad thread value", s("veth0", "add", "1", "--thread", "x"), 2, `invalid value "x" for flag -thread`},
		{"two targets", []string{"-s", sock, "-a", "127.0.0.1:1", "show"}, 2, "exclusive"},
		{"bad instance", []string{"-i", "../etc", "show"}, 2, `instance name "../etc"`},

		// Refused by R2: exit 1, R2's words on stderr.
		{"exists", s("veth_r2_1", "add", "5"), 1, "r2intf: interface veth_r2_1 already exists\n"},
		{"ifindex range", s("veth9", "add", "5000"), 1, "ifindex 5000 out of range"},
		{"bad mac", s("veth9", "add", "3", "8a:61:da"), 1, `bad MAC address "8a:61:da"`},
		{"bad driver", s("veth9", "add", "3", "--driver", "dpdk"), 1, `unknown driver "dpdk"`},
		{"long name", s("veth_r2_12345678", "add", "3"), 1, "is 16 bytes long"},
		{"del unknown", s("veth9", "del"), 1, "no interface veth9"},
		{"ip no length", s("veth_r2_1", "ip", "1.1.1.3"), 1, "missing the /length"},
		{"ip ipv6 exists", s("veth_r2_1", "ip", "2001:db8:1::2/64"), 1, "interface veth_r2_1 already has address 2001:db8:1::2/64"},
		{"ip ipv6 too long", s("veth_r2_1", "ip", "2001:db8:1::2/129"), 1, `prefix length "129" is not a number from 0 to 128`},
		{"ip ipv6 /0", s("veth_r2_1", "ip", "2001:db8:1::2/0"), 1, "has length /0; give the subnet's length, e.g. 2001:db8:1::2/64"},
		{"ip ipv6 multicast", s("veth_r2_1", "ip", "ff02::1/64"), 1, "interface address ff02::1/64 is a multicast address"},
		{"ip ipv6 unspecified", s("veth_r2_1", "ip", "::/64"), 1, "is the unspecified address"},
		{"ip ipv6 loopback", s("veth_r2_1", "ip", "::1/128"), 1, "is a loopback address"},
		{"ip ipv4-mapped", s("veth_r2_1", "ip", "::ffff:1.1.1.9/120"), 1, "is an IPv4-mapped IPv6 prefix"},
		{"ip ipv6 zone", s("veth_r2_1", "ip", "fe80::9%veth_r2_1/64"), 1, "a prefix has no zone"},
		{"ip ipv6 bad", s("veth_r2_1", "ip", "2001:db8::g/64"), 1, `bad interface address "2001:db8::g/64"`},
		{"ip ipv6 del missing", s("veth_r2_1", "ip", "2001:db8:7::1/64", "--del"), 1, "has no address 2001:db8:7::1/64"},
		{"ip del missing", s("veth_r2_1", "ip", "1.1.1.3/24", "--del"), 1, "has no address 1.1.1.3/24"},
		{"show unknown", s("show", "veth9"), 1, "no interface veth9"},
		{"unreachable", []string{"-s", "/nonexistent/r2.sock", "show"}, 1, "cannot reach r2 at /nonexistent/r2.sock"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := r2intf(tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("r2intf %q: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
			if tc.code == 2 && !strings.Contains(stderr, "Run 'r2intf --help' for usage.") {
				t.Errorf("usage error without a pointer to --help: %q", stderr)
			}
		})
	}
	if diff := cmp.Diff(before, b.State(), cmpopts.EquateComparable(netip.Prefix{}, netip.Addr{})); diff != "" {
		t.Errorf("failed commands changed the state:\n%s", diff)
	}
}

func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--help"}, "usage: r2intf [-i NAME | -s PATH | -a HOST:PORT] COMMAND"},
		{[]string{"-h"}, "usage: r2intf [-i NAME"},
		{[]string{"veth0", "add", "--help"}, "usage: r2intf IFNAME add IFINDEX|auto"},
		{[]string{"veth0", "add", "1", "-help"}, "usage: r2intf IFNAME add IFINDEX|auto"},
		{[]string{"veth0", "del", "--help"}, "usage: r2intf IFNAME del"},
		{[]string{"veth0", "ip", "--help"}, "usage: r2intf IFNAME ip PREFIX [--del]"},
		{[]string{"veth0", "show", "--help"}, "usage: r2intf show [IFNAME]"},
		{[]string{"show", "--help"}, "usage: r2intf show [IFNAME]"},
	} {
		code, stdout, stderr := r2intf(tc.args...)
		if code != 0 || stderr != "" || !strings.HasPrefix(stdout, tc.want) {
			t.Errorf("r2intf %q: exit %d, stderr %q, stdout %q; want 0 and %q", tc.args, code, stderr, stdout, tc.want)
		}
	}
}

// TestShowJSON parses show -json, the schema the README documents.
func TestShowJSON(t *testing.T) {
	b := apitest.New()
	_, sock := apitest.Serve(t, b, api.Options{})
	s := func(args ...string) []string { return append([]string{"-s", sock}, args...) }
	for _, args := range [][]string{
		s("veth_r2_1", "add", "0", "8a:61:da:68:46:76"),
		s("veth_r2_2", "add", "auto", "--thread", "2", "--driver", "afxdp"),
		s("veth_r2_1", "ip", "1.1.1.2/24"),
	} {
		if code, _, stderr := r2intf(args...); code != 0 {
			t.Fatalf("r2intf %q: exit %d, stderr %q", args, code, stderr)
		}
	}
	type row struct {
		Name       string   `json:"name"`
		Ifindex    int      `json:"ifindex"`
		LinuxIndex int      `json:"linux_index"`
		MAC        string   `json:"mac"`
		Up         bool     `json:"up"`
		MTU        int      `json:"mtu"`
		Thread     int      `json:"thread"`
		Driver     string   `json:"driver"`
		RxPkts     int64    `json:"rx_pkts"`
		RxDrops    int64    `json:"rx_drops"`
		TxPkts     int64    `json:"tx_pkts"`
		TxDrops    int64    `json:"tx_drops"`
		Addrs      []string `json:"addrs"`
	}
	for _, tt := range []struct {
		name  string
		args  []string
		names []string
	}{
		{"all", s("show", "-json"), []string{"veth_r2_1", "veth_r2_2"}},
		{"one", s("show", "veth_r2_2", "--json"), []string{"veth_r2_2"}},
		{"one after the name", s("veth_r2_1", "show", "-json"), []string{"veth_r2_1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := r2intf(tt.args...)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			dec := json.NewDecoder(strings.NewReader(out))
			dec.DisallowUnknownFields()
			var rows []row
			if err := dec.Decode(&rows); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var names []string
			for _, r := range rows {
				names = append(names, r.Name)
				if r.Addrs == nil {
					t.Errorf("%s: addrs is null, want an array", r.Name)
				}
				switch r.Name {
				case "veth_r2_1":
					if r.MAC != "8a:61:da:68:46:76" || r.Driver != "afpacket" || len(r.Addrs) != 1 || r.Addrs[0] != "1.1.1.2/24" {
						t.Errorf("veth_r2_1: %+v", r)
					}
				case "veth_r2_2":
					if r.Ifindex != 1 || r.Thread != 2 || r.Driver != "afxdp" || len(r.Addrs) != 0 {
						t.Errorf("veth_r2_2: %+v", r)
					}
				}
			}
			if diff := cmp.Diff(tt.names, names); diff != "" {
				t.Errorf("interfaces (-want +got):\n%s", diff)
			}
			var raw []map[string]any
			json.Unmarshal([]byte(out), &raw)
			if len(raw) == 0 || len(raw[0]) != 13 {
				t.Errorf("want 13 keys per interface: %v", raw)
			}
		})
	}
	if code, _, stderr := r2intf(s("veth_r2_1", "del", "-json")...); code != 2 || !strings.Contains(stderr, "--json only goes with 'show'") {
		t.Errorf("del -json: exit %d, %q", code, stderr)
	}
}
