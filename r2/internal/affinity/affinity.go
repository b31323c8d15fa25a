//go:build linux

// Package affinity pins a whole process's threads to a set of CPUs, so that
// the Go runtime's threads (the API's goroutines, the garbage collector,
// route loads) keep off the CPUs that forwarding threads were given, as
// VPP keeps its main thread on a core of its own.
//
// A new thread inherits the CPU mask of the thread that creates it, and
// the Go runtime never creates one from a thread locked with
// runtime.LockOSThread (it asks its template thread instead), so once
// every thread of the process is pinned, every thread it will have is,
// except those that pin themselves afterwards: the forwarding threads.
package affinity

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// passes bounds PinProcess's sweeps: threads created during one are
// caught by the next, and the runtime creates a handful at most.
const passes = 10

// PinProcess sets the CPU mask of every thread of the calling process to
// cpus. It refuses, changing nothing, a CPU the calling thread may not use
// (offline, absent, or outside the mask the process was started with);
// on a later error masks already set stay so: the caller reports the
// error and exits.
func PinProcess(cpus []int) error {
	if len(cpus) == 0 {
		return fmt.Errorf("affinity: no CPUs")
	}
	var allowed, want unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil {
		return fmt.Errorf("affinity: %w", err)
	}
	for _, c := range cpus {
		if c < 0 || c >= len(want)*64 || !allowed.IsSet(c) {
			return fmt.Errorf("affinity: CPU %d is not one this process may use (%s)", c, List(&allowed))
		}
		want.Set(c)
	}
	for range passes {
		tids, err := Threads()
		if err != nil {
			return err
		}
		changed := 0
		for _, tid := range tids {
			var cur unix.CPUSet
			if err := unix.SchedGetaffinity(tid, &cur); err != nil {
				if err == unix.ESRCH {
					continue // the thread has exited
				}
				return fmt.Errorf("affinity: thread %d: %w", tid, err)
			}
			if cur == want {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &want); err != nil {
				if err == unix.ESRCH {
					continue
				}
				return fmt.Errorf("affinity: pin thread %d to CPUs %v: %w", tid, cpus, err)
			}
			changed++
		}
		if changed == 0 {
			return nil
		}
	}
	return fmt.Errorf("affinity: threads kept appearing unpinned after %d passes", passes)
}

// Threads lists the thread IDs of the calling process.
func Threads() ([]int, error) {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, fmt.Errorf("affinity: %w", err)
	}
	tids := make([]int, 0, len(ents))
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

// List writes set as the kernel's CPU lists read ("0-3,6").
func List(set *unix.CPUSet) string {
	var b strings.Builder
	for c := 0; c < len(set)*64; c++ {
		if !set.IsSet(c) || (c > 0 && set.IsSet(c-1)) {
			continue
		}
		end := c
		for end+1 < len(set)*64 && set.IsSet(end+1) {
			end++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		if end == c {
			fmt.Fprintf(&b, "%d", c)
		} else {
			fmt.Fprintf(&b, "%d-%d", c, end)
		}
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}
