//go:build linux

package afpacket

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/packet"
)

// flowOf returns the source port and sequence number of a udpFrame.
func flowOf(b []byte) (sport uint16, seq uint32) {
	return binary.BigEndian.Uint16(b[34:]), binary.BigEndian.Uint32(b[42:])
}

// recvQueue receives from ring i of d only, as Recv would from it alone.
func recvQueue(d *Driver, i int, pool *packet.Pool, pkts []*packet.Packet) int {
	return d.qs[i].rx.recv(pool, pkts, &d.cnt)
}

// TestRxQueuesOrder sends interleaved frames of many UDP flows to a driver
// with several receive queues: every frame arrives once, each flow's in
// order and all from one ring, and the flows spread over the rings.
func TestRxQueuesOrder(t *testing.T) {
	const flows, perFlow = 64, 40
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"v2/4", Config{Version: RingV2, Frames: 4096, RxQueues: 4}},
		{"v3/3", Config{Version: RingV3, Blocks: 192, RxQueues: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVethPair(t, 1500)
			d := v.openDriver(t, tc.cfg)
			if len(d.qs) != tc.cfg.RxQueues || d.Fd() == d.fd {
				t.Fatalf("%d queues, Fd %d, socket %d: want %d queues polled through an epoll fd", len(d.qs), d.Fd(), d.fd, tc.cfg.RxQueues)
			}
			peer := openRaw(t, v.B, v.IdxB, false)
			for seq := range perFlow {
				for fl := range flows {
					peer.Send(t, udpFrame(v.MACA, v.MACB, uint16(2000+fl), uint32(seq)))
				}
			}
			pool := packet.NewPool(0, 256)
			perRing, total := recvFlowsByRing(t, d, pool, flows*perFlow)
			if total != flows*perFlow {
				s, _ := d.Stats()
				t.Fatalf("received %d frames (per ring %v), want %d; stats %+v", total, perRing, flows*perFlow, s)
			}
			expectNothing(t, d, pool) // no frame twice
			for i, n := range perRing {
				if n == 0 {
					t.Errorf("frames per ring %v: ring %d got none of %d flows", perRing, i, flows)
				}
			}
			s, err := d.Stats()
			if err != nil || s.Packets != flows*perFlow || s.Drops != 0 {
				t.Errorf("Stats %+v, %v: want %d packets, no drops, summed over the rings", s, err, flows*perFlow)
			}
			checkPool(t, pool)
		})
	}
}

// recvFlowsByRing receives want udpFrame frames from d's rings, each ring
// on its own (as Recv would from it alone), checking that each flow (source
// port) comes from one ring only and in order, and returns how many frames
// each ring gave and the total (want unless waitTimeout passed first).
func recvFlowsByRing(t *testing.T, d *Driver, pool *packet.Pool, want int) (perRing []int, total int) {
	t.Helper()
	return recvFlowsBySource(t, ringsOf(d), pool, want)
}

// flowsThrough sends perFlow udpFrame frames of each of flows flows
// (source ports 4000 on), interleaved, from peer to v's end A and receives
// them from sources (recvFlowsBySource): it fails t unless every frame
// arrives, and returns how many each source gave.
func flowsThrough(t *testing.T, v *vethPair, peer interface {
	Send(testing.TB, ...[]byte)
}, sources []func(*packet.Pool, []*packet.Packet) int, pool *packet.Pool, flows, perFlow int) []int {
	t.Helper()
	for seq := range perFlow {
		for fl := range flows {
			peer.Send(t, udpFrame(v.MACA, v.MACB, uint16(4000+fl), uint32(seq)))
		}
	}
	per, total := recvFlowsBySource(t, sources, pool, flows*perFlow)
	if total != flows*perFlow {
		t.Fatalf("received %d of %d frames (per source %v)", total, flows*perFlow, per)
	}
	return per
}

// ringsOf returns a receive function for each ring of the drivers ds, in
// order (a fanout group's members in the order they joined).
func ringsOf(ds ...*Driver) []func(*packet.Pool, []*packet.Packet) int {
	var rings []func(*packet.Pool, []*packet.Packet) int
	for _, d := range ds {
		for i := range d.qs {
			rings = append(rings, func(pool *packet.Pool, pkts []*packet.Packet) int { return recvQueue(d, i, pool, pkts) })
		}
	}
	return rings
}

