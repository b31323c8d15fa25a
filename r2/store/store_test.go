package store

import (
	"sync"
	"testing"
)

type counts struct{ n [4]uint64 }

func TestPublishedSnapshots(t *testing.T) {
	var got []*Snapshot
	s := New(func(sn *Snapshot) { got = append(got, sn) })
	th := NewThread(s.Current())
	if v := th.Published(1); v != nil {
		t.Fatalf("empty store has %v", v)
	}
	s.Publish(1, "a")
	s.Publish(2, 42)
	if len(got) != 2 || got[1].Len() != 2 || got[1].Gen != 2 {
		t.Fatalf("publications %d, last %+v", len(got), got[len(got)-1])
	}
	// The thread sees nothing until it swaps.
	if th.Published(1) != nil {
		t.Fatal("thread saw a value before its swap")
	}
	th.Swap(got[1])
	if th.Published(1) != "a" || th.Published(2) != 42 || th.Gen() != 2 {
		t.Fatalf("after swap: %v %v gen %d", th.Published(1), th.Published(2), th.Gen())
	}
	// Old snapshots stay as they were (immutable).
	s.Publish(1, nil)
	if got[1].Get(1) != "a" || got[2].Get(1) != nil || s.Get(2) != 42 {
		t.Fatal("a snapshot changed after publication, or delete failed")
	}
}

func TestLocalSharedBetweenNodesOfOneThread(t *testing.T) {
	a, b := NewThread(nil), NewThread(nil)
	made := 0
	mk := func() *counts { made++; return &counts{} }
	w := LocalOf(a, 7, mk)
	r := LocalOf(a, 7, mk)
	if w != r || made != 1 {
		t.Fatalf("two nodes of one thread got different values (made %d)", made)
	}
	if o := LocalOf(b, 7, mk); o == w {
		t.Fatal("two threads share a per-thread value")
	}
	w.n[1] = 5
	if r.n[1] != 5 {
		t.Fatal("reader does not see the writer's value")
	}
}

func TestLocalTypeMismatchPanics(t *testing.T) {
	th := NewThread(nil)
	LocalOf(th, 9, func() *counts { return &counts{} })
	defer func() {
		if v := recover(); v == nil {
			t.Fatal("no panic for a key used with two types")
		}
	}()
	LocalOf(th, 9, func() *int { return new(int) })
}

func TestNilThread(t *testing.T) {
	var th *Thread
	if th.Published(1) != nil || th.Gen() != 0 {
		t.Fatal("nil thread has values")
	}
	if LocalOf(th, 1, func() *counts { return &counts{} }) == nil {
		t.Fatal("nil thread gave no private value")
	}
}

func TestPublishedReadsDoNotAllocate(t *testing.T) {
	s := New(nil)
	s.Publish(3, &counts{})
	th := NewThread(s.Current())
	if n := testing.AllocsPerRun(100, func() { _ = th.Published(3) }); n != 0 {
		t.Fatalf("Published allocates %v", n)
	}
}

func TestConcurrentPublish(t *testing.T) {
	s := New(func(*Snapshot) {})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				s.Publish(Key(i), j)
				_ = s.Get(Key(i))
			}
		}(i)
	}
	wg.Wait()
	if s.Current().Len() != 4 || s.Current().Gen != 400 {
		t.Fatalf("len %d gen %d", s.Current().Len(), s.Current().Gen)
	}
}
