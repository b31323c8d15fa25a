// Package driver defines how R2 talks to a network interface.
//
// A Driver is bound to one interface and used by exactly one forwarding
// thread, the interface's owner, so it needs no locks. It works in batches:
// Recv fills up to len(pkts) packets from the thread's pool, Send transmits a
// batch and gives every packet back to its pool. A driver never blocks: the
// thread waits for readiness on Fd with epoll (or busy-polls) and then calls
// Recv until it returns less than a full batch.
//
// Implementations: r2/driver/mem (in memory, for tests and benchmarks),
// r2/driver/afpacket (TPACKET_V2 or V3 rings, the default for real interfaces) and
// r2/driver/afxdp (XDP sockets, the fast path).
package driver

import (
	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/packet"
)

// Driver moves frames between an interface and packets.
type Driver interface {
	// Kind names the implementation ("mem", "afpacket", "afxdp").
	Kind() string
	// Fd is a descriptor that polls readable when Recv has frames, or -1 if
	// the driver must be polled (its Pending says when).
	Fd() int
	// Recv fills pkts[:n] with received frames, data starting at the
	// packet's Headroom, allocated from pool. It never blocks. When the pool
	// is empty it stops early, leaving the frames in the driver (the Rx
	// throttling of the graph) and counts the shortage.
	Recv(pool *packet.Pool, pkts []*packet.Packet) (n int)
	// Send transmits pkts and frees every one of them to pool (the caller's
	// pool; packets of other threads' pools go home through it). It returns
	// how many were accepted by the interface; the rest were dropped and
	// counted by the driver.
	Send(pool *packet.Pool, pkts []*packet.Packet) (sent int)
	// Pending reports whether Recv has frames waiting that Fd would not
	// signal, or Tx work is unfinished.
	Pending() bool
	// Close releases the interface. The owner thread must have stopped
	// using the driver.
	Close() error
}

// Counters are the driver counters every implementation keeps, allocated
// for the owner thread under "IfNode:<ifname>/drv_*".
type Counters struct {
	RxNoBuf   counters.Counter // frames left in the driver: packet pool empty
	RxErrors  counters.Counter // truncated, oversized or otherwise bad frames dropped
	TxErrors  counters.Counter // frames the interface refused
	Syscalls  counters.Counter // system calls made by Recv and Send
	RxBatches counters.Counter // Recv calls that returned frames
	// RxCsumFixed counts frames whose TCP/UDP checksum a local sender left
	// to offload and the driver completed.
	RxCsumFixed counters.Counter
}

// NewCounters allocates a driver's counters.
func NewCounters(reg *counters.Registry, thread int, ifnode string) Counters {
	c := func(what string) counters.Counter { return reg.Counter(thread, ifnode+"/drv_"+what) }
	return Counters{
		RxNoBuf:     c("rx_nobuf"),
		RxErrors:    c("rx_errors"),
		TxErrors:    c("tx_errors"),
		Syscalls:    c("syscalls"),
		RxBatches:   c("rx_batches"),
		RxCsumFixed: c("rx_csum_fixed"),
	}
}
