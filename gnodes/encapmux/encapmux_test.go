package encapmux_test

import (
	"testing"

	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/gnodes/encapmux"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
)

// eth0 at ifindex 0 and eth2 at ifindex 2; ifindex 1 is a hole.
func intfs() *fwd.Interfaces {
	var s *fwd.Interfaces
	s = s.With(&fwd.Interface{Ifindex: 0, Name: "eth0", MTU: 1500, Up: true})
	s = s.With(&fwd.Interface{Ifindex: 2, Name: "eth2", MTU: 1500, Up: true})
	return s
}

func TestMux(t *testing.T) {
	tests := []struct {
		name    string
		out     int32
		sink    string // "" if dropped
		counter string
	}{
		{name: "ifindex 0", out: 0, sink: "EtherEncap:eth0"},
		{name: "ifindex 2", out: 2, sink: "EtherEncap:eth2"},
		{name: "hole", out: 1, counter: "EncapMux/no_intf"},
		{name: "unset (-1)", out: -1, counter: "EncapMux/no_intf"},
		{name: "beyond the largest", out: 3, counter: "EncapMux/bad_ifindex"},
		{name: "far beyond", out: fwd.MaxIfindex + 5, counter: "EncapMux/bad_ifindex"},
		{name: "negative", out: -2, counter: "EncapMux/bad_ifindex"},
		{name: "most negative", out: -1 << 31, counter: "EncapMux/bad_ifindex"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := gt.New(t, gt.Options{})
			gt.Add(h, encapmux.New(intfs()))
			sinks := map[string]*gt.Sink{"EtherEncap:eth0": h.Sink(names.EtherEncap("eth0")), "EtherEncap:eth2": h.Sink(names.EtherEncap("eth2"))}
			p := h.Frame([]byte{0x45, 1, 2, 3})
			p.OutIfindex = tc.out
			h.Inject(names.EncapMux, p)
			h.RunUntilIdle()
			want := map[string]uint64{"EncapMux/enq": 1}
			if tc.counter != "" {
				want[tc.counter] = 1
			} else {
				want[tc.sink+"/enq"] = 1
			}
			for name, s := range sinks {
				n := 0
				if name == tc.sink {
					n = 1
				}
				if s.Len() != n {
					t.Errorf("%s got %d packets, want %d", name, s.Len(), n)
				}
			}
			h.ExpectCounters(want)
			h.Done()
		})
	}
}

// TestInterfaceAdded: after msg.Interfaces and the new EtherEncap are added
// and the graph is re-finalized (what a thread does for an interface
// add), packets for the new ifindex reach it; before, they were counted.
func TestInterfaceAdded(t *testing.T) {
	h := gt.New(t, gt.Options{})
	gt.Add(h, encapmux.New(intfs()))
	e0 := h.Sink(names.EtherEncap("eth0"))
	e2 := h.Sink(names.EtherEncap("eth2"))
	send := func(out int32) {
		p := h.Frame([]byte{0x45})
		p.OutIfindex = out
		h.Inject(names.EncapMux, p)
		h.RunUntilIdle()
	}
	send(1)
	send(5)
	h.ExpectCountersPrefix(map[string]uint64{"EncapMux/enq": 2, "EncapMux/no_intf": 1, "EncapMux/bad_ifindex": 1}, "EncapMux/")

	s := intfs().With(&fwd.Interface{Ifindex: 1, Name: "eth1", MTU: 1500, Up: true})
	s = s.With(&fwd.Interface{Ifindex: 5, Name: "eth5", MTU: 1500, Up: true})
	h.Control(msg.Interfaces{Snapshot: s})
	e1 := h.Sink(names.EtherEncap("eth1"))
	e5 := h.Sink(names.EtherEncap("eth5"))
	h.Finalize()
	for _, out := range []int32{0, 1, 2, 5} {
		send(out)
	}
	for name, s := range map[string]*gt.Sink{"eth0": e0, "eth1": e1, "eth2": e2, "eth5": e5} {
		if s.Len() != 1 {
			t.Errorf("EtherEncap:%s got %d packets, want 1", name, s.Len())
		}
	}
	// Interface eth5 removed: its node leaves the graph; EncapMux counts
	// the ifindex as unknown again.
	h.Control(msg.Interfaces{Snapshot: s.Without(5)})
	h.G.Remove(names.EtherEncap("eth5"))
	send(5)
	h.ExpectCounters(map[string]uint64{
		"EncapMux/enq": 7, "EncapMux/no_intf": 1, "EncapMux/bad_ifindex": 2,
		"EtherEncap:eth0/enq": 1, "EtherEncap:eth1/enq": 1, "EtherEncap:eth2/enq": 1,
	})
	h.Free(e5.Take()...)
	h.Done()
}

// TestInterfaceWithoutNode: an ifindex in the snapshot whose EtherEncap is
// not (yet) in the graph resolves to Drop.
func TestInterfaceWithoutNode(t *testing.T) {
	h := gt.New(t, gt.Options{})
	gt.Add(h, encapmux.New(intfs()))
	h.Sink(names.EtherEncap("eth0"))
	p := h.Frame([]byte{0x45})
	p.OutIfindex = 2
	h.Inject(names.EncapMux, p)
	h.RunUntilIdle()
	h.ExpectCounters(map[string]uint64{"EncapMux/enq": 1, "Drop/pkts": 1})
	h.Done()
}
