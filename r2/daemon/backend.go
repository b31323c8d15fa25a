//go:build linux

package daemon

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/logs"
	"github.com/r2go/r2/r2/api"
	"github.com/r2go/r2/r2/ctl"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/driver/afpacket"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/netdev"
	"github.com/r2go/r2/r2/router"
)

// backend adapts the engine to the API server and attaches Linux
// interfaces: it finds them with netlink, opens their driver and hands both
// to the engine.
type backend struct {
	*router.Router
	eng  *router.Router
	logs *logs.File
	reg  *counters.Registry
	cfg  config
	logf func(string, ...any)

	// ifmu serializes attaching and detaching, so a refused attach of a
	// name being attached concurrently cannot release the winner's counters.
	ifmu sync.Mutex

	mu sync.Mutex
	// linux maps attached interface names to their kernel index, to
	// recognise link events.
	linux    map[string]int
	vanished counters.Counter
	// drops publishes each driver's kernel-side drop count.
	drops map[string]kernelDrops
	// closed: shutdown began; drivers are no longer polled.
	closed bool
}

// kernelDrops is a driver whose kernel-side drops the control side polls
// (a driver.KernelDropper) and the counter it publishes them in.
type kernelDrops struct {
	d driver.KernelDropper
	c counters.Counter
	// hp, if the driver is one, counts the frames it passed to the host
	// (host-owned AF_XDP), published in hc.
	hp driver.HostPassCounter
	hc counters.Counter
	// kf, if the driver is one, counts the kernel's copies of transit
	// frames it filtered (AF_PACKET's tcx filter), published in kc.
	kf driver.KernelFilterCounter
	kc counters.Counter
}

// statsInterval is how often kernel drop counts are published.
const statsInterval = time.Second

// publishDrops refreshes the kernel drop counters until done is closed.
func (b *backend) publishDrops(done <-chan struct{}) {
	t := time.NewTicker(statsInterval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		b.mu.Lock()
		for _, k := range b.drops {
			if v, err := k.d.KernelDrops(); err == nil {
				k.c.Store(v)
			}
			if k.kf != nil {
				if v, err := k.kf.KernelFiltered(); err == nil {
					k.kc.Store(v)
				}
			}
			if k.hp == nil {
				continue
			}
			if v, err := k.hp.HostPassed(); err == nil {
				k.hc.Store(v)
			}
		}
		b.mu.Unlock()
	}
}

func newBackend(eng *router.Router, lf *logs.File, reg *counters.Registry, cfg config, logf func(string, ...any)) *backend {
	return &backend{Router: eng, eng: eng, logs: lf, reg: reg, cfg: cfg, logf: logf, linux: map[string]int{},
		vanished: reg.Counter(0, names.Counter(names.Control, names.IntfVanished)), drops: map[string]kernelDrops{}}
}

// AddInterface implements api.Backend.
func (b *backend) AddInterface(req api.AddIf) error {
	b.ifmu.Lock()
	defer b.ifmu.Unlock()
	info, err := netdev.Lookup(req.Name)
	if err != nil {
		return err
	}
	mac := info.MAC
	if req.MAC != nil {
		mac = req.MAC
	}
	if len(mac) != 6 {
		return fmt.Errorf("interface %s: MAC %s is not an Ethernet address", req.Name, mac)
	}
	kind := req.Driver
	if kind == "" {
		kind = b.cfg.Driver
	}
	owner := req.Thread
	if owner < 0 {
		owner = b.eng.PickOwner()
	} else if owner >= b.eng.Threads() {
		return fmt.Errorf("thread %d does not exist (threads 0..%d)", owner, b.eng.Threads()-1)
	}
	if _, err := b.eng.Interfaces(req.Name); err == nil {
		return fmt.Errorf("interface %s is already attached", req.Name)
	}
	var drv driver.Driver
	if len(req.Threads) > 1 {
		owner = req.Threads[0]
		drv, err = b.openGroup(kind, req.Name, info, req.Threads)
	} else {
		drv, err = b.openDriver(kind, req.Name, info, owner, 0, 0, 1)
	}
	if err != nil {
		b.reg.Release(-1, names.IfNode(req.Name)+"/")
		return fmt.Errorf("interface %s: %w", req.Name, err)
	}
	var m [6]byte
	copy(m[:], mac)
	err = b.eng.AddInterface(router.Interface{Name: req.Name, Ifindex: int32(req.Ifindex), MAC: m, MTU: info.MTU,
		LinuxIndex: info.Index, Owner: owner}, drv)
	if err != nil {
		drv.Close()
		b.reg.Release(-1, names.IfNode(req.Name)+"/")
		return err
	}
	if !info.OperUp {
		b.eng.SetUp(req.Name, false)
	}
	b.mu.Lock()
	b.linux[req.Name] = info.Index
	if kd, ok := drv.(driver.KernelDropper); ok && !b.closed {
		k := kernelDrops{d: kd, c: b.reg.Counter(owner, names.IfNodeCounter(req.Name, driver.DrvKernelDrops))}
		if hp, ok := drv.(driver.HostPassCounter); ok {
			k.hp, k.hc = hp, b.reg.Counter(owner, names.IfNodeCounter(req.Name, driver.DrvHostPassed))
		}
		if kf, ok := drv.(driver.KernelFilterCounter); ok && drv.Kind() == afpacket.Name {
			k.kf, k.kc = kf, b.reg.Counter(owner, names.IfNodeCounter(req.Name, driver.DrvKernelFiltered))
		}
		b.drops[req.Name] = k
	}
	b.mu.Unlock()
	return nil
}

