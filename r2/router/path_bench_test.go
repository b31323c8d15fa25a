//go:build linux

package router

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	_ "github.com/r2go/r2/gnodes/all"
	"github.com/r2go/r2/r2/ctl"
	"github.com/r2go/r2/r2/driver/mem"
	"github.com/r2go/r2/r2/engine"
	"github.com/r2go/r2/r2/routedata"
)

// pathRig is a one-thread engine with if0 fed by a frame generator and if1
// counting what it transmits; h2 (10.2.0.1) is already resolved.
type pathRig struct {
	e      *Router
	d0, d1 *mem.Driver
}

func newPathRig(tb testing.TB) *pathRig {
	tb.Helper()
	e, err := New(engine.Config{Threads: 1, Packets: 4096})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Close() })
	d0, _ := mem.New("if0", 16)
	d1, _ := mem.New("if1", 16)
	d1.Capture(false)
	r := &pathRig{e: e, d0: d0, d1: d1}
	for _, err := range []error{
		e.AddInterface(Interface{Name: "if0", Ifindex: 0, MAC: macR0}, d0),
		e.AddInterface(Interface{Name: "if1", Ifindex: 1, MAC: macR1}, d1),
		e.AddAddr("if0", netip.MustParsePrefix("10.1.0.2/24")),
		e.AddAddr("if1", netip.MustParsePrefix("10.2.0.2/24")),
	} {
		if err != nil {
			tb.Fatal(err)
		}
	}
	if err := e.AddNeighbour("if1", netip.MustParseAddr("10.2.0.1"), macH2); err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(e.Neighbours()) == 0 {
		if time.Now().After(deadline) {
			tb.Fatal("neighbour not learned")
		}
		time.Sleep(time.Millisecond)
	}
	return r
}

func (r *pathRig) frames(dsts []netip.Addr) [][]byte {
	out := make([][]byte, len(dsts))
	for i, d := range dsts {
		out[i] = udpFrame(macR0, macH1, "10.1.0.1", d.String(), 64, 18) // 60-byte frames
	}
	return out
}

