//go:build linux

package afxdp

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/internal/bpfasm"
	"github.com/r2go/r2/r2/internal/nstest"
	"github.com/r2go/r2/r2/internal/pagemem"
	"github.com/r2go/r2/r2/packet"
)

// waitTimeout bounds every wait for frames.
const waitTimeout = 2 * time.Second

// newPool makes a UMEM-capable pool of n packets for thread owner.
func newPool(t testing.TB, owner, n int) *packet.Pool {
	t.Helper()
	p, err := pagemem.NewPool(owner, n)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// prime makes the driver lend its fill packets (the first Recv does).
func prime(t testing.TB, d *Driver, pool *packet.Pool) {
	t.Helper()
	if n := d.Recv(pool, nil); n != 0 {
		t.Fatalf("priming Recv returned %d", n)
	}
	if d.Pending() {
		t.Fatal("Pending after priming with nothing received")
	}
}

// recvFrames calls d.Recv with batches of batch packets until want frames
// have come or waitTimeout has passed, sleeping on d.Fd between empty
// polls, and returns copies of the frames (packets are freed) and the
// head offsets of the packets.
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

// expectNothing checks that d receives nothing for a while.
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

// recvThenQuiet receives want frames (recvFrames), then checks that nothing more
// comes (expectNothing).
func recvThenQuiet(t testing.TB, d *Driver, pool *packet.Pool, want, batch int) [][]byte {
	t.Helper()
	got := recvFrames(t, d, pool, want, batch)
	expectNothing(t, d, pool)
	return got
}

// wantRxErrors checks the driver's rx_errors counter; what, if not empty,
// says which frames they are.
func wantRxErrors(t testing.TB, d *Driver, want uint64, what string) {
	t.Helper()
	if e := d.Counters().RxErrors.Value(); e != want {
		if what != "" {
			t.Errorf("rx_errors = %d, want %d (%s)", e, want, what)
		} else {
			t.Errorf("rx_errors = %d, want %d", e, want)
		}
	}
}

// drainTx calls Recv until every sent packet has completed.
func drainTx(t testing.TB, d *Driver, pool *packet.Pool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for d.txHeld > 0 && time.Now().Before(deadline) {
		if n := d.Recv(pool, nil); n != 0 {
			t.Fatalf("Recv with no room returned %d", n)
		}
		time.Sleep(time.Millisecond)
	}
	if d.txHeld > 0 {
		t.Errorf("%d Tx frames not completed", d.txHeld)
	}
}

// closeDrained waits for d's sends to complete, closes d and checks that
// every packet of pool is back.
func closeDrained(t testing.TB, d *Driver, pool *packet.Pool) {
	t.Helper()
	drainTx(t, d, pool)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	checkPool(t, pool)
}

// checkPool checks that every packet of pool is back.
func checkPool(t testing.TB, pool *packet.Pool) {
	t.Helper()
	pool.Reclaim()
	if s := pool.Stats(); s.InFlight != 0 || s.DoubleFrees != 0 {
		t.Errorf("pool leak: %+v", s)
	}
}

// checkFrames compares frames, quickly when they match (cmp.Diff of
// hundreds of frames takes seconds).
func checkFrames(t testing.TB, want, got [][]byte) {
	t.Helper()
	if len(want) == len(got) {
		same := true
		for i := range want {
			same = same && bytes.Equal(want[i], got[i])
		}
		if same {
			return
		}
	}
	t.Errorf("frames (-want +got):\n%s", cmp.Diff(want, got))
}

// inMem reports whether b lies inside mem.
func inMem(b, mem []byte) bool {
	start := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return p >= start && p+uintptr(len(b)) <= start+uintptr(len(mem))
}

func TestConfigDefaults(t *testing.T) {
	pool := packet.NewPool(0, 4096)
	small := packet.NewPool(0, 256)
	tests := []struct {
		name    string
		c       Config
		ifMTU   int
		wantErr string
		check   func(Config) bool
	}{
		{name: "zero", c: Config{Pool: pool}, check: func(c Config) bool {
			return c.RingSize == DefaultRingSize && c.MTU == DefaultMTU && c.FillSize == 1024 &&
				c.TxBudget == DefaultTxBudget && c.Mode == ModeAuto && c.maxFrame() == 1518
		}},
		{name: "interface MTU", c: Config{Pool: pool}, ifMTU: 1700, check: func(c Config) bool { return c.MTU == 1700 }},
		{name: "small pool", c: Config{Pool: small}, check: func(c Config) bool { return c.FillSize == 64 }},
		{name: "small ring", c: Config{Pool: pool, RingSize: 256}, check: func(c Config) bool {
			return c.FillSize == 256 && c.TxBudget == 256
		}},
		{name: "no pool", c: Config{}, wantErr: "pool"},
		{name: "ring not power of two", c: Config{Pool: pool, RingSize: 1000}, wantErr: "ring size"},
		{name: "ring too small", c: Config{Pool: pool, RingSize: 32}, wantErr: "ring size"},
		{name: "fill above ring", c: Config{Pool: pool, RingSize: 256, FillSize: 512}, wantErr: "fill size"},
		{name: "budget too small", c: Config{Pool: pool, TxBudget: 16}, wantErr: "budget"},
		{name: "negative queue", c: Config{Pool: pool, Queue: -1}, wantErr: "queue"},
		{name: "jumbo MTU", c: Config{Pool: pool}, ifMTU: 9000, wantErr: "MTU"},
		{name: "MTU too small", c: Config{Pool: pool, MTU: 10}, wantErr: "MTU"},
		{name: "bad mode", c: Config{Pool: pool, Mode: 9}, wantErr: "mode"},
		{name: "rings", c: Config{Pool: pool, RxRings: 4}, check: func(c Config) bool { return c.rxRingSize() == DefaultRingSize/4 }},
		{name: "one ring by default", c: Config{Pool: pool}, check: func(c Config) bool { return c.RxRings == 1 && c.rxRingSize() == DefaultRingSize }},
		{name: "rings not power of two", c: Config{Pool: pool, RxRings: 3}, wantErr: "receive rings 3"},
		{name: "too many rings", c: Config{Pool: pool, RxRings: 16}, wantErr: "receive rings 16"},
		{name: "rings too small", c: Config{Pool: pool, RingSize: 64, RxRings: 2}, wantErr: "each of 2 receive rings"},
		{name: "negative light gap", c: Config{Pool: pool, RxRings: 2, LightGap: -time.Millisecond}, wantErr: "light-flow gap -1ms"},
		{name: "light gap too long", c: Config{Pool: pool, RxRings: 2, LightGap: bpfasm.SteerMaxGap + 1}, wantErr: "light-flow gap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.c.withDefaults(tt.ifMTU)
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

func TestParseMode(t *testing.T) {
	for m := ModeAuto; m <= ModeSKB; m++ {
		got, err := ParseMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseMode("fast"); err == nil {
		t.Error("ParseMode(fast) succeeded")
	}
}

func TestOpenNoInterface(t *testing.T) {
	nstest.NeedRoot(t)
	pool := newPool(t, 0, 64)
	_, err := Open(Config{Ifindex: 999999, Pool: pool})
	if err == nil || !strings.Contains(err.Error(), "ifindex 999999") || !strings.Contains(err.Error(), "no such interface") {
		t.Fatalf("Open of a missing ifindex: err = %v", err)
	}
	if errors.Is(err, ErrUnsupported) {
		t.Errorf("a missing interface is not ErrUnsupported: %v", err)
	}
	t.Logf("error: %v", err)
	// Everything given, as R2's backend does: still looked up.
	_, err = Open(Config{Ifname: "r2-gone", Ifindex: 999999, MTU: 1500, Pool: pool})
	if err == nil || !strings.Contains(err.Error(), "no such interface") || errors.Is(err, ErrUnsupported) {
		t.Fatalf("Open of a missing ifindex with name and MTU: err = %v", err)
	}
	_, err = Open(Config{Ifname: "r2-no-such-if", Pool: pool})
	if err == nil || !strings.Contains(err.Error(), "r2-no-such-if") {
		t.Fatalf("Open of a missing interface name: err = %v", err)
	}
	checkPool(t, pool)
}

func TestOpenUnalignedPool(t *testing.T) {
	tn := newTestNet(t, 1, 1500)
	mem, err := unix.Mmap(-1, 0, 65*packet.BufSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	pool := packet.NewPoolOn(0, mem[64:])
	_, err = tn.tryOpen(t, 0, Config{Pool: pool})
	if err == nil || !strings.Contains(err.Error(), "page-aligned") {
		t.Fatalf("Open with an unaligned pool: err = %v", err)
	}
}

// TestOpenJumbo checks that an MTU too large for 2 KiB frames is
// ErrUnsupported, so that R2 falls back to AF_PACKET.
func TestOpenJumbo(t *testing.T) {
	tn := newTestNet(t, 1, 9000)
	pool := newPool(t, 0, 64)
	_, err := tn.tryOpen(t, 0, Config{Pool: pool})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "MTU 9000") {
		t.Fatalf("Open with MTU 9000: %v, want ErrUnsupported", err)
	}
	t.Logf("as expected: %v", err)
	// A smaller MTU of our own is fine (veth refuses native XDP with
	// such an MTU on the peer: generic mode).
	d, err := tn.tryOpen(t, 0, Config{Pool: pool, MTU: 1500})
	if err != nil {
		t.Fatalf("Open with MTU 1500 on a 9000 interface: %v", err)
	}
	t.Logf("MTU 1500 on a 9000 veth: %s", d.ActiveMode())
	d.Close()
	checkPool(t, pool)
}

// TestModes opens the driver in each mode, checks what ActiveMode says and
// that a frame goes each way.
func TestModes(t *testing.T) {
	tn := newTestNet(t, 1, 1500)
	v := tn.Pairs[0]
	peer := openRaw(t, tn.B, v.IdxB)
	for _, tt := range []struct {
		mode Mode
		want string // "" if the mode must fail on veth
	}{
		{ModeAuto, ActiveCopySKB}, // a veth: generic first (attempts)
		{ModeCopy, ActiveCopyDrv},
		{ModeSKB, ActiveCopySKB},
		{ModeZeroCopy, ""},
	} {
		t.Run(tt.mode.String(), func(t *testing.T) {
			pool := newPool(t, 0, 256)
			d, err := tn.tryOpen(t, 0, Config{Pool: pool, Mode: tt.mode})
			if tt.want == "" {
				if err == nil {
					d.Close()
					t.Fatalf("mode %v opened on veth (%s)", tt.mode, d.ActiveMode())
				}
				if !errors.Is(err, ErrUnsupported) {
					t.Errorf("error does not wrap ErrUnsupported: %v", err)
				}
				t.Logf("as expected: %v", err)
				checkPool(t, pool)
				return
			}
			if errors.Is(err, ErrUnsupported) && tt.mode == ModeAuto {
				t.Skipf("the kernel refuses AF_XDP here: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := d.ActiveMode(); got != tt.want {
				t.Errorf("ActiveMode = %q, want %q", got, tt.want)
			}
			prime(t, d, pool)
			in := nstest.Frame(v.MACA, v.MACB, 1, 100)
			peer.Send(t, in)
			if got := recvFrames(t, d, pool, 1, 8); len(got) != 1 || !bytes.Equal(got[0], in) {
				t.Errorf("received %x, want %x", got, in)
			}
			out := nstest.Frame(v.MACB, v.MACA, 2, 200)
			p := pool.Get()
			p.SetData(out)
			if n := d.Send(pool, []*packet.Packet{p}); n != 1 {
				t.Errorf("Send = %d", n)
			}
			if got := peer.Recv(1, time.Second); len(got) != 1 || !bytes.Equal(got[0], out) {
				t.Errorf("peer got %x, want %x", got, out)
			}
			closeDrained(t, d, pool)
		})
	}
}

func TestRecvByteExact(t *testing.T) {
	tn := newTestNet(t, 1, 1500)
	v := tn.Pairs[0]
	pool := newPool(t, 0, 256)
	d := tn.open(t, 0, Config{Pool: pool})
	t.Logf("mode %s", d.ActiveMode())
	peer := openRaw(t, tn.B, v.IdxB)
	prime(t, d, pool)

	var want [][]byte
	for i, size := range []int{60, 64, 128, 333, 1000, 1514, 14, 15, 1513} {
		want = append(want, nstest.Frame(v.MACA, v.MACB, i, size))
	}
	// Not for us: a router takes every frame (AF_XDP sees them all).
	want = append(want, nstest.Frame([]byte{0x02, 1, 2, 3, 4, 5}, v.MACB, 99, 100))
	peer.Send(t, want...)

	pkts := make([]*packet.Packet, 4)
	var got [][]byte
	deadline := time.Now().Add(waitTimeout)
	for len(got) < len(want) && time.Now().Before(deadline) {
		n := d.Recv(pool, pkts)
		for _, p := range pkts[:n] {
			if !inMem(p.Data(), pool.Mem()) || p.Pool() != pool {
				t.Errorf("packet %d is not in the pool memory", p.Index())
			}
			if p.Head() < packet.Headroom {
				t.Errorf("head %d leaves less than %d bytes of headroom", p.Head(), packet.Headroom)
			}
			got = append(got, append([]byte(nil), p.Data()...))
			pool.Free(p)
		}
		if n == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	checkFrames(t, want, got)
	expectNothing(t, d, pool)
	c := d.Counters()
	if c.RxErrors.Value() != 0 || c.RxNoBuf.Value() != 0 || c.Syscalls.Value() != 0 {
		t.Errorf("counters: rx_errors %d rx_nobuf %d syscalls %d, want 0", c.RxErrors.Value(), c.RxNoBuf.Value(), c.Syscalls.Value())
	}
	if c.RxBatches.Value() < 3 {
		t.Errorf("rx_batches = %d, want at least 3", c.RxBatches.Value())
	}
	st, err := d.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.RxDropped != 0 || st.RxRingFull != 0 || st.FillHeld != d.cfg.FillSize {
		t.Errorf("Stats = %+v", st)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	checkPool(t, pool)
}

// TestPollReadiness checks that Fd polls readable once a frame is in the
// Rx ring, and not once it has been read.
func TestPollReadiness(t *testing.T) {
	tn := newTestNet(t, 1, 1500)
	v := tn.Pairs[0]
	pool := newPool(t, 0, 64)
	d := tn.open(t, 0, Config{Pool: pool})
	if !d.Pending() {
		t.Error("Pending false before the fill ring is primed")
	}
	prime(t, d, pool)
	peer := openRaw(t, tn.B, v.IdxB)
	pfd := []unix.PollFd{{Fd: int32(d.Fd()), Events: unix.POLLIN}}
	if n, _ := unix.Poll(pfd, 0); n != 0 || d.Pending() {
		t.Fatalf("readable (%d) or pending (%v) before any frame", n, d.Pending())
	}
	start := time.Now()
	peer.Send(t, nstest.Frame(v.MACA, v.MACB, 1, 100))
	if n, err := unix.Poll(pfd, 1000); n != 1 || err != nil {
		t.Fatalf("poll after a frame: %d, %v", n, err)
	}
	t.Logf("frame readable after %v", time.Since(start))
	if !d.Pending() {
		t.Error("Pending false with a frame in the Rx ring")
	}
	pkts := make([]*packet.Packet, 8)
	if n := d.Recv(pool, pkts); n != 1 {
		t.Fatalf("Recv = %d, want 1", n)
	}
	pool.Free(pkts[0])
	if n, _ := unix.Poll(pfd, 0); n != 0 || d.Pending() {
		t.Errorf("readable (%d) or pending (%v) after reading everything", n, d.Pending())
	}
}

func TestSendByteExact(t *testing.T) {
	pool := newPool(t, 0, 2048)
	tn, d, peer := openPrimed(t, 1500, Config{Pool: pool})
	v := tn.Pairs[0]
	for _, n := range []int{1, 50, 256, 700} {
		t.Run("batch="+strconv.Itoa(n), func(t *testing.T) {
			c := d.Counters()
			calls0 := c.Syscalls.Value()
			var want [][]byte
			pkts := make([]*packet.Packet, n)
			for i := range n {
				want = append(want, nstest.Frame(v.MACB, v.MACA, i, 60+i*7%1459))
				pkts[i] = pool.Get()
				pkts[i].SetData(want[i])
			}
			// Send from an offset too: the Tx address carries it.
			if n > 1 {
				pkts[1].Push(10)
				pkts[1].Pull(10)
				pkts[1].Pull(6)
				pkts[1].Push(6)
			}
			if sent := d.Send(pool, pkts); sent != n {
				t.Fatalf("Send = %d, want %d", sent, n)
			}
			checkFrames(t, want, peer.Recv(n, time.Second))
			drainTx(t, d, pool)
			calls := c.Syscalls.Value() - calls0
			t.Logf("%d frames: %d syscalls", n, calls)
			if n <= DefaultTxBudget && calls != 1 {
				t.Errorf("%d syscalls for %d frames, want 1", calls, n)
			}
			if e := c.TxErrors.Value(); e != 0 {
				t.Errorf("tx_errors = %d", e)
			}
			if d.TxCopies() != 0 {
				t.Errorf("tx_copies = %d, want 0", d.TxCopies())
			}
		})
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	checkPool(t, pool)
}

// TestForwardWithoutCopy receives a frame on interface A0 and sends it on
// A1, both driven by one thread with one pool: the two sockets share the
// UMEM, so the packet Recv returns on A0 is the very buffer A1 transmits.
func TestForwardWithoutCopy(t *testing.T) {
	tn := newTestNet(t, 2, 1500)
	v0, v1 := tn.Pairs[0], tn.Pairs[1]
	pool := newPool(t, 0, 512)
	d0 := tn.open(t, 0, Config{Pool: pool})
	d1 := tn.open(t, 1, Config{Pool: pool})
	if d0.SharedUMEM() || !d1.SharedUMEM() {
		t.Errorf("SharedUMEM: first %v, second %v; want false, true", d0.SharedUMEM(), d1.SharedUMEM())
	}
	t.Logf("modes: %s, %s", d0.ActiveMode(), d1.ActiveMode())
	in0 := openRaw(t, tn.B, v0.IdxB)
	out1 := openRaw(t, tn.B, v1.IdxB)
	prime(t, d0, pool)
	prime(t, d1, pool)

	const frames = 100
	var want [][]byte
	for i := range frames {
		want = append(want, nstest.Frame(v0.MACA, v0.MACB, i, 60+i*13))
	}
	in0.Send(t, want...)
	pkts := make([]*packet.Packet, 32)
	got := 0
	for deadline := time.Now().Add(waitTimeout); got < frames && time.Now().Before(deadline); {
		n := d0.Recv(pool, pkts)
		for _, p := range pkts[:n] {
			if !inMem(p.Data(), pool.Mem()) {
				t.Fatalf("received packet %d outside the pool memory", p.Index())
			}
		}
		if sent := d1.Send(pool, pkts[:n]); sent != n {
			t.Errorf("Send = %d, want %d", sent, n)
		}
		got += n
		if n == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	checkFrames(t, want, out1.Recv(frames, time.Second))
	if c := d1.TxCopies(); c != 0 {
		t.Errorf("tx_copies = %d: frames of the shared pool were copied", c)
	}
	drainTx(t, d1, pool)
	for _, d := range []*Driver{d0, d1} {
		st, err := d.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if st.RxDropped != 0 || st.RxInvalidDescs != 0 || st.TxInvalidDescs != 0 {
			t.Errorf("%s: stats %+v", d.cfg.Ifname, st)
		}
	}
	// The second socket shares a UMEM the first registered; it keeps
	// working when the first closes, and a third shares it too.
	if err := d0.Close(); err != nil {
		t.Fatal(err)
	}
	d2 := tn.open(t, 0, Config{Pool: pool})
	if !d2.SharedUMEM() {
		t.Error("a driver opened after the first closed does not share the UMEM")
	}
	prime(t, d2, pool)
	in0.Send(t, want[0])
	if got := recvFrames(t, d2, pool, 1, 4); len(got) != 1 || !bytes.Equal(got[0], want[0]) {
		t.Errorf("reopened driver received %x", got)
	}
	p := pool.Get()
	p.SetData(want[1])
	d1.Send(pool, []*packet.Packet{p})
	checkFrames(t, want[1:2], out1.Recv(1, time.Second))
	for _, d := range []*Driver{d1, d2} {
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}
	checkPool(t, pool)
	groupsMu.Lock()
	defer groupsMu.Unlock()
	if g := groups[pool]; g != nil {
		t.Errorf("UMEM group outlives its drivers: %+v", g)
	}
}

// TestOwnUMEM opens a second driver of a pool with a UMEM of its own over
// the same memory, as Open does when the group's mode does not suit it
// (a zero-copy group, a copy-only device) or the kernel refuses to share:
// the kernel allows registering the same pages twice, and the drivers
// still forward between each other without copying.
func TestOwnUMEM(t *testing.T) {
	tn := newTestNet(t, 2, 1500)
	v0, v1 := tn.Pairs[0], tn.Pairs[1]
	pool := newPool(t, 0, 256)
	d0 := tn.open(t, 0, Config{Pool: pool})
	forceOwnUMEM = true
	d1, err := tn.tryOpen(t, 1, Config{Pool: pool})
	forceOwnUMEM = false
	if err != nil {
		t.Fatal(err)
	}
	if d1.SharedUMEM() || d1.group != nil {
		t.Fatalf("shared %v, group %v: want a UMEM of its own outside the group", d1.SharedUMEM(), d1.group)
	}
	in0 := openRaw(t, tn.B, v0.IdxB)
	out1 := openRaw(t, tn.B, v1.IdxB)
	prime(t, d0, pool)
	prime(t, d1, pool)
	f := nstest.Frame(v0.MACA, v0.MACB, 3, 300)
	in0.Send(t, f)
	pkts := make([]*packet.Packet, 4)
	n := 0
	for deadline := time.Now().Add(waitTimeout); n == 0 && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		n = d0.Recv(pool, pkts)
	}
	if n != 1 {
		t.Fatalf("received %d frames", n)
	}
	d1.Send(pool, pkts[:1])
	checkFrames(t, [][]byte{f}, out1.Recv(1, time.Second))
	if d1.TxCopies() != 0 {
		t.Error("copied")
	}
	drainTx(t, d1, pool)
	d0.Close()
	d1.Close()
	checkPool(t, pool)
}

// TestForeignPoolCopied sends packets of another thread's pool: they are
// copied into the driver's pool (counted) and freed to the caller's pool,
// which sends them home.
func TestForeignPoolCopied(t *testing.T) {
	tn := newTestNet(t, 1, 1500)
	v := tn.Pairs[0]
	pool := newPool(t, 0, 256)
	other := packet.NewPool(1, 64) // another thread's pool, on the Go heap
	d := tn.open(t, 0, Config{Pool: pool})
	peer := openRaw(t, tn.B, v.IdxB)
	prime(t, d, pool)

	var want [][]byte
	pkts := make([]*packet.Packet, 20)
	for i := range pkts {
		want = append(want, nstest.Frame(v.MACB, v.MACA, i, 100+i))
		if i%2 == 0 {
			pkts[i] = other.Get()
		} else {
			pkts[i] = pool.Get()
		}
		pkts[i].SetData(want[i])
	}
	// The owner thread of pool frees foreign packets through Return.
	if sent := d.Send(pool, pkts); sent != len(pkts) {
		t.Fatalf("Send = %d", sent)
	}
	checkFrames(t, want, peer.Recv(len(want), time.Second))
	if c := d.TxCopies(); c != 10 {
		t.Errorf("tx_copies = %d, want 10", c)
	}
	drainTx(t, d, pool)
	checkPool(t, other)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	checkPool(t, pool)
}

// TestCloseReturnsPackets closes a driver that holds packets everywhere:
// the fill ring, frames received by the kernel but not read, Tx frames not
// yet completed. Every one goes back to the pool, and the XDP program
// leaves the interface.
func TestCloseReturnsPackets(t *testing.T) {
	tn := newTestNet(t, 1, 1500)
	v := tn.Pairs[0]
	pool := newPool(t, 0, 512)
	d := tn.open(t, 0, Config{Pool: pool})
	peer := openRaw(t, tn.B, v.IdxB)
	if !tn.xdpAttached(t, v.IfA) {
		t.Fatal("no XDP program attached while open")
	}
	fd := d.Fd()
	prime(t, d, pool)
	for i := range 50 {
		peer.Send(t, nstest.Frame(v.MACA, v.MACB, i, 500))
	}
	pkts := make([]*packet.Packet, 20)
	for i := range pkts {
		pkts[i] = pool.Get()
		pkts[i].SetData(nstest.Frame(v.MACB, v.MACA, i, 200))
	}
	d.Send(pool, pkts)
	time.Sleep(20 * time.Millisecond)
	if s := pool.Stats(); s.InFlight < d.cfg.FillSize {
		t.Fatalf("pool %+v: the driver should hold at least %d packets", s, d.cfg.FillSize)
	}
	if !d.Pending() {
		t.Error("Pending false with frames in the Rx ring and completions waiting")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	checkPool(t, pool)
	if tn.xdpAttached(t, v.IfA) {
		t.Error("XDP program still attached after Close")
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); !errors.Is(err, unix.EBADF) {
		t.Errorf("socket still open after Close: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := d.Stats(); !errors.Is(err, ErrClosed) {
		t.Errorf("Stats after Close: %v, want ErrClosed", err)
	}
	if n := d.Recv(pool, pkts); n != 0 || d.Pending() || d.Fd() != -1 || d.ActiveMode() != "" {
		t.Errorf("after Close: Recv = %d, Pending = %v, Fd = %d, ActiveMode = %q", n, d.Pending(), d.Fd(), d.ActiveMode())
	}
	p := pool.Get()
	p.SetData(make([]byte, 60))
	if n := d.Send(pool, []*packet.Packet{p}); n != 0 {
		t.Errorf("Send after Close = %d", n)
	}
	checkPool(t, pool)
	// The interface works without R2 again: the kernel gets the frames.
	other := openRaw(t, tn.A, v.IdxA)
	f := nstest.Frame(v.MACA, v.MACB, 77, 100)
	peer.Send(t, f)
	if got := other.Recv(1, time.Second); len(got) != 1 || !bytes.Equal(got[0], f) {
		t.Errorf("after Close, the kernel got %x, want %x", got, f)
	}
}

// TestRecvOversize checks the MTU limit: MTU+18 passes, longer frames are
// dropped and counted, and their buffers go straight back to the kernel.
func TestRecvOversize(t *testing.T) {
	tn := newTestNet(t, 1, 1500)
	v := tn.Pairs[0]
	pool := newPool(t, 0, 256)
	d := tn.open(t, 0, Config{Pool: pool, MTU: 1000})
	peer := openRaw(t, tn.B, v.IdxB)
	prime(t, d, pool)
	ok1 := nstest.Frame(v.MACA, v.MACB, 1, 1014)
	ok2 := nstest.Frame(v.MACA, v.MACB, 2, 1018)
	ok3 := nstest.Frame(v.MACA, v.MACB, 5, 60)
	peer.Send(t, ok1, nstest.Frame(v.MACA, v.MACB, 3, 1019), ok2, nstest.Frame(v.MACA, v.MACB, 4, 1500), ok3)
	got := recvThenQuiet(t, d, pool, 3, 8)
	checkFrames(t, [][]byte{ok1, ok2, ok3}, got)
	wantRxErrors(t, d, 2, "")
	if st, _ := d.Stats(); st.FillHeld != d.cfg.FillSize {
		t.Errorf("fill held %d, want %d", st.FillHeld, d.cfg.FillSize)
	}
	d.Close()
	checkPool(t, pool)
}

// TestRecvVLAN checks that a tagged frame arrives as it was on the wire
// (XDP sees frames before the kernel strips tags), in both XDP modes.
func TestRecvVLAN(t *testing.T) {
	tn := newTestNet(t, 1, 1500)
	v := tn.Pairs[0]
	peer := openRaw(t, tn.B, v.IdxB)
	for _, mode := range []Mode{ModeCopy, ModeSKB} {
		t.Run(mode.String(), func(t *testing.T) {
			pool := newPool(t, 0, 64)
			d := tn.open(t, 0, Config{Pool: pool, Mode: mode})
			prime(t, d, pool)
			inner := nstest.Frame(v.MACA, v.MACB, 7, 1514)
			tagged := append(append(append([]byte(nil), inner[:12]...), 0x81, 0x00, 0x20, 0x64), inner[12:]...)
			peer.Send(t, tagged)
			got := recvFrames(t, d, pool, 1, 4)
			if len(got) != 1 || !bytes.Equal(got[0], tagged) {
				t.Errorf("received %x, want %x", got, tagged)
			}
			d.Close()
			checkPool(t, pool)
		})
	}
}

// TestRxNoBuf runs with a pool that cannot refill the fill ring: Recv
// counts it, frames keep coming while the kernel has buffers, and the
// ring fills again once packets come back.
func TestRxNoBuf(t *testing.T) {
	tn := newTestNet(t, 1, 1500)
	v := tn.Pairs[0]
	pool := newPool(t, 0, 16)
	d := tn.open(t, 0, Config{Pool: pool, FillSize: 8, RingSize: 64})
	peer := openRaw(t, tn.B, v.IdxB)
	prime(t, d, pool)
	// The graph holds the other 8 packets.
	var graph []*packet.Packet
	for p := pool.Get(); p != nil; p = pool.Get() {
		graph = append(graph, p)
	}
	if len(graph) != 8 {
		t.Fatalf("pool left %d packets, want 8", len(graph))
	}
	var want [][]byte
	for i := range 6 {
		want = append(want, nstest.Frame(v.MACA, v.MACB, i, 100+i))
	}
	peer.Send(t, want...)
	got := recvFrames(t, d, pool, 6, 3)
	// recvFrames frees what it gets, so the pool refills as it goes:
	// only the first refill (a batch of 3 into an empty pool) fails.
	checkFrames(t, want, got)
	if nb := d.Counters().RxNoBuf.Value(); nb == 0 {
		t.Error("rx_nobuf not counted")
	}
	// The pool has 8 packets again (the graph holds the rest): the next
	// Recv lends them. Then keep everything: the kernel runs out and
	// drops.
	d.Recv(pool, nil)
	if st, _ := d.Stats(); st.FillHeld != 8 {
		t.Fatalf("fill held %d after a refill, want 8", st.FillHeld)
	}
	pkts := make([]*packet.Packet, 16)
	for i := range 12 {
		peer.Send(t, nstest.Frame(v.MACA, v.MACB, 100+i, 100))
	}
	time.Sleep(20 * time.Millisecond)
	held := 0
	for range 5 {
		n := d.Recv(pool, pkts[held:])
		held += n
	}
	st, _ := d.Stats()
	t.Logf("held %d, stats %+v, rx_nobuf %d", held, st, d.Counters().RxNoBuf.Value())
	if held != 8 || st.RxDropped != 4 {
		t.Errorf("received %d (want 8, the fill size), kernel dropped %d (want 4)", held, st.RxDropped)
	}
	for _, p := range pkts[:held] {
		pool.Free(p)
	}
	for _, p := range graph {
		pool.Free(p)
	}
	d.Recv(pool, pkts)
	f := nstest.Frame(v.MACA, v.MACB, 200, 100)
	peer.Send(t, f)
	if got := recvFrames(t, d, pool, 1, 4); len(got) != 1 || !bytes.Equal(got[0], f) {
		t.Errorf("after refill, received %x", got)
	}
	d.Close()
	checkPool(t, pool)
}

// TestSendErrors checks frames the driver refuses, a full Tx ring and a
// down interface.
func TestSendErrors(t *testing.T) {
	tn := newTestNet(t, 1, 1500)
	v := tn.Pairs[0]
	pool := newPool(t, 0, 512)
	d := tn.open(t, 0, Config{Pool: pool, RingSize: 64})
	peer := openRaw(t, tn.B, v.IdxB)
	prime(t, d, pool)
	c := d.Counters()

	frames := [][]byte{
		nstest.Frame(v.MACB, v.MACA, 0, 100),
		nstest.Frame(v.MACB, v.MACA, 1, 1519), // above MTU+18
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
	checkFrames(t, [][]byte{frames[0], frames[2]}, peer.Recv(2, time.Second))
	drainTx(t, d, pool)

	// Down: frames wait on the Tx ring (the kernel refuses the kick),
	// and once it is full, Send drops and counts.
	tn.SetDownA(t, 0)
	big := make([]*packet.Packet, 100)
	for i := range big {
		big[i] = pool.Get()
		big[i].SetData(frames[0])
	}
	e0 := c.TxErrors.Value()
	if sent := d.Send(pool, big); sent != 64 {
		t.Errorf("Send of 100 on a down interface with a 64-entry ring = %d, want 64", sent)
	}
	if e := c.TxErrors.Value() - e0; e != 36 {
		t.Errorf("tx_errors += %d, want 36", e)
	}
	if d.Pending() {
		t.Error("Pending true on a down interface: the thread would spin")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	checkPool(t, pool)
}

// TestAttachPass checks the XDP_PASS helper: attached, the peer still
// receives; closed, it is gone.
func TestAttachPass(t *testing.T) {
	tn := newTestNet(t, 1, 1500)
	v := tn.Pairs[0]
	var c interface{ Close() error }
	if err := nstest.InNS(tn.A, func() error {
		var err error
		c, err = AttachPass(v.IdxA)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !tn.xdpAttached(t, v.IfA) {
		t.Fatal("not attached")
	}
	rx := openRaw(t, tn.A, v.IdxA)
	peer := openRaw(t, tn.B, v.IdxB)
	f := nstest.Frame(v.MACA, v.MACB, 1, 100)
	peer.Send(t, f)
	if got := rx.Recv(1, time.Second); len(got) != 1 || !bytes.Equal(got[0], f) {
		t.Errorf("received %x through XDP_PASS", got)
	}
	if _, err := tn.tryOpen(t, 0, Config{Pool: newPool(t, 0, 64)}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Open on an interface with another XDP program: %v, want ErrUnsupported", err)
	} else {
		t.Logf("as expected: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if tn.xdpAttached(t, v.IfA) {
		t.Error("still attached after Close")
	}
	if _, err := AttachPass(999999); err == nil {
		t.Error("AttachPass on a missing interface succeeded")
	}
}

// TestPeerWithXDP runs traffic both ways with XDP_PASS on the peer, as the
// benchmark topology does.
func TestPeerWithXDP(t *testing.T) {
	tn := newTestNet(t, 1, 1500)
	v := tn.Pairs[0]
	tn.attachPassB(t, 0)
	pool := newPool(t, 0, 256)
	d := tn.open(t, 0, Config{Pool: pool})
	peer := openRaw(t, tn.B, v.IdxB)
	prime(t, d, pool)
	var in, out [][]byte
	pkts := make([]*packet.Packet, 10)
	for i := range 10 {
		in = append(in, nstest.Frame(v.MACA, v.MACB, i, 64+i))
		out = append(out, nstest.Frame(v.MACB, v.MACA, i, 1000+i))
		pkts[i] = pool.Get()
		pkts[i].SetData(out[i])
	}
	peer.Send(t, in...)
	checkFrames(t, in, recvFrames(t, d, pool, 10, 16))
	d.Send(pool, pkts)
	checkFrames(t, out, peer.Recv(10, time.Second))
	drainTx(t, d, pool)
	d.Close()
	checkPool(t, pool)
}

// TestSameQueueTwice checks that a second driver on a queue in use fails
// clearly.
func TestSameQueueTwice(t *testing.T) {
	tn := newTestNet(t, 1, 1500)
	pool := newPool(t, 0, 256)
	tn.open(t, 0, Config{Pool: pool})
	start := time.Now()
	_, err := tn.tryOpen(t, 0, Config{Pool: newPool(t, 1, 256)})
	if err == nil {
		t.Fatal("second driver on the same queue opened")
	}
	t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
}

// TestZeroAllocs checks that Recv, Send and Pending allocate nothing.
func TestZeroAllocs(t *testing.T) {
	tn := newTestNet(t, 1, 1500)
	v := tn.Pairs[0]
	pool := newPool(t, 0, 1024)
	other := packet.NewPool(1, 16)
	d := tn.open(t, 0, Config{Pool: pool, FillSize: 512})
	peer := openRaw(t, tn.B, v.IdxB)
	prime(t, d, pool)
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
		// One foreign packet per batch: the copy path too.
		if n > 0 {
			pool.Free(pkts[0])
			pkts[0] = other.Get()
			pkts[0].SetData(frames[0])
		}
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
	drainTx(t, d, pool)
	checkPool(t, other)
	d.Close()
	checkPool(t, pool)
}

// TestPromisc checks that Promisc holds the interface promiscuous while
// the driver is open, and only then.
func TestPromisc(t *testing.T) {
	tn := newTestNet(t, 1, 1500)
	v := tn.Pairs[0]
	promiscuity := func() int {
		l, err := tn.HA.LinkByName(v.IfA)
		if err != nil {
			t.Fatal(err)
		}
		return l.Attrs().Promisc
	}
	pool := newPool(t, 0, 64)
	d := tn.open(t, 0, Config{Pool: pool, Promisc: true})
	if n := promiscuity(); n != 1 {
		t.Errorf("promiscuity %d while open, want 1", n)
	}
	d.Close()
	if n := promiscuity(); n != 0 {
		t.Errorf("promiscuity %d after Close, want 0", n)
	}
	d = tn.open(t, 0, Config{Pool: pool})
	if n := promiscuity(); n != 0 {
		t.Errorf("promiscuity %d without Promisc, want 0", n)
	}
	d.Close()
	checkPool(t, pool)
}
