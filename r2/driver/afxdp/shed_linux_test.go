//go:build linux

package afxdp

import (
	"testing"
	"time"

	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/packet"
)

// TestShed checks shedding on AF_XDP: the program's stamps give the age of
// the frame at the head of the ring (HeadTime), and Shed gives back,
// uncopied, the old frames of a heavy flow up to a light flow's frame,
// which stays, with everything behind it, in order; nothing is lost from
// the pool, and neither call allocates. In both forms of stamps.
func TestShed(t *testing.T) { eachStampForm(t, testShed) }

func testShed(t *testing.T) {
	pool := newPool(t, 0, 4096)
	tn, d, peer := openPrimed(t, 1500, Config{Pool: pool})
	v := tn.Pairs[0]
	var before, after [][]byte
	for seq := range 600 {
		before = append(before, flowFrame(v.MACA, v.MACB, "udp4", 0, uint32(seq)))
	}
	light := flowFrame(v.MACA, v.MACB, "udp6", 7, 0)
	for seq := range 300 {
		after = append(after, flowFrame(v.MACA, v.MACB, "udp4", 0, uint32(600+seq)))
	}
	sendAt := time.Now()
	peer.Send(t, before...)
	peer.Send(t, light)
	peer.Send(t, after...)
	time.Sleep(30 * time.Millisecond)

	head, ok := d.HeadTime()
	if age := time.Since(time.Unix(0, head)); !ok || age < 25*time.Millisecond || head < sendAt.Add(-time.Second).UnixNano() {
		t.Fatalf("HeadTime %v, %v: age %v, want the frames' age (about 30 ms)", head, ok, age)
	}
	// A flow is heavy once the meter has seen it often enough: the first
	// calls shed nothing, then the flood goes up to the light frame.
	var m driver.FlowMeter
	cutoff := time.Now().UnixNano()
	shed := 0
	for range 40 {
		shed += d.Shed(cutoff, 1<<20, &m)
	}
	if shed != len(before) {
		t.Fatalf("shed %d frames, want the %d of the flood before the light frame", shed, len(before))
	}
	// (The light frame is counted at each call that reaches it: called
	// once a run, as IfNode does, it is received long before it could
	// count as heavy.)
	early := time.Unix(0, head).Add(-time.Second).UnixNano()
	if n := d.Shed(early, 1<<20, &m); n != 0 {
		t.Errorf("shed %d frames older than a cutoff before them all", n)
	}
	allocs := testing.AllocsPerRun(10, func() {
		d.HeadTime()
		d.Shed(early, 1, &m)
	})
	if allocs != 0 {
		t.Errorf("HeadTime+Shed: %v allocs/run", allocs)
	}
	got := recvFrames(t, d, pool, 1+len(after), 64)
	checkFrames(t, append([][]byte{light}, after...), got)
	// The shedding path itself allocates nothing either (the flood's flow
	// is heavy by now).
	peer.Send(t, before[:200]...)
	time.Sleep(20 * time.Millisecond)
	now := time.Now().UnixNano()
	shed = 0
	if allocs := testing.AllocsPerRun(10, func() { shed += d.Shed(now, 10, &m) }); allocs != 0 || shed != 110 {
		t.Errorf("Shed of a heavy flow: %v allocs/run, %d frames shed (want 0 and 110)", allocs, shed)
	}
	recvFrames(t, d, pool, 90, 64)
	if st, err := d.Stats(); err != nil || st.RxRingFull != 0 || st.RxDropped != 0 {
		t.Errorf("Stats %+v, %v: the kernel dropped", st, err)
	}
	d.Close()
	checkPool(t, pool)
}

// TestStampOnlyAtHeadroom checks that a frame whose data does not start
// where the kernel puts received frames has no stamp.
func TestStampOnlyAtHeadroom(t *testing.T) {
	pool := packet.NewPool(0, 8)
	d := &Driver{pool: pool, npkts: 8}
	mem := pool.Mem()
	for i := range mem {
		mem[i] = 0xff
	}
	if d.stamp(3<<frameShift+xdpPacketHeadroom) == 0 {
		t.Error("no stamp read at the headroom")
	}
	for _, addr := range []uint64{3<<frameShift + xdpPacketHeadroom + 2, 3 << frameShift, 9<<frameShift + xdpPacketHeadroom} {
		if s := d.stamp(addr); s != 0 {
			t.Errorf("stamp at %#x: %#x, want 0", addr, s)
		}
	}
	d.clearStamp(3)
	if s := d.stamp(3<<frameShift + xdpPacketHeadroom); s != 0 {
		t.Errorf("stamp after clearStamp: %#x", s)
	}
}