// recvFlowsBySource receives want udpFrame frames from the sources (rings
// of a driver, drivers of a fanout group) in turn, checking that each flow
// (source port) comes from one source only and in order, and returns how
// many frames each source gave and the total (want unless waitTimeout
// passed first).
func recvFlowsBySource(t *testing.T, sources []func(*packet.Pool, []*packet.Packet) int, pool *packet.Pool, want int) (perSource []int, total int) {
	t.Helper()
	pkts := make([]*packet.Packet, 64)
	from := map[uint16]int{}    // flow -> source
	next := map[uint16]uint32{} // flow -> next seq expected
	perSource = make([]int, len(sources))
	for deadline := time.Now().Add(waitTimeout); total < want && time.Now().Before(deadline); {
		idle := true
		for i, recv := range sources {
			n := recv(pool, pkts)
			for _, p := range pkts[:n] {
				sport, seq := flowOf(p.Data())
				if r, ok := from[sport]; ok && r != i {
					t.Errorf("flow %d from sources %d and %d", sport, r, i)
				}
				from[sport] = i
				if seq != next[sport] {
					t.Errorf("flow %d: seq %d, want %d", sport, seq, next[sport])
				}
				next[sport] = seq + 1
				pool.Free(p)
			}
			total += n
			perSource[i] += n
			if n > 0 {
				idle = false
			}
		}
		if idle {
			time.Sleep(time.Millisecond)
		}
	}
	return perSource, total
}

// ringOf sends frame f and returns the ring of d it arrived in.
func ringOf(t *testing.T, d *Driver, peer interface {
	Send(testing.TB, ...[]byte)
}, f []byte, pool *packet.Pool) int {
	t.Helper()
	return sourceOf(t, ringsOf(d), peer, f, pool)
}

