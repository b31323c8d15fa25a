//go:build linux

package router

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/gnodes/qos"
	"github.com/r2go/r2/r2/ctl"
	"github.com/r2go/r2/r2/engine"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/sched/hfsc"
)

// LinkQueue is how far ahead of the link the scheduler may release
// packets to the device (hfsc.Sched.SetLinkQueue), and how far behind its
// upper limit a class may fall and still catch up (SetULSlack). The owner
// thread sleeps until the scheduler's next event and, on a shared and
// loaded machine, wakes milliseconds late hundreds of times a minute
// (QoS:<if>/late_1ms counts them); with 2 ms the link lost 20% of its
// capacity there, with 10 ms it keeps its rate. The price is bursts of up
// to 10 ms of traffic after a late wakeup. A real-time packet is not
// delayed by it: it is released as soon as the link (as accounted) can
// take it, ahead of the packets the slack admitted.
const LinkQueue = 10 * time.Millisecond

// qosIf is the control side's QoS configuration of one interface. The
// forwarding threads see only the immutable fwd.QoS built from it.
type qosIf struct {
	rate    uint64
	classes []hfsc.ClassConfig // parents before children
	rules   []fwd.QoSRule
	def     string
	active  bool // the QoS node is on the interface's packet path
	cfg     *fwd.QoS
	// shadow holds the tree of classes (nil: rebuild it from classes).
	shadow *shadowSched
}

func (st *qosIf) clone() *qosIf {
	c := *st
	c.classes = slices.Clone(st.classes)
	c.rules = slices.Clone(st.rules)
	return &c
}

// qosErr gives a scheduler's refusal the kind of the matching ctl error.
func qosErr(ifname string, err error) error {
	kind := ctl.ErrInvalid
	switch {
	case errors.Is(err, hfsc.ErrExists):
		kind = ctl.ErrExists
	case errors.Is(err, hfsc.ErrNotFound):
		kind = ctl.ErrNotFound
	}
	return fmt.Errorf("interface %s: %v: %w", ifname, err, kind)
}

// shadowSched is a scheduler of the same kind as the threads' without
// items: the control side validates class changes on it.
type shadowSched = hfsc.Sched[struct{}]

// build makes st's shadow scheduler from scratch (the whole tree).
func (st *qosIf) build(ifname string) (*shadowSched, error) {
	s, err := hfsc.New[struct{}](st.rate, func(struct{}) int { return 0 })
	if err != nil {
		return nil, qosErr(ifname, err)
	}
	for _, c := range st.classes {
		if err := s.AddClass(c); err != nil {
			return nil, qosErr(ifname, err)
		}
	}
	return s, nil
}

// qosUpdate validates next and makes it interface ifname's configuration:
// the owner thread reconciles its scheduler, and the QoS node joins or
// leaves the packet path as next has a default class or not. op applies
// the change to the current shadow scheduler (O(siblings), where
// rebuilding the tree costs O(classes x siblings)); nil rebuilds it. On
// error nothing changes. Caller holds r.mu.
func (r *Router) qosUpdate(ifname string, next *qosIf, op func(*shadowSched) error) error {
	cur := r.qos[ifname]
	if op != nil && cur != nil && cur.shadow != nil {
		if err := op(cur.shadow); err != nil {
			return qosErr(ifname, err) // hfsc changed nothing
		}
		next.shadow = cur.shadow
	} else {
		s, err := next.build(ifname)
		if err != nil {
			return err
		}
		next.shadow = s
	}
	q, err := fwd.NewQoS(ifname, next.rate, LinkQueue, next.classes, next.rules, next.def)
	if err != nil {
		if cur != nil && next.shadow == cur.shadow {
			cur.shadow = nil // it has the change: rebuild it next time
		}
		return fmt.Errorf("interface %s: %v: %w", ifname, err, ctl.ErrInvalid)
	}
	next.cfg = q
	on := next.def != ""
	if cur != nil && cur.active && !on {
		r.qosIntercept(ifname, false)
	}
	r.eng.Publish(msg.QoS{Ifname: ifname, Config: q})
	if on && (cur == nil || !cur.active) {
		r.qosIntercept(ifname, true)
	}
	next.active = on
	if r.qos == nil {
		r.qos = map[string]*qosIf{}
	}
	r.qos[ifname] = next
	return nil
}

