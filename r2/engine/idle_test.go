//go:build linux

package engine

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/driver/mem"
	"github.com/r2go/r2/r2/registry"
)

// idleEngine starts an engine whose threads have an interface each (an fd
// in their epoll set, as in production) and the default spin, then lets
// them go idle.
func idleEngine(t *testing.T, threads int) *Engine {
	e, _ := idleEngineWarm(t, threads, 0, false)
	return e
}

// idleEngineWarm is idleEngine with Config.Warm and WarmYield; it returns
// the drivers.
func idleEngineWarm(t *testing.T, threads int, warm time.Duration, yield bool) (*Engine, []*mem.Driver) {
	t.Helper()
	return idleEngineConfig(t, threads, Config{Warm: warm, WarmYield: yield}, nil)
}

// idleEngineConfig is idleEngine with c (Threads, Packets, Spin and Logf
// are set here); with gen, the drivers return its frames forever
// (mem.Driver.Generate) and the threads are never idle.
func idleEngineConfig(t *testing.T, threads int, c Config, gen [][]byte) (*Engine, []*mem.Driver) {
	t.Helper()
	return idleEngineWrapped(t, threads, c, gen, nil)
}

// idleEngineWrapped is idleEngineConfig with each interface's driver
// wrapped by wrap (nil: attached as it is).
func idleEngineWrapped(t *testing.T, threads int, c Config, gen [][]byte, wrap func(*mem.Driver) driver.Driver) (*Engine, []*mem.Driver) {
	t.Helper()
	c.Threads, c.Packets, c.Spin, c.Logf = threads, 256, 50*time.Microsecond, t.Logf
	e, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	var drvs []*mem.Driver
	intfs := &fwd.Interfaces{}
	for i := range threads {
		name := "idle" + string(rune('0'+i))
		drv, err := mem.New(name, 64)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { drv.Close() })
		if gen != nil {
			drv.Generate(gen)
		}
		fi := &fwd.Interface{Ifindex: int32(i), Name: name, MAC: [6]byte{2, 0, 0, 0, 0, byte(i + 1)}, MTU: 1500, Owner: i, Up: true}
		intfs = intfs.With(fi)
		var attach driver.Driver = drv
		if wrap != nil {
			attach = wrap(drv)
		}
		if err := e.AddInterface(registry.IfEnv{Intf: fi, Driver: attach}, intfs); err != nil {
			t.Fatal(err)
		}
		drvs = append(drvs, drv)
	}
	return e, drvs
}

// TestWarmSleeps: after work, a thread with Config.Warm sleeps in
// WarmSlice slices (many short epoll waits) for Warm, then goes back to
// long sleeps; without Warm it sleeps long at once.
func TestWarmSleeps(t *testing.T) {
	const warm = 400 * time.Millisecond
	waitsAfterFrame := func(warm time.Duration) (during, after uint64) {
		e, drvs := idleEngineWarm(t, 1, warm, true)
		time.Sleep(100 * time.Millisecond)
		s0 := e.Stats()[0].EpollWaits
		if !drvs[0].Inject(make([]byte, 60)) { // work: dropped by EtherDecap, still work
			t.Fatal("inject refused")
		}
		time.Sleep(warm + 100*time.Millisecond)
		s1 := e.Stats()[0].EpollWaits
		time.Sleep(time.Second)
		s2 := e.Stats()[0].EpollWaits
		return s1 - s0, s2 - s1
	}
	during, after := waitsAfterFrame(warm)
	t.Logf("warm %v: %d epoll waits in the %v after a frame, %d in the second after", warm, during, warm+100*time.Millisecond, after)
	// 50 slices of 8 ms fit in 400 ms; a loaded machine may run fewer.
	if during < 15 {
		t.Errorf("warm: only %d epoll waits after a frame: the thread did not sleep in short slices", during)
	}
	if after > 5 {
		t.Errorf("warm: %d epoll waits in the second after the warm period: it stays warm", after)
	}
	during, _ = waitsAfterFrame(0)
	if during > 5 {
		t.Errorf("no warm: %d epoll waits after a frame, want a few long sleeps", during)
	}
}