// sourceOf sends frame f and returns the index of the source (ring) it
// arrived from.
func sourceOf(t *testing.T, sources []func(*packet.Pool, []*packet.Packet) int, peer interface {
	Send(testing.TB, ...[]byte)
}, f []byte, pool *packet.Pool) int {
	t.Helper()
	peer.Send(t, f)
	pkts := make([]*packet.Packet, 8)
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		for i, recv := range sources {
			if n := recv(pool, pkts); n > 0 {
				for _, p := range pkts[:n] {
					pool.Free(p)
				}
				if n != 1 {
					t.Fatalf("ring %d: %d frames for one sent", i, n)
				}
				return i
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("probe frame not received")
	return -1
}

// TestRxQueuesFair floods one ring until the kernel drops at it, then sends
// a frame of a flow hashed to another ring: that frame is not dropped, and
// the next Recv batch has it, though the flooded ring still holds frames
// (a single ring would have dropped it, or queued it behind the flood).
// Flows are told apart by source port; the kernel's flow hash is random
// per boot, so the ports are found by trying.
func TestRxQueuesFair(t *testing.T) {
	for _, tc := range []struct {
		queues, batch int
	}{{2, 16}, {2, 3}, {4, 16}} {
		t.Run(fmt.Sprintf("queues=%d/batch=%d", tc.queues, tc.batch), func(t *testing.T) {
			v := newVethPair(t, 1500)
			d := v.openDriver(t, Config{Version: RingV2, Frames: 64 * tc.queues, RxQueues: tc.queues})
			ringFrames := d.Config().Frames / tc.queues
			peer := openRaw(t, v.B, v.IdxB, false)
			pool := packet.NewPool(0, 256)
			// Find a flood flow in ring 0, which the round robin
			// starts with, and a light flow in another ring.
			port := map[int]uint16{} // ring -> a source port hashed to it
			lightRing := -1
			for sport := uint16(3000); port[0] == 0 || lightRing < 0; sport++ {
				if sport == 3200 {
					t.Fatalf("200 flows all hashed to ring(s) %v", port)
				}
				r := ringOf(t, d, peer, udpFrame(v.MACA, v.MACB, sport, 0), pool)
				port[r] = sport
				if r != 0 {
					lightRing = r
				}
			}
			floodRing := 0
			flood, light := port[floodRing], port[lightRing]
			pkts := make([]*packet.Packet, tc.batch)
			seq := uint32(1)
			for round := range 8 {
				// Fill the flood ring, and more: the kernel drops.
				before, _ := d.Stats()
				for range 2 * ringFrames {
					peer.Send(t, udpFrame(v.MACA, v.MACB, flood, seq))
					seq++
				}
				peer.Send(t, udpFrame(v.MACA, v.MACB, light, uint32(round)))
				deadline := time.Now().Add(waitTimeout)
				for !d.qs[lightRing].rx.pending() && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
				after, _ := d.Stats()
				if after.Drops == before.Drops {
					t.Fatalf("round %d: the kernel dropped nothing: the flood ring was not full", round)
				}
				if !d.qs[lightRing].rx.pending() {
					t.Fatalf("round %d: light frame dropped (or not hashed to ring %d)", round, lightRing)
				}
				n := d.Recv(pool, pkts)
				gotLight, gotFlood := 0, 0
				for _, p := range pkts[:n] {
					switch sport, s := flowOf(p.Data()); sport {
					case light:
						gotLight++
						if s != uint32(round) {
							t.Errorf("round %d: light frame %d", round, s)
						}
					case flood:
						gotFlood++
					}
					pool.Free(p)
				}
				if gotLight != 1 || gotFlood == 0 || !d.qs[floodRing].rx.pending() {
					t.Fatalf("round %d: one Recv of %d got %d light and %d flood frames (flood ring still pending: %v): want the light frame beside the flood",
						round, tc.batch, gotLight, gotFlood, d.qs[floodRing].rx.pending())
				}
				// Drain some of the flood in batches of the same
				// size, leaving the round robin anywhere.
				for range round {
					n := d.Recv(pool, pkts)
					for _, p := range pkts[:n] {
						pool.Free(p)
					}
				}
			}
			drain := func() {
				for d.Pending() {
					n := d.Recv(pool, pkts)
					for _, p := range pkts[:n] {
						pool.Free(p)
					}
				}
			}
			drain()
			// Both flows flood: every batch takes from both rings,
			// and they get the same share, give or take a quantum.
			for i := range 2 * ringFrames {
				peer.Send(t, udpFrame(v.MACA, v.MACB, flood, uint32(i)), udpFrame(v.MACA, v.MACB, light, uint32(i)))
			}
			deadline := time.Now().Add(waitTimeout)
			for !d.qs[lightRing].rx.pending() && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			got := map[uint16]int{}
			for range ringFrames / tc.batch {
				n := d.Recv(pool, pkts)
				call := map[uint16]int{}
				for _, p := range pkts[:n] {
					sport, _ := flowOf(p.Data())
					call[sport]++
					pool.Free(p)
				}
				if n != tc.batch || call[flood] == 0 || call[light] == 0 {
					t.Fatalf("both rings full: a Recv of %d got %v (ports %d, %d)", tc.batch, call, flood, light)
				}
				got[flood] += call[flood]
				got[light] += call[light]
			}
			// Give or take a quantum of the round robin, and one more:
			// the light flow's ring was light when its flood began, so
			// its first quantum was taken ahead of the round robin
			// (Recv: light rings first, as fq_codel's new flows).
			quantum := (tc.batch + tc.queues - 1) / tc.queues
			if diff := got[flood] - got[light]; diff > 2*quantum || diff < -2*quantum {
				t.Errorf("both rings full: shares %d and %d, want equal within two quanta of %d", got[flood], got[light], quantum)
			}
			drain()
			checkPool(t, pool)
		})
	}
}

// TestRxQueuesShed checks shedding over several rings: HeadTime is the
// oldest head of any ring, and Shed drops the heavy flow's old frames from
// its ring while the light flow's frame, in another ring, stays.
func TestRxQueuesShed(t *testing.T) {
	v := newVethPair(t, 1500)
	d := v.openDriver(t, Config{Version: RingV2, Frames: 256, RxQueues: 2})
	peer := openRaw(t, v.B, v.IdxB, false)
	pool := packet.NewPool(0, 64)
	port := map[int]uint16{}
	for sport := uint16(4000); len(port) < 2; sport++ {
		if sport == 4200 {
			t.Fatalf("200 flows all hashed to ring(s) %v", port)
		}
		port[ringOf(t, d, peer, udpFrame(v.MACA, v.MACB, sport, 0), pool)] = sport
	}
	heavy, light := port[0], port[1]
	var m driver.FlowMeter
	for i := range 100 {
		m.Heavy(udpFrame(v.MACA, v.MACB, heavy, uint32(i)))
	}
	lightFrame := udpFrame(v.MACA, v.MACB, light, 7)
	if m.Heavy(lightFrame) {
		t.Fatal("a flow seen once counts as heavy")
	}
	start := time.Now().UnixNano()
	peer.Send(t, udpFrame(v.MACA, v.MACB, heavy, 1), udpFrame(v.MACA, v.MACB, heavy, 2), lightFrame,
		udpFrame(v.MACA, v.MACB, heavy, 3))
	time.Sleep(20 * time.Millisecond) // let all four land
	head0, ok0 := headTime(d.qs[0].rx)
	head1, ok1 := headTime(d.qs[1].rx)
	ht, ok := d.HeadTime()
	if !ok0 || !ok1 || !ok || ht != min(head0, head1) || ht < start-int64(time.Second) {
		t.Errorf("HeadTime = %d, %v; ring heads %d, %d: want the oldest", ht, ok, head0, head1)
	}
	if n := d.Shed(time.Now().UnixNano(), 100, &m); n != 3 {
		t.Errorf("Shed = %d, want the 3 heavy frames", n)
	}
	if diff := diffFrames([][]byte{lightFrame}, recvFrames(t, d, pool, 1, 8)); diff != "" {
		t.Errorf("frames after Shed (-want +got):\n%s", diff)
	}
	expectNothing(t, d, pool)
	if a := testing.AllocsPerRun(100, func() { d.HeadTime(); d.Shed(time.Now().UnixNano(), 100, &m) }); a != 0 {
		t.Errorf("Shed allocates %v per call, want 0", a)
	}
	checkPool(t, pool)
}

// pollsReadable reports whether fd polls readable at once.
func pollsReadable(t *testing.T, fd int) bool {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	return n == 1 && fds[0].Revents&unix.POLLIN != 0
}

// TestQuiet: a quiet driver with several receive queues keeps its frames
// (Pending, Recv) but its Fd does not signal them; back from quiet, Fd is
// readable at once for a frame that came meanwhile, and stays quiet for no
// frame. Quiet twice is harmless; with one queue there is nothing to do.
func TestQuiet(t *testing.T) {
	v := newVethPair(t, 1500)
	d := v.openDriver(t, Config{Version: RingV2, Frames: 256, RxQueues: 2})
	peer := openRaw(t, v.B, v.IdxB, false)
	pool := packet.NewPool(0, 64)
	pkts := make([]*packet.Packet, 64)
	var _ driver.Quieter = d
	for range 2 {
		if err := d.Quiet(true); err != nil {
			t.Fatalf("Quiet(true): %v", err)
		}
	}
	peer.Send(t, udpFrame(v.MACA, v.MACB, 4000, 1))
	deadline := time.Now().Add(waitTimeout)
	for !d.Pending() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !d.Pending() {
		t.Fatal("frame sent to the quiet driver never pending")
	}
	if pollsReadable(t, d.Fd()) {
		t.Error("quiet: Fd readable for a frame in a ring")
	}
	if err := d.Quiet(false); err != nil {
		t.Fatalf("Quiet(false): %v", err)
	}
	if !pollsReadable(t, d.Fd()) {
		t.Error("back from quiet: Fd not readable for the frame that came meanwhile")
	}
	if n := d.Recv(pool, pkts); n != 1 {
		t.Fatalf("Recv: %d frames, want 1", n)
	}
	pool.Free(pkts[0])
	if pollsReadable(t, d.Fd()) {
		t.Error("Fd readable with every ring empty")
	}
	// Watched again: a new frame signals.
	peer.Send(t, udpFrame(v.MACA, v.MACB, 4001, 2))
	fds := []unix.PollFd{{Fd: int32(d.Fd()), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, int(waitTimeout/time.Millisecond)); n != 1 || err != nil {
		t.Fatalf("frame after Quiet(false): poll %d, %v", n, err)
	}
	if n := d.Recv(pool, pkts); n != 1 {
		t.Fatalf("Recv: %d frames, want 1", n)
	}
	pool.Free(pkts[0])
	checkPool(t, pool)

	// One queue: Fd is the socket, which the thread's own epoll set
	// stops watching; the driver has nothing to do.
	one := v.openDriver(t, Config{Version: RingV2, Frames: 256, RxQueues: 1})
	if err := one.Quiet(true); err != nil || one.Fd() != one.fd {
		t.Errorf("one queue: Quiet(true) = %v, Fd %d, socket %d", err, one.Fd(), one.fd)
	}
}

// TestSparseQueues: a ring whose visits keep finding more than they take
// (a flood) stops counting as light; a ring emptied at every visit stays
// light. Its frame leads the next batch, marked sparse with its queue
// (packet.MetaSparse), and FreshPending reports it; the flood's frames
// carry their queue and no mark, and a flood alone is not FreshPending.
func TestSparseQueues(t *testing.T) {
	v := newVethPair(t, 1500)
	d := v.openDriver(t, Config{Version: RingV2, Frames: 2048, RxQueues: 2})
	peer := openRaw(t, v.B, v.IdxB, false)
	pool := packet.NewPool(0, 512)
	port := map[int]uint16{} // ring -> a source port hashed to it
	for sport := uint16(5000); port[0] == 0 || port[1] == 0; sport++ {
		if sport == 5200 {
			t.Fatalf("200 flows all hashed to ring(s) %v", port)
		}
		port[ringOf(t, d, peer, udpFrame(v.MACA, v.MACB, sport, 0), pool)] = sport
	}
	const floodRing, lightRing = 0, 1
	for i := range 600 {
		peer.Send(t, udpFrame(v.MACA, v.MACB, port[floodRing], uint32(i)))
	}
	deadline := time.Now().Add(waitTimeout)
	for !d.qs[floodRing].rx.pending() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	pkts := make([]*packet.Packet, 16)
	check := func(p *packet.Packet, ring int, sparse bool) {
		t.Helper()
		q := int(p.Meta&packet.MetaRxQueueMask) >> packet.MetaRxQueueShift
		if q != ring || (p.Meta&packet.MetaSparse != 0) != sparse {
			t.Errorf("frame of ring %d: Meta %#x (queue %d, sparse %v), want queue %d, sparse %v",
				ring, p.Meta, q, p.Meta&packet.MetaSparse != 0, ring, sparse)
		}
	}
	// Eight visits that take a full quantum from the flood ring.
	for range 8 {
		n := d.Recv(pool, pkts)
		for _, p := range pkts[:n] {
			pool.Free(p)
		}
	}
	if d.sched.Light(floodRing) || !d.sched.Light(lightRing) {
		t.Fatalf("after the flood: flood ring light %v, idle ring light %v (stands %d, %d)",
			d.sched.Light(floodRing), d.sched.Light(lightRing), d.sched.Stands(floodRing), d.sched.Stands(lightRing))
	}
	if d.FreshPending() {
		t.Error("FreshPending with only the flood's frames waiting")
	}
	peer.Send(t, udpFrame(v.MACA, v.MACB, port[lightRing], 7))
	for !d.qs[lightRing].rx.pending() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !d.FreshPending() {
		t.Fatal("the light ring's frame is not FreshPending")
	}
	n := d.Recv(pool, pkts)
	if n != len(pkts) {
		t.Fatalf("Recv: %d frames, want %d", n, len(pkts))
	}
	if sport, _ := flowOf(pkts[0].Data()); sport != port[lightRing] {
		t.Errorf("batch starts with flow %d, want the light flow %d", sport, port[lightRing])
	}
	check(pkts[0], lightRing, true)
	for _, p := range pkts[1:] {
		check(p, floodRing, false)
	}
	for _, p := range pkts[:n] {
		pool.Free(p)
	}
	if d.FreshPending() {
		t.Error("FreshPending after the light frame was read")
	}
	for d.Pending() {
		n := d.Recv(pool, pkts)
		for _, p := range pkts[:n] {
			pool.Free(p)
		}
	}
	checkPool(t, pool)
}
