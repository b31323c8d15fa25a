//go:build linux

package engine

import (
	"fmt"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/packet"
	"github.com/r2go/r2/r2/poll"
	"github.com/r2go/r2/r2/store"
)

// sideKey follows a node's name in Thread.fds for its graph.SideFdOwner
// descriptor.
const sideKey = "#side"

// wakerToken is the epoll token of a thread's own eventfd; interface fds use
// their ifindex + 1.
const wakerToken = 0

// idleTimeout bounds a sleep so per-thread housekeeping (neighbour aging,
// rate-limit refills) happens even on an idle router.
const idleTimeout = time.Second

// WarmSlice is a warm thread's longest sleep: under the 10 ms after which
// the Go runtime's sysmon takes the P of a thread in a system call.
const WarmSlice = 4 * time.Millisecond

// warmYieldEvery is how often, at most, a warm thread passes through the Go
// scheduler (warmYield): with 4 ms slices a yield comes every 5-9 ms, under
// the 10 ms after which sysmon preempts a goroutine it has not seen
// scheduled.
const warmYieldEvery = 5 * time.Millisecond

// busyYieldEvery is how long a thread runs without sleeping before it passes
// through the Go scheduler (Config.BusyYield), and then how often: under
// the 10 ms after which sysmon takes it for a goroutine that has run too
// long.
const busyYieldEvery = 5 * time.Millisecond

// quietAfter is how long a thread runs without sleeping before it stops
// its interfaces' descriptors signalling (setQuiet): each frame a kernel
// writes into a watched ring runs the socket's wake-up callbacks with
// interrupts off (with several receive queues twice, through the driver's
// own epoll instance), ~7% of a busy thread's CPU under TCP, where the
// kernel fills R2's rings inside R2's own sends (the ACKs R2 forwards make
// the sender transmit). A busy thread reads every ring each run anyway.
// Short enough to pay off within a burst, long enough that a thread
// waking for a ping or two never pays the epoll_ctl calls.
const quietAfter = time.Millisecond

// ctl is one control message for one thread.
type ctl struct {
	adds     []graph.Node // nodes to add (already cloned for the thread)
	dels     []string     // nodes to remove
	m        msg.Msg      // message for every node
	finalize bool         // re-resolve next nodes afterwards
	fn       func(*Thread)
	stop     bool
	ack      *sync.WaitGroup
}

// Thread is one forwarding thread. Its fields are owned by its goroutine,
// except in (the queue) and waker.
type Thread struct {
	id   int
	cpu  int // -1: not pinned
	busy bool
	// spin is how long the thread keeps polling after its last work before
	// it sleeps: a reply that follows a request within it (a ping, a TCP
	// ACK) is picked up without an epoll wakeup.
	spin   time.Duration
	rtprio int // SCHED_FIFO priority, 0: ordinary
	// warm is how long after its last work the thread sleeps in slices of
	// WarmSlice (Config.Warm).
	warm  time.Duration
	yield bool // Config.WarmYield
	// rawWait: Config.WarmRawWait.
	rawWait bool
	// busyYield: Config.BusyYield.
	busyYield bool
	g         *graph.Graph
	pool      *packet.Pool
	store     *store.Thread
	in        chan ctl
	waker     *poll.Waker
	poller    *poll.Poller
	fds       map[string]int // IfNode name (+sideKey for its side fd) -> registered fd
	// quiet: the nodes' main fds (not side ones) are out of poller and
	// their drivers quiet (setQuiet); quieters are the nodes with fds,
	// by name.
	quiet    bool
	quieters map[string]graph.Quieter
	done     chan struct{}
	logf     func(string, ...any)

	runs, sleeps, rawWaits, yields, busyYields, breaths, quiets uint64
	// c are the thread's activity counters in shared memory, named
	// "Thread/...": they show that an idle thread sleeps (few epoll waits
	// per second) and how many syscalls a busy one makes per packet.
	c threadCounters
}

type threadCounters struct {
	runs, idleRuns, sleeps, wakeups, timeouts, warmSleeps, rawWaits, yields, busyYields, breaths, quiets counters.Counter
}

func newThreadCounters(reg *counters.Registry, thread int) threadCounters {
	c := func(s string) counters.Counter { return reg.Counter(thread, "Thread/"+s) }
	return threadCounters{runs: c("runs"), idleRuns: c("idle_runs"), sleeps: c("epoll_waits"),
		wakeups: c("eventfd_wakeups"), timeouts: c("epoll_timeouts"), warmSleeps: c("warm_sleeps"), rawWaits: c("raw_waits"), yields: c("warm_yields"),
		busyYields: c("busy_yields"), breaths: c("rt_breaths"), quiets: c("quiets")}
}

