package main

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/r2go/r2/apis/common"
	"github.com/r2go/r2/r2/ctl"
)

// fakeR2 is R2's API in memory, with the router's main rules: routes need an
// attached interface and an on-link next hop, batches are all or nothing.
type fakeR2 struct {
	ifs       map[string]map[netip.Prefix]bool
	routes    map[netip.Prefix]ctl.Route
	calls     map[string]int // API calls by method
	sent      map[string]int // routes sent by method
	refuse    map[netip.Prefix]bool
	hostOwned map[string]bool
	neighs    map[ifIP]ctl.Neighbour
	refuseN   netip.Addr // a neighbour R2 refuses
	down      bool       // restarted: the next call fails, state is gone
}

func newFake() *fakeR2 {
	return &fakeR2{ifs: map[string]map[netip.Prefix]bool{}, routes: map[netip.Prefix]ctl.Route{},
		calls: map[string]int{}, sent: map[string]int{}, refuse: map[netip.Prefix]bool{}, hostOwned: map[string]bool{},
		neighs: map[ifIP]ctl.Neighbour{}}
}

func refusal(format string, args ...any) error {
	return &common.ApiErr{Why: fmt.Sprintf(format, args...), Kind: common.ErrKind_INVALID}
}

var errConn = errors.New("connection reset by peer")

// restart loses R2's state; the connection fails once.
func (f *fakeR2) restart() {
	f.ifs = map[string]map[netip.Prefix]bool{}
	f.routes = map[netip.Prefix]ctl.Route{}
	f.hostOwned = map[string]bool{}
	f.neighs = map[ifIP]ctl.Neighbour{}
	f.down = true
}

func (f *fakeR2) call(m string) error {
	f.calls[m]++
	if f.down {
		f.down = false
		return errConn
	}
	return nil
}

func (f *fakeR2) Interfaces() ([]ctl.IfInfo, error) {
	if err := f.call("show"); err != nil {
		return nil, err
	}
	var out []ctl.IfInfo
	for name, as := range f.ifs {
		i := ctl.IfInfo{Name: name, Addrs: []netip.Prefix{netip.MustParsePrefix("fe80::1/64")}, HostOwned: f.hostOwned[name]}
		for p := range as {
			i.Addrs = append(i.Addrs, p)
		}
		out = append(out, i)
	}
	return out, nil
}

func (f *fakeR2) SetHostOwned(name string, on bool) error {
	if err := f.call("set_host_owned"); err != nil {
		return err
	}
	if f.ifs[name] == nil {
		return refusal("no interface %s", name)
	}
	f.hostOwned[name] = on
	return nil
}

func (f *fakeR2) AddInterface(name string) error {
	if err := f.call("add_if"); err != nil {
		return err
	}
	if f.ifs[name] != nil {
		return refusal("interface %s exists", name)
	}
	f.ifs[name] = map[netip.Prefix]bool{}
	return nil
}

func (f *fakeR2) DelInterface(name string) error {
	if err := f.call("del_if"); err != nil {
		return err
	}
	if f.ifs[name] == nil {
		return refusal("no interface %s", name)
	}
	delete(f.ifs, name)
	delete(f.hostOwned, name)
	for k := range f.neighs {
		if k.ifname == name {
			delete(f.neighs, k)
		}
	}
	for p, r := range f.routes {
		if r.Ifname == name {
			delete(f.routes, p)
		}
	}
	return nil
}

func (f *fakeR2) AddAddr(ifname string, p netip.Prefix) error {
	if err := f.call("add_ip"); err != nil {
		return err
	}
	if f.ifs[ifname] == nil {
		return refusal("no interface %s", ifname)
	}
	f.ifs[ifname][p] = true
	return nil
}

func (f *fakeR2) DelAddr(ifname string, p netip.Prefix) error {
	if err := f.call("del_ip"); err != nil {
		return err
	}
	if !f.ifs[ifname][p] {
		return refusal("no address %s on %s", p, ifname)
	}
	delete(f.ifs[ifname], p)
	return nil
}

func (f *fakeR2) onLink(ifname string, a netip.Addr) bool {
	if a.Is6() && a.IsLinkLocalUnicast() {
		return true
	}
	for p := range f.ifs[ifname] {
		if p.Contains(a) && p.Addr() != a {
			return true
		}
	}
	return false
}

