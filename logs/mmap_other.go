//go:build !linux

package logs

import (
	"errors"
	"fmt"
	"os"
)

var errNoMmap = fmt.Errorf("logs: shared-memory logs need Linux: %w", errors.ErrUnsupported)

func mmapFile(f *os.File, size int, writable bool) ([]byte, error) { return nil, errNoMmap }

func munmap(b []byte) error { return errNoMmap }