// qosIntercept puts interface ifname's QoS node in front of its IfNode in
// every thread's graph, or takes it out. Caller holds r.mu.
func (r *Router) qosIntercept(ifname string, on bool) {
	var chain []string
	if on {
		chain = []string{names.QoS(ifname)}
	}
	for i := 0; i < r.eng.Threads(); i++ {
		r.eng.OnThread(i, func(t *engine.Thread) {
			t.Graph().Intercept(names.IfNode(ifname), chain)
			t.Graph().Finalize()
		})
	}
}

// qosForget removes interface ifname's QoS (the interface goes away; its
// nodes free what they hold). Caller holds r.mu.
func (r *Router) qosForget(ifname string) {
	st := r.qos[ifname]
	if st == nil {
		return
	}
	if st.active {
		r.qosIntercept(ifname, false)
	}
	delete(r.qos, ifname)
}

// qosOf is the QoS configuration of interface ifname, which must exist
// lockQoS takes the R2 context lock and finds interface ifname's QoS
// state; on error the lock is not held.
func (r *Router) lockQoS(ifname string) (*qosIf, error) {
	if err := r.lock(); err != nil {
		return nil, err
	}
	st, err := r.qosOf(ifname)
	if err != nil {
		r.mu.Unlock()
		return nil, err
	}
	return st, nil
}

// and have a link rate. Caller holds r.mu.
func (r *Router) qosOf(ifname string) (*qosIf, error) {
	if _, err := r.byName(ifname); err != nil {
		return nil, err
	}
	st := r.qos[ifname]
	if st == nil {
		return nil, fmt.Errorf("interface %s has no QoS: set its link rate first (r2intf %s qos RATE): %w", ifname, ifname, ctl.ErrNotFound)
	}
	return st, nil
}

// SetQoS sets interface ifname's link rate in bits/s, the root of its
// class tree; rate 0 removes its QoS altogether (classes, rules, default),
// freeing and counting what is queued. A new rate restarts the scheduler
// (queued packets are freed and counted) and must stay above the classes'
// real-time and link-sharing curves.
func (r *Router) SetQoS(ifname string, rate uint64) error {
	if err := r.lock(); err != nil {
		return err
	}
	defer r.mu.Unlock()
	if _, err := r.byName(ifname); err != nil {
		return err
	}
	cur := r.qos[ifname]
	if rate == 0 {
		if cur == nil {
			return fmt.Errorf("interface %s has no QoS: %w", ifname, ctl.ErrNotFound)
		}
		if cur.active {
			r.qosIntercept(ifname, false)
		}
		r.eng.Publish(msg.QoS{Ifname: ifname})
		delete(r.qos, ifname)
		r.logf("interface %s: QoS removed", ifname)
		return nil
	}
	next := &qosIf{}
	if cur != nil {
		if cur.rate == rate {
			return nil
		}
		next = cur.clone()
	}
	next.rate = rate
	if err := r.qosUpdate(ifname, next, nil); err != nil {
		return err
	}
	r.logf("interface %s: QoS link rate %d bit/s", ifname, rate)
	return nil
}

// noTreeChange is the shadow operation of changes to rules and the
// default class.
func noTreeChange(*shadowSched) error { return nil }

func hfscCurve(c *ctl.Curve) *hfsc.Curve {
	if c == nil {
		return nil
	}
	return &hfsc.Curve{M1: c.M1, D: c.D, M2: c.M2}
}

func ctlCurve(c *hfsc.Curve) *ctl.Curve {
	if c == nil {
		return nil
	}
	return &ctl.Curve{M1: c.M1, D: c.D, M2: c.M2}
}

