//go:build linux

package afxdp

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/internal/nstest"
	"github.com/r2go/r2/r2/packet"
)

func TestMemberQueues(t *testing.T) {
	for _, tc := range []struct {
		nq, members, m int
		want           []int
	}{
		{1, 1, 0, []int{0}},
		{4, 1, 0, []int{0, 1, 2, 3}},
		{4, 2, 0, []int{0, 2}},
		{4, 2, 1, []int{1, 3}},
		{3, 2, 1, []int{1}},
		{1, 2, 1, nil},
		{2, 4, 3, nil},
	} {
		if got := memberQueues(tc.nq, tc.members, tc.m); !slices.Equal(got, tc.want) {
			t.Errorf("memberQueues(%d, %d, %d) = %v, want %v", tc.nq, tc.members, tc.m, got, tc.want)
		}
	}
}

func TestQueueFill(t *testing.T) {
	for _, tc := range []struct {
		pool, n, want int
		err           string
	}{
		{8192, 2, 1024, ""},
		{8192, 4, 512, ""},
		{65536, 2, DefaultRingSize, ""},
		{8192, 32, 64, ""},
		{8192, 64, 0, "64 receive queues on one thread leave 32 of its 8192 packets"},
		{1024, 8, 0, "want at least 64"},
	} {
		got, err := queueFill(tc.pool, tc.n)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("queueFill(%d, %d) = %d, %v; want an error with %q", tc.pool, tc.n, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("queueFill(%d, %d) = %d, %v; want %d", tc.pool, tc.n, got, err, tc.want)
		}
	}
}

