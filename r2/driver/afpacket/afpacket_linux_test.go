//go:build linux

package afpacket

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/internal/nstest"
	"github.com/r2go/r2/r2/packet"
)

// waitTimeout bounds every wait for frames: far above the block retire
// timeout (one jiffy), so only a real loss makes a test fail.
const waitTimeout = 2 * time.Second

// recvFrames calls d.Recv with batches of batch packets until want frames
// have come or waitTimeout has passed, sleeping on d.Fd between empty
// polls, and returns copies of the frames (packets are freed).
func recvFrames(t testing.TB, d *Driver, pool *packet.Pool, want, batch int) [][]byte {
	t.Helper()
	pkts := make([]*packet.Packet, batch)
	var got [][]byte
	deadline := time.Now().Add(waitTimeout)
	for len(got) < want && time.Now().Before(deadline) {
		n := d.Recv(pool, pkts)
		for _, p := range pkts[:n] {
			got = append(got, append([]byte(nil), p.Data()...))
			pool.Free(p)
		}
		if n == 0 {
			pfd := []unix.PollFd{{Fd: int32(d.Fd()), Events: unix.POLLIN}}
			unix.Poll(pfd, 10)
		}
	}
	return got
}

// expectNothing checks that d receives nothing within a few block
// timeouts.
func expectNothing(t testing.TB, d *Driver, pool *packet.Pool) {
	t.Helper()
	time.Sleep(50 * time.Millisecond)
	pkts := make([]*packet.Packet, 64)
	if n := d.Recv(pool, pkts); n != 0 {
		t.Errorf("received %d unexpected frames, first %x", n, pkts[0].Data())
		for _, p := range pkts[:n] {
			pool.Free(p)
		}
	}
}

// diffFrames is cmp.Diff for frame lists, with a fast path when they are
// equal (cmp is slow on hundreds of kilobytes).
func diffFrames(want, got [][]byte) string {
	if slices.EqualFunc(want, got, bytes.Equal) {
		return ""
	}
	return cmp.Diff(want, got)
}

// versions are the ring versions every receive test runs with.
var versions = []RingVersion{RingV2, RingV3}

// forVersions runs f as a subtest for each ring version.
func forVersions(t *testing.T, f func(t *testing.T, ver RingVersion)) {
	for _, ver := range versions {
		t.Run(ver.String(), func(t *testing.T) { f(t, ver) })
	}
}

// checkPool checks that every packet of pool is back.
func checkPool(t testing.TB, pool *packet.Pool) {
	t.Helper()
	pool.Reclaim()
	if s := pool.Stats(); s.InFlight != 0 || s.DoubleFrees != 0 {
		t.Errorf("pool leak: %+v", s)
	}
}