// AddClass adds class c to its interface, or changes the curves and queue
// limit of the class of that name (its parent and kind cannot change).
func (r *Router) AddClass(c ctl.Class) error {
	if err := r.lock(); err != nil {
		return err
	}
	defer r.mu.Unlock()
	st, err := r.qosOf(c.Ifname)
	if err != nil {
		return err
	}
	if c.Parent == "" {
		c.Parent = hfsc.RootName
	}
	if c.Name == hfsc.RootName {
		return fmt.Errorf("interface %s: class %q is the root, whose curve is the link rate (r2intf %s qos RATE): %w", c.Ifname, c.Name, c.Ifname, ctl.ErrInvalid)
	}
	if c.Leaf && c.QLimit == 0 {
		c.QLimit = ctl.DefaultQLimit
	}
	cc := hfsc.ClassConfig{Name: c.Name, Parent: c.Parent, QLimit: c.QLimit, Leaf: c.Leaf,
		RT: hfscCurve(c.RT), LS: hfscCurve(c.LS), UL: hfscCurve(c.UL)}
	if cc.Parent == hfsc.RootName {
		cc.Parent = ""
	}
	next := st.clone()
	if i := slices.IndexFunc(next.classes, func(x hfsc.ClassConfig) bool { return x.Name == c.Name }); i >= 0 {
		old := next.classes[i]
		if old.Parent != cc.Parent || old.Leaf != cc.Leaf {
			return fmt.Errorf("interface %s: class %q exists with another parent or kind (delete it and add it again): %w", c.Ifname, c.Name, ctl.ErrExists)
		}
		next.classes[i] = cc
		return r.qosUpdate(c.Ifname, next, func(s *shadowSched) error { return s.ChangeClass(cc, 0) })
	}
	next.classes = append(next.classes, cc)
	return r.qosUpdate(c.Ifname, next, func(s *shadowSched) error { return s.AddClass(cc) })
}

// DelClass deletes class name of interface ifname; its queued packets are
// freed and counted. A class with children, or used by a rule or as the
// default, is refused.
func (r *Router) DelClass(ifname, name string) error {
	st, err := r.lockQoS(ifname)
	if err != nil {
		return err
	}
	defer r.mu.Unlock()
	i := slices.IndexFunc(st.classes, func(x hfsc.ClassConfig) bool { return x.Name == name })
	if i < 0 {
		return fmt.Errorf("interface %s: no class %q: %w", ifname, name, ctl.ErrNotFound)
	}
	for _, c := range st.classes {
		if c.Parent == name {
			return fmt.Errorf("interface %s: class %q has children (%q first): %w", ifname, name, c.Name, ctl.ErrInvalid)
		}
	}
	for _, ru := range st.rules {
		if ru.Class == name {
			return fmt.Errorf("interface %s: class %q is used by rule %d: %w", ifname, name, ru.Prio, ctl.ErrInvalid)
		}
	}
	if st.def == name {
		return fmt.Errorf("interface %s: class %q is the default class: %w", ifname, name, ctl.ErrInvalid)
	}
	next := st.clone()
	next.classes = slices.Delete(next.classes, i, i+1)
	return r.qosUpdate(ifname, next, func(s *shadowSched) error { _, err := s.DelClass(name); return err })
}

// AddRule adds a classifier rule to interface ifname.
func (r *Router) AddRule(ifname string, ru ctl.Rule) error {
	st, err := r.lockQoS(ifname)
	if err != nil {
		return err
	}
	defer r.mu.Unlock()
	fr := fwd.QoSRule{Prio: ru.Prio, Class: ru.Class, DSCP: ru.DSCP, Src: ru.Src, Dst: ru.Dst, Proto: ru.Proto, Sport: ru.Sport, Dport: ru.Dport}
	if err := fr.Check(); err != nil {
		return fmt.Errorf("interface %s: %v: %w", ifname, err, ctl.ErrInvalid)
	}
	for _, x := range st.rules {
		if x.Prio == ru.Prio {
			return fmt.Errorf("interface %s: rule %d exists: %w", ifname, ru.Prio, ctl.ErrExists)
		}
	}
	i := slices.IndexFunc(st.classes, func(x hfsc.ClassConfig) bool { return x.Name == ru.Class })
	if i < 0 {
		return fmt.Errorf("interface %s: rule %d: no class %q: %w", ifname, ru.Prio, ru.Class, ctl.ErrNotFound)
	}
	next := st.clone()
	next.rules = append(next.rules, fr)
	slices.SortFunc(next.rules, func(a, b fwd.QoSRule) int { return a.Prio - b.Prio })
	return r.qosUpdate(ifname, next, noTreeChange)
}

