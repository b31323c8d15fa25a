//go:build linux

package poll

import (
	"errors"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/ring"
)

// generous bounds a wait that must succeed; far above any scheduling delay
// on a loaded 2-core machine with the race detector.
const generous = 5 * time.Second

func newWaker(t *testing.T) *Waker {
	t.Helper()
	w, err := NewWaker()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func newPoller(t *testing.T) *Poller {
	t.Helper()
	p, err := NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// waitReady calls Wait until it reports something or timeout passes,
// retrying the 0, nil that EINTR produces (Go preempts threads with signals).
func waitReady(p *Poller, timeout time.Duration, ready []uint64) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		n, err := p.Wait(time.Until(deadline), ready)
		if n != 0 || err != nil || time.Now().After(deadline) {
			return n, err
		}
	}
}

func TestWakeBusyOwnerNoWrite(t *testing.T) {
	w := newWaker(t)
	p := newPoller(t)
	if err := p.Add(w.Fd(), 1); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		w.Wake()
	}
	if got := w.Writes(); got != 0 {
		t.Errorf("Writes() = %d after Wake on busy owner, want 0", got)
	}
	// Cross-check with the kernel: the eventfd must not be readable.
	ready := make([]uint64, 4)
	if n, err := p.Wait(0, ready); n != 0 || err != nil {
		t.Errorf("Wait(0) = %d, %v; want 0, nil (eventfd written?)", n, err)
	}
	// PrepareSleep then CancelSleep (re-check found work) is busy again.
	w.PrepareSleep()
	w.CancelSleep()
	w.Wake()
	if got := w.Writes(); got != 0 {
		t.Errorf("Writes() = %d after CancelSleep+Wake, want 0", got)
	}
}

func TestWakeIdleOwnerWakesWait(t *testing.T) {
	const token = 7
	w := newWaker(t)
	p := newPoller(t)
	if err := p.Add(w.Fd(), token); err != nil {
		t.Fatal(err)
	}
	w.PrepareSleep()
	go func() {
		time.Sleep(10 * time.Millisecond)
		w.Wake()
		w.Wake() // a second producer: idle already cleared, no write
	}()
	ready := make([]uint64, 4)
	start := time.Now()
	n, err := waitReady(p, generous, ready)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || ready[0] != token {
		t.Fatalf("Wait = %d %v, want 1 [%d]", n, ready[:n], token)
	}
	if d := time.Since(start); d >= generous {
		t.Fatalf("Wait took %v; woken by timeout, not Wake", d)
	}
	w.Drain()
	w.CancelSleep()
	// Give the second Wake time to run if it was still pending.
	time.Sleep(10 * time.Millisecond)
	if got := w.Writes(); got != 1 {
		t.Errorf("Writes() = %d, want 1 (one write per sleep)", got)
	}
	// Drain must have reset the level-triggered eventfd.
	if n, err := p.Wait(0, ready); n != 0 || err != nil {
		t.Errorf("Wait(0) after Drain = %d, %v; want 0, nil", n, err)
	}
}

func TestPollerTokens(t *testing.T) {
	p := newPoller(t)
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	other := newWaker(t)

	// Tokens use all 64 bits so a dropped high half would show.
	const pipeTok, otherTok = 0xdeadbeef_cafef00d, 0x80000000_00000001
	if err := p.Add(fds[0], pipeTok); err != nil {
		t.Fatal(err)
	}
	if err := p.Add(other.Fd(), otherTok); err != nil {
		t.Fatal(err)
	}
	if err := p.Add(fds[0], 1); !errors.Is(err, unix.EEXIST) {
		t.Errorf("second Add of same fd: err = %v, want EEXIST", err)
	}

	ready := make([]uint64, 4)
	if n, err := p.Wait(0, ready); n != 0 || err != nil {
		t.Fatalf("Wait(0) with nothing ready = %d, %v", n, err)
	}
	if _, err := unix.Write(fds[1], []byte{1}); err != nil {
		t.Fatal(err)
	}
	n, err := waitReady(p, generous, ready)
	if err != nil || n != 1 || ready[0] != pipeTok {
		t.Fatalf("Wait = %d %#x, %v; want 1 [%#x]", n, ready[:n], err, uint64(pipeTok))
	}

	// Both ready: both tokens, in any order.
	other.PrepareSleep()
	other.Wake()
	n, err = waitReady(p, generous, ready)
	if err != nil || n != 2 {
		t.Fatalf("Wait = %d, %v; want 2 ready", n, err)
	}
	got := map[uint64]bool{ready[0]: true, ready[1]: true}
	if !got[pipeTok] || !got[otherTok] {
		t.Errorf("tokens = %#x, want %#x and %#x", ready[:2], uint64(pipeTok), uint64(otherTok))
	}

	// A short ready slice limits the count; the rest stays ready.
	if n, err := p.Wait(0, ready[:1]); n != 1 || err != nil {
		t.Errorf("Wait with len(ready)=1 = %d, %v; want 1", n, err)
	}
	if _, err := p.Wait(0, nil); err == nil {
		t.Error("Wait with empty ready slice returned no error")
	}

	// After Del the still-readable pipe is no longer reported.
	if err := p.Del(fds[0]); err != nil {
		t.Fatal(err)
	}
	n, err = p.Wait(0, ready)
	if err != nil || n != 1 || ready[0] != otherTok {
		t.Errorf("Wait after Del = %d %#x, %v; want 1 [%#x]", n, ready[:n], err, uint64(otherTok))
	}
	if err := p.Del(fds[0]); err == nil {
		t.Error("Del of an fd not in the set returned no error")
	}
}

