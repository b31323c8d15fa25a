package ring

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func TestNewMPSCCapacity(t *testing.T) {
	tests := []struct {
		name string
		in   int
		want int
	}{
		{name: "one rounds to two", in: 1, want: 2},
		{name: "two", in: 2, want: 2},
		{name: "three", in: 3, want: 4},
		{name: "power of two kept", in: 256, want: 256},
		{name: "just above power", in: 257, want: 512},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewMPSC[int](tc.in)
			if got := r.Cap(); got != tc.want {
				t.Errorf("Cap() = %d, want %d", got, tc.want)
			}
			if got := r.Len(); got != 0 {
				t.Errorf("Len() of new ring = %d, want 0", got)
			}
		})
	}
}

func TestNewMPSCPanics(t *testing.T) {
	for _, c := range []int{0, -1, math.MinInt} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewMPSC(%d) did not panic", c)
				}
			}()
			NewMPSC[int](c)
		}()
	}
}

func TestFIFOOrder(t *testing.T) {
	r := NewMPSC[int](16)
	for i := range 10 {
		if !r.Enqueue(i) {
			t.Fatalf("Enqueue(%d) failed on non-full ring", i)
		}
	}
	if got := r.Len(); got != 10 {
		t.Errorf("Len() = %d, want 10", got)
	}
	for i := range 10 {
		v, ok := r.Dequeue()
		if !ok || v != i {
			t.Fatalf("Dequeue() = %d, %v; want %d, true", v, ok, i)
		}
	}
	if v, ok := r.Dequeue(); ok {
		t.Errorf("Dequeue() on empty ring = %d, true", v)
	}
}

func TestFullEmptyBoundaries(t *testing.T) {
	r := NewMPSC[int](4)
	if _, ok := r.Dequeue(); ok {
		t.Fatal("Dequeue succeeded on a new ring")
	}
	if n := r.DequeueBatch(make([]int, 4)); n != 0 {
		t.Fatalf("DequeueBatch on a new ring = %d, want 0", n)
	}
	for i := range 4 {
		if !r.Enqueue(i) {
			t.Fatalf("Enqueue(%d) failed below capacity", i)
		}
	}
	if r.Enqueue(99) {
		t.Fatal("Enqueue succeeded on a full ring")
	}
	if got := r.Len(); got != 4 {
		t.Errorf("Len() of full ring = %d, want 4", got)
	}
	// Freeing exactly one slot admits exactly one more element.
	if v, ok := r.Dequeue(); !ok || v != 0 {
		t.Fatalf("Dequeue() = %d, %v; want 0, true", v, ok)
	}
	if !r.Enqueue(4) {
		t.Fatal("Enqueue failed after one slot was freed")
	}
	if r.Enqueue(5) {
		t.Fatal("Enqueue succeeded on a ring that is full again")
	}
	out := make([]int, 8)
	n := r.DequeueBatch(out)
	if n != 4 {
		t.Fatalf("DequeueBatch = %d, want 4", n)
	}
	for i, want := range []int{1, 2, 3, 4} {
		if out[i] != want {
			t.Errorf("out[%d] = %d, want %d", i, out[i], want)
		}
	}
	if _, ok := r.Dequeue(); ok {
		t.Error("Dequeue succeeded on a drained ring")
	}
}

func TestDequeueBatchShortOut(t *testing.T) {
	r := NewMPSC[int](8)
	for i := range 5 {
		r.Enqueue(i)
	}
	out := make([]int, 2)
	if n := r.DequeueBatch(out); n != 2 || out[0] != 0 || out[1] != 1 {
		t.Fatalf("DequeueBatch = %d %v, want 2 [0 1]", n, out)
	}
	if got := r.Len(); got != 3 {
		t.Errorf("Len() after partial batch = %d, want 3", got)
	}
	if n := r.DequeueBatch(out[:0]); n != 0 {
		t.Errorf("DequeueBatch(empty out) = %d, want 0", n)
	}
}

// TestWraparound laps a small ring many times with varying fill levels, and
// also starts positions just below 2^64 so the uint64 counters overflow
// mid-test.
func TestWraparound(t *testing.T) {
	tests := []struct {
		name  string
		start uint64
	}{
		{name: "from zero", start: 0},
		{name: "across uint64 overflow", start: math.MaxUint64 - 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newMPSCAt[int](8, tc.start)
			next, want := 0, 0
			out := make([]int, 3)
			for lap := range 1000 {
				fill := 1 + lap%r.Cap() // 1..8 elements this round
				for range fill {
					if !r.Enqueue(next) {
						t.Fatalf("lap %d: Enqueue(%d) failed", lap, next)
					}
					next++
				}
				if got := r.Len(); got != fill {
					t.Fatalf("lap %d: Len() = %d, want %d", lap, got, fill)
				}
				// Alternate between single and batch dequeue.
				for want < next {
					if lap%2 == 0 {
						v, ok := r.Dequeue()
						if !ok || v != want {
							t.Fatalf("lap %d: Dequeue() = %d, %v; want %d", lap, v, ok, want)
						}
						want++
						continue
					}
					n := r.DequeueBatch(out)
					if n == 0 {
						t.Fatalf("lap %d: DequeueBatch empty, want %d", lap, want)
					}
					for _, v := range out[:n] {
						if v != want {
							t.Fatalf("lap %d: got %d, want %d", lap, v, want)
						}
						want++
					}
				}
			}
			if next < 100*r.Cap() {
				t.Fatalf("only %d elements passed; test did not wrap enough", next)
			}
		})
	}
}

