//go:build linux

package router

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/r2go/r2/counters"
	_ "github.com/r2go/r2/gnodes/all"
	"github.com/r2go/r2/r2/ctl"
	"github.com/r2go/r2/r2/driver/mem"
	"github.com/r2go/r2/r2/engine"
	"github.com/r2go/r2/r2/hdr"
)

var (
	macR0 = [6]byte{0x02, 0, 0, 0, 0, 0x10}
	macR1 = [6]byte{0x02, 0, 0, 0, 0, 0x11}
	macH1 = [6]byte{0x02, 0, 0, 0, 0, 0x01}
	macH2 = [6]byte{0x02, 0, 0, 0, 0, 0x02}
	bcast = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
)

func ip4(s string) uint32 { return binary.BigEndian.Uint32(netip.MustParseAddr(s).AsSlice()) }

// udpFrame builds an Ethernet/IPv4/UDP frame.
func udpFrame(dstMAC, srcMAC [6]byte, src, dst string, ttl uint8, payload int) []byte {
	b := make([]byte, hdr.EtherLen+hdr.IPv4MinLen+8+payload)
	eth := hdr.Ether(b)
	eth.SetDst(dstMAC)
	eth.SetSrc(srcMAC)
	eth.SetType(hdr.EtherTypeIPv4)
	hdr.PutIPv4(b[hdr.EtherLen:], 0, len(b)-hdr.EtherLen, 1, ttl, hdr.ProtoUDP, ip4(src), ip4(dst))
	binary.BigEndian.PutUint16(b[34:], 1234)
	binary.BigEndian.PutUint16(b[36:], 5678)
	binary.BigEndian.PutUint16(b[38:], uint16(8+payload))
	return b
}

func arpFrame(op uint16, dstMAC, sha [6]byte, spa string, tha [6]byte, tpa string) []byte {
	b := make([]byte, hdr.EtherMinFrame)
	eth := hdr.Ether(b)
	eth.SetDst(dstMAC)
	eth.SetSrc(sha)
	eth.SetType(hdr.EtherTypeARP)
	hdr.PutARP(b[hdr.EtherLen:], op, sha, ip4(spa), tha, ip4(tpa))
	return b
}

type rig struct {
	e      *Router
	reg    *counters.Registry
	d0, d1 *mem.Driver
}

