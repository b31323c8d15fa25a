//go:build linux

package engine

import (
	"errors"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/r2go/r2/fwd"
	_ "github.com/r2go/r2/gnodes/all"
	"github.com/r2go/r2/r2/driver/mem"
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/registry"
	"github.com/r2go/r2/r2/store"
)

// probe is a test node inserted before IPv4Fwd; it passes packets on and
// remembers the store value it saw last.
type probe struct {
	graph.NoControl
	name string
	st   *store.Thread
	seen *atomic.Value
}

const probeKey store.Key = 0x7e57_0001

func (p *probe) Name() string        { return p.name }
func (p *probe) NextNames() []string { return []string{names.Drop, names.IPv4Fwd} }
func (p *probe) Clone(c *graph.CloneCtx) graph.Node {
	return &probe{name: p.name, st: c.Store, seen: p.seen}
}
func (p *probe) Dispatch(d *graph.Dispatch) {
	for k := d.Pop(); k != nil; k = d.Pop() {
		d.Push(1, k)
	}
}
func (p *probe) Control(m msg.Msg) {
	if _, ok := m.(msg.Store); ok && p.st != nil {
		if v := p.st.Published(probeKey); v != nil {
			p.seen.Store(v)
		}
	}
}

var (
	probeSeen    atomic.Value
	probeStarted atomic.Bool
)

func init() {
	registry.Register(registry.Decl{
		Name: "TestProbe", Scope: registry.PerGraph, Before: names.IPv4Fwd,
		New: func(*registry.Env) graph.Node { return &probe{name: "TestProbe", seen: &probeSeen} },
		Start: func(s *store.Store) error {
			probeStarted.Store(true)
			s.Publish(probeKey, "hello")
			return nil
		},
	})
	registry.Register(registry.Decl{
		Name: "TestIfProbe", Scope: registry.PerInterface,
		NodeName: func(ifname string) string { return "TestIfProbe:" + ifname },
		NewIf: func(e *registry.IfEnv) graph.Node {
			return &probe{name: "TestIfProbe:" + e.Intf.Name, seen: &atomic.Value{}}
		},
	})
}

func nodeNames(t *testing.T, e *Engine, thread int) []string {
	t.Helper()
	var out []string
	if err := e.OnThread(thread, func(th *Thread) {
		for _, n := range th.Graph().Nodes() {
			out = append(out, n.Name())
		}
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestGraphFromRegistry(t *testing.T) {
	e, err := New(Config{Threads: 2, Packets: 256, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if !probeStarted.Load() {
		t.Fatal("Start hook not run")
	}
	for th := 0; th < 2; th++ {
		got := nodeNames(t, e, th)
		for _, d := range registry.Of(registry.PerGraph) {
			if !slices.Contains(got, d.Name) {
				t.Errorf("thread %d lacks %s: %v", th, d.Name, got)
			}
		}
		// L3Parse's edge to IPv4Fwd goes through the probe, and the
		// probe's own edge reaches IPv4Fwd.
		e.OnThread(th, func(t2 *Thread) {
			g := t2.Graph()
			if ed := g.Edges(names.L3Parse); !slices.Contains(ed, "TestProbe") || slices.Contains(ed, names.IPv4Fwd) {
				t.Errorf("L3Parse edges %v: want TestProbe instead of IPv4Fwd", ed)
			}
			if ed := g.Edges("TestProbe"); len(ed) != 2 || ed[1] != names.IPv4Fwd {
				t.Errorf("TestProbe edges %v", ed)
			}
		})
	}
	// The Start hook's publication reached the threads (store snapshot).
	if v := probeSeen.Load(); v != "hello" {
		t.Errorf("probe saw %v from the store, want hello", v)
	}
	e.Store().Publish(probeKey, "again")
	if v := probeSeen.Load(); v != "again" {
		t.Errorf("after Publish the probe saw %v", v)
	}
}

func TestInterfaceNodesAddedAndRemovedExactly(t *testing.T) {
	e, err := New(Config{Threads: 2, Packets: 256, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	before := nodeNames(t, e, 1)
	drv, _ := mem.New("if0", 64)
	defer drv.Close()
	fi := &fwd.Interface{Ifindex: 0, Name: "if0", MAC: [6]byte{2, 0, 0, 0, 0, 1}, MTU: 1500, Owner: 0, Up: true}
	snap := (&fwd.Interfaces{}).With(fi)
	if err := e.AddInterface(registry.IfEnv{Intf: fi, Driver: drv}, snap); err != nil {
		t.Fatal(err)
	}
	if err := e.AddInterface(registry.IfEnv{Intf: fi, Driver: drv}, snap); err == nil {
		t.Fatal("second AddInterface of if0 accepted")
	}
	with := nodeNames(t, e, 1)
	var want []string
	for _, d := range registry.Of(registry.PerInterface) {
		want = append(want, d.NodeName("if0"))
	}
	for _, n := range want {
		if !slices.Contains(with, n) {
			t.Errorf("thread 1 lacks %s after AddInterface", n)
		}
	}
	if len(with) != len(before)+len(want) {
		t.Errorf("%d nodes after adding, want %d + %d", len(with), len(before), len(want))
	}
	e.DelInterface("if0", &fwd.Interfaces{})
	if after := nodeNames(t, e, 1); !slices.Equal(after, before) {
		t.Errorf("after DelInterface: %v, want %v", after, before)
	}
	for _, c := range e.Counters().Snapshot() {
		if strings.HasPrefix(c.Name, names.IfNode("if0")+"/") || strings.HasPrefix(c.Name, "TestIfProbe:if0/") {
			t.Errorf("counter %s of if0 not released", c.Name)
		}
	}
	fi.Owner = 5
	if err := e.AddInterface(registry.IfEnv{Intf: fi}, snap); err == nil {
		t.Error("owner thread 5 of 2 accepted")
	}
}

func TestClosedEngine(t *testing.T) {
	e, err := New(Config{Threads: 1, Packets: 64})
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	if err := e.OnThread(0, func(*Thread) {}); !errors.Is(err, ErrClosed) {
		t.Errorf("OnThread after Close: %v", err)
	}
	e.Publish(msg.Store{}) // must not block
	e.Send(msg.Store{})
	if err := e.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
