// Package sdnotify tells systemd about the daemon's state with the
// sd_notify protocol: one datagram of newline-separated "KEY=VALUE" lines
// sent to the Unix socket named by $NOTIFY_SOCKET (a unit with Type=notify
// gets one). A name starting with '@' is in the abstract namespace. Without
// $NOTIFY_SOCKET (not started by systemd) every call does nothing.
//
// See sd_notify(3); this is the small subset a daemon needs (no file
// descriptor passing, no watchdog).
package sdnotify

import (
	"net"
	"os"
)

// States the daemon sends.
const (
	Ready    = "READY=1"    // startup finished: the API socket is serving
	Stopping = "STOPPING=1" // shutdown began
)

// Notify sends state (one or more "KEY=VALUE" lines) to $NOTIFY_SOCKET. It
// returns false, nil when the variable is unset.
func Notify(state string) (bool, error) {
	return NotifySocket(os.Getenv("NOTIFY_SOCKET"), state)
}

// NotifySocket sends state to the socket at path; "" does nothing.
func NotifySocket(path, state string) (bool, error) {
	if path == "" {
		return false, nil
	}
	// Package net maps a leading '@' to the abstract namespace's NUL.
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return false, err
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return false, err
	}
	return true, nil
}
