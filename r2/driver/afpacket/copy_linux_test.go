//go:build linux

package afpacket

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/internal/nstest"
	"github.com/r2go/r2/r2/packet"
)

// tagged is f with an 802.1Q tag (VLAN 100) after the MAC addresses.
func tagged(f []byte) []byte {
	return append(append(append([]byte(nil), f[:12]...), 0x81, 0x00, 0x00, 0x64), f[12:]...)
}

// TestRecvLong checks the copy path of a TPACKET_V2 ring with vnet
// headers: frames longer than a slot (2 KiB) come whole, byte for byte,
// in order with the short frames around them, with the VLAN tag the
// kernel stripped put back and a plain frame's (zero) virtio_net_hdr
// read, and are counted in RxLong. The big pool holds one packet, so the
// second long frame finds it empty: Recv stops there (RxNoBuf) and gets
// the frame on a later call, still in order.
func TestRecvLong(t *testing.T) {
	v := newVethPair(t, 9000)
	d := v.openDriver(t, Config{Version: RingV2, MTU: 9000, FrameSize: 2048, Frames: 64})
	peer := openRaw(t, v.B, v.IdxB, false)
	pool := packet.NewPool(0, 16)
	pool.SetBig(packet.NewBigPool(0, 1))

	want := [][]byte{
		nstest.Frame(v.MACA, v.MACB, 1, 60),
		nstest.Frame(v.MACA, v.MACB, 2, 5000),
		tagged(nstest.Frame(v.MACA, v.MACB, 3, 8000)),
		nstest.Frame(v.MACA, v.MACB, 4, 1500),
		nstest.Frame(v.MACA, v.MACB, 5, 2048), // just over a slot
		nstest.Frame(v.MACA, v.MACB, 6, 9014),
		nstest.Frame(v.MACA, v.MACB, 7, 100),
	}
	peer.Send(t, want...)
	var got [][]byte
	pkts := make([]*packet.Packet, 8)
	for deadline := time.Now().Add(waitTimeout); len(got) < len(want) && time.Now().Before(deadline); {
		n := d.Recv(pool, pkts)
		for _, p := range pkts[:n] {
			if p.GSO != (packet.GSO{}) {
				t.Errorf("frame %d: GSO %+v, want none", len(got), p.GSO)
			}
			got = append(got, append([]byte(nil), p.Data()...))
			pool.Free(p)
		}
		if n == 0 {
			unix.Poll([]unix.PollFd{{Fd: int32(d.Fd()), Events: unix.POLLIN}}, 10)
		}
	}
	expectNothing(t, d, pool)
	if diff := diffFrames(want, got); diff != "" {
		t.Errorf("frames (-sent +received):\n%s", diff)
	}
	if n := d.RxLong().Value(); n != 4 {
		t.Errorf("rx_long = %d, want 4", n)
	}
	if n := d.Counters().RxNoBuf.Value(); n == 0 {
		t.Errorf("rx_nobuf = 0: the second long frame should have found the big pool empty")
	}
	if e := d.Counters().RxErrors.Value(); e != 0 {
		t.Errorf("rx_errors = %d", e)
	}
	checkPool(t, pool)
	checkPool(t, pool.Big())
}

