package counters

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cnt")
	r, err := Create(path, Sizes{Entries: 16, Names: 256, Values: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Remove()
	c0 := r.Counter(0, "IPv4Fwd/no_route")
	c1 := r.Counter(1, "IPv4Fwd/no_route")
	pb := r.PktByte(0, "IfNode:veth0/rx")
	arr := r.Array(1, "IfNode:veth0/batch", 4)
	c0.Add(3)
	c1.Inc()
	pb.Add(60)
	pb.Add(1500)
	arr.Inc(2)
	arr.Inc(9) // out of range: ignored

	es, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := Value(es, "IPv4Fwd/no_route"); !ok || v != 4 {
		t.Fatalf("no_route total = %d, %v; want 4", v, ok)
	}
	tot := Totals(es)
	want := map[string][]uint64{
		"IPv4Fwd/no_route":   {4},
		"IfNode:veth0/rx":    {2, 1560},
		"IfNode:veth0/batch": {0, 0, 1, 0},
	}
	if len(tot) != len(want) {
		t.Fatalf("got %d totals, want %d: %+v", len(tot), len(want), tot)
	}
	for _, x := range tot {
		w := want[x.Name]
		if fmt.Sprint(x.Sum) != fmt.Sprint(w) {
			t.Errorf("%s: sum %v, want %v", x.Name, x.Sum, w)
		}
	}
	if got := tot[0].PerThread; tot[0].Name != "IPv4Fwd/no_route" || fmt.Sprint(got[0], got[1]) != "[3] [1]" {
		t.Errorf("per thread no_route = %v", got)
	}
}

func TestReleaseRecyclesValues(t *testing.T) {
	r, err := NewMem(Sizes{Entries: 64, Names: 4096, Values: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := 0; i < 10; i++ { // 10 x 2 values would not fit in 4 without reuse
		a := r.PktByte(0, "IfNode:x/rx")
		b := r.PktByte(1, "IfNode:x/rx")
		a.Add(10)
		b.Add(10)
		if n := r.Release(-1, "IfNode:x/"); n != 2 {
			t.Fatalf("round %d: released %d, want 2", i, n)
		}
		if n := len(r.Snapshot()); n != 0 {
			t.Fatalf("round %d: %d live entries after release", i, n)
		}
	}
	if r.Overflows() != 0 {
		t.Fatalf("overflows = %d", r.Overflows())
	}
	c := r.PktByte(0, "IfNode:y/rx")
	if c.Pkts() != 0 || c.Bytes() != 0 {
		t.Fatalf("recycled values not zeroed: %d %d", c.Pkts(), c.Bytes())
	}
}

func TestFullAreaNeverFails(t *testing.T) {
	r, err := NewMem(Sizes{Entries: 2, Names: 64, Values: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := 0; i < 5; i++ {
		r.Counter(0, fmt.Sprintf("c%d", i)).Inc()
	}
	r.Array(0, "big", 1000).Inc(999)
	if got := len(r.Snapshot()); got != 2 {
		t.Fatalf("live = %d, want 2", got)
	}
	if r.Overflows() != 3 { // c2..c4; "big" is a bad request, not an overflow
		t.Fatalf("overflows = %d, want 3", r.Overflows())
	}
	if _, err := r.Alloc(0, "", KindSingle, 1); err == nil {
		t.Fatal("empty name accepted")
	}
	if _, err := r.Alloc(0, "x", KindArray, 65); err == nil {
		t.Fatal("65 values accepted")
	}
}

func TestReadFileRejectsGarbage(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		data []byte
	}{
		{"short", []byte("R2")},
		{"bad magic", make([]byte, 256)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name)
			if err := os.WriteFile(p, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := ReadFile(p); err == nil {
				t.Fatal("garbage accepted")
			}
		})
	}
	if _, err := ReadFile(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing file accepted")
	}
	// A valid file whose header claims more entries than fit.
	p := filepath.Join(dir, "corrupt")
	r, err := Create(p, Sizes{Entries: 4, Names: 64, Values: 8})
	if err != nil {
		t.Fatal(err)
	}
	*r.word(offDirUsed) = 1 << 40
	r.Close()
	if _, err := ReadFile(p); err == nil {
		t.Fatal("corrupt header accepted")
	}
}

func BenchmarkCounterInc(b *testing.B) {
	r, err := NewMem(Sizes{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	c := r.Counter(0, "x")
	b.ReportAllocs()
	for b.Loop() {
		c.Inc()
	}
}

func TestInstancePath(t *testing.T) {
	if got, want := InstancePath("blue"), "/dev/shm/r2-blue-counters"; got != want {
		t.Errorf("InstancePath(blue) = %q, want %q", got, want)
	}
}