func TestWaitTimeout(t *testing.T) {
	p := newPoller(t)
	w := newWaker(t)
	if err := p.Add(w.Fd(), 1); err != nil {
		t.Fatal(err)
	}
	ready := make([]uint64, 4)
	const timeout = 30 * time.Millisecond
	start := time.Now()
	n, err := waitReady(p, timeout, ready)
	d := time.Since(start)
	if n != 0 || err != nil {
		t.Fatalf("Wait(%v) = %d, %v; want 0, nil", timeout, n, err)
	}
	// epoll rounds to jiffies/ms; allow a little slack below.
	if d < timeout-5*time.Millisecond {
		t.Errorf("Wait(%v) returned after %v", timeout, d)
	}
	// Normally 1; more only if a signal interrupted epoll_wait.
	if got := p.Waits(); got < 1 || got > 10 {
		t.Errorf("Waits() = %d, want 1 (a few if interrupted)", got)
	}
}

func TestTimeoutMs(t *testing.T) {
	tests := []struct {
		name string
		in   time.Duration
		want int
	}{
		{name: "negative waits forever", in: -time.Second, want: -1},
		{name: "zero polls", in: 0, want: 0},
		{name: "sub-ms rounds up", in: time.Microsecond, want: 1},
		{name: "exact ms", in: 20 * time.Millisecond, want: 20},
		{name: "rounds up", in: 20*time.Millisecond + 1, want: 21},
		{name: "huge clamps", in: time.Duration(1<<63 - 1), want: 1<<31 - 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := timeoutMs(tc.in); got != tc.want {
				t.Errorf("timeoutMs(%v) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

func TestClose(t *testing.T) {
	w, err := NewWaker()
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("Waker.Close: %v", err)
	}
	if err := w.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("second Waker.Close: %v, want os.ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("Poller.Close: %v", err)
	}
	if err := p.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("second Poller.Close: %v, want os.ErrClosed", err)
	}
	// Wake after Close (shutdown race) must not panic or count a write.
	w.PrepareSleep()
	w.Wake()
	if got := w.Writes(); got != 0 {
		t.Errorf("Writes() after Close = %d, want 0", got)
	}
}

func TestZeroAllocs(t *testing.T) {
	w := newWaker(t)
	p := newPoller(t)
	if err := p.Add(w.Fd(), 1); err != nil {
		t.Fatal(err)
	}
	ready := make([]uint64, 4)
	tests := []struct {
		name string
		f    func()
	}{
		{name: "Wake busy", f: w.Wake},
		{name: "Wake idle + Wait + Drain", f: func() {
			w.PrepareSleep()
			w.Wake()
			p.Wait(0, ready)
			w.Drain()
			w.CancelSleep()
		}},
		{name: "Wait nothing ready", f: func() { p.Wait(0, ready) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if a := testing.AllocsPerRun(100, tc.f); a != 0 {
				t.Errorf("allocs per run = %v, want 0", a)
			}
		})
	}
	if w.Writes() == 0 {
		t.Error("idle case never wrote the eventfd; test exercised nothing")
	}
}

// TestSleepProtocolStress runs the doc.go owner loop over a ring.MPSC fed
// by several producers. A lost wakeup shows up as a Wait that times out
// while items are queued, or as items never consumed.
//
// In the bursty case producers are fast, so most Wakes find the owner busy.
// Later Wakes can mask a lost one there, so the ping-pong case makes every
// item the last: its producer waits until the owner consumed it, and any
// lost wakeup stalls the owner for sleepTimeout and is counted.
func TestSleepProtocolStress(t *testing.T) {
	tests := []struct {
		name                        string
		producers, bursts, burstLen int
		pingPong                    bool
	}{
		{name: "bursty", producers: 3, bursts: 200, burstLen: 50},
		{name: "ping-pong", producers: 1, bursts: 20000, burstLen: 1, pingPong: true},
		{name: "ping-pong x2", producers: 2, bursts: 10000, burstLen: 1, pingPong: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() {
				tc.bursts /= 5
			}
			stressSleepProtocol(t, tc.producers, tc.bursts, tc.burstLen, tc.pingPong)
		})
	}
}

func stressSleepProtocol(t *testing.T, producers, bursts, burstLen int, pingPong bool) {
	total := producers * bursts * burstLen
	// Long enough that only a lost wakeup, not scheduling, can expire it.
	const sleepTimeout = time.Second

	w := newWaker(t)
	p := newPoller(t)
	if err := p.Add(w.Fd(), 1); err != nil {
		t.Fatal(err)
	}
	q := ring.NewMPSC[uint32](256)
	// consumed[k] counts producer k's items taken; ping-pong producers wait on it.
	consumed := make([]atomic.Int64, producers)
	stop := make(chan struct{})
	defer close(stop)

	var wg sync.WaitGroup
	for k := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(k), 1))
			for b := range bursts {
				for i := range burstLen {
					v := uint32(k*bursts*burstLen + b*burstLen + i)
					for !q.Enqueue(v) {
						runtime.Gosched() // full: let the owner drain
					}
					w.Wake()
				}
				if !pingPong {
					// Pause so the owner runs dry and takes the sleep path.
					time.Sleep(time.Duration(rng.IntN(200)) * time.Microsecond)
					continue
				}
				// Wait until everything sent so far is consumed, so this
				// item's Wake is the only one that can wake the owner.
				for consumed[k].Load() < int64((b+1)*burstLen) {
					select {
					case <-stop:
						return
					default:
						runtime.Gosched()
					}
				}
			}
		}()
	}

	type result struct {
		seen                       []bool
		got, prepares, sleeps, dup int
		lost                       int
	}
	done := make(chan result, 1)
	go func() {
		r := result{seen: make([]bool, total)}
		batch := make([]uint32, 32)
		ready := make([]uint64, 4)
		take := func() int {
			n := q.DequeueBatch(batch)
			for _, v := range batch[:n] {
				if r.seen[v] {
					r.dup++
				}
				r.seen[v] = true
				consumed[int(v)/(bursts*burstLen)].Add(1)
			}
			r.got += n
			return n
		}
		for r.got < total {
			if take() > 0 {
				continue
			}
			w.PrepareSleep()
			r.prepares++
			if take() > 0 { // the mandatory re-check
				w.CancelSleep()
				continue
			}
			r.sleeps++
			start := time.Now()
			n, err := p.Wait(sleepTimeout, ready)
			if err != nil {
				t.Error(err)
				break
			}
			// n == 0 also comes from EINTR (Go preempts threads with
			// signals), so only a full-length sleep is a timeout.
			timedOut := n == 0 && time.Since(start) >= sleepTimeout
			if timedOut && q.Len() > 0 {
				r.lost++ // slept through queued work: lost wakeup
			}
			w.Drain()
			w.CancelSleep()
			if timedOut && q.Len() == 0 {
				t.Errorf("owner idle %v with %d/%d consumed", sleepTimeout, r.got, total)
				break
			}
		}
		done <- r
	}()

	var r result
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("owner did not consume every item within 20s (lost wakeup?)")
	}
	if r.got != total || r.dup != 0 || r.lost != 0 {
		t.Fatalf("consumed %d/%d, duplicates %d, lost wakeups %d", r.got, total, r.dup, r.lost)
	}
	wg.Wait()
	for v, ok := range r.seen {
		if !ok {
			t.Fatalf("item %d never consumed", v)
		}
	}
	// Wake's swap lets at most one producer write per PrepareSleep (a write
	// may still land after a re-check that found work: a spurious wakeup).
	if w.Writes() > uint64(r.prepares) {
		t.Errorf("Writes() = %d > PrepareSleeps %d", w.Writes(), r.prepares)
	}
	t.Logf("items %d, PrepareSleeps %d, sleeps %d, eventfd writes %d (%.3f per item), epoll_waits %d",
		total, r.prepares, r.sleeps, w.Writes(), float64(w.Writes())/float64(total), p.Waits())
}

