//go:build linux

package afxdp

import (
	"errors"
	"fmt"
	"time"

	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// One XDP program per interface, shared by the sockets of its queues.
//
// A device takes one XDP program (a second link is EBUSY), so the drivers
// of one interface's queues (one per serving thread, see Config.Queue)
// share it: the first driver opened on the interface loads the program and
// its XSKMAP, each driver puts its socket in the map slot of its queue
// (the program redirects by ctx->rx_queue_index), and the last one to
// close detaches it. A socket that closes leaves the map by itself (the
// kernel removes it).
//
// Interfaces are told apart by network namespace and ifindex, since tests
// (and containers) reuse ifindexes across namespaces.

// mapQueues is how many queues the XSKMAP has slots for (Config.RxRings
// each): queues 0 to 255 can have sockets. Frames of a queue beyond it, or
// whose slot is empty, take the program's default action (XDP_PASS, see
// the package documentation). The map costs 8 bytes a slot.
const mapQueues = 256

// ifKey identifies an interface: its network namespace (the inode of
// /proc/thread-self/ns/net) and its ifindex there.
type ifKey struct {
	netns   uint64
	ifindex int
}

// ifProg is the program of one interface and what the drivers sharing it
// need to know about it. Guarded by groupsMu.
type ifProg struct {
	*xdpProg
	key   ifKey
	users int // drivers holding it
	// frags is set when the program was loaded with BPF_F_XDP_HAS_FRAGS
	// (an xdp.frags program: it sees frames of several buffers, which a
	// socket bound with XDP_USE_SG receives as several descriptors).
	frags bool
	// fragsWhy is why the kernel refused the frags program, when it was
	// wanted and frags is false.
	fragsWhy string
	// mode is the attach mode once attached (attached is then set).
	mode     link.XDPAttachFlags
	attached bool
}

// ifProgs holds the program of every interface with an open driver.
// Guarded by groupsMu.
var ifProgs = map[ifKey]*ifProg{}

// threadNetns is the network namespace of the calling thread, as the inode
// of its namespace file.
func threadNetns() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return 0, fmt.Errorf("network namespace: %w", err)
	}
	return st.Ino, nil
}

// acquireProg returns the program of interface ifindex (in the calling
// thread's namespace), loading it if no driver has it yet: an xdp.frags
// program when frags is asked and the kernel takes it, else a plain one,
// spreading each queue's frames over rings sockets. The drivers of one
// interface must agree on rings. With pass on, the program passes
// super-frames to the stack (super_linux.go); the first driver decides.
// groupsMu is held. The caller releases it with releaseProg.
func acquireProg(ifindex, queue, rings int, gap time.Duration, frags bool, pass superPass) (*ifProg, error) {
	if queue >= mapQueues {
		return nil, fmt.Errorf("queue %d: want below %d", queue, mapQueues)
	}
	ns, err := threadNetns()
	if err != nil {
		return nil, err
	}
	k := ifKey{ns, ifindex}
	if p := ifProgs[k]; p != nil {
		if p.rings != rings {
			return nil, fmt.Errorf("the interface's other queues have %d receive rings each, not %d", p.rings, rings)
		}
		if p.gap != gap && rings > 1 {
			return nil, fmt.Errorf("the interface's other queues steer light flows with a gap of %v, not %v", p.gap, gap)
		}
		p.users++
		return p, nil
	}
	p := &ifProg{key: k, users: 1}
	if frags {
		pass.frags = true
		x, err := newRedirectProg(mapQueues, rings, gap, unix.BPF_F_XDP_HAS_FRAGS, pass)
		if err == nil && refuseFrags {
			x.close()
			x, err = nil, errors.New("refused by a test")
		}
		if err == nil {
			p.xdpProg, p.frags = x, true
		} else {
			p.fragsWhy = fmt.Sprintf("xdp.frags program refused: %v", err)
		}
	}
	if p.xdpProg == nil {
		pass.frags = false
		x, err := newRedirectProg(mapQueues, rings, gap, 0, pass)
		if err != nil {
			return nil, err
		}
		p.xdpProg = x
	}
	ifProgs[k] = p
	return p, nil
}

// loadFlags are the flags p was loaded with, for a program that replaces
// it on the link (the host-owned classifier): an xdp.frags program can
// only be replaced by one (veth refuses a plain one on a jumbo MTU, and
// would not hand it frames of several buffers).
func (p *ifProg) loadFlags() uint32 {
	if p.frags {
		return unix.BPF_F_XDP_HAS_FRAGS
	}
	return 0
}

// releaseProg drops the caller's hold on p; the last one detaches and
// frees the program. groupsMu is held.
func releaseProg(p *ifProg) error {
	p.users--
	if p.users > 0 {
		return nil
	}
	if ifProgs[p.key] == p {
		delete(ifProgs, p.key)
	}
	return p.close()
}

// attachShared attaches p with flags unless it is attached already.
func (p *ifProg) attachShared(ifindex int, flags link.XDPAttachFlags) error {
	if p.attached {
		if p.mode != flags {
			return errors.New("the interface's program runs in another XDP mode")
		}
		return nil
	}
	if err := p.attach(ifindex, flags); err != nil {
		return err
	}
	p.mode, p.attached = flags, true
	return nil
}
