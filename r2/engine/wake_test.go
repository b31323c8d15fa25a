//go:build linux

package engine

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/registry"
)

// timerNode asks to be run again after wakeNs, n times, recording when it
// runs: a shaper's pattern.
type timerNode struct {
	graph.NoControl
	armed *atomic.Int64 // runs left; 0: idle
	at    *[200]int64
	k     *atomic.Int64
}

const timerWake = 300 * time.Microsecond

func (n *timerNode) Name() string                     { return "TestTimer" }
func (n *timerNode) NextNames() []string              { return []string{names.Drop} }
func (n *timerNode) Clone(*graph.CloneCtx) graph.Node { return n }
func (n *timerNode) Dispatch(d *graph.Dispatch) {
	if d.Thread() != 0 || n.armed.Load() <= 0 {
		return
	}
	due := n.at[max(n.k.Load()-1, 0)] + int64(timerWake)
	if n.k.Load() > 0 && d.Now() < due {
		d.WakeIn(due - d.Now()) // woken early (another event): keep the timer
		return
	}
	if k := n.k.Load(); k < int64(len(n.at)) {
		n.at[k] = d.Now()
		n.k.Add(1)
	}
	if n.armed.Add(-1) > 0 {
		d.WakeIn(int64(timerWake))
	}
}

var (
	timerArmed atomic.Int64
	timerAt    [200]int64
	timerK     atomic.Int64
)

func init() {
	registry.Register(registry.Decl{
		Name: "TestTimer", Scope: registry.PerGraph,
		New: func(*registry.Env) graph.Node { return &timerNode{armed: &timerArmed, at: &timerAt, k: &timerK} },
	})
}

// A node's WakeIn makes the thread sleep until then and run the graph
// again: on time to well under a millisecond (epoll_pwait2), by a timer
// rather than by spinning.
func TestWakeInSleepsUntilThen(t *testing.T) {
	reg, err := counters.NewMem(counters.Sizes{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close() // after the engine's threads stop
	e, err := New(Config{Threads: 1, Packets: 64, Counters: reg, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	read := func(name string) uint64 {
		for _, c := range counters.Totals(reg.Snapshot()) {
			if c.Name == name {
				return c.Sum[0]
			}
		}
		return 0
	}
	const n = 100
	runs0, timeouts0 := read("Thread/runs"), read("Thread/epoll_timeouts")
	timerArmed.Store(n)
	e.OnThread(0, func(*Thread) {}) // wake the thread: the node arms its timer
	deadline := time.Now().Add(10 * time.Second)
	for timerArmed.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if timerArmed.Load() > 0 {
		t.Fatalf("%d timer runs left after 10 s", timerArmed.Load())
	}
	e.OnThread(0, func(*Thread) {})
	var gaps []time.Duration
	for i := 1; i < int(timerK.Load()); i++ {
		gaps = append(gaps, time.Duration(timerAt[i]-timerAt[i-1]))
	}
	slices.Sort(gaps)
	median := gaps[len(gaps)/2]
	runs, timeouts := read("Thread/runs")-runs0, read("Thread/epoll_timeouts")-timeouts0
	t.Logf("%d timer runs: gaps min %v median %v max %v; %d graph runs, %d epoll timeouts", len(gaps)+1, gaps[0], median, gaps[len(gaps)-1], runs, timeouts)
	if gaps[0] < timerWake {
		t.Errorf("run %v after the previous one, before the %v asked", gaps[0], timerWake)
	}
	if median > 900*time.Microsecond {
		t.Errorf("median gap %v for %v timers: rounded to milliseconds?", median, timerWake)
	}
	// Sleeping, not spinning: about one epoll timeout and a few runs per
	// timer (a run after the wakeup, and the idle run before sleeping).
	if timeouts < n/2 || runs > 10*n {
		t.Errorf("%d epoll timeouts and %d graph runs for %d timers", timeouts, runs, n)
	}
}
