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

func TestFindRealTable(t *testing.T) {
	p, err := Find()
	if err != nil {
		t.Skipf("real table not beside the repository: %v", err)
	}
	ps, err := LoadIPv4(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) < 800000 {
		t.Fatalf("only %d IPv4 prefixes in %s", len(ps), p)
	}
}
