//go:build linux

package daemon

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/r2go/r2/r2/api"
)

// TestNotifiesSystemd runs the daemon as systemd would for Type=notify: it
// must send READY=1 once its API socket answers and STOPPING=1 when told
// to stop.
func TestNotifiesSystemd(t *testing.T) {
	sockPath := filepath.Join(t.TempDir(), "notify")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Setenv("NOTIFY_SOCKET", sockPath)
	instance := fmt.Sprintf("sdn%d", os.Getpid())
	stop := make(chan struct{})
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- Run([]string{"-c", "/dev/null", "-i", instance, "-q"}, &errb, stop) }()

	next := func() string {
		buf := make([]byte, 256)
		ln.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := ln.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v (daemon: %s)", err, errb.String())
		}
		return string(buf[:n])
	}
	if got := next(); got != "READY=1" {
		t.Fatalf("first notification %q, want READY=1", got)
	}
	c, err := net.Dial("unix", api.SocketPath(instance))
	if err != nil {
		t.Fatalf("READY=1 sent but the API socket does not answer: %v", err)
	}
	c.Close()
	close(stop)
	if got := next(); got != "STOPPING=1" {
		t.Errorf("notification at stop %q, want STOPPING=1", got)
	}
	if code := <-done; code != 0 {
		t.Errorf("Run = %d, want 0; %s", code, errb.String())
	}
}
