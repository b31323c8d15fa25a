//go:build linux

package poll

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Waker is an eventfd plus an idle flag; see the package doc for the
// protocol. Wake is safe from any goroutine; PrepareSleep, CancelSleep and
// Drain belong to the owner thread.
type Waker struct {
	_ [cacheLine]byte
	// idle is 1 from the owner's PrepareSleep until its CancelSleep or a
	// producer's Wake. Producers load it on every Wake, so it sits on its
	// own cache line with read-only fields.
	idle atomic.Uint32
	// fd is the eventfd, non-blocking; read-only until Close.
	fd int
	// one is the 8-byte native-endian value 1 that Wake writes; read-only
	// after construction so concurrent Wakes can share it without
	// allocating.
	one [8]byte
	_   [cacheLine]byte
	// writes counts eventfd writes; written only on the slow path.
	writes atomic.Uint64
	// rbuf is Drain's read buffer, owner only; reused to avoid
	// allocations.
	rbuf [8]byte
}

// NewWaker creates a Waker with a fresh non-blocking eventfd.
func NewWaker() (*Waker, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("poll: eventfd: %w", err)
	}
	w := &Waker{fd: fd}
	binary.NativeEndian.PutUint64(w.one[:], 1)
	return w, nil
}

// Fd returns the eventfd, to be added to the owner's Poller.
func (w *Waker) Fd() int { return w.fd }

// Wake wakes the owner if it announced it may sleep. Call it after
// publishing work for the owner. When the owner is busy it costs one atomic
// load and no syscall. Safe for concurrent use.
func (w *Waker) Wake() {
	// Small enough to inline: the busy case is one plain load, with no
	// locked instruction and no call.
	if w.idle.Load() != 0 {
		w.wakeSlow()
	}
}

// wakeSlow wakes an owner that announced it may sleep.
func (w *Waker) wakeSlow() {
	// The swap lets only one of several racing producers pay for the write.
	if w.idle.Swap(0) == 0 {
		return
	}
	// EAGAIN would need 2^64-2 unread wakes, and EBADF means the Waker
	// was closed during shutdown; neither leaves an owner to wake.
	if _, err := unix.Write(w.fd, w.one[:]); err == nil {
		w.writes.Add(1)
	}
}

// PrepareSleep announces that the owner may sleep. The owner MUST re-check
// every queue producers Wake it for after calling it, and only sleep if all
// are empty; otherwise a wakeup can be lost.
func (w *Waker) PrepareSleep() {
	// atomic stores are sequentially consistent, which orders this store
	// before the owner's following loads of the queues.
	w.idle.Store(1)
}

// CancelSleep tells producers the owner is busy again: after the re-check
// found work, or after waking. Owner only.
func (w *Waker) CancelSleep() {
	w.idle.Store(0)
}

// Drain resets the eventfd after the owner woke up. It never blocks. Owner
// only.
func (w *Waker) Drain() {
	// Without EFD_SEMAPHORE one read returns the whole count and zeroes it;
	// EAGAIN just means nobody wrote.
	_, _ = unix.Read(w.fd, w.rbuf[:])
}

// Writes returns how many times Wake actually wrote the eventfd.
func (w *Waker) Writes() uint64 { return w.writes.Load() }

// Close closes the eventfd. Call it once no producer can still Wake.
func (w *Waker) Close() error {
	if w.fd < 0 {
		return os.ErrClosed
	}
	err := unix.Close(w.fd)
	w.fd = -1
	return err
}
