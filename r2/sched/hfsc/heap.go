package hfsc

// The scheduler keeps classes in five kinds of binary min-heaps. A class is
// in at most one heap of each kind, and remembers its position there so it
// can be moved or removed in O(log n) without searching.
const (
	hFit   = iota // parent's active children that may be served now, by virtual time
	hWait         // parent's active children over an upper limit, by fit time
	hVMax         // parent's active children by -vt (the largest virtual time)
	hReady        // eligible real-time leaves, by deadline
	hPend         // real-time leaves not yet eligible, by eligible time
	nHeaps
)

// hent is one heap entry. The key is copied into the entry so sifting
// compares without touching the classes.
type hent struct {
	key int64
	c   *class
}

// heap is a binary min-heap of classes. Its backing array is sized when
// classes are added (ensure), so pushes never allocate on the data path.
type heap struct {
	a    []hent
	kind int // index into class.hidx
}

func (h *heap) len() int { return len(h.a) }

// ensure makes room for n entries; control path only.
func (h *heap) ensure(n int) {
	if cap(h.a) < n {
		a := make([]hent, len(h.a), n+n/2+4)
		copy(a, h.a)
		h.a = a
	}
}

func (h *heap) top() (*class, int64) {
	if len(h.a) == 0 {
		return nil, 0
	}
	return h.a[0].c, h.a[0].key
}

func (h *heap) has(c *class) bool { return c.hidx[h.kind] >= 0 }

func (h *heap) set(i int, e hent) {
	h.a[i] = e
	e.c.hidx[h.kind] = int32(i)
}

func (h *heap) push(c *class, key int64) {
	h.a = append(h.a, hent{key, c})
	c.hidx[h.kind] = int32(len(h.a) - 1)
	h.up(len(h.a) - 1)
}

func (h *heap) remove(c *class) {
	i := int(c.hidx[h.kind])
	c.hidx[h.kind] = -1
	n := len(h.a) - 1
	if i != n {
		h.set(i, h.a[n])
	}
	h.a[n] = hent{}
	h.a = h.a[:n]
	if i != n {
		h.fixAt(i)
	}
}

// update changes c's key, pushing c if it is not in the heap.
func (h *heap) update(c *class, key int64) {
	i := int(c.hidx[h.kind])
	if i < 0 {
		h.push(c, key)
		return
	}
	if h.a[i].key == key {
		return
	}
	h.a[i].key = key
	h.fixAt(i)
}

func (h *heap) fixAt(i int) {
	if !h.up(i) {
		h.down(i)
	}
}

func (h *heap) up(i int) bool {
	e := h.a[i]
	j := i
	for j > 0 {
		p := (j - 1) / 2
		if h.a[p].key <= e.key {
			break
		}
		h.set(j, h.a[p])
		j = p
	}
	if j != i {
		h.set(j, e)
		return true
	}
	return false
}

func (h *heap) down(i int) {
	e := h.a[i]
	n := len(h.a)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.a[r].key < h.a[l].key {
			m = r
		}
		if h.a[m].key >= e.key {
			break
		}
		h.set(i, h.a[m])
		i = m
	}
	h.set(i, e)
}
