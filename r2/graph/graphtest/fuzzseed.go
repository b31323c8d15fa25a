package graphtest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Seed is one entry of a fuzz target's seed corpus: the arguments of the
// fuzz function, in order. Supported types: []byte, string, bool and the
// integer types.
type Seed []any

// SeedFile encodes args in the "go test fuzz v1" corpus file format that
// testing.F reads from testdata/fuzz/FuzzName/.
func SeedFile(args ...any) string {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(v)))
		case string:
			fmt.Fprintf(&b, "string(%s)\n", strconv.Quote(v))
		case bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
			fmt.Fprintf(&b, "%T(%v)\n", v, v)
		default:
			panic(fmt.Sprintf("graphtest: unsupported fuzz argument type %T", a))
		}
	}
	return b.String()
}

// SyncSeeds keeps the seed corpus of the fuzz target called fuzz, in
// testdata/fuzz/<fuzz>, in agreement with seeds, which the test builds in
// code so that each seed says what it exercises. With update it rewrites
// the files first; otherwise it fails the test if a file is missing or out
// of date. Files found on disk but absent from seeds are left alone: they
// are inputs the fuzzer found (a crasher stays there as a regression test).
func SyncSeeds(t testing.TB, fuzz string, seeds map[string]Seed, update bool) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", fuzz)
	if update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Sorted so that failures come in a stable order.
	keys := make([]string, 0, len(seeds))
	for k := range seeds {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, name := range keys {
		want := SeedFile(seeds[name]...)
		path := filepath.Join(dir, name)
		if update {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v (rewrite the corpus with -update-seeds)", err)
			continue
		}
		if string(got) != want {
			t.Errorf("seed %s is out of date (rewrite the corpus with -update-seeds)", path)
		}
	}
}
