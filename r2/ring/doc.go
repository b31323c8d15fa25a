// Package ring provides the bounded, lock-free queues that carry work between
// R2 threads: packets handed from one forwarding thread to another, packets
// freed on a foreign thread returning to their owner's pool, and control
// messages sent to a forwarding thread.
//
// MPSC is a multi-producer, single-consumer ring after Dmitry Vyukov's
// bounded queue. Every slot carries a sequence number that says whose turn
// the slot is:
//
//	seq == pos          slot is free for the producer claiming position pos
//	seq == pos+1        slot holds the element enqueued at pos (consumer's turn)
//	seq == pos+capacity slot was consumed and is free for the next lap
//
// Producers claim a position with one CAS on the shared tail, write the
// element, then publish it by storing seq = pos+1. The consumer owns the head
// and needs no CAS: it loads the slot's sequence, reads the element, clears
// the slot and hands it back with seq = pos+capacity. The sequence store and
// load are the only synchronisation between a producer and the consumer, so
// the element write happens-before its read (and the race detector sees it).
//
// Enqueue never blocks: when the ring is full it returns false and the caller
// drops and counts, as every R2 queue does. A producer preempted between its
// claim and its publish delays the consumer at that slot (Dequeue reports
// empty until the element is published); it never blocks other producers.
//
// Nothing here allocates after construction, and the producer tail and the
// consumer head live on separate cache lines so producers and the consumer do
// not invalidate each other's index on every operation.
package ring
