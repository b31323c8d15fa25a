//go:build linux

package netnsx

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

// Dir is where named namespaces are bind-mounted, as by `ip netns add`.
const Dir = "/run/netns"

// onThread runs fn on a locked OS thread of a goroutine of its own, which
// fn may switch into another namespace, and switches the thread back to the
// namespace it started in.
func onThread(fn func() error) error {
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

// InNS runs fn on a locked OS thread switched into ns.
func InNS(ns netns.NsHandle, fn func() error) error {
	return onThread(func() error {
		if err := netns.Set(ns); err != nil {
			return fmt.Errorf("enter netns: %w", err)
		}
		return fn()
	})
}

// NewNamed creates the network namespace name, bind-mounted at Dir/name so
// that `ip netns exec` works, and returns an open handle to it. It fails if
// the name is taken, so it never adopts a namespace it did not create.
func NewNamed(name string) (netns.NsHandle, error) {
	h := netns.None()
	err := onThread(func() error {
		// NewNamed unshares this thread into the new namespace.
		var err error
		h, err = netns.NewNamed(name)
		return err
	})
	if err != nil {
		if h.IsOpen() {
			// Created, but the thread could not be switched back.
			h.Close()
			_ = Delete(name)
		}
		return netns.None(), fmt.Errorf("create netns %s: %w", name, err)
	}
	return h, nil
}

// Delete removes the bind mount Dir/name and its file. The namespace itself
// goes away once nothing else (process, open handle) references it. A name
// that does not exist is not an error.
func Delete(name string) error {
	p := filepath.Join(Dir, name)
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

// Exists reports whether Dir/name exists.
func Exists(name string) bool {
	_, err := os.Lstat(filepath.Join(Dir, name))
	return err == nil
}
