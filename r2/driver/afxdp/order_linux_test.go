//go:build linux

package afxdp

import (
	"bytes"
	"encoding/binary"
	"os/exec"
	"testing"
	"time"

	"github.com/r2go/r2/r2/internal/nstest"
	"github.com/r2go/r2/r2/packet"
)

// orderSetup opens a driver with super-frames on end A of a veth pair and
// a tap on end B, and returns a function that makes a packet of pool (a
// big one for a super-frame, with the GSO metadata software GRO gives it)
// and one that returns the test's IPv4 frames the tap saw, in order.
func orderSetup(t *testing.T, c Config) (*testNet, *Driver, func(f []byte) *packet.Packet, func(want int) [][]byte) {
	t.Helper()
	tn, d, _ := openPrimed(t, 1500, c)
	if !d.Offloads() {
		t.Fatalf("Offloads false: %s", d.vnetWhy)
	}
	tap := nstest.OpenRaw(t, tn.B, tn.Pairs[0].IdxB, nstest.RawConfig{Tap: true, RcvBuf: 16 << 20, ForceRcvBuf: true})
	mk := func(f []byte) *packet.Packet { return framePacket(t, c.Pool, f, 1400) }
	seen := func(want int) [][]byte {
		var got [][]byte
		for _, f := range tap.Recv(want, time.Second) {
			if len(f) > 30 && binary.BigEndian.Uint16(f[12:]) == 0x0800 && bytes.Equal(f[26:30], []byte{10, 1, 0, 1}) {
				got = append(got, f)
			}
		}
		return got
	}
	return tn, d, mk, seen
}

// TestSendOrderQdisc: a shaper (tbf) on the interface holds the frames of
// the super-frame socket, which go through the qdisc, while the Tx ring's
// bypass it. Plain frames sent while the socket still has frames in the
// kernel follow them through the socket, so the peer sees every frame in
// the order sent (super-frame, plain, super-frame, plain, ...), and
// drv_tx_order_held counts the plain frames that took the socket.
func TestSendOrderQdisc(t *testing.T) {
	pool := newPoolBig(t, 512, 8)
	tn, d, mk, seen := orderSetup(t, Config{Pool: pool})
	v := tn.Pairs[0]
	// 10 Mbit/s with a 64 KiB bucket: the first super-frame (56 KB)
	// leaves at once, the next ones wait about 45 ms each.
	out, err := exec.Command("ip", "netns", "exec", tn.NSA, "tc", "qdisc", "add", "dev", v.IfA, "root",
		"tbf", "rate", "10mbit", "burst", "64kb", "limit", "1mb").CombinedOutput()
	if err != nil {
		t.Fatalf("tc qdisc add tbf: %v: %s", err, out)
	}
	var want [][]byte
	one := make([]*packet.Packet, 1)
	for i := range 3 {
		super := tcpSuper(v.MACB, v.MACA, 40, 1400)
		binary.BigEndian.PutUint32(super[14+20+4:], uint32(1000+i)) // tell them apart
		plain := flowFrame(v.MACB, v.MACA, "udp4", 1, uint32(i))
		for _, f := range [][]byte{super, plain} {
			want = append(want, f)
			one[0] = mk(f)
			if n := d.Send(pool, one); n != 1 {
				t.Fatalf("Send = %d, want 1", n)
			}
		}
	}
	got := seen(len(want))
	checkSameOrder(t, want, got)
	if n := d.cfg.TxOrderHeld.Value(); n == 0 || n > 3 {
		t.Errorf("drv_tx_order_held = %d, want 1 to 3 (the plain frames behind a waiting super-frame)", n)
	}
	closeDrained(t, d, pool)
}

// TestSendOrderRingLeft: descriptors the kernel left on the Tx ring (here:
// a kick budget far below the batch) go at a later kick; a super-frame sent
// meanwhile waits in the driver, and a plain frame after it queues behind
// it, until Recv has emptied the ring. The peer sees all 202 frames in the
// order sent; drv_tx_order_held counts the two that waited.
func TestSendOrderRingLeft(t *testing.T) {
	pool := newPoolBig(t, 1024, 8)
	tn, d, mk, seen := orderSetup(t, Config{Pool: pool, TxBudget: 32})
	v := tn.Pairs[0]
	d.txBudget = 1 << 20 // kickTx then kicks twice: 64 frames a call
	var want [][]byte
	var batch []*packet.Packet
	for i := range 200 {
		f := flowFrame(v.MACB, v.MACA, "udp4", 1, uint32(i))
		want = append(want, f)
		batch = append(batch, mk(f))
	}
	if n := d.Send(pool, batch); n != 200 {
		t.Fatalf("Send = %d, want 200", n)
	}
	if !d.txKick {
		t.Fatal("the kernel took the whole batch: the test needs descriptors left on the ring")
	}
	super := tcpSuper(v.MACB, v.MACA, 40, 1400)
	last := flowFrame(v.MACB, v.MACA, "udp4", 1, 200)
	want = append(want, super, last)
	for _, f := range [][]byte{super, last} {
		if n := d.Send(pool, []*packet.Packet{mk(f)}); n != 1 {
			t.Fatalf("Send = %d, want 1", n)
		}
	}
	if len(d.waiting) != 2 || !d.Pending() {
		t.Fatalf("%d frames waiting, Pending %v: want 2, true", len(d.waiting), d.Pending())
	}
	for i := 0; d.Pending() && i < 1000; i++ {
		d.Recv(pool, nil)
	}
	if len(d.waiting) != 0 {
		t.Fatalf("%d frames still waiting", len(d.waiting))
	}
	got := seen(len(want))
	checkSameOrder(t, want, got)
	if n := d.cfg.TxOrderHeld.Value(); n != 2 {
		t.Errorf("drv_tx_order_held = %d, want 2", n)
	}
	closeDrained(t, d, pool)
}

// checkSameOrder fails t unless got are want's frames in want's order
// (super-frames compared by their headers and length: the peer may see
// them with the checksum finished).
func checkSameOrder(t *testing.T, want, got [][]byte) {
	t.Helper()
	same := func(a, b []byte) bool {
		if len(a) != len(b) {
			return false
		}
		if len(a) > 1514 {
			return bytes.Equal(a[:14+20+16], b[:14+20+16])
		}
		return bytes.Equal(a, b)
	}
	if len(got) != len(want) {
		t.Fatalf("peer saw %d frames, want %d", len(got), len(want))
	}
	for i := range want {
		if !same(want[i], got[i]) {
			for j := range got {
				if same(want[i], got[j]) {
					t.Fatalf("frame %d sent arrived as frame %d: out of order", i, j)
				}
			}
			t.Fatalf("frame %d sent did not arrive intact", i)
		}
	}
}
