// Command r2 is the R2 router daemon: it starts the forwarding threads,
// serves the Thrift configuration APIs on a Unix socket, and keeps counters
// and forwarding-path logs in shared memory for r2cnt and r2log. All of it
// is package r2/daemon (see there for usage); on systems other than Linux
// it only says that it needs Linux and exits 1.
package main

import (
	"os"

	"github.com/r2go/r2/r2/daemon"
)

func main() { os.Exit(daemon.Main(os.Args[1:])) }
