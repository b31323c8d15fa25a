//go:build !linux

package fwd

import "time"

// threadCPU is not available here: the CPU-time metrics read 0.
func threadCPU() time.Duration { return 0 }
