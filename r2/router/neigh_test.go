//go:build linux

package router

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	ipv4fwd "github.com/r2go/r2/gnodes/layer3/ipv4/fwd"
	"github.com/r2go/r2/r2/ctl"
	"github.com/r2go/r2/r2/engine"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
)

var (
	macH3 = [6]byte{0x02, 0, 0, 0, 0, 0x03}
	macH4 = [6]byte{0x02, 0, 0, 0, 0, 0x04}
)

func (r *rig) neighbour(t *testing.T, ifname, ip string) (ctl.Neighbour, bool) {
	t.Helper()
	ns, err := r.e.ShowNeighbours(ifname)
	must(t, err)
	for _, n := range ns {
		if n.IP == netip.MustParseAddr(ip) {
			return n, true
		}
	}
	return ctl.Neighbour{}, false
}

// flowFrame is a UDP frame from h1 to dst with source port sport.
func flowFrame(dst string, sport uint16) []byte {
	f := udpFrame(macR0, macH1, "10.1.0.1", dst, 64, 10)
	binary.BigEndian.PutUint16(f[34:], sport)
	return f
}

// TestNeighbourAPI: static neighbours are validated (the state unchanged
// on refusal), listed with their kind and state, used at once without
// ARP, not overwritten by learning, deleted through the API, and removed
// with their subnet.
func TestNeighbourAPI(t *testing.T) {
	r := newRig(t, 2)
	must(t, r.e.AddAddr("if1", netip.MustParsePrefix("2001:db8:2::2/64")))
	mac := func(m [6]byte) net.HardwareAddr { return m[:] }
	bad := []struct {
		name string
		n    ctl.Neighbour
		kind error
		why  string
	}{
		{"unknown interface", ctl.Neighbour{Ifname: "nope", IP: netip.MustParseAddr("10.2.0.1"), MAC: mac(macH2)}, ctl.ErrNotFound, "nope"},
		{"off-link", ctl.Neighbour{Ifname: "if1", IP: netip.MustParseAddr("10.1.0.1"), MAC: mac(macH2)}, ctl.ErrInvalid, "not on a connected subnet of if1 (its subnets: 10.2.0.0/24)"},
		{"off-link IPv6", ctl.Neighbour{Ifname: "if0", IP: netip.MustParseAddr("2001:db8:2::1"), MAC: mac(macH2)}, ctl.ErrInvalid, "not on a connected subnet of if0 (it has none of that family)"},
		{"own address", ctl.Neighbour{Ifname: "if1", IP: netip.MustParseAddr("10.2.0.2"), MAC: mac(macH2)}, ctl.ErrInvalid, "address of if1 itself"},
		{"multicast MAC", ctl.Neighbour{Ifname: "if1", IP: netip.MustParseAddr("10.2.0.1"), MAC: mac([6]byte{1, 0, 0x5e, 0, 0, 1})}, ctl.ErrInvalid, "not a unicast address"},
		{"zero MAC", ctl.Neighbour{Ifname: "if1", IP: netip.MustParseAddr("10.2.0.1"), MAC: mac([6]byte{})}, ctl.ErrInvalid, "not a unicast address"},
		{"short MAC", ctl.Neighbour{Ifname: "if1", IP: netip.MustParseAddr("10.2.0.1"), MAC: net.HardwareAddr{2, 0, 0}}, ctl.ErrInvalid, "not a 6-byte"},
		{"multicast address", ctl.Neighbour{Ifname: "if1", IP: netip.MustParseAddr("ff02::1"), MAC: mac(macH2)}, ctl.ErrInvalid, "not a unicast host address"},
		{"mapped address", ctl.Neighbour{Ifname: "if1", IP: netip.MustParseAddr("::ffff:10.2.0.1"), MAC: mac(macH2)}, ctl.ErrInvalid, "need an IPv4 or IPv6 address"},
		{"bad kind", ctl.Neighbour{Ifname: "if1", IP: netip.MustParseAddr("10.2.0.1"), MAC: mac(macH2), Kind: "learned"}, ctl.ErrInvalid, "kind"},
	}
	for _, c := range bad {
		err := r.e.SetNeighbours([]ctl.Neighbour{c.n})
		if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: error %v, want %v saying %q", c.name, err, c.kind, c.why)
		}
	}
	// Batches are all or nothing.
	ok1 := ctl.Neighbour{Ifname: "if1", IP: netip.MustParseAddr("10.2.0.5"), MAC: mac(macH2)}
	ok2 := ctl.Neighbour{Ifname: "if1", IP: netip.MustParseAddr("10.2.0.6"), MAC: mac(macH3)}
	if err := r.e.SetNeighbours([]ctl.Neighbour{ok1, bad[1].n, ok2}); !errors.Is(err, ctl.ErrInvalid) || !strings.Contains(err.Error(), "neighbour 2 of 3") {
		t.Errorf("batch with a bad entry: %v", err)
	}
	if err := r.e.SetNeighbours([]ctl.Neighbour{ok1, ok2, ok1}); !errors.Is(err, ctl.ErrInvalid) || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("batch with a duplicate: %v", err)
	}
	if ns, _ := r.e.ShowNeighbours(""); len(ns) != 0 {
		t.Fatalf("refused requests left neighbours: %v", ns)
	}
	must(t, r.e.SetNeighbours([]ctl.Neighbour{ok1, ok2}))
	if err := r.e.DelNeighbours([]ctl.Neighbour{ok1, {Ifname: "if1", IP: netip.MustParseAddr("10.2.0.7")}}); !errors.Is(err, ctl.ErrNotFound) {
		t.Errorf("delete batch with an unknown neighbour: %v", err)
	}
	if ns, _ := r.e.ShowNeighbours("if1"); len(ns) != 2 {
		t.Fatalf("a refused delete batch changed the neighbours: %v", ns)
	}
	must(t, r.e.DelNeighbours([]ctl.Neighbour{ok1, ok2}))
	if _, err := r.e.ShowNeighbours("nope"); !errors.Is(err, ctl.ErrNotFound) {
		t.Errorf("show of an unknown interface: %v", err)
	}

	must(t, r.e.SetNeighbours([]ctl.Neighbour{ctl.Neighbour{Ifname: "if1", IP: netip.MustParseAddr("10.2.0.1"), MAC: mac(macH2)}}))
	must(t, r.e.SetNeighbours([]ctl.Neighbour{ctl.Neighbour{Ifname: "if1", IP: netip.MustParseAddr("2001:db8:2::1"), MAC: mac(macH3), Kind: ctl.NeighKernel}}))
	n, ok := r.neighbour(t, "if1", "10.2.0.1")
	if !ok || n.Kind != ctl.NeighStatic || n.State != ctl.NeighStatic || n.MAC.String() != net.HardwareAddr(macH2[:]).String() || n.Ifname != "if1" {
		t.Fatalf("static neighbour listed as %+v", n)
	}
	if n, ok := r.neighbour(t, "if1", "2001:db8:2::1"); !ok || n.Kind != ctl.NeighKernel || n.State != ctl.NeighStatic {
		t.Fatalf("kernel neighbour listed as %+v", n)
	}
	if ns, _ := r.e.ShowNeighbours("if0"); len(ns) != 0 {
		t.Fatalf("if0 lists %v", ns)
	}
	// The kernel's mirror does not replace an operator's entry.
	if err := r.e.SetNeighbours([]ctl.Neighbour{ctl.Neighbour{Ifname: "if1", IP: netip.MustParseAddr("10.2.0.1"), MAC: mac(macH3), Kind: ctl.NeighKernel}}); !errors.Is(err, ctl.ErrExists) {
		t.Errorf("kernel entry over a static one: %v", err)
	}
	// Used at once (no ARP request first), and a gratuitous ARP with
	// another MAC does not overwrite it.
	r.d1.Inject(arpFrame(hdr.ARPReply, macR1, macH4, "10.2.0.1", macR1, "10.2.0.2"))
	time.Sleep(50 * time.Millisecond)
	r.d0.Inject(udpFrame(macR0, macH1, "10.1.0.1", "10.2.0.1", 64, 10))
	checkForwarded(t, waitFrames(t, r.d1, 1)[0], 63)
	if n, _ := r.neighbour(t, "if1", "10.2.0.1"); n.MAC.String() != net.HardwareAddr(macH2[:]).String() {
		t.Fatalf("learning overwrote the static entry: %+v", n)
	}

	must(t, r.e.DelNeighbours([]ctl.Neighbour{{Ifname: "if1", IP: netip.MustParseAddr("10.2.0.1")}}))
	if err := r.e.DelNeighbours([]ctl.Neighbour{{Ifname: "if1", IP: netip.MustParseAddr("10.2.0.1")}}); !errors.Is(err, ctl.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	// The threads forgot it: the next packet asks first.
	r.d0.Inject(udpFrame(macR0, macH1, "10.1.0.1", "10.2.0.1", 64, 10))
	r.resolveH2(t)
	checkForwarded(t, waitFrames(t, r.d1, 1)[0], 63)
	if n, ok := r.neighbour(t, "if1", "10.2.0.1"); !ok || n.Kind != ctl.NeighLearned || n.State != ctl.NeighReachable {
		t.Fatalf("learned neighbour listed as %+v (%v)", n, ok)
	}
	// The subnet goes: its static neighbour goes with it.
	must(t, r.e.DelAddr("if1", netip.MustParsePrefix("2001:db8:2::2/64")))
	if n, ok := r.neighbour(t, "if1", "2001:db8:2::1"); ok {
		t.Fatalf("neighbour %+v survived its subnet", n)
	}
	checkNoLeak(t, r.e)
}