func TestConfigDefaults(t *testing.T) {
	tests := []struct {
		name    string
		c       Config
		ifMTU   int
		wantErr string
		check   func(Config) bool
	}{
		{name: "zero", c: Config{NoVnetHdr: true}, check: func(c Config) bool {
			return c.Version == DefaultRingVersion && c.Frames == DefaultFrames &&
				c.FrameSize == DefaultFrameSize && c.MTU == DefaultMTU &&
				c.BlockSize == 0 && c.Blocks == 0 && c.BlockTimeout == 0 // V3 only
		}},
		{name: "v3 zero", c: Config{NoVnetHdr: true, Version: RingV3}, check: func(c Config) bool {
			return c.BlockSize == DefaultBlockSize && c.Blocks == DefaultBlocks &&
				c.BlockTimeout == DefaultBlockTimeout && c.FrameSize == DefaultFrameSize && c.MTU == DefaultMTU &&
				c.Frames == 0 // V2 only
		}},
		{name: "interface MTU", c: Config{NoVnetHdr: true}, ifMTU: 9000, check: func(c Config) bool { return c.MTU == 9000 && c.maxFrame() == packet.MaxData }},
		{name: "MTU given", c: Config{NoVnetHdr: true, MTU: 1000}, ifMTU: 9000, check: func(c Config) bool { return c.MTU == 1000 && c.maxFrame() == 1018 }},
		{name: "MTU too small", c: Config{NoVnetHdr: true, MTU: 10}, wantErr: "MTU"},
		{name: "bad version", c: Config{NoVnetHdr: true, Version: 9}, wantErr: "ring version RingVersion(9)"},
		{name: "one queue by default", c: Config{}, check: func(c Config) bool { return c.RxQueues == DefaultRxQueues }},
		{name: "too many queues", c: Config{RxQueues: MaxRxQueues + 1}, wantErr: "65 receive queues: want 1 to 64"},
		{name: "negative queues", c: Config{RxQueues: -1}, wantErr: "receive queues"},
		{name: "negative light gap", c: Config{RxQueues: 4, LightGap: -time.Millisecond}, wantErr: "light-flow gap -1ms"},
		{name: "light gap too long", c: Config{RxQueues: 4, LightGap: MaxLightGap + 1}, wantErr: "light-flow gap"},
		{name: "light gap", c: Config{RxQueues: 4, LightGap: MaxLightGap}, check: func(c Config) bool { return c.LightGap == MaxLightGap }},
		{name: "negative members", c: Config{Members: -1}, wantErr: "-1 fanout group members"},
		{name: "member past members", c: Config{Members: 2, Member: 2}, wantErr: "fanout group member 2: want 0 to 1"},
		{name: "member without members", c: Config{Member: 1}, wantErr: "fanout group member 1: want 0 to 0"},
		{name: "group too big", c: Config{Members: 5, RxQueues: 64}, wantErr: "the kernel takes 256"},
		{name: "group members", c: Config{Members: 4, Member: 3, RxQueues: 64}, check: func(c Config) bool { return c.Members == 4 && c.Member == 3 }},
		{name: "v2 frames shared by queues", c: Config{NoVnetHdr: true, Frames: 100, RxQueues: 3}, check: func(c Config) bool {
			return c.Frames == 102 // 34 a ring: whole pages of 2 slots
		}},
		{name: "v2 a page per queue at least", c: Config{NoVnetHdr: true, Frames: 1, RxQueues: 4}, check: func(c Config) bool { return c.Frames == 8 }},
		{name: "v3 blocks shared by queues", c: Config{NoVnetHdr: true, Version: RingV3, Blocks: 10, RxQueues: 4}, check: func(c Config) bool { return c.Blocks == 12 }},
		// TPACKET_V2.
		{name: "v2 jumbo MTU", c: Config{NoVnetHdr: true, MTU: 9000}, check: func(c Config) bool {
			return c.FrameSize == 2048 && c.FrameSize >= c.maxFrame()+v2FrameOverhead
		}},
		{name: "v2 frames round up to pages", c: Config{NoVnetHdr: true, Frames: 5}, check: func(c Config) bool { return c.Frames == 6 }},
		{name: "v2 big frames", c: Config{NoVnetHdr: true, FrameSize: 8192, Frames: 3}, check: func(c Config) bool { return c.Frames == 3 && c.FrameSize == 8192 }},
		{name: "v2 small frames", c: Config{NoVnetHdr: true, MTU: 68, FrameSize: 256, Frames: 1}, check: func(c Config) bool { return c.Frames == 16 }},
		{name: "v2 frame too small for MTU", c: Config{NoVnetHdr: true, FrameSize: 1024}, wantErr: "frame size 1024"},
		{name: "v2 frame not power of two", c: Config{NoVnetHdr: true, FrameSize: 3072}, wantErr: "power of two"},
		{name: "v2 negative frames", c: Config{NoVnetHdr: true, Frames: -1}, wantErr: "frames"},
		{name: "v2 ignores V3 fields", c: Config{NoVnetHdr: true, BlockSize: 3 * 4096, Blocks: -1}, check: func(c Config) bool { return c.Version == RingV2 }},
		// TPACKET_V3.
		{name: "timeout rounds up", c: Config{NoVnetHdr: true, Version: RingV3, BlockTimeout: 1500 * time.Microsecond}, check: func(c Config) bool { return c.blockTimeoutMs() == 2 }},
		{name: "block not power of two", c: Config{NoVnetHdr: true, Version: RingV3, BlockSize: 3 * 4096}, wantErr: "power of two"},
		{name: "block below page", c: Config{NoVnetHdr: true, Version: RingV3, BlockSize: 2048}, wantErr: "power of two"},
		{name: "frame size odd", c: Config{NoVnetHdr: true, Version: RingV3, FrameSize: 1000}, wantErr: "frame size"},
		{name: "frame above block", c: Config{NoVnetHdr: true, Version: RingV3, BlockSize: 4096, FrameSize: 8192}, wantErr: "frame size"},
		{name: "negative blocks", c: Config{NoVnetHdr: true, Version: RingV3, Blocks: -1}, wantErr: "blocks"},
		// With vnet headers (the default).
		{name: "vnet zero", c: Config{}, check: func(c Config) bool {
			return c.Frames == DefaultFrames && c.FrameSize == DefaultFrameSize && c.maxFrame() == 1518 &&
				c.rxOpts().vnet && c.rxOpts().maxGSO == maxGSOFrame
		}},
		{name: "vnet v3 zero", c: Config{Version: RingV3}, check: func(c Config) bool { return c.BlockSize == DefaultVnetBlockSize }},
		{name: "vnet jumbo MTU into big packets", c: Config{MTU: 9000}, check: func(c Config) bool {
			return c.maxFrame() == 9018 && c.FrameSize == DefaultFrameSize // longer frames take the copy path
		}},
		{name: "vnet small slots", c: Config{FrameSize: 256}, check: func(c Config) bool { return c.FrameSize == 256 }},
		{name: "vnet frame too small", c: Config{FrameSize: 128}, wantErr: "frame size 128"},
		{name: "vnet whole super-frame slots", c: Config{FrameSize: 17 << 12, Frames: 1024}, check: func(c Config) bool { return c.FrameSize == 17<<12 && c.Frames == 1024 }},
		{name: "vnet frame not whole pages", c: Config{FrameSize: 70000}, wantErr: "multiple of the page size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.c.withDefaults(tt.ifMTU, 4096)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("config %+v", c)
			}
		})
	}
}