// run forwards generated frames on the thread for the benchmark's loop and
// reports ns and allocations per packet delivered on if1.
func (r *pathRig) run(b *testing.B, frames [][]byte) {
	var delivered uint64
	var allocs float64
	var cpu time.Duration
	r.e.Engine().OnThread(0, func(t *engine.Thread) {
		r.d0.Generate(frames)
		for i := 0; i < 100; i++ { // warm up: caches, neighbour, vectors
			t.Graph().Run()
		}
		before := r.d1.Stats().TxPkts
		allocs = testing.AllocsPerRun(50, func() { t.Graph().Run() })
		b.ResetTimer()
		start := r.d1.Stats().TxPkts
		cpu0 := threadCPU()
		for b.Loop() {
			t.Graph().Run()
		}
		b.StopTimer()
		cpu = threadCPU() - cpu0
		delivered = r.d1.Stats().TxPkts - start
		_ = before
		r.d0.Generate(nil)
	})
	if delivered == 0 {
		b.Fatal("nothing delivered")
	}
	if allocs != 0 {
		b.Fatalf("%v allocations per graph run", allocs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(delivered), "ns/pkt")
	// The forwarding thread's own CPU time: steadier than wall time on a
	// shared machine, where other processes take the core away.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(delivered), "cpu-ns/pkt")
	b.ReportMetric(float64(delivered)/b.Elapsed().Seconds(), "pkts/s")
	b.ReportMetric(float64(delivered)/float64(b.N), "pkts/run")
}

// threadCPU is the CPU time the calling OS thread has used.
func threadCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIPv4Path is the whole IPv4 path on one thread: IfNode Rx,
// EtherDecap, L3Parse, IPv4Fwd, EncapMux, EtherEncap, IfNode Tx, with
// 60-byte frames from the in-memory driver.
func BenchmarkIPv4Path(b *testing.B) {
	b.Run("routes=10", func(b *testing.B) {
		r := newPathRig(b)
		var rs []ctl.Route
		for i := 0; i < 10; i++ {
			rs = append(rs, ctl.Route{Prefix: netip.MustParsePrefix(fmt.Sprintf("198.51.%d.0/24", i)), NextHop: netip.MustParseAddr("10.2.0.1"), Ifname: "if1"})
		}
		if err := r.e.AddRoutes(rs); err != nil {
			b.Fatal(err)
		}
		var ps []netip.Prefix
		for _, x := range rs {
			ps = append(ps, x.Prefix)
		}
		r.run(b, r.frames(routedata.RandomHosts(ps, 1024, 1)))
	})
	// The tier1 table single-path, with 10% of its routes multipath over
	// two next hops (h2 and h3 on if1), and with every route multipath:
	// compare the three for the cost of ECMP on the whole path.
	for _, share := range []int{0, 10, 100} {
		name := "routes=tier1"
		if share > 0 {
			name = fmt.Sprintf("routes=tier1-ecmp%d", share)
		}
		b.Run(name, func(b *testing.B) {
			path, err := routedata.Find()
			if err != nil {
				b.Fatal(err) // the repository ships the table
			}
			ps, err := routedata.LoadIPv4(path)
			if err != nil {
				b.Fatal(err)
			}
			r := newPathRig(b)
			nh, nh2 := netip.MustParseAddr("10.2.0.1"), netip.MustParseAddr("10.2.0.3")
			if share > 0 {
				r.addNeighbour(b, "if1", nh2)
			}
			var rs []ctl.Route
			for _, p := range ps {
				if p.Bits() == 0 || p.Overlaps(netip.MustParsePrefix("10.0.0.0/8")) {
					continue
				}
				rs = append(rs, benchRoute(p, share, nh, nh2))
			}
			start := time.Now()
			for i := 0; i < len(rs); i += 100000 {
				if err := r.e.AddRoutes(rs[i:min(i+100000, len(rs))]); err != nil {
					b.Fatal(err)
				}
			}
			b.Logf("loaded %d routes through the engine in %v", len(rs), time.Since(start))
			r.e.mu.Lock()
			groups := r.e.rib.GroupStats().Live
			r.e.mu.Unlock()
			if want := min(share, 1); groups != want {
				b.Fatalf("%d multipath groups, want %d", groups, want)
			}
			var routed []netip.Prefix
			for _, x := range rs {
				routed = append(routed, x.Prefix)
			}
			r.run(b, r.frames(routedata.RandomHosts(routed, 8192, 2)))
		})
	}
}

// benchRoute is a route to p through if1: via nh, or, for share percent
// of the prefixes (chosen by a hash of the prefix), multipath via nh and
// nh2.
func benchRoute(p netip.Prefix, share int, nh, nh2 netip.Addr) ctl.Route {
	h := uint32(p.Bits())
	for _, x := range p.Addr().AsSlice() {
		h = (h ^ uint32(x)) * 16777619
	}
	if int(h>>8)%100 >= share {
		return ctl.Route{Prefix: p, NextHop: nh, Ifname: "if1"}
	}
	return ctl.Route{Prefix: p, Paths: []ctl.Path{{NextHop: nh, Ifname: "if1", Weight: 1}, {NextHop: nh2, Ifname: "if1", Weight: 1}}}
}

// addNeighbour presets the neighbour a on ifname (h2's MAC) and waits until
// the router has it.
func (r *pathRig) addNeighbour(tb testing.TB, ifname string, a netip.Addr) {
	tb.Helper()
	if err := r.e.AddNeighbour(ifname, a, macH2); err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !hasNeighbour(r.e, a) {
		if time.Now().After(deadline) {
			tb.Fatalf("neighbour %s not recorded", a)
		}
		time.Sleep(time.Millisecond)
	}
}
