//go:build linux

package afpacket

import (
	"fmt"
	"sync/atomic"
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

// BenchmarkRecv is the cost of Recv alone, per frame, in batches of 64
// (the packets are freed, as the graph would). The ring is filled from the
// peer once; the blocks are then handed back to Recv again and again (their
// status words set back to what the kernel wrote), so the figure is pure
// user-space work, with the ring warmer in cache than under real traffic.
func BenchmarkRecv(b *testing.B) {
	v := newVethPair(b, 1500)
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
			const batch = 64
			// About half the ring (64 blocks of 64 KiB) at either size.
			fill := 32 * DefaultBlockSize / (size + 96) / batch * batch
			dA := v.openDriver(b, Config{})
			defer dA.Close()
			poolA, poolB := packet.NewPool(0, 256), packet.NewPool(1, 256)
			frame := testFrame(v.MACA, v.MACB, 1, size)
			pkts := make([]*packet.Packet, batch)
			for sent := 0; sent < fill; sent += batch {
				for i := range batch {
					pkts[i] = poolB.Get()
					pkts[i].SetData(frame)
				}
				dB.Send(poolB, pkts)
			}
			time.Sleep(10 * time.Millisecond) // the last block retires
			r := &dA.rx
			cur0, base0 := r.cur, r.base
			var status []uint32
			for i := 0; ; i++ {
				st := *r.status(((cur0 + i) % r.blocks) * r.blockSize)
				if st&unix.TP_STATUS_USER == 0 || i == r.blocks {
					break
				}
				status = append(status, st)
			}
			if len(status) == 0 {
				b.Fatal("no ring block ready after filling the ring")
			}
			rewind := func() {
				for i, st := range status {
					atomic.StoreUint32(r.status(((cur0+i)%r.blocks)*r.blockSize), st)
				}
				r.cur, r.base, r.left = cur0, base0, 0
			}
			b.ReportAllocs()
			b.ResetTimer()
			for got := 0; got < b.N; {
				n := dA.Recv(poolA, pkts)
				for _, p := range pkts[:n] {
					poolA.Free(p)
				}
				got += n
				if n == 0 {
					b.StopTimer()
					rewind()
					b.StartTimer()
				}
			}
			b.StopTimer()
			if e := dA.Counters().RxErrors.Value(); e != 0 {
				b.Errorf("%d rx errors", e)
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
