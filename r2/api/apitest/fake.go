// Package apitest provides a fake api.Backend that keeps its state in memory
// and records every call, and a helper that runs an api.Server on a Unix
// socket for tests of the API and of the utilities.
package apitest

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/r2go/r2/r2/api"
	"github.com/r2go/r2/r2/ctl"
	"github.com/r2go/r2/r2/router"
)

// Iface is the fake's record of one interface.
type Iface struct {
	Ifindex int
	MAC     string
	Thread  int
	Driver  string
	Addrs   []netip.Prefix
}

// State is a copy of everything the fake holds, comparable with cmp.Diff.
type State struct {
	Ifaces map[string]Iface
	Routes map[netip.Prefix]api.Route
	LogOn  bool
	LogGen int // bumped by LogClear
}

// Backend is a fake api.Backend. It behaves like the engine at the level of
// detail the API layer can see: interfaces must exist before they get
// addresses or routes, duplicates are refused, batches are all or nothing.
// It is safe for concurrent use.
type Backend struct {
	// API is nil: a router method the fake does not implement panics when
	// called, and the server turns the panic into an ApiErr, so a new API
	// method needs no fake until a test wants one.
	router.API

	mu    sync.Mutex
	st    State
	calls []string

	// PanicOn makes the named method ("AddRoutes", ...) panic, to test
	// the server's recovery.
	PanicOn string
	// Delay is slept in every call, to test concurrency.
	Delay time.Duration

	// G is the fake's graph state (graph.go).
	G GraphState

	// neighs are the neighbours set through the API (neigh.go).
	neighs []ctl.Neighbour
}

var _ api.Backend = (*Backend)(nil)

// New returns an empty fake backend.
func New() *Backend {
	return &Backend{st: State{Ifaces: map[string]Iface{}, Routes: map[netip.Prefix]api.Route{}}}
}

// enter locks b, records the call and applies PanicOn and Delay.
func (b *Backend) enter(method string, args ...any) {
	b.mu.Lock()
	b.calls = append(b.calls, method+fmt.Sprint(args...))
	if b.PanicOn == method {
		b.mu.Unlock()
		panic("fake backend: " + method + " exploded")
	}
	if b.Delay > 0 {
		time.Sleep(b.Delay)
	}
}

// Calls returns the calls made so far, such as "DelInterface[veth0]".
func (b *Backend) Calls() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.calls)
}

// State returns a deep copy of the fake's state.
func (b *Backend) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := State{Ifaces: map[string]Iface{}, Routes: maps.Clone(b.st.Routes), LogOn: b.st.LogOn, LogGen: b.st.LogGen}
	for n, i := range b.st.Ifaces {
		i.Addrs = slices.Clone(i.Addrs)
		st.Ifaces[n] = i
	}
	return st
}

// AddInterface implements api.Backend.
func (b *Backend) AddInterface(req api.AddIf) error {
	b.enter("AddInterface", req.Name, req.Ifindex, req.MAC.String(), req.Thread, req.Driver)
	defer b.mu.Unlock()
	if _, ok := b.st.Ifaces[req.Name]; ok {
		return ctl.Errorf(ctl.KindExists, "interface %s already exists", req.Name)
	}
	used := map[int]bool{}
	for _, i := range b.st.Ifaces {
		used[i.Ifindex] = true
	}
	if req.Ifindex == -1 {
		for req.Ifindex = 0; used[req.Ifindex]; req.Ifindex++ {
		}
	} else if used[req.Ifindex] {
		return ctl.Errorf(ctl.KindExists, "ifindex %d is in use", req.Ifindex)
	}
	mac := req.MAC.String()
	if mac == "" {
		mac = fmt.Sprintf("02:00:00:00:00:%02x", req.Ifindex&0xff)
	}
	drv := cmp.Or(req.Driver, "afpacket")
	b.st.Ifaces[req.Name] = Iface{Ifindex: req.Ifindex, MAC: mac, Thread: max(req.Thread, 0), Driver: drv}
	return nil
}

// DelInterface implements api.Backend.
func (b *Backend) DelInterface(name string) error {
	b.enter("DelInterface", name)
	defer b.mu.Unlock()
	if _, ok := b.st.Ifaces[name]; !ok {
		return ctl.Errorf(ctl.KindNotFound, "no interface %s", name)
	}
	delete(b.st.Ifaces, name)
	for p, r := range b.st.Routes {
		if r.Ifname == name {
			delete(b.st.Routes, p)
		}
	}
	return nil
}

// AddAddr implements api.Backend.
func (b *Backend) AddAddr(ifname string, p netip.Prefix) error {
	b.enter("AddAddr", ifname, p)
	defer b.mu.Unlock()
	i, ok := b.st.Ifaces[ifname]
	if !ok {
		return ctl.Errorf(ctl.KindNotFound, "no interface %s", ifname)
	}
	if slices.Contains(i.Addrs, p) {
		return ctl.Errorf(ctl.KindExists, "interface %s already has address %s", ifname, p)
	}
	i.Addrs = append(slices.Clone(i.Addrs), p)
	b.st.Ifaces[ifname] = i
	return nil
}

// DelAddr implements api.Backend.
func (b *Backend) DelAddr(ifname string, p netip.Prefix) error {
	b.enter("DelAddr", ifname, p)
	defer b.mu.Unlock()
	i, ok := b.st.Ifaces[ifname]
	if !ok {
		return ctl.Errorf(ctl.KindNotFound, "no interface %s", ifname)
	}
	k := slices.Index(i.Addrs, p)
	if k < 0 {
		return ctl.Errorf(ctl.KindNotFound, "interface %s has no address %s", ifname, p)
	}
	i.Addrs = slices.Delete(slices.Clone(i.Addrs), k, k+1)
	b.st.Ifaces[ifname] = i
	return nil
}

