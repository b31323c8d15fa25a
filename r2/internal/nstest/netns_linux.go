//go:build linux

package nstest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/vishvananda/netns"
)

// NeedRoot skips t unless the test runs as root (namespaces, veth and
// AF_PACKET need CAP_NET_ADMIN and CAP_SYS_ADMIN).
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and veth interfaces")
	}
}

// UniquePrefix returns tag and 6 random hex digits. With a tag of 4
// characters, the names made of it (prefix plus a letter and a few digits)
// are unique per run and fit IFNAMSIZ.
func UniquePrefix(tag string) string {
	var b [3]byte
	rand.Read(b[:])
	return tag + hex.EncodeToString(b[:])
}

// onThread runs fn on a locked OS thread of a goroutine of its own, which
// fn may switch into another namespace, and switches the thread back to
// the namespace it started in. A thread that cannot be switched back stays
// locked and dies with its goroutine, so no other goroutine ever runs in
// the wrong namespace.
func onThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("restore netns: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// InNS runs fn on a locked OS thread switched into ns and switches it back.
// A thread that cannot be switched back stays locked and dies with its
// goroutine, so no other goroutine ever runs in the wrong namespace.
func InNS(ns netns.NsHandle, fn func() error) error {
	return onThread(func() error {
		if err := netns.Set(ns); err != nil {
			return err
		}
		return fn()
	})
}

// NewNamedNS creates the named namespace (in /run/netns, so `ip netns exec`
// works) and registers with t the closing of the handle it returns and the
// removal of the namespace, which run even if t fails.
func NewNamedNS(t testing.TB, name string) netns.NsHandle {
	t.Helper()
	h := netns.None()
	err := onThread(func() error {
		// NewNamed switches the thread into the new namespace.
		var err error
		h, err = netns.NewNamed(name)
		return err
	})
	t.Cleanup(func() {
		if h.IsOpen() {
			h.Close()
		}
		if _, err := os.Lstat(filepath.Join("/run/netns", name)); err != nil {
			return // never created
		}
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})
	if err != nil {
		t.Fatalf("create netns %s: %v", name, err)
	}
	return h
}

// DisableIPv6 turns IPv6 off in ns, on the interfaces it has and on those
// created later, so that no router solicitation or DAD probe crosses its
// links.
func DisableIPv6(ns netns.NsHandle) error {
	return InNS(ns, func() error {
		for _, k := range []string{"all", "default"} {
			p := filepath.Join("/proc/sys/net/ipv6/conf", k, "disable_ipv6")
			if err := os.WriteFile(p, []byte("1"), 0o644); err != nil {
				return err
			}
		}
		return nil
	})
}
