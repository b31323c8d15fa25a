//go:build linux

// Package pagemem makes packet pools in page-aligned anonymous memory
// outside the Go heap, which the kernel can map as an AF_XDP UMEM. It keeps
// the system call out of package packet.
package pagemem

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/packet"
)

// NewPool makes a pool of n packets for thread owner in mmap'd memory. The
// memory lives as long as the process (pools live as long as the engine).
func NewPool(owner, n int) (*packet.Pool, error) {
	if n <= 0 {
		return nil, fmt.Errorf("pagemem: pool size %d", n)
	}
	mem, err := unix.Mmap(-1, 0, n*packet.BufSize, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("pagemem: mmap %d packet buffers: %w", n, err)
	}
	return packet.NewPoolOn(owner, mem), nil
}