func BenchmarkWakeBusy(b *testing.B) {
	w, err := NewWaker()
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.ReportAllocs()
	for b.Loop() {
		w.Wake()
	}
}

// BenchmarkWakeIdleRoundTrip is one full sleep cycle's syscalls: eventfd
// write, epoll_wait, eventfd read.
func BenchmarkWakeIdleRoundTrip(b *testing.B) {
	w, err := NewWaker()
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	p, err := NewPoller()
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	if err := p.Add(w.Fd(), 1); err != nil {
		b.Fatal(err)
	}
	ready := make([]uint64, 4)
	b.ReportAllocs()
	for b.Loop() {
		w.PrepareSleep()
		w.Wake()
		if n, _ := waitReady(p, generous, ready); n != 1 {
			b.Fatal("Wait did not report the Waker")
		}
		w.Drain()
		w.CancelSleep()
	}
}

// A sub-millisecond timeout sleeps about that long (epoll_pwait2), not a
// whole millisecond: a shaper's wakeups are on time.
func TestWaitSubMillisecond(t *testing.T) {
	p := newPoller(t)
	w := newWaker(t)
	if err := p.Add(w.Fd(), 1); err != nil {
		t.Fatal(err)
	}
	ready := make([]uint64, 4)
	const timeout = 300 * time.Microsecond
	best := time.Hour
	for range 20 {
		start := time.Now()
		if n, err := p.Wait(timeout, ready); n != 0 || err != nil {
			t.Fatalf("Wait = %d, %v", n, err)
		}
		d := time.Since(start)
		if d < timeout {
			t.Errorf("Wait(%v) returned after %v", timeout, d)
		}
		best = min(best, d)
	}
	if best >= 900*time.Microsecond {
		t.Errorf("Wait(%v) took at least %v: rounded up to milliseconds?", timeout, best)
	}
	if n := testing.AllocsPerRun(10, func() { p.Wait(10*time.Microsecond, ready) }); n != 0 {
		t.Errorf("Wait allocates %.1f", n)
	}
}