// openArgs opens the registered driver with a inside namespace A and closes
// it when t ends.
func (tn *testNet) openArgs(t *testing.T, a driver.OpenArgs) driver.Driver {
	t.Helper()
	d, err := openIn(t, tn.A, func() (driver.Driver, error) { return open(a) })
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestQueueSet serves a four-queue veth with the registered open: one
// thread takes all four queues, then a group of two threads takes two each
// (0 and 2, 1 and 3). Frames of 64 UDP flows, which the peer's transmit
// hash spreads over the queues, all arrive once and in order within their
// flow, every queue brings some, a flow comes through one thread only, the
// set sends, and closing gives every packet back and detaches the program.
func TestQueueSet(t *testing.T) {
	const nq = 4
	tn := &testNet{nstest.New(t, nstest.UniquePrefix("r2xs"), 1, nstest.Queues(nq))}
	v := tn.Pairs[0]
	peer := openRaw(t, tn.B, v.IdxB)
	// The sender's socket is bound to every protocol, so the kernel
	// parses the frames' EtherType and its transmit hash sees the flows
	// (a socket of the test EtherType gives every frame that protocol,
	// one hash, one queue).
	spread := nstest.OpenRaw(t, tn.B, v.IdxB, nstest.RawConfig{Tap: true})
	for _, threads := range []int{1, 2} {
		t.Run(fmt.Sprintf("threads=%d", threads), func(t *testing.T) {
			pools := make([]*packet.Pool, threads)
			sets := make([]*queueSet, threads)
			for m := range threads {
				pools[m] = newPool(t, m, 4096)
				a := driver.OpenArgs{Ifname: v.IfA, Pool: pools[m]}
				if threads > 1 {
					a.Fanout, a.Members, a.Member = 1, threads, m
				}
				s, ok := tn.openArgs(t, a).(*queueSet)
				if !ok {
					t.Fatalf("member %d: not a queue set", m)
				}
				want := memberQueues(nq, threads, m)
				if !slices.Equal(s.queues, want) || !strings.Contains(s.ActiveMode(), "queues ") {
					t.Fatalf("member %d: queues %v (mode %q), want %v", m, s.queues, s.ActiveMode(), want)
				}
				if !s.Offloads() {
					t.Errorf("member %d: the set sends no super-frames: %s", m, s.qs[0].vnetWhy)
				}
				for i, d := range s.qs {
					if i > 0 && d.vnet != nil {
						t.Errorf("member %d: queue %d has a socket for super-frames; only the first sends", m, d.cfg.Queue)
					}
					if d.cfg.FillSize != 4096/(4*len(want)) {
						t.Errorf("queue %d lends %d packets, want %d", d.cfg.Queue, d.cfg.FillSize, 4096/(4*len(want)))
					}
				}
				if n := s.Recv(pools[m], nil); n != 0 || s.Pending() {
					t.Fatalf("priming: Recv %d, Pending %v", n, s.Pending())
				}
				sets[m] = s
			}

			const flows, perFlow = 64, 8
			var sent [][]byte
			for seq := range perFlow {
				for fl := range flows {
					sent = append(sent, flowFrame(v.MACA, v.MACB, "udp4", fl, uint32(seq)))
				}
			}
			spread.Send(t, sent...)

			next := map[int]uint32{} // flow: next sequence number
			thread := map[int]int{}  // flow: the thread it came through
			pkts := make([]*packet.Packet, 16)
			got := 0
			for deadline := time.Now().Add(waitTimeout); got < len(sent) && time.Now().Before(deadline); {
				idle := true
				for m, s := range sets {
					n := s.Recv(pools[m], pkts)
					for _, p := range pkts[:n] {
						f := p.Data()
						fl := int(binary.BigEndian.Uint16(f[14+20:])) - 1000
						seq := binary.BigEndian.Uint32(f[len(f)-4:])
						if seq != next[fl] {
							t.Errorf("flow %d: seq %d, want %d", fl, seq, next[fl])
						}
						next[fl] = seq + 1
						if th, seen := thread[fl]; seen && th != m {
							t.Errorf("flow %d came through threads %d and %d", fl, th, m)
						}
						thread[fl] = m
						pools[m].Free(p)
					}
					got += n
					idle = idle && n == 0
				}
				if idle {
					time.Sleep(time.Millisecond)
				}
			}
			if got != len(sent) || len(next) != flows {
				t.Fatalf("received %d frames of %d flows, want %d of %d", got, len(next), len(sent), flows)
			}
			for m, s := range sets {
				t.Logf("thread %d: queues %v took %v frames", m, s.queues, s.rx)
				for i, n := range s.rx {
					if n == 0 {
						t.Errorf("thread %d: queue %d brought nothing (the peer's hash spreads 64 flows over %d queues)", m, s.queues[i], nq)
					}
				}
				drops, err := s.KernelDrops()
				if err != nil || drops != 0 {
					t.Errorf("thread %d: kernel drops %d, %v", m, drops, err)
				}
			}

			// Each set sends on its first queue's socket.
			for m, s := range sets {
				f := nstest.Frame(v.MACB, v.MACA, m, 100)
				p := pools[m].Get()
				p.SetData(f)
				if s.Send(pools[m], []*packet.Packet{p}) != 1 {
					t.Fatalf("thread %d: Send failed", m)
				}
				checkFrames(t, [][]byte{f}, peer.Recv(1, time.Second))
				drainTx(t, s.qs[0], pools[m])
			}
			for m, s := range sets {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				checkPool(t, pools[m])
			}
			if tn.xdpAttached(t, v.IfA) {
				t.Error("the program is still attached after every queue's driver closed")
			}
		})
	}
}

// TestQueueSetRefused: a pool too small to lend each queue its share is
// refused with the reason, and nothing stays attached.
func TestQueueSetRefused(t *testing.T) {
	tn := &testNet{nstest.New(t, nstest.UniquePrefix("r2xr"), 1, nstest.Queues(4))}
	v := tn.Pairs[0]
	err := nstest.InNS(tn.A, func() error {
		d, err := open(driver.OpenArgs{Ifname: v.IfA, Pool: newPool(t, 0, 512)})
		if err == nil {
			d.Close()
		}
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "4 receive queues on one thread leave 32 of its 512 packets") {
		t.Errorf("open with a pool of 512 on 4 queues: %v", err)
	}
	if tn.xdpAttached(t, v.IfA) {
		t.Error("a program stayed attached")
	}
}

// TestQueueSetZeroAllocs: Recv and Send through a set of queues allocate
// nothing.
func TestQueueSetZeroAllocs(t *testing.T) {
	tn := &testNet{nstest.New(t, nstest.UniquePrefix("r2xz"), 1, nstest.Queues(2))}
	v := tn.Pairs[0]
	pool := newPool(t, 0, 2048)
	s := tn.openArgs(t, driver.OpenArgs{Ifname: v.IfA, Pool: pool}).(*queueSet)
	s.Recv(pool, nil)
	peer := openRaw(t, tn.B, v.IdxB)
	spread := nstest.OpenRaw(t, tn.B, v.IdxB, nstest.RawConfig{Tap: true})
	var frames [][]byte
	for i := range 64 {
		frames = append(frames, flowFrame(v.MACA, v.MACB, "udp4", i, 0))
	}
	spread.Send(t, frames...)
	time.Sleep(50 * time.Millisecond)
	pkts := make([]*packet.Packet, 4)
	received := 0
	allocs := testing.AllocsPerRun(10, func() {
		n := s.Recv(pool, pkts)
		received += n
		s.Send(pool, pkts[:n])
	})
	if allocs != 0 {
		t.Errorf("Recv+Send through a queue set: %v allocs/run, want 0", allocs)
	}
	if received == 0 {
		t.Error("nothing received in the measured runs")
	}
	peer.Recv(received, time.Second)
	drainTx(t, s.qs[0], pool)
	s.Close()
	checkPool(t, pool)
}

// TestQueueSetShed: a queue set's head is the oldest of its queues' heads,
// and shedding reaches every queue: two heavy flows, one on each queue of
// a 2-queue veth, are shed whole.
func TestQueueSetShed(t *testing.T) {
	tn := &testNet{nstest.New(t, nstest.UniquePrefix("r2xh"), 1, nstest.Queues(2))}
	v := tn.Pairs[0]
	pool := newPool(t, 0, 4096)
	s, spread, flowOf := twoQueueFlows(t, tn, pool)
	const perFlow = 200
	for seq := range perFlow {
		for _, fl := range flowOf {
			spread.Send(t, flowFrame(v.MACA, v.MACB, "udp4", fl, uint32(1+seq)))
		}
	}
	time.Sleep(30 * time.Millisecond)
	head, ok := s.HeadTime()
	for q, d := range s.qs {
		h, qok := d.HeadTime()
		if !qok || !ok || h < head {
			t.Fatalf("queue %d head %d (%v), the set's %d (%v): want every queue stamped and the set's the oldest", q, h, qok, head, ok)
		}
	}
	var m driver.FlowMeter
	cutoff := time.Now().UnixNano()
	shed := 0
	for range 100 {
		shed += s.Shed(cutoff, 1<<20, &m)
	}
	if shed != 2*perFlow {
		t.Errorf("shed %d frames, want both flows' %d", shed, 2*perFlow)
	}
	if s.Pending() {
		t.Error("frames left after shedding both queues")
	}
	s.Close()
	checkPool(t, pool)
}

// twoQueueFlows opens a queue set on the 2-queue veth of tn with pool and
// finds a UDP flow (flowFrame's "udp4" number) that the peer's transmit
// hash puts on each queue: one frame of each of 16 flows, read queue by
// queue. It returns the set, the peer's socket that spreads (see
// TestQueueSet) and the flows.
func twoQueueFlows(t *testing.T, tn *testNet, pool *packet.Pool) (*queueSet, *nstest.RawSock, [2]int) {
	t.Helper()
	v := tn.Pairs[0]
	s := tn.openArgs(t, driver.OpenArgs{Ifname: v.IfA, Pool: pool}).(*queueSet)
	s.Recv(pool, nil)
	spread := nstest.OpenRaw(t, tn.B, v.IdxB, nstest.RawConfig{Tap: true})
	for fl := range 16 {
		spread.Send(t, flowFrame(v.MACA, v.MACB, "udp4", fl, 0))
	}
	time.Sleep(30 * time.Millisecond)
	flowOf := [2]int{-1, -1}
	pkts := make([]*packet.Packet, 32)
	for q, d := range s.qs {
		n := d.Recv(pool, pkts)
		for _, p := range pkts[:n] {
			flowOf[q] = udpFlow(p.Data())
			pool.Free(p)
		}
	}
	if flowOf[0] < 0 || flowOf[1] < 0 {
		t.Fatalf("flows of the queues: %v (16 flows did not reach both)", flowOf)
	}
	return s, spread, flowOf
}

// udpFlow is the flow number of a flowFrame "udp4" frame.
func udpFlow(f []byte) int { return int(binary.BigEndian.Uint16(f[14+20:])) - 1000 }

// TestQueueSetLightFirst: with a flood standing on one queue, a light
// flow's frame on the other is in the next batch, even when the flooded
// queue's turn comes first (it fails with the queues served in plain
// turn: the batch is all flood).
func TestQueueSetLightFirst(t *testing.T) {
	tn := &testNet{nstest.New(t, nstest.UniquePrefix("r2xl"), 1, nstest.Queues(2))}
	v := tn.Pairs[0]
	pool := newPool(t, 0, 4096)
	s, spread, flowOf := twoQueueFlows(t, tn, pool)
	var flood [][]byte
	for seq := range 300 {
		flood = append(flood, flowFrame(v.MACA, v.MACB, "udp4", flowOf[0], uint32(1+seq)))
	}
	spread.Send(t, flood...)
	time.Sleep(20 * time.Millisecond)
	pkts := make([]*packet.Packet, 64)
	free := func(n int) {
		for _, p := range pkts[:n] {
			pool.Free(p)
		}
	}
	// One batch from the flooded queue: it stands (the batch was full).
	s.next = 0
	if n := s.Recv(pool, pkts); n != len(pkts) {
		t.Fatalf("first batch %d frames, want %d of the flood", n, len(pkts))
	}
	free(len(pkts))
	spread.Send(t, flowFrame(v.MACA, v.MACB, "udp4", flowOf[1], 1))
	time.Sleep(20 * time.Millisecond)
	s.next = 0 // the flooded queue's turn
	n := s.Recv(pool, pkts)
	light := -1
	for i, p := range pkts[:n] {
		if udpFlow(p.Data()) == flowOf[1] {
			light = i
		}
	}
	free(n)
	if light != 0 {
		t.Errorf("the light flow's frame is at %d of a batch of %d, want first", light, n)
	}
	for n := s.Recv(pool, pkts); n > 0; n = s.Recv(pool, pkts) {
		free(n)
	}
	s.Close()
	checkPool(t, pool)
}