// ID is the thread's index.
func (t *Thread) ID() int { return t.id }

// Graph is the thread's graph; use it only from inside a function passed to
// Engine.OnThread.
func (t *Thread) Graph() *graph.Graph { return t.g }

// Pool is the thread's packet pool; like Graph, only from OnThread.
func (t *Thread) Pool() *packet.Pool { return t.pool }

func (t *Thread) send(c ctl) {
	t.in <- c
	t.waker.Wake()
}

func (t *Thread) run() {
	defer close(t.done)
	// Never unlocked: the OS thread's CPU affinity and scheduling policy
	// are the forwarding thread's, so it must end with the goroutine (the
	// runtime then terminates it). Unlocked, it went back to the Go
	// scheduler's pool still pinned and SCHED_FIFO, and ran whatever
	// goroutine came next: a spinning scheduler thread at real-time
	// priority starved its CPU (an engine test that followed another took
	// 2 minutes; TestRealTimeBreaths' "ordinary" thread ran at FIFO
	// priority and the forwarding thread breathed 14 times in 600 ms).
	runtime.LockOSThread()
	if t.cpu >= 0 {
		var set unix.CPUSet
		set.Set(t.cpu)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			t.logf("thread %d: pin to cpu %d: %v", t.id, t.cpu, err)
		}
	}
	if t.rtprio > 0 {
		if err := setRealTime(t.rtprio); err != nil {
			t.logf("thread %d: real-time priority %d: %v (running at ordinary priority)", t.id, t.rtprio, err)
			t.rtprio = 0 // an ordinary thread need not breathe
		}
	}
	ready := make([]uint64, 64)
	var lastWork int64
	// lastPkt is when the last run took in packets (warm sleeps).
	var lastPkt int64
	// lastYield is when the thread last went through the Go scheduler
	// (warmYield).
	var lastYield int64
	// awake is when the thread last returned from epoll: how long it
	// has run without sleeping (busyYield).
	awake := t.g.Now()
	// lastBreath is when a real-time thread last slept briefly while
	// busy (breathe).
	var lastBreath int64
	for {
		if t.handle() {
			return
		}
		work, wake := t.g.Run()
		if t.g.Admitted() {
			lastPkt = t.g.Now()
		}
		t.runs++
		t.c.runs.Inc()
		if work || t.busy {
			now := t.g.Now()
			if work {
				lastWork = now
			}
			if t.busyYield && now-max(awake, lastYield) >= int64(busyYieldEvery) {
				t.yieldBusy()
				lastYield = t.g.Now()
			}
			if t.rtprio > 0 {
				every, breath := int64(rtBreathEvery), rtBreather
				if !work && now-lastWork >= int64(rtIdleBreathEvery) {
					every, breath = int64(rtIdleBreathEvery), rtIdleBreather // polling with nothing to do
				}
				if now-max(awake, lastBreath) >= every {
					t.breaths++
					t.c.breaths.Inc()
					breathe(breath)
					lastBreath = t.g.Now()
				}
			}
			if work && !t.quiet && now-awake >= int64(quietAfter) {
				t.setQuiet(true)
			}
			if work {
				continue
			}
		}
		t.c.idleRuns.Inc()
		if t.busy || (t.spin > 0 && t.g.Now()-lastWork < int64(t.spin)) {
			continue
		}
		warm := t.warm > 0 && lastPkt != 0 && t.g.Now()-lastPkt < int64(t.warm)
		if warm && t.yield && t.g.Now()-lastYield >= int64(warmYieldEvery) {
			t.warmYield()
			lastYield = t.g.Now()
			continue
		}
		if t.quiet {
			// Before the check below: a frame that comes after it
			// signals again.
			t.setQuiet(false)
		}
		t.waker.PrepareSleep()
		if len(t.in) > 0 || t.g.Pending() {
			t.waker.CancelSleep()
			continue
		}
		timeout := idleTimeout
		if warm {
			timeout = WarmSlice
			t.c.warmSleeps.Inc()
		}
		if wake >= 0 && time.Duration(wake) < timeout {
			timeout = time.Duration(wake)
		}
		t.sleeps++
		t.c.sleeps.Inc()
		// Cold, an ordinary blocking system call on purpose (README,
		// "The Go runtime on the wake path"): after 10 ms sysmon takes
		// this thread's P and, once every P is idle, sleeps itself, so
		// an idle router costs ~0 CPU. Waking then costs ~20-30 µs of
		// runtime bookkeeping (an idle P taken under sched.lock, sysmon
		// woken). Warm, with rawWait, a wait the runtime does not see
		// skips that for the next packet, for sysmon's preemption
		// every 10 ms (README, "A warm wait the runtime does not see");
		// only while warm, so an idle router still sleeps for nothing.
		var n int
		var err error
		if warm && t.rawWait {
			t.rawWaits++
			t.c.rawWaits.Inc()
			n, err = t.poller.WaitRaw(timeout, ready)
		} else {
			n, err = t.poller.Wait(timeout, ready)
		}
		if err != nil {
			t.logf("thread %d: epoll: %v", t.id, err)
		}
		if n == 0 {
			t.c.timeouts.Inc()
		}
		for _, tok := range ready[:n] {
			if tok == wakerToken {
				t.c.wakeups.Inc()
				t.waker.Drain()
			}
		}
		t.waker.CancelSleep()
		awake = t.g.Now()
	}
}

