//go:build linux

package afpacket

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// localMapEntries bounds the local addresses of each family the filter
// knows (addresses, and IPv4 subnet and network broadcasts). The maps are
// allocated as entries come (BPF_F_NO_PREALLOC), so the bound costs
// nothing; a namespace with more makes the filter detach (failOpen). A
// variable so that a test can fill the maps.
var localMapEntries uint32 = 1 << 16

// addrEventBuf is the netlink receive buffer of the address subscription:
// room for some 10,000 notifications (an address flush of a big
// interface) before the socket overflows and a resync follows. A
// variable so that a test can make it overflow.
var addrEventBuf = 4 << 20

// localSet is the local addresses of one network namespace, in two BPF
// hash maps shared by the tcx filters of every AF_PACKET interface opened
// in it: Linux accepts a frame for an address of any of its interfaces
// on any interface (the weak host model), so one set serves them all. It
// is filled from a netlink dump when created, before any filter is
// attached, and kept current from an address subscription; an overflow of
// the subscription's socket makes it subscribe again and resynchronise
// with a new dump (mark and sweep).
//
// Between Linux taking a new address and the map holding it (the time the
// notification takes to reach the watcher: well under a millisecond on an
// idle machine, longer when the daemon is starved of CPU, or a resync
// after an overflow) frames for the address are dropped as transit: a
// TCP SYN in that window is retransmitted, nothing is lost for good.
// Removed addresses linger the same time, and frames for them go to the
// kernel, which drops them itself.
type localSet struct {
	id             string // the namespace's device and inode (netns UniqueId)
	refs           int    // guarded by localSets.mu
	local4, local6 *ebpf.Map
	nsh            netns.NsHandle
	nl             *netlink.Handle // for dumps, in the namespace
	logf           func(string, ...any)
	stop, done     chan struct{}

	mu sync.Mutex
	// addrs are the namespace's addresses as netlink reports them, by
	// link and prefix, with the map keys each gives.
	addrs map[linkAddr][]netip.Addr
	inMap map[netip.Addr]bool // what the maps hold
	// filters are the attached filters, detached all at once if the
	// maps cannot hold every local address (failed).
	filters map[*tcxFilter]bool
	failed  error

	resyncs atomic.Uint64 // dumps after the first (overflows)
	applied atomic.Uint64 // notifications applied
}

// linkAddr is an address of a link as netlink names it.
type linkAddr struct {
	link   int
	prefix netip.Prefix
}

// localSets are the live sets, by namespace.
var localSets struct {
	mu   sync.Mutex
	byNS map[string]*localSet
}

// acquireLocalSet returns the set of the calling thread's namespace,
// creating it (maps, dump, subscription) if it has no user yet. Release
// it with release.
func acquireLocalSet(logf func(string, ...any)) (*localSet, error) {
	nsh, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("network namespace: %w", err)
	}
	id := nsh.UniqueId()
	localSets.mu.Lock()
	defer localSets.mu.Unlock()
	if s := localSets.byNS[id]; s != nil {
		nsh.Close()
		s.refs++
		return s, nil
	}
	s, err := newLocalSet(id, nsh, logf)
	if err != nil {
		nsh.Close()
		return nil, err
	}
	if localSets.byNS == nil {
		localSets.byNS = map[string]*localSet{}
	}
	localSets.byNS[id] = s
	s.refs = 1
	return s, nil
}

// newLocalSet creates the maps, subscribes, fills the maps from a dump and
// starts the watcher.
func newLocalSet(id string, nsh netns.NsHandle, logf func(string, ...any)) (_ *localSet, err error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	s := &localSet{id: id, nsh: nsh, logf: logf, stop: make(chan struct{}), done: make(chan struct{}),
		addrs: map[linkAddr][]netip.Addr{}, inMap: map[netip.Addr]bool{}, filters: map[*tcxFilter]bool{}}
	defer func() {
		if err != nil {
			s.closeMaps()
		}
	}()
	spec := func(name string, key uint32) *ebpf.MapSpec {
		return &ebpf.MapSpec{Name: name, Type: ebpf.Hash, KeySize: key, ValueSize: 1,
			MaxEntries: localMapEntries, Flags: unix.BPF_F_NO_PREALLOC}
	}
	if s.local4, err = ebpf.NewMap(spec("r2_local4", 4)); err != nil {
		return nil, fmt.Errorf("local IPv4 map: %w", err)
	}
	if s.local6, err = ebpf.NewMap(spec("r2_local6", 16)); err != nil {
		return nil, fmt.Errorf("local IPv6 map: %w", err)
	}
	if s.nl, err = netlink.NewHandleAt(nsh); err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	sub, err := s.subscribe()
	if err != nil {
		return nil, err
	}
	if err := s.resync(); err != nil {
		sub.cancel()
		return nil, err
	}
	go s.watch(sub)
	return s, nil
}

