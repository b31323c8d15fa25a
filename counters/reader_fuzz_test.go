package counters_test

import (
	"encoding/binary"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/r2go/r2/counters"
	gt "github.com/r2go/r2/r2/graph/graphtest"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz from the seeds built in the tests")

var le = binary.LittleEndian

// Offsets of the file layout (doc.go) the test reads on its own.
const (
	headerSize = 128
	entrySize  = 32
)

// pristineCounters makes a small counters file with live and released
// counters of every kind on two threads and returns its bytes and what
// ReadFile makes of it.
func pristineCounters(t testing.TB) ([]byte, []counters.Entry) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "r2-fuzz-counters")
	r, err := counters.Create(path, counters.Sizes{Entries: 8, Names: 100, Values: 24})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		thread int
		name   string
		kind   counters.Kind
		vals   []uint64
	}{
		{0, "IPv4Fwd/no_route", counters.KindSingle, []uint64{5}},
		{1, "IfNode:eth0/rx", counters.KindPktByte, []uint64{10, 1000}},
		{0, "Gone/x", counters.KindSingle, []uint64{7}},
		{0, "Hist/sizes", counters.KindArray, []uint64{1, 2, 3, 4}},
		{1, "IPv4Fwd/no_route", counters.KindSingle, []uint64{^uint64(0)}},
	} {
		v, err := r.Alloc(c.thread, c.name, c.kind, len(c.vals))
		if err != nil {
			t.Fatal(err)
		}
		copy(v, c.vals)
	}
	r.Release(0, "Gone/")
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	es, err := counters.ReadFile(path)
	if err != nil || len(es) != 4 {
		t.Fatalf("pristine file: %d entries, %v", len(es), err)
	}
	return b, es
}

// edit is one change to the file: the bytes at off replaced by data.
type edit struct {
	off  int
	data []byte
}

// decodeEdits reads records of [offset high, offset low, length, bytes...]
// from b; offsets wrap around size, lengths stop at the end of the file.
func decodeEdits(b []byte, size int) []edit {
	var out []edit
	for len(b) >= 3 {
		off := int(b[0])<<8 | int(b[1])
		off %= size
		n := min(int(b[2]), len(b)-3, size-off)
		out = append(out, edit{off: off, data: b[3 : 3+n]})
		b = b[3+n:]
	}
	return out
}

// encodeEdits is the inverse of decodeEdits, for the seeds.
func encodeEdits(es ...edit) []byte {
	var b []byte
	for _, e := range es {
		b = append(b, byte(e.off>>8), byte(e.off), byte(len(e.data)))
		b = append(b, e.data...)
	}
	return b
}

func u64(v uint64) []byte { return le.AppendUint64(nil, v) }
func u32(v uint32) []byte { return le.AppendUint32(nil, v) }

// countersSeeds are the seed corpus of FuzzCountersRead: edits to the
// pristine file (see pristineCounters: directory at 128, names at 384,
// values at 488) and the length it is cut to (0: not cut).
func countersSeeds() map[string]gt.Seed {
	dir := func(i, field int) int { return headerSize + i*entrySize + field }
	return map[string]gt.Seed{
		"pristine":            {[]byte{}, uint16(0)},
		"bad_magic":           {encodeEdits(edit{0, []byte("R2LOGS")}), uint16(0)},
		"bad_version":         {encodeEdits(edit{8, u32(2)}), uint16(0)},
		"header_only":         {[]byte{}, uint16(headerSize)},
		"cut_in_values":       {[]byte{}, uint16(500)},
		"cut_short":           {[]byte{}, uint16(40)},
		"dir_off_huge":        {encodeEdits(edit{16, u64(1 << 62)}), uint16(0)},
		"dir_cap_huge":        {encodeEdits(edit{24, u64(^uint64(0) / 2)}), uint16(0)},
		"names_cap_huge":      {encodeEdits(edit{40, u64(^uint64(0))}), uint16(0)},
		"vals_cap_huge":       {encodeEdits(edit{56, u64(^uint64(0) >> 3)}), uint16(0)},
		"used_beyond_cap":     {encodeEdits(edit{64, u64(9)}), uint16(0)},
		"name_beyond":         {encodeEdits(edit{dir(0, 0), u32(95)}, edit{dir(0, 4), []byte{200, 0}}), uint16(0)},
		"values_many":         {encodeEdits(edit{dir(1, 12), u32(65)}), uint16(0)},
		"first_value_wraps":   {encodeEdits(edit{dir(0, 16), u64(^uint64(0))}), uint16(0)},
		"first_value_wraps_2": {encodeEdits(edit{dir(3, 12), u32(64)}, edit{dir(3, 16), u64(^uint64(63))}), uint16(0)},
		"revive_released":     {encodeEdits(edit{dir(2, 7), []byte{1}}), uint16(0)},
		"torn_value":          {encodeEdits(edit{488 + 8, []byte{0xff, 0xff, 0xff}}), uint16(0)},
		"kind_unknown":        {encodeEdits(edit{dir(0, 6), []byte{9}}), uint16(0)},
	}
}

func TestFuzzCountersReadSeeds(t *testing.T) {
	gt.SyncSeeds(t, "FuzzCountersRead", countersSeeds(), *updateSeeds)
}

