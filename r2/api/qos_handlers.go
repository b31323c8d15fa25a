package api

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/r2go/r2/apis/common"
	"github.com/r2go/r2/apis/intf"
	"github.com/r2go/r2/r2/ctl"
)

// QoSBackend is the optional capability of a Backend that schedules
// output interfaces (HFSC classes and classifier rules). The Interface
// service's QoS methods refuse with BUSY ("not supported") when the
// backend lacks it. Methods follow Backend's rules: validated arguments,
// an error leaves the state unchanged.
type QoSBackend interface {
	// SetQoS sets an interface's link rate in bits/s (0: remove its QoS).
	SetQoS(ifname string, rate uint64) error
	// AddClass adds a class, or changes an existing one's curves and limit.
	AddClass(c ctl.Class) error
	// DelClass deletes a class.
	DelClass(ifname, name string) error
	// AddRule adds a classifier rule.
	AddRule(ifname string, r ctl.Rule) error
	// DelRule deletes the rule with priority prio.
	DelRule(ifname string, prio int) error
	// SetDefaultClass names the default class ("" clears it).
	SetDefaultClass(ifname, name string) error
	// QoS describes an interface's QoS.
	QoS(ifname string) (ctl.QoSInfo, error)
}

// Limits on QoS requests.
const (
	// MaxRate is the largest rate in a curve or link: 1 Tbit/s.
	MaxRate = 1e12
	// MaxCurveD is the longest first segment of a curve, in ms.
	MaxCurveD = 60_000
	// MaxClassName is the longest class name.
	MaxClassName = 64
	// MaxQLimit is the longest leaf queue, in packets.
	MaxQLimit = 65536
	// MaxRulePrio is the largest rule priority.
	MaxRulePrio = 1_000_000
)

func (h ifHandler) qos(ifname string) (QoSBackend, error) {
	if err := CheckIfname(ifname); err != nil {
		return nil, wrap(err)
	}
	q, ok := h.b.(QoSBackend)
	if !ok {
		return nil, &common.ApiErr{Why: "this router does not support QoS", Kind: common.ErrKind_BUSY}
	}
	return q, nil
}

// CheckClassName checks a class name: 1 to MaxClassName characters from
// [A-Za-z0-9_.-] (so that counter names stay readable).
func CheckClassName(name string) error {
	if name == "" || len(name) > MaxClassName {
		return fmt.Errorf("class name %q: want 1 to %d characters", name, MaxClassName)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("class name %q: only letters, digits, '_', '-' and '.'", name)
		}
	}
	return nil
}

func checkRate(what string, r int64) error {
	if r < 0 || r > MaxRate {
		return fmt.Errorf("%s %d bit/s out of range 0 to %d", what, r, int64(MaxRate))
	}
	return nil
}

// curve converts and checks one curve of a request (nil stays nil).
func curve(what string, c *intf.ServiceCurve) (*ctl.Curve, error) {
	if c == nil {
		return nil, nil
	}
	if err := checkRate(what+" m1", c.M1); err != nil {
		return nil, err
	}
	if err := checkRate(what+" m2", c.M2); err != nil {
		return nil, err
	}
	if c.D < 0 || c.D > MaxCurveD {
		return nil, fmt.Errorf("%s d %d ms out of range 0 to %d", what, c.D, MaxCurveD)
	}
	return &ctl.Curve{M1: uint64(c.M1), D: time.Duration(c.D) * time.Millisecond, M2: uint64(c.M2)}, nil
}

func (h ifHandler) SetQos(_ context.Context, ifname string, rate int64) (err error) {
	defer h.guard("set_qos", &err)
	q, err := h.qos(ifname)
	if err != nil {
		return err
	}
	if err := checkRate("link rate", rate); err != nil {
		return apiErr("interface %s: %v", ifname, err)
	}
	return h.call(func() error { return q.SetQoS(ifname, uint64(rate)) })
}

