//go:build linux

package poll

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Poller is one epoll set, owned by one forwarding thread; it is not safe
// for concurrent use except for Waits.
type Poller struct {
	// epfd is the epoll fd, or -1 after Close.
	epfd int
	// events receives epoll_wait results; reused to avoid allocations.
	events []unix.EpollEvent
	// waits counts epoll_wait calls; atomic so stats can read it from
	// another goroutine.
	waits atomic.Uint64
	// ts is epoll_pwait2's timeout; here so that it does not escape.
	ts unix.Timespec
}

// NewPoller creates an empty epoll set.
func NewPoller() (*Poller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("poll: epoll_create1: %w", err)
	}
	return &Poller{epfd: fd, events: make([]unix.EpollEvent, maxEvents)}, nil
}

// Add watches fd for readability (level-triggered); Wait reports token
// while fd is readable.
func (p *Poller) Add(fd int, token uint64) error {
	// Fd and Pad together are the kernel's 64-bit epoll_data on every
	// architecture; the kernel hands them back untouched, so they can
	// carry any token.
	ev := unix.EpollEvent{
		Events: unix.EPOLLIN,
		Fd:     int32(uint32(token)),
		Pad:    int32(uint32(token >> 32)),
	}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("poll: epoll add fd %d: %w", fd, err)
	}
	return nil
}

// Fd is the epoll descriptor itself (-1 after Close): it polls readable
// while a watched fd does, and lets a caller ask the kernel what the set
// watches (EPOLL_CTL_MOD fails with ENOENT for an fd it does not).
func (p *Poller) Fd() int { return p.epfd }

// Del stops watching fd.
func (p *Poller) Del(fd int) error {
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil); err != nil {
		return fmt.Errorf("poll: epoll del fd %d: %w", fd, err)
	}
	return nil
}

// errNoRoom is returned by Wait when ready has length zero.
var errNoRoom = errors.New("poll: Wait needs a non-empty ready slice")

// Wait blocks until a watched fd is readable or timeout passes (a negative
// timeout waits forever, zero only polls), stores the ready fds' tokens in
// ready and returns how many it stored. An interrupted wait returns 0, nil.
// It does not allocate.
func (p *Poller) Wait(timeout time.Duration, ready []uint64) (int, error) {
	return p.wait(timeout, ready, unix.Syscall6)
}

// WaitRaw is Wait made through RawSyscall: the Go runtime does not see the
// thread enter a system call, so the thread keeps its P while it sleeps and
// its wakeup skips the runtime's syscall exit (on the project's VM ~30 µs
// of a wakeup: an idle P taken under sched.lock, sysmon woken; README,
// "A warm wait the runtime does not see"). Only for a goroutine locked to
// its thread, and only for short waits: the P is lost to other goroutines
// while it waits, and sysmon, finding the goroutine "running" for 10 ms,
// interrupts the wait with a preemption signal (EINTR: Wait returns 0) and
// hands the goroutine through another thread. A garbage collection's
// stop-the-world interrupts it the same way, so it is never held up.
func (p *Poller) WaitRaw(timeout time.Duration, ready []uint64) (int, error) {
	return p.wait(timeout, ready, unix.RawSyscall6)
}

// syscall6 is unix.Syscall6 or unix.RawSyscall6.
type syscall6 func(trap, a1, a2, a3, a4, a5, a6 uintptr) (r1, r2 uintptr, err unix.Errno)

func (p *Poller) wait(timeout time.Duration, ready []uint64, sys syscall6) (int, error) {
	if len(ready) == 0 {
		return 0, errNoRoom
	}
	ev := p.events
	if len(ready) < len(ev) {
		// Level-triggered fds left out stay ready for the next Wait.
		ev = ev[:len(ready)]
	}
	p.waits.Add(1)
	var r uintptr
	var e unix.Errno
	ok := false
	if timeout > 0 && timeout%time.Millisecond != 0 {
		// Not a whole number of ms: wake on time, not at the next ms.
		r, e, ok = p.waitNs(ev, timeout, sys)
	}
	if !ok {
		r, _, e = sys(unix.SYS_EPOLL_PWAIT, uintptr(p.epfd), uintptr(unsafe.Pointer(&ev[0])),
			uintptr(len(ev)), uintptr(timeoutMs(timeout)), 0, 0)
	}
	if e != 0 {
		if e == unix.EINTR {
			return 0, nil
		}
		return 0, fmt.Errorf("poll: epoll_wait: %w", e)
	}
	n := int(r)
	for i := range n {
		ready[i] = uint64(uint32(ev[i].Fd)) | uint64(uint32(ev[i].Pad))<<32
	}
	return n, nil
}

// timeoutMs converts a timeout to epoll_wait's milliseconds. Positive
// timeouts round up so a sub-millisecond timeout sleeps instead of spinning.
func timeoutMs(d time.Duration) int {
	switch {
	case d < 0:
		return -1
	case d == 0:
		return 0
	}
	if d > math.MaxInt32*time.Millisecond {
		return math.MaxInt32
	}
	return int((d + time.Millisecond - 1) / time.Millisecond)
}

// Waits returns the number of epoll_wait calls made, for syscalls-per-packet
// statistics. Safe for concurrent use.
func (p *Poller) Waits() uint64 { return p.waits.Load() }

// Close closes the epoll set; the watched fds stay open.
func (p *Poller) Close() error {
	if p.epfd < 0 {
		return os.ErrClosed
	}
	err := unix.Close(p.epfd)
	p.epfd = -1
	return err
}
