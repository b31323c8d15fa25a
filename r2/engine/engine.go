//go:build linux

package engine

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/logs"
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/internal/pagemem"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/packet"
	"github.com/r2go/r2/r2/poll"
	"github.com/r2go/r2/r2/registry"
	"github.com/r2go/r2/r2/store"
)

// Config configures an engine.
type Config struct {
	// Threads is the number of forwarding threads (default 1).
	Threads int
	// Packets is the packet pool size of each thread (default 8192).
	Packets int
	// BigPackets is the size of each thread's pool of big packets, which
	// hold GSO/GRO super-frames of up to 64 KiB (default 256; each takes
	// memory only once a super-frame has used it).
	BigPackets int
	// CPUs pins thread i to CPUs[i] when set (len must be Threads).
	CPUs []int
	// BusyPoll makes threads spin instead of sleeping in epoll.
	BusyPoll bool
	// Spin is how long an epoll-mode thread keeps polling after its last
	// work before sleeping (0: sleep at once). Short spins save a wakeup
	// per reply at the cost of that much CPU after each burst.
	Spin time.Duration
	// RTPriority, 1..99, runs the forwarding threads under SCHED_FIFO at
	// that priority (0: the ordinary scheduler). A real-time thread takes
	// its CPU back the moment a frame wakes it, instead of waiting for
	// other work there to yield: on a busy host that is what keeps its
	// receive rings from overflowing. With BusyPoll it yields the CPU
	// only in its breaths: only on dedicated cores. A real-time thread
	// that has run 2 ms without
	// sleeping sleeps 50 µs, and again every 2 ms it stays busy, and a
	// busy-polling one with nothing to do 20 µs every 250 µs
	// (rt_breaths): under SCHED_FIFO nothing ordinary runs on its CPU,
	// ksoftirqd included, which finishes the receive work of R2's own
	// sends on a veth; without the breaths a ping beside a flood waited
	// for the kernel's RT throttling (p99 9-12 ms against 0.26 with them).
	RTPriority int
	// Warm is how long after its last work a thread sleeps in slices of
	// WarmSlice rather than one long wait (0: never). The Go runtime's
	// sysmon takes the P of a thread that has been in a system call for
	// 10 ms; a thread woken without its P spends ~15 µs getting one back
	// and wakes sysmon. Slices shorter than that keep the P, so a packet
	// that follows within Warm (a ping a second, a TCP ACK after a pause)
	// is forwarded sooner, for a few percent of a CPU while warm.
	Warm time.Duration
	// WarmYield makes a warm thread pass through the Go scheduler every
	// 5-9 ms (Thread.warmYield), so sysmon does not take its P during the
	// slices. The yield parks the thread until another M hands the P
	// back: ~100 µs, milliseconds when every CPU is busy.
	WarmYield bool
	// WarmRawWait makes a warm thread wait through RawSyscall
	// (poll.Poller.WaitRaw): the runtime does not see it sleep, so it
	// keeps its P and its wakeup skips the runtime's syscall exit, ~30
	// µs of an idle ping's round trip on the project's VM. Sysmon,
	// seeing the goroutine "run" for 10 ms, interrupts such a wait and
	// hands the goroutine through another M (~1.5% of a CPU per warm
	// thread); New raises GOMAXPROCS to Threads + 1 so that warm
	// threads holding their Ps leave one to every other goroutine.
	WarmRawWait bool
	// BusyYield makes a thread that has run for 5 ms without sleeping
	// (under load, or busy polling) pass through the Go scheduler every
	// 5 ms. A goroutine locked to its thread never goes through it
	// otherwise, so its P's schedtick stands still; after 10 ms sysmon
	// takes it for one that has run too long and, from then on, takes the
	// P back in each system call it sees (every sendmmsg and recvmsg of a
	// loaded thread) and requests a preemption, polling every 20 µs to do
	// so: 12% of a CPU for sysmon under a 64 B flood, and the forwarding
	// thread paying a slow syscall exit for each. A yield costs a handoff
	// through another M (~0.1 ms), once per 5 ms.
	BusyYield bool
	// Batch caps the packets a thread takes in per graph run
	// (graph.SetAdmission; 0: graph.VecSize).
	Batch int
	// Counters is where counters live (default: anonymous memory).
	Counters *counters.Registry
	// Logs holds the forwarding-path log rings (nil: no logging).
	Logs *logs.File
	// Logf reports control-side events (default: discard).
	Logf func(format string, args ...any)
	// Env is the shared state the per-graph nodes start with (route
	// tables, interfaces); nil fields start empty.
	Env registry.Env
}

