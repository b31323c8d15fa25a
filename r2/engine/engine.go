//go:build linux

package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/gnodes/encapmux"
	ifnode "github.com/r2go/r2/gnodes/interface"
	"github.com/r2go/r2/gnodes/layer2/eth/decap"
	"github.com/r2go/r2/gnodes/layer2/eth/encap"
	"github.com/r2go/r2/gnodes/layer3/ipv4/frag"
	ipv4fwd "github.com/r2go/r2/gnodes/layer3/ipv4/fwd"
	"github.com/r2go/r2/gnodes/layer3/ipv4/local"
	"github.com/r2go/r2/gnodes/layer3/ipv4/parse"
	"github.com/r2go/r2/logs"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/internal/pagemem"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
	"github.com/r2go/r2/r2/poll"
)

// Config configures an engine.
type Config struct {
	// Threads is the number of forwarding threads (default 1).
	Threads int
	// Packets is the packet pool size of each thread (default 8192).
	Packets int
	// CPUs pins thread i to CPUs[i] when set (len must be Threads).
	CPUs []int
	// BusyPoll makes threads spin instead of sleeping in epoll.
	BusyPoll bool
	// Spin is how long an epoll-mode thread keeps polling after its last
	// work before sleeping (0: sleep at once). Short spins save a wakeup
	// per reply at the cost of that much CPU after each burst.
	Spin time.Duration
	// Counters is where counters live (default: anonymous memory).
	Counters *counters.Registry
	// Logs holds the forwarding-path log rings (nil: no logging).
	Logs *logs.File
	// Logf reports control-side events (default: discard).
	Logf func(format string, args ...any)
}

// Engine is the control side of R2 and its forwarding threads.
type Engine struct {
	mu      sync.Mutex // the R2 context lock
	cfg     Config
	reg     *counters.Registry
	ownReg  bool
	threads []*Thread
	rib     *fwd.IPv4RIB
	intfs   *fwd.Interfaces
	ifs     map[string]*intfState
	// addrRoutes are the connected and local routes that interface
	// addresses installed, with how many addresses need each.
	addrRoutes map[netip.Prefix]int
	neigh      map[neighKey]neighEntry
	uplink     *msg.Uplink
	relayDone  chan struct{}
	closed     bool
	logf       func(string, ...any)
}

type intfState struct {
	ifnode *ifnode.Node
	drv    driver.Driver
}

type neighKey struct {
	ifindex int32
	ip      uint32
}

type neighEntry struct {
	mac     [6]byte
	updated time.Time
}

// Errors returned by the control API; messages wrap them with details.
var (
	ErrExists   = errors.New("already exists")
	ErrNotFound = errors.New("not found")
	ErrInvalid  = errors.New("invalid")
	ErrClosed   = errors.New("engine closed")
)

// New starts an engine with cfg.
func New(cfg Config) (*Engine, error) {
	if cfg.Threads <= 0 {
		cfg.Threads = 1
	}
	if cfg.Packets <= 0 {
		cfg.Packets = 8192
	}
	if cfg.CPUs != nil && len(cfg.CPUs) != cfg.Threads {
		return nil, fmt.Errorf("engine: %d CPUs given for %d threads", len(cfg.CPUs), cfg.Threads)
	}
	e := &Engine{
		cfg:        cfg,
		reg:        cfg.Counters,
		ifs:        map[string]*intfState{},
		addrRoutes: map[netip.Prefix]int{},
		neigh:      map[neighKey]neighEntry{},
		uplink:     msg.NewUplink(4096),
		relayDone:  make(chan struct{}),
		logf:       cfg.Logf,
		intfs:      &fwd.Interfaces{},
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
	e.rib = fwd.NewIPv4RIB(e.publishIPv4)

	// The graph is built once and cloned into every thread.
	base := graph.New(graph.CloneCtx{Thread: -1, Counters: e.reg}, packet.NewPool(-1, 1))
	for _, n := range []graph.Node{
		parse.New(),
		ipv4fwd.New(e.rib.Active(), e.intfs),
		local.New(e.intfs),
		frag.New(e.intfs),
		encapmux.New(e.intfs),
	} {
		if err := base.Add(n); err != nil {
			return nil, err
		}
	}
	for i := 0; i < cfg.Threads; i++ {
		t, err := e.newThread(i, base)
		if err != nil {
			// No thread runs yet: stopThreads would wait for them forever.
			for _, t := range e.threads {
				t.poller.Close()
				t.waker.Close()
			}
			return nil, err
		}
		e.threads = append(e.threads, t)
	}
	for _, t := range e.threads {
		go t.run()
	}
	go e.relay()
	return e, nil
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
	cpu := -1
	if e.cfg.CPUs != nil {
		cpu = e.cfg.CPUs[i]
	}
	return &Thread{
		id:     i,
		cpu:    cpu,
		busy:   e.cfg.BusyPoll,
		spin:   e.cfg.Spin,
		g:      base.Clone(e.cloneCtx(i), pool),
		pool:   pool,
		in:     make(chan ctl, 1024),
		waker:  w,
		poller: p,
		fds:    map[string]int{},
		done:   make(chan struct{}),
		logf:   e.logf,
		c:      newThreadCounters(e.reg, i),
	}, nil
}

func (e *Engine) cloneCtx(thread int) graph.CloneCtx {
	return graph.CloneCtx{Thread: thread, Counters: e.reg, Uplink: e.uplink, Logs: e.cfg.Logs}
}

// lock takes the R2 context lock, or fails without it once the engine is
// closed.
func (e *Engine) lock() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrClosed
	}
	return nil
}