// warmYield passes the thread's goroutine through the Go scheduler once, so
// its P's schedtick moves. A goroutine locked to its thread never goes
// through the scheduler otherwise: its P's schedtick stays where sysmon
// first saw it, and 10 ms later sysmon takes it for a goroutine that has run
// too long, requests its preemption and takes its P, even while it sleeps in
// epoll_pwait (runtime.retake, forcePreemptNS). Warm slices alone therefore
// kept the P only briefly: the next packet paid the P's return (an idle P
// under sched.lock, sysmon woken) in ~90% of the warm pings' wakeups, and a
// third were switched out before forwarding, mostly for the preemption
// handoff through another M (README, Latency). The Gosched is that handoff
// (two futex wakeups; parked ~0.1 ms, milliseconds when every CPU is
// busy, which is its tail cost), taken when no packet is pending, at most
// every warmYieldEvery. The goroutine stays locked to its OS thread, so
// pinning and priority hold.
func (t *Thread) warmYield() {
	t.yields++
	t.c.yields.Inc()
	runtime.Gosched()
}

// yieldBusy passes a thread that has run for busyYieldEvery without
// sleeping through the Go scheduler (Config.BusyYield), for the reason
// warmYield does: so that sysmon sees its P's schedtick move and neither
// takes the P in its system calls nor preempts it.
func (t *Thread) yieldBusy() {
	t.busyYields++
	t.c.busyYields.Inc()
	runtime.Gosched()
}

// fdToken is the epoll token of a node's fd: anything but wakerToken.
func fdToken(fd int) uint64 { return uint64(fd) + 1 }

// setQuiet takes the nodes' main fds out of the thread's epoll set and
// quiets their drivers (on), or undoes that, in the reverse order, before
// the thread sleeps. Side fds (rare frames: an AF_XDP interface's
// neighbour copies) stay watched. A failure is logged: an fd that could
// not be put back would leave the thread to its idle timeout.
func (t *Thread) setQuiet(on bool) {
	t.quiet = on
	if on {
		t.quiets++
		t.c.quiets.Inc()
	}
	for name, q := range t.quieters {
		fd := t.fds[name]
		var err error
		if on {
			err = t.poller.Del(fd)
			if err == nil && q != nil {
				err = q.Quiet(true)
			}
		} else {
			if q != nil {
				err = q.Quiet(false)
			}
			if err == nil {
				err = t.poller.Add(fd, fdToken(fd))
			}
		}
		if err != nil {
			t.logf("thread %d: %s quiet=%v: %v", t.id, name, on, err)
		}
	}
}

// unquietDriver gives node name's driver back its signals when the thread
// lets go of it (a driver is never handed on quiet); the thread's own
// epoll set is about to drop its fd anyway.
func (t *Thread) unquietDriver(name string) {
	if q := t.quieters[name]; t.quiet && q != nil {
		if err := q.Quiet(false); err != nil {
			t.logf("thread %d: %s quiet=false: %v", t.id, name, err)
		}
	}
}

// handle runs the queued control messages; it reports a stop request.
func (t *Thread) handle() bool {
	for {
		select {
		case c := <-t.in:
			stop := t.apply(c)
			if c.ack != nil {
				c.ack.Done()
			}
			if stop {
				return true
			}
		default:
			return false
		}
	}
}