// Engine runs the forwarding threads: it builds the graph from the node
// registry, clones it into every thread, adds and removes per-interface
// nodes, and broadcasts control messages. What the messages say (routes,
// addresses, neighbours) is decided by its user, the router.
type Engine struct {
	mu      sync.Mutex
	cfg     Config
	reg     *counters.Registry
	ownReg  bool
	threads []*Thread
	store   *store.Store
	uplink  *msg.Uplink
	// ifNodes are the per-interface prototypes added for each interface,
	// so that detaching removes exactly what attaching added.
	ifNodes map[string][]graph.Node
	closed  bool
	logf    func(string, ...any)
	// obs is the runtime statistics switch and the captures, shared by
	// every thread's graph.
	obs graph.Obs
	// caps are the running captures' leases, by slot (see obs.go).
	caps capLeases
}

// ErrClosed is returned once the engine is closed.
var ErrClosed = errors.New("engine closed")

// New starts an engine with cfg: one graph built from the registry's
// per-graph declarations, cloned into cfg.Threads threads.
func New(cfg Config) (*Engine, error) {
	if cfg.Threads <= 0 {
		cfg.Threads = 1
	}
	if cfg.BigPackets <= 0 {
		cfg.BigPackets = 256
	}
	if cfg.Packets <= 0 {
		cfg.Packets = 8192
	}
	if cfg.CPUs != nil && len(cfg.CPUs) != cfg.Threads {
		return nil, fmt.Errorf("engine: %d CPUs given for %d threads", len(cfg.CPUs), cfg.Threads)
	}
	if cfg.Env.Intfs == nil {
		cfg.Env.Intfs = &fwd.Interfaces{}
	}
	if cfg.Env.IPv4 == nil {
		cfg.Env.IPv4 = fwd.NewIPv4RIB(func(*fwd.IPv4Table) {}).Active()
	}
	if cfg.Env.IPv6 == nil {
		cfg.Env.IPv6 = fwd.NewIPv6RIB(func(*fwd.IPv6Table) {}).Active()
	}
	if cfg.WarmRawWait && cfg.Warm > 0 && !cfg.BusyPoll {
		// Only raised: GOMAXPROCS is the process's, and a lower value
		// set by the operator (GOMAXPROCS=...) still gets its extra P.
		// Setting it ends the runtime's own updates of GOMAXPROCS (to
		// a changed CPU limit) for the process.
		if n := runtime.GOMAXPROCS(0); n < cfg.Threads+1 {
			runtime.GOMAXPROCS(cfg.Threads + 1)
			if cfg.Logf != nil {
				cfg.Logf("engine: GOMAXPROCS %d -> %d: warm threads keep their Ps (warm_raw_wait)", n, cfg.Threads+1)
			}
		}
	}
	e := &Engine{
		cfg:     cfg,
		reg:     cfg.Counters,
		uplink:  msg.NewUplink(4096),
		ifNodes: map[string][]graph.Node{},
		logf:    cfg.Logf,
		store:   store.New(nil),
	}
	if e.logf == nil {
		e.logf = func(string, ...any) {}
	}
	if e.reg == nil {
		reg, err := counters.NewMem(counters.Sizes{})
		if err != nil {
			return nil, err
		}
		e.reg, e.ownReg = reg, true
	}

	// The graph is built once and cloned into every thread.
	base := graph.New(graph.CloneCtx{Thread: -1, Counters: e.reg}, packet.NewPool(-1, 1))
	decls := registry.Of(registry.PerGraph)
	for _, d := range decls {
		if err := base.Add(d.New(&e.cfg.Env)); err != nil {
			e.closeOwnReg()
			return nil, fmt.Errorf("engine: node %s: %w", d.Name, err)
		}
	}
	for target, chain := range registry.Intercepts() {
		base.Intercept(target, chain)
	}
	for i := 0; i < cfg.Threads; i++ {
		t, err := e.newThread(i, base)
		if err != nil {
			// No thread runs yet: stopThreads would wait for them forever.
			for _, t := range e.threads {
				t.poller.Close()
				t.waker.Close()
			}
			e.closeOwnReg()
			return nil, err
		}
		e.threads = append(e.threads, t)
	}
	for _, t := range e.threads {
		go t.run()
	}
	e.store.SetPublisher(func(s *store.Snapshot) { e.Publish(msg.Store{Snapshot: s}) })
	for _, d := range decls {
		if d.Start == nil {
			continue
		}
		if err := d.Start(e.store); err != nil {
			e.Close()
			return nil, fmt.Errorf("engine: starting node %s: %w", d.Name, err)
		}
	}
	return e, nil
}

