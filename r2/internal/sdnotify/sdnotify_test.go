package sdnotify

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recv(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestNotifyPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	c := listen(t, path)
	t.Setenv("NOTIFY_SOCKET", path)
	for _, st := range []string{Ready, Stopping, "STATUS=forwarding\nREADY=1"} {
		sent, err := Notify(st)
		if err != nil || !sent {
			t.Fatalf("Notify(%q) = %v, %v; want true, nil", st, sent, err)
		}
		if got := recv(t, c); got != st {
			t.Errorf("received %q, want %q", got, st)
		}
	}
}

func TestNotifyAbstract(t *testing.T) {
	name := fmt.Sprintf("@r2-sdnotify-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	c := listen(t, name)
	t.Setenv("NOTIFY_SOCKET", name)
	if sent, err := Notify(Ready); err != nil || !sent {
		t.Fatalf("Notify = %v, %v; want true, nil", sent, err)
	}
	if got := recv(t, c); got != Ready {
		t.Errorf("received %q, want %q", got, Ready)
	}
}

func TestNotifyUnset(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if sent, err := Notify(Ready); sent || err != nil {
		t.Errorf("Notify without NOTIFY_SOCKET = %v, %v; want false, nil", sent, err)
	}
}

func TestNotifyNoListener(t *testing.T) {
	if _, err := NotifySocket(filepath.Join(t.TempDir(), "absent"), Ready); err == nil {
		t.Error("Notify to a missing socket: no error")
	}
}
