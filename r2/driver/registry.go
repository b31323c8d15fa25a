package driver

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

// OpenArgs is what a registered driver gets to open one interface: the
// interface, the owner thread's resources, and the daemon's settings.
type OpenArgs struct {
	// Ifname is the Linux interface name.
	Ifname string
	// Ifindex is its Linux ifindex, in the network namespace of the
	// caller.
	Ifindex int
	// MTU is the interface's MTU (0: the driver asks the interface).
	MTU int
	// Pool is the packet pool of the owner thread (made by
	// r2/internal/pagemem, so that AF_XDP can use it as its UMEM).
	Pool *packet.Pool
	// Registry, Thread and Node say where the driver's counters live: in
	// Registry, for the owner thread Thread, under the IfNode node Node
	// (names.IfNode(Ifname)). Registry nil means nowhere: the driver
	// counts privately.
	Registry *counters.Registry
	Thread   int
	Node     string
	// Counters are the driver counters every driver keeps. Open allocates
	// them (once, even if it falls back to another driver); the zero
	// value means the driver allocates them privately.
	Counters Counters
	// Promisc puts the interface in promiscuous mode while the driver is
	// open.
	Promisc bool
	// Fanout, when not 0, makes the driver one of several serving the
	// interface from different threads: the id of the kernel fanout
	// group AF_PACKET joins (AF_XDP takes a receive queue instead, by
	// Member; a driver that cannot share an interface refuses it).
	Fanout uint16
	// Member and Members say, in a group (Fanout not 0), which of the
	// group's drivers this is (0 to Members-1, in thread order). AF_XDP
	// binds member i to every receive queue q with q mod Members == i.
	Member, Members int
	// Settings are the daemon's configuration values for drivers.
	Settings Settings
	// Logf logs what the driver wants an operator to know (nil: nothing).
	Logf func(format string, args ...any)
}

// Counter allocates a counter of the driver's own (beyond Counters), named
// what under Node, for Thread; the zero Counter if Registry is nil.
func (a OpenArgs) Counter(what string) counters.Counter {
	if a.Registry == nil {
		return counters.Counter{}
	}
	return a.Registry.Counter(a.Thread, names.Counter(a.Node, what))
}

// RxRingCounters allocates the DrvRxRing counters of k receive rings
// (RxSched.SetRingCounters); nil for fewer than two rings or without a
// Registry.
func (a OpenArgs) RxRingCounters(k int) []counters.Counter {
	if a.Registry == nil || k < 2 {
		return nil
	}
	cs := make([]counters.Counter, k)
	for i := range cs {
		cs[i] = a.Counter(RxRingCounter(i))
	}
	return cs
}

func (a OpenArgs) logf(format string, args ...any) {
	if a.Logf != nil {
		a.Logf(format, args...)
	}
}

// Settings are the daemon's configuration values for drivers (the
// [afpacket] and [afxdp] sections of its configuration file). A driver reads those meant
// for it and ignores the others; a zero field means the driver's default.
type Settings struct {
	// Ring is the AF_PACKET receive ring version: "v2" (a status word per
	// frame, low latency) or "v3" (blocks).
	Ring string
	// Frames is the number of slots of an AF_PACKET TPACKET_V2 ring.
	Frames int
	// Blocks, BlockSize (bytes) and BlockTimeout shape an AF_PACKET
	// TPACKET_V3 ring.
	Blocks       int
	BlockSize    int
	BlockTimeout time.Duration
	// NoVnetHdr turns AF_PACKET's vnet headers (GSO/GRO super-frames
	// received and sent whole) off.
	NoVnetHdr bool
	// RxQueues is the number of AF_PACKET receive rings per interface
	// (0: the driver's default).
	RxQueues int
	// LightGap steers AF_PACKET's light flows to ring 0 (frames this far
	// apart; 0: off), with one thread per interface.
	LightGap time.Duration
	// XDPRxRings is the number of AF_XDP receive rings (sockets) per
	// queue (0: the driver's default).
	XDPRxRings int
	// XDPLightGap steers AF_XDP's light flows to ring 0 of their queue
	// (frames this far apart; 0: off).
	XDPLightGap time.Duration
	// XDPMode is how AF_XDP sockets move frames and where the program
	// runs: a name afxdp.ParseMode takes ("auto", "zero-copy", "copy",
	// "skb"); "" is auto.
	XDPMode string
	// XDPNoSuperFrames keeps super-frames off AF_XDP interfaces: the
	// GSO node segments them first (afxdp.Config.NoSuperFrames).
	XDPNoSuperFrames bool
	// NoKernelRxFilter turns AF_PACKET's tcx ingress filter (which drops
	// the kernel's copies of transit frames) off.
	NoKernelRxFilter bool
}

