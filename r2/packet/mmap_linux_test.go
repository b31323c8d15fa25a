//go:build linux

package packet

import "testing"

func TestPoolMmapAndTake(t *testing.T) {
	pool, err := NewPoolMmap(3, 8)
	if err != nil {
		t.Fatal(err)
	}
	if len(pool.Mem()) != 8*BufSize || pool.Size() != 8 {
		t.Fatalf("mem %d size %d", len(pool.Mem()), pool.Size())
	}
	p := pool.Get()
	if pool.Packet(p.Index()) != p {
		t.Fatal("Packet(Index()) is not the packet")
	}
	if !p.SetHeadLen(256, 60) || p.Len() != 60 || p.Head() != 256 || p.SetHeadLen(2000, 60) {
		t.Fatal("SetHeadLen")
	}
	pool.Free(p)
	if s := pool.Stats(); s.InFlight != 0 || s.Free != 8 {
		t.Fatalf("stats %+v", s)
	}
}