func (f *fakeR2) AddRoutes(rs []ctl.Route) error {
	if err := f.call("add_batch"); err != nil {
		return err
	}
	for _, r := range rs {
		switch {
		case r.Kind == ctl.KindDrop:
		case f.ifs[r.Ifname] == nil:
			return refusal("route %s: no interface", r)
		case r.NextHop.IsValid() && !f.onLink(r.Ifname, r.NextHop):
			return refusal("route %s: next hop not on link", r)
		case f.refuse[r.Prefix]:
			return refusal("route %s: refused", r)
		}
	}
	for _, r := range rs {
		f.routes[r.Prefix] = r
	}
	f.sent["add_batch"] += len(rs)
	return nil
}

func (f *fakeR2) DelRoutes(rs []ctl.Route) error {
	if err := f.call("del_batch"); err != nil {
		return err
	}
	for _, r := range rs {
		if _, ok := f.routes[r.Prefix]; !ok {
			return refusal("route %s: no such route", r)
		}
	}
	for _, r := range rs {
		delete(f.routes, r.Prefix)
	}
	f.sent["del_batch"] += len(rs)
	return nil
}

func (f *fakeR2) Routes(offset, limit int) (int, []ctl.Route, error) {
	if err := f.call("show_routes"); err != nil {
		return 0, nil, err
	}
	all := f.list()
	if offset > len(all) {
		offset = len(all)
	}
	return len(all), all[offset:min(len(all), offset+limit)], nil
}

func (f *fakeR2) SetNeighbours(ns []ctl.Neighbour) error {
	if err := f.call("add_neighbours"); err != nil {
		return err
	}
	for _, n := range ns {
		switch {
		case f.ifs[n.Ifname] == nil:
			return refusal("no interface %s", n.Ifname)
		case !f.onLink(n.Ifname, n.IP):
			return refusal("neighbour %s is not on a connected subnet of %s", n.IP, n.Ifname)
		case len(n.MAC) != 6:
			return refusal("bad MAC %v", n.MAC)
		case n.IP == f.refuseN:
			return refusal("neighbour %s refused", n.IP)
		}
	}
	for _, n := range ns {
		f.neighs[ifIP{n.Ifname, n.IP}] = ctl.Neighbour{Ifname: n.Ifname, IP: n.IP, MAC: n.MAC, Kind: ctl.NeighKernel, State: ctl.NeighStatic}
	}
	f.sent["add_neighbours"] += len(ns)
	return nil
}

func (f *fakeR2) DelNeighbours(ns []ctl.Neighbour) error {
	if err := f.call("del_neighbours"); err != nil {
		return err
	}
	for _, n := range ns {
		if _, ok := f.neighs[ifIP{n.Ifname, n.IP}]; !ok {
			return refusal("neighbour %s on %s: not found", n.IP, n.Ifname)
		}
	}
	for _, n := range ns {
		delete(f.neighs, ifIP{n.Ifname, n.IP})
	}
	f.sent["del_neighbours"] += len(ns)
	return nil
}

func (f *fakeR2) Neighbours() ([]ctl.Neighbour, error) {
	if err := f.call("show_neighbours"); err != nil {
		return nil, err
	}
	var out []ctl.Neighbour
	for _, n := range f.neighs {
		out = append(out, n)
	}
	return out, nil
}

// neighList is R2's neighbours as "ifname ip mac kind" lines.
func (f *fakeR2) neighList() map[string]bool {
	out := map[string]bool{}
	for _, n := range f.neighs {
		out[fmt.Sprintf("%s %s %s %s", n.Ifname, n.IP, n.MAC, n.Kind)] = true
	}
	return out
}

func (f *fakeR2) Close() error { return nil }

func (f *fakeR2) list() []ctl.Route {
	var out []ctl.Route
	for _, r := range f.routes {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Prefix.String() < out[j].Prefix.String() })
	return out
}

func (f *fakeR2) reset() { f.calls = map[string]int{}; f.sent = map[string]int{} }

var (
	pfx  = netip.MustParsePrefix
	addr = netip.MustParseAddr
)

func kr(prefix, gw string, oif int) KRoute {
	r := KRoute{Table: tableMain, Prefix: pfx(prefix), Type: rtnUnicast, Protocol: 12}
	nh := NextHop{OIF: oif, Weight: 1}
	if gw != "" {
		nh.Gw = addr(gw)
	}
	r.NHs = []NextHop{nh}
	return r
}

