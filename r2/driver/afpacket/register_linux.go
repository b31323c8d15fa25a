package afpacket

import (
	"fmt"
	"strings"
	"sync"

	"github.com/r2go/r2/r2/driver"
)

func init() { driver.Register(Name, driver.Registration{Open: open}) }

// open is the registered driver.OpenFunc: Open with the daemon's
// [afpacket] settings.
func open(a driver.OpenArgs) (driver.Driver, error) {
	var v RingVersion
	switch a.Settings.Ring {
	case "":
		v = RingDefault
	case "v2":
		v = RingV2
	case "v3":
		v = RingV3
	default:
		return nil, fmt.Errorf("afpacket: ring %q: want v2 or v3", a.Settings.Ring)
	}
	fanout := a.Fanout
	if fanout == 0 && a.Settings.RxQueues > 1 {
		// The receive queues' group gets the id a group of threads
		// on this interface would have (the daemon's: its ifindex):
		// one the kernel picked could be another interface's id,
		// which that interface's threads would then fail to join.
		fanout = uint16(a.Ifindex)
		if fanout == 0 {
			fanout = 1
		}
	}
	d, err := Open(Config{
		Version:        v,
		Frames:         a.Settings.Frames,
		Ifname:         a.Ifname,
		Ifindex:        a.Ifindex,
		MTU:            a.MTU,
		Blocks:         a.Settings.Blocks,
		BlockSize:      a.Settings.BlockSize,
		BlockTimeout:   a.Settings.BlockTimeout,
		Counters:       a.Counters,
		RxLong:         a.Counter(driver.DrvRxLong),
		RxOutgoing:     a.Counter(driver.DrvRxOutgoing),
		RxRingCounters: a.RxRingCounters(a.Settings.RxQueues),
		Promisc:        a.Promisc,
		Fanout:         fanout,
		NoVnetHdr:      a.Settings.NoVnetHdr,
		RxQueues:       a.Settings.RxQueues,
		LightGap:       a.Settings.LightGap,
		// The daemon opens a group's drivers in member order, as
		// steering needs.
		Members: a.Members,
		Member:  a.Member,
		// One filter per interface: on a fanout group's first socket.
		KernelRxFilter: !a.Settings.NoKernelRxFilter && a.Member == 0,
		Logf:           a.Logf,
	})
	if err != nil {
		return nil, err // a nil *Driver must not become a non-nil driver.Driver
	}
	if _, why := d.Steering(); why != nil && a.Member == 0 { // once an interface
		if c := a.Counter(driver.DrvSteeringOff); c.Valid() {
			c.Inc()
		}
		if a.Logf != nil {
			a.Logf("interface %s: afpacket rings without light-flow steering (flows spread by the kernel's hash; a light flow may share a flood's ring; counted in %s): %v", a.Ifname, driver.DrvSteeringOff, why)
		}
	}
	if _, why := d.KernelFilter(); why != nil {
		if c := a.Counter(driver.DrvKernelFilterOff); c.Valid() {
			c.Inc()
		}
		logFilterOff(a.Logf, a.Ifname, why)
	}
	return d, nil
}

// filterOffLogged holds the reasons already logged: a kernel without tcx
// refuses every interface alike, and once is enough to say so.
var filterOffLogged sync.Map

// logFilterOff logs, once per reason, that an interface runs without the
// kernel receive filter.
func logFilterOff(logf func(string, ...any), ifname string, why error) {
	if logf == nil {
		return
	}
	msg := why.Error()
	if _, seen := filterOffLogged.LoadOrStore(strings.ReplaceAll(msg, ifname, "IF"), true); seen {
		return
	}
	logf("interface %s: afpacket without the kernel rx filter (the kernel IP-receives and drops a copy of every transit frame; counted in drv_kernel_filter_off): %v", ifname, why)
}