// TestWarmYields: a warm thread passes through the Go scheduler every few
// slices, so sysmon never finds its P's schedtick stale (README, Latency);
// it stops when the warm period ends, never yields without Warm, and its
// goroutine stays on the same OS thread through the yields (pinning and
// real-time priority are properties of that thread). Without WarmYield a
// warm thread never yields.
func TestWarmYields(t *testing.T) {
	const warm = 400 * time.Millisecond
	tid := func(e *Engine) int {
		var id int
		if err := e.OnThread(0, func(*Thread) { id = unix.Gettid() }); err != nil {
			t.Fatal(err)
		}
		return id
	}
	yieldsAfterFrame := func(warm time.Duration, yield bool) (during, after uint64) {
		e, drvs := idleEngineWarm(t, 1, warm, yield)
		time.Sleep(100 * time.Millisecond)
		id0 := tid(e)
		y0 := e.Stats()[0].WarmYields
		if !drvs[0].Inject(make([]byte, 60)) {
			t.Fatal("inject refused")
		}
		time.Sleep(warm + 100*time.Millisecond)
		y1 := e.Stats()[0].WarmYields
		time.Sleep(time.Second)
		y2 := e.Stats()[0].WarmYields
		if id1 := tid(e); id1 != id0 {
			t.Errorf("warm %v: the forwarding goroutine moved from thread %d to %d", warm, id0, id1)
		}
		return y1 - y0, y2 - y1
	}
	during, after := yieldsAfterFrame(warm, true)
	t.Logf("warm %v: %d yields in the %v after a frame, %d in the second after", warm, during, warm+100*time.Millisecond, after)
	// One every 5-8 ms is 50-80 in 400 ms; a loaded machine runs fewer
	// slices. Too many means a yield on every slice or every run.
	if during < 10 || during > 120 {
		t.Errorf("warm: %d yields in the %v after a frame, want one every 5-8 ms", during, warm)
	}
	if after != 0 {
		t.Errorf("warm: %d yields in the second after the warm period", after)
	}
	if during, after = yieldsAfterFrame(0, true); during+after != 0 {
		t.Errorf("no warm: %d yields after a frame", during+after)
	}
	if during, after = yieldsAfterFrame(warm, false); during+after != 0 {
		t.Errorf("warm without WarmYield: %d yields after a frame", during+after)
	}
}

// TestBusyYields: a thread kept busy passes through the Go scheduler about
// every busyYieldEvery once it has run that long without sleeping, and stays
// on its OS thread; one that sleeps between packets (a frame every 20 ms)
// never does, nor does a busy one without Config.BusyYield.
func TestBusyYields(t *testing.T) {
	const length = 400 * time.Millisecond
	frame := make([]byte, 60) // dropped by EtherDecap: still work
	yields := func(busyYield bool, every time.Duration) uint64 {
		var gen [][]byte
		if every == 0 {
			gen = [][]byte{frame}
		}
		e, drvs := idleEngineConfig(t, 1, Config{BusyYield: busyYield}, gen)
		var id0, id1 int
		if err := e.OnThread(0, func(*Thread) { id0 = unix.Gettid() }); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		y0 := e.Stats()[0].BusyYields
		for end := time.Now().Add(length); time.Now().Before(end); {
			if every == 0 {
				time.Sleep(length)
				break
			}
			if !drvs[0].Inject(frame) {
				t.Fatal("inject refused")
			}
			time.Sleep(every)
		}
		y1 := e.Stats()[0].BusyYields
		if err := e.OnThread(0, func(*Thread) { id1 = unix.Gettid() }); err != nil {
			t.Fatal(err)
		}
		if id1 != id0 {
			t.Errorf("the forwarding goroutine moved from thread %d to %d", id0, id1)
		}
		return y1 - y0
	}
	n := yields(true, 0)
	t.Logf("busy for %v: %d yields", length, n)
	// One every 5 ms is 80 in 400 ms, fewer when the machine is loaded
	// (the yields take longer); more than 100 would be a yield on every
	// run.
	if n < 5 || n > 100 {
		t.Errorf("busy for %v: %d yields, want about one every %v", length, n, busyYieldEvery)
	}
	if n := yields(true, 20*time.Millisecond); n != 0 {
		t.Errorf("a frame every 20 ms: %d yields, want none (the thread sleeps between frames)", n)
	}
	if n := yields(false, 0); n != 0 {
		t.Errorf("busy without BusyYield: %d yields", n)
	}
}

// quietDriver is a mem.Driver with descriptors of its own to quiet
// (driver.Quieter): it records the calls, on the forwarding thread.
type quietDriver struct {
	*mem.Driver
	calls []bool
}

func (q *quietDriver) Quiet(on bool) error {
	q.calls = append(q.calls, on)
	return nil
}

