//go:build linux

package afxdp

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/internal/nstest"
	"github.com/r2go/r2/r2/packet"
)

// openB opens a driver on end B of pair i from inside namespace B (the
// traffic generator's side) and closes it when b ends.
func (tn *testNet) openB(tb testing.TB, i int, c Config) *Driver {
	tb.Helper()
	c.Ifname = tn.Pairs[i].IfB
	d, err := openIn(tb, tn.B, func() (*Driver, error) { return Open(c) })
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// BenchmarkForward is the router's case: frames arrive on A0 and leave on
// A1, two interfaces of one thread sharing one pool (one UMEM), so the
// forwarding itself copies nothing. The generator on the B side is also
// AF_XDP (B0 sends, B1 receives and frees, one pool). One op is one frame
// forwarded A0→A1. Everything runs on the benchmark goroutine, so the
// figure includes the kernel's veth work and the generator's, on one core.
func BenchmarkForward(b *testing.B) {
	tn := newTestNet(b, 2, 1500)
	poolA, poolB := newPool(b, 0, 8192), newPool(b, 1, 8192)
	a0 := tn.open(b, 0, Config{Pool: poolA})
	a1 := tn.open(b, 1, Config{Pool: poolA})
	b0 := tn.openB(b, 0, Config{Pool: poolB})
	b1 := tn.openB(b, 1, Config{Pool: poolB})
	b.Logf("A: %s (shared %v); B: %s", a0.ActiveMode(), a1.SharedUMEM(), b0.ActiveMode())
	for _, size := range []int{64, 1514} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			v := tn.Pairs[0]
			benchPipe(b, nstest.Frame(v.MACA, v.MACB, 1, size), b0, a0, a1, b1, poolA, poolB)
		})
	}
}

// BenchmarkRecvSend forwards frames back where they came from (A0 receives
// from B0 and sends back to B0), the afpacket driver's benchmark, for
// comparison.
func BenchmarkRecvSend(b *testing.B) {
	tn := newTestNet(b, 1, 1500)
	poolA, poolB := newPool(b, 0, 8192), newPool(b, 1, 8192)
	a0 := tn.open(b, 0, Config{Pool: poolA})
	b0 := tn.openB(b, 0, Config{Pool: poolB})
	for _, size := range []int{64, 512, 1514} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			v := tn.Pairs[0]
			benchPipe(b, nstest.Frame(v.MACA, v.MACB, 1, size), b0, a0, a0, b0, poolA, poolB)
		})
	}
}