func (h ifHandler) AddClass(_ context.Context, ifname, name, parent string, qlimit int32, isLeaf bool, curves *intf.Curves) (err error) {
	defer h.guard("add_class", &err)
	q, err := h.qos(ifname)
	if err != nil {
		return err
	}
	if err := CheckClassName(name); err != nil {
		return apiErr("interface %s: %v", ifname, err)
	}
	if parent != "" {
		if err := CheckClassName(parent); err != nil {
			return apiErr("interface %s: parent: %v", ifname, err)
		}
	}
	if qlimit < 0 || qlimit > MaxQLimit {
		return apiErr("interface %s: class %s: qlimit %d out of range 0 to %d", ifname, name, qlimit, MaxQLimit)
	}
	if !isLeaf && qlimit != 0 {
		return apiErr("interface %s: class %s: only leaves have a queue limit", ifname, name)
	}
	c := ctl.Class{Ifname: ifname, Name: name, Parent: parent, QLimit: int(qlimit), Leaf: isLeaf}
	if curves == nil {
		curves = &intf.Curves{}
	}
	for _, x := range []struct {
		what string
		in   *intf.ServiceCurve
		out  **ctl.Curve
	}{{"real-time curve", curves.RSc, &c.RT}, {"link-sharing curve", curves.FSc, &c.LS}, {"upper-limit curve", curves.USc, &c.UL}} {
		if *x.out, err = curve(x.what, x.in); err != nil {
			return apiErr("interface %s: class %s: %v", ifname, name, err)
		}
	}
	return h.call(func() error { return q.AddClass(c) })
}

func (h ifHandler) DelClass(_ context.Context, ifname, name string) (err error) {
	defer h.guard("del_class", &err)
	q, err := h.qos(ifname)
	if err != nil {
		return err
	}
	if err := CheckClassName(name); err != nil {
		return apiErr("interface %s: %v", ifname, err)
	}
	return h.call(func() error { return q.DelClass(ifname, name) })
}

func portRange(what string, lo, hi int32) ([2]uint16, error) {
	if lo < 0 || hi > math.MaxUint16 || lo > hi {
		return [2]uint16{}, fmt.Errorf("%s range %d-%d: want 0 <= low <= high <= 65535", what, lo, hi)
	}
	return [2]uint16{uint16(lo), uint16(hi)}, nil
}

func (h ifHandler) AddRule(_ context.Context, ifname string, r *intf.ClassRule) (err error) {
	defer h.guard("add_rule", &err)
	q, err := h.qos(ifname)
	if err != nil {
		return err
	}
	if r == nil {
		return apiErr("interface %s: no rule", ifname)
	}
	if r.Prio < 0 || r.Prio > MaxRulePrio {
		return apiErr("interface %s: rule priority %d out of range 0 to %d", ifname, r.Prio, MaxRulePrio)
	}
	if err := CheckClassName(r.Cls); err != nil {
		return apiErr("interface %s: rule %d: %v", ifname, r.Prio, err)
	}
	if r.Dscp < -1 || r.Dscp > 63 {
		return apiErr("interface %s: rule %d: DSCP %d out of range 0 to 63 (-1: any)", ifname, r.Prio, r.Dscp)
	}
	if r.Proto < -1 || r.Proto > 255 {
		return apiErr("interface %s: rule %d: protocol %d out of range 0 to 255 (-1: any)", ifname, r.Prio, r.Proto)
	}
	ru := ctl.Rule{Prio: int(r.Prio), Class: r.Cls, DSCP: int(r.Dscp), Proto: int(r.Proto)}
	for _, p := range []struct {
		what string
		s    string
		out  *ctl.Rule
		src  bool
	}{{"source prefix", r.Src, &ru, true}, {"destination prefix", r.Dst, &ru, false}} {
		if p.s == "" {
			continue
		}
		pfx, err := ParsePrefix(p.what, p.s)
		if err != nil {
			return apiErr("interface %s: rule %d: %v", ifname, r.Prio, err)
		}
		if pfx != pfx.Masked() {
			return apiErr("interface %s: rule %d: %s %s has host bits set (%s?)", ifname, r.Prio, p.what, pfx, pfx.Masked())
		}
		if p.src {
			ru.Src = pfx
		} else {
			ru.Dst = pfx
		}
	}
	if ru.Sport, err = portRange("source port", r.SportLo, r.SportHi); err != nil {
		return apiErr("interface %s: rule %d: %v", ifname, r.Prio, err)
	}
	if ru.Dport, err = portRange("destination port", r.DportLo, r.DportHi); err != nil {
		return apiErr("interface %s: rule %d: %v", ifname, r.Prio, err)
	}
	return h.call(func() error { return q.AddRule(ifname, ru) })
}

