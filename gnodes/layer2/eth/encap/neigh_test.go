package encap

import (
	"math/rand/v2"
	"testing"

	gt "github.com/r2go/r2/r2/graph/graphtest"
)

// colliding returns n distinct non-zero addresses whose home slot in a
// table of size slots is home.
func colliding(n int, size int, home uint32) []uint32 {
	var out []uint32
	for ip := uint32(1); len(out) < n; ip++ {
		if hash(ip)&uint32(size-1) == home {
			out = append(out, ip)
		}
	}
	return out
}

// check compares t with the reference: same count, every reference entry
// found with its MAC, every slot holding a reference entry reachable from
// its home without crossing an empty slot.
func check(t *testing.T, tb *neighTable, ref map[uint32][6]byte, absent []uint32) {
	t.Helper()
	if tb.n != len(ref) {
		t.Fatalf("n = %d, reference has %d", tb.n, len(ref))
	}
	used := 0
	for i, s := range tb.slots {
		if s.ip == 0 {
			continue
		}
		used++
		if _, ok := ref[s.ip]; !ok {
			t.Fatalf("slot %d holds %#x, not in the reference", i, s.ip)
		}
		for j := hash(s.ip) & tb.mask; j != uint32(i); j = (j + 1) & tb.mask {
			if tb.slots[j].ip == 0 {
				t.Fatalf("%#x at slot %d is cut off from its home %d by empty slot %d", s.ip, i, hash(s.ip)&tb.mask, j)
			}
		}
	}
	if used != len(ref) {
		t.Fatalf("%d slots used, reference has %d", used, len(ref))
	}
	for ip, mac := range ref {
		e := tb.get(ip)
		if e == nil || e.ip != ip || e.mac != mac {
			t.Fatalf("get(%#x) = %+v, want MAC %x", ip, e, mac)
		}
	}
	for _, ip := range absent {
		if _, ok := ref[ip]; !ok && tb.get(ip) != nil {
			t.Fatalf("get(%#x) found an entry that was deleted", ip)
		}
	}
}

func mac(ip uint32, v byte) [6]byte {
	return [6]byte{2, v, byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}
}

func TestNeighCollisions(t *testing.T) {
	const size = 16
	// Seven addresses with home 14: their run wraps around the end.
	keys := colliding(7, size, 14)
	tests := []struct {
		name string
		del  []uint32 // deleted in this order after inserting keys
	}{
		{name: "delete first of run", del: keys[:1]},
		{name: "delete middle", del: keys[3:4]},
		{name: "delete last", del: keys[6:]},
		{name: "delete wrapped ones", del: []uint32{keys[2], keys[4]}},
		{name: "delete all in insertion order", del: keys},
		{name: "delete all in reverse", del: []uint32{keys[6], keys[5], keys[4], keys[3], keys[2], keys[1], keys[0]}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := newNeighTable(size)
			ref := map[uint32][6]byte{}
			// Entries homed right after the run, which the run displaces.
			others := colliding(2, size, 0)
			for i, ip := range append(append([]uint32{}, keys...), others...) {
				if !tb.set(ip, mac(ip, 1), int64(i), false) {
					t.Fatalf("set %d failed", i)
				}
				ref[ip] = mac(ip, 1)
			}
			check(t, &tb, ref, nil)
			for _, ip := range tc.del {
				if !tb.del(ip) {
					t.Fatalf("del(%#x) = false", ip)
				}
				delete(ref, ip)
				check(t, &tb, ref, tc.del)
				if tb.del(ip) {
					t.Fatalf("second del(%#x) = true", ip)
				}
			}
		})
	}
}

func TestNeighFull(t *testing.T) {
	tb := newNeighTable(16)
	for ip := uint32(1); ip <= 12; ip++ {
		if !tb.set(ip, mac(ip, 0), 0, false) {
			t.Fatalf("set %d of 12 failed", ip)
		}
	}
	if tb.set(13, mac(13, 0), 0, false) {
		t.Fatal("13th entry in a 16-slot table accepted (limit 3/4)")
	}
	if !tb.set(5, mac(5, 9), 7, false) || tb.get(5).mac != mac(5, 9) || tb.get(5).seen != 7 {
		t.Fatal("update of an existing entry in a full table failed")
	}
	if tb.set(0, mac(0, 0), 0, false) {
		t.Fatal("0.0.0.0 accepted")
	}
	tb.clear()
	if tb.n != 0 || tb.get(5) != nil {
		t.Fatal("clear left entries")
	}
}

// TestNeighRandom runs random set/del/get against a map, in a small table
// with few distinct keys so that runs and wrap-around are common.
func TestNeighRandom(t *testing.T) {
	for _, size := range []int{8, 64, 4096} {
		rng := rand.New(rand.NewPCG(uint64(size), 42))
		tb := newNeighTable(size)
		ref := map[uint32][6]byte{}
		keys := make([]uint32, size) // more keys than fit
		for i := range keys {
			keys[i] = rng.Uint32()%uint32(4*size) + 1
		}
		limit := size * 3 / 4
		for op := 0; op < 20000; op++ {
			ip := keys[rng.IntN(len(keys))]
			switch rng.IntN(3) {
			case 0, 1:
				v := byte(op)
				ok := tb.set(ip, mac(ip, v), int64(op), false)
				_, had := ref[ip]
				if ok != (had || len(ref) < limit) {
					t.Fatalf("size %d op %d: set(%#x) = %v with %d entries (had %v)", size, op, ip, ok, len(ref), had)
				}
				if ok {
					ref[ip] = mac(ip, v)
				}
			case 2:
				_, had := ref[ip]
				if tb.del(ip) != had {
					t.Fatalf("size %d op %d: del(%#x) != %v", size, op, ip, had)
				}
				delete(ref, ip)
			}
			if size <= 64 || op%500 == 0 {
				check(t, &tb, ref, keys)
			}
		}
	}
}

// TestNeighExpire removes exactly the entries older than the cutoff, also
// when deletions shift entries across the end of the table.
func TestNeighExpire(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		size := 16 << (round % 3)
		tb := newNeighTable(size)
		ref := map[uint32][6]byte{}
		seen := map[uint32]int64{}
		for len(ref) < size*3/4 {
			ip := rng.Uint32()%uint32(2*size) + 1
			s := int64(rng.IntN(100))
			tb.set(ip, mac(ip, 0), s, false)
			ref[ip] = mac(ip, 0)
			seen[ip] = s
		}
		cutoff := int64(rng.IntN(101))
		want := 0
		for ip, s := range seen {
			if s < cutoff {
				delete(ref, ip)
				want++
			}
		}
		if got := tb.expire(cutoff); got != want {
			t.Fatalf("round %d: expire removed %d, want %d", round, got, want)
		}
		check(t, &tb, ref, nil)
		for _, s := range tb.slots {
			if s.ip != 0 && s.seen < cutoff {
				t.Fatalf("round %d: %#x (seen %d) survived cutoff %d", round, s.ip, s.seen, cutoff)
			}
		}
	}
}

// TestNeighGetZero: 0 marks an empty slot and is never a neighbour.
func TestNeighGetZero(t *testing.T) {
	tb := newNeighTable(16)
	tb.set(gt.IP("10.0.0.1"), mac(1, 1), 0, false)
	if e := tb.get(0); e != nil {
		t.Errorf("get(0) returned slot %+v, want nil", *e)
	}
}
