package fwd

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/r2go/r2/r2/sched/hfsc"
)

// QoS is the scheduling configuration of one output interface: the link
// rate, the HFSC class tree and the classifier's rules. Like every
// forwarding object it is immutable once made: the control side builds a
// new one for each change and hands it to the threads (msg.QoS); the
// interface's owner thread reconciles its scheduler with it.
type QoS struct {
	// Ifname is the interface.
	Ifname string
	// Rate is the link rate in bits/s: the root class's curve.
	Rate uint64
	// LinkQueue is how much transmission the scheduler may hand the
	// device ahead of time (hfsc.Sched.SetLinkQueue), and how far behind
	// its upper limit a class may fall and catch up (SetULSlack): enough
	// to cover the owner thread's wakeup latency, so that a late wakeup
	// loses neither link capacity nor a class's upper-limit service.
	LinkQueue time.Duration
	// Classes are the classes below the root, parents before children.
	Classes []hfsc.ClassConfig
	// Rules map packets to leaf classes, by ascending Prio; the first
	// match wins.
	Rules []QoSRule
	// Default is the leaf that packets no rule matches go to.
	Default string

	// compiled forms, built by NewQoS.
	match  []qosMatch
	defIdx int
}

// QoSRule is one classifier rule: a packet matches when every criterion
// that is set matches. Src and Dst of one family restrict the rule to
// that family.
type QoSRule struct {
	// Prio orders the rules (lowest first); unique per interface.
	Prio int
	// Class is the leaf class matching packets go to.
	Class string
	// DSCP is the Differentiated Services code point (0-63), -1 for any.
	DSCP int
	// Src and Dst are source and destination prefixes (invalid: any).
	Src, Dst netip.Prefix
	// Proto is the IP protocol (IPv6: the upper-layer header), -1 for any.
	Proto int
	// Sport and Dport are inclusive port ranges for TCP, UDP, SCTP and
	// UDP-Lite; {0, 0} is any. A packet without ports (another protocol, a
	// later fragment) does not match a rule with a port range.
	Sport, Dport [2]uint16
}

// String describes r in the utility's syntax.
func (r QoSRule) String() string {
	s := fmt.Sprintf("%d %s", r.Prio, r.Class)
	if r.DSCP >= 0 {
		s += fmt.Sprintf(" --dscp %d", r.DSCP)
	}
	if r.Src.IsValid() {
		s += " --src " + r.Src.String()
	}
	if r.Dst.IsValid() {
		s += " --dst " + r.Dst.String()
	}
	if r.Proto >= 0 {
		s += fmt.Sprintf(" --proto %d", r.Proto)
	}
	if r.Sport != [2]uint16{} {
		s += fmt.Sprintf(" --sport %d-%d", r.Sport[0], r.Sport[1])
	}
	if r.Dport != [2]uint16{} {
		s += fmt.Sprintf(" --dport %d-%d", r.Dport[0], r.Dport[1])
	}
	return s
}

// Check validates r alone (its class is checked against the tree by
// NewQoS).
func (r QoSRule) Check() error {
	switch {
	case r.Prio < 0:
		return fmt.Errorf("rule %d: priority must be 0 or more", r.Prio)
	case r.Class == "":
		return fmt.Errorf("rule %d: no class", r.Prio)
	case r.DSCP < -1 || r.DSCP > 63:
		return fmt.Errorf("rule %d: DSCP %d out of range 0-63", r.Prio, r.DSCP)
	case r.Proto < -1 || r.Proto > 255:
		return fmt.Errorf("rule %d: protocol %d out of range 0-255", r.Prio, r.Proto)
	case r.Sport[0] > r.Sport[1] || r.Dport[0] > r.Dport[1]:
		return fmt.Errorf("rule %d: port range with its low end above its high end", r.Prio)
	case r.Src.IsValid() && r.Dst.IsValid() && r.Src.Addr().Is4() != r.Dst.Addr().Is4():
		return fmt.Errorf("rule %d: source %s and destination %s are of different families", r.Prio, r.Src, r.Dst)
	}
	for _, p := range []netip.Prefix{r.Src, r.Dst} {
		if p.IsValid() && (p.Addr().Zone() != "" || p.Addr().Is4In6() || p != p.Masked()) {
			return fmt.Errorf("rule %d: prefix %s has host bits set or a zone", r.Prio, p)
		}
	}
	return nil
}

// Match criteria bits of a compiled rule.
const (
	mDSCP = 1 << iota
	mProto
	mSport
	mDport
	mSrc
	mDst
	m4 // IPv4 only
	m6 // IPv6 only
	mIP
)