func TestRingVersionString(t *testing.T) {
	for v, want := range map[RingVersion]string{RingDefault: "default", RingV2: "v2", RingV3: "v3", 7: "RingVersion(7)"} {
		if got := v.String(); got != want {
			t.Errorf("RingVersion(%d).String() = %q, want %q", v, got, want)
		}
	}
}

func TestOpenNoInterface(t *testing.T) {
	_, err := Open(Config{Ifname: "r2-no-such-if"})
	if err == nil || !strings.Contains(err.Error(), "r2-no-such-if") {
		t.Fatalf("Open of a missing interface: err = %v", err)
	}
}

func TestRecvByteExact(t *testing.T) { forVersions(t, testRecvByteExact) }

func testRecvByteExact(t *testing.T, ver RingVersion) {
	v := newVethPair(t, 1500)
	d := v.openDriver(t, Config{Promisc: true, Version: ver})
	peer := openRaw(t, v.B, v.IdxB, false)
	pool := packet.NewPool(0, 64)

	var want [][]byte
	for i, size := range []int{60, 64, 128, 333, 1000, 1514, 14, 15, 1513} {
		want = append(want, nstest.Frame(v.MACA, v.MACB, i, size))
	}
	// Not for us: accepted in promiscuous mode, as a router must.
	want = append(want, nstest.Frame(net6(0x02, 1, 2, 3, 4, 5), v.MACB, 99, 100))
	peer.Send(t, want...)
	got := recvFrames(t, d, pool, len(want), 4)
	if diff := diffFrames(want, got); diff != "" {
		t.Errorf("frames (-sent +received):\n%s", diff)
	}
	expectNothing(t, d, pool)
	c := d.Counters()
	if c.RxErrors.Value() != 0 || c.RxNoBuf.Value() != 0 || c.Syscalls.Value() != 0 {
		t.Errorf("counters: rx_errors %d rx_nobuf %d syscalls %d, want 0", c.RxErrors.Value(), c.RxNoBuf.Value(), c.Syscalls.Value())
	}
	if c.RxBatches.Value() == 0 {
		t.Error("rx_batches not counted")
	}
	if got := d.Config().Version; got != ver {
		t.Errorf("Config().Version = %v, want %v", got, ver)
	}
	st, err := d.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Packets != uint64(len(want)) || st.Drops != 0 {
		t.Errorf("Stats = %+v, want %d packets, 0 drops", st, len(want))
	}
	checkPool(t, pool)
}

func net6(b ...byte) []byte { return b }

// TestRecvBlockBoundaries sends frames over many small blocks (V3) or a
// ring of slots (V2) and reads them in batches that end in the middle of
// blocks.
func TestRecvBlockBoundaries(t *testing.T) { forVersions(t, testRecvBlockBoundaries) }

func testRecvBlockBoundaries(t *testing.T, ver RingVersion) {
	v := newVethPair(t, 1500)
	// V3: 4 KiB blocks hold 3 frames of 1000 bytes (each takes its
	// header and alignment too); 64 blocks hold all 120. V2: 128 slots.
	c := Config{Version: ver, BlockSize: 4096, Blocks: 64, FrameSize: 1024}
	if ver == RingV2 {
		c = Config{Version: ver, Frames: 128}
	}
	d := v.openDriver(t, c)
	peer := openRaw(t, v.B, v.IdxB, false)
	pool := packet.NewPool(0, 32)

	var want [][]byte
	for i := range 120 {
		want = append(want, nstest.Frame(v.MACA, v.MACB, i, 900+i%3*50))
	}
	peer.Send(t, want...)
	time.Sleep(20 * time.Millisecond) // let the last block retire
	// First batch: 7 of the 3 frames per block ends mid-block.
	pkts := make([]*packet.Packet, 7)
	n := d.Recv(pool, pkts)
	if n != 7 {
		t.Fatalf("first Recv = %d, want 7", n)
	}
	var got [][]byte
	for _, p := range pkts[:n] {
		got = append(got, append([]byte(nil), p.Data()...))
		pool.Free(p)
	}
	if !d.Pending() {
		t.Error("Pending false with frames left")
	}
	got = append(got, recvFrames(t, d, pool, len(want)-n, 7)...)
	if diff := diffFrames(want, got); diff != "" {
		t.Errorf("frames (-sent +received):\n%s", diff)
	}
	if d.Pending() {
		t.Error("Pending true after the last frame")
	}
	if st, err := d.Stats(); err != nil || st.Drops != 0 {
		t.Errorf("Stats = %+v, %v; want no drops", st, err)
	}
	checkPool(t, pool)
}

