package encap

import "encoding/binary"

// neigh6Table is neighTable for IPv6 next hops: the same open addressing
// with linear probing and backward-shift deletion, sized once, owned by one
// thread's EtherEncap and never allocating after construction. It is a
// separate type rather than a generic one so that both keep their key
// comparisons and hashing inline on the per-packet path.
type neigh6Table struct {
	slots []neigh6
	mask  uint32
	n     int
}

type neigh6 struct {
	ip    [16]byte // all zero: empty slot (:: is never a neighbour)
	mac   [6]byte
	seen  int64 // when last learned or refreshed (monotonic ns)
	asked int64 // when we last sent a refresh solicitation
	unans int64 // when the refresh requests since seen began (0: none)
	// static: as neigh.static.
	static bool
}

func newNeigh6Table(size int) neigh6Table {
	s := 1
	for s < size {
		s <<= 1
	}
	return neigh6Table{slots: make([]neigh6, s), mask: uint32(s - 1)}
}

// hash6 mixes both halves: neighbours on one link usually share the upper
// 64 bits, and link-local interface identifiers share their middle bytes
// (ff:fe of EUI-64).
func hash6(ip *[16]byte) uint32 {
	hi, lo := binary.BigEndian.Uint64(ip[:8]), binary.BigEndian.Uint64(ip[8:])
	x := (hi*0x9e3779b97f4a7c15 ^ lo) * 0xbf58476d1ce4e5b9
	return uint32(x >> 32)
}

func (t *neigh6Table) get(ip *[16]byte) *neigh6 {
	if *ip == ([16]byte{}) {
		return nil
	}
	for i := hash6(ip) & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.ip == *ip {
			return s
		}
		if s.ip == ([16]byte{}) {
			return nil
		}
	}
}

// set adds or updates ip. It reports false if the table is full (kept at
// most 3/4 full so probes stay short). As in neighTable, a learned update
// of a static entry is ignored.
func (t *neigh6Table) set(ip *[16]byte, mac [6]byte, now int64, static bool) bool {
	if *ip == ([16]byte{}) {
		return false
	}
	i := hash6(ip) & t.mask
	for ; t.slots[i].ip != ([16]byte{}); i = (i + 1) & t.mask {
		if s := &t.slots[i]; s.ip == *ip {
			if s.static && !static {
				return true
			}
			s.mac, s.seen, s.static = mac, now, static
			return true
		}
	}
	if (t.n+1)*4 > len(t.slots)*3 {
		return false
	}
	t.slots[i] = neigh6{ip: *ip, mac: mac, seen: now, static: static}
	t.n++
	return true
}

func (t *neigh6Table) del(ip *[16]byte) bool {
	if *ip == ([16]byte{}) {
		return false
	}
	i := hash6(ip) & t.mask
	for ; t.slots[i].ip != *ip; i = (i + 1) & t.mask {
		if t.slots[i].ip == ([16]byte{}) {
			return false
		}
	}
	for {
		t.slots[i] = neigh6{}
		j := i
		for {
			j = (j + 1) & t.mask
			if t.slots[j].ip == ([16]byte{}) {
				t.n--
				return true
			}
			home := hash6(&t.slots[j].ip) & t.mask
			// Move j to i if its home is not in (i, j] cyclically.
			if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
				t.slots[i] = t.slots[j]
				i = j
				break
			}
		}
	}
}

func (t *neigh6Table) clear() {
	clear(t.slots)
	t.n = 0
}

// expire removes entries not refreshed since before cutoff (static ones
// stay).
func (t *neigh6Table) expire(cutoff int64) int {
	k := 0
	for i := 0; i < len(t.slots); {
		s := &t.slots[i]
		if s.ip != ([16]byte{}) && s.seen < cutoff && !s.static {
			ip := s.ip
			t.del(&ip) // may shift another entry into i: look at i again
			k++
			continue
		}
		i++
	}
	return k
}

// unanswered is neighTable.unanswered for IPv6.
func (t *neigh6Table) unanswered(cutoff int64, f func(ip *[16]byte)) int {
	k := 0
	for i := 0; i < len(t.slots); {
		s := &t.slots[i]
		if s.ip != ([16]byte{}) && !s.static && s.unans > s.seen && s.unans < cutoff {
			ip := s.ip
			t.del(&ip) // may shift another entry into i: look at i again
			f(&ip)
			k++
			continue
		}
		i++
	}
	return k
}
