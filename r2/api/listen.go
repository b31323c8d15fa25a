package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// unixSocket is the server's Unix socket and the identity of the file it
// created, so that Close removes that file and never a successor's.
type unixSocket struct {
	ln   *net.UnixListener
	path string
	fi   os.FileInfo // the socket file as created
}

// listenUnix listens on path with mode 0600. The directory is created (0755)
// if missing. A socket file already at path is removed if it is stale
// (nothing accepts on it); if another server answers there, listenUnix
// refuses to start.
//
// The socket is bound under a temporary name in a private (0700) directory,
// chmod'ed, and only then linked to path, so it is never reachable with
// looser permissions, and link(2) fails rather than replace a socket another
// instance put there in the meantime.
func listenUnix(path string) (*unixSocket, error) {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("api: create socket directory: %w", err)
		}
		// MkdirAll applies the umask; utilities must be able to reach the
		// socket (which has its own, strict, mode).
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, fmt.Errorf("api: create socket directory: %w", err)
		}
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	tmpDir, err := os.MkdirTemp(dir, ".r2api-")
	if err != nil {
		return nil, fmt.Errorf("api: create socket: %w", err)
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("api: listen on %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(false) // the temporary name goes with tmpDir; path is ours to remove
	fail := func(err error) (*unixSocket, error) {
		ln.Close()
		return nil, err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fail(fmt.Errorf("api: chmod socket: %w", err))
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fail(fmt.Errorf("api: %s appeared while starting: is another r2 instance starting?", path))
		}
		return fail(fmt.Errorf("api: create socket %s: %w", path, err))
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fail(fmt.Errorf("api: socket %s: %w", path, err))
	}
	return &unixSocket{ln: ln, path: path, fi: fi}, nil
}

// removeStale removes the socket at path if nothing listens on it.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("api: socket %s: %w", path, err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("api: %s exists and is not a socket; refusing to remove it", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("api: another r2 instance is serving on %s; refusing to start (pick another instance name)", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("api: cannot tell whether %s is in use: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("api: remove stale socket %s: %w", path, err)
	}
	return nil
}

// remove deletes the socket file if it is still the one this server made.
func (u *unixSocket) remove() error {
	fi, err := os.Lstat(u.path)
	if err != nil || !os.SameFile(fi, u.fi) {
		return nil // already gone, or another instance's now
	}
	if err := os.Remove(u.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("api: remove socket %s: %w", u.path, err)
	}
	return nil
}

// listenTCP listens on addr, which must be a loopback address unless
// allowRemote is set.
func listenTCP(addr string, allowRemote bool) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("api: bad TCP address %q: %w", addr, err)
	}
	if !allowRemote {
		if host == "" {
			return nil, fmt.Errorf("api: TCP address %q listens on all addresses; give a loopback address such as 127.0.0.1 (or allow remote access explicitly)", addr)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("api: TCP address %q: %w", addr, err)
		}
		for _, ip := range ips {
			if !ip.IP.IsLoopback() {
				return nil, fmt.Errorf("api: TCP address %q is not a loopback address (%s); refusing to expose the API without allowing remote access explicitly", addr, ip.IP)
			}
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("api: listen on %s: %w", addr, err)
	}
	if ta, ok := ln.Addr().(*net.TCPAddr); ok && !allowRemote && !ta.IP.IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("api: TCP listener bound to %s, not a loopback address", ta)
	}
	return ln, nil
}
