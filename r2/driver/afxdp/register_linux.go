package afxdp

import (
	"errors"

	"github.com/r2go/r2/r2/driver"
)

// init registers AF_XDP with AF_PACKET as its fallback: whatever the reason
// AF_XDP is refused (no AF_XDP sockets, no XDP on the device, an MTU too
// large for 2 KiB UMEM frames), AF_PACKET can still serve the interface.
func init() {
	driver.Register(Name, driver.Registration{Open: open, Fallback: "afpacket"})
}

// open is the registered driver.OpenFunc.
func open(a driver.OpenArgs) (driver.Driver, error) {
	if a.Fanout != 0 {
		// One socket per queue is not done: refusing lets the registry
		// fall back to AF_PACKET, whose sockets share the interface.
		return nil, errors.New("afxdp: an interface served by several threads needs one socket per queue (not supported)")
	}
	d, err := Open(Config{
		Ifname:   a.Ifname,
		Ifindex:  a.Ifindex,
		MTU:      a.MTU,
		Pool:     a.Pool,
		Counters: a.Counters,
		Promisc:  a.Promisc,
		TxCopies: a.Counter(driver.DrvTxCopies),

		NeighCopies: a.Counter(driver.DrvNeighCopies),
		NeighErrors: a.Counter(driver.DrvNeighErrors),
	})
	if err != nil {
		return nil, err // a nil *Driver must not become a non-nil driver.Driver
	}
	return d, nil
}