// TestRecvWrapsRing goes round a two-block (V3) or four-slot (V2) ring
// many times.
func TestRecvWrapsRing(t *testing.T) { forVersions(t, testRecvWrapsRing) }

func testRecvWrapsRing(t *testing.T, ver RingVersion) {
	v := newVethPair(t, 1500)
	c := Config{Version: ver, BlockSize: 4096, Blocks: 2, FrameSize: 1024}
	if ver == RingV2 {
		c = Config{Version: ver, Frames: 4}
	}
	d := v.openDriver(t, c)
	peer := openRaw(t, v.B, v.IdxB, false)
	pool := packet.NewPool(0, 8)
	for round := range 20 {
		var want [][]byte
		for i := range 3 {
			want = append(want, nstest.Frame(v.MACA, v.MACB, round*3+i, 600))
		}
		peer.Send(t, want...)
		got := recvFrames(t, d, pool, len(want), 2)
		if diff := diffFrames(want, got); diff != "" {
			t.Fatalf("round %d: frames (-sent +received):\n%s", round, diff)
		}
	}
	checkPool(t, pool)
}

// pollNoEINTR is unix.Poll, again when a signal interrupted it (the Go
// runtime preempts with SIGURG; on a loaded machine one lands in a poll
// now and then).
func pollNoEINTR(pfd []unix.PollFd, ms int) (int, error) {
	for {
		n, err := unix.Poll(pfd, ms)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// TestPollReadiness checks that Fd polls readable once a frame is in a
// retired block (V3) or its slot (V2), and not once it has been read.
func TestPollReadiness(t *testing.T) { forVersions(t, testPollReadiness) }

func testPollReadiness(t *testing.T, ver RingVersion) {
	v := newVethPair(t, 1500)
	d := v.openDriver(t, Config{Version: ver})
	peer := openRaw(t, v.B, v.IdxB, false)
	pool := packet.NewPool(0, 8)
	pfd := []unix.PollFd{{Fd: int32(d.Fd()), Events: unix.POLLIN}}
	if n, _ := pollNoEINTR(pfd, 0); n != 0 || d.Pending() {
		t.Fatalf("readable (%d) or pending (%v) before any frame", n, d.Pending())
	}
	start := time.Now()
	peer.Send(t, nstest.Frame(v.MACA, v.MACB, 1, 100))
	if n, err := pollNoEINTR(pfd, 1000); n != 1 || err != nil {
		t.Fatalf("poll after a frame: %d, %v", n, err)
	}
	t.Logf("frame readable after %v", time.Since(start))
	if !d.Pending() {
		t.Error("Pending false with a block ready")
	}
	pkts := make([]*packet.Packet, 8)
	if n := d.Recv(pool, pkts); n != 1 {
		t.Fatalf("Recv = %d, want 1", n)
	} else {
		pool.Free(pkts[0])
	}
	if n, _ := pollNoEINTR(pfd, 0); n != 0 || d.Pending() {
		t.Errorf("readable (%d) or pending (%v) after reading everything", n, d.Pending())
	}
}

// TestIgnoreOutgoing checks that the driver receives neither its own
// transmissions nor frames the host sends on the interface, while a socket
// without PACKET_IGNORE_OUTGOING sees the latter.
func TestIgnoreOutgoing(t *testing.T) { forVersions(t, testIgnoreOutgoing) }

func testIgnoreOutgoing(t *testing.T, ver RingVersion) {
	v := newVethPair(t, 1500)
	d := v.openDriver(t, Config{Promisc: true, Version: ver})
	peer := openRaw(t, v.B, v.IdxB, false)
	local := openRaw(t, v.A, v.IdxA, false) // another sender on end A
	tap := openRaw(t, v.A, v.IdxA, true)    // sees outgoing frames
	pool := packet.NewPool(0, 16)

	// Our own Tx.
	f := nstest.Frame(v.MACB, v.MACA, 1, 200)
	p := pool.Get()
	p.SetData(f)
	if sent := d.Send(pool, []*packet.Packet{p}); sent != 1 {
		t.Fatalf("Send = %d", sent)
	}
	if got := peer.Recv(1, time.Second); len(got) != 1 || !bytes.Equal(got[0], f) {
		t.Fatalf("peer got %x, want %x", got, f)
	}
	// The qdisc is bypassed, so not even the tap sees our Tx.
	if got := tap.Recv(1, 50*time.Millisecond); len(got) != 0 {
		t.Logf("note: a tap on the interface saw the driver's Tx (%d frames)", len(got))
	}
	expectNothing(t, d, pool)

	// Someone else's Tx on the same interface.
	g := nstest.Frame(v.MACB, v.MACA, 2, 300)
	local.Send(t, g)
	if got := peer.Recv(1, time.Second); len(got) != 1 || !bytes.Equal(got[0], g) {
		t.Fatalf("peer got %x, want %x", got, g)
	}
	if got := tap.Recv(1, time.Second); len(got) != 1 || !bytes.Equal(got[0], g) {
		t.Errorf("control: a socket without PACKET_IGNORE_OUTGOING got %d frames, want the outgoing one", len(got))
	}
	expectNothing(t, d, pool)
	checkPool(t, pool)
}

func TestSendByteExact(t *testing.T) {
	v := newVethPair(t, 1500)
	d := v.openDriver(t, Config{})
	peer := openRaw(t, v.B, v.IdxB, false)
	pool := packet.NewPool(0, 512)

	for _, n := range []int{1, 50, TxBatch, TxBatch + 44} {
		t.Run("batch="+strconv.Itoa(n), func(t *testing.T) {
			c := d.Counters()
			calls0 := c.Syscalls.Value()
			var want [][]byte
			pkts := make([]*packet.Packet, n)
			for i := range n {
				want = append(want, nstest.Frame(v.MACB, v.MACA, i, 60+i*7%1455))
				pkts[i] = pool.Get()
				pkts[i].SetData(want[i])
			}
			if sent := d.Send(pool, pkts); sent != n {
				t.Fatalf("Send = %d, want %d", sent, n)
			}
			checkPool(t, pool)
			got := peer.Recv(n, time.Second)
			if diff := diffFrames(want, got); diff != "" {
				t.Errorf("frames (-sent +received):\n%s", diff)
			}
			wantCalls := uint64((n + TxBatch - 1) / TxBatch)
			if calls := c.Syscalls.Value() - calls0; calls != wantCalls {
				t.Errorf("%d syscalls for %d frames, want %d", calls, n, wantCalls)
			}
			if e := c.TxErrors.Value(); e != 0 {
				t.Errorf("tx_errors = %d", e)
			}
		})
	}
}

// TestSendErrors checks that a frame the device refuses is dropped and
// counted without losing the rest of the batch, and that a down interface
// drops whole batches.
func TestSendErrors(t *testing.T) {
	v := newVethPair(t, 1500)
	d := v.openDriver(t, Config{})
	peer := openRaw(t, v.B, v.IdxB, false)
	pool := packet.NewPool(0, 16)
	c := d.Counters()

	frames := [][]byte{
		nstest.Frame(v.MACB, v.MACA, 0, 100),
		nstest.Frame(v.MACB, v.MACA, 1, 1600), // above MTU+14: EMSGSIZE
		nstest.Frame(v.MACB, v.MACA, 2, 200),
	}
	pkts := make([]*packet.Packet, len(frames))
	for i, f := range frames {
		pkts[i] = pool.Get()
		pkts[i].SetData(f)
	}
	if sent := d.Send(pool, pkts); sent != 2 {
		t.Errorf("Send = %d, want 2", sent)
	}
	if got := c.TxErrors.Value(); got != 1 {
		t.Errorf("tx_errors = %d, want 1", got)
	}
	got := peer.Recv(2, time.Second)
	if diff := diffFrames([][]byte{frames[0], frames[2]}, got); diff != "" {
		t.Errorf("frames (-want +received):\n%s", diff)
	}
	t.Logf("syscalls for a batch with one refused frame: %d", c.Syscalls.Value())
	checkPool(t, pool)

	v.SetDownA(t, 0)
	for i := range pkts {
		pkts[i] = pool.Get()
		pkts[i].SetData(frames[0])
	}
	if sent := d.Send(pool, pkts); sent != 0 {
		t.Errorf("Send on a down interface = %d, want 0", sent)
	}
	if got := c.TxErrors.Value(); got != 1+uint64(len(pkts)) {
		t.Errorf("tx_errors = %d, want %d", got, 1+len(pkts))
	}
	checkPool(t, pool)
}

// TestRecvOversize checks the MTU limit: MTU+18 passes (room for a VLAN
// tag), anything longer is dropped and counted, and a frame longer than a
// ring block (V3) or slot (V2) arrives truncated and is dropped too.
func TestRecvOversize(t *testing.T) { forVersions(t, testRecvOversize) }

func testRecvOversize(t *testing.T, ver RingVersion) {
	v := newVethPair(t, 9000)
	c := Config{Version: ver, MTU: 1000, BlockSize: 4096, FrameSize: 1024}
	if ver == RingV2 {
		c = Config{Version: ver, MTU: 1000} // 2 KiB slots
	}
	d := v.openDriver(t, c)
	peer := openRaw(t, v.B, v.IdxB, false)
	pool := packet.NewPool(0, 16)

	ok1 := nstest.Frame(v.MACA, v.MACB, 1, 1014)
	ok2 := nstest.Frame(v.MACA, v.MACB, 2, 1018)
	ok3 := nstest.Frame(v.MACA, v.MACB, 5, 60)
	peer.Send(t, ok1,
		nstest.Frame(v.MACA, v.MACB, 3, 1019),
		ok2,
		nstest.Frame(v.MACA, v.MACB, 4, 1400),
		nstest.Frame(v.MACA, v.MACB, 6, 8000), // truncated to the block or slot
		ok3)
	got := recvFrames(t, d, pool, 3, 8)
	expectNothing(t, d, pool)
	if diff := diffFrames([][]byte{ok1, ok2, ok3}, got); diff != "" {
		t.Errorf("frames (-want +received):\n%s", diff)
	}
	if e := d.Counters().RxErrors.Value(); e != 3 {
		t.Errorf("rx_errors = %d, want 3", e)
	}
	checkPool(t, pool)
}

// TestRecvVLAN checks that a tag the kernel strips on receive is put back.
func TestRecvVLAN(t *testing.T) { forVersions(t, testRecvVLAN) }

func testRecvVLAN(t *testing.T, ver RingVersion) {
	v := newVethPair(t, 1500)
	d := v.openDriver(t, Config{Version: ver})
	peer := openRaw(t, v.B, v.IdxB, false)
	pool := packet.NewPool(0, 4)

	inner := nstest.Frame(v.MACA, v.MACB, 7, 200)
	tagged := append(append(append([]byte(nil), inner[:12]...), 0x81, 0x00, 0x20, 0x64), inner[12:]...)
	// The peer socket binds to the test EtherType, but sends anything.
	peer.Send(t, tagged)
	got := recvFrames(t, d, pool, 1, 4)
	if len(got) != 1 || !bytes.Equal(got[0], tagged) {
		t.Errorf("received %x, want %x", got, tagged)
	}
	checkPool(t, pool)
}

// TestRxNoBuf checks that an empty pool stops Recv, counts it, and leaves
// the frames for later.
func TestRxNoBuf(t *testing.T) { forVersions(t, testRxNoBuf) }

func testRxNoBuf(t *testing.T, ver RingVersion) {
	v := newVethPair(t, 1500)
	d := v.openDriver(t, Config{Version: ver})
	peer := openRaw(t, v.B, v.IdxB, false)
	pool := packet.NewPool(0, 4)

	var want [][]byte
	for i := range 10 {
		want = append(want, nstest.Frame(v.MACA, v.MACB, i, 100+i))
	}
	peer.Send(t, want...)
	time.Sleep(30 * time.Millisecond)
	pkts := make([]*packet.Packet, 8)
	var got [][]byte
	for round := 0; len(got) < len(want) && round < 10; round++ {
		n := d.Recv(pool, pkts)
		if n != min(4, len(want)-len(got)) {
			t.Fatalf("round %d: Recv = %d", round, n)
		}
		if len(got)+n < len(want) && !d.Pending() {
			t.Errorf("round %d: Pending false with frames left", round)
		}
		for _, p := range pkts[:n] {
			got = append(got, append([]byte(nil), p.Data()...))
		}
		// A second call with the pool empty gets nothing.
		if len(got) < len(want) {
			if m := d.Recv(pool, pkts[n:]); m != 0 {
				t.Fatalf("Recv with an empty pool = %d", m)
			}
		}
		for _, p := range pkts[:n] {
			pool.Free(p)
		}
	}
	if diff := diffFrames(want, got); diff != "" {
		t.Errorf("frames (-sent +received):\n%s", diff)
	}
	// Rounds 1 and 2 stopped on the pool, plus the extra empty calls.
	if nb := d.Counters().RxNoBuf.Value(); nb < 2 {
		t.Errorf("rx_nobuf = %d, want at least 2", nb)
	}
	checkPool(t, pool)
}

// TestRingFullStats fills a tiny ring and checks the kernel's statistics.
func TestRingFullStats(t *testing.T) { forVersions(t, testRingFullStats) }

func testRingFullStats(t *testing.T, ver RingVersion) {
	v := newVethPair(t, 1500)
	c := Config{Version: ver, BlockSize: 4096, Blocks: 2, FrameSize: 1024}
	if ver == RingV2 {
		c = Config{Version: ver, Frames: 4}
	}
	d := v.openDriver(t, c)
	peer := openRaw(t, v.B, v.IdxB, false)
	pool := packet.NewPool(0, 64)

	const sent = 40
	for i := range sent {
		peer.Send(t, nstest.Frame(v.MACA, v.MACB, i, 1000))
	}
	// Read what the ring kept: everything is there once two polls a
	// few block timeouts apart find nothing.
	var got [][]byte
	pkts := make([]*packet.Packet, 16)
	for empty := 0; empty < 2; {
		time.Sleep(20 * time.Millisecond)
		n := d.Recv(pool, pkts)
		if n == 0 {
			empty++
		}
		for _, p := range pkts[:n] {
			got = append(got, append([]byte(nil), p.Data()...))
			pool.Free(p)
		}
	}
	st, err := d.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("received %d of %d; stats %+v", len(got), sent, st)
	// Only V3 freezes the ring; V2 drops frame by frame.
	if st.Packets != sent || st.Drops == 0 || st.Drops+uint64(len(got)) != sent || (st.FreezeQueue == 0) != (ver == RingV2) {
		t.Errorf("stats %+v with %d received of %d", st, len(got), sent)
	}
	// Cumulative: a second read adds nothing new.
	if st2, _ := d.Stats(); st2 != st {
		t.Errorf("second Stats = %+v, want %+v", st2, st)
	}
	checkPool(t, pool)
}

// sysfsFlags reads /sys/class/net/<ifname>/flags inside namespace ns, as
// `ip netns exec` mounts a sysfs of that namespace. It holds dev->flags,
// where IFF_PROMISC reflects the promiscuity count (netlink and
// SIOCGIFFLAGS report only promiscuity set by the administrator).
func sysfsFlags(t testing.TB, ns, ifname string) uint64 {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "cat", "/sys/class/net/"+ifname+"/flags").Output()
	if err != nil {
		t.Fatalf("read flags of %s in %s: %v", ifname, ns, err)
	}
	f, err := strconv.ParseUint(strings.TrimSpace(string(out)), 0, 32)
	if err != nil {
		t.Fatalf("flags %q: %v", out, err)
	}
	return f
}

func TestPromisc(t *testing.T) {
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("ip, needed to read sysfs in a namespace, not installed (Debian: iproute2; make test installs it): %v", err)
	}
	v := newVethPair(t, 1500)
	promisc := func() (bool, int) {
		return sysfsFlags(t, v.NSA, v.IfA)&unix.IFF_PROMISC != 0, v.promiscuityA(t)
	}
	if on, n := promisc(); on || n != 0 {
		t.Fatalf("before Open: IFF_PROMISC %v, promiscuity %d", on, n)
	}
	d := v.openDriver(t, Config{Promisc: true})
	if on, n := promisc(); !on || n != 1 {
		t.Errorf("while open: IFF_PROMISC %v, promiscuity %d; want true, 1", on, n)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if on, n := promisc(); on || n != 0 {
		t.Errorf("after Close: IFF_PROMISC %v, promiscuity %d; want false, 0", on, n)
	}
	d2 := v.openDriver(t, Config{Promisc: false})
	if on, n := promisc(); on || n != 0 {
		t.Errorf("open without Promisc: IFF_PROMISC %v, promiscuity %d", on, n)
	}
	d2.Close()
}

func TestCloseTwice(t *testing.T) { forVersions(t, testCloseTwice) }

func testCloseTwice(t *testing.T, ver RingVersion) {
	v := newVethPair(t, 1500)
	d := v.openDriver(t, Config{Version: ver})
	fd := d.Fd()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); !errors.Is(err, unix.EBADF) {
		t.Errorf("socket still open after Close: %v", err)
	}
	if _, err := d.Stats(); !errors.Is(err, ErrClosed) {
		t.Errorf("Stats after Close: %v, want ErrClosed", err)
	}
	pool := packet.NewPool(0, 2)
	if n := d.Recv(pool, make([]*packet.Packet, 2)); n != 0 || d.Pending() {
		t.Errorf("after Close: Recv = %d, Pending = %v", n, d.Pending())
	}
	p := pool.Get()
	p.SetData(make([]byte, 60))
	if n := d.Send(pool, []*packet.Packet{p}); n != 0 {
		t.Errorf("Send after Close = %d", n)
	}
	checkPool(t, pool)
}

