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
// An interface served by one thread gets a socket on each of its receive
// queues; one served by several (a group: a.Fanout set) gets them too,
// member m of the group taking every queue q with q mod members == m (two
// threads, four queues: 0 and 2, 1 and 3), each member driven by its own
// thread. A thread with several queues drives them as one driver
// (queueSet, queues_linux.go). A member beyond the interface's queues
// serves nothing (driver.ErrNotServing: the caller leaves that thread out,
// and it hands its packets for the interface to the owner).
//
// Until 2026-12-04 an interface of one thread got a socket on queue 0
// alone, so on a device with several queues most of its frames never
// reached R2; from then until 2026-12-05 an interface with more queues than
// threads was refused, which made the caller fall back to AF_PACKET.
func open(a driver.OpenArgs) (driver.Driver, error) {
	members, member := 1, 0 // an interface served by one thread is no group
	if a.Fanout != 0 {
		members, member = a.Members, a.Member
	}
	if members < 1 || member < 0 || member >= members {
		return nil, fmt.Errorf("afxdp: %s: member %d of %d threads", a.Ifname, member, members)
	}
	nq, err := RxQueues(a.Ifname)
	if err != nil {
		return nil, fmt.Errorf("afxdp: %s: receive queues: %w", a.Ifname, err)
	}
	queues := memberQueues(nq, members, member)
	if len(queues) == 0 {
		return nil, fmt.Errorf("afxdp: %s: member %d of %d: %w", a.Ifname, member, members, driver.ErrNotServing)
	}
	if a.Pool == nil {
		return nil, fmt.Errorf("afxdp: %s: no packet pool", a.Ifname)
	}
	fill := 0 // Config's default
	if len(queues) > 1 {
		if fill, err = queueFill(a.Pool.Size(), len(queues)); err != nil {
			return nil, fmt.Errorf("afxdp: %s: %w", a.Ifname, err)
		}
	}
	// The queues' drivers share the interface's counters, allocated once:
	// they all run on this thread.
	c := Config{
		Ifname:         a.Ifname,
		Ifindex:        a.Ifindex,
		RxRings:        a.Settings.XDPRxRings,
		LightGap:       a.Settings.XDPLightGap,
		MTU:            a.MTU,
		Pool:           a.Pool,
		FillSize:       fill,
		Counters:       a.Counters,
		TxCopies:       a.Counter(driver.DrvTxCopies),
		RxRingCounters: a.RxRingCounters(a.Settings.XDPRxRings),
		RxMultiBuf:     a.Counter(driver.DrvRxMultiBuf),
		TxMultiBuf:     a.Counter(driver.DrvTxMultiBuf),
		TxVnet:         a.Counter(driver.DrvTxVnet),
		TxOrderHeld:    a.Counter(driver.DrvTxOrderHeld),
		RxVnet:         a.Counter(driver.DrvRxVnet),
		NoSuperFrames:  a.Settings.XDPNoSuperFrames,

		NeighCopies: a.Counter(driver.DrvNeighCopies),
		NeighErrors: a.Counter(driver.DrvNeighErrors),
	}
	if a.Settings.XDPMode != "" {
		if c.Mode, err = ParseMode(a.Settings.XDPMode); err != nil {
			return nil, fmt.Errorf("afxdp: %s: %w", a.Ifname, err)
		}
	}
	ds := make([]*Driver, 0, len(queues))
	for i, q := range queues {
		d, err := openQueue(a, c, q, i == 0)
		if err != nil {
			for _, d := range ds {
				d.Close()
			}
			return nil, err
		}
		ds = append(ds, d)
	}
	if len(ds) == 1 {
		return ds[0], nil // a nil *Driver must not become a non-nil driver.Driver
	}
	s, err := newQueueSet(a.Ifname, ds, queues)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// openQueue opens the driver of queue q with c. The first queue of a
// thread holds the interface's promiscuous mode and the socket that sends
// super-frames (a queueSet sends through its first queue; every queue
// receives its own), and says, once, why it has no multi-buffer frames.
func openQueue(a driver.OpenArgs, c Config, q int, first bool) (*Driver, error) {
	c.Queue = q
	c.Promisc = a.Promisc && first
	c.noVnetTx = !first
	d, err := Open(c)
	if err != nil {
		return nil, err
	}
	if on, why := d.SuperFramesIn(); first && d.ActiveMode() == ActiveCopySKB && a.Logf != nil {
		// Said at attach, not at the first drop: an operator who chose
		// skb (or whose device left auto there) learns the cost now.
		if on {
			a.Logf("interface %s: afxdp in generic XDP: GSO super-frames (a host's TSO, a NIC's GRO) are passed to the stack and received whole through an AF_PACKET socket (drv_rx_vnet)", a.Ifname)
		} else {
			a.Logf("interface %s: afxdp in generic XDP: GSO super-frames (a host's TSO, a NIC's GRO) arrive without their segment size and are dropped, counted in drv_rx_errors (%s); turn those offloads off, or use mode copy", a.Ifname, why)
		}
	}
	if first && d.prog.steer != nil && d.prog.read == nil && a.Logf != nil {
		a.Logf("interface %s: afxdp light-flow steering without read marks (%s): a thread kept off its CPU longer than the gap may see a flow that changes ring reordered", a.Ifname, d.prog.readWhy)
	}
	if first && d.stampSkip > 0 && a.Logf != nil {
		a.Logf("interface %s: afxdp: this kernel refuses bpf_xdp_adjust_meta to XDP programs, so frames are stamped in front of their data (%d bytes of each chunk)", a.Ifname, d.stampSkip)
	}
	if on, why := d.SuperFrames(); first && !on && !c.NoSuperFrames && a.Logf != nil {
		a.Logf("interface %s: afxdp without super-frames (the GSO node segments them first): %s", a.Ifname, why)
	}
	if on, why := d.MultiBuffer(); first && !on && d.mb.want {
		if a.Logf != nil {
			a.Logf("interface %s: afxdp queue %d without multi-buffer frames (frames over %d bytes are dropped by the kernel): %s", a.Ifname, q, FrameSize-xdpPacketHeadroom-int(d.stampSkip), why)
		}
		if c := a.Counter(driver.DrvMultiBufOff); c.Valid() {
			c.Inc()
		}
	}
	return d, nil
}
