package fwd

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// TestIPv4RIBConcurrentReaders runs the double-copy protocol for real:
// reader goroutines look up probe addresses in whatever table was last
// published while the writer adds and deletes routes. The test's publish
// swaps an atomic pointer and waits until every reader acknowledged, as
// the engine does. Each published table must give exactly the answers the
// reference gives for that state: a reader that saw a table being
// modified would see a mix. Under -race, the detector also catches any
// write to a table that a reader may still use.
func TestIPv4RIBConcurrentReaders(t *testing.T) {
	const readers = 2
	nops := 400
	if raceEnabled || testing.Short() {
		nops = 150
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var pool []Route
	adjs := []Adjacency{{}, conn(1), conn(2), gw(1, "10.9.0.1"), gw(2, "10.9.0.2")}
	for _, p := range randomPrefixes(rng, 120) {
		if p.Bits() >= 7 { // the /0 and /3 cost too much under -race
			pool = append(pool, Route{p, adjs[rng.IntN(len(adjs))]})
		}
	}
	var probes []uint32
	for _, rt := range pool {
		probes = append(probes, edges(rt.Prefix)...)
	}

	// snapshot is a published table with the answers it must give.
	type snapshot struct {
		tbl  *IPv4Table
		want []Adjacency
	}
	ref := refRIB{}
	expect := func() []Adjacency {
		want := make([]Adjacency, len(probes))
		for i, p := range probes {
			want[i], _, _ = ref.lookup(p)
		}
		return want
	}

	var (
		cur     atomic.Pointer[snapshot]
		ack     = make(chan struct{})
		done    = make(chan struct{})
		pending []Adjacency // answers of the change being made
		lookups atomic.Int64
		bad     atomic.Int64
		wg      sync.WaitGroup
	)
	r := NewIPv4RIB(func(tbl *IPv4Table) {
		cur.Store(&snapshot{tbl, pending})
		for range readers {
			<-ack
		}
	})
	initial := &snapshot{r.Active(), expect()}
	cur.Store(initial)

	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := make([]uint32, len(probes))
			// Not cur.Load(): a reader starting after the first publish
			// must still acknowledge it.
			s := initial
			for {
				select {
				case <-done:
					return
				default:
				}
				if n := cur.Load(); n != s {
					// From here on this reader never touches the old table.
					s = n
					ack <- struct{}{}
				}
				s.tbl.LookupBatch(probes, out)
				for i, p := range probes {
					got := *s.tbl.Adj(s.tbl.Lookup(p))
					if got != s.want[i] || *s.tbl.Adj(out[i]) != got {
						if bad.Add(1) <= 5 {
							t.Errorf("lookup %s = %v (batch %v), want %v", U32ToIPv4(p), got, *s.tbl.Adj(out[i]), s.want[i])
						}
					}
				}
				lookups.Add(int64(len(probes)))
			}
		}()
	}

	for range nops {
		rt := pool[rng.IntN(len(pool))]
		if _, ok := r.Get(rt.Prefix); ok && rng.IntN(2) == 0 {
			ref.del(rt.Prefix)
			pending = expect()
			if err := r.Del(rt.Prefix); err != nil {
				t.Fatal(err)
			}
			continue
		}
		rt.Adj = adjs[rng.IntN(len(adjs))]
		ref.add(rt.Prefix, rt.Adj)
		pending = expect()
		if err := r.Add(rt); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	if lookups.Load() == 0 {
		t.Fatal("readers did no lookups")
	}
	t.Logf("%d changes, %d lookups, %d wrong", nops, lookups.Load(), bad.Load())
}
