package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/r2go/r2/r2/api"
	"github.com/r2go/r2/r2/api/apitest"
)

// TestNeigh: neigh add, del and show against the fake router, the JSON
// keys, and command lines refused with usage (exit 2) or by the router
// (exit 1).
func TestNeigh(t *testing.T) {
	b := apitest.New()
	_, sock := apitest.Serve(t, b, api.Options{})
	s := func(args ...string) []string { return append([]string{"-s", sock}, args...) }
	for _, args := range [][]string{
		s("eth1", "add", "0"),
		s("eth1", "ip", "10.2.0.2/24"),
		s("eth1", "ip", "2001:db8:2::2/64"),
		s("eth2", "add", "1"),
		s("eth2", "ip", "10.3.0.2/24"),
		s("eth1", "neigh", "add", "10.2.0.1", "02:00:00:00:00:02"),
		s("eth1", "neigh", "add", "2001:db8:2::1", "02:00:00:00:00:03", "--kernel"),
		s("eth2", "neigh", "add", "10.3.0.1", "02:00:00:00:00:04"),
		s("eth2", "neigh", "del", "10.3.0.1"),
	} {
		if code, _, stderr := r2intf(args...); code != 0 || stderr != "" {
			t.Fatalf("r2intf %q: exit %d, stderr %q", args, code, stderr)
		}
	}
	code, out, _ := r2intf(s("neigh", "show", "-json")...)
	if code != 0 {
		t.Fatalf("neigh show -json: exit %d", code)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	var got []jsonNeigh
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := []jsonNeigh{
		{Ifname: "eth1", Addr: "10.2.0.1", MAC: "02:00:00:00:00:02", Kind: "static", State: "static", AgeMs: 1500},
		{Ifname: "eth1", Addr: "2001:db8:2::1", MAC: "02:00:00:00:00:03", Kind: "kernel", State: "static", AgeMs: 1500},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("neigh show -json (-want +got):\n%s", diff)
	}
	var raw []map[string]any
	json.Unmarshal([]byte(out), &raw)
	if len(raw) != 2 || len(raw[0]) != 6 {
		t.Errorf("want 6 keys per neighbour: %v", raw)
	}
	code, out, _ = r2intf(s("eth1", "neigh", "show")...)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) != 3 ||
		!strings.HasPrefix(lines[0], "INTERFACE") || !strings.Contains(lines[1], "10.2.0.1") ||
		!strings.Contains(lines[1], "02:00:00:00:00:02") || !strings.HasSuffix(lines[1], "1.5s") {
		t.Errorf("neigh show: exit %d\n%s", code, out)
	}
	if code, out, _ = r2intf(s("eth2", "neigh", "show")...); code != 0 || strings.Count(out, "\n") != 1 {
		t.Errorf("eth2 neigh show: exit %d\n%s", code, out)
	}

	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{s("neigh"), 2, "missing command"},
		{s("neigh", "add", "10.2.0.1", "02:00:00:00:00:02"), 2, "needs the interface"},
		{s("eth1", "neigh", "add", "10.2.0.1"), 2, "takes ADDR and MAC"},
		{s("eth1", "neigh", "del"), 2, "takes ADDR"},
		{s("eth1", "neigh", "show", "x"), 2, "takes no arguments"},
		{s("eth1", "neigh", "flush"), 2, "unknown command"},
		{s("eth1", "neigh", "del", "10.2.0.1", "-json"), 2, "--json only goes with 'neigh show'"},
		{s("eth1", "neigh", "show", "--kernel"), 2, "--kernel only goes with 'neigh add'"},
		{s("eth1", "neigh", "add", "10.2.0.1", "01:00:5e:00:00:01"), 1, "multicast"},
		{s("eth1", "neigh", "add", "10.2.0.1", "00:00:00:00:00:00"), 1, "all zeros"},
		{s("eth1", "neigh", "add", "10.2.0.0/24", "02:00:00:00:00:02"), 1, "not a prefix"},
		{s("eth1", "neigh", "add", "10.9.0.1", "02:00:00:00:00:02"), 1, "not on a connected subnet of eth1"},
		{s("eth9", "neigh", "add", "10.2.0.1", "02:00:00:00:00:02"), 1, "no interface eth9"},
		{s("eth1", "neigh", "del", "10.2.0.7"), 1, "neighbour 10.2.0.7 on eth1"},
		{s("eth9", "neigh", "show"), 1, "no interface eth9"},
	} {
		code, _, stderr := r2intf(tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.msg) {
			t.Errorf("r2intf %q: exit %d, stderr %q; want %d and %q", tt.args[2:], code, stderr, tt.code, tt.msg)
		}
	}
	if code, out, _ := r2intf("eth1", "neigh", "--help"); code != 0 || !strings.Contains(out, "neigh add ADDR MAC") {
		t.Errorf("neigh --help: exit %d\n%s", code, out)
	}
	if code, out, _ := r2intf("--help"); code != 0 || !strings.Contains(out, "neigh show") {
		t.Errorf("--help does not mention neigh: exit %d", code)
	}
}