// TestECMPNeighbourFailover: a multipath route over three next hops, one
// of which never answers ARP. Its flows are held, then R2 gives up on it
// (EtherEncap's resolve timeout), marks it failed, and its flows move to
// the other two while theirs stay; it is probed, and when it answers its
// flows come back.
func TestECMPNeighbourFailover(t *testing.T) {
	r := newRig(t, 2)
	nh := []string{"10.2.0.1", "10.2.0.3", "10.2.0.4"}
	macs := map[[6]byte]string{macH2: nh[0], macH3: nh[1], macH4: nh[2]}
	var paths []ctl.Path
	for _, a := range nh {
		paths = append(paths, ctl.Path{NextHop: netip.MustParseAddr(a), Ifname: "if1", Weight: 1})
	}
	must(t, r.e.AddRoutes([]ctl.Route{{Prefix: netip.MustParsePrefix("20.0.0.0/8"), Paths: paths}}))
	must(t, r.e.AddNeighbour("if1", netip.MustParseAddr(nh[0]), macH2))
	must(t, r.e.AddNeighbour("if1", netip.MustParseAddr(nh[2]), macH4))

	const flows = 60
	// send sends every flow in fl once and returns where each went
	// (frames still queued from an earlier send are dropped first).
	send := func(fl []uint16) map[uint16]string {
		r.d1.Frames()
		for _, sp := range fl {
			r.d0.Inject(flowFrame("20.0.0.9", sp))
		}
		got := map[uint16]string{}
		deadline := time.Now().Add(500 * time.Millisecond)
		for time.Now().Before(deadline) && len(got) < len(fl) {
			for _, f := range r.d1.Frames() {
				if hdr.Ether(f).Type() != hdr.EtherTypeIPv4 {
					continue
				}
				got[binary.BigEndian.Uint16(f[34:])] = macs[[6]byte(hdr.Ether(f).Dst())]
			}
			time.Sleep(5 * time.Millisecond)
		}
		return got
	}
	all := make([]uint16, flows)
	for i := range all {
		all[i] = uint16(1000 + i)
	}
	start := time.Now()
	before := send(all)
	var lost []uint16 // the flows of the silent next hop: held
	for _, sp := range all {
		if _, ok := before[sp]; !ok {
			lost = append(lost, sp)
		}
	}
	if len(lost) == 0 || len(before) == 0 {
		t.Fatalf("flows: %d forwarded, %d held; want some of each", len(before), len(lost))
	}
	if n, ok := r.neighbour(t, "if1", nh[1]); !ok || n.State != ctl.NeighIncomplete {
		t.Errorf("silent next hop while resolving: %+v (%v), want incomplete", n, ok)
	}
	// Wait for the give-up and the new snapshot.
	for {
		if n, _ := r.neighbour(t, "if1", nh[1]); n.State == ctl.NeighFailed {
			r.e.mu.Lock()
			failed := r.e.intfs.ByName("if1").FailedNextHops
			r.e.mu.Unlock()
			if len(failed) == 1 && failed[0] == ip4(nh[1]) {
				break
			}
		}
		if time.Since(start) > 8*time.Second {
			t.Fatalf("next hop %s not marked failed after %v", nh[1], time.Since(start))
		}
		time.Sleep(10 * time.Millisecond)
	}
	failover := time.Since(start)
	r.d1.Frames() // ARP requests so far
	after := send(all)
	for _, sp := range all {
		switch b, ok := before[sp]; {
		case after[sp] == "" || after[sp] == nh[1]:
			t.Fatalf("flow %d went to %q after the failure", sp, after[sp])
		case ok && after[sp] != b:
			t.Errorf("healthy flow %d moved from %s to %s", sp, b, after[sp])
		}
	}
	t.Logf("%d flows: %d on the silent next hop; failed and moved %v after their first packet (resolve timeout %v)",
		flows, len(lost), failover.Round(time.Millisecond), resolveTimeout)

	// The failed next hop is probed (one ARP request a ProbeInterval,
	// from the owner thread only).
	probeStart := time.Now()
	var probes int
	for probes == 0 && time.Since(probeStart) < 3*ProbeInterval {
		for _, f := range r.d1.Frames() {
			if a := hdr.ARP(f[hdr.EtherLen:]); hdr.Ether(f).Type() == hdr.EtherTypeARP && a.Op() == hdr.ARPRequest && a.TargetIP() == ip4(nh[1]) {
				probes++
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if probes != 1 {
		t.Fatalf("%d ARP requests for the failed next hop in %v, want 1", probes, time.Since(probeStart))
	}
	// It answers: its flows come back, the others stay.
	r.d1.Inject(arpFrame(hdr.ARPReply, macR1, macH3, nh[1], macR1, "10.2.0.2"))
	back := time.Now()
	for {
		if n, _ := r.neighbour(t, "if1", nh[1]); n.State == ctl.NeighReachable {
			r.e.mu.Lock()
			failed := r.e.intfs.ByName("if1").FailedNextHops
			r.e.mu.Unlock()
			if len(failed) == 0 {
				break
			}
		}
		if time.Since(back) > 2*time.Second {
			t.Fatal("the answering next hop is still failed")
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("usable again %v after its answer; failed next hops: %s", time.Since(back).Round(time.Microsecond), r.failedViews("if1"))
	// Every flow back where it was before the failure. Seen once in CI
	// (-race, loaded machine): 10 of the silent next hop's 35 flows still
	// on the failover member in the first send after recovery; so a
	// send that finds a flow elsewhere is repeated (3 tries) and logged,
	// and the test fails only if the flows do not come back.
	var wrong []string
	for try := 1; try <= 3; try++ {
		again := send(all)
		wrong = wrong[:0]
		for _, sp := range all {
			want := before[sp]
			if want == "" {
				want = nh[1]
			}
			if again[sp] != want {
				wrong = append(wrong, fmt.Sprintf("flow %d went to %q, want %s", sp, again[sp], want))
			}
		}
		if len(wrong) == 0 {
			break
		}
		t.Logf("after recovery, send %d: %d flows elsewhere, first: %s; failed next hops: %s", try, len(wrong), wrong[0], r.failedViews("if1"))
	}
	for _, w := range wrong {
		t.Errorf("after recovery: %s", w)
	}
	checkNoLeak(t, r.e)
}

// failedViews describes interface ifname's failed next hops as the control
// side lists them and as each thread's IPv4Fwd applied them, so that a
// failover test that finds flows elsewhere says whose view was behind.
func (r *rig) failedViews(ifname string) string {
	r.e.mu.Lock()
	views := []string{fmt.Sprintf("control %v", r.e.intfs.ByName(ifname).FailedNextHops)}
	r.e.mu.Unlock()
	eng := r.e.Engine()
	for i := 0; i < eng.Threads(); i++ {
		var v string
		err := eng.OnThread(i, func(th *engine.Thread) {
			n, ok := th.Graph().Node(names.IPv4Fwd).(*ipv4fwd.Node)
			if !ok {
				v = "no IPv4Fwd"
				return
			}
			if in := n.Interfaces().ByName(ifname); in != nil {
				v = fmt.Sprint(in.FailedNextHops)
			} else {
				v = "no " + ifname
			}
		})
		if err != nil {
			v = err.Error()
		}
		views = append(views, fmt.Sprintf("thread %d %s", i, v))
	}
	return strings.Join(views, ", ")
}

// TestFailedReportRules: what the control side makes of the threads'
// reports: static entries never fail, a late give-up does not undo a fresh
// answer, and unresolved entries are bounded.
func TestFailedReportRules(t *testing.T) {
	r := newRig(t, 1)
	must(t, r.e.AddNeighbour("if1", netip.MustParseAddr("10.2.0.1"), macH2))
	var fi int32
	r.e.mu.Lock()
	fi = r.e.intfs.ByName("if1").Ifindex
	r.e.mu.Unlock()
	up := func(kind string, ip string) {
		r.e.report(upFor(kind, fi, ip))
	}
	// A static entry never fails.
	up("failed", "10.2.0.1")
	if n, _ := r.neighbour(t, "if1", "10.2.0.1"); n.State != ctl.NeighStatic {
		t.Fatalf("static entry after a failure report: %+v", n)
	}
	// An answer relayed less than the resolve timeout ago wins over a
	// thread's late give-up.
	up("mac", "10.2.0.5")
	up("failed", "10.2.0.5")
	if n, _ := r.neighbour(t, "if1", "10.2.0.5"); n.State != ctl.NeighReachable {
		t.Fatalf("fresh entry after a failure report: %+v", n)
	}
	// Unresolved entries are bounded.
	for i := 0; i < maxUnresolved+10; i++ {
		up("resolving", fmt.Sprintf("10.2.%d.%d", 1+i/250, 1+i%250))
	}
	r.e.mu.Lock()
	n := r.e.unresolved
	r.e.mu.Unlock()
	if n != maxUnresolved {
		t.Fatalf("%d unresolved entries, want the cap %d", n, maxUnresolved)
	}
	// They go with their interface, and the count with them.
	must(t, r.e.DelInterface("if1"))
	r.e.mu.Lock()
	n, left := r.e.unresolved, len(r.e.neighs)
	r.e.mu.Unlock()
	if n != 0 || left != 0 {
		t.Fatalf("after deleting the interface: %d unresolved, %d entries", n, left)
	}
}

// upFor is a thread's report of kind ("mac", "resolving", "failed") about
// IPv4 address ip on ifindex.
func upFor(kind string, ifindex int32, ip string) msg.Up {
	u := msg.Up{Ifindex: ifindex, IP: ip4(ip), MAC: macH3, Create: true}
	switch kind {
	case "mac":
		u.Kind = msg.UpMAC
	case "resolving":
		u.Kind = msg.UpResolving
	case "failed":
		u.Kind = msg.UpFailed
	}
	return u
}

// TestECMPNeighbourFailover6: the same for IPv6 with link-local next hops
// (as routing daemons announce them): the silent member's flows move when
// neighbour discovery gives up and come back with its advertisement.
func TestECMPNeighbourFailover6(t *testing.T) {
	r := newRig6(t, 1)
	paths := []ctl.Path{{NextHop: netip.MustParseAddr("fe80::1"), Ifname: "if1", Weight: 1},
		{NextHop: netip.MustParseAddr("fe80::3"), Ifname: "if1", Weight: 1}}
	must(t, r.e.AddRoutes([]ctl.Route{{Prefix: netip.MustParsePrefix("2001:db8:99::/48"), Paths: paths}}))
	must(t, r.e.AddNeighbour("if1", netip.MustParseAddr("fe80::1"), macH2))
	send := func(n int) map[uint16][6]byte {
		for i := 0; i < n; i++ {
			udp := make([]byte, 16)
			binary.BigEndian.PutUint16(udp, uint16(2000+i))
			binary.BigEndian.PutUint16(udp[2:], 53)
			binary.BigEndian.PutUint16(udp[4:], 16)
			r.d0.Inject(ip6Frame(macR0, macH1, "2001:db8:1::1", "2001:db8:99::5", 64, hdr.ProtoUDP, udp))
		}
		got := map[uint16][6]byte{}
		deadline := time.Now().Add(500 * time.Millisecond)
		for time.Now().Before(deadline) && len(got) < n {
			for _, f := range r.d1.Frames() {
				if ip := hdr.IPv6(f[hdr.EtherLen:]); hdr.Ether(f).Type() == hdr.EtherTypeIPv6 && ip.NextHeader() == hdr.ProtoUDP {
					got[binary.BigEndian.Uint16(f[hdr.EtherLen+hdr.IPv6Len:])] = [6]byte(hdr.Ether(f).Dst())
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		return got
	}
	const flows = 40
	start := time.Now()
	before := send(flows)
	if len(before) == 0 || len(before) == flows {
		t.Fatalf("%d of %d flows forwarded at first; want the silent member's held", len(before), flows)
	}
	for {
		r.e.mu.Lock()
		failed := r.e.intfs.ByName("if1").FailedNextHops6
		r.e.mu.Unlock()
		if len(failed) == 1 && failed[0] == a16("fe80::3") {
			break
		}
		if time.Since(start) > 8*time.Second {
			t.Fatalf("fe80::3 not marked failed after %v", time.Since(start))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("IPv6: %d of %d flows on the silent member moved %v after their first packet", flows-len(before), flows, time.Since(start).Round(time.Millisecond))
	after := send(flows)
	for i := 0; i < flows; i++ {
		if sp := uint16(2000 + i); after[sp] != macH2 {
			t.Fatalf("flow %d went to %x after the failure", sp, after[sp])
		}
	}
	r.d1.Frames()
	r.d1.Inject(na(macR1, macH3, "fe80::3", "fe80::ff:fe00:11"))
	for {
		if n, _ := r.neighbour(t, "if1", "fe80::3"); n.State == ctl.NeighReachable {
			r.e.mu.Lock()
			failed := r.e.intfs.ByName("if1").FailedNextHops6
			r.e.mu.Unlock()
			if len(failed) == 0 {
				break
			}
		}
		if time.Since(start) > 12*time.Second {
			t.Fatal("fe80::3 still failed after its advertisement")
		}
		time.Sleep(time.Millisecond)
	}
	again := send(flows)
	for i := 0; i < flows; i++ {
		sp := uint16(2000 + i)
		want, ok := before[sp]
		if !ok {
			want = macH3
		}
		if again[sp] != want {
			t.Errorf("flow %d went to %x after recovery, want %x", sp, again[sp], want)
		}
	}
	checkNoLeak(t, r.e)
}