// byName is the interface called name. Caller holds e.mu.
func (e *Engine) byName(name string) (*fwd.Interface, error) {
	if fi := e.intfs.ByName(name); fi != nil {
		return fi, nil
	}
	return nil, fmt.Errorf("interface %s: %w", name, ErrNotFound)
}

// Threads is the number of forwarding threads.
func (e *Engine) Threads() int { return len(e.threads) }

// Counters is the engine's counter registry.
func (e *Engine) Counters() *counters.Registry { return e.reg }

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

// publishIPv4 is the route table's publish step: every thread switches to
// table before it returns.
func (e *Engine) publishIPv4(table *fwd.IPv4Table) {
	e.broadcast(func(*Thread) ctl { return ctl{m: msg.IPv4Table{Table: table}} })
}

// publishIntfs makes snap the interface config of every thread.
func (e *Engine) publishIntfs(snap *fwd.Interfaces, adds func(t *Thread) []graph.Node, dels []string) {
	e.intfs = snap
	e.broadcast(func(t *Thread) ctl {
		c := ctl{m: msg.Interfaces{Snapshot: snap}, dels: dels, finalize: true}
		if adds != nil {
			c.adds = adds(t)
		}
		return c
	})
}

// OnThread runs fn on forwarding thread i between two graph runs and waits
// for it: the safe way to look at a thread's graph or pool.
func (e *Engine) OnThread(i int, fn func(*Thread)) error {
	if err := e.lock(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	if i < 0 || i >= len(e.threads) {
		return fmt.Errorf("engine: no thread %d", i)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	e.threads[i].send(ctl{fn: fn, ack: &wg})
	wg.Wait()
	return nil
}

// Interface describes an interface to add.
type Interface struct {
	Name       string
	Ifindex    int32 // -1: the lowest free index
	MAC        [6]byte
	MTU        int
	LinuxIndex int
	Owner      int // -1: the thread with the fewest interfaces
}

// AddInterface attaches drv as interface spec. On success the engine owns
// drv and closes it when the interface is deleted.
func (e *Engine) AddInterface(spec Interface, drv driver.Driver) error {
	if err := e.lock(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	if spec.Name == "" {
		return fmt.Errorf("interface name is empty: %w", ErrInvalid)
	}
	if e.intfs.ByName(spec.Name) != nil {
		return fmt.Errorf("interface %s: %w", spec.Name, ErrExists)
	}
	if spec.Ifindex < 0 {
		spec.Ifindex = e.freeIfindex()
		if spec.Ifindex < 0 {
			return fmt.Errorf("no free ifindex (at most %d interfaces): %w", fwd.MaxIfindex, ErrInvalid)
		}
	} else if spec.Ifindex >= fwd.MaxIfindex {
		return fmt.Errorf("ifindex %d out of range 0..%d: %w", spec.Ifindex, fwd.MaxIfindex-1, ErrInvalid)
	} else if x := e.intfs.Get(spec.Ifindex); x != nil {
		return fmt.Errorf("ifindex %d is used by %s: %w", spec.Ifindex, x.Name, ErrExists)
	}
	if spec.Owner < 0 {
		spec.Owner = e.leastLoaded()
	} else if spec.Owner >= len(e.threads) {
		return fmt.Errorf("thread %d does not exist (threads 0..%d): %w", spec.Owner, len(e.threads)-1, ErrInvalid)
	}
	if spec.MTU == 0 {
		spec.MTU = 1500
	}
	if spec.MAC == ([6]byte{}) || spec.MAC[0]&1 == 1 {
		return fmt.Errorf("interface %s: MAC %s is not a unicast address: %w", spec.Name, macString(spec.MAC), ErrInvalid)
	}
	fi := &fwd.Interface{Ifindex: spec.Ifindex, Name: spec.Name, LinuxIndex: spec.LinuxIndex, MAC: spec.MAC,
		MTU: spec.MTU, Owner: spec.Owner, Up: true}
	if err := fi.Validate(); err != nil {
		return fmt.Errorf("interface %s: %v: %w", spec.Name, err, ErrInvalid)
	}
	owner := e.threads[spec.Owner]
	ifn := ifnode.New(fi.Ifindex, fi.Name, fi.Owner, drv, owner.waker)
	dec := decap.New(fi)
	enc := encap.New(fi)
	e.publishIntfs(e.intfs.With(fi), func(t *Thread) []graph.Node {
		ctx := e.cloneCtx(t.id)
		return []graph.Node{ifn.Clone(&ctx), dec.Clone(&ctx), enc.Clone(&ctx)}
	}, nil)
	e.ifs[fi.Name] = &intfState{ifnode: ifn, drv: drv}
	e.logf("interface %s added: ifindex %d, thread %d, driver %s", fi.Name, fi.Ifindex, fi.Owner, kindOf(drv))
	return nil
}

func kindOf(d driver.Driver) string {
	if d == nil {
		return "none"
	}
	if m, ok := d.(interface{ ActiveMode() string }); ok {
		return d.Kind() + " " + m.ActiveMode()
	}
	return d.Kind()
}

func (e *Engine) freeIfindex() int32 {
	for i := int32(0); i < fwd.MaxIfindex; i++ {
		if e.intfs.Get(i) == nil {
			return i
		}
	}
	return -1
}

func (e *Engine) leastLoaded() int {
	load := make([]int, len(e.threads))
	for _, i := range e.intfs.All() {
		load[i.Owner]++
	}
	best := 0
	for i, l := range load {
		if l < load[best] {
			best = i
		}
	}
	return best
}

// DelInterface detaches interface name: its routes and addresses go, its
// nodes leave every graph, and its driver is closed.
func (e *Engine) DelInterface(name string) error {
	if err := e.lock(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	fi, err := e.byName(name)
	if err != nil {
		return err
	}
	// Routes through the interface first, so nothing is forwarded to it
	// while its nodes go away.
	removed := e.rib.DelByIfindex(fi.Ifindex)
	for _, r := range removed {
		delete(e.addrRoutes, r.Prefix)
	}
	st := e.ifs[name]
	e.publishIntfs(e.intfs.Without(fi.Ifindex), nil,
		[]string{names.IfNode(name), names.EtherDecap(name), names.EtherEncap(name)})
	// No thread runs the nodes any more: free what other threads handed
	// over late, and release the interface.
	st.ifnode.DrainHandoff()
	e.reg.Release(-1, names.IfNode(name)+"/")
	for k := range e.neigh {
		if k.ifindex == fi.Ifindex {
			delete(e.neigh, k)
		}
	}
	delete(e.ifs, name)
	if st.drv != nil {
		err = st.drv.Close()
	}
	e.logf("interface %s deleted (%d routes removed)", name, len(removed))
	if err != nil {
		return fmt.Errorf("interface %s deleted, but closing its driver failed: %w", name, err)
	}
	return nil
}

// AddAddr gives interface ifname the address p (e.g. 10.1.0.2/24) and
// installs its connected route and local routes.
func (e *Engine) AddAddr(ifname string, p netip.Prefix) error {
	if err := e.lock(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	fi, err := e.byName(ifname)
	if err != nil {
		return err
	}
	if !p.IsValid() || !p.Addr().Is4() || p.Bits() < 1 {
		return fmt.Errorf("address %s: need an IPv4 address with a prefix length 1..32: %w", p, ErrInvalid)
	}
	a := p.Addr()
	if a.IsMulticast() || a.IsLoopback() || a.IsUnspecified() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return fmt.Errorf("address %s is not a unicast host address: %w", p, ErrInvalid)
	}
	if p.Bits() <= 30 && (p.Masked().Addr() == a || broadcastOf(p) == a) {
		return fmt.Errorf("address %s is the network or broadcast address of %s: %w", a, p.Masked(), ErrInvalid)
	}
	for _, i := range e.intfs.All() {
		for _, x := range i.Addrs {
			if x.Addr() == a {
				return fmt.Errorf("address %s is already on %s: %w", a, i.Name, ErrExists)
			}
		}
	}
	routes := addrRoutes(fi.Ifindex, p)
	for _, r := range routes {
		if cur, ok := e.rib.Get(r.Prefix); ok && e.addrRoutes[r.Prefix] == 0 {
			return fmt.Errorf("address %s needs route %s, which is a static route (%s); delete it first: %w", p, r.Prefix, cur.Adj, ErrExists)
		}
		if cur, ok := e.rib.Get(r.Prefix); ok && cur.Adj != r.Adj {
			return fmt.Errorf("address %s: subnet %s is already connected through another interface: %w", p, r.Prefix, ErrExists)
		}
	}
	ni := fi.Clone()
	ni.Addrs = append(ni.Addrs, p)
	e.publishIntfs(e.intfs.With(ni), nil, nil)
	var add []fwd.Route
	for _, r := range routes {
		if e.addrRoutes[r.Prefix] == 0 {
			add = append(add, r)
		}
		e.addrRoutes[r.Prefix]++
	}
	if err := e.rib.AddBatch(add); err != nil {
		return fmt.Errorf("address %s: %w", p, err) // validated above; not expected
	}
	return nil
}

// DelAddr removes address p from interface ifname, with the routes it
// installed.
func (e *Engine) DelAddr(ifname string, p netip.Prefix) error {
	if err := e.lock(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	fi, err := e.byName(ifname)
	if err != nil {
		return err
	}
	idx := -1
	for i, x := range fi.Addrs {
		if x == p {
			idx = i
		}
	}
	if idx < 0 {
		return fmt.Errorf("address %s is not on %s: %w", p, ifname, ErrNotFound)
	}
	var del []netip.Prefix
	for _, r := range addrRoutes(fi.Ifindex, p) {
		e.addrRoutes[r.Prefix]--
		if e.addrRoutes[r.Prefix] <= 0 {
			delete(e.addrRoutes, r.Prefix)
			del = append(del, r.Prefix)
		}
	}
	// Static routes through a next hop on the vanishing subnet stay: like
	// Linux, their packets will find no neighbour. Routes first, then the
	// address, so no thread sees an address without its routes.
	if err := e.rib.DelBatch(del); err != nil {
		return fmt.Errorf("address %s: %w", p, err)
	}
	ni := fi.Clone()
	ni.Addrs = append(ni.Addrs[:idx:idx], ni.Addrs[idx+1:]...)
	e.publishIntfs(e.intfs.With(ni), nil, nil)
	return nil
}

// addrRoutes are the routes an interface address needs: its subnet
// (connected), itself (local) and, for subnets with one, the subnet
// broadcast address (local, so directed broadcasts are not forwarded).
func addrRoutes(ifindex int32, p netip.Prefix) []fwd.Route {
	rs := []fwd.Route{{Prefix: netip.PrefixFrom(p.Addr(), 32), Adj: fwd.Adjacency{Kind: fwd.AdjLocal, Ifindex: ifindex}}}
	if p.Bits() < 32 {
		rs = append(rs, fwd.Route{Prefix: p.Masked(), Adj: fwd.Adjacency{Kind: fwd.AdjConnected, Ifindex: ifindex}})
	}
	if p.Bits() <= 30 {
		rs = append(rs, fwd.Route{Prefix: netip.PrefixFrom(broadcastOf(p), 32), Adj: fwd.Adjacency{Kind: fwd.AdjLocal, Ifindex: ifindex}})
	}
	return rs
}

func broadcastOf(p netip.Prefix) netip.Addr {
	v := fwd.IPv4ToU32(p.Addr()) | (1<<(32-p.Bits()) - 1)
	return fwd.U32ToIPv4(v)
}

// Route is a static route request: NextHop invalid means the prefix is
// directly reachable on Ifname.
type Route struct {
	Prefix  netip.Prefix
	NextHop netip.Addr
	Ifname  string
}

func (r Route) String() string {
	if r.NextHop.IsValid() {
		return fmt.Sprintf("%s via %s dev %s", r.Prefix, r.NextHop, r.Ifname)
	}
	return fmt.Sprintf("%s dev %s", r.Prefix, r.Ifname)
}

// resolve validates r and turns it into a table route. Caller holds e.mu.
func (e *Engine) resolve(r Route) (fwd.Route, error) {
	p := r.Prefix
	if !p.IsValid() || !p.Addr().Is4() {
		return fwd.Route{}, fmt.Errorf("route %s: prefix must be IPv4: %w", r, ErrInvalid)
	}
	if p.Masked() != p {
		return fwd.Route{}, fmt.Errorf("route %s: prefix %s has host bits set (did you mean %s?): %w", r, p, p.Masked(), ErrInvalid)
	}
	fi := e.intfs.ByName(r.Ifname)
	if fi == nil {
		return fwd.Route{}, fmt.Errorf("route %s: interface %q: %w", r, r.Ifname, ErrNotFound)
	}
	if e.addrRoutes[p] > 0 {
		return fwd.Route{}, fmt.Errorf("route %s: %s is a connected or local route of an interface address: %w", r, p, ErrExists)
	}
	if !r.NextHop.IsValid() {
		return fwd.Route{Prefix: p, Adj: fwd.Adjacency{Kind: fwd.AdjConnected, Ifindex: fi.Ifindex}}, nil
	}
	if !r.NextHop.Is4() {
		return fwd.Route{}, fmt.Errorf("route %s: next hop must be IPv4: %w", r, ErrInvalid)
	}
	nh := fwd.IPv4ToU32(r.NextHop)
	if !fi.OnLink(nh) {
		return fwd.Route{}, fmt.Errorf("route %s: next hop %s is not on a connected subnet of %s: %w", r, r.NextHop, r.Ifname, ErrInvalid)
	}
	if fi.HasAddr(nh) {
		return fwd.Route{}, fmt.Errorf("route %s: next hop %s is an address of %s itself: %w", r, r.NextHop, r.Ifname, ErrInvalid)
	}
	return fwd.Route{Prefix: p, Adj: fwd.Adjacency{Kind: fwd.AdjGateway, Ifindex: fi.Ifindex, NextHop: nh}}, nil
}

// AddRoutes adds (or replaces) routes, all or none.
func (e *Engine) AddRoutes(rs []Route) error {
	if err := e.lock(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	out := make([]fwd.Route, 0, len(rs))
	seen := make(map[netip.Prefix]bool, len(rs))
	for _, r := range rs {
		fr, err := e.resolve(r)
		if err != nil {
			return err
		}
		if seen[fr.Prefix] {
			return fmt.Errorf("route %s: prefix given twice in one request: %w", r, ErrInvalid)
		}
		seen[fr.Prefix] = true
		out = append(out, fr)
	}
	return e.rib.AddBatch(out)
}

// DelRoutes deletes static routes, all or none. A route's next hop and
// interface, when given, must match the installed route.
func (e *Engine) DelRoutes(rs []Route) error {
	if err := e.lock(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	ps := make([]netip.Prefix, 0, len(rs))
	seen := make(map[netip.Prefix]bool, len(rs))
	for _, r := range rs {
		if !r.Prefix.IsValid() || !r.Prefix.Addr().Is4() || r.Prefix.Masked() != r.Prefix {
			return fmt.Errorf("route %s: bad prefix: %w", r, ErrInvalid)
		}
		if e.addrRoutes[r.Prefix] > 0 {
			return fmt.Errorf("route %s: %s belongs to an interface address; delete the address instead: %w", r, r.Prefix, ErrInvalid)
		}
		cur, ok := e.rib.Get(r.Prefix)
		if !ok {
			return fmt.Errorf("route %s: no such route: %w", r, ErrNotFound)
		}
		if r.Ifname != "" {
			if fi := e.intfs.ByName(r.Ifname); fi == nil || fi.Ifindex != cur.Adj.Ifindex {
				return fmt.Errorf("route %s: installed route is %s, not through %s: %w", r, e.describe(cur), r.Ifname, ErrNotFound)
			}
		}
		if r.NextHop.IsValid() && (cur.Adj.Kind != fwd.AdjGateway || fwd.U32ToIPv4(cur.Adj.NextHop) != r.NextHop) {
			return fmt.Errorf("route %s: installed route is %s: %w", r, e.describe(cur), ErrNotFound)
		}
		if seen[r.Prefix] {
			return fmt.Errorf("route %s: prefix given twice in one request: %w", r, ErrInvalid)
		}
		seen[r.Prefix] = true
		ps = append(ps, r.Prefix)
	}
	return e.rib.DelBatch(ps)
}

// RouteInfo is an installed route as the API shows it.
type RouteInfo struct {
	Prefix  netip.Prefix
	Kind    string // "connected", "local", "gateway"
	NextHop netip.Addr
	Ifname  string
}

func (e *Engine) info(r fwd.Route) RouteInfo {
	ri := RouteInfo{Prefix: r.Prefix, Kind: r.Adj.Kind.String()}
	if i := e.intfs.Get(r.Adj.Ifindex); i != nil {
		ri.Ifname = i.Name
	}
	if r.Adj.Kind == fwd.AdjGateway {
		ri.NextHop = fwd.U32ToIPv4(r.Adj.NextHop)
	}
	return ri
}

func (e *Engine) describe(r fwd.Route) string {
	ri := e.info(r)
	if ri.NextHop.IsValid() {
		return fmt.Sprintf("%s via %s dev %s", ri.Prefix, ri.NextHop, ri.Ifname)
	}
	return fmt.Sprintf("%s %s dev %s", ri.Prefix, ri.Kind, ri.Ifname)
}

// LookupRoute is the longest match for a.
func (e *Engine) LookupRoute(a netip.Addr) (RouteInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !a.Is4() {
		return RouteInfo{}, fmt.Errorf("address %s is not IPv4: %w", a, ErrInvalid)
	}
	r, ok := e.rib.LookupRoute(a)
	if !ok {
		return RouteInfo{}, fmt.Errorf("no route to %s: %w", a, ErrNotFound)
	}
	return e.info(r), nil
}

// Routes lists routes in a stable order, limit from offset, and the total.
func (e *Engine) Routes(offset, limit int) (int, []RouteInfo) {
	e.mu.Lock()
	defer e.mu.Unlock()
	rs := e.rib.Routes(offset, limit)
	out := make([]RouteInfo, len(rs))
	for i, r := range rs {
		out[i] = e.info(r)
	}
	return e.rib.Len(), out
}

// IntfInfo is an interface as the API shows it.
type IntfInfo struct {
	fwd.Interface
	Driver                           string
	RxPkts, RxBytes, TxPkts, TxBytes uint64
	RxDrops, TxDrops                 uint64
}

// Interfaces describes the interfaces (all, or the one named).
func (e *Engine) Interfaces(name string) ([]IntfInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var list []*fwd.Interface
	if name != "" {
		fi := e.intfs.ByName(name)
		if fi == nil {
			return nil, fmt.Errorf("interface %s: %w", name, ErrNotFound)
		}
		list = []*fwd.Interface{fi}
	} else {
		list = append(list, e.intfs.All()...)
	}
	sort.Slice(list, func(a, b int) bool { return list[a].Ifindex < list[b].Ifindex })
	totals := map[string][]uint64{}
	for _, t := range counters.Totals(e.reg.Snapshot()) {
		totals[t.Name] = t.Sum
	}
	get := func(name string, i int) uint64 {
		if v := totals[name]; len(v) > i {
			return v[i]
		}
		return 0
	}
	out := make([]IntfInfo, 0, len(list))
	for _, fi := range list {
		n := names.IfNode(fi.Name)
		ii := IntfInfo{Interface: *fi.Clone(), Driver: kindOf(e.ifs[fi.Name].drv)}
		ii.RxPkts, ii.RxBytes = get(n+"/rx", 0), get(n+"/rx", 1)
		ii.TxPkts, ii.TxBytes = get(n+"/tx", 0), get(n+"/tx", 1)
		ii.RxDrops = get(n+"/drv_rx_nobuf", 0) + get(n+"/drv_rx_errors", 0) + get(n+"/drv_kernel_drops", 0)
		ii.TxDrops = get(n+"/tx_errors", 0) + get(n+"/handoff_full", 0) + get(n+"/no_driver", 0)
		out = append(out, ii)
	}
	return out, nil
}

// Neighbour is a learned IP-to-MAC mapping.
type Neighbour struct {
	Ifname string
	IP     netip.Addr
	MAC    [6]byte
}

// Neighbours lists what the control side learned.
func (e *Engine) Neighbours() []Neighbour {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Neighbour
	for k, v := range e.neigh {
		n := Neighbour{IP: fwd.U32ToIPv4(k.ip), MAC: v.mac}
		if i := e.intfs.Get(k.ifindex); i != nil {
			n.Ifname = i.Name
		}
		out = append(out, n)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].IP.Less(out[b].IP) })
	return out
}

// relay receives reports from forwarding threads and relays news to all.
func (e *Engine) relay() {
	defer close(e.relayDone)
	for u := range e.uplink.C {
		if u.Kind != msg.UpMAC {
			continue
		}
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			continue
		}
		k := neighKey{u.Ifindex, u.IP}
		cur, ok := e.neigh[k]
		now := time.Now()
		if e.intfs.Get(u.Ifindex) == nil || (!ok && !u.Create) ||
			(ok && cur.mac == u.MAC && now.Sub(cur.updated) < time.Second) {
			// Unknown interface; a host we never talked to; or nothing new.
			e.mu.Unlock()
			continue
		}
		e.neigh[k] = neighEntry{mac: u.MAC, updated: now}
		m := msg.MACLearned{Ifindex: u.Ifindex, IP: u.IP, MAC: u.MAC}
		for _, t := range e.threads {
			t.send(ctl{m: m})
		}
		e.mu.Unlock()
	}
}

// Stats are per-thread activity and pool accounting.
type Stats struct {
	Thread              int
	Runs, Sleeps        uint64
	EpollWaits, Wakeups uint64
	Pool                packet.Stats
}

// Stats reads every thread's activity (on the threads themselves).
func (e *Engine) Stats() []Stats {
	out := make([]Stats, len(e.threads))
	for i := range e.threads {
		e.OnThread(i, func(t *Thread) {
			t.pool.Reclaim()
			out[i] = Stats{Thread: i, Runs: t.runs, Sleeps: t.sleeps, EpollWaits: t.poller.Waits(),
				Wakeups: t.waker.Writes(), Pool: t.pool.Stats()}
		})
	}
	return out
}

// Close stops the threads and closes every driver. The counter registry is
// closed only if the engine made it.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.stopThreads()
	var errs []error
	for name, st := range e.ifs {
		st.ifnode.DrainHandoff()
		if st.drv != nil {
			if err := st.drv.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close %s: %w", name, err))
			}
		}
	}
	e.mu.Unlock()
	close(e.uplink.C)
	<-e.relayDone
	if e.ownReg {
		e.reg.Close()
	}
	return errors.Join(errs...)
}

func (e *Engine) stopThreads() {
	for _, t := range e.threads {
		t.send(ctl{stop: true})
	}
	for _, t := range e.threads {
		<-t.done
		t.poller.Close()
		t.waker.Close()
	}
}

func macString(m [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// PickOwner is the thread with the fewest interfaces, where AddInterface
// with Owner -1 would put a new one.
func (e *Engine) PickOwner() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leastLoaded()
}

// SetUp marks interface name up or down (the Linux link's state): packets
// routed to a down interface are dropped and counted by IPv4Fwd.
func (e *Engine) SetUp(name string, up bool) error {
	if err := e.lock(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	fi, err := e.byName(name)
	if err != nil {
		return err
	}
	if fi.Up == up {
		return nil
	}
	ni := fi.Clone()
	ni.Up = up
	e.publishIntfs(e.intfs.With(ni), nil, nil)
	e.logf("interface %s is now %s", name, map[bool]string{true: "up", false: "down"}[up])
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