// DelRule deletes interface ifname's rule prio.
func (r *Router) DelRule(ifname string, prio int) error {
	st, err := r.lockQoS(ifname)
	if err != nil {
		return err
	}
	defer r.mu.Unlock()
	i := slices.IndexFunc(st.rules, func(x fwd.QoSRule) bool { return x.Prio == prio })
	if i < 0 {
		return fmt.Errorf("interface %s: no rule %d: %w", ifname, prio, ctl.ErrNotFound)
	}
	next := st.clone()
	next.rules = slices.Delete(next.rules, i, i+1)
	return r.qosUpdate(ifname, next, noTreeChange)
}

// SetDefaultClass names the leaf that packets no rule matches go to.
// Scheduling is active (the QoS node on the interface's path) exactly
// while there is a default class; "" clears it.
func (r *Router) SetDefaultClass(ifname, name string) error {
	st, err := r.lockQoS(ifname)
	if err != nil {
		return err
	}
	defer r.mu.Unlock()
	if name != "" && !slices.ContainsFunc(st.classes, func(x hfsc.ClassConfig) bool { return x.Name == name }) {
		return fmt.Errorf("interface %s: no class %q: %w", ifname, name, ctl.ErrNotFound)
	}
	next := st.clone()
	next.def = name
	return r.qosUpdate(ifname, next, noTreeChange)
}

// QoS describes interface ifname's QoS: configuration, rules with their
// counters, and each class's scheduler state read on the owner thread.
func (r *Router) QoS(ifname string) (ctl.QoSInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := r.qosOf(ifname)
	if err != nil {
		return ctl.QoSInfo{}, err
	}
	fi, _ := r.byName(ifname)
	info := ctl.QoSInfo{Ifname: ifname, Rate: st.rate, Default: st.def, Active: st.active}
	var stats []qos.ClassStats
	r.eng.OnThread(fi.Owner, func(t *engine.Thread) {
		if n, ok := t.Graph().Node(names.QoS(ifname)).(*qos.Node); ok {
			_, stats = n.Stats()
		}
		info.Now = t.Graph().Now()
	})
	totals := map[string][]uint64{}
	for _, t := range counters.Totals(r.eng.Counters().Snapshot()) {
		totals[t.Name] = t.Sum
	}
	get := func(name string, i int) uint64 {
		if v := totals[name]; len(v) > i {
			return v[i]
		}
		return 0
	}
	byName := map[string]qos.ClassStats{}
	for _, s := range stats {
		byName[s.Name] = s
	}
	rows := append([]hfsc.ClassConfig{{Name: hfsc.RootName, LS: &hfsc.Curve{M1: st.rate, M2: st.rate}}}, st.classes...)
	for _, c := range rows {
		ci := ctl.ClassInfo{Name: c.Name, Parent: c.Parent, Leaf: c.Leaf, QLimit: c.QLimit,
			RT: ctlCurve(c.RT), LS: ctlCurve(c.LS), UL: ctlCurve(c.UL)}
		if c.Name != hfsc.RootName && ci.Parent == "" {
			ci.Parent = hfsc.RootName
		}
		if s, ok := byName[c.Name]; ok {
			ci.Packets, ci.Bytes, ci.QLen, ci.QBytes, ci.Active = s.Packets, s.Bytes, s.QLen, s.QBytes, s.Active
			ci.VT, ci.Eligible, ci.Deadline, ci.Fit = s.VT, s.Eligible, s.Deadline, s.Fit
			if c.Name == hfsc.RootName {
				ci.Packets, ci.Bytes = 0, s.Total
				for _, l := range stats {
					ci.Packets += l.Packets // leaves only count packets
				}
			}
		}
		ci.Drops = get(names.QoS(ifname)+"/class/"+c.Name+"/drops", 0)
		info.Classes = append(info.Classes, ci)
	}
	for _, ru := range st.rules {
		name := fmt.Sprintf("%s/rule/%d", names.QoS(ifname), ru.Prio)
		info.Rules = append(info.Rules, ctl.RuleInfo{
			Rule:    ctl.Rule{Prio: ru.Prio, Class: ru.Class, DSCP: ru.DSCP, Src: ru.Src, Dst: ru.Dst, Proto: ru.Proto, Sport: ru.Sport, Dport: ru.Dport},
			Packets: get(name, 0), Bytes: get(name, 1)})
	}
	return info, nil
}
