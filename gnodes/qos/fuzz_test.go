package qos_test

import (
	"testing"

	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/sched/hfsc"
)

// FuzzNode pushes arbitrary frames through the node under arbitrary rules
// and a class tree with small queues, reconfigures it half way, and checks
// that every packet is sent or counted as dropped and that the pool gets
// every packet back.
func FuzzNode(f *testing.F) {
	f.Add([]byte{1, 5, 2, 46, 3, 80}, udpFrame(100, 5), udpFrame(64, 80))
	f.Fuzz(func(t *testing.T, rb, f1, f2 []byte) {
		if len(f1) > 1500 || len(f2) > 1500 {
			return
		}
		classes := []hfsc.ClassConfig{
			{Name: "in", LS: lin(4e6), UL: lin(3e6)},
			{Name: "x", Parent: "in", Leaf: true, QLimit: 4, LS: lin(2e6)},
			{Name: "y", Parent: "in", Leaf: true, QLimit: 3, LS: lin(1e6), RT: &hfsc.Curve{M1: 2e6, D: 1e6, M2: 1e5}},
			{Name: "z", Leaf: true, QLimit: 2, LS: lin(1e6)},
		}
		var rules []fwd.QoSRule
		for i := 0; i+1 < len(rb) && i < 16; i += 2 {
			r := fwd.QoSRule{Prio: i, Class: []string{"x", "y", "z"}[int(rb[i])%3], DSCP: -1, Proto: -1}
			switch rb[i] >> 4 & 3 {
			case 0:
				r.DSCP = int(rb[i+1] & 63)
			case 1:
				r.Dport = [2]uint16{uint16(rb[i+1]), uint16(rb[i+1]) + 10}
			case 2:
				r.Proto = int(rb[i+1])
			}
			rules = append(rules, r)
		}
		q, err := fwd.NewQoS("eth0", 8e6, 0, classes, rules, "z")
		if err != nil {
			t.Fatal(err)
		}
		h, fd, s, c := pipe(t, q, [][]byte{f1, f2})
		fd.n = 20
		h.Run()
		c.ns += 2e6
		h.Run()
		// Drop class y (and its rules) while it may queue packets.
		var keep []fwd.QoSRule
		for _, r := range rules {
			if r.Class != "y" {
				keep = append(keep, r)
			}
		}
		q2, err := fwd.NewQoS("eth0", 8e6, 0, []hfsc.ClassConfig{classes[0], classes[1], classes[3]}, keep, "z")
		if err != nil {
			t.Fatal(err)
		}
		yDrops := h.Counter(qname + "/class/y/drops") // released with y
		h.Control(msg.QoS{Ifname: "eth0", Config: q2})
		fd.n = 20
		runFor(t, h, c, c.ns+10e9)
		dropped := yDrops
		for _, name := range []string{"x", "z"} {
			dropped += h.Counter(qname + "/class/" + name + "/drops")
		}
		// What y queued when deleted is in the node's deleted counter (and
		// in y's drops, gone with y).
		dropped += h.Counter(qname + "/deleted")
		if got := uint64(s.got) + dropped; got != 40 {
			t.Fatalf("sent %d + dropped %d != 40 fed", s.got, dropped)
		}
		h.Done() // the pool has every packet back
	})
}