func TestDequeueClearsSlot(t *testing.T) {
	r := NewMPSC[*int](2)
	x, y := new(int), new(int)
	r.Enqueue(x)
	r.Enqueue(y)
	r.Dequeue()
	r.DequeueBatch(make([]*int, 1))
	for i := range r.slots {
		if r.slots[i].val != nil {
			t.Errorf("slot %d still holds a pointer after dequeue", i)
		}
	}
}

func TestZeroAllocs(t *testing.T) {
	r := NewMPSC[*int](64)
	p := new(int)
	out := make([]*int, 8)
	allocs := testing.AllocsPerRun(100, func() {
		for range 8 {
			r.Enqueue(p)
		}
		r.Dequeue()
		r.DequeueBatch(out)
		_ = r.Len()
	})
	if allocs != 0 {
		t.Errorf("allocs per run = %v, want 0", allocs)
	}
}

// TestContention runs 4 producers against one consumer on a small ring so
// that both drops and wraparound happen, then checks that exactly the
// accepted values were delivered, once each, in per-producer order.
func TestContention(t *testing.T) {
	const producers = 4
	perProducer := 50000
	if testing.Short() {
		perProducer = 5000
	}
	r := NewMPSC[uint64](64)

	// accepted[p][i] is written only by producer p, read after Wait.
	accepted := make([][]bool, producers)
	okCount := make([]int, producers)
	dropped := make([]int, producers)
	var wg sync.WaitGroup
	var running atomic.Int32
	running.Store(producers)
	for p := range producers {
		accepted[p] = make([]bool, perProducer)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer running.Add(-1)
			for i := range perProducer {
				if r.Enqueue(uint64(p)<<32 | uint64(i)) {
					accepted[p][i] = true
					okCount[p]++
				} else {
					dropped[p]++
				}
				if i%64 == 0 {
					runtime.Gosched() // let the consumer in on 2 cores
				}
			}
		}()
	}

	delivered := make([][]bool, producers)
	for p := range delivered {
		delivered[p] = make([]bool, perProducer)
	}
	last := [producers]int{-1, -1, -1, -1}
	total := 0
	out := make([]uint64, 16)
	consume := func(v uint64) {
		p, i := int(v>>32), int(uint32(v))
		if p >= producers || i >= perProducer {
			t.Fatalf("delivered value %#x was never enqueued", v)
		}
		if delivered[p][i] {
			t.Fatalf("value %#x delivered twice", v)
		}
		if i <= last[p] {
			t.Fatalf("producer %d order broken: %d after %d", p, i, last[p])
		}
		delivered[p][i] = true
		last[p] = i
		total++
	}
	for {
		// Read running before draining so a final drain after the
		// producers exit cannot miss their last elements.
		done := running.Load() == 0
		n := r.DequeueBatch(out)
		for _, v := range out[:n] {
			consume(v)
		}
		if v, ok := r.Dequeue(); ok {
			consume(v)
			n++
		}
		if n == 0 {
			if done {
				break
			}
			runtime.Gosched()
		}
	}
	wg.Wait()

	attempted, sumOK, sumDrop := producers*perProducer, 0, 0
	for p := range producers {
		sumOK += okCount[p]
		sumDrop += dropped[p]
		for i := range perProducer {
			if accepted[p][i] != delivered[p][i] {
				t.Fatalf("producer %d value %d: accepted=%v delivered=%v",
					p, i, accepted[p][i], delivered[p][i])
			}
		}
	}
	if sumOK+sumDrop != attempted {
		t.Errorf("ok %d + dropped %d != attempted %d", sumOK, sumDrop, attempted)
	}
	if total != sumOK {
		t.Errorf("delivered %d, want enqueued-ok %d", total, sumOK)
	}
	if r.Len() != 0 {
		t.Errorf("Len() after drain = %d, want 0", r.Len())
	}
	t.Logf("attempted %d, ok %d, dropped %d", attempted, sumOK, sumDrop)
}

// BenchmarkMPSCSingleProducer measures an uncontended enqueue+dequeue pair.
func BenchmarkMPSCSingleProducer(b *testing.B) {
	r := NewMPSC[*int](256)
	p := new(int)
	b.ReportAllocs()
	for b.Loop() {
		r.Enqueue(p)
		r.Dequeue()
	}
}

// BenchmarkMPSCTwoProducers measures per-element cost with two producers and
// one consumer running concurrently; a full ring makes producers retry, so
// every element is eventually delivered.
func BenchmarkMPSCTwoProducers(b *testing.B) {
	const producers = 2
	r := NewMPSC[*int](1024)
	p := new(int)
	b.ReportAllocs()
	b.ResetTimer()
	total := b.N
	var wg sync.WaitGroup
	for k := range producers {
		n := total / producers
		if k == 0 {
			n += total % producers
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				for !r.Enqueue(p) {
					runtime.Gosched()
				}
			}
		}()
	}
	out := make([]*int, 64)
	for got := 0; got < total; {
		n := r.DequeueBatch(out)
		if n == 0 {
			runtime.Gosched()
		}
		got += n
	}
	wg.Wait()
}
