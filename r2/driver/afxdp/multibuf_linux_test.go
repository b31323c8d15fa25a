//go:build linux

package afxdp

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/internal/nstest"
	"github.com/r2go/r2/r2/packet"
)

// newPoolBig makes a UMEM-capable pool of n packets with a companion pool
// of big packets.
func newPoolBig(t testing.TB, n, big int) *packet.Pool {
	t.Helper()
	p := newPool(t, 0, n)
	p.SetBig(packet.NewBigPool(0, big))
	return p
}

// TestMultiBuffer receives jumbo frames (MTU 9000) in several descriptors,
// checks that they come whole, byte for byte, in big packets, and sends
// big packets back as descriptor chains. In both forms of stamps (a
// stamp in front of the data takes room in the first buffer).
func TestMultiBuffer(t *testing.T) { eachStampForm(t, testMultiBuffer) }

func testMultiBuffer(t *testing.T) {
	tn := newTestNet(t, 1, 9000)
	v := tn.Pairs[0]
	pool := newPoolBig(t, 512, 16)
	d := tn.open(t, 0, Config{Pool: pool})
	on, why := d.MultiBuffer()
	t.Logf("mode %s, multi-buffer %v %s", d.ActiveMode(), on, why)
	if !on {
		t.Fatalf("no multi-buffer frames on Linux %s: %s", "6.18", why)
	}
	peer := openRaw(t, tn.B, v.IdxB)
	prime(t, d, pool)

	sizes := []int{60, 1792, 1793, 2048, 3585, 5000, 9014, 9000, 1514}
	var want [][]byte
	multi := 0
	for i, size := range sizes {
		want = append(want, nstest.Frame(v.MACA, v.MACB, i, size))
		if size+int(stampSkip()) > FrameSize-xdpPacketHeadroom {
			multi++
		}
	}
	peer.Send(t, want...)
	// Batches of 2 packets: a frame of several descriptors must not be
	// cut by the end of a batch.
	got := recvFrames(t, d, pool, len(want), 2)
	checkFrames(t, want, got)
	if n := d.mb.rx.Value(); n != uint64(multi) {
		t.Errorf("rx_multibuf = %d, want %d", n, multi)
	}
	c := d.Counters()
	if c.RxErrors.Value() != 0 || c.RxNoBuf.Value() != 0 {
		t.Errorf("rx_errors %d rx_nobuf %d", c.RxErrors.Value(), c.RxNoBuf.Value())
	}

	// Tx: big packets (and normal ones) as they come from the graph.
	var pkts []*packet.Packet
	want = want[:0]
	for i, size := range sizes {
		f := nstest.Frame(v.MACB, v.MACA, 100+i, size)
		want = append(want, f)
		from := pool
		if size > packet.MaxData {
			from = pool.Big()
		}
		p := from.Get()
		if !p.SetData(f) {
			t.Fatalf("frame of %d bytes does not fit", size)
		}
		pkts = append(pkts, p)
	}
	if sent := d.Send(pool, pkts); sent != len(sizes) {
		t.Fatalf("Send = %d, want %d", sent, len(sizes))
	}
	checkFrames(t, want, peer.Recv(len(want), 2*time.Second))
	drainTx(t, d, pool)
	if n := d.mb.tx.Value(); n != 5 {
		t.Errorf("tx_multibuf = %d, want 5 (the frames over %d bytes)", n, packet.MaxData)
	}
	if e := c.TxErrors.Value(); e != 0 {
		t.Errorf("tx_errors = %d", e)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	checkPool(t, pool)
	checkPool(t, pool.Big())
}

// TestMultiBufferBigPoolEmpty checks that a multi-buffer frame with no big
// packet to take it waits in the Rx ring (counted in rx_nobuf, Pending
// true), not dropped, and comes, in order, once a big packet is free.
func TestMultiBufferBigPoolEmpty(t *testing.T) {
	pool := newPoolBig(t, 256, 1)
	tn, d, peer := openPrimed(t, 9000, Config{Pool: pool})
	v := tn.Pairs[0]
	hold := pool.Big().Get() // the only big packet
	want := [][]byte{nstest.Frame(v.MACA, v.MACB, 1, 5000), nstest.Frame(v.MACA, v.MACB, 2, 100)}
	peer.Send(t, want...)
	time.Sleep(50 * time.Millisecond)
	pkts := make([]*packet.Packet, 8)
	for range 3 {
		if n := d.Recv(pool, pkts); n != 0 {
			t.Fatalf("Recv = %d with no big packet for the first frame, want 0", n)
		}
	}
	if n := d.Counters().RxNoBuf.Value(); n != 3 {
		t.Errorf("rx_nobuf = %d, want 3", n)
	}
	if !d.Pending() {
		t.Error("Pending false with a frame waiting in the Rx ring")
	}
	pool.Big().Free(hold)
	checkFrames(t, want, recvFrames(t, d, pool, 2, 8))
	if st, err := d.Stats(); err != nil || st.RxDropped != 0 {
		t.Errorf("Stats = %+v, %v; want nothing dropped", st, err)
	}
	d.Close()
	checkPool(t, pool)
	checkPool(t, pool.Big())
}

// TestMultiBufferOff checks that without multi-buffer frames a jumbo MTU is
// refused (ErrUnsupported, AF_PACKET's turn) with the reason, and that a
// normal MTU works as before.
func TestMultiBufferOff(t *testing.T) {
	tn := newTestNet(t, 1, 9000)
	pool := newPoolBig(t, 256, 4)
	_, err := tn.tryOpen(t, 0, Config{Pool: pool, NoMultiBuffer: true})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "without multi-buffer") {
		t.Fatalf("Open with MTU 9000 and NoMultiBuffer: %v", err)
	}
	d, err := tn.tryOpen(t, 0, Config{Pool: pool, NoMultiBuffer: true, MTU: 1500})
	if err != nil {
		t.Fatal(err)
	}
	if on, why := d.MultiBuffer(); on || !strings.Contains(why, "disabled") {
		t.Errorf("MultiBuffer() = %v, %q", on, why)
	}
	d.Close()
	checkPool(t, pool)
}