// TestZeroAllocs checks that Recv and Send allocate nothing.
// TestZeroAllocs runs with one receive queue and with several (Recv's
// round robin, Pending over all rings).
func TestZeroAllocs(t *testing.T) {
	for _, q := range []int{1, 3} {
		t.Run(fmt.Sprintf("queues=%d", q), func(t *testing.T) {
			forVersions(t, func(t *testing.T, ver RingVersion) { testZeroAllocs(t, Config{Version: ver, RxQueues: q}) })
		})
	}
}

func testZeroAllocs(t *testing.T, c Config) {
	v := newVethPair(t, 1500)
	d := v.openDriver(t, c)
	peer := openRaw(t, v.B, v.IdxB, false)
	pool := packet.NewPool(0, 64)
	const runs, batch = 50, 8
	var frames [][]byte
	for i := range (runs + 1) * batch {
		frames = append(frames, nstest.Frame(v.MACA, v.MACB, i, 60+i%200))
	}
	peer.Send(t, frames...)
	time.Sleep(30 * time.Millisecond)
	pkts := make([]*packet.Packet, batch)
	received := 0
	allocs := testing.AllocsPerRun(runs, func() {
		n := d.Recv(pool, pkts)
		received += n
		d.Send(pool, pkts[:n])
	})
	if allocs != 0 {
		t.Errorf("Recv+Send: %v allocs/run, want 0", allocs)
	}
	if received != (runs+1)*batch {
		t.Errorf("received %d frames in the measured runs, want %d", received, (runs+1)*batch)
	}
	if got := peer.Recv(received, time.Second); len(got) != received {
		t.Errorf("peer got %d frames back, want %d", len(got), received)
	}
	if allocs := testing.AllocsPerRun(runs, func() { d.Recv(pool, pkts) }); allocs != 0 {
		t.Errorf("Recv of nothing: %v allocs/run", allocs)
	}
	if allocs := testing.AllocsPerRun(runs, func() { d.Pending() }); allocs != 0 {
		t.Errorf("Pending: %v allocs/run", allocs)
	}
	checkPool(t, pool)
}

