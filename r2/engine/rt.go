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

// rtIdleBreathEvery and rtIdleBreather: a busy-polling real-time thread
// that has found no work for rtIdleBreathEvery sleeps rtIdleBreather, and
// again every rtIdleBreathEvery while it stays idle. Nothing waits for it
// then but what else wants its CPU (the ping process the kernel woke
// there to take a reply R2 just forwarded, ksoftirqd), which a breath
// every 2 ms left waiting: idle ping p99 3.6-7.5 ms with busy polling and
// rt_priority. Short breaths, often: 50 us every 250 us took the median
// from 61 to 77 us (a packet meeting a breath waits for its end), 20 us
// every 250 us gave 49 against 65 and p99 108 against 139 us (README, "A
// real-time thread breathes").
const (
	rtIdleBreathEvery = 250 * time.Microsecond
	rtIdleBreather    = 20 * time.Microsecond
)

// breathe sleeps d in the kernel (an hrtimer, not the Go runtime's
// timers), leaving the CPU to whatever else is runnable there.
func breathe(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
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