// openDriver opens the registered driver kind for interface name owned by
// thread owner; a driver the kernel or the device refuses is replaced by
// its declared fallback (AF_XDP by AF_PACKET), with the reason logged.
func (b *backend) openDriver(kind, name string, info netdev.Info, owner int, fanout uint16, member, members int) (driver.Driver, error) {
	return driver.Open(kind, driver.OpenArgs{
		Fanout:   fanout,
		Member:   member,
		Members:  members,
		Ifname:   name,
		Ifindex:  info.Index,
		MTU:      info.MTU,
		Pool:     b.eng.Engine().Pool(owner),
		Registry: b.reg,
		Thread:   owner,
		Node:     names.IfNode(name),
		Promisc:  true,
		Settings: b.cfg.driverSettings(),
		Logf:     b.logf,
	})
}

// openGroup opens one driver per thread of threads for interface name, as
// a driver.Group: AF_PACKET sockets of one fanout group (whose id is the
// interface's Linux ifindex: unique among this namespace's interfaces, and
// a group belongs to one interface), or AF_XDP sockets on one receive
// queue each. The first thread's driver decides the kind for all (if
// AF_XDP falls back to AF_PACKET there, the others open AF_PACKET too).
// Threads the driver has no queue for are left out and logged; their
// packets for the interface go through the owner's handoff. The drivers
// are opened one after the other in list order: AF_PACKET's steering
// program numbers the group's rings in the order their sockets joined.
func (b *backend) openGroup(kind, name string, info netdev.Info, threads []int) (driver.Driver, error) {
	n := b.eng.Threads()
	for _, t := range threads {
		if t < 0 || t >= n {
			return nil, fmt.Errorf("thread %d does not exist (threads 0..%d)", t, n-1)
		}
	}
	byThread := make([]driver.Driver, n)
	fanout := uint16(info.Index)
	if fanout == 0 {
		fanout = 1
	}
	var idle []int
	for m, t := range threads {
		d, err := b.openDriver(kind, name, info, t, fanout, m, len(threads))
		if m > 0 && errors.Is(err, driver.ErrNotServing) {
			idle = append(idle, t)
			continue
		}
		if err != nil {
			for _, d := range byThread {
				if d != nil {
					d.Close()
				}
			}
			return nil, fmt.Errorf("thread %d: %w", t, err)
		}
		byThread[t] = d
		if m == 0 {
			kind = d.Kind()
		}
	}
	if len(idle) > 0 {
		b.logf("interface %s: %s has fewer receive queues than threads; threads %v do not serve it (they hand their packets for it to thread %d)", name, kind, idle, threads[0])
	}
	return driver.NewGroup(byThread)
}

// DelInterface implements api.Backend.
func (b *backend) DelInterface(name string) error {
	b.ifmu.Lock()
	defer b.ifmu.Unlock()
	// Stop polling the driver first: the engine closes it.
	b.mu.Lock()
	saved := b.drops[name]
	delete(b.drops, name)
	b.mu.Unlock()
	if err := b.eng.DelInterface(name); err != nil {
		b.mu.Lock()
		if saved.d != nil && !b.closed {
			b.drops[name] = saved
		}
		b.mu.Unlock()
		return err
	}
	b.mu.Lock()
	delete(b.linux, name)
	b.mu.Unlock()
	return nil
}

// LogEnable implements api.Backend.
func (b *backend) LogEnable() error { b.logs.Enable(); return nil }

// LogDisable implements api.Backend.
func (b *backend) LogDisable() error { b.logs.Disable(); return nil }

// LogClear implements api.Backend.
func (b *backend) LogClear() error { b.logs.Clear(); return nil }

// LogEnabled implements api.Backend.
func (b *backend) LogEnabled() bool { return b.logs.Enabled() }

// watchLinks follows Linux link events: an attached interface that goes
// down is marked down, and one that disappears is detached, logged and
// counted, so a vanished interface never leaves the router half-working.
func (b *backend) watchLinks(done <-chan struct{}) {
	for {
		err := netdev.Watch(done, b.linkEvent)
		select {
		case <-done:
			return
		default:
		}
		b.logf("link watch: %v; retrying in 1s", err)
		select {
		case <-done:
			return
		case <-time.After(time.Second):
		}
	}
}

func (b *backend) linkEvent(ev netdev.Event) {
	b.mu.Lock()
	idx, ok := b.linux[ev.Name]
	b.mu.Unlock()
	if !ok || idx != ev.Index {
		return
	}
	if ev.Deleted {
		b.vanished.Inc()
		b.logf("interface %s disappeared from Linux: detaching it", ev.Name)
		if err := b.DelInterface(ev.Name); err != nil && !errors.Is(err, ctl.ErrNotFound) {
			b.logf("detaching %s: %v", ev.Name, err)
		}
		return
	}
	b.eng.SetUp(ev.Name, ev.Up && ev.OperUp)
}

// close stops the polling of drivers before the engine closes them: it
// waits for a publishDrops round in progress, and later rounds find nothing.
func (b *backend) close() {
	b.mu.Lock()
	b.closed = true
	clear(b.drops)
	b.mu.Unlock()
}

var _ api.Backend = (*backend)(nil)