func (h ifHandler) DelRule(_ context.Context, ifname string, prio int32) (err error) {
	defer h.guard("del_rule", &err)
	q, err := h.qos(ifname)
	if err != nil {
		return err
	}
	return h.call(func() error { return q.DelRule(ifname, int(prio)) })
}

func (h ifHandler) SetDefaultClass(_ context.Context, ifname, name string) (err error) {
	defer h.guard("set_default_class", &err)
	q, err := h.qos(ifname)
	if err != nil {
		return err
	}
	if name != "" {
		if err := CheckClassName(name); err != nil {
			return apiErr("interface %s: %v", ifname, err)
		}
	}
	return h.call(func() error { return q.SetDefaultClass(ifname, name) })
}

func toSC(c *ctl.Curve) *intf.ServiceCurve {
	if c == nil {
		return nil
	}
	return &intf.ServiceCurve{M1: int64(c.M1), D: int32(c.D / time.Millisecond), M2: int64(c.M2)}
}

func (h ifHandler) ShowQos(_ context.Context, ifname string) (_ *intf.QosInfo, err error) {
	defer h.guard("show_qos", &err)
	q, err := h.qos(ifname)
	if err != nil {
		return nil, err
	}
	var info ctl.QoSInfo
	if err := h.call(func() (err error) { info, err = q.QoS(ifname); return }); err != nil {
		return nil, err
	}
	out := &intf.QosInfo{Ifname: info.Ifname, Rate: int64(info.Rate), DefaultClass: info.Default,
		Active: info.Active, Now: info.Now, Classes: []*intf.ClassInfo{}, Rules: []*intf.ClassRule{}}
	for _, c := range info.Classes {
		out.Classes = append(out.Classes, &intf.ClassInfo{Name: c.Name, Parent: c.Parent, IsLeaf: c.Leaf,
			Qlimit: int32(c.QLimit), Curves: &intf.Curves{RSc: toSC(c.RT), FSc: toSC(c.LS), USc: toSC(c.UL)},
			Pkts: int64(c.Packets), Bytes: int64(c.Bytes), Drops: int64(c.Drops), Qlen: int32(c.QLen),
			Qbytes: int64(c.QBytes), Active: c.Active, Vt: c.VT, Eligible: c.Eligible, Deadline: c.Deadline, Fit: c.Fit})
	}
	for _, r := range info.Rules {
		cr := &intf.ClassRule{Prio: int32(r.Prio), Cls: r.Class, Dscp: int32(r.DSCP), Proto: int32(r.Proto),
			SportLo: int32(r.Sport[0]), SportHi: int32(r.Sport[1]), DportLo: int32(r.Dport[0]), DportHi: int32(r.Dport[1]),
			Pkts: int64(r.Packets), Bytes: int64(r.Bytes)}
		if r.Src.IsValid() {
			cr.Src = r.Src.String()
		}
		if r.Dst.IsValid() {
			cr.Dst = r.Dst.String()
		}
		out.Rules = append(out.Rules, cr)
	}
	return out, nil
}
