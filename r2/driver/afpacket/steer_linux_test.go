//go:build linux

package afpacket

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/internal/bpfasm"
	"github.com/r2go/r2/r2/internal/nstest"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

// flowFrame is an Ethernet frame of a UDP (or TCP, proto 6) datagram from
// src:sport to dst:dport, either family; frag sets IPv4's more-fragments
// flag.
func flowFrame(src, dst string, proto byte, sport, dport uint16, frag bool) []byte {
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	f := make([]byte, 14, 128)
	copy(f, []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2})
	var h []byte
	if s.Is4() {
		binary.BigEndian.PutUint16(f[12:], fEtherIPv4)
		h = make([]byte, 20)
		h[0], h[8], h[9] = 0x45, 64, proto
		binary.BigEndian.PutUint16(h[2:], 20+8)
		if frag {
			binary.BigEndian.PutUint16(h[6:], 0x2000)
		}
		a, b := s.As4(), d.As4()
		copy(h[12:], a[:])
		copy(h[16:], b[:])
	} else {
		binary.BigEndian.PutUint16(f[12:], fEtherIPv6)
		h = make([]byte, 40)
		h[0], h[6], h[7] = 0x60, proto, 64
		binary.BigEndian.PutUint16(h[4:], 8)
		a, b := s.As16(), d.As16()
		copy(h[8:], a[:])
		copy(h[24:], b[:])
	}
	l4 := make([]byte, 8)
	binary.BigEndian.PutUint16(l4, sport)
	binary.BigEndian.PutUint16(l4[2:], dport)
	return append(append(f, h...), l4...)
}

// steerRun is the ring the program gives frame.
func steerRun(t *testing.T, s *steerer, frame []byte) int {
	t.Helper()
	ret, err := s.prog.Run(&ebpf.RunOptions{Data: frame})
	if err != nil {
		t.Fatalf("running the steering program: %v", err)
	}
	return int(ret)
}

