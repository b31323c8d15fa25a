//go:build linux

package afpacket

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/internal/nstest"
	"github.com/r2go/r2/r2/packet"
)

// TestOutgoingIgnored checks that a driver never returns what its own
// interface sent: frames another socket of the namespace transmits through
// the interface's qdisc (and so past its packet taps, as R2's super-frames
// and the kernel's own ARP and ND frames go) are not received, with one
// socket or a fanout group (where PACKET_IGNORE_OUTGOING on the members does
// not apply and the group needs PACKET_FANOUT_FLAG_IGNORE_OUTGOING), while
// the peer's frames still are. The kernel here filters them before the
// ring, so none is even counted.
func TestOutgoingIgnored(t *testing.T) {
	const out, in = 40, 30
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"v2/1", Config{Version: RingV2, Frames: 1024, RxQueues: 1}},
		{"v2/2", Config{Version: RingV2, Frames: 1024, RxQueues: 2}},
		{"v3/2", Config{Version: RingV3, Blocks: 64, RxQueues: 2}},
		{"v2/group", Config{Version: RingV2, Frames: 1024, RxQueues: 2, Fanout: 77}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVethPair(t, 1500)
			d := v.openDriver(t, tc.cfg)
			// A plain socket of namespace A: its frames go through A's
			// qdisc and its taps, unlike the driver's own bypass sends.
			local := openRaw(t, v.A, v.IdxA, false)
			peer := openRaw(t, v.B, v.IdxB, false)
			for i := range out {
				local.Send(t, nstest.Frame(v.MACB, v.MACA, i, 200))
			}
			if got := peer.Recv(out, waitTimeout); len(got) != out {
				t.Fatalf("peer received %d of the %d frames sent out of A", len(got), out)
			}
			for i := range in {
				peer.Send(t, nstest.Frame(v.MACA, v.MACB, 1000+i, 100))
			}
			pool := packet.NewPool(0, 256)
			got := recvFrames(t, d, pool, in, 64)
			if len(got) != in {
				t.Fatalf("driver received %d frames, want the peer's %d", len(got), in)
			}
			for i, f := range got {
				if len(f) != 100 {
					t.Errorf("frame %d: %d bytes, want 100 (one of the peer's)", i, len(f))
				}
			}
			expectNothing(t, d, pool)
			if n := d.cfg.RxOutgoing.Value(); n != 0 {
				t.Errorf("drv_rx_outgoing %d: the kernel should have filtered them before the ring", n)
			}
			checkPool(t, pool)
		})
	}
}

// TestOutgoingSlotDropped checks the ring's own check, for kernels that
// hand outgoing frames over anyway: a TPACKET_V2 slot whose sockaddr_ll
// says PACKET_OUTGOING is given back unread and counted, and the slot after
// it is received.
func TestOutgoingSlotDropped(t *testing.T) {
	const frameSize, frames = 2048, 4
	mem := make([]byte, frameSize*frames)
	cnt, _, outgoing, err := privateCounters("outgoing-test")
	if err != nil {
		t.Fatal(err)
	}
	fill := func(slot int, pkttype byte, size int) {
		b := mem[slot*frameSize : (slot+1)*frameSize]
		h := (*unix.Tpacket2Hdr)(unsafe.Pointer(&b[0]))
		mac := 128
		h.Status = unix.TP_STATUS_USER
		h.Len, h.Snaplen, h.Mac = uint32(size), uint32(size), uint16(mac)
		b[32+sllPkttypeOff] = pkttype
		copy(b[mac:], nstest.Frame(nil, nil, slot, size))
	}
	fill(0, unix.PACKET_OUTGOING, 300)
	fill(1, unix.PACKET_HOST, 120)
	r := &ring2{mem: mem, frameSize: frameSize, frames: frames,
		opt: rxOpts{maxFrame: 1518, outgoing: outgoing}}
	pool := packet.NewPool(0, 8)
	pkts := make([]*packet.Packet, 8)
	n := r.recv(pool, pkts, &cnt)
	if n != 1 || pkts[0].Len() != 120 {
		t.Fatalf("recv returned %d packets, want the 120-byte host frame only", n)
	}
	pool.Free(pkts[0])
	if outgoing.Value() != 1 || cnt.RxErrors.Value() != 0 {
		t.Errorf("outgoing %d, errors %d: want 1 and 0", outgoing.Value(), cnt.RxErrors.Value())
	}
	for slot := range 2 {
		if st := *r.status(slot * frameSize); st != unix.TP_STATUS_KERNEL {
			t.Errorf("slot %d status %#x: not given back", slot, st)
		}
	}
	checkPool(t, pool)
}
