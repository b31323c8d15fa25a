package driver_test

import (
	"testing"

	"github.com/r2go/r2/r2/driver"
)

// fakeOffloader is a fake that says whether it takes super-frames.
type fakeOffloader struct {
	fake
	on bool
}

func (f *fakeOffloader) Offloads() bool { return f.on }

// TestGroupOffloads: a group takes super-frames only if every serving
// driver does, since each thread sends on its own.
func TestGroupOffloads(t *testing.T) {
	yes, no, plain := &fakeOffloader{on: true}, &fakeOffloader{on: false}, &fake{kind: "plain"}
	for _, c := range []struct {
		name    string
		members []driver.Driver
		want    bool
	}{
		{"all offload", []driver.Driver{yes, nil, yes}, true},
		{"one says no", []driver.Driver{yes, no}, false},
		{"one is no Offloader", []driver.Driver{plain, yes}, false},
		{"one thread", []driver.Driver{nil, yes}, true},
	} {
		g, err := driver.NewGroup(c.members)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.Offloads(); got != c.want {
			t.Errorf("%s: Offloads() = %v, want %v", c.name, got, c.want)
		}
	}
}
