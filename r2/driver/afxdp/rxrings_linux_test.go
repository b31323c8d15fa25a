//go:build linux

package afxdp

import (
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/r2go/r2/r2/internal/bpfasm"
	"github.com/r2go/r2/r2/internal/nstest"
	"github.com/r2go/r2/r2/packet"
)

// flowFrame is a frame of flow fl of kind, carrying seq after the headers:
// "udp4" and "tcp4" (IPv4, ports from fl; "tcp4" with a 4-byte IP option,
// so the ports are found through IHL), "frag4" (IPv4 UDP fragments with MF
// set: ports ignored, so every fl is one flow), "udp6" (IPv6) and "raw"
// (the test EtherType: no flow, ring 0).
func flowFrame(dst, src net.HardwareAddr, kind string, fl int, seq uint32) []byte {
	if kind == "raw" {
		return nstest.Frame(dst, src, int(seq), 64)
	}
	var f []byte
	l4 := 0
	switch kind {
	case "udp4", "tcp4", "frag4":
		ihl := 20
		if kind == "tcp4" {
			ihl = 24
		}
		f = make([]byte, 14+ihl+20+4)
		binary.BigEndian.PutUint16(f[12:], 0x0800)
		ip := f[14:]
		ip[0] = 0x40 | byte(ihl/4)
		binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
		ip[8], ip[9] = 64, 17
		if kind == "tcp4" {
			ip[9] = 6
		}
		if kind == "frag4" {
			ip[6] = 0x20 // MF
		}
		copy(ip[12:], []byte{10, 1, 0, 1, 10, 2, 0, 1})
		l4 = 14 + ihl
	case "udp6":
		f = make([]byte, 14+40+20+4)
		binary.BigEndian.PutUint16(f[12:], 0x86dd)
		ip := f[14:]
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], 24)
		ip[6], ip[7] = 17, 64
		ip[8], ip[23] = 0x20, 1
		ip[24], ip[39] = 0x20, 2
		l4 = 14 + 40
	default:
		panic(kind)
	}
	copy(f, dst)
	copy(f[6:], src)
	binary.BigEndian.PutUint16(f[l4:], uint16(1000+fl))
	binary.BigEndian.PutUint16(f[l4+2:], 9)
	binary.BigEndian.PutUint32(f[len(f)-4:], seq)
	return f
}

// ringOf is the receive ring a packet's Meta names.
func ringOf(p *packet.Packet) int {
	return int(p.Meta & packet.MetaRxQueueMask >> packet.MetaRxQueueShift)
}