// TestRecvLongDrops checks that the copy path drops what it must and
// keeps slots and queue entries paired: a long frame over the MTU and one
// without a big pool are read off the queue and counted in RxErrors; with
// the receive buffer full the kernel truncates a long frame into its slot
// without queueing it, which is dropped and counted too; and the frames
// after each arrive whole.
func TestRecvLongDrops(t *testing.T) {
	v := newVethPair(t, 9000)
	d := v.openDriver(t, Config{Version: RingV2, MTU: 4000, FrameSize: 2048, Frames: 64})
	peer := openRaw(t, v.B, v.IdxB, false)
	pool := packet.NewPool(0, 16)
	big := packet.NewBigPool(0, 4)

	// No big pool: the long frame is dropped, the next one arrives.
	f1, f2 := nstest.Frame(v.MACA, v.MACB, 1, 3000), nstest.Frame(v.MACA, v.MACB, 2, 3001)
	peer.Send(t, f1)
	time.Sleep(20 * time.Millisecond)
	waitPending(t, d)
	expectNothing(t, d, pool)
	pool.SetBig(big)
	peer.Send(t, nstest.Frame(v.MACA, v.MACB, 3, 5000), f2) // over the MTU, then good
	if diff := diffFrames([][]byte{f2}, recvFrames(t, d, pool, 1, 8)); diff != "" {
		t.Errorf("frames after the drops (-want +got):\n%s", diff)
	}
	if e := d.Counters().RxErrors.Value(); e != 2 {
		t.Errorf("rx_errors = %d, want 2", e)
	}

	// The smallest receive buffer holds one queued frame: of two long
	// frames sent before Recv, the second is truncated and dropped.
	if err := unix.SetsockoptInt(d.fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1); err != nil {
		t.Fatal(err)
	}
	f3, f4, f5 := nstest.Frame(v.MACA, v.MACB, 4, 3500), nstest.Frame(v.MACA, v.MACB, 5, 3600), nstest.Frame(v.MACA, v.MACB, 6, 64)
	peer.Send(t, f3, f4, f5)
	if diff := diffFrames([][]byte{f3, f5}, recvFrames(t, d, pool, 2, 8)); diff != "" {
		t.Errorf("frames with a full receive buffer (-want +got):\n%s", diff)
	}
	expectNothing(t, d, pool)
	if e := d.Counters().RxErrors.Value(); e != 3 {
		t.Errorf("rx_errors = %d, want 3", e)
	}
	if n := d.RxLong().Value(); n != 2 {
		t.Errorf("rx_long = %d, want 2", n)
	}
	checkPool(t, pool)
	checkPool(t, big)
}

// TestShedLong checks that shedding a TP_STATUS_COPY slot consumes its
// queued frame: the long frame after it is the one Recv then reads.
func TestShedLong(t *testing.T) {
	v := newVethPair(t, 9000)
	d := v.openDriver(t, Config{Version: RingV2, MTU: 9000, Frames: 64})
	peer := openRaw(t, v.B, v.IdxB, false)
	pool := packet.NewPool(0, 16)
	pool.SetBig(packet.NewBigPool(0, 4))
	var m driver.FlowMeter
	for i := range 100 {
		m.Heavy(nstest.Frame(v.MACA, v.MACB, i, 100))
	}
	shed, kept := nstest.Frame(v.MACA, v.MACB, 1, 4000), nstest.Frame(v.MACA, v.MACB, 2, 5000)
	peer.Send(t, shed)
	time.Sleep(20 * time.Millisecond)
	cutoff := time.Now().UnixNano()
	peer.Send(t, kept)
	time.Sleep(20 * time.Millisecond)
	if n := d.Shed(cutoff, 100, &m); n != 1 {
		t.Fatalf("Shed = %d, want 1", n)
	}
	if diff := diffFrames([][]byte{kept}, recvFrames(t, d, pool, 1, 8)); diff != "" {
		t.Errorf("frames after Shed (-want +got):\n%s", diff)
	}
	if e := d.Counters().RxErrors.Value(); e != 0 {
		t.Errorf("rx_errors = %d", e)
	}
	checkPool(t, pool)
	checkPool(t, pool.Big())
}

// TestRecvLongZeroAllocs checks that the copy path allocates nothing per
// frame: recvmsg's vectors and header are preallocated.
func TestRecvLongZeroAllocs(t *testing.T) {
	v := newVethPair(t, 9000)
	d := v.openDriver(t, Config{Version: RingV2, MTU: 9000, Frames: 64})
	peer := openRaw(t, v.B, v.IdxB, false)
	pool := packet.NewPool(0, 4)
	pool.SetBig(packet.NewBigPool(0, 4))
	const runs = 10
	var frames [][]byte
	for i := range runs + 1 { // AllocsPerRun runs once more to warm up
		frames = append(frames, nstest.Frame(v.MACA, v.MACB, i, 4000+i))
	}
	peer.Send(t, frames...)
	time.Sleep(20 * time.Millisecond)
	waitPending(t, d)
	pkts := make([]*packet.Packet, 1)
	got := 0
	allocs := testing.AllocsPerRun(runs, func() {
		if d.Recv(pool, pkts) == 1 {
			got++
			pool.Free(pkts[0])
		}
	})
	if got != runs+1 {
		t.Fatalf("received %d long frames, want %d", got, runs+1)
	}
	if allocs != 0 {
		t.Errorf("Recv of a long frame allocates %v times, want 0", allocs)
	}
	if n := d.RxLong().Value(); n != runs+1 {
		t.Errorf("rx_long = %d, want %d", n, runs+1)
	}
}