// OpenFunc opens a driver on one interface.
type OpenFunc func(OpenArgs) (Driver, error)

// Registration declares a driver to the registry.
type Registration struct {
	// Open opens the driver on an interface.
	Open OpenFunc
	// Fallback, if not "", names the driver that Open (the package
	// function) opens instead when this one fails: whatever the reason
	// (the kernel or the device refusing it, a setting it cannot meet),
	// the other can still serve the interface. The reason is logged.
	Fallback string
}

// ErrUnknown is wrapped by the error of Open for a name nobody registered.
var ErrUnknown = errors.New("unknown driver")

// ErrNotServing is wrapped by the error of a group member's open when the
// driver has nothing for that thread to serve (AF_XDP: the interface has
// fewer receive queues than the group has threads). It is not a failure:
// Open returns it without trying the fallback, and the caller leaves the
// thread out of the group (its packets for the interface go through the
// owner's handoff).
var ErrNotServing = errors.New("no queue left for this thread")

var registry struct {
	mu     sync.RWMutex
	byName map[string]Registration
}

// Register adds the driver name to the registry; a driver package calls it
// from its init function. It panics if name is empty or taken or r.Open is
// nil, as these are programming errors. The fallback driver need not be
// registered yet.
func Register(name string, r Registration) {
	if name == "" || r.Open == nil {
		panic("driver: Register of " + fmt.Sprintf("%q", name) + " without a name or an Open function")
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if _, dup := registry.byName[name]; dup {
		panic("driver: Register called twice for " + name)
	}
	if registry.byName == nil {
		registry.byName = map[string]Registration{}
	}
	registry.byName[name] = r
}

// Lookup returns the registration of the driver name.
func Lookup(name string) (Registration, bool) {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	r, ok := registry.byName[name]
	return r, ok
}

// Names lists the registered drivers, sorted.
func Names() []string {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	out := make([]string, 0, len(registry.byName))
	for n := range registry.byName {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Open opens the registered driver name with a, allocating a.Counters first
// if a.Registry is set and they are not. When the driver fails and declares
// a Fallback, Open logs why and opens the fallback instead (following
// fallbacks of fallbacks, each driver once); the error is then the last
// driver's. A driver that reports its mode (ModeReporter) has it logged.
func Open(name string, a OpenArgs) (Driver, error) {
	var tried []string
	for {
		r, ok := Lookup(name)
		if !ok {
			return nil, fmt.Errorf("%w %q (registered: %s)", ErrUnknown, name, strings.Join(Names(), ", "))
		}
		if a.Registry != nil && !a.Counters.valid() {
			a.Counters = NewCounters(a.Registry, a.Thread, a.Node)
		}
		tried = append(tried, name)
		d, err := r.Open(a)
		if errors.Is(err, ErrNotServing) {
			return nil, err
		}
		if err == nil {
			if m, ok := d.(ModeReporter); ok {
				a.logf("interface %s: %s %s", a.Ifname, name, m.ActiveMode())
			}
			return d, nil
		}
		if r.Fallback == "" || slices.Contains(tried, r.Fallback) {
			return nil, err
		}
		a.logf("interface %s: %s refused, falling back to %s: %v", a.Ifname, name, r.Fallback, err)
		name = r.Fallback
	}
}

// valid reports whether all of c are allocated.
func (c Counters) valid() bool {
	return c.RxNoBuf.Valid() && c.RxErrors.Valid() && c.TxErrors.Valid() && c.Syscalls.Valid() &&
		c.RxBatches.Valid() && c.RxCsumFixed.Valid()
}