// FuzzCountersRead writes a counters file with arbitrary torn or hostile
// bytes (edits to a valid file, possibly cut short) and reads it as r2cnt
// does. ReadFile must not panic and must either return an error or
// entries that a careful reading of the same bytes gives: every value and
// name inside its area, at most 64 values per counter. Counters whose
// header, directory entry, name and values were not touched must read as
// before, and an untouched file reads exactly as before.
func FuzzCountersRead(f *testing.F) {
	// The seeds are in testdata/fuzz/FuzzCountersRead (TestFuzzCountersReadSeeds).
	pristine, want := pristineCounters(f)
	path := filepath.Join(f.TempDir(), "r2-fuzz-counters")
	f.Fuzz(func(t *testing.T, edits []byte, cut uint16) {
		b := append([]byte(nil), pristine...)
		dirty := make([]bool, len(b))
		for _, e := range decodeEdits(edits, len(b)) {
			copy(b[e.off:], e.data)
			for i := range e.data {
				dirty[e.off+i] = true
			}
		}
		if cut != 0 {
			n := int(cut) % len(b)
			b = b[:n]
			for i := n; i < len(dirty); i++ {
				dirty[i] = true
			}
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := counters.ReadFile(path)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			if !isDirty(dirty, 0, len(dirty)) {
				t.Fatalf("untouched file refused: %v", err)
			}
			return
		}
		counters.Totals(got) // what r2cnt shows next; must not panic
		checkCareful(t, b, got)
		if !isDirty(dirty, 0, len(dirty)) {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("untouched file reads differently (-want +got):\n%s", diff)
			}
		}
		checkClean(t, pristine, dirty, want, got)
	})
}

func isDirty(dirty []bool, from, to int) bool {
	for i := max(from, 0); i < min(to, len(dirty)); i++ {
		if dirty[i] {
			return true
		}
	}
	return from < 0 || to > len(dirty)
}

// checkCareful reads the directory of b again with overflow-proof checks
// and compares with what ReadFile returned.
func checkCareful(t *testing.T, b []byte, got []counters.Entry) {
	t.Helper()
	size := uint64(len(b))
	dirOff, namesOff, namesCap := le.Uint64(b[16:]), le.Uint64(b[32:]), le.Uint64(b[40:])
	valsOff, valsCap, used := le.Uint64(b[48:]), le.Uint64(b[56:]), le.Uint64(b[64:])
	if used > size/entrySize || namesOff > size || namesCap > size-namesOff || valsOff > size || valsCap > (size-valsOff)/8 {
		t.Fatalf("accepted a header with areas beyond the file: %x", b[:headerSize])
	}
	if uint64(len(got)) > used {
		t.Fatalf("%d entries from %d directory entries", len(got), used)
	}
	k := 0
	for i := uint64(0); i < used; i++ {
		e := b[dirOff+i*entrySize:][:entrySize]
		if e[7]&1 == 0 {
			continue
		}
		if k >= len(got) {
			t.Fatalf("live directory entry %d missing", i)
		}
		g := got[k]
		k++
		nOff, nLen := uint64(le.Uint32(e[0:])), uint64(le.Uint16(e[4:]))
		n, first := uint64(le.Uint32(e[12:])), le.Uint64(e[16:])
		if nOff+nLen > namesCap || n > 64 || first > valsCap || n > valsCap-first {
			t.Fatalf("entry %d accepted: name %d+%d of %d, values %d+%d of %d", i, nOff, nLen, namesCap, first, n, valsCap)
		}
		want := counters.Entry{Name: string(b[namesOff+nOff : namesOff+nOff+nLen]), Kind: counters.Kind(e[6]),
			Thread: int(le.Uint32(e[8:])), Values: make([]uint64, n)}
		for j := range want.Values {
			want.Values[j] = le.Uint64(b[valsOff+(first+uint64(j))*8:])
		}
		if diff := cmp.Diff(want, g); diff != "" {
			t.Fatalf("entry %d (-careful +ReadFile):\n%s", i, diff)
		}
	}
	if k != len(got) {
		t.Fatalf("%d entries, %d live in the directory", len(got), k)
	}
}

// checkClean checks that every counter of want whose bytes (header,
// directory entry, name, values) were not touched is in got unchanged.
func checkClean(t *testing.T, pristine []byte, dirty []bool, want, got []counters.Entry) {
	t.Helper()
	if isDirty(dirty, 0, headerSize) {
		return
	}
	namesOff, valsOff := int(le.Uint64(pristine[32:])), int(le.Uint64(pristine[48:]))
	k := 0
	for i := 0; i < int(le.Uint64(pristine[64:])); i++ {
		e := pristine[headerSize+i*entrySize:][:entrySize]
		if e[7]&1 == 0 {
			continue
		}
		w := want[k]
		k++
		nOff, nLen := namesOff+int(le.Uint32(e[0:])), int(le.Uint16(e[4:]))
		vOff, n := valsOff+8*int(le.Uint64(e[16:])), int(le.Uint32(e[12:]))
		if isDirty(dirty, headerSize+i*entrySize, headerSize+(i+1)*entrySize) || isDirty(dirty, nOff, nOff+nLen) ||
			isDirty(dirty, vOff, vOff+8*n) {
			continue
		}
		found := false
		for _, g := range got {
			found = found || cmp.Equal(w, g)
		}
		if !found {
			t.Fatalf("untouched counter %+v not read back", w)
		}
	}
}
