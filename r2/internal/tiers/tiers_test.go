package tiers

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

const mod = "github.com/r2go/r2/"

// readTiers parses the tier table in README.md: the fenced block after the
// line starting "Package tiers", one "N  pkg pkg..." line per tier.
func readTiers(t *testing.T) map[string]int {
	t.Helper()
	f, err := os.Open("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tiers := map[string]int{}
	state := 0 // 0: before the heading, 1: before the block, 2: in it
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case state == 0 && strings.HasPrefix(line, "Package tiers"):
			state = 1
		case state == 1 && strings.HasPrefix(line, "```"):
			state = 2
		case state == 2 && strings.HasPrefix(line, "```"):
			return tiers
		case state == 2:
			f := strings.Fields(line)
			if len(f) < 2 {
				t.Fatalf("README tier line %q: want a number and packages", line)
			}
			n, err := strconv.Atoi(f[0])
			if err != nil {
				t.Fatalf("README tier line %q: %v", line, err)
			}
			for _, p := range f[1:] {
				if _, dup := tiers[p]; dup {
					t.Fatalf("README lists %s twice", p)
				}
				tiers[p] = n
			}
		}
	}
	t.Fatal("README.md has no tier table")
	return nil
}

// tierOf finds pkg (relative to the module) in the table: an exact entry,
// or the longest "dir/..." entry covering it.
func tierOf(tiers map[string]int, rel string) (int, bool) {
	if n, ok := tiers[rel]; ok {
		return n, true
	}
	best, tier := "", 0
	for p, n := range tiers {
		dir, ok := strings.CutSuffix(p, "/...")
		if ok && (rel == dir || strings.HasPrefix(rel, dir+"/")) && len(dir) > len(best) {
			best, tier = dir, n
		}
	}
	return tier, best != ""
}

// pure packages must not reach the system, netlink or Thrift directly.
var pure = []string{"r2/names", "fwd", "r2/hdr", "r2/graph", "r2/msg", "gnodes", "r2/packet", "r2/store", "r2/ctl", "r2/registry", "r2/sched"}

var impure = []string{"golang.org/x/sys/unix", "github.com/vishvananda/", "github.com/apache/thrift", "github.com/cilium/ebpf", "syscall"}

func TestTiers(t *testing.T) {
	tiers := readTiers(t)
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg, imports := f[0], f[1:]
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg, mod), "github.com/r2go/r2")
		if rel == "" {
			rel = "."
		}
		pt, ok := tierOf(tiers, rel)
		if !ok {
			t.Errorf("%s is in no tier: add it to the table in README.md", rel)
			continue
		}
		n++
		for _, imp := range imports {
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			if it, ok := tierOf(tiers, strings.TrimPrefix(imp, mod)); ok && it > pt {
				t.Errorf("%s (tier %d) imports %s (tier %d)", rel, pt, strings.TrimPrefix(imp, mod), it)
			}
		}
		for _, p := range pure {
			if rel != p && !strings.HasPrefix(rel, p+"/") {
				continue
			}
			for _, imp := range imports {
				for _, bad := range impure {
					if strings.HasPrefix(imp, bad) {
						t.Errorf("%s must not import %s", rel, imp)
					}
				}
			}
		}
	}
	if n < 40 {
		t.Fatalf("only %d packages checked", n)
	}
}

// TestTableCoversOnlyRealPackages catches stale README entries: every
// exact entry must be a package of the module.
func TestTableCoversOnlyRealPackages(t *testing.T) {
	tiers := readTiers(t)
	out, err := exec.Command("go", "list", mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	have := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		have[strings.TrimPrefix(p, mod)] = true
	}
	for p := range tiers {
		if strings.HasSuffix(p, "/...") {
			continue
		}
		if !have[p] {
			t.Errorf("README tier table lists %s, which is not a package", p)
		}
	}
}
