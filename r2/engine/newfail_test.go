//go:build linux

package engine

import (
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/counters"
)

// A thread that cannot be set up (here: thread 1 finds no free file
// descriptor for its eventfd) makes New fail; it must return the error,
// not wait forever for threads that were never started.
func TestNewFailsWhenLaterThreadFails(t *testing.T) {
	reg, err := counters.NewMem(counters.Sizes{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	const limit = 512
	if old.Cur < limit {
		t.Skipf("fd limit %d", old.Cur)
	}
	lim := old
	lim.Cur = limit
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Skip(err)
	}
	defer unix.Setrlimit(unix.RLIMIT_NOFILE, &old)
	// Fill every free descriptor, then free two: thread 0's eventfd and
	// epoll fd.
	var fill []int
	for {
		fd, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			break
		}
		fill = append(fill, fd)
	}
	defer func() {
		for _, fd := range fill {
			unix.Close(fd)
		}
	}()
	if len(fill) < 2 {
		t.Skip("no free descriptors")
	}
	for _, fd := range fill[len(fill)-2:] {
		unix.Close(fd)
	}
	fill = fill[:len(fill)-2]
	done := make(chan error, 1)
	go func() {
		e, err := New(Config{Threads: 2, Packets: 64, Counters: reg})
		if err == nil {
			e.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("New succeeded without descriptors for thread 1")
		}
		t.Log(err)
	case <-time.After(5 * time.Second):
		t.Fatal("New hangs after thread 1 failed to start")
	}
}
