package encap

// neighTable maps a next-hop IPv4 address to its MAC: open addressing with
// linear probing and backward-shift deletion, sized once. It is owned by
// one thread's EtherEncap and never allocates after construction. A Go map
// would work too, but this keeps lookups to one or two cache lines with no
// hashing of interfaces.
type neighTable struct {
	slots []neigh
	mask  uint32
	n     int
}

type neigh struct {
	ip    uint32 // 0: empty slot (0.0.0.0 is never a neighbour)
	mac   [6]byte
	seen  int64 // when last learned or refreshed (monotonic ns)
	asked int64 // when we last sent a refresh request
	unans int64 // when the refresh requests since seen began (0: none)
	// static entries (msg.MACLearned.Static) never age, are never
	// re-asked for, and are not overwritten by learned ones.
	static bool
}

func newNeighTable(size int) neighTable {
	s := 1
	for s < size {
		s <<= 1
	}
	return neighTable{slots: make([]neigh, s), mask: uint32(s - 1)}
}

func hash(ip uint32) uint32 { return (ip * 0x9e3779b1) >> 7 }

func (t *neighTable) get(ip uint32) *neigh {
	if ip == 0 {
		return nil // 0 marks empty slots
	}
	for i := hash(ip) & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.ip == ip {
			return s
		}
		if s.ip == 0 {
			return nil
		}
	}
}

// set adds or updates ip. It reports false if the table is full (kept at
// most 3/4 full so probes stay short). A learned (not static) update of a
// static entry is ignored: the control side never sends one, and a late
// one must not undo what the operator set.
func (t *neighTable) set(ip uint32, mac [6]byte, now int64, static bool) bool {
	if ip == 0 {
		return false
	}
	i := hash(ip) & t.mask
	for ; t.slots[i].ip != 0; i = (i + 1) & t.mask {
		if s := &t.slots[i]; s.ip == ip {
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
	t.slots[i] = neigh{ip: ip, mac: mac, seen: now, static: static}
	t.n++
	return true
}

func (t *neighTable) del(ip uint32) bool {
	i := hash(ip) & t.mask
	for ; t.slots[i].ip != ip; i = (i + 1) & t.mask {
		if t.slots[i].ip == 0 {
			return false
		}
	}
	// Backward-shift: move later members of the probe run into the hole so
	// that lookups never stop early at it.
	for {
		t.slots[i] = neigh{}
		j := i
		for {
			j = (j + 1) & t.mask
			if t.slots[j].ip == 0 {
				t.n--
				return true
			}
			home := hash(t.slots[j].ip) & t.mask
			// Move j to i if its home is not in (i, j] cyclically.
			if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
				t.slots[i] = t.slots[j]
				i = j
				break
			}
		}
	}
}

func (t *neighTable) clear() {
	clear(t.slots)
	t.n = 0
}

// expire removes entries not refreshed since before cutoff (static ones
// stay).
func (t *neighTable) expire(cutoff int64) int {
	k := 0
	for i := 0; i < len(t.slots); {
		s := &t.slots[i]
		if s.ip != 0 && s.seen < cutoff && !s.static {
			t.del(s.ip) // may shift another entry into i: look at i again
			k++
			continue
		}
		i++
	}
	return k
}

// unanswered removes the entries whose last refresh request (asked after
// they were last seen) went unanswered since before cutoff, and calls f
// with each: the neighbour stopped answering (Linux's NUD PROBE ->
// FAILED). Static entries are never asked, so never fail.
func (t *neighTable) unanswered(cutoff int64, f func(ip uint32)) int {
	k := 0
	for i := 0; i < len(t.slots); {
		s := &t.slots[i]
		if s.ip != 0 && !s.static && s.unans > s.seen && s.unans < cutoff {
			ip := s.ip
			t.del(ip) // may shift another entry into i: look at i again
			f(ip)
			k++
			continue
		}
		i++
	}
	return k
}
