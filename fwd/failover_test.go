package fwd

import "testing"

// TestFailover: from a member that cannot carry traffic, both families
// move to the next usable member in order, wrapping around, skipping
// members whose interface is down, missing, or whose next hop failed.
func TestFailover(t *testing.T) {
	up1, up2, up3 := testIntf(1, "a"), testIntf(2, "b"), testIntf(3, "c")
	down2 := testIntf(2, "b")
	down2.Up = false
	failed3 := testIntf(3, "c")
	failed3.FailedNextHops = []uint32{0x0a030001}
	failed3.FailedNextHops6 = [][16]byte{{0x20, 0x01, 3: 3, 15: 1}}
	var none *Interfaces
	all := none.With(up1).With(up2).With(up3)

	g4, err := NewGroup([]Adjacency{
		{Kind: AdjGateway, Ifindex: 1, NextHop: 0x0a010001},
		{Kind: AdjGateway, Ifindex: 2, NextHop: 0x0a020001},
		{Kind: AdjGateway, Ifindex: 3, NextHop: 0x0a030001},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g6, err := NewGroup6([]Adjacency6{
		{Kind: AdjGateway, Ifindex: 1, NextHop: [16]byte{0x20, 0x01, 3: 1, 15: 1}},
		{Kind: AdjGateway, Ifindex: 2, NextHop: [16]byte{0x20, 0x01, 3: 2, 15: 1}},
		{Kind: AdjGateway, Ifindex: 3, NextHop: [16]byte{0x20, 0x01, 3: 3, 15: 1}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		intfs *Interfaces
		from  int
		want  int32 // ifindex of the member chosen; -1: none
	}{
		{"next", all, 0, 2},
		{"wraps", all, 2, 1},
		{"skips down", all.With(down2), 0, 3},
		{"skips missing", all.Without(2), 0, 3},
		{"skips failed next hop", all.With(failed3), 1, 1},
		{"none left", none.With(up1).With(down2).With(failed3), 0, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a4, o4, ok4 := g4.Failover(tc.from, tc.intfs)
			a6, o6, ok6 := g6.Failover(tc.from, tc.intfs)
			if tc.want < 0 {
				if ok4 || ok6 {
					t.Fatalf("IPv4 %v %v, IPv6 %v %v: want none", a4, ok4, a6, ok6)
				}
				return
			}
			if !ok4 || a4.Ifindex != tc.want || o4.Ifindex != tc.want {
				t.Errorf("IPv4: %v on %v (%v), want ifindex %d", a4, o4, ok4, tc.want)
			}
			if !ok6 || a6.Ifindex != tc.want || o6.Ifindex != tc.want {
				t.Errorf("IPv6: %v on %v (%v), want ifindex %d", a6, o6, ok6, tc.want)
			}
		})
	}
}
