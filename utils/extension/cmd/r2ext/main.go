// Command r2ext is R2 with the example extension nodes SrcCount and
// SrcLimit: the daemon, its configuration, API, counters and logs are R2's,
// built from this module's main.
package main

import (
	"os"

	_ "github.com/r2go/r2/gnodes/all"
	"github.com/r2go/r2/r2/daemon"

	_ "example.com/r2ext/srccount"
	_ "example.com/r2ext/srclimit"
)

func main() { os.Exit(daemon.Main(os.Args[1:])) }
