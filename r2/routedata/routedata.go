// Package routedata reads a real Internet routing table for tests,
// benchmarks and the benchmark tool: a tier1 router's full table, about
// 900,000 IPv4 and 160,000 IPv6 prefixes, one a line. The repository ships
// it in r2/routedata/testdata (see the README there for its origin and
// licence), so a clone on its own runs the full-table tests.
package routedata

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"math/rand"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// FileName is the table's file name, in testdata beside this package's
// source and in a shared/data directory.
const FileName = "tier1-prefixes.txt.gz"

// module is the module path, recognised in go.mod when looking for the
// repository's root.
const module = "github.com/r2go/r2"

// ErrNotFound is returned when the table file cannot be found.
var ErrNotFound = errors.New("routedata: " + FileName + " not found")

// Find returns the path of the table. It looks, in order:
//
//   - in the repository: r2/routedata/testdata/tier1-prefixes.txt.gz, found
//     beside this package's source file (when the binary was built from a
//     checkout) or under the module root found by walking up from the
//     working directory, so it works from any package's test directory and
//     for go run ./utils/r2bench from the repository;
//   - in $R2_ROUTEDATA, if set (an error if that file does not exist);
//   - in shared/data/tier1-prefixes.txt.gz in the working directory, its
//     parent, or beside one of their ancestors.
func Find() (string, error) {
	if p, ok := inRepo(); ok {
		return p, nil
	}
	if p := os.Getenv("R2_ROUTEDATA"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("routedata: R2_ROUTEDATA: %w", err)
		}
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		for _, c := range []string{filepath.Join(dir, "shared", "data", FileName), filepath.Join(dir, "..", "shared", "data", FileName)} {
			if _, err := os.Stat(c); err == nil {
				return filepath.Clean(c), nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNotFound
		}
		dir = parent
	}
}

// inRepo returns the repository's copy of the table: beside this source
// file, or under the root of the module that contains the working
// directory.
func inRepo() (string, bool) {
	var cands []string
	// An absolute path unless the binary was built with -trimpath.
	if _, src, _, ok := runtime.Caller(0); ok && filepath.IsAbs(src) {
		cands = append(cands, filepath.Join(filepath.Dir(src), "testdata", FileName))
	}
	if dir, err := os.Getwd(); err == nil {
		if root, ok := moduleRoot(dir); ok {
			cands = append(cands, filepath.Join(root, "r2", "routedata", "testdata", FileName))
		}
	}
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() {
			return c, true
		}
	}
	return "", false
}

// moduleRoot walks up from dir to the directory whose go.mod declares this
// module.
func moduleRoot(dir string) (string, bool) {
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && declares(b) {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// declares reports whether the go.mod text b declares this module.
func declares(b []byte) bool {
	for _, line := range bytes.Split(b, []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) >= 2 && f[0] == "module" && strings.Trim(f[1], `"`) == module {
			return true
		}
	}
	return false
}

// LoadIPv4 reads the IPv4 prefixes of the table at path, masked and in file
// order. Lines that are not prefixes are an error naming the line.
func LoadIPv4(path string) ([]netip.Prefix, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("routedata: %w", err)
	}
	defer f.Close()
	var r *bufio.Scanner
	if strings.HasSuffix(path, ".gz") {
		z, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("routedata: %s: %w", path, err)
		}
		defer z.Close()
		r = bufio.NewScanner(z)
	} else {
		r = bufio.NewScanner(f)
	}
	var out []netip.Prefix
	for line := 1; r.Scan(); line++ {
		s := strings.TrimSpace(r.Text())
		if s == "" || s[0] == '#' || strings.Contains(s, ":") {
			continue // IPv6
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("routedata: %s:%d: %w", path, line, err)
		}
		out = append(out, p.Masked())
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("routedata: %s: %w", path, err)
	}
	return out, nil
}

// RandomHosts returns n addresses, each a random host inside a random
// prefix of ps, from a fixed seed so runs are comparable.
func RandomHosts(ps []netip.Prefix, n int, seed int64) []netip.Addr {
	rng := rand.New(rand.NewSource(seed))
	out := make([]netip.Addr, n)
	for i := range out {
		p := ps[rng.Intn(len(ps))]
		a := p.Addr().As4()
		v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
		if b := p.Bits(); b < 32 {
			v |= rng.Uint32() & (1<<(32-b) - 1)
		}
		out[i] = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	return out
}
