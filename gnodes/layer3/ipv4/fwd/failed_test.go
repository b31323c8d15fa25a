package ipv4fwd_test

import (
	"testing"

	"github.com/r2go/r2/fwd"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/msg"
)

// A member whose next hop the control side marked failed
// (fwd.Interface.FailedNextHops) carries nothing; its flows go to the
// other members and theirs stay. Cleared, its flows come back.
func TestECMPFailedNextHop(t *testing.T) {
	h, mux := ecmpSetup(t, group(t, nil, gw(1, "10.1.0.10"), gw(1, "10.1.0.11"), gw(2, "10.2.0.10")))
	mk := func(i int) []byte { return flowPkt(i, hdr.ProtoUDP) }
	before := spread(t, h, mux, 300, mk)
	mark := func(failed ...uint32) {
		eth0 := intfs().Get(1).Clone()
		eth0.FailedNextHops = failed
		h.Control(msg.Interfaces{Snapshot: intfs().With(eth0)})
	}
	mark(gt.IP("10.1.0.11"))
	after := spread(t, h, mux, 300, mk)
	moved := 0
	for i := range before {
		switch {
		case after[i] == gt.IP("10.1.0.11"):
			t.Fatalf("flow %d still on the failed next hop", i)
		case before[i] == gt.IP("10.1.0.11"):
			moved++
		case after[i] != before[i]:
			t.Errorf("flow %d of a healthy member moved from %s to %s", i, fwd.U32ToIPv4(before[i]), fwd.U32ToIPv4(after[i]))
		}
	}
	if moved == 0 {
		t.Fatal("no flow was on the member that failed")
	}
	mark()
	again := spread(t, h, mux, 300, mk)
	for i := range before {
		if again[i] != before[i] {
			t.Fatalf("flow %d on %s after recovery, want %s", i, fwd.U32ToIPv4(again[i]), fwd.U32ToIPv4(before[i]))
		}
	}
	h.Done()
}