// WaitRaw reports what Wait reports and sleeps as long, without
// allocating; and a thread sleeping in it, holding its P, does not hold up
// a garbage collection's stop-the-world, which interrupts the wait.
func TestWaitRaw(t *testing.T) {
	p := newPoller(t)
	w := newWaker(t)
	const tok = 0xdeadbeef_cafef00d
	if err := p.Add(w.Fd(), tok); err != nil {
		t.Fatal(err)
	}
	ready := make([]uint64, 4)
	if n, err := p.WaitRaw(0, ready); n != 0 || err != nil {
		t.Fatalf("WaitRaw(0) with nothing ready = %d, %v", n, err)
	}
	w.PrepareSleep()
	w.Wake()
	if n, err := p.WaitRaw(generous, ready); n != 1 || err != nil || ready[0] != tok {
		t.Fatalf("WaitRaw after Wake = %d %#x, %v; want 1 [%#x]", n, ready[:max(n, 0)], err, uint64(tok))
	}
	w.Drain()
	w.CancelSleep()
	if _, err := p.WaitRaw(0, nil); err == nil {
		t.Error("WaitRaw with an empty ready slice returned no error")
	}
	for _, timeout := range []time.Duration{300 * time.Microsecond, 20 * time.Millisecond} {
		start := time.Now()
		for time.Since(start) < timeout {
			// A preemption signal may cut it short (returns 0).
			if n, err := p.WaitRaw(timeout-time.Since(start), ready); n != 0 || err != nil {
				t.Fatalf("WaitRaw(%v) = %d, %v; want 0, nil", timeout, n, err)
			}
		}
	}
	if n := testing.AllocsPerRun(10, func() { p.WaitRaw(10*time.Microsecond, ready) }); n != 0 {
		t.Errorf("WaitRaw allocates %.1f", n)
	}

	// A locked goroutine sleeps in WaitRaw for up to 30 s at a time.
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		ready := make([]uint64, 4)
		waits := 0
		for {
			select {
			case <-stop:
				done <- waits
				return
			default:
			}
			waits++
			p.WaitRaw(30*time.Second, ready)
		}
	}()
	time.Sleep(50 * time.Millisecond)
	for range 3 {
		gcDone := make(chan struct{})
		go func() { runtime.GC(); close(gcDone) }()
		select {
		case <-gcDone:
		case <-time.After(10 * time.Second):
			t.Fatal("runtime.GC did not complete in 10 s beside a thread in WaitRaw")
		}
	}
	close(stop)
	w.PrepareSleep()
	w.Wake() // ends the sleeper's wait
	select {
	case waits := <-done:
		t.Logf("the sleeper waited %d times (interrupted by preemption signals)", waits)
	case <-time.After(10 * time.Second):
		t.Fatal("the sleeping goroutine did not wake on the eventfd")
	}
}