// watched reports whether the thread's epoll set watches fd (an
// EPOLL_CTL_MOD of an fd it does not watch fails with ENOENT). On the
// thread only.
func watched(t *testing.T, th *Thread, fd int) bool {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fdToken(fd)), Pad: int32(fdToken(fd) >> 32)}
	err := unix.EpollCtl(th.poller.Fd(), unix.EPOLL_CTL_MOD, fd, &ev)
	if err != nil && err != unix.ENOENT {
		t.Errorf("epoll_ctl MOD fd %d: %v", fd, err)
	}
	return err == nil
}

// TestQuietWhenBusy: a thread busy for longer than quietAfter stops
// watching its interface's fd and quiets the driver; once idle it watches
// the fd again before sleeping (the driver back from quiet first), so a
// frame that comes then wakes it at once, not at its idle timeout.
func TestQuietWhenBusy(t *testing.T) {
	frame := make([]byte, 60) // dropped by EtherDecap: still work
	var qd *quietDriver
	e, drvs := idleEngineWrapped(t, 1, Config{}, [][]byte{frame}, func(d *mem.Driver) driver.Driver {
		qd = &quietDriver{Driver: d}
		return qd
	})
	fd := drvs[0].Fd()
	time.Sleep(30 * time.Millisecond)
	var quiet, seen bool
	var calls []bool
	if err := e.OnThread(0, func(th *Thread) {
		quiet, seen, calls = th.quiet, watched(t, th, fd), append([]bool(nil), qd.calls...)
		drvs[0].Generate(nil) // idle from here
	}); err != nil {
		t.Fatal(err)
	}
	if q := e.Stats()[0].Quiets; q == 0 || !quiet || seen || len(calls) == 0 || !calls[len(calls)-1] {
		t.Fatalf("busy 30 ms: %d quiets, quiet %v, fd watched %v, driver calls %v: want quiet, fd unwatched, driver quieted", q, quiet, seen, calls)
	}
	// Asleep: the thread's epoll waits grow while it runs nothing.
	w0 := e.Stats()[0].EpollWaits
	deadline := time.Now().Add(5 * time.Second)
	for e.Stats()[0].EpollWaits < w0+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := e.OnThread(0, func(th *Thread) {
		quiet, seen, calls = th.quiet, watched(t, th, fd), append([]bool(nil), qd.calls...)
	}); err != nil {
		t.Fatal(err)
	}
	if quiet || !seen || calls[len(calls)-1] {
		t.Fatalf("idle: quiet %v, fd watched %v, driver calls %v: want the fd watched and the driver back", quiet, seen, calls)
	}
	// The OnThread above woke the thread; let it sleep again, then a
	// frame must wake it through the fd.
	time.Sleep(50 * time.Millisecond)
	rx := drvs[0].Stats().RxPkts
	start := time.Now()
	if !drvs[0].Inject(frame) {
		t.Fatal("inject refused")
	}
	for drvs[0].Stats().RxPkts == rx && time.Since(start) < 5*time.Second {
		time.Sleep(time.Millisecond)
	}
	// The idle timeout is a second: a frame found only then was not
	// signalled.
	if d := time.Since(start); d > idleTimeout/2 {
		t.Errorf("a frame for the idle thread was read after %v", d)
	}
}

// An idle forwarding thread sleeps in epoll: over 3 s it uses a small
// fraction of a CPU and waits a few times a second (the housekeeping
// timeout). The bounds are generous, for a loaded machine and the race
// detector; a thread that spins (busy polling, a zero epoll timeout, a
// wakeup that is never drained) runs its graph or waits hundreds of
// thousands of times, and uses most of a CPU when it gets one.
func TestIdleThreadsSleep(t *testing.T) {
	const window = 3 * time.Second
	e := idleEngine(t, 2)
	time.Sleep(100 * time.Millisecond) // past the spin after the setup's messages
	before := e.Stats()
	time.Sleep(window)
	after := e.Stats()
	for i := range after {
		cpu := after[i].CPU - before[i].CPU
		waits := after[i].EpollWaits - before[i].EpollWaits
		runs := after[i].Runs - before[i].Runs
		t.Logf("thread %d idle for %v: CPU %v (%.2f%%), %d epoll waits, %d graph runs",
			i, window, cpu, 100*float64(cpu)/float64(window), waits, runs)
		if after[i].CPU <= 0 {
			t.Errorf("thread %d: no CPU time read", i)
		}
		if cpu > window/5 {
			t.Errorf("thread %d used %v of CPU in %v idle: it does not sleep", i, cpu, window)
		}
		// On a loaded machine a spinning thread may get little CPU, but
		// it still runs its graph hundreds of thousands of times.
		if waits > 100 || runs > 1000 {
			t.Errorf("thread %d waited %d times and ran its graph %d times in %v idle: it does not sleep", i, waits, runs, window)
		}
	}
}

