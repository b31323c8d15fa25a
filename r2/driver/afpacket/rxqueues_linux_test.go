//go:build linux

package afpacket

import (
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/sys/unix"

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
			pkts := make([]*packet.Packet, 64)
			ring := map[uint16]int{}    // flow -> ring
			next := map[uint16]uint32{} // flow -> next seq expected
			perRing := make([]int, len(d.qs))
			total := 0
			deadline := time.Now().Add(waitTimeout)
			for total < flows*perFlow && time.Now().Before(deadline) {
				idle := true
				for i := range d.qs {
					n := recvQueue(d, i, pool, pkts)
					for _, p := range pkts[:n] {
						sport, seq := flowOf(p.Data())
						if r, ok := ring[sport]; ok && r != i {
							t.Errorf("flow %d in rings %d and %d", sport, r, i)
						}
						ring[sport] = i
						if seq != next[sport] {
							t.Errorf("flow %d: seq %d, want %d", sport, seq, next[sport])
						}
						next[sport] = seq + 1
						pool.Free(p)
					}
					total += n
					perRing[i] += n
					if n > 0 {
						idle = false
					}
				}
				if idle {
					unix.Poll([]unix.PollFd{{Fd: int32(d.Fd()), Events: unix.POLLIN}}, 10)
				}
			}
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
