//go:build linux

package nstest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/vishvananda/netns"

	"github.com/r2go/r2/r2/internal/netnsx"
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

// InNS runs fn on a locked OS thread switched into ns and switches it back
// (see r2/internal/netnsx).
func InNS(ns netns.NsHandle, fn func() error) error { return netnsx.InNS(ns, fn) }

// NewNamedNS creates the named namespace (in /run/netns, so `ip netns exec`
// works) and registers with t the closing of the handle it returns and the
// removal of the namespace, which run even if t fails.
func NewNamedNS(t testing.TB, name string) netns.NsHandle {
	t.Helper()
	h, err := netnsx.NewNamed(name)
	t.Cleanup(func() {
		if h.IsOpen() {
			h.Close()
		}
		if err := netnsx.Delete(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})
	if err != nil {
		t.Fatal(err)
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
