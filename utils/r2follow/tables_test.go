package main

import (
	"net/netip"
	"reflect"
	"runtime"
	"testing"

	"github.com/r2go/r2/r2/ctl"
)

func TestKTableRoundTrip(t *testing.T) {
	p := netip.MustParsePrefix("192.0.2.0/24")
	nh := NextHop{Gw: netip.MustParseAddr("10.1.0.1"), OIF: 2, Weight: 1}
	cases := map[string][]KRoute{
		"one path":    {{Table: 254, Prefix: p, Type: rtnUnicast, Protocol: 4, Priority: 20, NHs: []NextHop{nh}}},
		"no next hop": {{Table: 254, Prefix: p, Type: rtnBlackhole, Protocol: 4}},
		"multipath":   {{Table: 254, Prefix: p, Type: rtnUnicast, NHs: []NextHop{nh, {Gw: netip.MustParseAddr("10.1.0.3"), OIF: 3, Weight: 2}}}},
		"two metrics": {{Table: 254, Prefix: p, Type: rtnUnicast, Priority: 10, NHs: []NextHop{nh}}, {Table: 254, Prefix: p, Type: rtnUnicast, Priority: 20, NHs: []NextHop{nh}}},
	}
	for name, rs := range cases {
		tb := newKTable(0)
		tb.set(p, rs)
		if got := tb.get(p); !reflect.DeepEqual(got, rs) {
			t.Errorf("%s: got %+v, want %+v", name, got, rs)
		}
		if tb.len() != 1 {
			t.Errorf("%s: len %d", name, tb.len())
		}
		n := 0
		for q := range tb.prefixes() {
			n++
			if q != p {
				t.Errorf("%s: prefix %v", name, q)
			}
		}
		// Replacing one kind by another leaves one entry.
		tb.set(p, cases["one path"])
		tb.set(p, rs)
		if tb.len() != 1 || n != 1 {
			t.Errorf("%s: after replace len %d (prefixes %d)", name, tb.len(), n)
		}
		tb.set(p, nil)
		if tb.len() != 0 || tb.get(p) != nil {
			t.Errorf("%s: not deleted", name)
		}
	}
}

func TestR2TableRoundTrip(t *testing.T) {
	p := netip.MustParsePrefix("2001:db8:5::/48")
	single := ctl.Route{Prefix: p, NextHop: netip.MustParseAddr("fe80::1"), Ifname: "eth0", Kind: ctl.KindGateway}
	multi := ctl.Route{Prefix: p, NextHop: single.NextHop, Ifname: "eth0", Kind: ctl.KindGateway,
		Paths: []ctl.Path{{NextHop: single.NextHop, Ifname: "eth0", Weight: 1}, {NextHop: netip.MustParseAddr("fe80::2"), Ifname: "eth1", Weight: 3}}}
	drop := ctl.Route{Prefix: p, Kind: ctl.KindDrop}
	tb := newR2Table()
	for _, r := range []ctl.Route{single, multi, drop, single} {
		tb.set(r)
		got, ok := tb.get(p)
		if !ok || !got.Equal(r) || tb.len() != 1 {
			t.Errorf("set %v: got %v %v, len %d", r, got, ok, tb.len())
		}
		n := 0
		for q, x := range tb.all() {
			n++
			if q != p || !x.Equal(r) {
				t.Errorf("all: %v %v", q, x)
			}
		}
		if n != 1 {
			t.Errorf("all yielded %d routes", n)
		}
	}
	tb.set(multi)
	for q := range tb.all() {
		tb.del(q) // deleting while iterating is allowed
	}
	if _, ok := tb.get(p); ok || tb.len() != 0 {
		t.Errorf("not deleted")
	}
}

// TestTablesMemory: 200,000 routes over two next hops, kept in both
// tables, take well under what plain values took (about 550 bytes a
// route for both; now about 130).
func TestTablesMemory(t *testing.T) {
	const n = 200000
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	kt, rt := newKTable(0), newR2Table()
	for i := range n {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(i >> 16), byte(i >> 8), byte(i), 0}), 24)
		gw := netip.AddrFrom4([4]byte{10, 1, 0, byte(1 + i%2)})
		kt.set(p, []KRoute{{Table: 254, Prefix: p, Type: rtnUnicast, Protocol: 4, NHs: []NextHop{{Gw: gw, OIF: 2, Weight: 1}}}})
		rt.set(ctl.Route{Prefix: p, NextHop: gw, Ifname: "eth0", Kind: ctl.KindGateway})
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	per := float64(ms.HeapAlloc-before) / n
	t.Logf("%.0f bytes of heap per route (both tables)", per)
	if per > 300 {
		t.Errorf("%.0f bytes per route: the tables no longer share route bodies", per)
	}
	runtime.KeepAlive(kt)
	runtime.KeepAlive(rt)
}
