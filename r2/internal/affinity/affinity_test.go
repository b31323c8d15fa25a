//go:build linux

package affinity

import (
	"runtime"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPinProcess pins the test process to one CPU and checks that every
// thread it has is pinned, and every thread the runtime creates after,
// including those started while goroutines hold locked threads; then
// that a CPU the process may not use is refused.
func TestPinProcess(t *testing.T) {
	var orig unix.CPUSet
	if err := unix.SchedGetaffinity(0, &orig); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tids, _ := Threads()
		for _, tid := range tids {
			unix.SchedSetaffinity(tid, &orig)
		}
	})
	cpu := -1
	for c := range 1024 {
		if orig.IsSet(c) {
			cpu = c // the last CPU the process may use
		}
	}
	if orig.Count() < 2 {
		t.Fatalf("the test needs two CPUs to tell a pinned thread from an unpinned one; the process may use %d", orig.Count())
	}
	if err := PinProcess([]int{cpu}); err != nil {
		t.Fatal(err)
	}
	// Make the runtime start threads: goroutines locked to threads
	// (each takes an M of its own) blocked in system calls at once.
	var wg sync.WaitGroup
	release := make(chan struct{})
	started := make(chan struct{}, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			started <- struct{}{}
			<-release
		}()
	}
	for range 8 {
		<-started
	}
	tids, err := Threads()
	if err != nil {
		t.Fatal(err)
	}
	if len(tids) < 9 {
		t.Fatalf("%d threads with 8 goroutines locked to theirs", len(tids))
	}
	for _, tid := range tids {
		var m unix.CPUSet
		if err := unix.SchedGetaffinity(tid, &m); err != nil {
			t.Fatal(err)
		}
		if m.Count() != 1 || !m.IsSet(cpu) {
			t.Errorf("thread %d may use %d CPUs, want only CPU %d", tid, m.Count(), cpu)
		}
	}
	close(release)
	wg.Wait()

	if err := PinProcess([]int{1023}); err == nil {
		t.Errorf("CPU 1023 accepted")
	}
	if err := PinProcess(nil); err == nil {
		t.Errorf("no CPUs accepted")
	}
}

// TestList checks the kernel's CPU list form.
func TestList(t *testing.T) {
	for _, tt := range []struct {
		cpus []int
		want string
	}{
		{nil, "none"},
		{[]int{0}, "0"},
		{[]int{0, 1, 2, 3}, "0-3"},
		{[]int{0, 1, 3, 5, 6, 7, 1023}, "0-1,3,5-7,1023"},
	} {
		var set unix.CPUSet
		for _, c := range tt.cpus {
			set.Set(c)
		}
		if got := List(&set); got != tt.want {
			t.Errorf("List(%v) = %q, want %q", tt.cpus, got, tt.want)
		}
	}
}
