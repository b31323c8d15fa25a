package afxdp

import (
	"fmt"

	"github.com/r2go/r2/r2/driver"
)

// init registers AF_XDP with AF_PACKET as its fallback: whatever the reason
// AF_XDP is refused (no AF_XDP sockets, no XDP on the device, an MTU too
// large for what the kernel gives), AF_PACKET can still serve the
// interface.
func init() {
	driver.Register(Name, driver.Registration{Open: open, Fallback: "afpacket"})
}

// open is the registered driver.OpenFunc.
//
// An interface served by several threads (a group: a.Fanout set) gets one
// socket per receive queue, member i of the group on queue i, each driven
// by its own thread. A member beyond the interface's queues serves nothing
// (driver.ErrNotServing: the caller leaves that thread out, and it hands
// its packets for the interface to the owner). An interface with more
// queues than threads, one thread included, is refused, which makes the
// caller fall back to AF_PACKET: frames of a queue without a socket would
// go to the kernel's stack instead of R2 (one thread per queue is the only
// mapping done; reduce the queues with ethtool -L or serve the interface
// with more threads). Until 2026-12-04 an interface of one thread was not
// checked and got a socket on queue 0 alone: on a device with several
// queues most of its frames never reached R2.
func open(a driver.OpenArgs) (driver.Driver, error) {
	queue := 0
	members := 1 // an interface served by one thread is no group
	if a.Fanout != 0 {
		members = a.Members
	}
	nq, err := RxQueues(a.Ifname)
	if err != nil {
		return nil, fmt.Errorf("afxdp: %s: receive queues: %w", a.Ifname, err)
	}
	if nq > members {
		threads := "threads"
		if members == 1 {
			threads = "thread"
		}
		return nil, fmt.Errorf("afxdp: %s has %d receive queues and %d %s to serve them: one socket per queue needs a thread per queue (ethtool -L %s combined %d, or more threads)",
			a.Ifname, nq, members, threads, a.Ifname, members)
	}
	if a.Fanout != 0 {
		if a.Member >= nq {
			return nil, fmt.Errorf("afxdp: %s: member %d of %d: %w", a.Ifname, a.Member, a.Members, driver.ErrNotServing)
		}
		queue = a.Member
	}
	d, err := Open(Config{
		Ifname:         a.Ifname,
		Ifindex:        a.Ifindex,
		Queue:          queue,
		RxRings:        a.Settings.XDPRxRings,
		LightGap:       a.Settings.XDPLightGap,
		MTU:            a.MTU,
		Pool:           a.Pool,
		Counters:       a.Counters,
		Promisc:        a.Promisc,
		TxCopies:       a.Counter(driver.DrvTxCopies),
		RxRingCounters: a.RxRingCounters(a.Settings.XDPRxRings),
		RxMultiBuf:     a.Counter(driver.DrvRxMultiBuf),
		TxMultiBuf:     a.Counter(driver.DrvTxMultiBuf),

		NeighCopies: a.Counter(driver.DrvNeighCopies),
		NeighErrors: a.Counter(driver.DrvNeighErrors),
	})
	if err != nil {
		return nil, err // a nil *Driver must not become a non-nil driver.Driver
	}
	if on, why := d.MultiBuffer(); !on && d.mb.want {
		if a.Logf != nil {
			a.Logf("interface %s: afxdp queue %d without multi-buffer frames (frames over %d bytes are dropped by the kernel): %s", a.Ifname, queue, FrameSize-xdpPacketHeadroom, why)
		}
		if c := a.Counter(driver.DrvMultiBufOff); c.Valid() {
			c.Inc()
		}
	}
	return d, nil
}