func (e *Engine) closeOwnReg() {
	if e.ownReg {
		e.reg.Close()
	}
}

func (e *Engine) newThread(i int, base *graph.Graph) (*Thread, error) {
	w, err := poll.NewWaker()
	if err != nil {
		return nil, fmt.Errorf("engine: thread %d: %w", i, err)
	}
	p, err := poll.NewPoller()
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("engine: thread %d: %w", i, err)
	}
	if err := p.Add(w.Fd(), wakerToken); err != nil {
		w.Close()
		p.Close()
		return nil, fmt.Errorf("engine: thread %d: %w", i, err)
	}
	pool, err := pagemem.NewPool(i, e.cfg.Packets)
	if err != nil {
		w.Close()
		p.Close()
		return nil, fmt.Errorf("engine: thread %d: %w", i, err)
	}
	pool.SetBig(packet.NewBigPool(i, e.cfg.BigPackets))
	cpu := -1
	if e.cfg.CPUs != nil {
		cpu = e.cfg.CPUs[i]
	}
	st := store.NewThread(e.store.Current())
	t := &Thread{
		id:        i,
		cpu:       cpu,
		busy:      e.cfg.BusyPoll,
		spin:      e.cfg.Spin,
		rtprio:    e.cfg.RTPriority,
		warm:      e.cfg.Warm,
		yield:     e.cfg.WarmYield,
		rawWait:   e.cfg.WarmRawWait,
		busyYield: e.cfg.BusyYield,
		pool:      pool,
		store:     st,
		in:        make(chan ctl, 1024),
		waker:     w,
		poller:    p,
		fds:       map[string]int{},
		quieters:  map[string]graph.Quieter{},
		done:      make(chan struct{}),
		logf:      e.logf,
		c:         newThreadCounters(e.reg, i),
	}
	t.g = base.Clone(e.cloneCtx(t), pool)
	t.g.SetAdmission(e.cfg.Batch)
	return t, nil
}

func (e *Engine) cloneCtx(t *Thread) graph.CloneCtx {
	return graph.CloneCtx{Thread: t.id, Counters: e.reg, Uplink: e.uplink, Logs: e.cfg.Logs, Store: t.store, Obs: &e.obs}
}

// Threads is the number of forwarding threads.
func (e *Engine) Threads() int { return len(e.threads) }

// Counters is the engine's counter registry.
func (e *Engine) Counters() *counters.Registry { return e.reg }

// Store is the keyed store shared by nodes (see package store).
func (e *Engine) Store() *store.Store { return e.store }

// Uplink is where forwarding threads report to the control side (learned
// neighbours). It is closed by Close.
func (e *Engine) Uplink() <-chan msg.Up { return e.uplink.C }

// broadcast sends every thread its message (mk builds it per thread) and
// waits until all have handled it. Caller holds e.mu.
func (e *Engine) broadcast(mk func(t *Thread) ctl) {
	var wg sync.WaitGroup
	wg.Add(len(e.threads))
	for _, t := range e.threads {
		c := mk(t)
		c.ack = &wg
		t.send(c)
	}
	wg.Wait()
}

