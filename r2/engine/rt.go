package engine

import (
	"time"

	"golang.org/x/sys/unix"
)

// rtBreather is how long a real-time thread sleeps once it has run
// rtBreathEvery without sleeping, and then every rtBreathEvery while it
// stays busy. While a SCHED_FIFO thread runs, nothing of the ordinary
// scheduler runs on its CPU: not ksoftirqd, which takes over the receive
// work that a burst of R2's own sends raises beyond what the kernel does
// inline (on a veth, the frames for the peer and the replies coming back
// through it), nor Go's other threads. Only what the kernel lends ordinary
// tasks beside real-time ones (RT throttling, or 6.12's fair server: 50 ms
// a second by default) would let them in, so under a flood a ping's reply
// waited milliseconds (p99 9-12 ms measured; README, "A real-time thread
// breathes").
const rtBreather = 50 * time.Microsecond

// rtBreathEvery is how long a real-time thread runs without sleeping
// before it breathes, and then how often.
const rtBreathEvery = 2 * time.Millisecond

// breathe sleeps rtBreather in the kernel (an hrtimer, not the Go
// runtime's timers), leaving the CPU to whatever else is runnable there.
func breathe() {
	ts := unix.NsecToTimespec(int64(rtBreather))
	_ = unix.Nanosleep(&ts, nil) // interrupted early: a shorter breath
}

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