// subscription is one address subscription: its channel and what ends it.
type subscription struct {
	ch   chan netlink.AddrUpdate
	quit chan struct{}
	// ended says cancel was called: the read error that follows is ours.
	ended *atomic.Bool
}

// cancel ends the subscription and waits for its channel to close: the
// library's reader may be blocked sending to it.
func (sub subscription) cancel() {
	sub.ended.Store(true)
	close(sub.quit)
	for range sub.ch {
	}
}

// subscribe opens an address subscription in the set's namespace.
func (s *localSet) subscribe() (subscription, error) {
	sub := subscription{ch: make(chan netlink.AddrUpdate, 1024), quit: make(chan struct{}), ended: new(atomic.Bool)}
	err := netlink.AddrSubscribeWithOptions(sub.ch, sub.quit, netlink.AddrSubscribeOptions{
		Namespace:              &s.nsh,
		ReceiveBufferSize:      addrEventBuf,
		ReceiveBufferForceSize: true,
		ErrorCallback: func(err error) {
			// ENOBUFS (overflow) ends the subscription: the watcher
			// subscribes again and resyncs.
			if !sub.ended.Load() {
				s.logf("kernel rx filter: address notifications: %v", err)
			}
		},
	})
	if err != nil {
		return subscription{}, fmt.Errorf("subscribe to addresses: %w", err)
	}
	return sub, nil
}