func (t *Thread) apply(c ctl) bool {
	if t.quiet && len(c.adds) > 0 {
		// Fds are added only while every fd is watched, so none is
		// added twice.
		t.setQuiet(false)
	}
	for _, name := range c.dels {
		t.unquietDriver(name)
		for _, key := range []string{name, name + sideKey} {
			if fd, ok := t.fds[key]; ok {
				t.poller.Del(fd)
				delete(t.fds, key)
			}
		}
		delete(t.quieters, name)
		t.g.Remove(name)
	}
	for _, n := range c.adds {
		if err := t.g.Add(n); err != nil {
			t.logf("thread %d: %v", t.id, err)
			continue
		}
		if o, ok := n.(graph.FdOwner); ok && o.Owner() == t.id && o.PollFd() >= 0 {
			if err := t.poller.Add(o.PollFd(), fdToken(o.PollFd())); err != nil {
				t.logf("thread %d: poll %s: %v", t.id, n.Name(), err)
			} else {
				t.fds[n.Name()] = o.PollFd()
				if q, ok := n.(graph.Quieter); ok {
					t.quieters[n.Name()] = q
				} else {
					t.quieters[n.Name()] = nil
				}
			}
			if so, ok := n.(graph.SideFdOwner); ok && so.SidePollFd() >= 0 {
				if err := t.poller.Add(so.SidePollFd(), fdToken(so.SidePollFd())); err != nil {
					t.logf("thread %d: poll %s (side): %v", t.id, n.Name(), err)
				} else {
					t.fds[n.Name()+sideKey] = so.SidePollFd()
				}
			}
		}
	}
	if c.m != nil {
		if m, ok := c.m.(msg.Store); ok {
			t.store.Swap(m.Snapshot)
		}
		t.g.Control(c.m)
	}
	if c.finalize || len(c.adds) > 0 {
		t.g.Finalize()
	}
	if c.fn != nil {
		c.fn(t)
	}
	if c.stop {
		for name := range t.quieters {
			t.unquietDriver(name)
		}
		for name, fd := range t.fds {
			t.poller.Del(fd)
			delete(t.fds, name)
		}
		clear(t.quieters)
		return true
	}
	return false
}

func (t *Thread) String() string { return fmt.Sprintf("thread %d", t.id) }

// Stats are per-thread activity and pool accounting.
type Stats struct {
	Thread              int
	Runs, Sleeps        uint64
	EpollWaits, Wakeups uint64
	// WarmYields counts the warm thread's passes through the Go
	// scheduler (Config.WarmYield).
	WarmYields uint64
	// RawWaits counts the warm thread's waits the runtime did not see
	// (Config.WarmRawWait).
	RawWaits uint64
	// BusyYields counts the passes of a thread that ran for
	// busyYieldEvery without sleeping (Config.BusyYield).
	BusyYields uint64
	// RTBreaths counts the short sleeps of a real-time thread that ran
	// rtBreathEvery without sleeping, or busy-polled rtIdleBreathEvery
	// with nothing to do (breathe).
	RTBreaths uint64
	// Quiets counts the times the busy thread stopped its interfaces'
	// descriptors signalling (quietAfter).
	Quiets uint64
	// CPU is the CPU time the thread's OS thread has used (user and
	// system), read on the thread itself: whether an idle thread sleeps
	// shows here, whatever its counters say.
	CPU  time.Duration
	Pool packet.Stats
	// Big is the accounting of the thread's pool of big packets (zero
	// if it has none).
	Big packet.Stats
}

// Stats reads every thread's activity (on the threads themselves).
func (e *Engine) Stats() []Stats {
	out := make([]Stats, len(e.threads))
	for i := range e.threads {
		e.OnThread(i, func(t *Thread) {
			t.pool.Reclaim()
			var ts unix.Timespec
			// The goroutine is locked to its thread, so the thread
			// clock is this forwarding thread's alone.
			_ = unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
			out[i] = Stats{Thread: i, Runs: t.runs, Sleeps: t.sleeps, EpollWaits: t.poller.Waits(),
				Wakeups: t.waker.Writes(), WarmYields: t.yields, RawWaits: t.rawWaits, BusyYields: t.busyYields, RTBreaths: t.breaths, Quiets: t.quiets, CPU: time.Duration(ts.Nano()), Pool: t.pool.Stats()}
			if b := t.pool.Big(); b != nil {
				b.Reclaim()
				out[i].Big = b.Stats()
			}
		})
	}
	return out
}
