package ctl

import (
	"net/netip"
	"time"
)

// Curve is a two-piece service curve: M1 bits/s for D, then M2 bits/s.
type Curve struct {
	M1 uint64
	D  time.Duration
	M2 uint64
}

// Class is a request to add (or change) an HFSC class of an interface.
type Class struct {
	Ifname string
	Name   string
	Parent string // "root" (or "") for a child of the root
	QLimit int    // leaves: queue limit in packets (0: DefaultQLimit)
	Leaf   bool
	// RT (real-time, leaves), LS (link-sharing) and UL (upper limit);
	// nil for none.
	RT, LS, UL *Curve
}

// DefaultQLimit is a leaf's queue limit when a request gives none.
const DefaultQLimit = 128

// Rule is a classifier rule of an interface: the first rule (lowest Prio)
// whose criteria all match sends the packet to leaf Class.
type Rule struct {
	Prio  int
	Class string
	DSCP  int          // -1: any
	Src   netip.Prefix // invalid: any
	Dst   netip.Prefix
	Proto int       // -1: any
	Sport [2]uint16 // inclusive range; {0, 0}: any
	Dport [2]uint16
}

// RuleInfo is a rule with the traffic it matched.
type RuleInfo struct {
	Rule
	Packets, Bytes uint64
}

// ClassInfo describes a class and its scheduler state. Times are
// nanoseconds of the owner thread's clock (QoSInfo.Now); VT is a virtual
// time, comparable among siblings only.
type ClassInfo struct {
	Name, Parent   string
	Leaf           bool
	QLimit         int
	RT, LS, UL     *Curve
	Packets, Bytes uint64 // sent
	Drops          uint64 // queue full, or freed with a deleted class
	QLen           int
	QBytes         uint64
	Active         bool
	VT             int64
	Eligible       int64
	Deadline       int64
	Fit            int64
}

// QoSInfo describes the QoS configuration and state of an interface.
type QoSInfo struct {
	Ifname  string
	Rate    uint64 // link rate, bits/s
	Default string // default class ("": none, scheduling inactive)
	Active  bool   // the scheduler is on the interface's packet path
	Now     int64  // the owner thread's clock when the state was read
	Classes []ClassInfo
	Rules   []RuleInfo
}
