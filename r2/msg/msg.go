// Package msg defines the messages between R2's control side and its
// forwarding threads.
//
// Control to forwarding: the control side builds an immutable object (a
// route table, an interface snapshot) and sends every thread a message
// referring to it; each thread hands the message to every node of its graph
// between two graph runs, and a node that cares swaps a pointer. Handling
// must be short: the thread forwards no packets meanwhile.
//
// Forwarding to control: Up is a small value type (no pointers, no boxing)
// sent on a bounded channel without blocking, so reporting a learned MAC
// never allocates and never stalls a forwarding thread; when the channel is
// full the report is dropped and counted. The control side relays what it
// learns to every thread.
package msg

import (
	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/r2/store"
)

// Msg is a control message for nodes. It is a closed set: nodes type-switch
// on the concrete types below.
type Msg interface{ isMsg() }

// IPv4Table tells nodes to use Table from now on. The control side keeps the
// previous table unchanged until every thread has acknowledged.
type IPv4Table struct{ Table *fwd.IPv4Table }

// IPv6Table tells nodes to use Table from now on, as IPv4Table does for
// IPv4.
type IPv6Table struct{ Table *fwd.IPv6Table }

// Interfaces tells nodes the interface configuration changed; Snapshot is
// immutable.
type Interfaces struct{ Snapshot *fwd.Interfaces }

// MACLearned tells encapsulation nodes that IP on Ifindex is at MAC.
type MACLearned struct {
	Ifindex int32
	IP      uint32
	MAC     [6]byte
	// Static entries (set through the API, by an operator or the kernel
	// follower) never age and are never re-asked for: whoever set them
	// keeps them right.
	Static bool
}

// MAC6Learned tells encapsulation nodes that the IPv6 address IP on
// Ifindex is at MAC (neighbour discovery's counterpart of MACLearned).
type MAC6Learned struct {
	Ifindex int32
	IP      [16]byte
	MAC     [6]byte
	// Static: as MACLearned.Static.
	Static bool
}

// MACForget tells encapsulation nodes to drop what they know of IP on
// Ifindex (IP 0: everything on Ifindex, IPv6 neighbours included).
type MACForget struct {
	Ifindex int32
	IP      uint32
}

// MAC6Forget tells encapsulation nodes to drop what they know of the IPv6
// address IP on Ifindex.
type MAC6Forget struct {
	Ifindex int32
	IP      [16]byte
}

// Probe asks the owner thread's encapsulation node of Ifindex to ask for
// a next hop once (an ARP request for IP, or a neighbour solicitation for
// IP6 when Is6) without holding any packet: the control side re-probes
// next hops it marked failed, which multipath groups no longer send
// traffic to, so that they are found again when they come back.
type Probe struct {
	Ifindex int32
	Is6     bool
	IP      uint32
	IP6     [16]byte
}

// Store hands threads a new snapshot of the keyed store's published values.
// The thread swaps its view before passing the message to its nodes.
type Store struct{ Snapshot *store.Snapshot }

func (IPv4Table) isMsg()   {}
func (IPv6Table) isMsg()   {}
func (Interfaces) isMsg()  {}
func (MACLearned) isMsg()  {}
func (MAC6Learned) isMsg() {}
func (MACForget) isMsg()   {}
func (MAC6Forget) isMsg()  {}
func (Probe) isMsg()       {}
func (Store) isMsg()       {}

// UpKind says what an Up message reports.
type UpKind uint8

// Kinds of Up messages.
const (
	// UpMAC: a node learned that IP on Ifindex is at MAC.
	UpMAC UpKind = iota + 1
	// UpMAC6: a node learned that the IPv6 address IP6 on Ifindex is at
	// MAC (neighbour discovery); IP is unused.
	UpMAC6
	// UpResolving: an encapsulation node started resolving IP (or IP6
	// when Is6) on Ifindex: it holds packets for it and asked.
	UpResolving
	// UpFailed: an encapsulation node gave up on IP (or IP6 when Is6) on
	// Ifindex: no answer within its resolve timeout, either to a first
	// request or to the refresh of an entry it had.
	UpFailed
)

// Up is a report from a forwarding thread to the control side.
type Up struct {
	Kind    UpKind
	Thread  int
	Ifindex int32
	IP      uint32
	// IP6 is the IPv6 address of an UpMAC6 report.
	IP6 [16]byte
	MAC [6]byte
	// Create is set when the report may create a neighbour entry (the ARP
	// was addressed to us; a neighbour solicitation for one of our
	// addresses; a solicited neighbour advertisement); otherwise it only
	// refreshes an existing one, as Linux does with gratuitous ARP, ARP for
	// other hosts and unsolicited advertisements.
	Create bool
	// Is6 says that an UpResolving or UpFailed report is about IP6.
	Is6 bool
}

// Uplink is where forwarding threads send Up messages. Send never blocks.
type Uplink struct {
	C chan Up
}

// NewUplink makes an uplink holding up to n unread reports.
func NewUplink(n int) *Uplink { return &Uplink{C: make(chan Up, n)} }

// Send reports u, or returns false if the control side is behind (the caller
// counts the loss). A nil Uplink accepts nothing.
func (l *Uplink) Send(u Up) bool {
	if l == nil {
		return false
	}
	select {
	case l.C <- u:
		return true
	default:
		return false
	}
}
