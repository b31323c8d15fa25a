package driver_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

// fake is a driver that does nothing; fakeMode is one that is also a
// ModeReporter.
type fake struct{ kind string }

func (f *fake) Kind() string                                   { return f.kind }
func (f *fake) Fd() int                                        { return -1 }
func (f *fake) Recv(*packet.Pool, []*packet.Packet) int        { return 0 }
func (f *fake) Send(p *packet.Pool, pkts []*packet.Packet) int { return 0 }
func (f *fake) Pending() bool                                  { return false }
func (f *fake) Close() error                                   { return nil }

type fakeMode struct{ fake }

func (f *fakeMode) ActiveMode() string { return "turbo" }

var (
	_ driver.Driver       = (*fake)(nil)
	_ driver.ModeReporter = (*fakeMode)(nil)
)

// opener returns an OpenFunc that records its calls in calls and fails with
// err if not nil.
func opener(name string, calls *[]string, err error, d driver.Driver) driver.OpenFunc {
	return func(a driver.OpenArgs) (driver.Driver, error) {
		*calls = append(*calls, name)
		if !a.Counters.RxErrors.Valid() {
			return nil, fmt.Errorf("%s: no counters", name)
		}
		if err != nil {
			return nil, err
		}
		return d, nil
	}
}

// registryCalls records which fake drivers opened; registerFakes puts the
// fakes in the process-wide registry once, so that TestRegistry can run
// again (-count) without registering a name twice.
var (
	registryCalls []string
	registerFakes sync.Once
)

func TestRegistry(t *testing.T) {
	calls := &registryCalls
	refused := errors.New("refused by the kernel")
	registerFakes.Do(func() {
		driver.Register("t-slow", driver.Registration{Open: opener("t-slow", calls, nil, &fake{kind: "t-slow"})})
		driver.Register("t-fast", driver.Registration{Open: opener("t-fast", calls, refused, nil), Fallback: "t-slow"})
		driver.Register("t-mode", driver.Registration{Open: opener("t-mode", calls, nil, &fakeMode{fake{kind: "t-mode"}})})
		driver.Register("t-loop1", driver.Registration{Open: opener("t-loop1", calls, refused, nil), Fallback: "t-loop2"})
		driver.Register("t-loop2", driver.Registration{Open: opener("t-loop2", calls, errors.New("loop2 failed"), nil), Fallback: "t-loop1"})
		driver.Register("t-lost", driver.Registration{Open: opener("t-lost", calls, refused, nil), Fallback: "t-none"})
	})

	got := driver.Names()
	if !slices.IsSorted(got) {
		t.Errorf("Names %q not sorted", got)
	}
	for _, n := range []string{"t-fast", "t-slow", "t-mode"} {
		if !slices.Contains(got, n) {
			t.Errorf("Names %q lacks %s", got, n)
		}
	}
	if r, ok := driver.Lookup("t-fast"); !ok || r.Fallback != "t-slow" {
		t.Errorf("Lookup(t-fast) = %+v, %v", r, ok)
	}
	if _, ok := driver.Lookup("t-none"); ok {
		t.Error("Lookup of an unregistered driver succeeded")
	}

	tests := []struct {
		name      string
		driver    string
		wantKind  string // "" means an error
		wantErr   string
		wantCalls []string
		wantLog   string
	}{
		{"plain", "t-slow", "t-slow", "", []string{"t-slow"}, ""},
		{"fallback", "t-fast", "t-slow", "", []string{"t-fast", "t-slow"},
			"interface if0: t-fast refused, falling back to t-slow: refused by the kernel"},
		{"mode logged", "t-mode", "t-mode", "", []string{"t-mode"}, "interface if0: t-mode turbo"},
		{"fallback cycle", "t-loop1", "", "loop2 failed", []string{"t-loop1", "t-loop2"}, "falling back to t-loop2"},
		{"unknown fallback", "t-lost", "", "unknown driver \"t-none\"", []string{"t-lost"}, "falling back to t-none"},
		{"unknown", "t-none", "", "unknown driver \"t-none\" (registered: ", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, err := counters.NewMem(counters.Sizes{})
			if err != nil {
				t.Fatal(err)
			}
			defer reg.Close()
			*calls = nil
			var log strings.Builder
			d, err := driver.Open(tt.driver, driver.OpenArgs{Ifname: "if0", Registry: reg, Thread: 0, Node: names.IfNode("if0"),
				Logf: func(f string, args ...any) { fmt.Fprintf(&log, f+"\n", args...) }})
			switch {
			case tt.wantKind == "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Open(%s) = %v, %v; want an error containing %q", tt.driver, d, err, tt.wantErr)
			case tt.wantKind != "" && (err != nil || d.Kind() != tt.wantKind):
				t.Fatalf("Open(%s) = %v, %v; want a %s driver", tt.driver, d, err, tt.wantKind)
			}
			if tt.driver == "t-none" && !errors.Is(err, driver.ErrUnknown) {
				t.Errorf("error %v does not wrap ErrUnknown", err)
			}
			if !slices.Equal(*calls, tt.wantCalls) {
				t.Errorf("opened %q, want %q", *calls, tt.wantCalls)
			}
			if !strings.Contains(log.String(), tt.wantLog) {
				t.Errorf("log %q lacks %q", log.String(), tt.wantLog)
			}
			// The counters are allocated once, whatever the fallbacks.
			n := 0
			for _, e := range reg.Snapshot() {
				if e.Name == names.IfNodeCounter("if0", driver.DrvRxErrors) {
					n++
				}
			}
			want := 1
			if errors.Is(err, driver.ErrUnknown) && len(tt.wantCalls) == 0 {
				want = 0 // nothing opened, nothing allocated
			}
			if n != want {
				t.Errorf("%s allocated %d times, want %d", driver.DrvRxErrors, n, want)
			}
		})
	}
}

func TestRegisterRefusesDuplicatesAndBlanks(t *testing.T) {
	open := func(driver.OpenArgs) (driver.Driver, error) { return &fake{}, nil }
	if _, ok := driver.Lookup("t-dup"); !ok { // registered by an earlier run (-count)
		driver.Register("t-dup", driver.Registration{Open: open})
	}
	for _, tt := range []struct {
		name string
		reg  func()
	}{
		{"duplicate", func() { driver.Register("t-dup", driver.Registration{Open: open}) }},
		{"no name", func() { driver.Register("", driver.Registration{Open: open}) }},
		{"no open", func() { driver.Register("t-noopen", driver.Registration{}) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Register did not panic")
				}
			}()
			tt.reg()
		})
	}
}

// privateArgs is what the t-private driver was last opened with.
var privateArgs driver.OpenArgs

// Without a registry the driver counts privately: Open leaves Counters
// zero and OpenArgs.Counter returns the zero Counter.
func TestOpenWithoutRegistry(t *testing.T) {
	got := &privateArgs
	*got = driver.OpenArgs{}
	if _, ok := driver.Lookup("t-private"); !ok { // registered by an earlier run (-count)
		driver.Register("t-private", driver.Registration{Open: func(a driver.OpenArgs) (driver.Driver, error) {
			privateArgs = a
			return &fake{}, nil
		}})
	}
	if _, err := driver.Open("t-private", driver.OpenArgs{Ifname: "if0"}); err != nil {
		t.Fatal(err)
	}
	if got.Ifname != "if0" {
		t.Fatalf("the driver was opened with %+v", *got)
	}
	if got.Counters.RxErrors.Valid() || got.Counter(driver.DrvTxCopies).Valid() {
		t.Error("counters allocated without a registry")
	}
}
