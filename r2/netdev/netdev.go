package netdev

import (
	"errors"
	"net"
)

// Errors.
var (
	// ErrNoSuchInterface is wrapped by Lookup's error for a name that
	// matches no interface.
	ErrNoSuchInterface = errors.New("no such interface")
	// ErrNotEthernet is wrapped by Lookup's error for an interface that is
	// not Ethernet.
	ErrNotEthernet = errors.New("not an Ethernet interface")
	// ErrUnsupported is returned on systems without rtnetlink.
	ErrUnsupported = errors.ErrUnsupported
)

// Info is what R2 needs to know about an interface.
type Info struct {
	Name  string           // interface name
	Index int              // Linux ifindex, in the caller's namespace
	MAC   net.HardwareAddr // Ethernet address, 6 bytes
	MTU   int              // L3 MTU
	Up    bool             // administratively up (IFF_UP)
	// OperUp is true when the interface can carry traffic: see the
	// package documentation.
	OperUp bool
}

// Event is a change of an interface seen by Watch.
type Event struct {
	Name    string // interface name (the new one after a rename)
	Index   int    // Linux ifindex
	Deleted bool   // the interface is gone; the other fields are its last state
	Up      bool   // administratively up
	OperUp  bool   // operationally up, as Info.OperUp
	MTU     int    // L3 MTU
}