// Publish hands m to every node of every thread and returns once all
// threads have handled it: after Publish of a new table, no thread reads
// the previous one. It does nothing once the engine is closed.
func (e *Engine) Publish(m msg.Msg) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	e.broadcast(func(*Thread) ctl { return ctl{m: m} })
}

// Send hands m to every thread without waiting (news such as a learned
// neighbour, where nothing depends on when it lands).
func (e *Engine) Send(m msg.Msg) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	for _, t := range e.threads {
		t.send(ctl{m: m})
	}
}

// AddInterface builds the nodes of a newly attached interface from every
// per-interface declaration, adds a clone of each to every thread together
// with the interface configuration snap that includes it, and returns once
// every thread runs them. ife.Wake is filled in with the owner's waker.
func (e *Engine) AddInterface(ife registry.IfEnv, snap *fwd.Interfaces) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	name := ife.Intf.Name
	if _, ok := e.ifNodes[name]; ok {
		return fmt.Errorf("engine: interface %s already has nodes", name)
	}
	if o := ife.Intf.Owner; o < 0 || o >= len(e.threads) {
		return fmt.Errorf("engine: thread %d does not exist", o)
	}
	ife.Wake = e.threads[ife.Intf.Owner].waker
	var protos []graph.Node
	for _, d := range registry.Of(registry.PerInterface) {
		protos = append(protos, d.NewIf(&ife))
	}
	e.ifNodes[name] = protos
	e.broadcast(func(t *Thread) ctl {
		ctx := e.cloneCtx(t)
		adds := make([]graph.Node, len(protos))
		for i, p := range protos {
			adds[i] = p.Clone(&ctx)
		}
		return ctl{m: msg.Interfaces{Snapshot: snap}, adds: adds, finalize: true}
	})
	return nil
}

// DelInterface removes from every thread the nodes AddInterface made for
// interface name, publishing snap (the configuration without it) in the
// same step, then lets the nodes release what they hold (packets other
// threads handed over late) and releases their counters.
func (e *Engine) DelInterface(name string, snap *fwd.Interfaces) {
	e.mu.Lock()
	defer e.mu.Unlock()
	protos := e.ifNodes[name]
	delete(e.ifNodes, name)
	if e.closed {
		return
	}
	dels := make([]string, len(protos))
	for i, p := range protos {
		dels[i] = p.Name()
	}
	e.broadcast(func(*Thread) ctl {
		return ctl{m: msg.Interfaces{Snapshot: snap}, dels: dels, finalize: true}
	})
	for _, p := range protos {
		if d, ok := p.(graph.Drainer); ok {
			d.Drain()
		}
		e.reg.Release(-1, p.Name()+"/")
	}
}

// OnThread runs fn on forwarding thread i between two graph runs and waits
// for it: the safe way to look at a thread's graph or pool.
func (e *Engine) OnThread(i int, fn func(*Thread)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	if i < 0 || i >= len(e.threads) {
		return fmt.Errorf("engine: no thread %d", i)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	e.threads[i].send(ctl{fn: fn, ack: &wg})
	wg.Wait()
	return nil
}

// Pool is thread i's packet pool. Drivers that register pool memory with the
// kernel (AF_XDP) use Mem; only thread i may Get or Free.
func (e *Engine) Pool(i int) *packet.Pool {
	if i < 0 || i >= len(e.threads) {
		return nil
	}
	return e.threads[i].pool
}

// Close stops the threads and lets every interface's nodes release what
// they hold; drivers belong to the caller. The counter registry is closed
// only if the engine made it.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	for _, t := range e.threads {
		t.send(ctl{stop: true})
	}
	for _, t := range e.threads {
		<-t.done
		t.poller.Close()
		t.waker.Close()
	}
	for _, protos := range e.ifNodes {
		for _, p := range protos {
			if d, ok := p.(graph.Drainer); ok {
				d.Drain()
			}
		}
	}
	e.mu.Unlock()
	close(e.uplink.C)
	e.closeOwnReg()
	return nil
}
