//go:build linux

package e2e

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// moduleRoot is the checkout this test runs in.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// goIn runs the go tool in dir and fails the test on error.
func goIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
}

// TestExtensionModule builds the example extension (utils/extension) the
// way a user would: as a separate module in a directory of its own, whose
// go.mod points at this checkout, with its own main calling daemon.Main.
// The binary is then run as the router, and a ping shows packets going
// through both extension nodes: SrcCount counts every IPv4 packet per
// source /24 into the keyed store, and SrcLimit drops a source's packets
// beyond the limit it published there.
func TestExtensionModule(t *testing.T) {
	root := moduleRoot(t)
	src := filepath.Join(root, "utils", "extension")
	mod := filepath.Join(t.TempDir(), "r2ext")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(mod, rel), 0o755)
		}
		if rel == "go.mod" || rel == "go.sum" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(mod, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	gomod := "module example.com/r2ext\n\ngo 1.26.0\n\nrequire github.com/r2go/r2 v0.0.0\n\nreplace github.com/r2go/r2 => " + root + "\n"
	if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mod, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	goIn(t, mod, "vet", "./...")
	goIn(t, mod, "test", "./...")
	exe := filepath.Join(mod, "r2ext")
	goIn(t, mod, "build", "-o", exe, "./cmd/r2ext")

	tp := newTopo(t)
	d := startDaemon(t, exe, []string{"R2EXT_SRC_LIMIT=5"}, uniqueInstance(t), "-threads", "1")
	attach(t, d, tp, 0, 0)
	d.must(t, "r2log", "enable")

	// h1's echo requests: 1..5 pass, 6..10 are over the limit. h2's
	// replies come from another /24 and all pass.
	r, err := tp.Ping(tp.H1NS, "10.2.0.1", 10, 20*time.Millisecond)
	if err != nil {
		t.Fatalf("ping: %v", err)
	}
	if r.Received != 5 {
		t.Errorf("received %d of 10 pings, want exactly 5 (limit 5 per source /24)\n%s", r.Received, r.Output)
	}
	c := d.counters(t)
	get := func(name string) uint64 {
		if v := c[name]; len(v) > 0 {
			return v[0]
		}
		return 0
	}
	if got := get("SrcLimit/over_limit"); got != 5 {
		t.Errorf("SrcLimit/over_limit = %d, want 5", got)
	}
	if got := get("SrcCount/counted"); got != 15 {
		t.Errorf("SrcCount/counted = %d, want 15 (10 requests, 5 replies)", got)
	}
	if got := get("SrcLimit/passed"); got != 10 {
		t.Errorf("SrcLimit/passed = %d, want 10", got)
	}
	if get("IPv4Fwd/forwarded") != 10 {
		t.Errorf("IPv4Fwd forwarded %d packets, want 10 (5 requests, 5 replies)", get("IPv4Fwd/forwarded"))
	}
	logs := d.must(t, "r2log", "show")
	if !strings.Contains(logs, "SrcLimit: 10.1.0.1 over its limit") {
		t.Errorf("no SrcLimit entry in the forwarding log:\n%s", logs)
	}
}
