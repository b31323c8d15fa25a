//go:build !linux

package poll

import "time"

// Waker is a Linux eventfd waker; this stub only lets dependents compile.
type Waker struct{}

// NewWaker returns ErrUnsupported.
func NewWaker() (*Waker, error) { return nil, ErrUnsupported }

// Fd returns -1.
func (w *Waker) Fd() int { return -1 }

// Wake does nothing.
func (w *Waker) Wake() {}

// PrepareSleep does nothing.
func (w *Waker) PrepareSleep() {}

// CancelSleep does nothing.
func (w *Waker) CancelSleep() {}

// Drain does nothing.
func (w *Waker) Drain() {}

// Writes returns 0.
func (w *Waker) Writes() uint64 { return 0 }

// Close returns ErrUnsupported.
func (w *Waker) Close() error { return ErrUnsupported }

// Poller is a Linux epoll set; this stub only lets dependents compile.
type Poller struct{}

// NewPoller returns ErrUnsupported.
func NewPoller() (*Poller, error) { return nil, ErrUnsupported }

// Add returns ErrUnsupported.
func (p *Poller) Add(fd int, token uint64) error { return ErrUnsupported }

// Del returns ErrUnsupported.
func (p *Poller) Del(fd int) error { return ErrUnsupported }

// Wait returns ErrUnsupported.
func (p *Poller) Wait(timeout time.Duration, ready []uint64) (int, error) {
	return 0, ErrUnsupported
}

// Close returns ErrUnsupported.
func (p *Poller) Close() error { return ErrUnsupported }

// Waits returns 0.
func (p *Poller) Waits() uint64 { return 0 }

// WaitRaw returns ErrUnsupported.
func (p *Poller) WaitRaw(timeout time.Duration, ready []uint64) (int, error) {
	return 0, ErrUnsupported
}