// newRig: if0 (10.1.0.2/24, thread 0) and if1 (10.2.0.2/24, thread
// threads-1), h1 = 10.1.0.1 behind if0, h2 = 10.2.0.1 behind if1.
func newRig(t *testing.T, threads int) *rig {
	t.Helper()
	reg, err := counters.NewMem(counters.Sizes{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(engine.Config{Threads: threads, Packets: 2048, Counters: reg, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	d0, _ := mem.New("if0", 4096)
	d1, _ := mem.New("if1", 4096)
	r := &rig{e: e, reg: reg, d0: d0, d1: d1}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		reg.Close()
	})
	must(t, e.AddInterface(Interface{Name: "if0", Ifindex: 0, MAC: macR0, Owner: 0}, d0))
	must(t, e.AddInterface(Interface{Name: "if1", Ifindex: -1, MAC: macR1, Owner: threads - 1}, d1))
	must(t, e.AddAddr("if0", netip.MustParsePrefix("10.1.0.2/24")))
	must(t, e.AddAddr("if1", netip.MustParsePrefix("10.2.0.2/24")))
	return r
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (r *rig) counter(name string) uint64 {
	v, _ := counters.Value(r.reg.Snapshot(), name)
	return v
}

// waitFrames collects frames from d until n arrived or the deadline.
func waitFrames(t *testing.T, d *mem.Driver, n int) [][]byte {
	t.Helper()
	var got [][]byte
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		got = append(got, d.Frames()...)
		if len(got) < n {
			time.Sleep(time.Millisecond)
		}
	}
	if len(got) < n {
		t.Fatalf("got %d frames, want %d", len(got), n)
	}
	return got
}

// resolveH2 answers R2's ARP request for h2 on if1, as h2 would.
func (r *rig) resolveH2(t *testing.T) {
	t.Helper()
	req := waitFrames(t, r.d1, 1)[0]
	a := hdr.ARP(req[hdr.EtherLen:])
	if !a.Valid() || a.Op() != hdr.ARPRequest || a.TargetIP() != ip4("10.2.0.1") || a.SenderIP() != ip4("10.2.0.2") ||
		!hdr.IsBroadcast(hdr.Ether(req).Dst()) {
		t.Fatalf("expected ARP request for 10.2.0.1 from 10.2.0.2, got %x", req)
	}
	r.d1.Inject(arpFrame(hdr.ARPReply, macR1, macH2, "10.2.0.1", macR1, "10.2.0.2"))
}

func checkForwarded(t *testing.T, f []byte, ttl uint8) {
	t.Helper()
	eth := hdr.Ether(f)
	if !hdr.MACEqual(eth.Dst(), macH2) || !hdr.MACEqual(eth.Src(), macR1) || eth.Type() != hdr.EtherTypeIPv4 {
		t.Fatalf("bad Ethernet header %x", f[:14])
	}
	ip := hdr.IPv4(f[hdr.EtherLen:])
	if ip.TTL() != ttl || hdr.Checksum(ip[:20], 0) != 0 || ip.Dst() != ip4("10.2.0.1") {
		t.Fatalf("bad IPv4 header %x (ttl %d)", []byte(ip[:20]), ip.TTL())
	}
}

// Two interfaces on two threads: frames in on one, out on the other through
// the MPSC handoff, with ARP resolution, correct MACs, TTL and checksum.
func TestForwardAcrossThreads(t *testing.T) {
	for _, threads := range []int{1, 2} {
		t.Run(map[int]string{1: "one-thread", 2: "two-threads"}[threads], func(t *testing.T) {
			r := newRig(t, threads)
			r.d0.Inject(udpFrame(macR0, macH1, "10.1.0.1", "10.2.0.1", 64, 100))
			r.resolveH2(t) // the first packet waits for ARP
			f := waitFrames(t, r.d1, 1)[0]
			checkForwarded(t, f, 63)
			for i := 0; i < 50; i++ {
				r.d0.Inject(udpFrame(macR0, macH1, "10.1.0.1", "10.2.0.1", 10, 100))
			}
			for _, f := range waitFrames(t, r.d1, 50) {
				checkForwarded(t, f, 9)
			}
			if threads == 2 {
				if v := r.counter("IfNode:if1/handoff"); v == 0 {
					t.Fatal("no packet went through the handoff ring")
				}
			}
			if v := r.counter("IPv4Fwd/forwarded"); v != 51 {
				t.Fatalf("forwarded = %d, want 51", v)
			}
			checkNoLeak(t, r.e)
		})
	}
}

func checkNoLeak(t *testing.T, e *Router) {
	t.Helper()
	// Packets held for ARP resolution are freed after encap.ResolveTimeout.
	deadline := time.Now().Add(5 * time.Second)
	for {
		leak := false
		for _, s := range e.Engine().Stats() {
			if s.Pool.InFlight != 0 || s.Pool.DoubleFrees != 0 {
				leak = true
				if time.Now().After(deadline) {
					t.Fatalf("thread %d pool: %+v", s.Thread, s.Pool)
				}
			}
		}
		if !leak {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The router answers ARP for its addresses and pings to them.
func TestARPAndEchoReply(t *testing.T) {
	r := newRig(t, 2)
	r.d0.Inject(arpFrame(hdr.ARPRequest, bcast, macH1, "10.1.0.1", [6]byte{}, "10.1.0.2"))
	rep := waitFrames(t, r.d0, 1)[0]
	a := hdr.ARP(rep[hdr.EtherLen:])
	if a.Op() != hdr.ARPReply || !hdr.MACEqual(a.SenderMAC(), macR0) || a.SenderIP() != ip4("10.1.0.2") || !hdr.MACEqual(hdr.Ether(rep).Dst(), macH1) {
		t.Fatalf("bad ARP reply %x", rep)
	}
	// h1 is now known: a ping to 10.2.0.2 (the far address) is answered
	// straight away, back to h1.
	deadline := time.Now().Add(2 * time.Second)
	for len(r.e.Neighbours()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	ping := udpFrame(macR0, macH1, "10.1.0.1", "10.2.0.2", 64, 0)
	ip := hdr.IPv4(ping[hdr.EtherLen:])
	ip[9] = hdr.ProtoICMP
	icmp := ping[34:]
	clear(icmp)
	icmp[0] = hdr.ICMPEchoRequest
	icmp[4], icmp[7] = 0x12, 7
	c := hdr.Checksum(icmp, 0)
	icmp[2], icmp[3] = byte(c>>8), byte(c)
	ip.SetChecksum(0)
	ip.SetChecksum(hdr.Checksum(ip[:20], 0))
	r.d0.Inject(ping)
	f := waitFrames(t, r.d0, 1)[0]
	rip := hdr.IPv4(f[hdr.EtherLen:])
	ricmp := f[34:]
	if rip.Src() != ip4("10.2.0.2") || rip.Dst() != ip4("10.1.0.1") || ricmp[0] != hdr.ICMPEchoReply || ricmp[7] != 7 ||
		hdr.Checksum(ricmp, 0) != 0 || hdr.Checksum(rip[:20], 0) != 0 || !hdr.MACEqual(hdr.Ether(f).Dst(), macH1) {
		t.Fatalf("bad echo reply %x", f)
	}
	checkNoLeak(t, r.e)
}

// Routes are added and deleted while frames flow through two threads; run
// with -race. Every packet is either forwarded or counted as dropped.
func TestRouteChurnWhileForwarding(t *testing.T) {
	r := newRig(t, 2)
	r.d0.Inject(udpFrame(macR0, macH1, "10.1.0.1", "10.2.0.1", 64, 10))
	r.resolveH2(t)
	waitFrames(t, r.d1, 1)
	must(t, r.e.AddRoutes([]ctl.Route{{Prefix: netip.MustParsePrefix("192.0.2.0/24"), NextHop: netip.MustParseAddr("10.2.0.1"), Ifname: "if1"}}))

	var sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		frame := udpFrame(macR0, macH1, "10.1.0.1", "192.0.2.7", 64, 10)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if r.d0.Inject(frame) {
				sent.Add(1)
			}
			if sent.Load()%64 == 0 {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}()
	p := netip.MustParsePrefix("192.0.2.128/25")
	for i := 0; i < 200; i++ {
		must(t, r.e.AddRoutes([]ctl.Route{{Prefix: p, NextHop: netip.MustParseAddr("10.2.0.1"), Ifname: "if1"}}))
		must(t, r.e.DelRoutes([]ctl.Route{{Prefix: p}}))
	}
	must(t, r.e.DelRoutes([]ctl.Route{{Prefix: netip.MustParsePrefix("192.0.2.0/24")}}))
	close(stop)
	wg.Wait()
	// Everything sent is now either out on if1 or counted: no route after
	// the final delete (an ICMP error back to h1, or rate-limited).
	deadline := time.Now().Add(5 * time.Second)
	var out int64
	for {
		out += int64(len(r.d1.Frames()))
		noRoute := int64(r.counter("IPv4Fwd/no_route"))
		if out+noRoute == sent.Load() {
			break
		}
		if time.Now().After(deadline) {
			for _, x := range counters.Totals(r.reg.Snapshot()) {
				if x.Sum[0] != 0 {
					t.Logf("%s = %v", x.Name, x.Sum)
				}
			}
			t.Fatalf("sent %d, forwarded %d, no_route %d", sent.Load(), out, noRoute)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if sent.Load() < 100 {
		t.Fatalf("only %d frames sent during churn", sent.Load())
	}
	t.Logf("sent %d frames during 400 route changes", sent.Load())
	checkNoLeak(t, r.e)
}

// Deleting an interface while traffic is handed to it from another thread
// loses nothing silently and leaks nothing.
func TestDeleteInterfaceUnderTraffic(t *testing.T) {
	r := newRig(t, 2)
	r.d0.Inject(udpFrame(macR0, macH1, "10.1.0.1", "10.2.0.1", 64, 10))
	r.resolveH2(t)
	waitFrames(t, r.d1, 1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		frame := udpFrame(macR0, macH1, "10.1.0.1", "10.2.0.1", 64, 10)
		for {
			select {
			case <-stop:
				return
			default:
				r.d0.Inject(frame)
				time.Sleep(20 * time.Microsecond)
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	must(t, r.e.DelInterface("if1"))
	time.Sleep(20 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err := r.e.DelInterface("if1"); err == nil {
		t.Fatal("second delete succeeded")
	}
	if _, err := r.e.Interfaces("if1"); err == nil {
		t.Fatal("deleted interface still shown")
	}
	if v := r.counter("IPv4Fwd/no_route"); v == 0 {
		t.Fatal("no packet counted as no_route after the interface went")
	}
	checkNoLeak(t, r.e)
	// The name can be used again.
	d, _ := mem.New("if1", 64)
	must(t, r.e.AddInterface(Interface{Name: "if1", Ifindex: -1, MAC: macR1}, d))
}

func TestControlValidation(t *testing.T) {
	r := newRig(t, 1)
	e := r.e
	pfx := netip.MustParsePrefix
	addr := netip.MustParseAddr
	tests := []struct {
		name string
		do   func() error
	}{
		{"dup name", func() error { return e.AddInterface(Interface{Name: "if0", Ifindex: -1, MAC: macH1}, nil) }},
		{"dup ifindex", func() error { return e.AddInterface(Interface{Name: "x", Ifindex: 0, MAC: macH1}, nil) }},
		{"ifindex range", func() error { return e.AddInterface(Interface{Name: "x", Ifindex: 5000, MAC: macH1}, nil) }},
		{"bad thread", func() error { return e.AddInterface(Interface{Name: "x", Ifindex: -1, Owner: 9, MAC: macH1}, nil) }},
		{"multicast mac", func() error { return e.AddInterface(Interface{Name: "x", Ifindex: -1, MAC: bcast}, nil) }},
		{"zero mac", func() error { return e.AddInterface(Interface{Name: "x", Ifindex: -1}, nil) }},
		{"del unknown if", func() error { return e.DelInterface("nope") }},
		{"addr unknown if", func() error { return e.AddAddr("nope", pfx("10.9.0.1/24")) }},
		{"addr dup", func() error { return e.AddAddr("if1", pfx("10.1.0.2/24")) }},
		{"addr network", func() error { return e.AddAddr("if0", pfx("10.5.0.0/24")) }},
		{"addr v6 multicast", func() error { return e.AddAddr("if0", pfx("ff05::1/64")) }},
		{"addr subnet on other if", func() error { return e.AddAddr("if1", pfx("10.1.0.9/24")) }},
		{"del addr missing", func() error { return e.DelAddr("if0", pfx("10.1.0.3/24")) }},
		{"route host bits", func() error {
			return e.AddRoutes([]ctl.Route{{Prefix: pfx("3.1.1.1/24"), NextHop: addr("10.2.0.1"), Ifname: "if1"}})
		}},
		{"route unknown if", func() error {
			return e.AddRoutes([]ctl.Route{{Prefix: pfx("3.1.1.0/24"), NextHop: addr("10.2.0.1"), Ifname: "nope"}})
		}},
		{"route nh off-link", func() error {
			return e.AddRoutes([]ctl.Route{{Prefix: pfx("3.1.1.0/24"), NextHop: addr("10.9.0.1"), Ifname: "if1"}})
		}},
		{"route nh is us", func() error {
			return e.AddRoutes([]ctl.Route{{Prefix: pfx("3.1.1.0/24"), NextHop: addr("10.2.0.2"), Ifname: "if1"}})
		}},
		{"route over connected", func() error {
			return e.AddRoutes([]ctl.Route{{Prefix: pfx("10.2.0.0/24"), NextHop: addr("10.2.0.1"), Ifname: "if1"}})
		}},
		{"route batch one bad", func() error {
			return e.AddRoutes([]ctl.Route{{Prefix: pfx("4.0.0.0/8"), NextHop: addr("10.2.0.1"), Ifname: "if1"}, {Prefix: pfx("5.0.0.1/8"), Ifname: "if1"}})
		}},
		{"route batch dup", func() error {
			return e.AddRoutes([]ctl.Route{{Prefix: pfx("4.0.0.0/8"), Ifname: "if1"}, {Prefix: pfx("4.0.0.0/8"), Ifname: "if0"}})
		}},
		{"del missing route", func() error { return e.DelRoutes([]ctl.Route{{Prefix: pfx("6.0.0.0/8")}}) }},
		{"del connected", func() error { return e.DelRoutes([]ctl.Route{{Prefix: pfx("10.1.0.0/24")}}) }},
	}
	before, rs, _ := e.Routes(0, 100)
	ifs, _ := e.Interfaces("")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			if err == nil {
				t.Fatal("accepted")
			}
			t.Logf("%v", err)
			after, rs2, _ := e.Routes(0, 100)
			ifs2, _ := e.Interfaces("")
			if after != before || len(rs2) != len(rs) || len(ifs2) != len(ifs) {
				t.Fatalf("state changed: routes %d -> %d, interfaces %d -> %d", before, after, len(ifs), len(ifs2))
			}
		})
	}
	// And the good path of the same calls.
	must(t, e.AddRoutes([]ctl.Route{{Prefix: pfx("3.1.1.0/24"), NextHop: addr("10.2.0.1"), Ifname: "if1"}}))
	ri, err := e.LookupRoute(addr("3.1.1.77"))
	if err != nil || ri.Prefix != pfx("3.1.1.0/24") || ri.Ifname != "if1" || ri.NextHop != addr("10.2.0.1") {
		t.Fatalf("lookup: %+v, %v", ri, err)
	}
	if err := e.DelRoutes([]ctl.Route{{Prefix: pfx("3.1.1.0/24"), NextHop: addr("10.2.0.9")}}); err == nil {
		t.Fatal("delete with the wrong next hop accepted")
	}
	must(t, e.DelRoutes([]ctl.Route{{Prefix: pfx("3.1.1.0/24"), NextHop: addr("10.2.0.1"), Ifname: "if1"}}))
	must(t, e.DelAddr("if0", pfx("10.1.0.2/24")))
	if _, err := e.LookupRoute(addr("10.1.0.1")); err == nil {
		t.Fatal("connected route outlived its address")
	}
}

// An idle router sleeps: over half a second each thread waits in epoll a
// handful of times at most (the idle timeout is a second) instead of
// spinning.
func TestIdleThreadsSleep(t *testing.T) {
	r := newRig(t, 2)
	time.Sleep(100 * time.Millisecond) // let configuration settle
	before := r.counter("Thread/runs")
	time.Sleep(500 * time.Millisecond)
	runs := r.counter("Thread/runs") - before
	if runs > 20 {
		t.Fatalf("idle threads ran their graphs %d times in 0.5 s", runs)
	}
	t.Logf("idle: %d graph runs in 0.5 s over 2 threads", runs)
}

// Deleting an address forgets the neighbours of its subnet, on the control
// side and in every thread: with the address back, the next packet asks ARP
// again instead of using a MAC learned for the old subnet.
func TestDelAddrForgetsNeighbours(t *testing.T) {
	r := newRig(t, 2)
	must(t, r.e.AddNeighbour("if1", netip.MustParseAddr("10.2.0.1"), macH2))
	r.d0.Inject(udpFrame(macR0, macH1, "10.1.0.1", "10.2.0.1", 64, 10))
	checkForwarded(t, waitFrames(t, r.d1, 1)[0], 63) // no ARP: the neighbour is known
	must(t, r.e.DelAddr("if1", netip.MustParsePrefix("10.2.0.2/24")))
	for _, n := range r.e.Neighbours() {
		if n.IP == netip.MustParseAddr("10.2.0.1") {
			t.Fatalf("neighbour %v survived its subnet", n)
		}
	}
	must(t, r.e.AddAddr("if1", netip.MustParsePrefix("10.2.0.2/24")))
	r.d0.Inject(udpFrame(macR0, macH1, "10.1.0.1", "10.2.0.1", 64, 10))
	r.resolveH2(t) // the threads forgot it too: ARP first
	checkForwarded(t, waitFrames(t, r.d1, 1)[0], 63)
	checkNoLeak(t, r.e)
}
