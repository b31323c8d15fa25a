//go:build linux

package afpacket

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/packet"
)

// BenchmarkRecvSend forwards frames through a veth pair with a driver on
// each end: B sends batches, A receives them and sends them back (what a
// router's Rx and Tx cost per frame), and B receives and frees them. One op
// is one frame forwarded by A. Both drivers run on the benchmark goroutine,
// so the figure includes the kernel's veth work for both directions.
func BenchmarkRecvSend(b *testing.B) {
	v := newVethPair(b, 1500)
	dA := v.openDriver(b, Config{Promisc: true})
	var dB *Driver
	err := inNS(v.B, func() error {
		var err error
		dB, err = Open(Config{Ifname: v.IfB})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dB.Close() })

	for _, size := range []int{64, 512, 1514} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			benchForward(b, v, dA, dB, size)
		})
	}
}

func benchForward(b *testing.B, v *vethPair, dA, dB *Driver, size int) {
	const (
		batch = 64
		// window bounds the frames in flight, well below what a ring
		// holds, so the kernel never drops.
		window = 4096
	)
	poolA, poolB := packet.NewPool(0, 1024), packet.NewPool(1, 1024)
	frame := testFrame(v.MACA, v.MACB, 1, size)
	pktsA := make([]*packet.Packet, batch)
	pktsB := make([]*packet.Packet, batch)
	pfd := []unix.PollFd{{Fd: int32(dA.Fd()), Events: unix.POLLIN}, {Fd: int32(dB.Fd()), Events: unix.POLLIN}}
	cA, cB := dA.Counters(), dB.Counters()
	callsA0, callsB0 := cA.Syscalls.Value(), cB.Syscalls.Value()
	errs0 := cA.TxErrors.Value() + cB.TxErrors.Value() + cA.RxErrors.Value() + cB.RxErrors.Value()
	stA0, _ := dA.Stats()
	stB0, _ := dB.Stats()
	sent, forwarded, back := 0, 0, 0
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for forwarded < b.N {
		// B: send a batch while the window has room.
		if sent < b.N && sent-back < window {
			n := min(batch, b.N-sent)
			for i := range n {
				p := poolB.Get()
				p.SetData(frame)
				pktsB[i] = p
			}
			sent += n
			dB.Send(poolB, pktsB[:n])
		}
		// A: receive and send back.
		n := dA.Recv(poolA, pktsA)
		forwarded += n
		dA.Send(poolA, pktsA[:n])
		// B: take the returned frames.
		m := dB.Recv(poolB, pktsB)
		back += m
		for _, p := range pktsB[:m] {
			poolB.Free(p)
		}
		if n == 0 && m == 0 && (sent >= b.N || sent-back >= window) {
			// Nothing to do until a block retires.
			unix.Poll(pfd, 5)
		}
		if sent > forwarded+window && time.Since(start) > 10*time.Second {
			b.Fatalf("stalled: sent %d, forwarded %d", sent, forwarded)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	// Drain what is still on its way back.
	for deadline := time.Now().Add(time.Second); back < forwarded && time.Now().Before(deadline); {
		m := dB.Recv(poolB, pktsB)
		back += m
		for _, p := range pktsB[:m] {
			poolB.Free(p)
		}
		if m == 0 {
			unix.Poll(pfd[1:], 5)
		}
	}
	callsA := cA.Syscalls.Value() - callsA0
	callsB := cB.Syscalls.Value() - callsB0
	b.ReportMetric(float64(forwarded)/elapsed.Seconds(), "frames/s")
	b.ReportMetric(float64(callsA)/float64(forwarded), "syscalls/frame(A)")
	b.ReportMetric(float64(callsA+callsB)/float64(forwarded), "syscalls/frame(A+B)")
	stA, _ := dA.Stats()
	stB, _ := dB.Stats()
	if errs := cA.TxErrors.Value() + cB.TxErrors.Value() + cA.RxErrors.Value() + cB.RxErrors.Value() - errs0; errs != 0 {
		b.Errorf("%d errors counted", errs)
	}
	if d := stA.Drops - stA0.Drops + stB.Drops - stB0.Drops; d != 0 {
		b.Errorf("kernel dropped %d frames", d)
	}
}

// BenchmarkRecv is the cost of Recv alone, per frame: the ring is filled
// from the peer with the timer stopped, then read in batches of 64 (and the
// packets freed, as the graph would).
func BenchmarkRecv(b *testing.B) {
	v := newVethPair(b, 1500)
	dA := v.openDriver(b, Config{})
	var dB *Driver
	err := inNS(v.B, func() error {
		var err error
		dB, err = Open(Config{Ifname: v.IfB})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dB.Close() })
	for _, size := range []int{64, 1514} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			// fill frames fit the ring (64 blocks of 64 KiB) at any size.
			const batch, fill = 64, 2048
			poolA, poolB := packet.NewPool(0, 256), packet.NewPool(1, 256)
			frame := testFrame(v.MACA, v.MACB, 1, size)
			pkts := make([]*packet.Packet, batch)
			b.ReportAllocs()
			b.ResetTimer()
			for got := 0; got < b.N; {
				b.StopTimer()
				want := min(fill, b.N-got)
				for sent := 0; sent < want; sent += batch {
					for i := range batch {
						pkts[i] = poolB.Get()
						pkts[i].SetData(frame)
					}
					dB.Send(poolB, pkts)
				}
				time.Sleep(3 * time.Millisecond) // last block retires
				b.StartTimer()
				for n := 1; n > 0; got += n {
					n = dA.Recv(poolA, pkts)
					for _, p := range pkts[:n] {
						poolA.Free(p)
					}
				}
			}
		})
	}
}

// BenchmarkSend is the cost of Send per frame, in batches of 64, through
// the veth pair to a peer that has no socket open (the peer's kernel drops
// the test EtherType early), so it is mostly sendmmsg and veth_xmit.
func BenchmarkSend(b *testing.B) {
	v := newVethPair(b, 1500)
	d := v.openDriver(b, Config{})
	for _, size := range []int{64, 1514} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			const batch = 64
			pool := packet.NewPool(0, batch)
			frame := testFrame(v.MACB, v.MACA, 1, size)
			pkts := make([]*packet.Packet, batch)
			c := d.Counters()
			calls0, errs0 := c.Syscalls.Value(), c.TxErrors.Value()
			b.ReportAllocs()
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
			b.StopTimer()
			b.ReportMetric(float64(c.Syscalls.Value()-calls0)/float64(b.N), "syscalls/frame")
			if e := c.TxErrors.Value() - errs0; e != 0 {
				b.Errorf("%d frames refused", e)
			}
		})
	}
}
