package encap

import (
	"math/rand/v2"
	"testing"
)

// key6 is fe80::<v> with v spread over the low bytes.
func key6(v uint32) [16]byte {
	return [16]byte{0: 0xfe, 1: 0x80, 12: byte(v >> 24), 13: byte(v >> 16), 14: byte(v >> 8), 15: byte(v)}
}

// check6 is check for neigh6Table: same count, every entry reachable from
// its home without crossing an empty slot, every reference entry found.
func check6(t *testing.T, tb *neigh6Table, ref map[[16]byte][6]byte) {
	t.Helper()
	if tb.n != len(ref) {
		t.Fatalf("n = %d, reference has %d", tb.n, len(ref))
	}
	used := 0
	for i, s := range tb.slots {
		if s.ip == ([16]byte{}) {
			continue
		}
		used++
		if _, ok := ref[s.ip]; !ok {
			t.Fatalf("slot %d holds %x, not in the reference", i, s.ip)
		}
		for j := hash6(&s.ip) & tb.mask; j != uint32(i); j = (j + 1) & tb.mask {
			if tb.slots[j].ip == ([16]byte{}) {
				t.Fatalf("%x at slot %d is cut off from its home by empty slot %d", s.ip, i, j)
			}
		}
	}
	if used != len(ref) {
		t.Fatalf("%d slots used, reference has %d", used, len(ref))
	}
	for ip, mac := range ref {
		if e := tb.get(&ip); e == nil || e.mac != mac {
			t.Fatalf("get(%x) = %+v, want MAC %x", ip, e, mac)
		}
	}
}

// TestNeigh6Random runs random set/del/get/expire against a map in small
// tables, where runs and wrap-around are common.
func TestNeigh6Random(t *testing.T) {
	for _, size := range []int{8, 16, 64, 1024} {
		rng := rand.New(rand.NewPCG(uint64(size), 6))
		tb := newNeigh6Table(size)
		ref := map[[16]byte][6]byte{}
		seen := map[[16]byte]int64{}
		limit := size * 3 / 4
		for op := 0; op < 20000; op++ {
			ip := key6(rng.Uint32()%uint32(2*size) + 1)
			switch rng.IntN(7) {
			case 0, 1, 2:
				m := [6]byte{2, byte(op), byte(op >> 8)}
				ok := tb.set(&ip, m, int64(op), false)
				_, had := ref[ip]
				if ok != (had || len(ref) < limit) {
					t.Fatalf("size %d op %d: set = %v with %d entries (had %v)", size, op, ok, len(ref), had)
				}
				if ok {
					ref[ip], seen[ip] = m, int64(op)
				}
			case 3, 4:
				_, had := ref[ip]
				if tb.del(&ip) != had {
					t.Fatalf("size %d op %d: del != %v", size, op, had)
				}
				delete(ref, ip)
				delete(seen, ip)
			case 5:
				_, had := ref[ip]
				if (tb.get(&ip) != nil) != had {
					t.Fatalf("size %d op %d: get disagrees (had %v)", size, op, had)
				}
			case 6:
				if rng.IntN(50) != 0 {
					continue
				}
				cutoff := int64(op - rng.IntN(2000))
				want := 0
				for k, s := range seen {
					if s < cutoff {
						delete(ref, k)
						delete(seen, k)
						want++
					}
				}
				if got := tb.expire(cutoff); got != want {
					t.Fatalf("size %d op %d: expire removed %d, want %d", size, op, got, want)
				}
			}
			if size <= 64 || op%500 == 0 {
				check6(t, &tb, ref)
			}
		}
	}
}

func TestNeigh6Edges(t *testing.T) {
	tb := newNeigh6Table(16)
	var zero [16]byte
	if tb.set(&zero, [6]byte{2}, 0, false) || tb.get(&zero) != nil || tb.del(&zero) {
		t.Fatal(":: accepted")
	}
	for v := uint32(1); v <= 12; v++ {
		k := key6(v)
		if !tb.set(&k, [6]byte{2, byte(v)}, 0, false) {
			t.Fatalf("set %d of 12 failed", v)
		}
	}
	k13, k5 := key6(13), key6(5)
	if tb.set(&k13, [6]byte{2}, 0, false) {
		t.Fatal("13th entry in a 16-slot table accepted (limit 3/4)")
	}
	if !tb.set(&k5, [6]byte{2, 9}, 7, false) || tb.get(&k5).mac != [6]byte{2, 9} || tb.get(&k5).seen != 7 {
		t.Fatal("update of an existing entry in a full table failed")
	}
	tb.clear()
	if tb.n != 0 || tb.get(&k5) != nil {
		t.Fatal("clear left entries")
	}
}
