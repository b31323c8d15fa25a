//go:build linux

package engine

import (
	"runtime"
	"testing"
	"time"

	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/r2/driver/mem"
	"github.com/r2go/r2/r2/registry"
)

// idleEngine starts an engine whose threads have an interface each (an fd
// in their epoll set, as in production) and the default spin, then lets
// them go idle.
func idleEngine(t *testing.T, threads int) *Engine {
	t.Helper()
	e, err := New(Config{Threads: threads, Packets: 256, Spin: 50 * time.Microsecond, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	intfs := &fwd.Interfaces{}
	for i := range threads {
		name := "idle" + string(rune('0'+i))
		drv, err := mem.New(name, 64)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { drv.Close() })
		fi := &fwd.Interface{Ifindex: int32(i), Name: name, MAC: [6]byte{2, 0, 0, 0, 0, byte(i + 1)}, MTU: 1500, Owner: i, Up: true}
		intfs = intfs.With(fi)
		if err := e.AddInterface(registry.IfEnv{Intf: fi, Driver: drv}, intfs); err != nil {
			t.Fatal(err)
		}
	}
	return e
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
