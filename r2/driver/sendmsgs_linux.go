//go:build linux

package driver

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// MaxSendCalls bounds the sendmmsg calls SendMsgs makes for one vector:
// the first, and two more to finish a partial send (after skipping a frame
// the kernel refused). What is still unsent after that is dropped: a
// driver must not spin on a device that is not taking frames.
const MaxSendCalls = 3

// SendMsgs sends msgs through the packet socket fd with sendmmsg(2) and
// returns how many the kernel took and the calls made (at most
// MaxSendCalls). A frame the kernel refuses as too long or too short for
// the device (EMSGSIZE, EINVAL) is skipped and the rest sent; EINTR is
// retried; any other error (EAGAIN, ENOBUFS: the device queue or socket
// buffer full; ENETDOWN, ENXIO: the interface down or gone) drops the rest.
// The AF_PACKET driver's sockets and package vnet's send through it.
func SendMsgs(fd int, msgs []unix.Mmsghdr) (sent, calls int) {
	for next := 0; next < len(msgs) && calls < MaxSendCalls; {
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd),
			uintptr(unsafe.Pointer(&msgs[next])), uintptr(len(msgs)-next), 0, 0, 0)
		calls++
		switch errno {
		case 0:
			if int(r) <= 0 { // cannot happen for a non-empty vector
				return sent, calls
			}
			// r < len-next: frame next+r failed; the next call says why.
			next += int(r)
			sent += int(r)
		case unix.EINTR:
		case unix.EMSGSIZE, unix.EINVAL:
			next++
		default:
			return sent, calls
		}
	}
	return sent, calls
}
