package routedata

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLoadAndHosts(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "t.txt")
	os.WriteFile(p, []byte("10.0.0.0/8\n2001:db8::/32\n\n192.0.2.0/24\n"), 0o644)
	ps, err := LoadIPv4(p)
	if err != nil || len(ps) != 2 || ps[1].String() != "192.0.2.0/24" {
		t.Fatalf("LoadIPv4 = %v, %v", ps, err)
	}
	for _, a := range RandomHosts(ps, 100, 1) {
		if !ps[0].Contains(a) && !ps[1].Contains(a) {
			t.Fatalf("%s is in no prefix", a)
		}
	}
	os.WriteFile(p, []byte("10.0.0.0/8\nbogus\n"), 0o644)
	if _, err := LoadIPv4(p); err == nil {
		t.Fatal("bad line accepted")
	}
}

// TestFindRealTable: the repository ships the table, so Find finds it
// from any directory, ahead of $R2_ROUTEDATA, and it is the whole table.
func TestFindRealTable(t *testing.T) {
	want, err := filepath.Abs(filepath.Join("testdata", FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(want); err != nil {
		t.Fatalf("the repository's table is missing: %v", err)
	}
	t.Setenv("R2_ROUTEDATA", filepath.Join(t.TempDir(), "elsewhere.txt.gz"))
	t.Chdir(t.TempDir())
	p, err := Find()
	if err != nil {
		t.Fatalf("Find from outside the repository: %v", err)
	}
	if p != want {
		t.Errorf("Find = %s, want the repository's copy %s", p, want)
	}
	ps, err := LoadIPv4(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) < 800000 {
		t.Fatalf("only %d IPv4 prefixes in %s", len(ps), p)
	}
}

func TestModuleRoot(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	// Another module's go.mod on the way up is passed over.
	os.WriteFile(filepath.Join(root, "a", "go.mod"), []byte("module example.com/other\n"), 0o644)
	os.WriteFile(filepath.Join(root, "go.mod"), []byte("// R2\nmodule github.com/r2go/r2\n\ngo 1.26\n"), 0o644)
	if got, ok := moduleRoot(sub); !ok || got != root {
		t.Errorf("moduleRoot(%s) = %s, %v; want %s", sub, got, ok, root)
	}
	if got, ok := moduleRoot(t.TempDir()); ok {
		t.Errorf("moduleRoot outside the module = %s", got)
	}
}