// Interfaces implements api.Backend.
func (b *Backend) Interfaces(name string) ([]api.IfInfo, error) {
	b.enter("Interfaces", name)
	defer b.mu.Unlock()
	var out []api.IfInfo
	for _, n := range slices.Sorted(maps.Keys(b.st.Ifaces)) {
		if name != "" && n != name {
			continue
		}
		i := b.st.Ifaces[n]
		mac, _ := net.ParseMAC(i.MAC)
		out = append(out, api.IfInfo{
			Name: n, Ifindex: i.Ifindex, LinuxIndex: 100 + i.Ifindex, MAC: mac, MTU: 1500, Up: true,
			Addrs: slices.Clone(i.Addrs), Thread: i.Thread, Driver: i.Driver,
			RxPkts: 10, TxPkts: 20, RxDrops: 1, TxDrops: 2,
		})
	}
	if name != "" && len(out) == 0 {
		return nil, ctl.Errorf(ctl.KindNotFound, "no interface %s", name)
	}
	return out, nil
}

// AddRoutes implements api.Backend.
func (b *Backend) AddRoutes(rs []api.Route) error {
	b.enter("AddRoutes", len(rs))
	defer b.mu.Unlock()
	seen := map[netip.Prefix]bool{}
	for _, r := range rs {
		if _, ok := b.st.Ifaces[r.Ifname]; !ok {
			return ctl.Errorf(ctl.KindNotFound, "route %s: no interface %s", r.Prefix, r.Ifname)
		}
		if _, ok := b.st.Routes[r.Prefix]; ok || seen[r.Prefix] {
			return ctl.Errorf(ctl.KindExists, "route %s already exists", r.Prefix)
		}
		seen[r.Prefix] = true
	}
	for _, r := range rs {
		b.st.Routes[r.Prefix] = r
	}
	return nil
}

// DelRoutes implements api.Backend.
func (b *Backend) DelRoutes(rs []api.Route) error {
	b.enter("DelRoutes", len(rs))
	defer b.mu.Unlock()
	for _, r := range rs {
		if _, ok := b.st.Routes[r.Prefix]; !ok {
			return ctl.Errorf(ctl.KindNotFound, "no route %s", r.Prefix)
		}
	}
	for _, r := range rs {
		delete(b.st.Routes, r.Prefix)
	}
	return nil
}

// LookupRoute implements api.Backend.
func (b *Backend) LookupRoute(a netip.Addr) (api.Route, error) {
	b.enter("LookupRoute", a)
	defer b.mu.Unlock()
	best, found := api.Route{}, false
	for p, r := range b.st.Routes {
		if p.Contains(a) && (!found || p.Bits() > best.Prefix.Bits()) {
			best, found = r, true
		}
	}
	if !found {
		return api.Route{}, ctl.Errorf(ctl.KindNotFound, "no route to %s", a)
	}
	return best, nil
}

// sorted returns the routes in table order: by address, then length.
func (b *Backend) sorted() []api.Route {
	rs := slices.Collect(maps.Values(b.st.Routes))
	slices.SortFunc(rs, func(x, y api.Route) int {
		return cmp.Or(x.Prefix.Addr().Compare(y.Prefix.Addr()), cmp.Compare(x.Prefix.Bits(), y.Prefix.Bits()))
	})
	return rs
}

// Routes implements api.Backend.
func (b *Backend) Routes(offset, limit int) (int, []api.Route, error) {
	b.enter("Routes", offset, limit)
	defer b.mu.Unlock()
	rs := b.sorted()
	if offset >= len(rs) {
		return len(rs), nil, nil
	}
	return len(rs), rs[offset:min(len(rs), offset+limit)], nil
}

// LogEnable implements api.Backend.
func (b *Backend) LogEnable() error {
	b.enter("LogEnable")
	defer b.mu.Unlock()
	b.st.LogOn = true
	return nil
}

// LogDisable implements api.Backend.
func (b *Backend) LogDisable() error {
	b.enter("LogDisable")
	defer b.mu.Unlock()
	b.st.LogOn = false
	return nil
}

// LogClear implements api.Backend.
func (b *Backend) LogClear() error {
	b.enter("LogClear")
	defer b.mu.Unlock()
	b.st.LogGen++
	return nil
}

// LogEnabled implements api.Backend.
func (b *Backend) LogEnabled() bool {
	b.enter("LogEnabled")
	defer b.mu.Unlock()
	return b.st.LogOn
}

// Drivers are the driver names the fake backend accepts, and Serve's
// default for api.Options.Drivers: the fake opens nothing, so it needs no
// registered driver.
var Drivers = []string{"afpacket", "afxdp"}

// Serve starts an api.Server for b on a Unix socket in a fresh temporary
// directory and returns it and the socket path. The server is closed when
// the test ends. o.Drivers nil means Drivers.
func Serve(t testing.TB, b api.Backend, o api.Options) (*api.Server, string) {
	t.Helper()
	if o.Drivers == nil {
		o.Drivers = Drivers
	}
	if o.UnixPath == "" {
		// t.TempDir paths can exceed the 108-byte sun_path limit.
		dir, err := os.MkdirTemp("", "r2api")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		o.UnixPath = filepath.Join(dir, "r2.sock")
	}
	var logMu sync.Mutex
	logDone := false
	if o.Logf == nil {
		// t.Logf panics once the test is over; stop logging at cleanup.
		o.Logf = func(format string, args ...any) {
			logMu.Lock()
			defer logMu.Unlock()
			if !logDone {
				t.Logf(format, args...)
			}
		}
	}
	s, err := api.New(b, o)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		logMu.Lock()
		logDone = true
		logMu.Unlock()
	})
	return s, o.UnixPath
}
