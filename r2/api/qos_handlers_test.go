package api

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/r2go/r2/apis/common"
	"github.com/r2go/r2/apis/intf"
	"github.com/r2go/r2/r2/ctl"
)

// qosFake records the QoS calls that pass validation (the Backend methods
// are not called).
type qosFake struct {
	Backend
	classes []ctl.Class
	rules   []ctl.Rule
	refuse  error
}

func (f *qosFake) SetQoS(string, uint64) error { return f.refuse }
func (f *qosFake) AddClass(c ctl.Class) error {
	f.classes = append(f.classes, c)
	return f.refuse
}
func (f *qosFake) DelClass(string, string) error { return f.refuse }
func (f *qosFake) AddRule(_ string, r ctl.Rule) error {
	f.rules = append(f.rules, r)
	return f.refuse
}
func (f *qosFake) DelRule(string, int) error            { return f.refuse }
func (f *qosFake) SetDefaultClass(string, string) error { return f.refuse }
func (f *qosFake) QoS(string) (ctl.QoSInfo, error) {
	return ctl.QoSInfo{Ifname: "eth0", Rate: 5e7, Classes: []ctl.ClassInfo{{Name: "root", LS: &ctl.Curve{M1: 5e7, M2: 5e7}}},
		Rules: []ctl.RuleInfo{{Rule: ctl.Rule{Prio: 1, Class: "a", DSCP: 46, Proto: -1, Src: netip.MustParsePrefix("10.0.0.0/8")}, Packets: 3}}}, f.refuse
}

func kindOf(err error) common.ErrKind {
	if e, ok := err.(*common.ApiErr); ok {
		return e.Kind
	}
	return -1
}

func TestQoSHandlers(t *testing.T) {
	ctx := context.Background()
	f := &qosFake{}
	h := ifHandler{&core{b: f, logf: t.Logf}}
	sc := func(m1 int64, d int32, m2 int64) *intf.ServiceCurve { return &intf.ServiceCurve{M1: m1, D: d, M2: m2} }
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"bad ifname", h.SetQos(ctx, "bad name", 1)},
		{"negative rate", h.SetQos(ctx, "eth0", -1)},
		{"bad class name", h.AddClass(ctx, "eth0", "a b", "root", 0, true, nil)},
		{"qlimit on interior", h.AddClass(ctx, "eth0", "a", "root", 10, false, nil)},
		{"qlimit too big", h.AddClass(ctx, "eth0", "a", "root", MaxQLimit+1, true, nil)},
		{"rate too big", h.AddClass(ctx, "eth0", "a", "root", 0, true, &intf.Curves{FSc: sc(0, 0, 2e12)})},
		{"d negative", h.AddClass(ctx, "eth0", "a", "root", 0, true, &intf.Curves{RSc: sc(1, -1, 1)})},
		{"rule dscp 64", h.AddRule(ctx, "eth0", &intf.ClassRule{Prio: 1, Cls: "a", Dscp: 64, Proto: -1})},
		{"rule host bits", h.AddRule(ctx, "eth0", &intf.ClassRule{Prio: 1, Cls: "a", Dscp: -1, Proto: -1, Src: "10.1.1.1/8"})},
		{"rule bad prefix", h.AddRule(ctx, "eth0", &intf.ClassRule{Prio: 1, Cls: "a", Dscp: -1, Proto: -1, Dst: "zz"})},
		{"rule ports reversed", h.AddRule(ctx, "eth0", &intf.ClassRule{Prio: 1, Cls: "a", Dscp: -1, Proto: -1, DportLo: 9, DportHi: 8})},
		{"rule port too big", h.AddRule(ctx, "eth0", &intf.ClassRule{Prio: 1, Cls: "a", Dscp: -1, Proto: -1, SportHi: 70000})},
		{"rule nil", h.AddRule(ctx, "eth0", nil)},
		{"rule prio negative", h.AddRule(ctx, "eth0", &intf.ClassRule{Prio: -1, Cls: "a", Dscp: -1, Proto: -1})},
	} {
		if k := kindOf(tc.err); k != common.ErrKind_INVALID {
			t.Errorf("%s: %v (kind %v), want INVALID", tc.name, tc.err, k)
		}
	}
	if len(f.classes)+len(f.rules) != 0 {
		t.Fatalf("invalid requests reached the backend: %v %v", f.classes, f.rules)
	}
	if err := h.AddClass(ctx, "eth0", "v", "root", 0, true, &intf.Curves{RSc: sc(10e6, 5, 1e6), FSc: sc(1e6, 0, 1e6)}); err != nil {
		t.Fatal(err)
	}
	if err := h.AddRule(ctx, "eth0", &intf.ClassRule{Prio: 2, Cls: "v", Dscp: 46, Proto: 17, Dst: "2001:db8::/32", DportLo: 5000, DportHi: 5010}); err != nil {
		t.Fatal(err)
	}
	wantC := ctl.Class{Ifname: "eth0", Name: "v", Parent: "root", Leaf: true,
		RT: &ctl.Curve{M1: 10e6, D: 5 * time.Millisecond, M2: 1e6}, LS: &ctl.Curve{M1: 1e6, M2: 1e6}}
	if diff := cmp.Diff([]ctl.Class{wantC}, f.classes); diff != "" {
		t.Errorf("class (-want +got):\n%s", diff)
	}
	wantR := ctl.Rule{Prio: 2, Class: "v", DSCP: 46, Proto: 17, Dst: netip.MustParsePrefix("2001:db8::/32"), Dport: [2]uint16{5000, 5010}}
	if diff := cmp.Diff([]ctl.Rule{wantR}, f.rules, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("rule (-want +got):\n%s", diff)
	}
	q, err := h.ShowQos(ctx, "eth0")
	if err != nil || q.Rate != 5e7 || len(q.Classes) != 1 || q.Classes[0].Curves.FSc.M2 != 5e7 || q.Rules[0].Src != "10.0.0.0/8" || q.Rules[0].Pkts != 3 {
		t.Errorf("show_qos: %+v, %v", q, err)
	}
	// The backend's refusal keeps its kind.
	f.refuse = ctl.Errorf(ctl.KindNotFound, "no class")
	if k := kindOf(h.DelClass(ctx, "eth0", "zz")); k != common.ErrKind_NOT_FOUND {
		t.Errorf("refusal kind %v", k)
	}
	// A backend without QoS says so.
	h2 := ifHandler{&core{b: struct{ Backend }{}, logf: t.Logf}}
	if k := kindOf(h2.SetQos(ctx, "eth0", 1e6)); k != common.ErrKind_BUSY {
		t.Errorf("no QoS backend: kind %v", k)
	}
}
