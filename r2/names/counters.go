package names

// Counter is the full name of the counter what of node, as the graph
// allocates it and r2cnt shows it: "IfNode:eth0/rx".
func Counter(node, what string) string { return node + "/" + what }

// IfNodeCounter is the full name of the counter what of IfNode(ifname).
func IfNodeCounter(ifname, what string) string { return Counter(IfNode(ifname), what) }

// Counters of IfNode that code outside the node reads (the engine's
// interface statistics, the utilities). Driver counters of the same node
// (drv_*) are named in package r2/driver.
const (
	// IfRx counts the packets and bytes (a counters.PktByte) the interface
	// received.
	IfRx = "rx"
	// IfTx counts the packets and bytes the interface transmitted.
	IfTx = "tx"
	// IfTxErrors counts packets the driver refused.
	IfTxErrors = "tx_errors"
	// IfHandoffFull counts packets dropped because the owner thread's
	// handoff ring was full.
	IfHandoffFull = "handoff_full"
	// IfNoDriver counts packets queued while the interface had no driver.
	IfNoDriver = "no_driver"
	// IfRxShed counts frames dropped uncopied from the head of the
	// driver's receive queue because they had waited too long.
	IfRxShed = "rx_shed"
	// IfRxShedEpisodes counts the times the receive queue started to
	// stand (driver.ShedControl), and IfRxShedSignals the frames of TCP
	// flows among rx_shed that were signals (one loss per
	// rx_shed_interval_us, which halves the sender's window) rather than
	// a cut-back (driver.FlowMeter.Sheddable).
	IfRxShedEpisodes = "rx_shed_episodes"
	IfRxShedSignals  = "rx_shed_tcp_signals"
	// IfRxGROPackets counts the super-frames software GRO built from
	// received TCP segments (gnodes/interface/gro).
	IfRxGROPackets = "rx_gro_packets"
	// IfRxGROSegments counts the segments merged into them.
	IfRxGROSegments = "rx_gro_segments"
)

// Control is the pseudo-node under which the daemon's control side keeps
// its own counters (thread 0).
const Control = "Control"

// Counters of Control.
const (
	// IntfVanished counts attached interfaces that disappeared from Linux
	// and were detached.
	IntfVanished = "intf_vanished"
	// ECMPGroups is the number of IPv4 multipath groups that routes use
	// now (a current value: it goes down when routes go).
	ECMPGroups = "ecmp_groups"
	// ECMPGroups6 is ECMPGroups for IPv6.
	ECMPGroups6 = "ecmp6_groups"
	// ECMPShrunk counts multipath routes (both families) that lost paths
	// because an interface was deleted, and kept the others.
	ECMPShrunk = "ecmp_routes_shrunk"
)
