//go:build linux

package afpacket

import (
	"testing"
	"time"

	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/internal/nstest"
	"github.com/r2go/r2/r2/packet"
)

// waitPending waits until d has a frame for Recv.
func waitPending(t *testing.T, d *Driver) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !d.Pending() {
		if time.Now().After(deadline) {
			t.Fatal("no frame arrived")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestShed checks, on both ring versions, that Shed drops old frames of a
// heavy flow from the ring head, stops at a light flow's frame and at
// frames newer than the cutoff, and that Recv then gets exactly the frames
// not shed.
func TestShed(t *testing.T) {
	for _, c := range []Config{
		{Version: RingV2, Frames: 64},
		{Version: RingV3, Blocks: 4, BlockSize: 64 << 10},
	} {
		t.Run(c.Version.String(), func(t *testing.T) { testShed(t, c) })
	}
}

func testShed(t *testing.T, c Config) {
	v := newVethPair(t, 1500)
	d := v.openDriver(t, c)
	peer := openRaw(t, v.B, v.IdxB, false)
	pool := packet.NewPool(0, 64)
	heavy := func(seq int) []byte { return nstest.Frame(v.MACA, v.MACB, seq, 100) }
	light := nstest.Frame(v.MACA, v.MACB, 0, 100)
	light[12], light[13] = 0x08, 0x06 // another EtherType: another flow
	var m driver.FlowMeter
	for i := range 100 {
		m.Heavy(heavy(i))
	}
	if m.Heavy(light) {
		t.Fatal("a flow seen once counts as heavy")
	}

	// Old heavy frames, then a light one, then more heavy ones.
	peer.Send(t, heavy(1), heavy(2), heavy(3), light, heavy(4))
	waitPending(t, d)
	time.Sleep(20 * time.Millisecond) // let all five land
	if ht, ok := d.HeadTime(); !ok || ht > time.Now().UnixNano() || ht < time.Now().Add(-time.Minute).UnixNano() {
		t.Errorf("HeadTime = %v, %v; want the first frame's arrival, under a minute ago", time.Unix(0, ht), ok)
	}
	if n := d.Shed(time.Now().Add(-time.Hour).UnixNano(), 100, &m); n != 0 {
		t.Errorf("Shed with a cutoff before every frame = %d, want 0", n)
	}
	if n := d.Shed(time.Now().UnixNano(), 100, &m); n != 3 {
		t.Errorf("Shed = %d, want 3 (stop at the light frame)", n)
	}
	got := recvFrames(t, d, pool, 2, 8)
	if diff := diffFrames([][]byte{light, heavy(4)}, got); diff != "" {
		t.Errorf("frames after Shed (-want +got):\n%s", diff)
	}

	// max bounds one call.
	peer.Send(t, heavy(5), heavy(6), heavy(7))
	waitPending(t, d)
	time.Sleep(20 * time.Millisecond)
	if n := d.Shed(time.Now().UnixNano(), 2, &m); n != 2 {
		t.Errorf("Shed(max 2) = %d, want 2", n)
	}
	got = recvFrames(t, d, pool, 1, 8)
	if diff := diffFrames([][]byte{heavy(7)}, got); diff != "" {
		t.Errorf("frames after Shed(max 2) (-want +got):\n%s", diff)
	}
	// A heavy TCP flow loses one frame per TCPGap: its sender slows down
	// at one loss (FlowMeter.Sheddable).
	tcp := func(seq int) []byte {
		f := heavy(seq)
		f[12], f[13], f[14], f[23] = 0x08, 0x00, 0x45, 6
		copy(f[26:38], []byte{10, 1, 0, 1, 10, 2, 0, 1, 0x9c, 0x40, 0x14, 0x51}) // addresses, ports
		return f
	}
	for i := range 100 {
		m.Heavy(tcp(i))
	}
	m.TCPGap, m.Now = int64(time.Hour), time.Now().UnixNano()
	peer.Send(t, tcp(1), tcp(2), tcp(3))
	waitPending(t, d)
	time.Sleep(20 * time.Millisecond)
	if n := d.Shed(time.Now().UnixNano(), 100, &m); n != 1 {
		t.Errorf("Shed of a heavy TCP flow = %d, want 1", n)
	}
	if n := d.Shed(time.Now().UnixNano(), 100, &m); n != 0 {
		t.Errorf("Shed of the TCP flow again within TCPGap = %d, want 0", n)
	}
	got = recvFrames(t, d, pool, 2, 8)
	if diff := diffFrames([][]byte{tcp(2), tcp(3)}, got); diff != "" {
		t.Errorf("frames after shedding a TCP flow (-want +got):\n%s", diff)
	}
	m.TCPGap = 0

	expectNothing(t, d, pool)
	checkPool(t, pool)
	if _, ok := d.HeadTime(); ok {
		t.Error("HeadTime of an empty ring says ok")
	}

	if a := testing.AllocsPerRun(100, func() { d.HeadTime(); d.Shed(time.Now().UnixNano(), 100, &m) }); a != 0 {
		t.Errorf("Shed allocates %v per call, want 0", a)
	}
}