// TestCallerCounters checks that counters given in Config are the ones
// written.
func TestCallerCounters(t *testing.T) {
	v := newVethPair(t, 1500)
	reg, err := counters.NewMem(counters.Sizes{Entries: 16, Names: 1024, Values: 16})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	c := driver.NewCounters(reg, 0, "IfNode:"+v.IfA)
	d := v.openDriver(t, Config{Counters: c})
	pool := packet.NewPool(0, 2)
	p := pool.Get()
	p.SetData(nstest.Frame(v.MACB, v.MACA, 1, 60))
	d.Send(pool, []*packet.Packet{p})
	if got := c.Syscalls.Value(); got != 1 {
		t.Errorf("caller's syscalls counter = %d, want 1", got)
	}
	var names []string
	for _, e := range reg.Snapshot() {
		names = append(names, e.Name)
	}
	if !slices.Contains(names, "IfNode:"+v.IfA+"/drv_syscalls") {
		t.Errorf("registry holds %v", names)
	}
}

// TestRecvChecksumPartial checks that Recv completes the UDP checksum of
// frames a local stack left to checksum offload (the veth default): a UDP
// socket in the peer's namespace sends through end B, whose tx
// checksumming is on, so the frames reach end A as CHECKSUM_PARTIAL skbs
// (TP_STATUS_CSUMNOTREADY) carrying only the pseudo-header sum.
func TestRecvChecksumPartial(t *testing.T) { forVersions(t, testRecvChecksumPartial) }