// TestRxRings checks that with several receive rings on the queue the XDP
// program spreads flows over them as flowHash says (IPv4 with and without
// options, fragments, IPv6, non-IP frames to ring 0), that every frame
// arrives once and in order within its flow, that every ring is used, and
// that closing gives every packet back.
func TestRxRings(t *testing.T) {
	for _, rings := range []int{2, 4} {
		t.Run(fmt.Sprint(rings), func(t *testing.T) {
			pool := newPool(t, 0, 4096)
			tn, d, peer := openPrimed(t, 1500, Config{Pool: pool, RxRings: rings})
			v := tn.Pairs[0]
			if d.RxRings() != rings || d.Fd() == d.fd {
				t.Fatalf("%d rings, Fd %d (socket %d): want %d rings polled through an epoll fd", d.RxRings(), d.Fd(), d.fd, rings)
			}
			type flow struct {
				kind string
				fl   int
			}
			var flows []flow
			for fl := range 24 {
				flows = append(flows, flow{"udp4", fl}, flow{"tcp4", fl}, flow{"udp6", fl})
			}
			flows = append(flows, flow{"frag4", 0}, flow{"frag4", 1}, flow{"raw", 0})
			const perFlow = 6
			var sent [][]byte
			for seq := range perFlow {
				for _, f := range flows {
					sent = append(sent, flowFrame(v.MACA, v.MACB, f.kind, f.fl, uint32(seq)))
				}
			}
			peer.Send(t, sent...)

			pkts := make([]*packet.Packet, 16)
			type got struct {
				frame []byte
				ring  int
			}
			var recvd []got
			deadline := time.Now().Add(waitTimeout)
			for len(recvd) < len(sent) && time.Now().Before(deadline) {
				n := d.Recv(pool, pkts)
				for _, p := range pkts[:n] {
					recvd = append(recvd, got{append([]byte(nil), p.Data()...), ringOf(p)})
					pool.Free(p)
				}
				if n == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			if len(recvd) != len(sent) {
				t.Fatalf("received %d frames, want %d", len(recvd), len(sent))
			}
			// Per flow (the frame without its sequence number): the
			// frames in order, all in the ring the hash names.
			next := map[string]uint32{}
			used := map[int]int{}
			for _, g := range recvd {
				key := string(g.frame[:len(g.frame)-4])
				seq := binary.BigEndian.Uint32(g.frame[len(g.frame)-4:])
				if g.frame[12] == 0x88 { // the test EtherType: seq is elsewhere
					key, seq = "raw", next["raw"]
				}
				if seq != next[key] {
					t.Errorf("flow %x: seq %d, want %d", key[14:], seq, next[key])
				}
				next[key] = seq + 1
				if want := int(flowHash(d.prog.seed, g.frame) % uint32(rings)); g.ring != want {
					t.Errorf("frame %x came through ring %d, want %d (hash %#x)", g.frame[12:], g.ring, want, flowHash(d.prog.seed, g.frame))
				}
				used[g.ring]++
			}
			if len(next) != len(flows) {
				t.Errorf("%d flows received, want %d", len(next), len(flows))
			}
			if len(used) != rings {
				t.Errorf("rings used %v, want all %d", used, rings)
			}
			if flowHash(d.prog.seed, sent[len(flows)-1]) != 0 || used[0] == 0 {
				t.Errorf("a non-IP frame hashes to %#x, want ring 0", flowHash(d.prog.seed, sent[len(flows)-1]))
			}
			if a, b := flowHash(d.prog.seed, sent[len(flows)-3]), flowHash(d.prog.seed, sent[len(flows)-2]); a != b {
				t.Errorf("fragments of two port pairs hash apart (%#x, %#x): a fragment's ports must not count", a, b)
			}
			expectNothing(t, d, pool)
			st, err := d.Stats()
			if err != nil {
				t.Fatal(err)
			}
			if st.RxDropped != 0 || st.RxRingFull != 0 {
				t.Errorf("Stats = %+v", st)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			checkPool(t, pool)
		})
	}
}

// TestRxRingsLightFirst checks what the rings are for: a flood fills its
// own ring (the kernel drops there), and a light flow's frame in another
// ring is neither dropped nor left behind the flood: it comes in the next
// Recv batch, marked sparse, also once the flood's ring is known heavy.
func TestRxRingsLightFirst(t *testing.T) {
	const rings, batch = 2, 16
	pool := newPool(t, 0, 8192)
	tn, d, peer := openPrimed(t, 1500, Config{Pool: pool, RxRings: rings})
	v := tn.Pairs[0]
	flood := flowFrame(v.MACA, v.MACB, "udp4", 0, 0)
	floodRing := int(flowHash(d.prog.seed, flood) % rings)
	light := -1
	for fl := 1; fl < 100 && light < 0; fl++ {
		if int(flowHash(d.prog.seed, flowFrame(v.MACA, v.MACB, "udp4", fl, 0))%rings) != floodRing {
			light = fl
		}
	}
	if light < 0 {
		t.Fatal("no flow hashes away from the flood's ring")
	}
	pkts := make([]*packet.Packet, batch)
	for round := range 3 {
		// More than the flood's ring holds (1024 entries).
		var frames [][]byte
		for seq := range 1500 {
			frames = append(frames, flowFrame(v.MACA, v.MACB, "udp4", 0, uint32(seq)))
		}
		peer.Send(t, frames...)
		time.Sleep(20 * time.Millisecond)
		lf := flowFrame(v.MACA, v.MACB, "udp4", light, uint32(1000+round))
		peer.Send(t, lf)
		time.Sleep(20 * time.Millisecond)
		n := d.Recv(pool, pkts)
		found := false
		for _, p := range pkts[:n] {
			if string(p.Data()) == string(lf) {
				found = true
				if p.Meta&packet.MetaSparse == 0 || ringOf(p) == floodRing {
					t.Errorf("round %d: the light frame has Meta %#x (ring %d, flood's %d), want sparse", round, p.Meta, ringOf(p), floodRing)
				}
			}
			pool.Free(p)
		}
		if !found {
			t.Errorf("round %d: the light frame was not in the first batch of %d", round, n)
		}
		// Drain the flood.
		for {
			n := d.Recv(pool, pkts)
			if n == 0 {
				break
			}
			for _, p := range pkts[:n] {
				pool.Free(p)
			}
		}
		if round == 0 && d.sched.Light(floodRing) {
			t.Errorf("the flood's ring still counts as light (stands %d)", d.sched.Stands(floodRing))
		}
	}
	// Zero allocations over both rings, Pending and FreshPending too.
	var frames [][]byte
	for seq := range 400 {
		frames = append(frames, flowFrame(v.MACA, v.MACB, "udp4", seq%2*light, uint32(seq)))
	}
	peer.Send(t, frames...)
	time.Sleep(20 * time.Millisecond)
	received := 0
	allocs := testing.AllocsPerRun(30, func() {
		n := d.Recv(pool, pkts)
		received += n
		for _, p := range pkts[:n] {
			pool.Free(p)
		}
		d.Pending()
		d.FreshPending()
	})
	if allocs != 0 || received == 0 {
		t.Errorf("Recv over two rings: %v allocs/run (%d frames)", allocs, received)
	}
	st, err := d.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.RxRingFull == 0 {
		t.Errorf("the flood never filled its ring: %+v", st)
	}
	t.Logf("stats %+v", st)
	d.Close()
	checkPool(t, pool)
}

// recvN receives n frames from d (or fails after waitTimeout) and returns
// copies of them with the ring each came through.
func recvN(t *testing.T, d *Driver, pool *packet.Pool, n int) (frames [][]byte, rings []int) {
	t.Helper()
	pkts := make([]*packet.Packet, 16)
	for deadline := time.Now().Add(waitTimeout); len(frames) < n && time.Now().Before(deadline); {
		got := d.Recv(pool, pkts)
		for _, p := range pkts[:got] {
			frames = append(frames, append([]byte(nil), p.Data()...))
			rings = append(rings, ringOf(p))
			pool.Free(p)
		}
		if got == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if len(frames) != n {
		t.Fatalf("received %d frames, want %d", len(frames), n)
	}
	return frames, rings
}

// sparseRings sends n frames of one flow (frame(seq), seq from 0), each
// 3*gap after the one before was received, and returns them as received
// and the ring each came through.
func sparseRings(t *testing.T, d *Driver, pool *packet.Pool, peer *nstest.RawSock, n int, gap time.Duration, frame func(seq uint32) []byte) (frames [][]byte, rings []int) {
	t.Helper()
	for seq := range n {
		if seq > 0 {
			time.Sleep(3 * gap)
		}
		peer.Send(t, frame(uint32(seq)))
		f, r := recvN(t, d, pool, 1)
		frames, rings = append(frames, f...), append(rings, r...)
	}
	return frames, rings
}

// TestRxRingsSteering checks light-flow steering (Config.LightGap) on a
// queue of four rings: dense flows of every kind arrive in order, each in
// its home ring 1 + (hash >> 16) % 3 (or that of the flow it shares a
// bucket with) and never in ring 0, non-IP frames too; a flow whose frames
// come further apart than the gap arrives in ring 0 from its second frame.
func TestRxRingsSteering(t *testing.T) {
	const rings, gap = 4, 5 * time.Millisecond
	pool := newPool(t, 0, 4096)
	tn, d, peer := openPrimed(t, 1500, Config{Pool: pool, RxRings: rings, LightGap: gap})
	v := tn.Pairs[0]
	var sent [][]byte
	for seq := range 6 {
		for fl := range 24 {
			for _, kind := range []string{"udp4", "tcp4", "udp6"} {
				sent = append(sent, flowFrame(v.MACA, v.MACB, kind, fl, uint32(seq)))
			}
		}
		sent = append(sent, flowFrame(v.MACA, v.MACB, "raw", 0, uint32(seq)))
	}
	// A bucket's ring is the home of the first flow (in send order) that
	// hashed to it: two flows in one bucket count as one.
	hashOf := func(f []byte) uint32 {
		if f[12] == 0x88 { // the test EtherType: not hashed, as h 0
			return mixFlowHash(0, d.prog.seed)
		}
		return flowHash(d.prog.seed, f)
	}
	bucketRing := map[uint32]int{}
	for _, f := range sent {
		h := hashOf(f)
		if _, ok := bucketRing[h%bpfasm.SteerBuckets]; !ok {
			bucketRing[h%bpfasm.SteerBuckets] = 1 + int(h>>16)%(rings-1)
		}
	}
	peer.Send(t, sent...)
	frames, got := recvN(t, d, pool, len(sent))
	next := map[string]uint32{}
	used := map[int]int{}
	for i, f := range frames {
		used[got[i]]++
		if want := bucketRing[hashOf(f)%bpfasm.SteerBuckets]; got[i] != want {
			t.Errorf("dense frame %x came through ring %d, want its bucket's %d", f[12:], got[i], want)
		}
		if f[12] == 0x88 { // no flow order to check
			continue
		}
		key := string(f[:len(f)-4])
		if seq := binary.BigEndian.Uint32(f[len(f)-4:]); seq != next[key] {
			t.Errorf("flow %x: seq %d, want %d", key[14:], seq, next[key])
		}
		next[key]++
	}
	if used[0] != 0 || len(used) != rings-1 {
		t.Errorf("dense flows' frames per ring %v: want none in ring 0, some in each other", used)
	}

	_, sparse := sparseRings(t, d, pool, peer, 4, gap, func(seq uint32) []byte {
		return flowFrame(v.MACA, v.MACB, "udp4", 99, seq)
	})
	if sparse[0] == 0 || sparse[1] != 0 || sparse[2] != 0 || sparse[3] != 0 {
		t.Errorf("a flow of frames %v apart came through rings %v: want its first in 1-3, the rest in 0", 3*gap, sparse)
	}
	expectNothing(t, d, pool)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	checkPool(t, pool)
}

// TestRxRingsSteeringWaitsForRead: light-flow steering moves a flow to
// another ring only once the driver has read the flow's last frame from
// the ring it leaves (readmark_linux.go). A sparse flow whose first frame
// is still unread stays in its home ring at its second sparse frame
// (which would take it to ring 0, read first: the two would come out
// swapped) and moves at its third, once the first two were read; in ring
// 0, a dense run longer than SteerDenseRun stays there while unread, and
// its next frame after the reading goes home. Every frame comes in order.
func TestRxRingsSteeringWaitsForRead(t *testing.T) {
	const rings, gap = 4, 50 * time.Millisecond
	pool := newPool(t, 0, 4096)
	tn, d, peer := openPrimed(t, 1500, Config{Pool: pool, RxRings: rings, LightGap: gap})
	v := tn.Pairs[0]
	home := 1 + int(flowHash(d.prog.seed, flowFrame(v.MACA, v.MACB, "udp4", 7, 0))>>16)%(rings-1)
	seq := uint32(0)
	send := func(n int) {
		t.Helper()
		var fs [][]byte
		for range n {
			fs = append(fs, flowFrame(v.MACA, v.MACB, "udp4", 7, seq))
			seq++
		}
		peer.Send(t, fs...)
	}
	next := uint32(0)
	recv := func(n int) []int {
		t.Helper()
		frames, got := recvN(t, d, pool, n)
		for _, f := range frames {
			if s := binary.BigEndian.Uint32(f[len(f)-4:]); s != next {
				t.Errorf("seq %d, want %d", s, next)
				next = s
			}
			next++
		}
		return got
	}
	count := func(rs []int) map[int]int {
		m := map[int]int{}
		for _, r := range rs {
			m[r]++
		}
		return m
	}

	// Two sparse frames, the first not read when the second comes.
	send(1)
	time.Sleep(3 * gap)
	send(1)
	time.Sleep(gap / 5)
	if got := recv(2); !slices.Equal(got, []int{home, home}) {
		t.Errorf("sparse frames, the first unread when the second came: rings %v, want both in the home ring %d", got, home)
	}
	time.Sleep(3 * gap)
	send(1)
	if got := recv(1); got[0] != 0 {
		t.Errorf("third sparse frame, the others read: ring %d, want 0", got[0])
	}

	// A dense run in ring 0, unread: it stays there past SteerDenseRun.
	send(bpfasm.SteerDenseRun + 16)
	time.Sleep(gap / 5)
	if got := count(recv(bpfasm.SteerDenseRun + 16)); got[0] != bpfasm.SteerDenseRun+16 {
		t.Errorf("a dense run of %d in ring 0, unread while it came: rings %v, want all in ring 0", bpfasm.SteerDenseRun+16, got)
	}
	// Read now: the next dense frame goes home.
	send(1)
	if got := recv(1); got[0] != home {
		t.Errorf("the frame after a long dense run, which was read: ring %d, want home %d", got[0], home)
	}
	expectNothing(t, d, pool)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	checkPool(t, pool)
}

// TestRxRingsSteeringReadMarkMultiBuffer: a frame of several descriptors
// (MTU 9000) moves its ring's read mark too (its stamp is in its first
// descriptor, whose chunk is given back before the batch ends), so a
// sparse flow of jumbo frames, each read before the next comes, reaches
// ring 0 at its second frame.
func TestRxRingsSteeringReadMarkMultiBuffer(t *testing.T) {
	const rings, gap = 4, 5 * time.Millisecond
	tn := newTestNet(t, 1, 9000)
	v := tn.Pairs[0]
	pool := newPoolBig(t, 4096, 16)
	d := tn.open(t, 0, Config{Pool: pool, RxRings: rings, LightGap: gap})
	if on, why := d.MultiBuffer(); !on {
		t.Fatalf("no multi-buffer frames: %s", why)
	}
	peer := openRaw(t, tn.B, v.IdxB)
	prime(t, d, pool)
	jumbo := func(seq uint32) []byte {
		f := flowFrame(v.MACA, v.MACB, "udp4", 3, seq)
		return append(f, make([]byte, 5000)...)
	}
	frames, got := sparseRings(t, d, pool, peer, 3, gap, jumbo)
	for _, f := range frames {
		if len(f) < 5000 {
			t.Fatalf("frame of %d bytes: want a jumbo one", len(f))
		}
	}
	if got[0] == 0 || got[1] != 0 || got[2] != 0 {
		t.Errorf("a sparse flow of jumbo frames came through rings %v: want its first in 1-3, the rest in 0", got)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	checkPool(t, pool)
}

// TestRxRingsSteeringWithoutReadMarks: where the kernel refuses the
// read-mark array, steering still works as before the marks (a sparse
// flow reaches ring 0 from its second frame), without the check, and the
// program says why.
func TestRxRingsSteeringWithoutReadMarks(t *testing.T) {
	refuseReadMarks = true
	t.Cleanup(func() { refuseReadMarks = false })
	const rings, gap = 4, 5 * time.Millisecond
	pool := newPool(t, 0, 4096)
	tn, d, peer := openPrimed(t, 1500, Config{Pool: pool, RxRings: rings, LightGap: gap})
	v := tn.Pairs[0]
	if d.readMarks != nil || d.prog.readWhy != "refused by a test" {
		t.Errorf("read marks %v, why %q: want none, refused by the test", d.readMarks, d.prog.readWhy)
	}
	_, got := sparseRings(t, d, pool, peer, 3, gap, func(seq uint32) []byte {
		return flowFrame(v.MACA, v.MACB, "udp4", 5, seq)
	})
	if got[0] == 0 || got[1] != 0 || got[2] != 0 {
		t.Errorf("a sparse flow came through rings %v: want its first in 1-3, the rest in 0", got)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	checkPool(t, pool)
}

// BenchmarkXDPSteer is the cost of light-flow steering in the XDP program:
// the redirect program of four rings with the hash alone against the same
// with steering (Config.LightGap), one BPF_PROG_TEST_RUN of b.N repeats
// each, ns/frame as the kernel timed them, rounds alternating. (The
// XSKMAP is empty: the program's redirect finds no socket and passes.)
func BenchmarkXDPSteer(b *testing.B) {
	frames := transitFrames(testMACA, testMACB)
	progs := map[string]*xdpProg{}
	for name, gap := range map[string]time.Duration{"hash": 0, "steer": 2 * time.Millisecond} {
		x, err := newRedirectProg(1, 4, gap, 0, superPass{})
		if err != nil {
			b.Fatal(err)
		}
		defer x.close()
		progs[name] = x
	}
	for round := range 3 {
		for _, frame := range []string{"ipv4-64", "ipv6-78"} {
			for _, name := range []string{"hash", "steer"} {
				b.Run(fmt.Sprintf("round=%d/frame=%s/prog=%s", round, frame, name), func(b *testing.B) {
					_, dur, err := progs[name].prog.Benchmark(frames[frame], b.N, nil)
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(float64(dur.Nanoseconds()), "ns/frame")
				})
			}
		}
	}
}
