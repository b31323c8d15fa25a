package fwd

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/r2go/r2/r2/sched/hfsc"
)

// fuzzRules makes up to 8 rules from b, over 4 leaves.
func fuzzRules(b []byte) []QoSRule {
	var rules []QoSRule
	for i := 0; len(b) >= 12 && i < 8; i++ {
		r := QoSRule{Prio: i, Class: []string{"l0", "l1", "l2", "l3"}[b[0]&3], DSCP: -1, Proto: -1}
		if b[0]&4 != 0 {
			r.DSCP = int(b[1] & 63)
		}
		if b[0]&8 != 0 {
			r.Proto = []int{6, 17, 1, 58, 132}[int(b[2])%5]
		}
		if b[0]&16 != 0 {
			lo := uint16(b[3])
			r.Dport = [2]uint16{lo, lo + uint16(b[4])}
		}
		if b[0]&32 != 0 {
			lo := uint16(b[4]) << 4
			r.Sport = [2]uint16{lo, lo + uint16(b[5])}
		}
		if b[0]&64 != 0 {
			if b[6]&1 == 0 {
				a := netip.AddrFrom4([4]byte{10, b[7] & 3, b[8] & 1, b[9]})
				r.Src = netip.PrefixFrom(a, int(b[10])%33).Masked()
			} else {
				var x [16]byte
				x[0], x[1], x[15] = 0x20, b[7]&3, b[9]
				r.Dst = netip.PrefixFrom(netip.AddrFrom16(x), int(b[10])%129).Masked()
			}
		}
		rules = append(rules, r)
		b = b[12:]
	}
	return rules
}

// refMatch is a rule's meaning, written plainly with netip.
func refMatch(r QoSRule, k pktKey) bool {
	addr := func(v [2]uint64) netip.Addr {
		if k.fam == 4 {
			return netip.AddrFrom4([4]byte{byte(v[1] >> 24), byte(v[1] >> 16), byte(v[1] >> 8), byte(v[1])})
		}
		var a [16]byte
		binary.BigEndian.PutUint64(a[:8], v[0])
		binary.BigEndian.PutUint64(a[8:], v[1])
		return netip.AddrFrom16(a)
	}
	needIP := r.DSCP >= 0 || r.Proto >= 0 || r.Src.IsValid() || r.Dst.IsValid() || r.Sport != [2]uint16{} || r.Dport != [2]uint16{}
	if needIP && k.fam == 0 {
		return false
	}
	if r.DSCP >= 0 && int(k.dscp) != r.DSCP || r.Proto >= 0 && int(k.proto) != r.Proto {
		return false
	}
	if r.Src.IsValid() && !r.Src.Contains(addr(k.src)) || r.Dst.IsValid() && !r.Dst.Contains(addr(k.dst)) {
		return false
	}
	inRange := func(p uint16, rg [2]uint16) bool { return p >= rg[0] && p <= rg[1] }
	if r.Sport != [2]uint16{} && (!k.ports || !inRange(k.sport, r.Sport)) {
		return false
	}
	if r.Dport != [2]uint16{} && (!k.ports || !inRange(k.dport, r.Dport)) {
		return false
	}
	return true
}

// FuzzClassify checks the compiled classifier against the rules' plain
// meaning on arbitrary frames and rule sets.
func FuzzClassify(f *testing.F) {
	f.Add(make([]byte, 48), frame4("10.1.0.1", "10.2.0.1", 46<<2, 17, 0, ports(1, 2)))
	f.Add([]byte{0xff, 1, 1, 0, 255, 9, 0, 1, 0, 1, 16, 0}, frame6("2001::1", "2001::2", 0, 17, []uint8{0}, ports(5, 6)))
	f.Fuzz(func(t *testing.T, rb, frame []byte) {
		rules := fuzzRules(rb)
		var classes []hfsc.ClassConfig
		for _, n := range []string{"l0", "l1", "l2", "l3"} {
			classes = append(classes, hfsc.ClassConfig{Name: n, Leaf: true, QLimit: 1, LS: &hfsc.Curve{M1: 1, M2: 1}})
		}
		q, err := NewQoS("x", 1e6, 0, classes, rules, "l0")
		if err != nil {
			t.Fatal(err)
		}
		ri, ci := q.Classify(frame)
		var k pktKey
		parseKey(frame, &k)
		want := NoRule
		for i, r := range q.Rules {
			if refMatch(r, k) {
				want = i
				break
			}
		}
		if ri != want {
			t.Fatalf("rule %d, want %d (key %+v, rules %v)", ri, want, k, q.Rules)
		}
		wantC := 0
		if want >= 0 {
			wantC = q.ClassIndex(q.Rules[want].Class)
		}
		if ci != wantC {
			t.Fatalf("class %d, want %d", ci, wantC)
		}
	})
}
