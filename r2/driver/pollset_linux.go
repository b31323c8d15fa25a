//go:build linux

package driver

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// PollSet is an epoll instance holding the sockets of an interface's
// receive rings, for a driver with several (AF_PACKET's fanout sockets,
// AF_XDP's sockets of one queue): its descriptor polls readable while any
// socket does (level-triggered), and it nests in the owner thread's own
// epoll set, so the thread wakes for a frame in any ring and stays awake
// until Recv has emptied them. Quiet takes the sockets out (Quieter).
// Methods of a nil set do nothing (Fd is -1).
type PollSet struct {
	what  string // the driver and interface, for errors
	epfd  int
	fds   []int
	quiet bool
}

// NewPollSet makes an epoll instance holding fds; what is the driver and
// interface, for errors. Close it.
func NewPollSet(what string, fds []int) (*PollSet, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("%s: epoll_create1: %w", what, err)
	}
	s := &PollSet{what: what, epfd: epfd, fds: fds}
	if err := s.watch(unix.EPOLL_CTL_ADD); err != nil {
		unix.Close(epfd)
		return nil, err
	}
	return s, nil
}

// Fd is the epoll instance's descriptor, or -1 for a nil set.
func (s *PollSet) Fd() int {
	if s == nil {
		return -1
	}
	return s.epfd
}

// watch adds the sockets to the epoll instance, or deletes them (op).
func (s *PollSet) watch(op int) error {
	for i, fd := range s.fds {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(i)}
		if err := unix.EpollCtl(s.epfd, op, fd, &ev); err != nil {
			return fmt.Errorf("%s: epoll_ctl(%d) ring %d: %w", s.what, op, i, err)
		}
	}
	return nil
}

// Quiet takes the sockets out of the epoll instance (on) or puts them back
// (Quieter); a frame that came meanwhile makes Fd readable at once when
// they are back. A nil set does nothing.
func (s *PollSet) Quiet(on bool) error {
	if s == nil || on == s.quiet {
		return nil
	}
	op := unix.EPOLL_CTL_ADD
	if on {
		op = unix.EPOLL_CTL_DEL
	}
	if err := s.watch(op); err != nil {
		return err
	}
	s.quiet = on
	return nil
}

// Close closes the epoll instance (not the sockets). A nil set does
// nothing.
func (s *PollSet) Close() error {
	if s == nil || s.epfd < 0 {
		return nil
	}
	err := unix.Close(s.epfd)
	s.epfd = -1
	return err
}
