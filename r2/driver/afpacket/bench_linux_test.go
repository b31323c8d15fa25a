//go:build linux

package afpacket

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/internal/nstest"
	"github.com/r2go/r2/r2/packet"
)

// BenchmarkRecvSend forwards frames through a veth pair with a driver on
// each end, both with the same ring version: B sends batches, A receives
// them and sends them back (what a router's Rx and Tx cost per frame), and
// B receives and frees them. One op is one frame forwarded by A. Both
// drivers run on the benchmark goroutine, so the figure includes the
// kernel's veth work for both directions.
func BenchmarkRecvSend(b *testing.B) {
	v := newVethPair(b, 1500)
	for _, ver := range versions {
		b.Run("ring="+ver.String(), func(b *testing.B) {
			dA := v.openDriver(b, Config{Promisc: true, Version: ver})
			dB := v.openDriverB(b, Config{Version: ver})
			for _, size := range []int{64, 512, 1514} {
				b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
					benchForward(b, v, dA, dB, size)
				})
			}
		})
	}
}

// BenchmarkRecvSendQueues forwards frames as BenchmarkRecvSend does
// (TPACKET_V2, one flow) with A's frames spread over receive queues: one
// socket alone, one socket in a fanout group (the kernel's flow hash per
// frame), and four sockets in a group, polled through the driver's epoll
// fd. Every ring has the 4096 slots of the default, so none overflows.
func BenchmarkRecvSendQueues(b *testing.B) {
	v := newVethPair(b, 1500)
	group := uint16(os.Getpid())
	for _, q := range []struct {
		name string
		c    Config
	}{
		{"queues=1", Config{}},
		{"queues=1/fanout", Config{Fanout: group}},
		{"queues=4", Config{RxQueues: 4, Frames: 4 * DefaultFrames}},
		// The same with the rings' frame counters (drv_rx_ring0..3).
		{"queues=4/counted", Config{RxQueues: 4, Frames: 4 * DefaultFrames, RxRingCounters: benchRingCounters(b, 4)}},
	} {
		for _, size := range []int{64, 1514} {
			b.Run(fmt.Sprintf("%s/size=%d", q.name, size), func(b *testing.B) {
				c := q.c
				c.Promisc, c.Version = true, RingV2
				dA := v.openDriver(b, c)
				defer dA.Close()
				dB := v.openDriverB(b, Config{Version: RingV2})
				defer dB.Close()
				benchForward(b, v, dA, dB, size)
			})
		}
	}
}

// BenchmarkRecvSendLong forwards frames as BenchmarkRecvSend does, with
// vnet headers and the TPACKET_V2 ring in two layouts, measured in one run:
// 2 KiB slots with frames longer than a slot read from the socket's queue
// (the default), and 68 KiB slots that hold a whole super-frame (the
// layout before, Config{FrameSize: 17 << 12, Frames: 1024}). Frames are
// 1514-byte ones and TCP/IPv4 super-frames of 16 and 64 KiB (MSS 1448) that
// the kernel carries whole across the veth.
func BenchmarkRecvSendLong(b *testing.B) {
	v := newVethPair(b, 1500)
	layouts := []struct {
		name string
		c    Config
	}{
		{"slots=2k+copy", Config{}},
		{"slots=68k", Config{FrameSize: 17 << 12, Frames: 1024}},
	}
	for _, size := range []int{1514, 16 << 10, 64<<10 - 100} {
		for _, l := range layouts {
			b.Run(fmt.Sprintf("size=%d/%s", size, l.name), func(b *testing.B) {
				c := l.c
				c.Promisc, c.Version = true, RingV2
				dA := v.openDriver(b, c)
				defer dA.Close()
				dB := v.openDriverB(b, l.c)
				defer dB.Close()
				benchForward(b, v, dA, dB, size)
			})
		}
	}
}

// tcpSuper makes an Ethernet frame of size bytes from src to dst carrying
// a TCP/IPv4 super-frame, and its GSO metadata for a packet whose data
// starts at head: MSS 1448, checksum left to finish (the pseudo-header sum
// in place), as a local TCP sender with TSO hands it over.
func tcpSuper(dst, src []byte, size, head int) ([]byte, packet.GSO) {
	f := make([]byte, size)
	copy(f, dst)
	copy(f[6:], src)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
	ip[6], ip[8], ip[9] = 0x40, 64, 6
	copy(ip[12:], []byte{10, 77, 0, 1, 10, 77, 0, 2})
	binary.BigEndian.PutUint16(ip[10:], ^hdr.Fold(hdr.Sum(ip[:20], 0)))
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 5201)
	tcp[12], tcp[13] = 5<<4, 0x10
	binary.BigEndian.PutUint16(tcp[14:], 512)
	for i := 20; i < len(tcp); i++ {
		tcp[i] = byte(i)
	}
	hdr.SetPseudoChecksum(ip)
	return f, packet.GSO{CsumStart: uint16(head + 14 + 20), CsumOffset: 16, Size: 1448, Type: packet.GSOTCPv4, Flags: packet.GSONeedsCsum}
}

