//go:build linux

package router

import (
	"fmt"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/r2go/r2/r2/ctl"
	"github.com/r2go/r2/r2/engine"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/routedata"
)

func lin(bps uint64) *ctl.Curve { return &ctl.Curve{M1: bps, M2: bps} }

// edgesTo is where EtherEncap:if1 leads on thread 0 (index 1: its output).
func edgeOut(t testing.TB, r *Router) string {
	var e []string
	r.Engine().OnThread(0, func(th *engine.Thread) { e = th.Graph().Edges(names.EtherEncap("if1")) })
	return e[1]
}

func TestQoSConfig(t *testing.T) {
	r := newPathRig(t).e
	if err := r.AddClass(ctl.Class{Ifname: "if1", Name: "a", Leaf: true, LS: lin(1e6)}); ctl.KindOf(err) != ctl.KindNotFound {
		t.Errorf("class before a link rate: %v", err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(r.SetQoS("if1", 10e6))
	must(r.AddClass(ctl.Class{Ifname: "if1", Name: "in", Parent: "root", LS: lin(8e6)}))
	must(r.AddClass(ctl.Class{Ifname: "if1", Name: "a", Parent: "in", Leaf: true, LS: lin(6e6), UL: lin(7e6)}))
	must(r.AddClass(ctl.Class{Ifname: "if1", Name: "b", Parent: "in", Leaf: true, QLimit: 10, LS: lin(2e6)}))
	must(r.AddClass(ctl.Class{Ifname: "if1", Name: "rt", Leaf: true, RT: &ctl.Curve{M1: 5e6, D: 5 * time.Millisecond, M2: 1e6}}))
	must(r.AddRule("if1", ctl.Rule{Prio: 10, Class: "rt", DSCP: 46, Proto: -1}))
	must(r.AddRule("if1", ctl.Rule{Prio: 20, Class: "a", DSCP: -1, Proto: 6, Dst: netip.MustParsePrefix("2001:db8::/32")}))
	if got := edgeOut(t, r); got != names.IfNode("if1") {
		t.Errorf("without a default class EtherEncap leads to %s", got)
	}
	must(r.SetDefaultClass("if1", "b"))
	if got := edgeOut(t, r); got != names.QoS("if1") {
		t.Errorf("with a default class EtherEncap leads to %s", got)
	}
	before, err := r.QoS("if1")
	must(err)
	for _, tc := range []struct {
		name string
		err  error
		kind ctl.ErrKind
	}{
		{"unknown parent", r.AddClass(ctl.Class{Ifname: "if1", Name: "x", Parent: "zz", Leaf: true, LS: lin(1)}), ctl.KindNotFound},
		{"child of a leaf", r.AddClass(ctl.Class{Ifname: "if1", Name: "x", Parent: "a", Leaf: true, LS: lin(1)}), ctl.KindInvalid},
		{"real-time above the link", r.AddClass(ctl.Class{Ifname: "if1", Name: "x", Leaf: true, RT: lin(6e6)}), ctl.KindInvalid},
		{"children above the parent", r.AddClass(ctl.Class{Ifname: "if1", Name: "x", Parent: "in", Leaf: true, LS: lin(1e6)}), ctl.KindInvalid},
		{"parent change", r.AddClass(ctl.Class{Ifname: "if1", Name: "a", Leaf: true, LS: lin(1e6)}), ctl.KindExists},
		{"root", r.AddClass(ctl.Class{Ifname: "if1", Name: "root", LS: lin(1e6)}), ctl.KindInvalid},
		{"leaf without curves", r.AddClass(ctl.Class{Ifname: "if1", Name: "x", Leaf: true}), ctl.KindInvalid},
		{"delete with children", r.DelClass("if1", "in"), ctl.KindInvalid},
		{"delete used by a rule", r.DelClass("if1", "a"), ctl.KindInvalid},
		{"delete the default", r.DelClass("if1", "b"), ctl.KindInvalid},
		{"delete unknown", r.DelClass("if1", "zz"), ctl.KindNotFound},
		{"rule exists", r.AddRule("if1", ctl.Rule{Prio: 10, Class: "a", DSCP: -1, Proto: -1}), ctl.KindExists},
		{"rule to unknown", r.AddRule("if1", ctl.Rule{Prio: 11, Class: "zz", DSCP: -1, Proto: -1}), ctl.KindNotFound},
		{"rule to interior", r.AddRule("if1", ctl.Rule{Prio: 11, Class: "in", DSCP: -1, Proto: -1}), ctl.KindInvalid},
		{"del unknown rule", r.DelRule("if1", 99), ctl.KindNotFound},
		{"default interior", r.SetDefaultClass("if1", "in"), ctl.KindInvalid},
		{"rate below the curves", r.SetQoS("if1", 5e6), ctl.KindInvalid},
		{"unknown interface", r.SetQoS("if9", 5e6), ctl.KindNotFound},
	} {
		if ctl.KindOf(tc.err) != tc.kind {
			t.Errorf("%s: %v (kind %v), want kind %v", tc.name, tc.err, ctl.KindOf(tc.err), tc.kind)
		}
	}
	after, err := r.QoS("if1")
	must(err)
	before.Now, after.Now = 0, 0
	if !reflect.DeepEqual(before, after) {
		t.Errorf("refused requests changed the configuration:\n%+v\n%+v", before, after)
	}
	// A change in place, then deletions back to nothing.
	must(r.AddClass(ctl.Class{Ifname: "if1", Name: "b", Parent: "in", Leaf: true, QLimit: 20, LS: lin(1e6)}))
	must(r.DelRule("if1", 20))
	must(r.DelClass("if1", "a"))
	must(r.SetDefaultClass("if1", ""))
	if got := edgeOut(t, r); got != names.IfNode("if1") {
		t.Errorf("after clearing the default EtherEncap leads to %s", got)
	}
	must(r.SetQoS("if1", 0))
	if _, err := r.QoS("if1"); ctl.KindOf(err) != ctl.KindNotFound {
		t.Errorf("QoS after removal: %v", err)
	}
	// Deleting the interface takes its QoS along.
	must(r.SetQoS("if1", 10e6))
	must(r.AddClass(ctl.Class{Ifname: "if1", Name: "d", Leaf: true, LS: lin(1e6)}))
	must(r.SetDefaultClass("if1", "d"))
	must(r.DelInterface("if1"))
	if len(r.qos) != 0 {
		t.Errorf("QoS of a deleted interface kept: %v", r.qos)
	}
}

// BenchmarkIPv4PathQoS is BenchmarkIPv4Path's routes=10 case with QoS on
// if1: a link fast enough to take everything, ten leaves and ten rules,
// the packets matching the last rule (the default class gets nothing).
func BenchmarkIPv4PathQoS(b *testing.B) {
	r := newPathRig(b)
	var rs []ctl.Route
	var ps []netip.Prefix
	for i := 0; i < 10; i++ {
		rs = append(rs, ctl.Route{Prefix: netip.MustParsePrefix(fmt.Sprintf("198.51.%d.0/24", i)), NextHop: netip.MustParseAddr("10.2.0.1"), Ifname: "if1"})
		ps = append(ps, rs[i].Prefix)
	}
	if err := r.e.AddRoutes(rs); err != nil {
		b.Fatal(err)
	}
	e := r.e
	for _, err := range []error{e.SetQoS("if1", 1e12)} {
		if err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 10; i++ {
		name := fmt.Sprintf("c%d", i)
		if err := e.AddClass(ctl.Class{Ifname: "if1", Name: name, Leaf: true, QLimit: 1024, LS: lin(1e9)}); err != nil {
			b.Fatal(err)
		}
		if err := e.AddRule("if1", ctl.Rule{Prio: i, Class: name, DSCP: -1, Proto: 17, Dport: [2]uint16{uint16(1000 + i), uint16(1000 + i)}}); err != nil {
			b.Fatal(err)
		}
	}
	if err := e.AddRule("if1", ctl.Rule{Prio: 100, Class: "c9", DSCP: -1, Proto: -1}); err != nil {
		b.Fatal(err)
	}
	if err := e.SetDefaultClass("if1", "c0"); err != nil {
		b.Fatal(err)
	}
	r.run(b, r.frames(routedata.RandomHosts(ps, 1024, 1)))
}

// A thousand leaves configured one request at a time: each request
// validates on the shadow scheduler in O(siblings) and the owner thread
// changes only what changed.
func TestQoSThousandClasses(t *testing.T) {
	r := newPathRig(t).e
	if err := r.SetQoS("if1", 10e9); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := 0; i < 1000; i++ {
		name := fmt.Sprintf("c%d", i)
		if err := r.AddClass(ctl.Class{Ifname: "if1", Name: name, Leaf: true, LS: lin(1e6)}); err != nil {
			t.Fatal(err)
		}
		if err := r.AddRule("if1", ctl.Rule{Prio: i, Class: name, DSCP: -1, Proto: 17, Dport: [2]uint16{uint16(i + 1), uint16(i + 1)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.SetDefaultClass("if1", "c0"); err != nil {
		t.Fatal(err)
	}
	t.Logf("1000 classes and 1000 rules, one request each: %v", time.Since(start))
	info, err := r.QoS("if1")
	if err != nil || len(info.Classes) != 1001 || len(info.Rules) != 1000 {
		t.Fatalf("QoS: %d classes, %d rules, %v", len(info.Classes), len(info.Rules), err)
	}
}
