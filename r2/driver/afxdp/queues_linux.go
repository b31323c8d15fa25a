//go:build linux

package afxdp

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/packet"
)

// One thread serving several receive queues of an interface.
//
// A device with more receive queues than threads to serve them (an RSS
// NIC of 8 queues and a router of 2 threads, a veth made with numrxqueues)
// needs a socket on every queue, or the frames steered to a queue without
// one go to the kernel's stack instead of R2. Each thread therefore takes
// every queue q with q mod threads equal to its place in the group (one
// thread: all of them) and opens a Driver per queue on its own pool. The
// sockets share the pool's UMEM, as the sockets of one thread's
// interfaces already do, and each has its own fill and completion rings,
// which the kernel requires of sockets sharing a UMEM on another queue.
// queueSet drives them as one driver.

// minQueueFill is the fewest pool packets a queue of a queueSet may keep
// lent to the kernel: below it a burst on the queue is dropped by the
// kernel for want of buffers while the pool has plenty.
const minQueueFill = 64

// memberQueues lists the receive queues of a device of nq queues that
// member m of a group of members threads serves: every queue q with
// q mod members == m, in order.
func memberQueues(nq, members, m int) []int {
	var qs []int
	for q := m; q < nq; q += members {
		qs = append(qs, q)
	}
	return qs
}

// queueFill is how many pool packets each of n queues of one thread keeps
// lent to the kernel: the share of a pool of poolSize that one queue of an
// interface would keep (Config.FillSize's default), split among the
// queues, so that an interface of many queues does not lend the thread's
// whole pool away from its other interfaces and the graph.
func queueFill(poolSize, n int) (int, error) {
	fill := min(DefaultRingSize, poolSize/(4*n))
	if fill < minQueueFill {
		return 0, fmt.Errorf("%d receive queues on one thread leave %d of its %d packets to lend each queue, want at least %d (more packets per thread, fewer queues with ethtool -L, or more threads)",
			n, fill, poolSize, minQueueFill)
	}
	return fill, nil
}

// queueSet is the driver of one thread for several receive queues of an
// interface: a Driver per queue, all on the thread's pool. Recv serves the
// queues in turn, starting one further each call (or at a queue with a
// light flow's frame), so a flood on one queue cannot keep the others
// waiting longer than a batch; Send transmits on
// the first queue's socket (any socket of the device can send). Like the
// Drivers it holds, it is for the owner thread only, except Close and the
// control-side readers (KernelDrops, HostPassed, SetHostOwned).
type queueSet struct {
	qs     []*Driver
	queues []int    // qs[i] is on queue queues[i]
	rx     []uint64 // frames Recv took from each queue, for tests
	next   int      // the queue Recv serves first
	poll   *driver.PollSet
	mode   string
}

var (
	_ driver.Driver          = (*queueSet)(nil)
	_ driver.KernelDropper   = (*queueSet)(nil)
	_ driver.ModeReporter    = (*queueSet)(nil)
	_ driver.Shedder         = (*queueSet)(nil)
	_ driver.MultiBuffer     = (*queueSet)(nil)
	_ driver.HostPasser      = (*queueSet)(nil)
	_ driver.HostPassCounter = (*queueSet)(nil)
	_ driver.FreshPender     = (*queueSet)(nil)
	_ driver.Quieter         = (*queueSet)(nil)
	_ driver.SideFder        = (*queueSet)(nil)
	_ driver.Offloader       = (*queueSet)(nil)
)

// newQueueSet drives qs, opened on queues, as one driver; it owns them
// from then on, closing them if it fails.
func newQueueSet(ifname string, qs []*Driver, queues []int) (*queueSet, error) {
	fds := make([]int, len(qs))
	for i, d := range qs {
		fds[i] = d.Fd()
	}
	poll, err := driver.NewPollSet("af_xdp "+ifname+" queues", fds)
	if err != nil {
		for _, d := range qs {
			d.Close()
		}
		return nil, err
	}
	list := make([]string, len(queues))
	for i, q := range queues {
		list[i] = strconv.Itoa(q)
	}
	return &queueSet{
		qs: qs, queues: queues, rx: make([]uint64, len(qs)), poll: poll,
		mode: qs[0].ActiveMode() + ", queues " + strings.Join(list, ","),
	}, nil
}

// Kind implements driver.Driver.
func (s *queueSet) Kind() string { return Name }

