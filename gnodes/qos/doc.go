// Package qos is the QoS node: HFSC scheduling (r2/sched/hfsc) of one
// output interface, with a classifier that maps packets to leaf classes.
//
// Every interface has a QoS node in every thread's graph, but it is on the
// packet path only while the interface has a QoS configuration with a
// default class: the router then inserts it in front of IfNode<o>
// (graph.Intercept), so EtherEncap<o> (and EtherDecap<o>'s ARP replies)
// push to it instead of IfNode<o>. An interface without QoS pays nothing
// per packet.
//
// The scheduler is owned by the interface's owner thread, like the
// driver. On other threads the node hands packets to the owner through a
// bounded lock-free MPSC ring shared by all clones (the scheme IfNode uses
// for Tx) and wakes it. The owner classifies what arrives in its vector and
// in the ring, queues each packet in its leaf, releases what the scheduler
// allows to IfNode<o>, and when packets stay queued asks the thread to run
// it again at the scheduler's next event (Dispatch.WakeIn): the thread
// sleeps in epoll until then, with no spinning. Putting the scheduler here
// rather than inside IfNode keeps IfNode unchanged and QoS-free interfaces
// off the extra hop; the price is a second handoff ring for interfaces
// with QoS, used only by packets routed on other threads.
//
// Configuration is a fwd.QoS, immutable, built by the control side and
// sent as msg.QoS. The owner reconciles its scheduler with it: classes that
// stay keep their queues and curve state, changed ones are changed in
// place, deleted ones are freed with their packets (counted in the class's
// drops and in QoS:<if>/deleted), and a new link rate starts a new
// scheduler.
//
// Counters (shared memory, per thread): QoS:<if>/sent, /unmatched (packets
// no rule matched, sent to the default class), /no_class, /deleted,
// /handoff, /handoff_full, /late_1ms and /late_10ms (timer wakeups that
// came that much after the scheduler's event: a user-space shaper keeps
// time only if its thread gets the CPU); per class
// QoS:<if>/class/<name>/enq and /drops; per rule QoS:<if>/rule/<prio>
// (packets and bytes matched).
package qos
