package main

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/r2go/r2/r2/ctl"
)

func kn(link int, ip, mac string, state int) Neigh {
	return Neigh{LinkIndex: link, IP: addr(ip), MAC: mac, State: state}
}

// TestNeighbours: the kernel's usable neighbours on followed interfaces
// and R2's subnets become R2 kernel neighbours; state changes R2 would not
// see send nothing; failed, incomplete, NOARP and deleted entries leave
// R2; a resync sends only the differences; an operator's static entry is
// never touched.
func TestNeighbours(t *testing.T) {
	f, r2 := newTest(t, 1000)
	d := baseDump(3)
	d.Neighs = []Neigh{
		kn(3, "10.2.0.1", "02:00:00:00:00:21", nudReachable),
		kn(2, "fe80::1", "02:00:00:00:00:11", nudStale),
		kn(2, "2001:db8:1::1", "02:00:00:00:00:12", nudPermanent),
		kn(2, "10.1.0.5", "", nudFailed),
		kn(3, "10.2.0.9", "", nudIncomplete),
		kn(3, "10.2.0.7", "02:00:00:00:00:27", nudNoARP),
		kn(3, "224.0.0.22", "01:00:5e:00:00:16", nudNoARP),
		kn(4, "192.168.0.1", "02:00:00:00:00:41", nudReachable), // eth0: not followed
		kn(3, "10.9.9.9", "02:00:00:00:00:99", nudPermanent),    // off R2's subnets
	}
	f.Replace(d)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.Connect(r2))
	mustFlush(t, f)
	// An operator's static entry, which the follower must leave alone.
	m, _ := net.ParseMAC("02:00:00:00:00:50")
	r2.neighs[ifIP{"veth1", addr("10.2.0.50")}] = ctl.Neighbour{Ifname: "veth1", IP: addr("10.2.0.50"), MAC: m, Kind: ctl.NeighStatic}
	operator := "veth1 10.2.0.50 02:00:00:00:00:50 static"
	want := map[string]bool{
		"veth1 10.2.0.1 02:00:00:00:00:21 kernel":      true,
		"veth0 fe80::1 02:00:00:00:00:11 kernel":       true,
		"veth0 2001:db8:1::1 02:00:00:00:00:12 kernel": true,
		operator: true,
	}
	if diff := cmp.Diff(want, r2.neighList()); diff != "" {
		t.Fatalf("R2's neighbours (-want +got):\n%s", diff)
	}
	if f.Stats.NeighsKernel != 3 || f.Stats.NeighsR2 != 3 || f.Stats.NeighAdded != 3 || f.Stats.Skipped["neighbour not on a subnet of R2"] != 1 {
		t.Errorf("stats: %+v", f.Stats)
	}

	// reachable -> stale, same MAC: nothing to send, no flush.
	r2.reset()
	f.Apply(Event{Op: OpNeighSet, Neigh: kn(3, "10.2.0.1", "02:00:00:00:00:21", nudStale)})
	f.Apply(Event{Op: OpNeighSet, Neigh: kn(4, "192.168.0.1", "02:00:00:00:00:42", nudReachable)})
	if f.Pending() {
		t.Error("a change R2 does not see made a flush pending")
	}
	// Changes: 10.2.0.1 fails, 10.1.0.5 answers, fe80::1 moves, the
	// permanent entry is deleted.
	f.Apply(Event{Op: OpNeighSet, Neigh: kn(3, "10.2.0.1", "", nudFailed)})
	f.Apply(Event{Op: OpNeighSet, Neigh: kn(2, "10.1.0.5", "02:00:00:00:00:15", nudReachable)})
	f.Apply(Event{Op: OpNeighSet, Neigh: kn(2, "fe80::1", "02:00:00:00:00:13", nudDelay)})
	f.Apply(Event{Op: OpNeighDel, Neigh: kn(2, "2001:db8:1::1", "02:00:00:00:00:12", nudPermanent)})
	mustFlush(t, f)
	want = map[string]bool{
		"veth0 10.1.0.5 02:00:00:00:00:15 kernel": true,
		"veth0 fe80::1 02:00:00:00:00:13 kernel":  true,
		operator:                                  true,
	}
	if diff := cmp.Diff(want, r2.neighList()); diff != "" {
		t.Fatalf("R2's neighbours after changes (-want +got):\n%s", diff)
	}
	if r2.calls["add_neighbours"] != 1 || r2.calls["del_neighbours"] != 1 || r2.sent["add_neighbours"] != 2 ||
		r2.sent["del_neighbours"] != 2 || r2.calls["add_batch"]+r2.calls["del_batch"] != 0 {
		t.Errorf("calls %v, sent %v; want one batch of 2 additions and one of 2 deletions of neighbours only", r2.calls, r2.sent)
	}

	// A resync (overflow): only the differences.
	r2.reset()
	d2 := baseDump(3)
	d2.Neighs = []Neigh{
		kn(2, "10.1.0.5", "02:00:00:00:00:15", nudStale),
		kn(2, "fe80::1", "02:00:00:00:00:13", nudReachable),
		kn(3, "10.2.0.3", "02:00:00:00:00:23", nudReachable),
	}
	f.Replace(d2)
	mustFlush(t, f)
	if r2.sent["add_neighbours"] != 1 || r2.calls["del_neighbours"] != 0 || !r2.neighList()["veth1 10.2.0.3 02:00:00:00:00:23 kernel"] {
		t.Errorf("resync: calls %v, R2 has %v", r2.calls, r2.neighList())
	}

	// R2 refuses one of a batch: the others get in, the refusal is counted.
	r2.reset()
	r2.refuseN = addr("10.2.0.66")
	f.Apply(Event{Op: OpNeighSet, Neigh: kn(3, "10.2.0.66", "02:00:00:00:00:66", nudReachable)})
	f.Apply(Event{Op: OpNeighSet, Neigh: kn(3, "10.2.0.67", "02:00:00:00:00:67", nudReachable)})
	mustFlush(t, f)
	if !r2.neighList()["veth1 10.2.0.67 02:00:00:00:00:67 kernel"] || f.Stats.NeighRefused != 1 || r2.calls["add_neighbours"] != 3 {
		t.Errorf("a refused neighbour in a batch: R2 has %v, refused %d, calls %v", r2.neighList(), f.Stats.NeighRefused, r2.calls)
	}
	f.Apply(Event{Op: OpNeighDel, Neigh: kn(3, "10.2.0.66", "", 0)})
	f.Apply(Event{Op: OpNeighDel, Neigh: kn(3, "10.2.0.67", "", 0)})
	mustFlush(t, f)

	// R2 restarts: reconnecting sends every kernel neighbour again.
	r2.restart()
	f.Apply(Event{Op: OpNeighSet, Neigh: kn(3, "10.2.0.4", "02:00:00:00:00:24", nudReachable)})
	if err := f.Flush(); err == nil || Refused(err) {
		t.Fatalf("Flush after R2 restarted: %v; want a connection error", err)
	}
	must(f.Connect(r2))
	mustFlush(t, f)
	if len(r2.neighs) != 4 || f.Stats.NeighsR2 != 4 {
		t.Errorf("after R2's restart: %v (stats %d)", r2.neighList(), f.Stats.NeighsR2)
	}
	// An address goes: the neighbours of its subnet leave R2 first.
	f.Apply(Event{Op: OpAddrDel, Addr: Addr{2, pfx("10.1.0.2/24")}})
	mustFlush(t, f)
	if _, ok := r2.neighs[ifIP{"veth0", addr("10.1.0.5")}]; ok || len(r2.neighs) != 3 {
		t.Errorf("after the address went: %v", r2.neighList())
	}
	// The interface goes: so do its neighbours, in R2 and in the record.
	f.Apply(Event{Op: OpLinkDel, Link: Link{Index: 3, Name: "veth1"}})
	mustFlush(t, f)
	if f.Stats.NeighsR2 != 1 {
		t.Errorf("after veth1 went the follower thinks R2 has %d kernel neighbours, want 1 (fe80::1)", f.Stats.NeighsR2)
	}
}

