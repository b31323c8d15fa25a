//go:build linux

package poll

import (
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// noPwait2 is set once epoll_pwait2 (Linux 5.11) turned out missing;
// timeouts then round up to milliseconds.
var noPwait2 atomic.Bool

// waitNs is epoll_pwait2 with a nanosecond timeout, so that a thread
// asked to wake in 240 us (a shaper's next packet) does not sleep a whole
// millisecond. ok is false if the kernel lacks it.
func (p *Poller) waitNs(ev []unix.EpollEvent, timeout time.Duration, sys syscall6) (n uintptr, e unix.Errno, ok bool) {
	if noPwait2.Load() {
		return 0, 0, false
	}
	p.ts = unix.NsecToTimespec(int64(timeout))
	r, _, e := sys(unix.SYS_EPOLL_PWAIT2, uintptr(p.epfd), uintptr(unsafe.Pointer(&ev[0])),
		uintptr(len(ev)), uintptr(unsafe.Pointer(&p.ts)), 0, 0)
	if e == unix.ENOSYS {
		noPwait2.Store(true)
		return 0, 0, false
	}
	return r, e, true
}