// baseDump: veth0 (10.1.0.2/24, 2001:db8:1::2/64) and veth1 (10.2.0.2/24)
// followed, eth0 not; n routes via 10.2.0.1 plus special cases.
func baseDump(n int) Dump {
	d := Dump{
		Links: []Link{{Index: 2, Name: "veth0", Up: true}, {Index: 3, Name: "veth1", Up: true}, {Index: 4, Name: "eth0", Up: true}},
		Addrs: []Addr{
			{2, pfx("10.1.0.2/24")}, {2, pfx("2001:db8:1::2/64")}, {2, pfx("fe80::2/64")},
			{3, pfx("10.2.0.2/24")}, {4, pfx("192.168.0.2/24")},
		},
	}
	for i := range n {
		d.Routes = append(d.Routes, kr(fmt.Sprintf("20.%d.%d.0/24", i>>8, i&255), "10.2.0.1", 3))
	}
	return d
}

func newTest(t *testing.T, batch int) (*Follower, *fakeR2) {
	f := NewFollower(Config{Patterns: []string{"veth*"}, Batch: batch, Logf: t.Logf, HostOwned: true})
	r2 := newFake()
	return f, r2
}

func mustFlush(t *testing.T, f *Follower) {
	t.Helper()
	if err := f.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func routeSet(rs []ctl.Route) map[string]bool {
	m := map[string]bool{}
	for _, r := range rs {
		m[r.String()] = true
	}
	return m
}

func TestInitialLoad(t *testing.T) {
	f, r2 := newTest(t, 1000)
	d := baseDump(2500)
	local := kr("10.1.0.2/32", "", 2)
	local.Table, local.Type = tableLocal, rtnLocal
	kern := kr("10.1.0.0/24", "", 2)
	kern.Protocol = rtprotKernel
	bh := kr("30.0.0.0/8", "", 2)
	bh.Type = rtnBlackhole
	mp := kr("40.0.0.0/8", "10.1.0.1", 2)
	mp.NHs = append(mp.NHs, NextHop{Gw: addr("10.2.0.1"), OIF: 3, Weight: 1})
	off := kr("50.0.0.0/8", "172.16.0.1", 3)  // not on link: resolved by the kernel
	lost := kr("60.0.0.0/8", "172.17.0.1", 3) // not on link, unresolvable
	mgmt := kr("70.0.0.0/8", "192.168.0.1", 4)
	d.Routes = append(d.Routes, local, kern, bh, mp, off, lost, mgmt,
		kr("2001:db8:9::/48", "fe80::1", 2), kr("2001:db8:8::/48", "2001:db8:1::1", 2), kr("80.0.0.0/8", "", 3))
	f.cfg.Resolve = func(gw netip.Addr) (NextHop, error) {
		if gw == addr("172.16.0.1") {
			return NextHop{Gw: addr("10.1.0.7"), OIF: 2}, nil
		}
		return NextHop{}, errors.New("network unreachable")
	}
	f.Replace(d)
	if err := f.Connect(r2); err != nil {
		t.Fatal(err)
	}
	mustFlush(t, f)

	if got, want := len(r2.ifs), 2; got != want {
		t.Errorf("R2 has %d interfaces, want %d (veth0, veth1)", got, want)
	}
	if !r2.hostOwned["veth0"] || !r2.hostOwned["veth1"] {
		t.Errorf("interfaces not host-owned: %v", r2.hostOwned)
	}
	if !r2.ifs["veth0"][pfx("2001:db8:1::2/64")] || r2.ifs["veth0"][pfx("fe80::2/64")] || !r2.ifs["veth1"][pfx("10.2.0.2/24")] {
		t.Errorf("addresses: %v", r2.ifs)
	}
	want := map[string]bool{}
	for i := range 2500 {
		want[fmt.Sprintf("20.%d.%d.0/24 via 10.2.0.1 dev veth1", i>>8, i&255)] = true
	}
	for _, s := range []string{
		"40.0.0.0/8 nexthop via 10.1.0.1 dev veth0 weight 1 nexthop via 10.2.0.1 dev veth1 weight 1",
		"50.0.0.0/8 via 10.1.0.7 dev veth0",
		"2001:db8:9::/48 via fe80::1 dev veth0",
		"2001:db8:8::/48 via 2001:db8:1::1 dev veth0",
		"80.0.0.0/8 dev veth1",
		"30.0.0.0/8 drop",
	} {
		want[s] = true
	}
	if diff := cmp.Diff(want, routeSet(r2.list())); diff != "" {
		t.Errorf("R2's routes (-want +got):\n%s", diff)
	}
	if got := r2.calls["add_batch"]; got != 3 {
		t.Errorf("%d add_batch calls for 2506 routes in batches of 1000, want 3", got)
	}
	s := f.Stats
	if s.Refused != 2 || s.Multipath != 0 || s.Skipped["local table"] != 1 || s.Skipped["kernel route (R2 derives it from the address)"] != 1 {
		t.Errorf("stats: %+v", s)
	}
	if s.RoutesR2 != 2506 {
		t.Errorf("RoutesR2 = %d, want 2506", s.RoutesR2)
	}
}

func TestAddDelReplace(t *testing.T) {
	f, r2 := newTest(t, 1000)
	f.Replace(baseDump(10))
	if err := f.Connect(r2); err != nil {
		t.Fatal(err)
	}
	mustFlush(t, f)
	r2.reset()
	f.Apply(Event{Op: OpRouteSet, Route: kr("9.0.0.0/8", "10.1.0.1", 2)})
	f.Apply(Event{Op: OpRouteSet, Route: kr("20.0.1.0/24", "10.1.0.9", 2)}) // replace
	f.Apply(Event{Op: OpRouteDel, Route: kr("20.0.2.0/24", "10.2.0.1", 3)})
	f.Apply(Event{Op: OpRouteDel, Route: kr("99.0.0.0/8", "10.2.0.1", 3)}) // unknown: nothing
	// A second route to a prefix with a worse metric does not change R2.
	worse := kr("20.0.3.0/24", "10.1.0.5", 2)
	worse.Priority = 100
	f.Apply(Event{Op: OpRouteSet, Route: worse})
	mustFlush(t, f)
	if r2.calls["add_batch"] != 1 || r2.calls["del_batch"] != 1 || r2.sent["add_batch"] != 2 || r2.sent["del_batch"] != 1 {
		t.Errorf("calls %v sent %v; want one add_batch of 2, one del_batch of 1", r2.calls, r2.sent)
	}
	if r := r2.routes[pfx("20.0.1.0/24")]; r.NextHop != addr("10.1.0.9") || r.Ifname != "veth0" {
		t.Errorf("replaced route is %v", r)
	}
	if _, ok := r2.routes[pfx("20.0.2.0/24")]; ok {
		t.Error("deleted route still in R2")
	}
	if r := r2.routes[pfx("20.0.3.0/24")]; r.NextHop != addr("10.2.0.1") {
		t.Errorf("route with two metrics: R2 has %v, want the better one", r)
	}
	// Removing the better one makes the worse one win.
	r2.reset()
	f.Apply(Event{Op: OpRouteDel, Route: kr("20.0.3.0/24", "10.2.0.1", 3)})
	mustFlush(t, f)
	if r := r2.routes[pfx("20.0.3.0/24")]; r.NextHop != addr("10.1.0.5") || r2.sent["add_batch"] != 1 {
		t.Errorf("after deleting the better route R2 has %v (sent %v)", r, r2.sent)
	}
	// An address goes: the routes through it leave R2 before it does.
	r2.reset()
	f.Apply(Event{Op: OpAddrDel, Addr: Addr{3, pfx("10.2.0.2/24")}})
	mustFlush(t, f)
	for _, r := range r2.routes {
		if r.Ifname == "veth1" {
			t.Errorf("route %v through a removed address's subnet still in R2", r)
		}
	}
	if r2.ifs["veth1"][pfx("10.2.0.2/24")] {
		t.Error("address still in R2")
	}
	// The link goes: R2 detaches it.
	f.Apply(Event{Op: OpLinkDel, Link: Link{Index: 3, Name: "veth1"}})
	mustFlush(t, f)
	if r2.ifs["veth1"] != nil {
		t.Error("veth1 still attached")
	}
}

func TestBatching(t *testing.T) {
	f, r2 := newTest(t, 1000)
	f.Replace(baseDump(0))
	if err := f.Connect(r2); err != nil {
		t.Fatal(err)
	}
	mustFlush(t, f)
	r2.reset()
	for i := range 4500 {
		f.Apply(Event{Op: OpRouteSet, Route: kr(fmt.Sprintf("21.%d.%d.0/24", i>>8, i&255), "10.2.0.1", 3)})
	}
	if !f.Pending() {
		t.Fatal("no pending changes after 4500 events")
	}
	mustFlush(t, f)
	if r2.calls["add_batch"] != 5 || r2.sent["add_batch"] != 4500 {
		t.Errorf("calls %v sent %v; want 5 add_batch calls carrying 4500 routes", r2.calls, r2.sent)
	}
	if f.Pending() {
		t.Error("pending after Flush")
	}
	// Nothing changed: nothing sent.
	r2.reset()
	mustFlush(t, f)
	if len(r2.calls) != 0 {
		t.Errorf("idle Flush made calls %v", r2.calls)
	}
	// A refused route in a batch: the rest goes in, the refusal is counted.
	r2.refuse[pfx("22.0.5.0/24")] = true
	for i := range 100 {
		f.Apply(Event{Op: OpRouteSet, Route: kr(fmt.Sprintf("22.0.%d.0/24", i), "10.2.0.1", 3)})
	}
	mustFlush(t, f)
	if len(r2.routes) != 4599 || f.Stats.RefusedWhy["refused by R2"] != 1 {
		t.Errorf("R2 has %d routes (want 4599), refusals %v", len(r2.routes), f.Stats.RefusedWhy)
	}
}

func TestResyncSendsOnlyDifferences(t *testing.T) {
	f, r2 := newTest(t, 1000)
	d := baseDump(3000)
	f.Replace(d)
	if err := f.Connect(r2); err != nil {
		t.Fatal(err)
	}
	mustFlush(t, f)
	r2.reset()
	// The netlink socket overflowed: what happened meanwhile is known only
	// from a new dump: 10 routes gone, 5 changed, 7 new.
	d2 := baseDump(3000)
	d2.Routes = d2.Routes[10:]
	for i := range 5 {
		d2.Routes[i].NHs[0] = NextHop{Gw: addr("10.1.0.1"), OIF: 2}
	}
	for i := range 7 {
		d2.Routes = append(d2.Routes, kr(fmt.Sprintf("23.0.%d.0/24", i), "10.2.0.1", 3))
	}
	f.Replace(d2)
	mustFlush(t, f)
	if r2.sent["del_batch"] != 10 || r2.sent["add_batch"] != 12 || r2.calls["add_if"] != 0 || r2.calls["add_ip"] != 0 {
		t.Errorf("resync sent %v in calls %v; want 10 deletions and 12 additions only", r2.sent, r2.calls)
	}
	if len(r2.routes) != 2997 || f.Stats.LastResyncOps != 22 {
		t.Errorf("R2 has %d routes (want 2997); resync ops %d", len(r2.routes), f.Stats.LastResyncOps)
	}
}

func TestR2Restart(t *testing.T) {
	f, r2 := newTest(t, 1000)
	f.Replace(baseDump(1500))
	if err := f.Connect(r2); err != nil {
		t.Fatal(err)
	}
	mustFlush(t, f)
	r2.restart()
	f.Apply(Event{Op: OpRouteSet, Route: kr("9.0.0.0/8", "10.1.0.1", 2)})
	err := f.Flush()
	if err == nil || Refused(err) {
		t.Fatalf("Flush after R2 restarted: %v; want a connection error", err)
	}
	// Reconnect: the follower reads back what R2 has (nothing) and sends all.
	if err := f.Connect(r2); err != nil {
		t.Fatal(err)
	}
	mustFlush(t, f)
	if len(r2.routes) != 1501 || len(r2.ifs) != 2 || !r2.ifs["veth0"][pfx("10.1.0.2/24")] {
		t.Errorf("after the restart R2 has %d routes (want 1501), interfaces %v", len(r2.routes), r2.ifs)
	}
	// Reconnecting to an R2 that kept its state sends nothing.
	r2.reset()
	if err := f.Connect(r2); err != nil {
		t.Fatal(err)
	}
	mustFlush(t, f)
	if r2.calls["add_batch"]+r2.calls["del_batch"]+r2.calls["add_if"]+r2.calls["add_ip"]+r2.calls["set_host_owned"] != 0 {
		t.Errorf("reconnecting to an unchanged R2 made calls %v", r2.calls)
	}
}
