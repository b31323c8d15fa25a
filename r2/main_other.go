//go:build !linux

// Command r2 is the R2 router daemon; it runs on Linux only.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "r2: the forwarding plane needs Linux (epoll, AF_PACKET, AF_XDP)")
	os.Exit(1)
}
