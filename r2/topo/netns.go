//go:build linux

package topo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netnsDir is where named namespaces are bind-mounted, as by `ip netns add`
// and netns.NewNamed.
const netnsDir = "/run/netns"

// inNS runs fn on a dedicated OS thread switched into ns, and switches the
// thread back afterwards. If the thread cannot be switched back it is not
// unlocked, so the Go runtime destroys it when the goroutine exits and no
// other goroutine ever runs in the wrong namespace.
func inNS(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("get current netns: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			// setns failed, so the thread is still where it was.
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter netns: %w", err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			// Leave the thread locked: it dies with this goroutine.
			errc <- errors.Join(ferr, fmt.Errorf("restore netns: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// newNamedNS creates the network namespace name, bind-mounted at
// /run/netns/name, and returns an open handle to it. It fails if the name is
// taken, so it never adopts a namespace it did not create.
func newNamedNS(name string) (netns.NsHandle, error) {
	type result struct {
		h   netns.NsHandle
		err error
	}
	resc := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			resc <- result{netns.None(), fmt.Errorf("get current netns: %w", err)}
			return
		}
		defer orig.Close()
		// NewNamed unshares this thread into the new namespace.
		h, err := netns.NewNamed(name)
		if rerr := netns.Set(orig); rerr != nil {
			// Leave the thread locked: it dies with this goroutine.
			if err == nil {
				h.Close()
				_ = deleteNamedNS(name)
			}
			resc <- result{netns.None(), fmt.Errorf("restore netns: %w", rerr)}
			return
		}
		runtime.UnlockOSThread()
		if err != nil {
			resc <- result{netns.None(), fmt.Errorf("create netns %s: %w", name, err)}
			return
		}
		resc <- result{h, nil}
	}()
	r := <-resc
	return r.h, r.err
}

// deleteNamedNS removes the bind mount /run/netns/name and its file. The
// namespace itself goes away once nothing else (process, open handle)
// references it. A name that does not exist is not an error.
func deleteNamedNS(name string) error {
	p := filepath.Join(netnsDir, name)
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	// EINVAL: not a mount point (a stale file left by an interrupted run).
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", p, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	return nil
}

// namedNSExists reports whether /run/netns/name exists.
func namedNSExists(name string) bool {
	_, err := os.Lstat(filepath.Join(netnsDir, name))
	return err == nil
}

// sysctl is one /proc/sys/net setting, Key relative to /proc/sys
// (for example "net/ipv6/conf/all/disable_ipv6").
type sysctl struct {
	Key, Value string
}

// writeSysctls writes the settings inside ns. /proc/sys/net resolves to the
// namespace of the thread that opens the file, so this must (and does) run on
// a thread switched into ns.
func writeSysctls(ns netns.NsHandle, settings []sysctl) error {
	return inNS(ns, func() error {
		for _, s := range settings {
			p := filepath.Join("/proc/sys", s.Key)
			if err := os.WriteFile(p, []byte(s.Value), 0o644); err != nil {
				return fmt.Errorf("sysctl %s=%s: %w", s.Key, s.Value, err)
			}
		}
		return nil
	})
}