// While the forwarding threads sleep, a garbage collection (which stops
// the world, and so needs every P, including one a sleeping thread may
// hold) completes promptly and the threads still answer control requests.
// A wait that kept its P in a raw system call with preemption signals
// masked would hold the collection until its timeout (a second when idle).
func TestGCAndControlWhileIdle(t *testing.T) {
	e := idleEngine(t, 2)
	time.Sleep(50 * time.Millisecond) // let the threads go to sleep
	var worst time.Duration
	for range 5 {
		start := time.Now()
		runtime.GC()
		worst = max(worst, time.Since(start))
		for i := range 2 {
			start := time.Now()
			ran := false
			if err := e.OnThread(i, func(*Thread) { ran = true }); err != nil || !ran {
				t.Fatalf("thread %d: OnThread: %v (ran %v)", i, err, ran)
			}
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Errorf("thread %d answered a control request after %v", i, d)
			}
		}
		time.Sleep(20 * time.Millisecond) // asleep again
	}
	t.Logf("slowest runtime.GC with idle threads: %v", worst)
	if worst > 500*time.Millisecond {
		t.Errorf("runtime.GC took %v with idle forwarding threads", worst)
	}
}

// TestWarmRawWaits: with WarmRawWait a warm thread's waits are raw (the
// runtime does not see them) and only while warm; New raises GOMAXPROCS
// so that a P is left for other goroutines; and while a thread sits in
// raw waits, garbage collections (which must stop it) and control
// requests still complete: sysmon's and the collector's preemption
// signals interrupt the wait.
func TestWarmRawWaits(t *testing.T) {
	const warm = 400 * time.Millisecond
	procs := runtime.GOMAXPROCS(1)
	t.Cleanup(func() { runtime.GOMAXPROCS(procs) })
	rawAfterFrame := func(raw bool) (e *Engine, drvs []*mem.Driver, during, after uint64) {
		e, drvs = idleEngineConfig(t, 1, Config{Warm: warm, WarmRawWait: raw}, nil)
		time.Sleep(100 * time.Millisecond)
		r0 := e.Stats()[0].RawWaits
		if !drvs[0].Inject(make([]byte, 60)) {
			t.Fatal("inject refused")
		}
		time.Sleep(warm + 100*time.Millisecond)
		r1 := e.Stats()[0].RawWaits
		time.Sleep(500 * time.Millisecond)
		r2 := e.Stats()[0].RawWaits
		return e, drvs, r1 - r0, r2 - r1
	}
	if _, _, during, _ := rawAfterFrame(false); during != 0 {
		t.Errorf("without WarmRawWait: %d raw waits", during)
	}
	if n := runtime.GOMAXPROCS(0); n != 1 {
		t.Errorf("without WarmRawWait GOMAXPROCS changed to %d", n)
	}
	e, drvs, during, after := rawAfterFrame(true)
	t.Logf("%d raw waits in the %v after a frame, %d in the 500 ms after", during, warm+100*time.Millisecond, after)
	if n := runtime.GOMAXPROCS(0); n != 2 {
		t.Errorf("GOMAXPROCS = %d with one thread in raw waits, want 2", n)
	}
	// 100 slices of 4 ms fit in 400 ms; a loaded machine may run fewer.
	if during < 15 {
		t.Errorf("only %d raw waits while warm", during)
	}
	if after != 0 {
		t.Errorf("%d raw waits after the warm period: a cold wait must be ordinary (the runtime takes the P, sysmon sleeps)", after)
	}

	// Warm again, kept warm by a frame every 20 ms.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				drvs[0].Inject(make([]byte, 60))
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	r0 := e.Stats()[0].RawWaits
	for range 5 {
		done := make(chan struct{})
		go func() {
			runtime.GC()
			ran := false
			if err := e.OnThread(0, func(*Thread) { ran = true }); err != nil || !ran {
				t.Errorf("OnThread: %v (ran %v)", err, ran)
			}
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("a garbage collection and a control request did not complete in 10 s beside a thread in raw waits")
		}
		time.Sleep(30 * time.Millisecond)
	}
	if r := e.Stats()[0].RawWaits - r0; r == 0 {
		t.Error("the thread kept warm made no raw waits: the collections ran beside nothing")
	}
}
