package engine

import "golang.org/x/sys/unix"

// setRealTime puts the calling OS thread under SCHED_FIFO at priority
// prio (1..99). Only this thread: the Go runtime's other threads (the API,
// the garbage collector's workers) stay ordinary.
func setRealTime(prio int) error {
	return unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: uint32(prio)}, 0)
}

// schedPolicy returns the calling OS thread's scheduling policy and
// priority.
func schedPolicy() (policy, prio int, err error) {
	a, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		return 0, 0, err
	}
	return int(a.Policy), int(a.Priority), nil
}