// TestTwoQueues opens one driver per queue of a two-queue veth, with
// different pools (two threads): they share the interface's program, and
// closing one leaves the other working.
func TestTwoQueues(t *testing.T) {
	tn := &testNet{nstest.New(t, nstest.UniquePrefix("r2xq"), 1, nstest.Queues(2))}
	v := tn.Pairs[0]
	p0, p1 := newPool(t, 0, 256), newPool(t, 1, 256)
	d0 := tn.open(t, 0, Config{Pool: p0, Queue: 0})
	d1 := tn.open(t, 0, Config{Pool: p1, Queue: 1})
	if d0.prog != d1.prog || d0.prog.users != 2 {
		t.Fatalf("the drivers do not share the interface's program")
	}
	prime(t, d0, p0)
	prime(t, d1, p1)
	// Both send: each socket transmits on its own.
	peer := openRaw(t, tn.B, v.IdxB)
	for i, dp := range []struct {
		d *Driver
		p *packet.Pool
	}{{d0, p0}, {d1, p1}} {
		f := nstest.Frame(v.MACB, v.MACA, i, 100)
		pk := dp.p.Get()
		pk.SetData(f)
		if dp.d.Send(dp.p, []*packet.Packet{pk}) != 1 {
			t.Fatal("Send failed")
		}
		checkFrames(t, [][]byte{f}, peer.Recv(1, time.Second))
		drainTx(t, dp.d, dp.p)
	}
	d0.Close()
	if !tn.xdpAttached(t, v.IfA) {
		t.Error("closing queue 0's driver detached the program queue 1 uses")
	}
	d1.Close()
	if tn.xdpAttached(t, v.IfA) {
		t.Error("the program is still attached after both drivers closed")
	}
	checkPool(t, p0)
	checkPool(t, p1)
}

