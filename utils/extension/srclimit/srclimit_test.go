package srclimit_test

import (
	"testing"

	"github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/store"

	"example.com/r2ext/shared"
	"example.com/r2ext/srccount"
	"example.com/r2ext/srclimit"
)

func ipv4(src uint32) []byte {
	b := make([]byte, hdr.EtherLen+hdr.IPv4MinLen)
	hdr.PutIPv4(b[hdr.EtherLen:], 0, hdr.IPv4MinLen, 1, 64, hdr.ProtoUDP, src, 0x0a020001)
	return b
}

// TestCountThenLimit runs SrcCount and SrcLimit on one thread: SrcLimit
// drops what SrcCount counted beyond the published limit, per source /24.
func TestCountThenLimit(t *testing.T) {
	s := store.New(nil)
	th := store.NewThread(s.Current())
	h := graphtest.New(t, graphtest.Options{Store: th})
	graphtest.Add(h, &srccount.Node{})
	graphtest.Add(h, &srclimit.Node{})
	out := h.Sink(names.IPv4Fwd)
	h.G.Intercept(names.IPv4Fwd, []string{srccount.Name, srclimit.Name})
	h.Finalize()

	// One packet a run, like a ping: within a run SrcCount counts the whole
	// vector before SrcLimit looks, so a burst is judged by its end count.
	send := func(src uint32, n int) {
		for i := 0; i < n; i++ {
			h.Inject(srccount.Name, h.L3(ipv4(src)))
			h.RunUntilIdle()
		}
	}
	a, b := uint32(0x0a010001), uint32(0x0a090001)
	send(a, 5) // no limit published yet: all pass
	if out.Len() != 5 {
		t.Fatalf("without a limit %d of 5 passed", out.Len())
	}
	s.Publish(shared.KeySrcLimit, uint64(7))
	th.Swap(s.Current())
	h.Control(msg.Store{Snapshot: s.Current()})
	send(a, 5)   // counts 6..10: 6 and 7 pass, 8..10 dropped
	send(b, 3)   // another /24 is not affected
	send(a+1, 1) // the same /24: dropped
	if got, want := out.Len(), 5+2+3; got != want {
		t.Errorf("passed %d, want %d", got, want)
	}
	h.ExpectCountersPrefix(map[string]uint64{
		"SrcCount/counted":    14,
		"SrcLimit/passed":     10,
		"SrcLimit/over_limit": 4,
	}, "SrcCount/counted", "SrcLimit/passed", "SrcLimit/over_limit")
	cells := store.LocalOf(th, shared.KeySrcCounts, func() *store.Table { return nil }).Cells
	if cells[shared.Slot(a)] != 11 || cells[shared.Slot(b)] != 3 {
		t.Errorf("table: a %d b %d", cells[shared.Slot(a)], cells[shared.Slot(b)])
	}
	h.Free(out.Take()...)

	// A burst: SrcCount counts all 4 of a fresh /24 first, and SrcLimit
	// with a limit of 2 then drops all of them.
	s.Publish(shared.KeySrcLimit, uint64(2))
	th.Swap(s.Current())
	c := uint32(0x0a070001)
	for i := 0; i < 4; i++ {
		h.Inject(srccount.Name, h.L3(ipv4(c)))
	}
	h.RunUntilIdle()
	if out.Len() != 0 {
		t.Errorf("burst over the limit: %d passed", out.Len())
	}
	h.Done()
}
