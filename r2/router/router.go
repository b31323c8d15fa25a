//go:build linux

package router

import (
	"fmt"
	"net/netip"
	"sync"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/r2/ctl"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/engine"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/registry"
)

// Router is R2's control side: it owns the route tables, the interface
// configuration and the neighbour table, decides what each request means,
// and hands the result to the engine's threads. All methods are safe for
// concurrent use: they take the router's lock (the R2 context lock).
type Router struct {
	mu    sync.Mutex
	eng   *engine.Engine
	rib   *fwd.IPv4RIB
	rib6  *fwd.IPv6RIB
	intfs *fwd.Interfaces
	drvs  map[string]driver.Driver
	// addrRoutes are the connected and local routes that interface
	// addresses installed, with how many addresses need each.
	addrRoutes map[netip.Prefix]int
	// neighs are the neighbours of both families (neigh.go).
	neighs map[neighKey]*neighEntry
	// unresolved counts the incomplete and failed entries of neighs.
	unresolved int
	// groups are the multipath groups made so far, by members and
	// weights, so that routes with the same paths share one.
	groups    map[string]*fwd.Group
	groups6   map[string]*fwd.Group6
	relayDone chan struct{}
	closed    bool
	logf      func(string, ...any)

	// qos is each interface's QoS configuration (qos.go).
	qos map[string]*qosIf
}

// New starts the engine described by cfg and the router that configures it.
func New(cfg engine.Config) (*Router, error) {
	r := &Router{
		drvs:       map[string]driver.Driver{},
		addrRoutes: map[netip.Prefix]int{},
		neighs:     map[neighKey]*neighEntry{},
		relayDone:  make(chan struct{}),
		intfs:      &fwd.Interfaces{},
		logf:       cfg.Logf,
	}
	if r.logf == nil {
		r.logf = func(string, ...any) {}
	}
	r.rib = fwd.NewIPv4RIB(func(t *fwd.IPv4Table) { r.eng.Publish(msg.IPv4Table{Table: t}) })
	r.rib6 = fwd.NewIPv6RIB(func(t *fwd.IPv6Table) { r.eng.Publish(msg.IPv6Table{Table: t}) })
	cfg.Env = registry.Env{IPv4: r.rib.Active(), IPv6: r.rib6.Active(), Intfs: r.intfs}
	eng, err := engine.New(cfg)
	if err != nil {
		return nil, err
	}
	r.eng = eng
	go r.relay()
	return r, nil
}

// Engine is the engine the router configures.
func (r *Router) Engine() *engine.Engine { return r.eng }

// Counters is the engine's counter registry.
func (r *Router) Counters() *counters.Registry { return r.eng.Counters() }

// lock takes the R2 context lock, or fails without it once closed.
func (r *Router) lock() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ctl.ErrClosed
	}
	return nil
}

// byName is the interface called name. Caller holds r.mu.
func (r *Router) byName(name string) (*fwd.Interface, error) {
	if fi := r.intfs.ByName(name); fi != nil {
		return fi, nil
	}
	return nil, fmt.Errorf("interface %s: %w", name, ctl.ErrNotFound)
}

// lockIf takes the R2 context lock and finds interface name; on error the
// lock is not held.
func (r *Router) lockIf(name string) (*fwd.Interface, error) {
	if err := r.lock(); err != nil {
		return nil, err
	}
	fi, err := r.byName(name)
	if err != nil {
		r.mu.Unlock()
		return nil, err
	}
	return fi, nil
}

// publishIntfs makes snap the interface configuration of every thread.
func (r *Router) publishIntfs(snap *fwd.Interfaces) {
	r.intfs = snap
	r.eng.Publish(msg.Interfaces{Snapshot: snap})
}

// Close stops the engine and closes every driver.
func (r *Router) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	err := r.eng.Close()
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for name, d := range r.drvs {
		if d == nil {
			continue
		}
		if err := d.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", name, err))
		}
	}
	r.mu.Unlock()
	<-r.relayDone
	return joinErrs(errs)
}

func joinErrs(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return fmt.Errorf("%v (and %d more)", errs[0], len(errs)-1)
}

var _ API = (*Router)(nil)