// TestMultiBufferZeroAllocs checks that receiving jumbo frames (assembly
// into big packets) and sending them back (descriptor chains, the
// partial-checksum check) allocate nothing.
func TestMultiBufferZeroAllocs(t *testing.T) {
	tn := newTestNet(t, 1, 9000)
	v := tn.Pairs[0]
	// Fill room for every chunk of the frames sent before Recv runs.
	pool := newPoolBig(t, 2048, 32)
	d := tn.open(t, 0, Config{Pool: pool, CsumCheck: CsumOn, FillSize: 1024})
	peer := openRaw(t, tn.B, v.IdxB)
	prime(t, d, pool)
	const runs, batch = 20, 4
	var frames [][]byte
	for i := range (runs + 1) * batch {
		frames = append(frames, nstest.Frame(v.MACA, v.MACB, i, 3000+i*50))
	}
	peer.Send(t, frames...)
	time.Sleep(50 * time.Millisecond)
	pkts := make([]*packet.Packet, batch)
	received := 0
	allocs := testing.AllocsPerRun(runs, func() {
		n := d.Recv(pool, pkts)
		received += n
		d.Send(pool, pkts[:n])
	})
	if allocs != 0 {
		t.Errorf("Recv+Send of multi-buffer frames: %v allocs/run, want 0", allocs)
	}
	if received != (runs+1)*batch {
		t.Errorf("received %d frames in the measured runs, want %d", received, (runs+1)*batch)
	}
	if got := peer.Recv(received, 2*time.Second); len(got) != received {
		t.Errorf("peer got %d frames back, want %d", len(got), received)
	}
	drainTx(t, d, pool)
	d.Close()
	checkPool(t, pool)
	checkPool(t, pool.Big())
}

// TestMultiBufferRefused makes the kernel's two refusals happen (test
// hooks): the driver works without multi-buffer frames at MTU 1500 and
// says why, refuses MTU 9000 with that reason, and the registered open
// logs it and counts it in drv_multibuf_off.
func TestMultiBufferRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		hook *bool
		why  string
	}{
		{"bind", &refuseSG, "bind with XDP_USE_SG refused"},
		{"frags", &refuseFrags, "xdp.frags program refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			*tc.hook = true
			defer func() { *tc.hook = false }()
			tn := newTestNet(t, 2, 1500)
			pool := newPoolBig(t, 256, 4)
			d, err := tn.tryOpen(t, 0, Config{Pool: pool})
			if err != nil {
				t.Fatal(err)
			}
			if on, why := d.MultiBuffer(); on || !strings.Contains(why, tc.why) {
				t.Errorf("MultiBuffer() = %v, %q; want false, %q", on, why, tc.why)
			}
			d.Close()
			_, err = tn.tryOpen(t, 0, Config{Pool: pool, MTU: 9000})
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.why) {
				t.Errorf("Open with MTU 9000: %v; want ErrUnsupported saying %q", err, tc.why)
			}

			reg, err := counters.NewMem(counters.Sizes{Entries: 32, Names: 4096, Values: 32})
			if err != nil {
				t.Fatal(err)
			}
			var logged []string
			var dd driver.Driver
			err = nstest.InNS(tn.A, func() error {
				var err error
				dd, err = driver.Open(Name, driver.OpenArgs{Ifname: tn.Pairs[1].IfA, Pool: pool, Registry: reg, Thread: 0,
					Node: "IfNode:x", Logf: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			defer dd.Close()
			if dd.Kind() != Name {
				t.Fatalf("opened %s, want %s", dd.Kind(), Name)
			}
			off := -1
			for _, e := range reg.Snapshot() {
				if e.Name == "IfNode:x/"+driver.DrvMultiBufOff && len(e.Values) == 1 {
					off = int(e.Values[0])
				}
			}
			if off != 1 {
				t.Errorf("drv_multibuf_off = %d, want 1", off)
			}
			if s := strings.Join(logged, "\n"); !strings.Contains(s, "without multi-buffer") || !strings.Contains(s, tc.why) {
				t.Errorf("log %q lacks the reason", s)
			}
			dd.Close()
			checkPool(t, pool)
		})
	}
}
