//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// cleaner holds what must be undone however the run ends: daemons and
// generators to stop, topologies and temporary files to remove. Functions
// run in reverse order of registration, each at most once.
type cleaner struct {
	mu   sync.Mutex
	next int
	fns  map[int]func()
	keys []int
}

func newCleaner() *cleaner { return &cleaner{fns: map[int]func(){}} }

// add registers fn and returns a function that runs it now (if it has not
// run yet) and forgets it.
func (c *cleaner) add(fn func()) (done func()) {
	c.mu.Lock()
	k := c.next
	c.next++
	c.fns[k] = fn
	c.keys = append(c.keys, k)
	c.mu.Unlock()
	return func() { c.take(k) }
}

// take runs and forgets the function registered under k, if still there.
func (c *cleaner) take(k int) {
	c.mu.Lock()
	fn, ok := c.fns[k]
	delete(c.fns, k)
	c.mu.Unlock()
	if ok {
		fn()
	}
}

// runAll runs every registered function, newest first.
func (c *cleaner) runAll() {
	c.mu.Lock()
	keys := append([]int(nil), c.keys...)
	c.keys = nil
	c.mu.Unlock()
	for i := len(keys) - 1; i >= 0; i-- {
		c.take(keys[i])
	}
}

// handleSignals makes SIGINT and SIGTERM cancel the run, undo everything
// registered and exit (130 or 143). It returns a function that stops
// handling them.
func (c *cleaner) handleSignals(cancel context.CancelFunc, stderr io.Writer) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	quit := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			fmt.Fprintf(stderr, "\nr2bench: %v: cleaning up\n", s)
			cancel()
			c.runAll()
			code := 130
			if s == syscall.SIGTERM {
				code = 143
			}
			os.Exit(code)
		case <-quit:
		}
	}()
	return func() {
		signal.Stop(ch)
		close(quit)
	}
}

// spawner starts child processes from one OS thread that lives as long as
// the process, so that their parent-death signal (Pdeathsig, which the
// kernel ties to the creating thread) fires only when r2bench itself dies,
// even by SIGKILL, and never because the Go runtime retired a thread.
var spawner = struct {
	once sync.Once
	reqs chan func()
}{reqs: make(chan func())}

// startChild starts cmd in its own process group, with sig as its
// parent-death signal.
func startChild(cmd *exec.Cmd, sig syscall.Signal) error {
	spawner.once.Do(func() {
		go func() {
			runtime.LockOSThread() // never unlocked: this thread stays
			for fn := range spawner.reqs {
				fn()
			}
		}()
	})
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = sig
	errc := make(chan error, 1)
	spawner.reqs <- func() { errc <- cmd.Start() }
	return <-errc
}

// child is a started process whose end can be awaited more than once.
type child struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// spawn starts cmd (see startChild) and waits for it in the background.
func spawn(cmd *exec.Cmd, sig syscall.Signal) (*child, error) {
	if err := startChild(cmd, sig); err != nil {
		return nil, err
	}
	ch := &child{cmd: cmd, done: make(chan struct{})}
	go func() {
		ch.err = cmd.Wait()
		close(ch.done)
	}()
	return ch, nil
}

// exited reports whether the process has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// wait waits up to d for the process to end; it reports whether it did.
func (c *child) wait(d time.Duration) bool {
	select {
	case <-c.done:
		return true
	case <-time.After(d):
		return false
	}
}

// stop sends sig to the process group, waits up to grace, then kills the
// group. It returns the process's exit error.
func (c *child) stop(sig syscall.Signal, grace time.Duration) error {
	if c.exited() {
		return c.err
	}
	pgid := c.cmd.Process.Pid
	_ = syscall.Kill(-pgid, sig)
	if !c.wait(grace) {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-c.done
	}
	return c.err
}