// benchPipe runs frame from src through fwdIn→fwdOut to sink, b.N times.
func benchPipe(b *testing.B, frame []byte, src, fwdIn, fwdOut, sink *Driver, poolA, poolB *packet.Pool) {
	const (
		batch = 256
		// window bounds the frames in flight below what the fill
		// rings hold, so the kernel never drops.
		window = 1024
	)
	pktsA := make([]*packet.Packet, batch)
	pktsB := make([]*packet.Packet, batch)
	for _, d := range []*Driver{src, fwdIn, fwdOut, sink} {
		d.Recv(d.pool, nil)
	}
	pfd := []unix.PollFd{{Fd: int32(fwdIn.Fd()), Events: unix.POLLIN}, {Fd: int32(sink.Fd()), Events: unix.POLLIN}}
	calls0 := fwdIn.cnt.Syscalls.Value() + fwdOut.cnt.Syscalls.Value()
	var st0 [4]Stats
	for i, d := range []*Driver{src, fwdIn, fwdOut, sink} {
		st0[i], _ = d.Stats()
	}
	sent, forwarded, back := 0, 0, 0
	var inA time.Duration // in the forwarder's Recv and Send
	b.ReportAllocs()
	start := time.Now()
	b.ResetTimer()
	for forwarded < b.N {
		if sent < b.N && sent-back < window {
			n := min(batch, b.N-sent, window-(sent-back))
			for i := range n {
				p := poolB.Get()
				if p == nil {
					n = i
					break
				}
				p.SetData(frame)
				pktsB[i] = p
			}
			sent += src.Send(poolB, pktsB[:n])
		}
		t0 := time.Now()
		n := fwdIn.Recv(poolA, pktsA)
		forwarded += n
		fwdOut.Send(poolA, pktsA[:n])
		inA += time.Since(t0)
		m := sink.Recv(poolB, pktsB)
		back += m
		for _, p := range pktsB[:m] {
			poolB.Free(p)
		}
		if src != sink {
			src.Recv(poolB, nil) // reap its completions
		}
		if fwdIn != fwdOut {
			fwdOut.Recv(poolA, nil)
		}
		if n == 0 && m == 0 && (sent >= b.N || sent-back >= window) {
			unix.Poll(pfd, 5)
		}
		if time.Since(start) > 30*time.Second {
			b.Fatalf("stalled: sent %d, forwarded %d, back %d", sent, forwarded, back)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(forwarded)/elapsed.Seconds(), "frames/s")
	calls := fwdIn.cnt.Syscalls.Value() + fwdOut.cnt.Syscalls.Value() - calls0
	b.ReportMetric(float64(calls)/float64(forwarded), "syscalls/frame")
	// The forwarder's share: its Recv and Send, and the kernel work they
	// trigger (the Tx kick delivers to the peer's XDP socket inline).
	b.ReportMetric(float64(inA.Nanoseconds())/float64(forwarded), "ns/frame(fwd)")
	for i, d := range []*Driver{src, fwdIn, fwdOut, sink} {
		st, _ := d.Stats()
		if drops := st.RxDropped - st0[i].RxDropped + st.RxRingFull - st0[i].RxRingFull; drops != 0 {
			b.Errorf("%s: kernel dropped %d frames", d.cfg.Ifname, drops)
		}
	}
	// Drain what is still on its way, so the next run starts clean.
	for deadline := time.Now().Add(time.Second); back < forwarded && time.Now().Before(deadline); {
		m := sink.Recv(poolB, pktsB)
		back += m
		for _, p := range pktsB[:m] {
			poolB.Free(p)
		}
		if m == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

// BenchmarkSend is the cost of Send per frame, in batches of 256, to a
// peer that has no socket open (the peer's kernel drops the test EtherType
// early), with the kernel's default Tx budget and R2's.
func BenchmarkSend(b *testing.B) {
	tn := newTestNet(b, 1, 1500)
	v := tn.Pairs[0]
	for _, budget := range []int{32, DefaultTxBudget} {
		pool := newPool(b, 0, 4096)
		d, err := tn.tryOpen(b, 0, Config{Pool: pool, TxBudget: budget})
		if err != nil {
			b.Fatal(err)
		}
		for _, size := range []int{64, 1514} {
			b.Run(fmt.Sprintf("budget=%d/size=%d", budget, size), func(b *testing.B) {
				const batch = 256
				frame := nstest.Frame(v.MACB, v.MACA, 1, size)
				pkts := make([]*packet.Packet, batch)
				c := d.Counters()
				calls0, errs0 := c.Syscalls.Value(), c.TxErrors.Value()
				b.ReportAllocs()
				start := time.Now()
				b.ResetTimer()
				for sent := 0; sent < b.N; {
					n := min(batch, b.N-sent)
					for i := range n {
						pkts[i] = pool.Get()
						pkts[i].SetData(frame)
					}
					d.Send(pool, pkts[:n])
					sent += n
				}
				drainTx(b, d, pool)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "frames/s")
				b.ReportMetric(float64(c.Syscalls.Value()-calls0)/float64(b.N), "syscalls/frame")
				if e := c.TxErrors.Value() - errs0; e != 0 {
					b.Errorf("%d frames refused", e)
				}
			})
		}
		d.Close()
	}
}

// BenchmarkRecv is the cost of Recv alone, per frame, reported as
// ns/frame(recv): the Rx ring is filled from the peer, then read in
// batches of 256 (and the packets freed, as the graph would). It is the
// driver's user-space work: ring reads, ownership bits and the fill ring
// refill. (ns/op includes the peer's sending; timing Recv with the timer
// stopped in between would make the benchmark run for minutes.)
// queues=2 is one thread's set of two queues of a 2-queue veth (the
// registered open's queueSet), the peer sending on both in turn: the cost
// the set adds per frame.
func BenchmarkRecv(b *testing.B) {
	b.Run("queues=1", func(b *testing.B) {
		tn := newTestNet(b, 1, 1500)
		poolA, poolB := newPool(b, 0, 4096), newPool(b, 1, 4096)
		a0 := tn.open(b, 0, Config{Pool: poolA, FillSize: 2048})
		b0 := tn.openB(b, 0, Config{Pool: poolB})
		benchRecv(b, tn, a0, poolA, poolB, b0)
	})
	// Two rings with light-flow steering: one flow, which stays in its
	// ring; what Recv adds is the read mark (readmark_linux.go).
	b.Run("queues=1,rings=2,steer", func(b *testing.B) {
		tn := newTestNet(b, 1, 1500)
		poolA, poolB := newPool(b, 0, 4096), newPool(b, 1, 4096)
		a0 := tn.open(b, 0, Config{Pool: poolA, FillSize: 2048, RxRings: 2, LightGap: 2 * time.Millisecond})
		b0 := tn.openB(b, 0, Config{Pool: poolB})
		benchRecv(b, tn, a0, poolA, poolB, b0)
	})
	b.Run("queues=2", func(b *testing.B) {
		tn := &testNet{nstest.New(b, nstest.UniquePrefix("r2xb"), 1, nstest.Queues(2))}
		poolA, poolB := newPool(b, 0, 8192), newPool(b, 1, 4096)
		set, err := openIn(b, tn.A, func() (driver.Driver, error) {
			return open(driver.OpenArgs{Ifname: tn.Pairs[0].IfA, Pool: poolA})
		})
		if err != nil {
			b.Fatal(err)
		}
		b0 := tn.openB(b, 0, Config{Pool: poolB, Queue: 0})
		b1 := tn.openB(b, 0, Config{Pool: poolB, Queue: 1})
		benchRecv(b, tn, set, poolA, poolB, b0, b1)
	})
}

// benchRecv is BenchmarkRecv of d, with pool poolA, fed by senders in
// turn, a batch each.
func benchRecv(b *testing.B, tn *testNet, d driver.Driver, poolA, poolB *packet.Pool, senders ...*Driver) {
	d.Recv(poolA, nil)
	for _, s := range senders {
		s.Recv(poolB, nil)
	}
	v := tn.Pairs[0]
	frame := nstest.Frame(v.MACA, v.MACB, 1, 64)
	const batch, fill = 256, 1024
	pkts := make([]*packet.Packet, batch)
	var inRecv time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	got, turn := 0, 0
	for got < b.N {
		want := min(fill, b.N-got)
		for sent := 0; sent < want; {
			n := min(batch, want-sent)
			for i := range n {
				pkts[i] = poolB.Get()
				pkts[i].SetData(frame)
			}
			s := senders[turn%len(senders)]
			turn++
			sent += s.Send(poolB, pkts[:n])
			s.Recv(poolB, nil)
		}
		t0 := time.Now()
		for n, left := 1, want; n > 0 && left > 0; left -= n {
			n = d.Recv(poolA, pkts)
			for _, p := range pkts[:n] {
				poolA.Free(p)
			}
			got += n
		}
		inRecv += time.Since(t0)
	}
	b.ReportMetric(float64(inRecv.Nanoseconds())/float64(got), "ns/frame(recv)")
	if set, ok := d.(*queueSet); ok {
		for i, n := range set.rx {
			if n == 0 && got >= 2*batch {
				b.Errorf("queue %d of the set received nothing of %d frames: the senders did not spread", set.queues[i], got)
			}
		}
	}
}
