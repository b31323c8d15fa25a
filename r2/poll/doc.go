// Package poll lets a forwarding thread sleep without burning a core and be
// woken cheaply by other threads.
//
// Each forwarding thread owns one Poller (an epoll set) holding its Waker's
// eventfd and the fds of the interfaces it polls. Other threads, and the
// control side, hand it work through lock-free rings (package r2/ring) and
// then call Wake. Wake only writes the eventfd when the owner has announced
// that it may be going to sleep, so a busy owner costs producers one atomic
// load and no syscall; this is the scheme of OpenPerf's event queues, where
// the eventfd is written only when the reader is idle.
//
// # Lost-wakeup-free protocol
//
// The owner thread runs:
//
//	for {
//		if pollQueuesAndDrivers() { continue } // busy: no atomics beyond the rings'
//		w.PrepareSleep()                       // 1. idle = 1 (sequentially consistent)
//		if queuesHaveWork() {                  // 2. re-check every queue fed by Wake
//			w.CancelSleep()                    // 3a. found work: idle = 0, loop
//			continue
//		}
//		p.Wait(timeout, ready)                 // 3b. sleep until an fd or the Waker is ready
//		w.Drain()                              // 4. reset the eventfd (non-blocking)
//		w.CancelSleep()                        // 5. idle = 0, then process
//	}
//
// and every producer runs:
//
//	ring.Enqueue(item)                         // A. publish the work
//	w.Wake()                                   // B. if idle == 1: idle = 0, write eventfd
//
// Why no wakeup is lost: the owner's store of idle=1 (1) precedes its
// re-check (2), and a producer's enqueue (A) precedes its load of idle (B).
// All four are sequentially consistent atomics, so in their single total
// order either A comes before the re-check, and the owner sees the work in
// step 2, or B comes after step 1, and the producer sees idle == 1 and writes
// the eventfd, which makes Wait in step 3b return at once. The re-check in
// step 2 is what makes this work; sleeping straight after PrepareSleep can
// lose a wakeup.
//
// Wake clears idle with a swap, so the first producer to see an idle owner
// writes the eventfd and the others skip the syscall: the owner is already
// being woken, and after step 5 it drains every queue before it can sleep
// again. A producer that sees idle == 0 is therefore always safe: either the
// owner has not yet reached step 1 of its next sleep, so its re-check will
// see the work, or another producer's write is on its way.
//
// Spurious wakeups are possible and harmless: if a producer writes the
// eventfd after the owner's re-check already found work (3a), the eventfd
// stays readable and the next Wait returns at once; Drain then resets it.
// Wait may also return 0 ready before its timeout, because Go preempts
// threads with signals and an interrupted epoll_wait reports nothing. The
// loop above simply polls again, so neither case needs special handling;
// code must not read "Wait returned 0" as "the timeout expired".
//
// The eventfd is level-triggered in the epoll set, so Drain must be called
// after every Wait that may have been woken by it; otherwise Wait keeps
// returning immediately.
//
// The package builds everywhere but only works on Linux; elsewhere the
// constructors return ErrUnsupported.
package poll
