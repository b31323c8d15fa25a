//go:build linux

package pagemem

import (
	"os"
	"testing"
	"unsafe"

	"github.com/r2go/r2/r2/packet"
)

func TestNewPool(t *testing.T) {
	pool, err := NewPool(3, 8)
	if err != nil {
		t.Fatal(err)
	}
	mem := pool.Mem()
	if len(mem) != 8*packet.BufSize || pool.Size() != 8 || pool.Owner() != 3 {
		t.Fatalf("mem %d size %d owner %d", len(mem), pool.Size(), pool.Owner())
	}
	if uintptr(unsafe.Pointer(&mem[0]))%uintptr(os.Getpagesize()) != 0 {
		t.Fatal("pool memory is not page-aligned")
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
	if _, err := NewPool(0, 0); err == nil {
		t.Fatal("empty pool accepted")
	}
}
