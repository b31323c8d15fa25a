// Package hfsc is a Hierarchical Fair Service Curve scheduler (Stoica,
// Zhang and Ng, SIGCOMM 1997) for one outgoing link: a tree of classes,
// items queued at the leaves, and a Dequeue that decides which item goes
// next and when. It uses only the standard library and is generic over the
// queued item, so the forwarding path can queue packets and the tests can
// queue plain structs.
//
// # Service curves
//
// A Curve says how much service a class is promised over time once it has
// something to send: M1 bits/s during the first D, then M2 bits/s. With
// M1 > M2 (concave) a class gets its first bytes out quickly without being
// promised a high rate for long, so delay and bandwidth are chosen
// separately: a voice class can ask for 4 Mbit/s over 5 ms and 500 kbit/s
// after that. M1 < M2 (convex) delays a burst's start. A class has up to
// three curves: real-time (RT, leaves only), link-sharing (LS) and upper
// limit (UL).
//
// A curve describes service from the start of a backlog period, so the
// scheduler keeps for each class a runtime curve in the plane (time,
// cumulative bytes). When a class becomes backlogged again at time t
// having received y bytes, the service curve placed at (t, y) is combined
// with the runtime curve it had: the new one is the lower of the two from t
// on. A class that paused only briefly therefore gets no fresh burst, and
// one that paused long enough gets all of it. For a concave curve the lower
// envelope is again a two-piece curve (computed exactly); for a convex one
// it may need three pieces, and the lower of the two at t is kept instead
// (for upper limits, a curve below both).
//
// # Two criteria
//
// Real-time. Each backlogged RT leaf has a deadline curve (its RT runtime
// curve) and an eligible curve, and counts the bytes the real-time
// criterion has sent for it. The head item's deadline is when the deadline
// curve reaches those bytes plus the item; its eligible time is when the
// eligible curve reaches the bytes already sent. Among the eligible leaves
// the one with the earliest deadline goes first. If the RT curves together
// stay within the link rate, every item leaves by its deadline plus the
// time of one maximum-size item already on the wire. The eligible time
// keeps the real-time criterion from running ahead of the curves: the
// eligible curve is the deadline curve for a concave curve and, for a
// convex one, a line of slope M2 (sending ahead of the slow first piece
// cannot hurt another class's guarantee).
//
// Link-sharing. Whenever no RT leaf is eligible, the link is shared by
// walking the tree from the root: at each level the active child (one with
// a backlogged LS leaf below) with the smallest virtual time is taken. A
// class's virtual time is where its LS runtime curve, drawn against virtual
// time, reaches the bytes the class has received by either criterion. So
// saturated siblings receive service in the ratio of their LS curves, at
// every level of the hierarchy, and a class already served by its RT curve
// gets correspondingly less link-sharing. Virtual times are compared among
// siblings only. A class becoming active takes the virtual time halfway
// between the last one served and the largest active one among its
// siblings (never less than its own within the same backlog period of the
// parent), and the first active child of a parent starts again from 0.
//
// Why both: a single criterion cannot give every leaf its curve and every
// interior class its share at all times (the paper shows the two goals
// conflict). Real-time guarantees for leaves come first; link-sharing
// distributes whatever they leave, which is most of the time all of it.
//
// Upper limits. A class with a UL curve may be chosen by link-sharing only
// once its UL runtime curve allows the bytes it already has (its fit time;
// an interior class also waits until one of its children fits). Real-time
// service is a guarantee and is not limited. A class held back by busier
// siblings for more than a slack (1 ms; SetULSlack) loses the excess: it
// does not burst above its limit later to make up for it.
//
// # The link
//
// The scheduler paces the link itself: Dequeue releases an item only when
// the previous ones have had time to leave at the link rate (SetLinkQueue
// allows the device's own queue to hold some), and NextEvent says when to
// call again: when the link frees up, an RT leaf becomes eligible or an
// upper limit allows service. The owner thread can sleep until then. The
// scheduler never reads a clock: every call takes now, nanoseconds of the
// caller's monotonic clock, and time never goes back (an older now counts
// as the latest one seen).
//
// # Implementation
//
// Curves are kept in integers, time in nanoseconds and service in bytes,
// and computed exactly: bytes are ns × bits/s / 8e9 rounded down, times are
// bytes × 8e9 / (bits/s) rounded up, through 128-bit intermediates
// (math/bits). So any 64-bit rate works over any uptime an int64 of
// nanoseconds holds (292 years; a result that would not fit saturates), and
// rounding never accumulates: a curve is always evaluated from its origin.
//
// Eligible RT leaves are in a heap by deadline and the others in a heap by
// eligible time; each interior class keeps its active children in a heap
// by virtual time (those within their limits), a heap by fit time (the
// others) and a heap by the largest virtual time. Classes move from the
// waiting heaps as time passes, so each Enqueue and Dequeue costs
// O(depth × log(children)). The heaps are index-based with room reserved
// when classes are added, and each leaf's queue is a ring sized by its
// limit, so Enqueue and Dequeue never allocate.
//
// Configuration is validated before anything changes: unknown parents,
// duplicate names, children of leaves, queues on interior classes, RT on
// interior classes, interior classes without LS, UL without LS, leaves
// without curves; RT curves whose M1s or whose M2s sum above the link rate;
// and LS curves of a parent's children that sum above the parent's LS
// curve (the link rate for the root) at any instant. The last is refused
// rather than warned about: a promise the parent cannot keep is a
// configuration error.
//
// # Thread contract
//
// A Sched belongs to one thread, the owner of its interface: Enqueue,
// Dequeue, NextEvent and the configuration methods are all called from it,
// with no locks. Other threads hand items and configuration changes over
// through that thread's queues.
//
// # Differences from Linux sch_hfsc
//
//   - The link rate is explicit and the scheduler paces it, instead of being
//     pulled by the device whenever it can send; NextEvent replaces the
//     qdisc watchdog.
//   - Leaves hold a FIFO ring of items with a packet limit, not a child qdisc;
//     there is no default class (the caller classifies).
//   - The eligible leaf with the earliest deadline and the first child within
//     its upper limit are found through heaps in O(log n), not by walking a
//     tree of candidates in order.
//   - Virtual times restart from 0 at each backlog period of a parent rather
//     than carrying offsets from period to period.
//   - Upper-limit curves are combined conservatively when convex, and a class
//     far behind its upper limit loses the excess (Linux leaves the class
//     free to catch up).
//   - Time is integer nanoseconds from the caller and curves are evaluated
//     exactly with 128-bit intermediates, rather than a scaled clock with
//     fixed-point slopes and precomputed inverses.
//   - RT curves on interior classes, UL without LS and curve sums the link or
//     parent cannot honour are refused rather than accepted.
package hfsc
