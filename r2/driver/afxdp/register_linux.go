package afxdp

import "github.com/r2go/r2/r2/driver"

// init registers AF_XDP with AF_PACKET as its fallback: whatever the reason
// AF_XDP is refused (no AF_XDP sockets, no XDP on the device, an MTU too
// large for 2 KiB UMEM frames), AF_PACKET can still serve the interface.
func init() {
	driver.Register(Name, driver.Registration{Open: open, Fallback: "afpacket"})
}

// open is the registered driver.OpenFunc.
func open(a driver.OpenArgs) (driver.Driver, error) {
	d, err := Open(Config{
		Ifname:   a.Ifname,
		Ifindex:  a.Ifindex,
		MTU:      a.MTU,
		Pool:     a.Pool,
		Counters: a.Counters,
		Promisc:  a.Promisc,
		TxCopies: a.Counter(driver.DrvTxCopies),
	})
	if err != nil {
		return nil, err // a nil *Driver must not become a non-nil driver.Driver
	}
	return d, nil
}
