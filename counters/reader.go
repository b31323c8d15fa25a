package counters

import (
	"encoding/binary"
	"fmt"
	"os"
	"sort"

	"golang.org/x/sys/unix"
)

// Entry is one counter as a reader sees it.
type Entry struct {
	Name   string
	Kind   Kind
	Thread int
	Values []uint64
}

// ReadFile maps the counters file at path read-only, copies out every live
// counter and unmaps it. It never writes the file.
func ReadFile(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("counters: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("counters: %w", err)
	}
	if st.Size() < headerSize {
		return nil, fmt.Errorf("counters: %s: file too short (%d bytes) to be a counters file", path, st.Size())
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("counters: mmap %s: %w", path, err)
	}
	defer unix.Munmap(mem)
	es, err := parse(mem)
	if err != nil {
		return nil, fmt.Errorf("counters: %s: %w", path, err)
	}
	return es, nil
}

// parse reads a mapped counters file, checking every offset against the
// mapping so a corrupt or foreign file gives an error, not a crash.
func parse(mem []byte) ([]Entry, error) {
	le := binary.LittleEndian
	if len(mem) < headerSize || string(mem[:8]) != magic {
		return nil, fmt.Errorf("not a counters file (bad magic)")
	}
	if v := le.Uint32(mem[8:]); v != version {
		return nil, fmt.Errorf("unsupported counters version %d", v)
	}
	if es := le.Uint32(mem[12:]); es != entrySize {
		return nil, fmt.Errorf("unsupported entry size %d", es)
	}
	size := uint64(len(mem))
	dirOff, dirCap := le.Uint64(mem[offDirOff:]), le.Uint64(mem[offDirCap:])
	namesOff, namesCap := le.Uint64(mem[offNamesOff:]), le.Uint64(mem[offNamesCap:])
	valsOff, valsCap := le.Uint64(mem[offValsOff:]), le.Uint64(mem[offValsCap:])
	used := le.Uint64(mem[offDirUsed:])
	if dirOff > size || dirCap > (size-dirOff)/entrySize || namesOff > size || namesCap > size-namesOff ||
		valsOff > size || valsCap > (size-valsOff)/8 || used > dirCap {
		return nil, fmt.Errorf("corrupt header")
	}
	out := make([]Entry, 0, used)
	for i := uint64(0); i < used; i++ {
		e := mem[dirOff+i*entrySize : dirOff+(i+1)*entrySize]
		if e[7]&flagLive == 0 {
			continue
		}
		nOff, nLen := uint64(le.Uint32(e[0:])), uint64(le.Uint16(e[4:]))
		n, first := uint64(le.Uint32(e[12:])), le.Uint64(e[16:])
		// first > valsCap-n, not first+n > valsCap: a hostile first near
		// 2^64 would wrap the sum and pass.
		if nOff+nLen > namesCap || n > maxArrayLen || n > valsCap || first > valsCap-n {
			return nil, fmt.Errorf("corrupt directory entry %d", i)
		}
		ent := Entry{
			Name:   string(mem[namesOff+nOff : namesOff+nOff+nLen]),
			Kind:   Kind(e[6]),
			Thread: int(le.Uint32(e[8:])),
			Values: make([]uint64, n),
		}
		for j := range ent.Values {
			ent.Values[j] = le.Uint64(mem[valsOff+(first+uint64(j))*8:])
		}
		out = append(out, ent)
	}
	return out, nil
}

// Total is a counter summed over threads.
type Total struct {
	Name      string
	Kind      Kind
	PerThread map[int][]uint64
	Sum       []uint64
}

// Totals groups entries by name, sums them over threads and sorts by name.
func Totals(es []Entry) []Total {
	idx := map[string]int{}
	var out []Total
	for _, e := range es {
		i, ok := idx[e.Name]
		if !ok {
			i = len(out)
			idx[e.Name] = i
			out = append(out, Total{Name: e.Name, Kind: e.Kind, PerThread: map[int][]uint64{}, Sum: make([]uint64, len(e.Values))})
		}
		t := &out[i]
		if prev, ok := t.PerThread[e.Thread]; ok {
			// The same name twice on one thread: add them up.
			for j := range prev {
				if j < len(e.Values) {
					prev[j] += e.Values[j]
				}
			}
		} else {
			t.PerThread[e.Thread] = append([]uint64(nil), e.Values...)
		}
		for j := range e.Values {
			if j < len(t.Sum) {
				t.Sum[j] += e.Values[j]
			}
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// Value is the total of the first value of the counter called name in es,
// and whether it exists. A convenience for tests and tools.
func Value(es []Entry, name string) (uint64, bool) {
	var sum uint64
	found := false
	for _, e := range es {
		if e.Name == name && len(e.Values) > 0 {
			sum += e.Values[0]
			found = true
		}
	}
	return sum, found
}