// qosMatch is a rule compiled for the data path: masks instead of
// prefixes, no pointers.
type qosMatch struct {
	flags       uint16
	dscp, proto uint8
	sport       [2]uint16
	dport       [2]uint16
	src, srcM   [2]uint64 // IPv4: in the low 32 bits of [1]
	dst, dstM   [2]uint64
	class       int // index in QoS.Classes
}

// NewQoS builds an interface's QoS configuration; classes must list
// parents before children (the tree itself is validated by the
// scheduler), and every rule's class and def (when not "") must be a leaf.
func NewQoS(ifname string, rate uint64, linkQueue time.Duration, classes []hfsc.ClassConfig, rules []QoSRule, def string) (*QoS, error) {
	q := &QoS{Ifname: ifname, Rate: rate, LinkQueue: linkQueue, Default: def, defIdx: -1,
		Classes: append([]hfsc.ClassConfig(nil), classes...), Rules: append([]QoSRule(nil), rules...)}
	sort.SliceStable(q.Rules, func(a, b int) bool { return q.Rules[a].Prio < q.Rules[b].Prio })
	byName := make(map[string]int, len(q.Classes))
	for i, c := range q.Classes {
		byName[c.Name] = i
	}
	leaf := func(name string) (int, error) {
		i, ok := byName[name]
		if !ok {
			return -1, fmt.Errorf("no class %q", name)
		}
		if !q.Classes[i].Leaf {
			return -1, fmt.Errorf("class %q is not a leaf", name)
		}
		return i, nil
	}
	if def != "" {
		i, err := leaf(def)
		if err != nil {
			return nil, fmt.Errorf("default: %w", err)
		}
		q.defIdx = i
	}
	q.match = make([]qosMatch, len(q.Rules))
	for k, r := range q.Rules {
		if k > 0 && q.Rules[k-1].Prio == r.Prio {
			return nil, fmt.Errorf("two rules with priority %d", r.Prio)
		}
		if err := r.Check(); err != nil {
			return nil, err
		}
		i, err := leaf(r.Class)
		if err != nil {
			return nil, fmt.Errorf("rule %d: %w", r.Prio, err)
		}
		q.match[k] = compileRule(r, i)
	}
	return q, nil
}

func compileRule(r QoSRule, class int) qosMatch {
	m := qosMatch{class: class, sport: r.Sport, dport: r.Dport}
	if r.DSCP >= 0 {
		m.flags |= mDSCP | mIP
		m.dscp = uint8(r.DSCP)
	}
	if r.Proto >= 0 {
		m.flags |= mProto | mIP
		m.proto = uint8(r.Proto)
	}
	if r.Sport != [2]uint16{} {
		m.flags |= mSport | mIP
	}
	if r.Dport != [2]uint16{} {
		m.flags |= mDport | mIP
	}
	pfx := func(p netip.Prefix) (v, mask [2]uint64) {
		if p.Addr().Is4() {
			m.flags |= m4
			a := p.Addr().As4()
			v[1] = uint64(binary.BigEndian.Uint32(a[:]))
			mask[1] = uint64(^uint32(0) << (32 - p.Bits()) & 0xffffffff)
			if p.Bits() == 0 {
				mask[1] = 0
			}
		} else {
			m.flags |= m6
			a := p.Addr().As16()
			v[0], v[1] = binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:])
			b := p.Bits()
			if b > 64 {
				mask[0], mask[1] = ^uint64(0), ^uint64(0)<<(128-b)
			} else if b > 0 {
				mask[0] = ^uint64(0) << (64 - b)
			}
		}
		return v, mask
	}
	if r.Src.IsValid() {
		m.flags |= mSrc | mIP
		m.src, m.srcM = pfx(r.Src)
	}
	if r.Dst.IsValid() {
		m.flags |= mDst | mIP
		m.dst, m.dstM = pfx(r.Dst)
	}
	return m
}

// pktKey is what the classifier reads from a packet.
type pktKey struct {
	fam         uint8 // 0 (not IP), 4 or 6
	ports       bool  // sport and dport are valid
	dscp, proto uint8
	sport       uint16
	dport       uint16
	src, dst    [2]uint64
}

// NoRule is the rule index Classify returns for packets that matched no
// rule (they go to the default class).
const NoRule = -1

// Classify finds the class of an Ethernet frame: it returns the index of
// the first matching rule (NoRule if none) and the index in Classes of the
// leaf (-1: no rule matched and there is no default class). It does not
// allocate.
func (q *QoS) Classify(frame []byte) (rule, class int) {
	if len(q.match) == 0 {
		return NoRule, q.defIdx
	}
	var k pktKey
	parseKey(frame, &k)
	for i := range q.match {
		m := &q.match[i]
		if m.matches(&k) {
			return i, m.class
		}
	}
	return NoRule, q.defIdx
}