// resync replaces what the set knows with a dump of the namespace's
// addresses and brings the maps in line.
func (s *localSet) resync() error {
	list, err := s.nl.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("list addresses: %w", err)
	}
	addrs := make(map[linkAddr][]netip.Addr, len(list))
	for _, a := range list {
		la, keys, ok := addrKeys(a.LinkIndex, a.IPNet, a.Broadcast)
		if ok {
			addrs[la] = keys
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addrs = addrs
	return s.reconcile()
}

// watch applies notifications until stop; when the subscription ends
// (its socket overflowed) it subscribes again and resyncs.
func (s *localSet) watch(sub subscription) {
	defer close(s.done)
	for {
		select {
		case <-s.stop:
			sub.cancel()
			return
		case u, ok := <-sub.ch:
			if ok {
				s.mu.Lock()
				s.apply(u)
				// Take what else is queued before touching the maps once.
				for more := true; more; {
					select {
					case u, ok = <-sub.ch:
						if ok {
							s.apply(u)
						} else {
							more = false
						}
					default:
						more = false
					}
				}
				if err := s.reconcile(); err != nil {
					s.logf("kernel rx filter: %v", err)
				}
				s.mu.Unlock()
				if ok {
					continue
				}
			}
			sub.cancel()
			sub = s.renew()
			if sub.ch == nil {
				return // stopped
			}
		}
	}
}

// renew subscribes again and resyncs, retrying every 100 ms until it
// works or the set stops (the zero subscription).
func (s *localSet) renew() subscription {
	for {
		sub, err := s.subscribe()
		if err == nil {
			if err = s.resync(); err == nil {
				s.resyncs.Add(1)
				return sub
			}
			sub.cancel()
		}
		s.logf("kernel rx filter: address resync: %v", err)
		select {
		case <-s.stop:
			return subscription{}
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// apply records one notification; s.mu held.
func (s *localSet) apply(u netlink.AddrUpdate) {
	s.applied.Add(1)
	la, keys, ok := addrKeys(u.LinkIndex, &u.LinkAddress, nil)
	if !ok {
		return
	}
	if !u.NewAddr {
		delete(s.addrs, la)
		return
	}
	if old, had := s.addrs[la]; had && len(old) > len(keys) {
		return // the dump's keys include a broadcast a notification does not carry
	}
	s.addrs[la] = keys
}

// addrKeys are the map keys of an address: the address itself and, for an
// IPv4 prefix shorter than /31, its subnet's broadcast and network
// addresses (the kernel's local table has broadcast routes for both on
// older kernels) and the address's explicit broadcast, if any.
func addrKeys(linkIndex int, ipn *net.IPNet, brd net.IP) (linkAddr, []netip.Addr, bool) {
	if ipn == nil {
		return linkAddr{}, nil, false
	}
	a, ok := netip.AddrFromSlice(ipn.IP)
	if !ok {
		return linkAddr{}, nil, false
	}
	a = a.Unmap()
	ones, _ := ipn.Mask.Size()
	p := netip.PrefixFrom(a, ones)
	keys := []netip.Addr{a}
	if a.Is4() && ones < 31 {
		net4 := p.Masked().Addr().As4()
		b := net4
		for i := range b {
			b[i] |= ^ipn.Mask[len(ipn.Mask)-4+i]
		}
		keys = append(keys, netip.AddrFrom4(net4), netip.AddrFrom4(b))
	}
	if b, ok := netip.AddrFromSlice(brd); ok && b.Unmap().Is4() && a.Is4() {
		keys = append(keys, b.Unmap())
	}
	return linkAddr{linkIndex, p}, keys, true
}

// reconcile makes the maps hold the keys of s.addrs; s.mu held. If they
// cannot, every filter is detached: a local address missing from the maps
// would have its frames dropped.
func (s *localSet) reconcile() error {
	want := make(map[netip.Addr]bool, len(s.inMap))
	for _, keys := range s.addrs {
		for _, k := range keys {
			want[k] = true
		}
	}
	for a := range want {
		if s.inMap[a] {
			continue
		}
		m, k := s.key(a)
		if err := m.Put(k, uint8(1)); err != nil {
			err = fmt.Errorf("local address %s: %w", a, err)
			s.failOpen(err)
			return err
		}
		s.inMap[a] = true
	}
	var errs []error
	for a := range s.inMap {
		if want[a] {
			continue
		}
		m, k := s.key(a)
		if err := m.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			// Left behind, its frames go to the kernel: harmless.
			errs = append(errs, fmt.Errorf("forget local address %s: %w", a, err))
			continue
		}
		delete(s.inMap, a)
	}
	return errors.Join(errs...)
}

// failOpen detaches every filter of the set for good, logging why; s.mu
// held.
func (s *localSet) failOpen(err error) {
	if s.failed != nil {
		return
	}
	s.failed = err
	s.logf("kernel rx filter: detached from every interface, the kernel receives all frames again: %v", err)
	for f := range s.filters {
		f.detach()
	}
}

// key is a's map and key bytes (network order).
func (s *localSet) key(a netip.Addr) (*ebpf.Map, []byte) {
	if a.Is4() {
		b := a.As4()
		return s.local4, b[:]
	}
	b := a.As16()
	return s.local6, b[:]
}

// release drops a reference; the last one stops the watcher and frees
// the maps.
func (s *localSet) release() {
	localSets.mu.Lock()
	s.refs--
	last := s.refs == 0
	if last {
		delete(localSets.byNS, s.id)
	}
	localSets.mu.Unlock()
	if !last {
		return
	}
	close(s.stop)
	<-s.done
	s.closeMaps()
}

// closeMaps frees the maps and handles, whatever exists of them.
func (s *localSet) closeMaps() {
	if s.local4 != nil {
		s.local4.Close()
	}
	if s.local6 != nil {
		s.local6.Close()
	}
	if s.nl != nil {
		s.nl.Close()
	}
	s.nsh.Close()
}

// tcxFilter is the tcx ingress filter of one interface: its program (the
// namespace's shared maps, its own drop counter) and link. The link is a
// file descriptor of this process and never pinned, so the kernel
// detaches the program when the process exits, however it exits.
type tcxFilter struct {
	set     *localSet
	dropped *ebpf.Map // per-CPU count of frames dropped
	prog    *ebpf.Program

	mu  sync.Mutex
	lnk link.Link // nil once detached
}

// attachFilter attaches the filter to the interface ifindex of the calling
// thread's namespace, for the families the kernel does not forward on it.
func attachFilter(ifindex int, ifname string, logf func(string, ...any)) (_ *tcxFilter, err error) {
	fam, err := forwardingOff(ifname)
	if err != nil {
		return nil, err
	}
	if !fam.v4 && !fam.v6 {
		return nil, errors.New("the kernel forwards both IPv4 and IPv6 on it (net.ipv4.conf.IF.forwarding, net.ipv6.conf.all.forwarding): its copies of transit frames are not dropped")
	}
	set, err := acquireLocalSet(logf)
	if err != nil {
		return nil, err
	}
	f := &tcxFilter{set: set}
	defer func() {
		if err != nil {
			f.close()
		}
	}()
	if f.dropped, err = ebpf.NewMap(&ebpf.MapSpec{Name: "r2_krx_dropped", Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1}); err != nil {
		return nil, fmt.Errorf("drop counter map: %w", err)
	}
	if f.prog, err = newFilterProg(set.local4, set.local6, f.dropped, fam); err != nil {
		return nil, err
	}
	set.mu.Lock()
	defer set.mu.Unlock()
	if set.failed != nil {
		return nil, set.failed
	}
	if f.lnk, err = link.AttachTCX(link.TCXOptions{Interface: ifindex, Program: f.prog, Attach: ebpf.AttachTCXIngress}); err != nil {
		return nil, fmt.Errorf("attach tcx ingress: %w", err)
	}
	set.filters[f] = true
	if !fam.v4 || !fam.v6 {
		fwd := "IPv4"
		if fam.v4 {
			fwd = "IPv6"
		}
		logf("interface %s: kernel rx filter for one family only: the kernel forwards %s", ifname, fwd)
	}
	return f, nil
}

// forwardingOff reads which families the kernel does not forward on
// ifname: IPv4 per interface, IPv6 globally (or forced per interface on
// kernels with force_forwarding). Read at attach only: turning forwarding
// on later is not seen until the interface is attached again.
func forwardingOff(ifname string) (filterFamilies, error) {
	read := func(path string, missingOK bool) (bool, error) {
		b, err := os.ReadFile(path)
		if missingOK && errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return strings.TrimSpace(string(b)) != "0", nil
	}
	v4, err := read("/proc/sys/net/ipv4/conf/"+ifname+"/forwarding", false)
	if err != nil {
		return filterFamilies{}, err
	}
	v6, err := read("/proc/sys/net/ipv6/conf/all/forwarding", true)
	if err != nil {
		return filterFamilies{}, err
	}
	force6, err := read("/proc/sys/net/ipv6/conf/"+ifname+"/force_forwarding", true)
	if err != nil {
		return filterFamilies{}, err
	}
	return filterFamilies{v4: !v4, v6: !v6 && !force6}, nil
}

// detach removes the program from the interface; the filter stays for
// its counter. Safe to call more than once.
func (f *tcxFilter) detach() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lnk == nil {
		return nil
	}
	err := f.lnk.Close()
	f.lnk = nil
	return err
}

// attached reports whether the program is on the interface.
func (f *tcxFilter) attached() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lnk != nil
}

// detachedWhy is why the filter was detached while its driver is open:
// the set's maps could not hold every local address.
func (f *tcxFilter) detachedWhy() error {
	f.set.mu.Lock()
	defer f.set.mu.Unlock()
	return f.set.failed
}

// droppedFrames sums the per-CPU drop counts.
func (f *tcxFilter) droppedFrames() (uint64, error) {
	var per []uint64
	if err := f.dropped.Lookup(uint32(0), &per); err != nil {
		return 0, err
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	return n, nil
}

// close detaches the filter and frees it, whatever exists of it.
func (f *tcxFilter) close() error {
	err := f.detach()
	f.set.mu.Lock()
	delete(f.set.filters, f)
	f.set.mu.Unlock()
	if f.prog != nil {
		f.prog.Close()
	}
	if f.dropped != nil {
		f.dropped.Close()
	}
	f.set.release()
	return err
}
