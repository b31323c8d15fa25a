package engine

import (
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRealTimePriority: RTPriority puts the forwarding threads, and only
// them, under SCHED_FIFO at that priority.
func TestRealTimePriority(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (CAP_SYS_NICE) for SCHED_FIFO: run as root")
	}
	e, err := New(Config{Threads: 2, Packets: 64, RTPriority: 7, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for i := range 2 {
		var policy, prio int
		var perr error
		if err := e.OnThread(i, func(*Thread) { policy, prio, perr = schedPolicy() }); err != nil {
			t.Fatal(err)
		}
		if perr != nil || policy != unix.SCHED_FIFO || prio != 7 {
			t.Errorf("thread %d: policy %d priority %d (%v), want SCHED_FIFO (%d) 7", i, policy, prio, perr, unix.SCHED_FIFO)
		}
	}
	// The caller (an ordinary goroutine) is not real-time.
	done := make(chan [2]int)
	go func() {
		p, q, _ := schedPolicy()
		done <- [2]int{p, q}
	}()
	if got := <-done; got[0] == unix.SCHED_FIFO {
		t.Errorf("a non-forwarding goroutine runs under SCHED_FIFO: %v", got)
	}

	// Without RTPriority the threads stay ordinary.
	o, err := New(Config{Threads: 1, Packets: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	var policy int
	o.OnThread(0, func(*Thread) { policy, _, _ = schedPolicy() })
	if policy != 0 { // SCHED_OTHER
		t.Errorf("RTPriority 0: policy %d, want SCHED_OTHER", policy)
	}
}

// TestRealTimeBreaths: a real-time thread kept busy (busy polling) sleeps
// briefly, so an ordinary thread on its CPU still runs every few
// milliseconds; without the breaths it would wait for what the kernel
// lends ordinary tasks beside real-time ones. Polling with nothing to do,
// it breathes every rtIdleBreathEvery, not every rtBreathEvery.
func TestRealTimeBreaths(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (CAP_SYS_NICE) for SCHED_FIFO: run as root")
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	cpu := -1
	for i := range 1024 {
		if set.IsSet(i) {
			cpu = i
		}
	}
	e, err := New(Config{Threads: 1, Packets: 64, RTPriority: 7, BusyPoll: true, CPUs: []int{cpu}, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var policy int
	e.OnThread(0, func(*Thread) { policy, _, _ = schedPolicy() })
	if policy != unix.SCHED_FIFO {
		t.Fatalf("forwarding thread's policy %d, want SCHED_FIFO", policy)
	}

	// An ordinary thread on the same CPU notes the longest it went
	// without running.
	type result struct {
		loops  int
		maxGap time.Duration
		err    error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: a pinned thread ends with it
		var one unix.CPUSet
		one.Set(cpu)
		if err := unix.SchedSetaffinity(0, &one); err != nil {
			done <- result{err: err}
			return
		}
		var r result
		last := time.Now()
		for end := last.Add(600 * time.Millisecond); last.Before(end); r.loops++ {
			now := time.Now()
			r.maxGap = max(r.maxGap, now.Sub(last))
			last = now
		}
		done <- r
	}()
	b0 := e.Stats()[0].RTBreaths
	var r result
	select {
	case r = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("an ordinary thread on the real-time thread's CPU did not finish 600 ms of work in 5 s")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	breaths := e.Stats()[0].RTBreaths - b0
	t.Logf("CPU %d: %d breaths; the ordinary thread looped %d times, longest without the CPU %v", cpu, breaths, r.loops, r.maxGap)
	if breaths == 0 {
		t.Error("the busy real-time thread never breathed")
	}
	// 600 ms of idle polling: ~2000 breaths every rtIdleBreathEvery,
	// ~300 every rtBreathEvery.
	if want := uint64(2 * 600 * time.Millisecond / rtBreathEvery); breaths < want {
		t.Errorf("an idle busy-polling real-time thread breathed %d times in 600 ms, want %d or more (every %v while idle)", breaths, want, rtIdleBreathEvery)
	}
	if a := testing.AllocsPerRun(20, func() { breathe(rtBreather) }); a != 0 {
		t.Errorf("breathe: %v allocs/run, want 0", a)
	}
	// Without breaths the gap is the kernel's to give: 142 ms here (6.18,
	// whose fair server lends ordinary tasks 50 ms a second), up to
	// ~950 ms with RT throttling alone. With them, a few ms: an ordinary
	// thread kept waiting is the first the scheduler picks in a breath.
	if r.maxGap > 60*time.Millisecond {
		t.Errorf("an ordinary thread on the real-time thread's CPU waited %v to run, want a few ms (rtBreathEvery %v)", r.maxGap, rtBreathEvery)
	}
}
