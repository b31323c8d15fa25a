package driver

import (
	"errors"
	"net/netip"

	"github.com/r2go/r2/r2/packet"
)

// Group is one interface served by several forwarding threads, each through
// its own driver: one AF_PACKET socket of a PACKET_FANOUT group per thread,
// which the kernel feeds flow by flow. The group is a Driver itself and
// stands for its lowest thread's driver, so the router and the engine
// handle it as one driver; IfNode asks it for each thread's own
// (ThreadDriver) and drives that on that thread: Rx and Tx, no handoff.
// Recv, Send and Pending of the group itself are the first driver's, for
// its thread only.
type Group struct {
	byThread []Driver // index: thread; nil where the thread does not serve
	first    int      // lowest serving thread
}

var (
	_ Driver        = (*Group)(nil)
	_ KernelDropper = (*Group)(nil)
	_ HostPasser    = (*Group)(nil)

	_ KernelFilterCounter = (*Group)(nil)
	_ Offloader           = (*Group)(nil)
)

// Offloads implements Offloader: true if every driver of the group sends
// super-frames as they are. Each thread sends on its own driver, so one
// that cannot would get super-frames it must not send.
func (g *Group) Offloads() bool {
	for _, d := range g.byThread {
		if d == nil {
			continue
		}
		if o, ok := d.(Offloader); !ok || !o.Offloads() {
			return false
		}
	}
	return true
}

// SetHostOwned implements HostPasser: the first driver's, if it is one.
// The drivers of an AF_XDP group share the interface's XDP program, so
// switching it once switches every queue; the first driver's neighbour
// socket brings the host's ARP and ND copies to its thread. Drivers that
// are not HostPassers (AF_PACKET) need nothing.
func (g *Group) SetHostOwned(on bool, addrs []netip.Addr) error {
	if h, ok := g.byThread[g.first].(HostPasser); ok {
		return h.SetHostOwned(on, addrs)
	}
	return nil
}

// NewGroup makes a group of byThread, indexed by thread (nil entries: the
// thread does not serve the interface). At least one must be set.
func NewGroup(byThread []Driver) (*Group, error) {
	g := &Group{byThread: byThread, first: -1}
	for i, d := range byThread {
		if d != nil && g.first < 0 {
			g.first = i
		}
	}
	if g.first < 0 {
		return nil, errors.New("driver group: no driver")
	}
	return g, nil
}

// ThreadDriver is thread's own driver, or nil if thread does not serve.
func (g *Group) ThreadDriver(thread int) Driver {
	if thread < 0 || thread >= len(g.byThread) {
		return nil
	}
	return g.byThread[thread]
}

// First is the lowest serving thread.
func (g *Group) First() int { return g.first }

// Threads lists the serving threads.
func (g *Group) Threads() []int {
	var ts []int
	for i, d := range g.byThread {
		if d != nil {
			ts = append(ts, i)
		}
	}
	return ts
}

// Kind implements Driver.
func (g *Group) Kind() string { return g.byThread[g.first].Kind() }

// Fd implements Driver: the first driver's.
func (g *Group) Fd() int { return g.byThread[g.first].Fd() }

// Recv implements Driver: the first driver's.
func (g *Group) Recv(pool *packet.Pool, pkts []*packet.Packet) int {
	return g.byThread[g.first].Recv(pool, pkts)
}

// Send implements Driver: the first driver's.
func (g *Group) Send(pool *packet.Pool, pkts []*packet.Packet) int {
	return g.byThread[g.first].Send(pool, pkts)
}

// Pending implements Driver: the first driver's.
func (g *Group) Pending() bool { return g.byThread[g.first].Pending() }

// Close closes every driver of the group and returns the first error.
func (g *Group) Close() error {
	var err error
	for _, d := range g.byThread {
		if d == nil {
			continue
		}
		if e := d.Close(); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// KernelDrops implements KernelDropper: the sum over the drivers that
// count kernel drops.
func (g *Group) KernelDrops() (uint64, error) {
	return sumMembers(g, KernelDropper.KernelDrops)
}

// KernelFiltered implements KernelFilterCounter: the sum over the drivers
// that filter (an AF_PACKET group filters on its first socket only: the
// filter is the interface's).
func (g *Group) KernelFiltered() (uint64, error) {
	return sumMembers(g, KernelFilterCounter.KernelFiltered)
}

// sumMembers adds up count over the members that are a C, stopping at the
// first error (with the sum so far).
func sumMembers[C any](g *Group, count func(C) (uint64, error)) (uint64, error) {
	var sum uint64
	for _, d := range g.byThread {
		if c, ok := d.(C); ok {
			n, err := count(c)
			if err != nil {
				return sum, err
			}
			sum += n
		}
	}
	return sum, nil
}