// Fd is an epoll instance holding the queues' descriptors.
func (s *queueSet) Fd() int { return s.poll.Fd() }

// Recv implements driver.Driver: the queues in turn, each until it gives
// fewer frames than asked or the batch is full, starting with the first
// queue (from s.next on) that has a light flow's frame (FreshPending: a
// ring that the last Recv emptied, which a flood's does not), so that a
// ping on one queue does not wait behind a batch of another queue's
// flood. Every queue's Recv runs, with no room left too: it also lends
// the fill ring its packets and reaps Tx completions.
func (s *queueSet) Recv(pool *packet.Pool, pkts []*packet.Packet) int {
	n, k := 0, len(s.qs)
	start := s.next
	for i := range k {
		if q := (s.next + i) % k; s.qs[q].FreshPending() {
			start = q
			break
		}
	}
	for i := range k {
		q := (start + i) % k
		got := s.qs[q].Recv(pool, pkts[n:])
		s.rx[q] += uint64(got)
		n += got
	}
	s.next = (s.next + 1) % k
	return n
}

// Send implements driver.Driver on the first queue's socket.
func (s *queueSet) Send(pool *packet.Pool, pkts []*packet.Packet) int {
	return s.qs[0].Send(pool, pkts)
}

// Offloads implements driver.Offloader: the first queue's, which sends.
func (s *queueSet) Offloads() bool { return s.qs[0].Offloads() }

// Pending implements driver.Driver: any queue's.
func (s *queueSet) Pending() bool {
	for _, d := range s.qs {
		if d.Pending() {
			return true
		}
	}
	return false
}

// FreshPending implements driver.FreshPender: any queue's.
func (s *queueSet) FreshPending() bool {
	for _, d := range s.qs {
		if d.FreshPending() {
			return true
		}
	}
	return false
}

// Quiet implements driver.Quieter: the queues' own epoll instances (with
// several receive rings) and the set's.
func (s *queueSet) Quiet(on bool) error {
	var errs []error
	for _, d := range s.qs {
		errs = append(errs, d.Quiet(on))
	}
	errs = append(errs, s.poll.Quiet(on))
	return errors.Join(errs...)
}

// Shed implements driver.Shedder, queue after queue until max.
func (s *queueSet) Shed(cutoff int64, max int, m *driver.FlowMeter) int {
	n := 0
	for _, d := range s.qs {
		if n >= max {
			break
		}
		n += d.Shed(cutoff, max-n, m)
	}
	return n
}

// HeadTime implements driver.Shedder: the oldest head of the queues.
func (s *queueSet) HeadTime() (int64, bool) {
	var oldest int64
	found := false
	for _, d := range s.qs {
		if ns, ok := d.HeadTime(); ok && (!found || ns < oldest) {
			oldest, found = ns, true
		}
	}
	return oldest, found
}

// KernelDrops implements driver.KernelDropper: the sum over the queues.
func (s *queueSet) KernelDrops() (uint64, error) {
	var sum uint64
	for _, d := range s.qs {
		n, err := d.KernelDrops()
		if err != nil {
			return sum, err
		}
		sum += n
	}
	return sum, nil
}

// ActiveMode implements driver.ModeReporter: the mode and the queues.
func (s *queueSet) ActiveMode() string { return s.mode }

// MultiBuffer implements driver.MultiBuffer. The queues share the
// interface's program and the pool's UMEM, so they agree.
func (s *queueSet) MultiBuffer() (bool, string) { return s.qs[0].MultiBuffer() }

// SetHostOwned implements driver.HostPasser on the first queue: the queues
// share the interface's XDP link, so switching its program once switches
// every queue, and the first queue's neighbour socket brings the host's
// ARP and ND copies.
func (s *queueSet) SetHostOwned(on bool, addrs []netip.Addr) error {
	return s.qs[0].SetHostOwned(on, addrs)
}

// HostPassed implements driver.HostPassCounter (the first queue's
// program, which every queue runs).
func (s *queueSet) HostPassed() (uint64, error) { return s.qs[0].HostPassed() }

// SideFd implements driver.SideFder: the first queue's neighbour socket.
func (s *queueSet) SideFd() int { return s.qs[0].SideFd() }

// Close closes every queue's driver and the epoll instance.
func (s *queueSet) Close() error {
	var errs []error
	for _, d := range s.qs {
		errs = append(errs, d.Close())
	}
	errs = append(errs, s.poll.Close())
	return errors.Join(errs...)
}