func testRecvChecksumPartial(t *testing.T, ver RingVersion) {
	v := newVethPair(t, 1500)
	d := v.openDriver(t, Config{Version: ver, NoVnetHdr: true})
	pool := packet.NewPool(0, 16)

	// Peer B is 10.99.0.2/24 and knows A (10.99.0.1) by a permanent
	// neighbour entry, so nothing but the datagrams crosses the link.
	lB, err := v.HB.LinkByName(v.IfB)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := netlink.ParseAddr("10.99.0.2/24")
	if err != nil {
		t.Fatal(err)
	}
	if err := v.HB.AddrAdd(lB, addr); err != nil {
		t.Fatal(err)
	}
	dstIP := net.IPv4(10, 99, 0, 1)
	neigh := &netlink.Neigh{LinkIndex: v.IdxB, Family: unix.AF_INET, State: netlink.NUD_PERMANENT, IP: dstIP, HardwareAddr: v.MACA}
	if err := v.HB.NeighAdd(neigh); err != nil {
		t.Fatal(err)
	}
	payloads := [][]byte{[]byte("r2 checksum"), bytes.Repeat([]byte{0xa5, 0x3c}, 700), {}}
	err = nstest.InNS(v.B, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		to := &unix.SockaddrInet4{Port: 9, Addr: [4]byte{10, 99, 0, 1}}
		for _, p := range payloads {
			if err := unix.Sendto(fd, p, 0, to); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("send UDP from the peer: %v", err)
	}
	got := recvFrames(t, d, pool, len(payloads), 4)
	if len(got) != len(payloads) {
		t.Fatalf("received %d frames, want %d", len(got), len(payloads))
	}
	for i, f := range got {
		if len(f) < 14+20+8 || binary.BigEndian.Uint16(f[12:]) != hdr.EtherTypeIPv4 || f[14+9] != hdr.ProtoUDP {
			t.Fatalf("frame %d is not IPv4/UDP: %x", i, f)
		}
		ip := hdr.IPv4(f[14:])
		l4 := ip[ip.HeaderLen():ip.TotalLen()]
		if !bytes.Equal(l4[8:], payloads[i]) {
			t.Errorf("frame %d: payload %x, want %x", i, l4[8:], payloads[i])
		}
		sum := hdr.Sum(ip[12:20], uint32(hdr.ProtoUDP)+uint32(len(l4)))
		if hdr.Fold(hdr.Sum(l4, sum)) != 0xffff {
			t.Errorf("frame %d: UDP checksum %#04x does not verify", i, binary.BigEndian.Uint16(l4[6:]))
		}
	}
	if n := d.Counters().RxCsumFixed.Value(); n != uint64(len(payloads)) {
		t.Errorf("rx_csum_fixed = %d, want %d (is tx checksumming on on the veth?)", n, len(payloads))
	}
	checkPool(t, pool)
}
