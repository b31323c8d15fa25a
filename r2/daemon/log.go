package daemon

import (
	"fmt"
	"io"
	"log"
	"os"
	"sync"
)

// daemonLog writes the daemon's own messages to stderr with a level. Under
// systemd with stderr connected to the journal ($JOURNAL_STREAM set) each
// line starts with the syslog priority the journal understands (<3> error,
// <6> info; sd-daemon(3)) and carries no time stamp of its own; elsewhere
// lines carry the time, and errors say "error:". -q keeps only errors.
type daemonLog struct {
	mu      sync.Mutex
	l       *log.Logger
	journal bool
	quiet   bool
}

func newDaemonLog(w io.Writer, instance string, quiet bool) *daemonLog {
	d := &daemonLog{journal: os.Getenv("JOURNAL_STREAM") != "", quiet: quiet}
	if d.journal {
		d.l = log.New(w, "", 0)
	} else {
		d.l = log.New(w, "r2["+instance+"]: ", log.LstdFlags|log.Lmicroseconds)
	}
	return d
}

// Infof logs an event (interfaces attached, signals, start and stop).
func (d *daemonLog) Infof(format string, args ...any) {
	if d.quiet {
		return
	}
	d.out("<6>", "", format, args...)
}

// Errorf logs a failure the operator should look at.
func (d *daemonLog) Errorf(format string, args ...any) {
	d.out("<3>", "error: ", format, args...)
}

func (d *daemonLog) out(prio, word, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.journal {
		d.l.Print(prio + msg)
		return
	}
	d.l.Print(word + msg)
}
