//go:build linux

package logs

import (
	"os"

	"golang.org/x/sys/unix"
)

// mmapFile maps the first size bytes of f, shared, read-write if writable.
// The mapping outlives f: the caller may close f right away.
func mmapFile(f *os.File, size int, writable bool) ([]byte, error) {
	prot := unix.PROT_READ
	if writable {
		prot |= unix.PROT_WRITE
	}
	return unix.Mmap(int(f.Fd()), 0, size, prot, unix.MAP_SHARED)
}

func munmap(b []byte) error { return unix.Munmap(b) }
