//go:build !linux

package gso_test

import "time"

func threadCPU() time.Duration { return 0 }