// TestResolveGateways: gateways of R2's routes without a usable kernel
// neighbour are asked for, each at most every resolveEvery, and no more
// once the kernel has them.
func TestResolveGateways(t *testing.T) {
	f, r2 := newTest(t, 1000)
	var asked []string
	f.cfg.ResolveNeigh = func(link int, ip netip.Addr) error {
		asked = append(asked, ip.String())
		if link != map[string]int{"10.1.0.1": 2, "10.2.0.1": 3, "2001:db8:1::1": 2}[ip.String()] {
			t.Errorf("%s asked on link %d", ip, link)
		}
		return nil
	}
	d := baseDump(5) // via 10.2.0.1 on veth1
	mp := kr("40.0.0.0/8", "10.1.0.1", 2)
	mp.NHs = append(mp.NHs, NextHop{Gw: addr("10.2.0.1"), OIF: 3, Weight: 1})
	d.Routes = append(d.Routes, mp, kr("2001:db8:8::/48", "2001:db8:1::1", 2))
	d.Neighs = []Neigh{kn(3, "10.2.0.1", "02:00:00:00:00:21", nudReachable), kn(2, "10.1.0.1", "", nudFailed)}
	f.Replace(d)
	if err := f.Connect(r2); err != nil {
		t.Fatal(err)
	}
	mustFlush(t, f)
	if diff := cmp.Diff([]string{"10.1.0.1", "2001:db8:1::1"}, asked); diff != "" {
		t.Fatalf("asked (-want +got):\n%s", diff)
	}
	now := time.Now()
	f.ResolveGateways(now.Add(time.Second))
	if len(asked) != 2 {
		t.Fatalf("asked again within %v: %v", resolveEvery, asked)
	}
	f.Apply(Event{Op: OpNeighSet, Neigh: kn(2, "10.1.0.1", "02:00:00:00:00:11", nudReachable)})
	f.ResolveGateways(now.Add(resolveEvery + time.Second))
	if diff := cmp.Diff([]string{"10.1.0.1", "2001:db8:1::1", "2001:db8:1::1"}, asked); diff != "" {
		t.Fatalf("after %v (-want +got):\n%s", resolveEvery, diff)
	}
	if f.Stats.NeighResolves != 3 {
		t.Errorf("neigh_resolves %d, want 3", f.Stats.NeighResolves)
	}
	// The route goes: its gateway is not asked for any more.
	f.Apply(Event{Op: OpRouteDel, Route: kr("2001:db8:8::/48", "2001:db8:1::1", 2)})
	mustFlush(t, f)
	f.ResolveGateways(now.Add(3 * resolveEvery))
	if len(asked) != 3 {
		t.Errorf("a gateway no route uses was asked for: %v", asked)
	}
}
