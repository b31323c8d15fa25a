//go:build linux

package mem

import "golang.org/x/sys/unix"

// The Rx queue's readiness is an eventfd, so a forwarding thread can wait
// for injected frames in epoll like for a real interface.

func newEventfd() (int, error) { return unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC) }

func signal(fd int) {
	one := [8]byte{1}
	unix.Write(fd, one[:])
}

func reset(fd int, buf []byte) {
	unix.Read(fd, buf)
}

func closeFd(fd int) error { return unix.Close(fd) }
