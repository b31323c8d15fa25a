// Package routedata reads the real Internet routing table shipped beside
// the repository (shared/data/tier1-prefixes.txt.gz, one prefix a line) for
// tests, benchmarks and the benchmark tool.
package routedata

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"math/rand"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// FileName is the table's file name inside shared/data.
const FileName = "tier1-prefixes.txt.gz"

// ErrNotFound is returned when the table file cannot be found.
var ErrNotFound = errors.New("routedata: " + FileName + " not found")

// Find looks for shared/data/tier1-prefixes.txt.gz beside the repository:
// in $R2_ROUTEDATA if set, else walking up from the working directory.
func Find() (string, error) {
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