func benchForward(b *testing.B, v *vethPair, dA, dB *Driver, size int) {
	const (
		batch = 64
		// window bounds the frames in flight, well below what a ring
		// holds, so the kernel never drops.
		window = 4096
	)
	poolA, poolB := packet.NewPool(0, 1024), packet.NewPool(1, 1024)
	frame := nstest.Frame(v.MACA, v.MACB, 1, size)
	var gso packet.GSO // frames above packet.MaxData are TCP super-frames
	if size > packet.MaxData {
		// Bound the super-frames in flight by memory: a window of
		// 256 of them takes 16 MiB of socket buffer and big packets.
		poolA.SetBig(packet.NewBigPool(0, 2*batch))
		poolB.SetBig(packet.NewBigPool(1, 4*batch+window/16))
		frame, gso = tcpSuper(v.MACA, v.MACB, size, packet.Headroom)
	}
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
	cpu0 := cpuTime()
	start := time.Now()
	for forwarded < b.N {
		// B: send a batch while the window has room.
		if sent < b.N && sent-back < window && (gso.Size == 0 || sent-back < window/16) {
			n := min(batch, b.N-sent)
			for i := range n {
				from := poolB
				if gso.Size != 0 {
					from = poolB.Big()
				}
				p := from.Get()
				p.SetData(frame)
				p.GSO = gso
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
			// Nothing to do until a frame or block comes.
			unix.Poll(pfd, 5)
		}
		if sent > forwarded+window && time.Since(start) > 10*time.Second {
			b.Fatalf("stalled: sent %d, forwarded %d", sent, forwarded)
		}
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
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
	b.ReportMetric(float64(cpu)/float64(forwarded), "cpu-ns/frame")
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

// cpuTime is the CPU time (user and system) the process has used. On a
// machine shared with other work, CPU time per frame varies much less
// than frames per second: it leaves out the time other work takes the
// CPUs (though not its effect on caches, nor veth work done in softirq
// threads, which is rare at these rates).
func cpuTime() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRecv is the cost of Recv alone, per frame, in batches of 64
// (the packets are freed, as the graph would). The ring is filled from the
// peer once; the blocks or slots are then handed back to Recv again and
// again (their status words set back to what the kernel wrote), so the
// figure is pure user-space work, with the ring warmer in cache than under
// real traffic.
func BenchmarkRecv(b *testing.B) {
	v := newVethPair(b, 1500)
	dB := v.openDriverB(b, Config{})
	for _, ver := range versions {
		for _, size := range []int{64, 1514} {
			b.Run(fmt.Sprintf("ring=%v/size=%d", ver, size), func(b *testing.B) {
				const batch = 64
				// About half the ring at either size: of the 64
				// blocks of 64 KiB (V3), of the 4096 slots (V2).
				fill := 32 * DefaultBlockSize / (size + 96) / batch * batch
				if ver == RingV2 {
					fill = DefaultFrames / 2
				}
				dA := v.openDriver(b, Config{Version: ver})
				defer dA.Close()
				poolA, poolB := packet.NewPool(0, 256), packet.NewPool(1, 256)
				frame := nstest.Frame(v.MACA, v.MACB, 1, size)
				pkts := make([]*packet.Packet, batch)
				for sent := 0; sent < fill; sent += batch {
					for i := range batch {
						pkts[i] = poolB.Get()
						pkts[i].SetData(frame)
					}
					dB.Send(poolB, pkts)
				}
				time.Sleep(10 * time.Millisecond) // the last block retires
				rewind := ringRewind(b, dA)
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
}

// ringRewind records the blocks (V3) or slots (V2) of d's ring the kernel
// has handed over, from the reader's position on, and returns a function
// that hands them over again and moves the reader back.
func ringRewind(b *testing.B, d *Driver) (rewind func()) {
	var (
		words  []*uint32 // status words of the ready blocks or slots
		status []uint32  // their values
	)
	record := func(n int, word func(i int) *uint32) {
		for i := range n {
			st := atomic.LoadUint32(word(i))
			if st&unix.TP_STATUS_USER == 0 {
				break
			}
			words, status = append(words, word(i)), append(status, st)
		}
		if len(status) == 0 {
			b.Fatal("nothing ready in the ring after filling it")
		}
	}
	restore := func() {
		for i, w := range words {
			atomic.StoreUint32(w, status[i])
		}
	}
	switch r := d.qs[0].rx.(type) {
	case *ring3:
		cur0, base0 := r.cur, r.base
		record(r.blocks, func(i int) *uint32 { return r.status(((cur0 + i) % r.blocks) * r.blockSize) })
		return func() {
			restore()
			r.cur, r.base, r.left = cur0, base0, 0
		}
	case *ring2:
		cur0, off0 := r.cur, r.off
		record(r.frames, func(i int) *uint32 { return r.status(((cur0 + i) % r.frames) * r.frameSize) })
		return func() {
			restore()
			r.cur, r.off = cur0, off0
		}
	}
	b.Fatalf("ring %T", d.qs[0].rx)
	return nil
}

// BenchmarkRecvLatency is the one-way latency of a lone frame: the peer
// sends a 64-byte frame every 10 ms, and a receiver thread, asleep in
// poll(2) on Fd as a router's idle thread is, wakes, calls Recv and takes
// the time. One op is one frame; run it with -benchtime=200x. It reports
// percentiles of the time from just before the peer's send(2) to Recv's
// return; ns/op is meaningless (mostly the gaps). The "socket" case is the
// floor: a plain AF_PACKET socket without a ring, read with recvfrom(2).
func BenchmarkRecvLatency(b *testing.B) {
	v := newVethPair(b, 1500)
	for _, ver := range versions {
		b.Run("ring="+ver.String(), func(b *testing.B) {
			d := v.openDriver(b, Config{Version: ver})
			pool := packet.NewPool(0, 16)
			pkts := make([]*packet.Packet, 16)
			benchLatency(b, v, d.Fd(), func(got func(frame []byte)) {
				n := d.Recv(pool, pkts)
				for _, p := range pkts[:n] {
					got(p.Data())
					pool.Free(p)
				}
			})
		})
	}
	// Four receive queues: the thread polls the driver's epoll fd, which
	// holds the sockets (a nested epoll: one more wakeup hop).
	b.Run("ring=v2/queues=4", func(b *testing.B) {
		d := v.openDriver(b, Config{Version: RingV2, RxQueues: 4})
		pool := packet.NewPool(0, 16)
		pkts := make([]*packet.Packet, 16)
		benchLatency(b, v, d.Fd(), func(got func(frame []byte)) {
			n := d.Recv(pool, pkts)
			for _, p := range pkts[:n] {
				got(p.Data())
				pool.Free(p)
			}
		})
	})
	b.Run("socket", func(b *testing.B) {
		s := openRaw(b, v.A, v.IdxA, false)
		buf := make([]byte, 2048)
		benchLatency(b, v, s.Fd, func(got func(frame []byte)) {
			for {
				n, _, err := unix.Recvfrom(s.Fd, buf, unix.MSG_DONTWAIT)
				if err != nil {
					return
				}
				got(buf[:n])
			}
		})
	})
}

// benchLatency runs BenchmarkRecvLatency on fd: recv, called on the
// receiver thread each time fd polls readable (or 20 ms pass), passes
// every frame it reads to got.
func benchLatency(b *testing.B, v *vethPair, fd int, recv func(got func(frame []byte))) {
	peer := openRaw(b, v.B, v.IdxB, false)
	sentAt := make([]time.Time, b.N)
	recvAt := make([]time.Time, b.N)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		var seqs []int
		got := func(f []byte) {
			if seq := int(binary.BigEndian.Uint32(f[14:])); seq < len(recvAt) {
				seqs = append(seqs, seq)
			}
		}
		for {
			select {
			case <-stop:
				return
			default:
			}
			unix.Poll(pfd, 20)
			seqs = seqs[:0]
			recv(got)
			now := time.Now()
			for _, seq := range seqs {
				recvAt[seq] = now
			}
		}
	}()
	b.ResetTimer()
	for i := range b.N {
		time.Sleep(10 * time.Millisecond)
		f := nstest.Frame(v.MACA, v.MACB, i, 64)
		sentAt[i] = time.Now()
		peer.Send(b, f)
	}
	time.Sleep(20 * time.Millisecond)
	b.StopTimer()
	close(stop)
	<-done
	lat := make([]time.Duration, 0, b.N)
	for i := range b.N {
		if recvAt[i].IsZero() {
			b.Fatalf("frame %d never received", i)
		}
		lat = append(lat, recvAt[i].Sub(sentAt[i]))
	}
	slices.Sort(lat)
	us := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))]) / 1e3
	}
	b.ReportMetric(us(0.5), "us-p50")
	b.ReportMetric(us(0.9), "us-p90")
	b.ReportMetric(us(0.99), "us-p99")
	b.ReportMetric(us(1), "us-max")
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
			frame := nstest.Frame(v.MACB, v.MACA, 1, size)
			c := d.Counters()
			calls0, errs0 := c.Syscalls.Value(), c.TxErrors.Value()
			b.ResetTimer()
			benchDriverSend(b, d, pool, batch, func() *packet.Packet {
				p := pool.Get()
				p.SetData(frame)
				return p
			})
			b.StopTimer()
			b.ReportMetric(float64(c.Syscalls.Value()-calls0)/float64(b.N), "syscalls/frame")
			if e := c.TxErrors.Value() - errs0; e != 0 {
				b.Errorf("%d frames refused", e)
			}
		})
	}
}

// benchRingCounters allocates k ring counters in a registry of their own.
func benchRingCounters(b *testing.B, k int) []counters.Counter {
	reg, err := counters.NewMem(counters.Sizes{Entries: 16, Names: 1024, Values: 16})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { reg.Close() })
	return driver.OpenArgs{Registry: reg, Node: "IfNode:bench"}.RxRingCounters(k)
}
