package hfsc

import (
	"math/rand/v2"
	"testing"
	"time"
)

// fbytes hands out fuzz input, then zeros.
type fbytes []byte

func (b *fbytes) next() int {
	if len(*b) == 0 {
		return 0
	}
	v := (*b)[0]
	*b = (*b)[1:]
	return int(v)
}

// fclass is the fuzz model of one class.
type fclass struct {
	cfg     ClassConfig
	parent  int // index, -1 for the root
	h       Handle
	queued  int     // items queued (leaves)
	sent    float64 // bytes sent by the subtree
	active  bool    // has a queued link-sharing leaf below (or is one)
	checkUL bool    // has UL and no real-time leaf below
	anchorT int64   // start of the current active period (or last change)
	anchorB float64 // sent at anchorT
	anchorC Curve   // the UL curve placed then
	deleted bool
}

func FuzzHFSC(f *testing.F) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 24; i++ {
		b := make([]byte, 64+r.IntN(600))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in := fbytes(data)
		start := time.Now()
		links := []uint64{1e6, 10e6, 1e9, 100e9}
		link := links[in.next()%len(links)]
		s, err := New[pkt](link, pktSize)
		if err != nil {
			t.Fatal(err)
		}
		unit := float64(1500*8) / float64(link) * 1e9 // ns to send a full packet
		linkQueue := int64(0)
		if in.next()%4 == 0 {
			linkQueue = int64(unit * float64(in.next()%8))
			s.SetLinkQueue(time.Duration(linkQueue))
		}
		curve := func(base uint64, den int) *Curve {
			m1 := base * uint64(in.next()%64) / uint64(den)
			m2 := max(base*uint64(1+in.next()%64)/uint64(den), 1)
			return &Curve{M1: m1, D: time.Duration(float64(in.next()%16) * unit), M2: m2}
		}

		// The tree: up to 12 classes, parents among the interior ones.
		var cls []*fclass
		nc := 1 + in.next()%12
		for i := 0; i < nc; i++ {
			c := &fclass{parent: -1}
			var interior []int
			for j, o := range cls {
				if !o.cfg.Leaf {
					interior = append(interior, j)
				}
			}
			if k := in.next() % (len(interior) + 1); k > 0 {
				c.parent = interior[k-1]
			}
			cfg := ClassConfig{Name: string(rune('a' + i)), Leaf: i >= nc-2 || in.next()%3 != 0}
			if c.parent >= 0 {
				cfg.Parent = cls[c.parent].cfg.Name
			}
			sel := in.next()
			if cfg.Leaf {
				cfg.QLimit = 1 + in.next()%16
				if sel&1 != 0 {
					cfg.RT = curve(link, 256)
				}
			}
			if !cfg.Leaf || sel&2 != 0 || cfg.RT == nil {
				cfg.LS = curve(link, 64)
				if sel&4 != 0 {
					cfg.UL = curve(link, 32)
				}
			}
			c.cfg = cfg
			if s.AddClass(cfg) != nil {
				continue // refused (capacity): not part of the tree
			}
			c.h, _ = s.Lookup(cfg.Name)
			cls = append(cls, c)
		}
		ancestors := func(i int, fn func(*fclass)) {
			for ; i >= 0; i = cls[i].parent {
				fn(cls[i])
			}
		}
		for i, c := range cls {
			c.checkUL = c.cfg.UL != nil
			if c.cfg.Leaf && c.cfg.RT != nil {
				ancestors(i, func(a *fclass) { a.checkUL = false })
			}
		}
		var leaves []int
		for i, c := range cls {
			if c.cfg.Leaf {
				leaves = append(leaves, i)
			}
		}
		if len(leaves) == 0 {
			return
		}

		// activity recomputes which classes are link-sharing active and
		// anchors the upper-limit check of those that just became so.
		activity := func(now int64) {
			act := make([]bool, len(cls))
			for i, c := range cls {
				if !c.deleted && c.cfg.Leaf && c.cfg.LS != nil && c.queued > 0 {
					ancestors(i, func(a *fclass) { act[indexOf(cls, a)] = true })
				}
			}
			for i, c := range cls {
				if act[i] && !c.active && c.cfg.UL != nil {
					c.anchorT, c.anchorB, c.anchorC = now, c.sent, *c.cfg.UL
				}
				c.active = act[i]
			}
		}

		const (
			queued = iota + 1
			left
			refused
			returned
		)
		var status []int
		var now int64
		var finish float64 // when the link finishes what it accepted (model)
		// Real-time guarantee: with the curves within the link rate, every
		// head item leaves by its deadline plus one largest item's time.
		slack := int64(maxSize*8e9/float64(link)) + 2
		dueBy := make([]int64, len(cls))
		lastSeq := make([]int, len(cls)) // per leaf: the last item sent
		for i := range lastSeq {
			lastSeq[i] = -1
		}
		dequeue := func() bool {
			for i, c := range cls {
				dueBy[i] = -1
				if !c.deleted && c.cfg.RT != nil && c.queued > 0 {
					st, _ := s.Stats(c.cfg.Name)
					dueBy[i] = st.Deadline + slack
					if now > dueBy[i] {
						t.Fatalf("at %d: %s's head item due by %d still queued", now, c.cfg.Name, dueBy[i])
					}
				}
			}
			p, ok := s.Dequeue(now)
			if err := s.verify(); err != nil {
				t.Fatalf("at %d after Dequeue: %v", now, err)
			}
			if !ok {
				return false
			}
			if dueBy[p.cls] >= 0 && now > dueBy[p.cls] {
				t.Fatalf("at %d: %s's item left after %d", now, cls[p.cls].cfg.Name, dueBy[p.cls])
			}
			if status[p.seq] != queued {
				t.Fatalf("item %d released in state %d", p.seq, status[p.seq])
			}
			status[p.seq] = left
			if p.seq <= lastSeq[p.cls] {
				t.Fatalf("item %d of %s left after item %d: not FIFO", p.seq, cls[p.cls].cfg.Name, lastSeq[p.cls])
			}
			lastSeq[p.cls] = p.seq
			if float64(now) < finish-float64(linkQueue)-1 {
				t.Fatalf("at %d: link over-committed: busy until %.0f, queue %d", now, finish, linkQueue)
			}
			finish = max(finish, float64(now)) + float64(p.size)*8e9/float64(link)
			ancestors(p.cls, func(a *fclass) {
				if a.checkUL && a.active {
					allowed := curveBytes(a.anchorC, float64(now-a.anchorT)/1e9)
					rate := float64(max(a.anchorC.M1, a.anchorC.M2)) / 8e9
					if got := a.sent - a.anchorB; got > allowed*(1+1e-5)+16+rate*2 {
						for _, c := range cls {
							t.Logf("%s parent %d cfg %+v rt=%v ls=%v ul=%v", c.cfg.Name, c.parent, c.cfg, c.cfg.RT, c.cfg.LS, c.cfg.UL)
						}
						t.Fatalf("at %d: class %s sent %.0f bytes since %d, upper limit allows %.0f",
							now, a.cfg.Name, got, a.anchorT, allowed)
					}
				}
				a.sent += float64(p.size)
			})
			cls[p.cls].queued--
			activity(now)
			return true
		}
		// advance serves everything due until the time to.
		advance := func(to int64) {
			for {
				if time.Since(start) > 10*time.Second {
					t.Fatalf("input runs for more than 10 s (now %d, %d queued)", now, s.Len())
				}
				for dequeue() {
				}
				ne := s.NextEvent(now)
				if ne == now {
					t.Fatalf("at %d: NextEvent says now, Dequeue refuses", now)
				}
				if ne < 0 || ne > to {
					break
				}
				now = ne
			}
			now = max(now, to)
		}

		for len(in) > 0 {
			if err := s.verify(); err != nil {
				t.Fatalf("at %d: %v", now, err)
			}
			op := in.next()
			switch {
			case op < 200: // an arrival after a gap
				gap := float64(in.next()%32) / 8 * unit
				if op < 8 {
					gap *= 1000
				}
				advance(now + int64(gap))
				li := leaves[in.next()%len(leaves)]
				c := cls[li]
				seq := len(status)
				p := pkt{cls: li, size: 40 + in.next()*6, arr: now, seq: seq} // up to maxSize
				if c.deleted {
					if s.Enqueue(c.h, p, now) {
						t.Fatal("Enqueue on a deleted class succeeded")
					}
					continue
				}
				if s.Enqueue(c.h, p, now) {
					status = append(status, queued)
					c.queued++
					activity(now)
				} else {
					status = append(status, refused)
					if c.queued != c.cfg.QLimit {
						t.Fatalf("Enqueue refused with %d/%d queued", c.queued, c.cfg.QLimit)
					}
				}
			case op < 240: // change a class's rates, keeping its curves' kinds
				i := in.next() % len(cls)
				c := cls[i]
				if c.deleted {
					continue
				}
				cfg := c.cfg
				if cfg.RT != nil {
					cfg.RT = curve(link, 256)
				}
				if cfg.LS != nil {
					cfg.LS = curve(link, 64)
				}
				if cfg.UL != nil {
					cfg.UL = curve(link, 32)
				}
				if cfg.Leaf {
					cfg.QLimit = max(c.queued, 1+in.next()%16)
				}
				if s.ChangeClass(cfg, now) != nil {
					continue
				}
				c.cfg = cfg
				// A backlogged leaf is taken out and put back: ancestors
				// left without another active leaf start a new period.
				q := c.queued
				c.queued = 0
				activity(now)
				c.queued = q
				activity(now)
				if c.active && c.cfg.UL != nil {
					c.anchorT, c.anchorB, c.anchorC = now, c.sent, *c.cfg.UL
				}
			default: // delete a leaf
				li := leaves[in.next()%len(leaves)]
				c := cls[li]
				if c.deleted {
					continue
				}
				items, err := s.DelClass(c.cfg.Name)
				if err != nil {
					t.Fatalf("DelClass(%s): %v", c.cfg.Name, err)
				}
				if len(items) != c.queued {
					t.Fatalf("DelClass returned %d items, %d queued", len(items), c.queued)
				}
				for _, p := range items {
					if status[p.seq] != queued || p.cls != li {
						t.Fatalf("DelClass returned item %d in state %d", p.seq, status[p.seq])
					}
					status[p.seq] = returned
				}
				c.queued, c.deleted = 0, true
				activity(now)
			}
		}
		// Drain: everything leaves, in a bounded number of events.
		for steps := 0; s.Len() > 0; steps++ {
			if steps > 4*len(status)+16 {
				t.Fatalf("%d items still queued after %d events", s.Len(), steps)
			}
			advance(now)
			if ne := s.NextEvent(now); ne > now {
				now = ne
			}
		}
		for seq, st := range status {
			if st == queued {
				t.Fatalf("item %d never left", seq)
			}
		}
		if ne := s.NextEvent(now); ne != -1 {
			t.Fatalf("empty scheduler: NextEvent = %d", ne)
		}
		for _, c := range cls {
			if c.deleted {
				continue
			}
			st, err := s.Stats(c.cfg.Name)
			if err != nil || st.QLen != 0 || st.Active {
				t.Fatalf("class %s not empty at the end: %+v %v", c.cfg.Name, st, err)
			}
		}
	})
}

const maxSize = 40 + 255*6

func indexOf(cls []*fclass, c *fclass) int {
	for i, o := range cls {
		if o == c {
			return i
		}
	}
	return -1
}
