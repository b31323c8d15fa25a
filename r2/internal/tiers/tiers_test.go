package tiers

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/r2go/r2/"

// tier of each module package, by path prefix (longest match wins).
var tiers = map[string]int{
	"r2/names": 1, "fwd": 1, "counters": 1, "logs": 1, "r2/ring": 1, "r2/hdr": 1, "r2/routedata": 1,
	"r2/packet": 2, "r2/poll": 2, "r2/internal/pagemem": 2,
	"r2/graph": 3, "r2/msg": 3, "r2/driver": 3, "r2/netdev": 3,
	"gnodes":    4,
	"r2/engine": 5, "r2/api": 5, "apis": 5, "r2/topo": 5, "r2/internal": 5,
	"r2": 6, "utils": 6,
}

func tierOf(pkg string) (int, bool) {
	rel := strings.TrimPrefix(pkg, mod)
	best, tier := "", 0
	for p, t := range tiers {
		if (rel == p || strings.HasPrefix(rel, p+"/")) && len(p) > len(best) {
			best, tier = p, t
		}
	}
	return tier, best != ""
}

// pure packages must not reach the system, netlink or Thrift directly.
var pure = []string{"r2/names", "fwd", "r2/hdr", "r2/graph", "r2/msg", "gnodes", "r2/packet"}

var impure = []string{"golang.org/x/sys/unix", "github.com/vishvananda/", "github.com/apache/thrift", "github.com/cilium/ebpf", "syscall"}

func TestTiers(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg, imports := f[0], f[1:]
		pt, ok := tierOf(pkg)
		if !ok {
			t.Errorf("%s has no tier: add it to the table", pkg)
			continue
		}
		n++
		for _, imp := range imports {
			if it, ok := tierOf(imp); ok && strings.HasPrefix(imp, mod) && it > pt {
				t.Errorf("%s (tier %d) imports %s (tier %d)", pkg, pt, imp, it)
			}
			for _, p := range pure {
				rel := strings.TrimPrefix(pkg, mod)
				if rel != p && !strings.HasPrefix(rel, p+"/") {
					continue
				}
				for _, bad := range impure {
					if strings.HasPrefix(imp, bad) {
						t.Errorf("%s must not import %s", pkg, imp)
					}
				}
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d packages checked", n)
	}
}