// usedBuckets counts the buckets that have seen a frame.
func usedBuckets(t *testing.T, s *steerer) int {
	t.Helper()
	var (
		k uint32
		n int
		v [bpfasm.SteerValueSize]byte
	)
	it := s.m.Iterate()
	for it.Next(&k, &v) {
		if binary.NativeEndian.Uint64(v[bpfasm.SteerLast:]) != 0 {
			n++
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// clearBuckets forgets every flow the program s has seen.
func clearBuckets(t *testing.T, s *steerer) {
	t.Helper()
	var zero [bpfasm.SteerValueSize]byte
	for k := range uint32(bpfasm.SteerBuckets) {
		if err := s.m.Update(k, zero, ebpf.UpdateExist); err != nil {
			t.Fatal(err)
		}
	}
}

func newTestSteerer(t *testing.T, rings int, gap time.Duration) *steerer {
	t.Helper()
	return newGroupSteerer(t, rings, 1, gap)
}

// newGroupSteerer is the program of a group of members drivers.
func newGroupSteerer(t *testing.T, rings, members int, gap time.Duration) *steerer {
	t.Helper()
	s, err := newSteerer(rings, members, gap)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	return s
}

// TestSteerProgram runs the steering program (BPF_PROG_TEST_RUN) on flows
// of both families: a dense flow stays in one ring of 1..K-1, a flow whose
// frames come more than the gap apart moves to ring 0 at its second such
// frame and stays there for a burst, returns home after a longer dense
// run or a pause; flows spread over every other ring.
func TestSteerProgram(t *testing.T) {
	const gap = time.Millisecond
	pause := func() { time.Sleep(3 * gap) }
	for _, fam := range []struct{ name, src, dst string }{
		{"ipv4", "10.0.0.1", "10.0.1.1"},
		{"ipv6", "2001:db8::1", "2001:db8:1::1"},
	} {
		t.Run(fam.name, func(t *testing.T) {
			s := newTestSteerer(t, 4, gap)
			dense := flowFrame(fam.src, fam.dst, 17, 1000, 2000, false)
			home := steerRun(t, s, dense)
			if home < 1 || home > 3 {
				t.Fatalf("a new flow went to ring %d, want one of 1-3 (ring 0 is for light flows)", home)
			}
			for i := range 200 {
				if r := steerRun(t, s, dense); r != home {
					t.Fatalf("dense flow: frame %d in ring %d, the flow's others in %d", i+1, r, home)
				}
			}

			sparse := flowFrame(fam.src, fam.dst, 6, 40000, 22, false)
			first := steerRun(t, s, sparse)
			if first == 0 {
				t.Fatalf("a flow's first frame went to the light ring 0")
			}
			for i := range 3 {
				pause()
				if r := steerRun(t, s, sparse); r != 0 {
					t.Fatalf("sparse flow: frame %d (after %v) in ring %d, want 0", i+2, 3*gap, r)
				}
			}
			// Dense now: it stays in ring 0 (moving would reorder it)
			// for a light flow's burst, and goes home after a
			// longer run.
			for i := range bpfasm.SteerDenseRun + 10 {
				want := 0
				if i+1 >= bpfasm.SteerDenseRun {
					want = first
				}
				if r := steerRun(t, s, sparse); r != want {
					t.Fatalf("a light flow turning dense: dense frame %d in ring %d, want %d", i+1, r, want)
				}
			}
			// After a pause its next frame may move: home, since
			// the run of sparse frames starts again.
			pause()
			if r := steerRun(t, s, sparse); r != first {
				t.Fatalf("after a dense run and a pause: ring %d, want its home %d", r, first)
			}
			pause()
			if r := steerRun(t, s, sparse); r != 0 {
				t.Fatalf("sparse again: ring %d, want 0", r)
			}
			// One dense frame, then a sparse one, as when a light
			// flow shares its bucket with another: it stays in
			// ring 0 (it went home at each such frame before).
			if r := steerRun(t, s, sparse); r != 0 {
				t.Fatalf("a dense frame in ring 0: ring %d, want 0", r)
			}
			for i := range 3 {
				pause()
				if r := steerRun(t, s, sparse); r != 0 {
					t.Fatalf("sparse frame %d after a dense one: ring %d, want 0 (in ring 0 already)", i+1, r)
				}
				steerRun(t, s, sparse) // dense again
			}
			// The dense flow kept its home through all this.
			if r := steerRun(t, s, dense); r != home {
				t.Fatalf("dense flow moved to ring %d after a pause of %v", r, 3*gap)
			}

			// Many flows: every ring but 0 gets some, none gets 0.
			// (A program of its own: a new flow that met the sparse
			// flow's bucket would find it light.)
			fresh := newTestSteerer(t, 4, gap)
			seen := map[int]int{}
			for port := range uint16(64) {
				seen[steerRun(t, fresh, flowFrame(fam.src, fam.dst, 17, 5000+port, 53, false))]++
			}
			if seen[0] != 0 || len(seen) != 3 {
				t.Fatalf("64 new flows spread over rings %v, want 1, 2 and 3 only", seen)
			}
		})
	}
}

// TestSteerProgramGate runs the program with ring 0 gated at 8 frames a
// window of 200 ms and a tenure of 400 ms: a ping moves to ring 0 and
// stays there a while; of 20 new flows as sparse, 7 follow it (8 frames in
// the window) and the others stay home however sparse; in the next
// window, closed, the 7 go back home at their next sparse frame while the
// ping, there longer than the tenure, keeps ring 0; once ring 0 has been
// quiet for two windows a new flow gets in again.
func TestSteerProgramGate(t *testing.T) {
	const gap, window, frames, tenure = time.Millisecond, 200 * time.Millisecond, 8, 400 * time.Millisecond
	ring0Gate = bpfasm.SteerGate{Window: int32(window), Frames: frames, Tenure: int32(tenure)}
	defer func() { ring0Gate = bpfasm.DefaultSteerGate }()
	pause := func() { time.Sleep(3 * gap) }
	s := newTestSteerer(t, 4, gap)
	ping := flowFrame("10.0.0.1", "10.0.1.1", 1, 0, 0, false)
	steerRun(t, s, ping)
	pause()
	if r := steerRun(t, s, ping); r != 0 {
		t.Fatalf("a light flow's second sparse frame in ring %d, want 0 (ring 0 open)", r)
	}
	time.Sleep(tenure + 300*time.Millisecond) // the ping has had ring 0 longer than the tenure
	if r := steerRun(t, s, ping); r != 0 {    // and starts a window
		t.Fatalf("the ping after a pause: ring %d, want 0", r)
	}
	flows := make([][]byte, 20)
	home := make([]int, len(flows))
	for i := range flows {
		flows[i] = flowFrame("10.0.0.2", "10.0.1.1", 17, uint16(3000+i), 53, false)
		home[i] = steerRun(t, s, flows[i])
	}
	pause()
	var in, out []int
	for i, f := range flows {
		switch r := steerRun(t, s, f); r {
		case 0:
			in = append(in, i)
		case home[i]:
			out = append(out, i)
		default:
			t.Fatalf("flow %d: ring %d, neither 0 nor its home %d", i, r, home[i])
		}
	}
	if len(in) != frames-1 {
		t.Fatalf("%d new flows moved to ring 0 (%v), want %d: the ping's frame and theirs make the window's %d", len(in), in, frames-1, frames)
	}
	pause()
	if r := steerRun(t, s, flows[out[0]]); r != home[out[0]] {
		t.Errorf("a refused flow's next sparse frame in ring %d, want its home %d (the window is full)", r, home[out[0]])
	}
	// The next window: the ping's frame ends the full one, which
	// closes ring 0.
	time.Sleep(window + window/4)
	if r := steerRun(t, s, ping); r != 0 {
		t.Fatalf("the ping, in ring 0 for longer than the tenure, went to ring %d when it closed", r)
	}
	pause()
	for _, i := range in {
		if r := steerRun(t, s, flows[i]); r != home[i] {
			t.Errorf("flow %d, moved to ring 0 just before it closed: ring %d, want its home %d", i, r, home[i])
		}
	}
	if r := steerRun(t, s, flows[out[1]]); r != home[out[1]] {
		t.Errorf("a new flow went to ring %d while ring 0 is closed, want its home %d", r, home[out[1]])
	}
	pause()
	if r := steerRun(t, s, ping); r != 0 {
		t.Errorf("the ping went to ring %d while ring 0 is closed, want 0 (it keeps it)", r)
	}
	// Quiet for two windows: open again.
	time.Sleep(2*window + window/2)
	if r := steerRun(t, s, flows[out[2]]); r != 0 {
		t.Errorf("after ring 0 was quiet for two windows a sparse flow went to ring %d, want 0", r)
	}
}

// TestSteerProgramMembers runs the program of a group of two drivers
// (threads) of three rings each: a flow keeps its driver whatever its
// rate, only its ring there changes (ring 0 of the driver when light);
// flows spread over both drivers and none of their rings 0; a flow's
// replies through another interface's program take the same member.
func TestSteerProgramMembers(t *testing.T) {
	const gap, rings, members = time.Millisecond, 3, 2
	s := newGroupSteerer(t, rings, members, gap)
	seen := map[int]int{}
	for port := range uint16(64) {
		f := flowFrame("10.0.0.1", "10.0.1.1", 17, 5000+port, 53, false)
		r := steerRun(t, s, f)
		for range 3 {
			if again := steerRun(t, s, f); again != r {
				t.Fatalf("flow %d: ring %d, then %d", 5000+port, r, again)
			}
		}
		seen[r]++
	}
	if len(seen) != members*(rings-1) || seen[0] != 0 || seen[rings] != 0 {
		t.Fatalf("64 dense flows over group rings %v: want each of 1, 2, 4, 5 (driver 0's rings 1-2, driver 1's), none in a ring 0", seen)
	}
	// Another interface's program (another group, four rings a
	// member): a flow's replies, sent back through it, take the member
	// index its frames took here, as with the kernel's symmetric hash.
	// (Programs of their own: a bucket these flows left with one sparse
	// frame would make the next new flow in it light.)
	there, back := newGroupSteerer(t, rings, members, gap), newGroupSteerer(t, 4, members, gap)
	threads := map[int]int{}
	for i := range uint16(64) {
		for _, f := range []struct {
			a, b  string
			proto byte
		}{{"10.0.0.1", "10.0.1.1", 17}, {"2001:db8::1", "2001:db8:1::1", 6}} {
			m := steerRun(t, there, flowFrame(f.a, f.b, f.proto, 5000+i, 53+i, false)) / rings
			replies := steerRun(t, back, flowFrame(f.b, f.a, f.proto, 53+i, 5000+i, false)) / 4
			if m != replies {
				t.Fatalf("flow %s:%d > %s:%d on member %d, its replies on member %d", f.a, 5000+i, f.b, 53+i, m, replies)
			}
			threads[m]++
		}
	}
	if len(threads) != members {
		t.Fatalf("128 flows on members %v: want both", threads)
	}
	for port := range uint16(8) {
		f := flowFrame("2001:db8::1", "2001:db8:1::1", 6, 40000+port, 22, false)
		first := steerRun(t, s, f)
		if first%rings == 0 || first >= rings*members {
			t.Fatalf("a new flow's first frame in group ring %d: want a driver's ring 1-2", first)
		}
		for i := range 2 {
			time.Sleep(3 * gap)
			if r := steerRun(t, s, f); r != first/rings*rings {
				t.Fatalf("light flow whose first frame went to group ring %d: frame %d in %d, want its driver's ring 0 (%d)", first, i+2, r, first/rings*rings)
			}
		}
	}
}

// TestSteerProgramHashInput checks what the hash is taken of: the ports
// of TCP and UDP, but not of IPv4 fragments (a datagram's later fragments
// have none, and all of them must go to one ring), and that frames too
// short for their ports or not IP still get a ring.
func TestSteerProgramHashInput(t *testing.T) {
	s := newTestSteerer(t, 4, time.Millisecond)
	for port := range uint16(16) {
		steerRun(t, s, flowFrame("10.0.0.1", "10.0.1.1", 17, 7000+port, 53, true))
	}
	if n := usedBuckets(t, s); n != 1 {
		t.Fatalf("16 fragments with different bytes where ports would be used %d buckets, want 1", n)
	}
	for port := range uint16(16) {
		steerRun(t, s, flowFrame("10.0.0.1", "10.0.1.1", 17, 7000+port, 53, false))
	}
	if n := usedBuckets(t, s); n < 15 {
		t.Fatalf("16 UDP flows differing in the source port used %d buckets (with the fragments'), want 15 or more", n)
	}
	// A header with options: the ports come after them. (A program of
	// its own: a flow that met a bucket of the flows above could find
	// it a gap old on a loaded machine, and go to ring 0.)
	opts := newTestSteerer(t, 4, time.Millisecond)
	for port := range uint16(16) {
		f := flowFrame("10.0.0.2", "10.0.1.1", 6, 7000+port, 80, false)
		f = append(f[:14+20:14+20], append([]byte{1, 1, 1, 0}, f[14+20:]...)...) // NOPs, end of options
		f[14] = 0x46
		if r := steerRun(t, opts, f); r < 1 || r > 3 {
			t.Fatalf("TCP flow with IP options, its first frame: ring %d, want 1-3", r)
		}
	}
	if n := usedBuckets(t, opts); n < 14 {
		t.Fatalf("16 TCP flows with IP options, differing in the source port, used %d buckets, want 14 or more", n)
	}
	// (The kernel's test runs refuse a frame shorter than its IP
	// header; the program's loads fail on such frames as on these.)
	longIHL := flowFrame("10.0.0.1", "10.0.1.1", 6, 1, 2, false)
	longIHL[14] = 0x4f // a 60-byte header, ports beyond the frame
	for _, f := range [][]byte{
		longIHL,
		flowFrame("10.0.0.1", "10.0.1.1", 6, 1, 2, false)[:14+20+2],                         // no room for the ports
		flowFrame("2001:db8::1", "2001:db8::2", 17, 1, 2, false)[:14+40],                    // nor here
		append([]byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x06}, make([]byte, 28)...), // ARP
	} {
		if r := steerRun(t, s, f); r < 0 || r > 3 {
			t.Fatalf("frame of %d bytes: ring %d of 4", len(f), r)
		}
	}

	two := newTestSteerer(t, 2, time.Millisecond)
	for port := range uint16(32) {
		if r := steerRun(t, two, flowFrame("10.0.0.1", "10.0.1.1", 17, port, 53, false)); r != 1 {
			t.Fatalf("with 2 rings a new flow went to ring %d, want 1", r)
		}
	}
}

func TestSteererArgs(t *testing.T) {
	for _, c := range []struct {
		rings, members int
		gap            time.Duration
	}{{1, 1, time.Millisecond}, {0, 1, time.Millisecond}, {4, 1, 0}, {4, 1, -time.Second}, {4, 1, 3 * time.Second},
		{1, 4, time.Millisecond}, {64, 5, time.Millisecond}} {
		if s, err := newSteerer(c.rings, c.members, c.gap); err == nil {
			s.close()
			t.Errorf("newSteerer(%d, %d, %v) took it", c.rings, c.members, c.gap)
		}
	}
}

// TestSteeringRings opens a driver with four receive rings and light-flow
// steering on a veth and sends frames from its peer: many dense flows each
// arrive in one ring of 1-3, in order, none in ring 0; a flow of frames
// further apart than the gap arrives in ring 0 from its second frame.
func TestSteeringRings(t *testing.T) {
	const gap = 5 * time.Millisecond
	v := newVethPair(t, 1500)
	d := v.openDriver(t, Config{Version: RingV2, Frames: 4096, RxQueues: 4, LightGap: gap})
	if on, why := d.Steering(); !on {
		t.Fatalf("steering off: %v", why)
	}
	peer := openRaw(t, v.B, v.IdxB, false)
	pool := packet.NewPool(0, 256)

	perRing := flowsThrough(t, v, peer, ringsOf(d), pool, 32, 20)
	if perRing[0] != 0 || min(perRing[1], perRing[2], perRing[3]) == 0 {
		t.Errorf("dense flows' frames per ring %v: want none in ring 0 and some in each other", perRing)
	}

	// Past the dense flows' last frames by more than a gap: a bucket the
	// sparse flow shares with one of them (two flows in a bucket count as
	// one) must not make its first frames dense.
	time.Sleep(3 * gap)
	var got []int
	for seq := range 4 {
		got = append(got, ringOf(t, d, peer, udpFrame(v.MACA, v.MACB, 5000, uint32(seq)), pool))
		time.Sleep(3 * gap)
	}
	if got[0] == 0 || got[1] != 0 || got[2] != 0 || got[3] != 0 {
		t.Errorf("a flow of frames %v apart arrived in rings %v: want its first in 1-3, the rest in 0", 3*gap, got)
	}
	checkPool(t, pool)
}

// TestSteeringGroup opens two drivers of two rings each in one fanout
// group with steering, as the daemon does for an interface served by two
// threads: dense flows each arrive in one ring, in order, spread over
// both drivers' rings 1 and none in a ring 0; a flow of frames further
// apart than the gap arrives in ring 0 of the driver it started on.
func TestSteeringGroup(t *testing.T) {
	const gap = 5 * time.Millisecond
	v := newVethPair(t, 1500)
	group := uint16(os.Getpid()) | 1
	var ds []*Driver
	for m := range 2 {
		d := v.openDriver(t, Config{Version: RingV2, Frames: 2048, RxQueues: 2, LightGap: gap, Fanout: group, Members: 2, Member: m})
		if on, why := d.Steering(); !on || why != nil {
			t.Fatalf("member %d: Steering() = %v, %v: want on", m, on, why)
		}
		ds = append(ds, d)
	}
	peer := openRaw(t, v.B, v.IdxB, false)
	pool := packet.NewPool(0, 256)
	rings := ringsOf(ds...)

	perRing := flowsThrough(t, v, peer, rings, pool, 32, 20)
	if perRing[0] != 0 || perRing[2] != 0 || perRing[1] == 0 || perRing[3] == 0 {
		t.Errorf("dense flows' frames per group ring %v: want some in each driver's ring 1, none in a ring 0", perRing)
	}

	time.Sleep(3 * gap) // as in TestSteeringRings
	for port := uint16(5000); port < 5004; port++ {
		// A bucket another of these flows left light would make this
		// one's first frame light too: every flow starts afresh.
		clearBuckets(t, ds[0].steer)
		var got []int
		for seq := range 3 {
			got = append(got, sourceOf(t, rings, peer, udpFrame(v.MACA, v.MACB, port, uint32(seq)), pool))
			time.Sleep(3 * gap)
		}
		if got[0]%2 != 1 || got[1] != got[0]-1 || got[2] != got[0]-1 {
			t.Errorf("flow %d of frames %v apart arrived in group rings %v: want its first in a driver's ring 1, the rest in that driver's ring 0", port, 3*gap, got)
		}
	}
	checkPool(t, pool)
}

// TestSteeringGroupRefused: when the group's first member cannot load the
// program, the group is made in hash mode, a later member joins it so
// (saying why it does not steer), and flows spread over every ring.
func TestSteeringGroupRefused(t *testing.T) {
	v := newVethPair(t, 1500)
	group := uint16(os.Getpid()) | 1
	refuseSteer = true
	d0 := v.openDriver(t, Config{Version: RingV2, Frames: 2048, RxQueues: 2, LightGap: DefaultLightGap, Fanout: group, Members: 2})
	refuseSteer = false
	d1 := v.openDriver(t, Config{Version: RingV2, Frames: 2048, RxQueues: 2, LightGap: DefaultLightGap, Fanout: group, Members: 2, Member: 1})
	for m, d := range []*Driver{d0, d1} {
		if on, why := d.Steering(); on || why == nil {
			t.Fatalf("member %d: Steering() = %v, %v: want off, with the reason", m, on, why)
		}
	}
	peer := openRaw(t, v.B, v.IdxB, false)
	pool := packet.NewPool(0, 256)
	perRing := flowsThrough(t, v, peer, ringsOf(d0, d1), pool, 32, 10)
	if min(perRing[0], perRing[1], perRing[2], perRing[3]) == 0 {
		t.Errorf("frames per group ring %v: want 32 flows spread over all four by the kernel's hash", perRing)
	}
	checkPool(t, pool)
}

// BenchmarkSteerProgram measures the steering program per frame in the
// kernel (BPF_PROG_TEST_RUN, 1000 runs a call) against a program that
// only returns 0, whose time is the test harness's: the difference is
// what steering adds to each received frame over no program (the
// kernel's hash, which it replaces, costs something too).
func BenchmarkSteerProgram(b *testing.B) {
	trivial, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.SocketFilter,
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
		License:      filterProgLicense,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer trivial.Close()
	s, err := newSteerer(4, 1, DefaultLightGap)
	if err != nil {
		b.Fatal(err)
	}
	defer s.close()
	g, err := newSteerer(4, 2, DefaultLightGap) // two threads: the thread hash too
	if err != nil {
		b.Fatal(err)
	}
	defer g.close()
	const repeat = 1000
	for _, c := range []struct {
		name  string
		prog  *ebpf.Program
		frame []byte
	}{
		{"trivial", trivial, flowFrame("10.0.0.1", "10.0.1.1", 17, 1000, 2000, false)},
		{"steer/ipv4-udp", s.prog, flowFrame("10.0.0.1", "10.0.1.1", 17, 1000, 2000, false)},
		{"steer/ipv6-tcp", s.prog, flowFrame("2001:db8::1", "2001:db8:1::1", 6, 1000, 2000, false)},
		{"steer-2threads/ipv4-udp", g.prog, flowFrame("10.0.0.1", "10.0.1.1", 17, 1000, 2000, false)},
		{"steer-2threads/ipv6-tcp", g.prog, flowFrame("2001:db8::1", "2001:db8:1::1", 6, 1000, 2000, false)},
	} {
		b.Run(c.name, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				_, per, err := c.prog.Benchmark(c.frame, repeat, nil)
				if err != nil {
					b.Fatal(err)
				}
				total += per
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/frame")
		})
	}
}

// TestSteeringRefused: a driver whose steering program cannot be loaded
// still opens, with the kernel's hash over its rings, and says why.
func TestSteeringRefused(t *testing.T) {
	refuseSteer = true
	defer func() { refuseSteer = false }()
	v := newVethPair(t, 1500)
	d := v.openDriver(t, Config{Version: RingV2, Frames: 4096, RxQueues: 4, LightGap: DefaultLightGap})
	if on, why := d.Steering(); on || why == nil {
		t.Fatalf("Steering() = %v, %v: want off, with the reason", on, why)
	}
	peer := openRaw(t, v.B, v.IdxB, false)
	pool := packet.NewPool(0, 256)
	perRing := flowsThrough(t, v, peer, ringsOf(d), pool, 32, 10)
	used := 0
	for _, n := range perRing {
		if n > 0 {
			used++
		}
	}
	// (An eBPF group left without its program would put every frame
	// in ring 0.)
	if perRing[0] == 0 || used < 3 {
		t.Errorf("frames per ring %v: want 32 flows spread over the rings by the kernel's hash, ring 0 among them", perRing)
	}
	checkPool(t, pool)
}

// TestSteeringRefusedCounted: opened through the registry with the
// daemon's settings, a driver whose steering program cannot load counts
// it in drv_steering_off and logs why; one that steers counts nothing.
func TestSteeringRefusedCounted(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		refuseSteer = refuse
		v := newVethPair(t, 1500)
		reg, err := counters.NewMem(counters.Sizes{Entries: 64, Names: 4096, Values: 64})
		if err != nil {
			t.Fatal(err)
		}
		var logged []string
		node := names.IfNode(v.IfA)
		var d driver.Driver
		err = nstest.InNS(v.A, func() error {
			var err error
			d, err = open(driver.OpenArgs{Ifname: v.IfA, Registry: reg, Node: node,
				Settings: driver.Settings{Frames: 1024, RxQueues: 4, LightGap: DefaultLightGap, NoKernelRxFilter: true},
				Logf:     func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }})
			return err
		})
		refuseSteer = false
		if err != nil {
			t.Fatal(err)
		}
		d.Close()
		var off uint64
		for _, e := range reg.Snapshot() {
			if e.Name == names.Counter(node, driver.DrvSteeringOff) {
				off = e.Values[0]
			}
		}
		reg.Close()
		said := strings.Contains(strings.Join(logged, "\n"), "without light-flow steering")
		if refuse && (off != 1 || !said) {
			t.Errorf("refused: %s = %d, logged %q; want 1 and the reason", driver.DrvSteeringOff, off, logged)
		}
		if !refuse && (off != 0 || said) {
			t.Errorf("steering: %s = %d, logged %q; want nothing", driver.DrvSteeringOff, off, logged)
		}
	}
}
