package driver

import (
	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/packet"
)

// RxRings is an interface's set of receive rings as RxSched serves them:
// AF_PACKET's fanout sockets, AF_XDP's sockets of one queue. Owner
// thread only.
type RxRings interface {
	// RecvRing takes up to len(pkts) frames from ring i, in order, into
	// pkts, and returns how many it took.
	RecvRing(i int, pool *packet.Pool, pkts []*packet.Packet) int
	// RingPending reports whether ring i has a frame now.
	RingPending(i int) bool
}

// RxSched serves several receive rings of one interface by deficit round
// robin, as a NIC driver polls its RSS queues: each ring in turn gives up
// to a quantum of len(pkts)/K frames, and a ring whose turn the end of a
// batch cut short finishes it first at the next call. A ring whose recent
// visits emptied it is light (a ping, TCP acknowledgements) and is served
// before the round robin, its frames tagged packet.MetaSparse when the
// visit took few of them, so that a light flow's frame leads the batch
// instead of following a flood's quantum (fq_codel serves sparse flows
// first). Every frame is tagged with its ring (packet.MetaRxQueueMask), so
// that the output keeps each ring's frames in order (IfNode).
//
// The zero value serves no ring; make it with NewRxSched. Owner thread
// only.
type RxSched struct {
	// stands is, per ring, a moving average (weight 1/8, scaled by 64)
	// of the visits that took all the frames they asked for, so the
	// ring may have held more: a flood's ring stands at nearly every
	// visit, a light flow's ring is emptied at each.
	stands  []int
	next    int // the ring whose turn it is
	deficit int // what is left of its turn; 0: a fresh turn
	// frames counts, per ring, the frames taken from it
	// (SetRingCounters); nil: not counted.
	frames []counters.Counter
}

// SetRingCounters makes Recv count the frames it takes from each ring in
// cs[i] (DrvRxRing), so an operator sees how flows spread over the rings
// (a light flow hashed onto a flood's ring waits behind it, as with a
// NIC's RSS queues). Ignored unless there is a valid counter for every
// ring and more than one ring.
func (s *RxSched) SetRingCounters(cs []counters.Counter) {
	if len(s.stands) < 2 || len(cs) != len(s.stands) {
		return
	}
	for _, c := range cs {
		if !c.Valid() {
			return
		}
	}
	s.frames = cs
}

// took notes a visit that took got frames from ring i.
func (s *RxSched) took(i, got int) {
	if s.frames != nil && got > 0 {
		s.frames[i].Add(uint64(got))
	}
}

// NewRxSched returns the scheduler of k rings.
func NewRxSched(k int) RxSched { return RxSched{stands: make([]int, k)} }

// Rings is the number of rings served.
func (s *RxSched) Rings() int { return len(s.stands) }

// lightStands is the stands under which a ring's flows count as light:
// fewer than a quarter of the recent visits found more than they took.
const lightStands = 64 / 4

// SparseMax is the most frames one visit of a light ring may take and
// still mark sparse: a ring that was light while its flood paused (its
// sender off its CPU) gives a full quantum when the flood resumes, and
// those frames must not go ahead of everything (fq_codel lets a new flow
// go first for one quantum only).
const SparseMax = 8

// Visit notes that a visit asked ring i for want frames and took got. A
// visit that took all it asked for (two or more: one frame asked and
// found says nothing) makes the ring heavy at once, for about six visits
// that empty it: a burst is no light flow.
func (s *RxSched) Visit(i, want, got int) {
	s.stands[i] -= s.stands[i] >> 3
	if got == want && want > 1 {
		s.stands[i] = max(s.stands[i]+8, 2*lightStands)
	}
}

// Light reports whether ring i's flows are light.
func (s *RxSched) Light(i int) bool { return s.stands[i] < lightStands }

// Stands is ring i's moving average, for tests and diagnostics.
func (s *RxSched) Stands(i int) int { return s.stands[i] }

// FreshPending reports whether a light ring of r has a frame
// (FreshPender).
func (s *RxSched) FreshPending(r RxRings) bool {
	for i := range s.stands {
		if s.Light(i) && r.RingPending(i) {
			return true
		}
	}
	return false
}

// Recv takes up to len(pkts) frames from the rings of r. With one ring it
// is that ring's RecvRing (frames untagged). A ring that gives fewer
// frames than asked (it emptied, or the pool did) ends its turn and banks
// nothing, as an empty DRR queue does; the call ends when the batch is
// full or a whole round found nothing.
func (s *RxSched) Recv(r RxRings, pool *packet.Pool, pkts []*packet.Packet) int {
	k := len(s.stands)
	switch k {
	case 0:
		return 0
	case 1:
		n := r.RecvRing(0, pool, pkts)
		s.Visit(0, len(pkts), n)
		return n
	}
	quantum := (len(pkts) + k - 1) / k
	n, idle := 0, 0
	// Light rings come first, up to a quantum each.
	for i := range s.stands {
		if n == len(pkts) {
			break
		}
		if !s.Light(i) || !r.RingPending(i) {
			continue
		}
		want := min(quantum, len(pkts)-n)
		got := r.RecvRing(i, pool, pkts[n:n+want])
		TagRing(pkts[n:n+got], i, true)
		s.Visit(i, want, got)
		s.took(i, got)
		n += got
		if i == s.next && s.deficit == 0 {
			// Its turn of the round robin, taken first.
			s.deficit = quantum - got
			if got < want || s.deficit == 0 {
				s.deficit = 0
				if s.next++; s.next == k {
					s.next = 0
				}
			}
		}
	}
	for n < len(pkts) && idle < k {
		if s.deficit == 0 {
			s.deficit = quantum
		}
		want := min(s.deficit, len(pkts)-n)
		i := s.next
		got := r.RecvRing(i, pool, pkts[n:n+want])
		TagRing(pkts[n:n+got], i, s.Light(i))
		s.Visit(i, want, got)
		s.took(i, got)
		n += got
		s.deficit -= got
		if got == 0 {
			idle++
		} else {
			idle = 0
		}
		if got < want || s.deficit == 0 {
			s.deficit = 0
			if s.next++; s.next == k {
				s.next = 0
			}
		}
	}
	return n
}

// TagRing notes in each packet's Meta the receive ring it came from and,
// if that ring's flows are light and the visit took few frames
// (SparseMax), that it may go ahead of other rings' packets at its output
// (packet.MetaSparse).
func TagRing(pkts []*packet.Packet, ring int, light bool) {
	tag := uint32(ring) << packet.MetaRxQueueShift & packet.MetaRxQueueMask
	if light && len(pkts) <= SparseMax {
		tag |= packet.MetaSparse
	}
	for _, p := range pkts {
		p.Meta |= tag
	}
}
