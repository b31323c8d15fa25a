//go:build linux

package packet

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// NewPoolMmap makes a pool of n packets in anonymous page-aligned memory
// outside the Go heap, which the kernel can map as an AF_XDP UMEM. The
// memory lives as long as the process (pools live as long as the engine).
func NewPoolMmap(owner, n int) (*Pool, error) {
	if n <= 0 {
		return nil, fmt.Errorf("packet: pool size %d", n)
	}
	mem, err := unix.Mmap(-1, 0, n*BufSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("packet: mmap %d buffers: %w", n, err)
	}
	return NewPoolOn(owner, mem), nil
}
