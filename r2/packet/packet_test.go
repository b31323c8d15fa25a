package packet

import (
	"sync"
	"testing"
)

func TestPacketHeaders(t *testing.T) {
	pool := NewPool(0, 4)
	p := pool.Get()
	if !p.SetData([]byte{1, 2, 3, 4, 5, 6}) || p.Len() != 6 {
		t.Fatalf("SetData: len %d", p.Len())
	}
	if !p.Pull(2) || p.Data()[0] != 3 {
		t.Fatalf("Pull: data %v", p.Data())
	}
	if p.Pull(5) {
		t.Fatal("Pull beyond data accepted")
	}
	h := p.Push(4)
	if len(h) != 4 || p.Len() != 8 || p.Head() != Headroom-2 {
		t.Fatalf("Push: len %d head %d", p.Len(), p.Head())
	}
	if p.Push(Headroom) != nil {
		t.Fatal("Push beyond headroom accepted")
	}
	if !p.Trim(3) || p.Len() != 3 || p.Trim(4) {
		t.Fatalf("Trim: len %d", p.Len())
	}
	if p.SetData(make([]byte, MaxData+1)) {
		t.Fatal("oversized SetData accepted")
	}
	pool.Free(p)
}

func TestPoolExhaustionAndAccounting(t *testing.T) {
	pool := NewPool(0, 8)
	var got []*Packet
	for {
		p := pool.Get()
		if p == nil {
			break
		}
		got = append(got, p)
	}
	if len(got) != 8 {
		t.Fatalf("got %d packets from a pool of 8", len(got))
	}
	s := pool.Stats()
	if s.AllocFails != 1 || s.InFlight != 8 || s.Free != 0 {
		t.Fatalf("stats after exhaustion: %+v", s)
	}
	for _, p := range got {
		pool.Free(p)
	}
	pool.Free(got[0]) // double free: counted, not corrupting
	s = pool.Stats()
	if s.InFlight != 0 || s.Free != 8 || s.DoubleFrees != 1 {
		t.Fatalf("stats after free: %+v", s)
	}
	// Reuse gives clean metadata.
	p := pool.Get()
	if p.OutIfindex != -1 || p.L3 != -1 || p.Len() != 0 {
		t.Fatalf("reused packet not reset: %+v", p)
	}
}

// Packets freed on another thread go home through the return ring; with
// -race this also checks that the handover is properly synchronized.
func TestCrossThreadFree(t *testing.T) {
	const n = 512
	owner := NewPool(0, n)
	other := NewPool(1, 4)
	ch := make(chan *Packet, n)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // thread 1
		defer wg.Done()
		for p := range ch {
			p.Data()[0]++ // touch the data the owner wrote
			other.Free(p)
		}
	}()
	for round := 0; round < 20; round++ {
		for {
			p := owner.Get()
			if p == nil {
				break
			}
			p.SetData([]byte{byte(round)})
			ch <- p
		}
	}
	close(ch)
	wg.Wait()
	owner.Reclaim()
	s := owner.Stats()
	if s.InFlight != 0 || s.Free != n {
		t.Fatalf("leak after cross-thread frees: %+v", s)
	}
	if os := other.Stats(); os.Free != 4 || os.Frees != 0 {
		t.Fatalf("foreign packets landed in the wrong pool: %+v", os)
	}
}

func TestPoolOnMemory(t *testing.T) {
	mem := make([]byte, 3*BufSize)
	pool := NewPoolOn(2, mem)
	if pool.Size() != 3 || pool.Owner() != 2 {
		t.Fatalf("size %d owner %d", pool.Size(), pool.Owner())
	}
	p := pool.Get()
	p.SetData([]byte{0xAB})
	if mem[int(p.Index())*BufSize+Headroom] != 0xAB {
		t.Fatal("packet buffer is not the frame in the given memory")
	}
}

func TestGetFreeAllocs(t *testing.T) {
	pool := NewPool(0, 16)
	if n := testing.AllocsPerRun(1000, func() { pool.Free(pool.Get()) }); n != 0 {
		t.Fatalf("Get+Free allocates %v times", n)
	}
}

func BenchmarkGetFree(b *testing.B) {
	pool := NewPool(0, 256)
	b.ReportAllocs()
	for b.Loop() {
		pool.Free(pool.Get())
	}
}
