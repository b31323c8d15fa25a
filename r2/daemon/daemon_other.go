//go:build !linux

package daemon

import (
	"fmt"
	"io"
	"os"
)

// Main reports that the daemon needs Linux and returns 1.
func Main(args []string) int { return Run(args, os.Stderr, nil) }

// Run reports that the daemon needs Linux and returns 1.
func Run(args []string, stderr io.Writer, stop <-chan struct{}) int {
	fmt.Fprintln(stderr, "r2: the forwarding plane needs Linux (epoll, AF_PACKET, AF_XDP)")
	return 1
}