func (m *qosMatch) matches(k *pktKey) bool {
	f := m.flags
	if f == 0 {
		return true
	}
	if f&mIP != 0 && k.fam == 0 || f&m4 != 0 && k.fam != 4 || f&m6 != 0 && k.fam != 6 {
		return false
	}
	if f&mDSCP != 0 && k.dscp != m.dscp || f&mProto != 0 && k.proto != m.proto {
		return false
	}
	if f&mSrc != 0 && (k.src[0]&m.srcM[0] != m.src[0] || k.src[1]&m.srcM[1] != m.src[1]) {
		return false
	}
	if f&mDst != 0 && (k.dst[0]&m.dstM[0] != m.dst[0] || k.dst[1]&m.dstM[1] != m.dst[1]) {
		return false
	}
	if f&(mSport|mDport) != 0 {
		if !k.ports {
			return false
		}
		if f&mSport != 0 && (k.sport < m.sport[0] || k.sport > m.sport[1]) {
			return false
		}
		if f&mDport != 0 && (k.dport < m.dport[0] || k.dport > m.dport[1]) {
			return false
		}
	}
	return true
}

// hasPorts reports whether protocol p's header starts with 16-bit source
// and destination ports.
func hasPorts(p uint8) bool { return p == 6 || p == 17 || p == 132 || p == 136 }

// parseKey reads the classification key of an Ethernet frame (one VLAN
// tag allowed); malformed or truncated headers leave fields unset.
func parseKey(f []byte, k *pktKey) {
	if len(f) < 14 {
		return
	}
	et := binary.BigEndian.Uint16(f[12:14])
	ip := f[14:]
	if et == 0x8100 || et == 0x88a8 {
		if len(f) < 18 {
			return
		}
		et = binary.BigEndian.Uint16(f[16:18])
		ip = f[18:]
	}
	switch et {
	case 0x0800:
		if len(ip) < 20 || ip[0]>>4 != 4 {
			return
		}
		ihl := int(ip[0]&0x0f) * 4
		if ihl < 20 || len(ip) < ihl {
			return
		}
		k.fam = 4
		k.dscp = ip[1] >> 2
		k.proto = ip[9]
		k.src[1] = uint64(binary.BigEndian.Uint32(ip[12:16]))
		k.dst[1] = uint64(binary.BigEndian.Uint32(ip[16:20]))
		if binary.BigEndian.Uint16(ip[6:8])&0x1fff == 0 && hasPorts(k.proto) && len(ip) >= ihl+4 {
			k.ports = true
			k.sport = binary.BigEndian.Uint16(ip[ihl:])
			k.dport = binary.BigEndian.Uint16(ip[ihl+2:])
		}
	case 0x86dd:
		if len(ip) < 40 || ip[0]>>4 != 6 {
			return
		}
		k.fam = 6
		k.dscp = uint8(binary.BigEndian.Uint16(ip[0:2])>>4) >> 2
		k.src[0], k.src[1] = binary.BigEndian.Uint64(ip[8:16]), binary.BigEndian.Uint64(ip[16:24])
		k.dst[0], k.dst[1] = binary.BigEndian.Uint64(ip[24:32]), binary.BigEndian.Uint64(ip[32:40])
		nh, off, first := ip[6], 40, true
		// Skip extension headers (a bounded number) to the upper layer.
	ext:
		for range 8 {
			switch nh {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(ip) < off+8 {
					break ext
				}
				nh, off = ip[off], off+(int(ip[off+1])+1)*8
			case 44: // fragment
				if len(ip) < off+8 {
					break ext
				}
				first = binary.BigEndian.Uint16(ip[off+2:off+4])&0xfff8 == 0
				nh, off = ip[off], off+8
			case 51: // authentication header
				if len(ip) < off+8 {
					break ext
				}
				nh, off = ip[off], off+(int(ip[off+1])+2)*4
			default:
				break ext
			}
		}
		k.proto = nh
		if first && hasPorts(nh) && len(ip) >= off+4 {
			k.ports = true
			k.sport = binary.BigEndian.Uint16(ip[off:])
			k.dport = binary.BigEndian.Uint16(ip[off+2:])
		}
	}
}

// ClassIndex is the position of class name in Classes, or -1.
func (q *QoS) ClassIndex(name string) int {
	for i, c := range q.Classes {
		if c.Name == name {
			return i
		}
	}
	return -1
}
