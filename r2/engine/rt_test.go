package engine

import (
	"os"
	"testing"

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
