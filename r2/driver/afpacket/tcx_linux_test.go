//go:build linux

package afpacket

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/internal/nstest"
	"github.com/r2go/r2/r2/packet"
	"github.com/r2go/r2/r2/procnet"
)

// udp4Frame is a valid IPv4/UDP frame (header checksum right, UDP
// checksum 0) of 60 bytes from src to dst.
func udp4Frame(dstMAC, srcMAC net.HardwareAddr, src, dst string) []byte {
	return udp4FrameSize(dstMAC, srcMAC, src, dst, 60)
}

// udp4FrameSize is udp4Frame of size bytes.
func udp4FrameSize(dstMAC, srcMAC net.HardwareAddr, src, dst string, size int) []byte {
	f := make([]byte, size)
	copy(f, dstMAC)
	copy(f[6:], srcMAC)
	binary.BigEndian.PutUint16(f[12:], fEtherIPv4)
	h := f[14:34]
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(size-14))
	h[8], h[9] = 64, 17
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(h[10:], ^uint16(sum))
	u := f[34:42]
	binary.BigEndian.PutUint16(u[0:], 40000)
	binary.BigEndian.PutUint16(u[2:], 9) // discard: nobody listens
	binary.BigEndian.PutUint16(u[4:], uint16(size-34))
	return f
}

// sendNonLinear sends frame count times on ifindex in ns from a socket
// with PACKET_VNET_HDR and an empty virtio_net_hdr: the kernel then puts
// only the Ethernet header of a frame of a page or more into the skb's
// linear part, the rest into pages (packet_snd, packet_alloc_skb).
func sendNonLinear(t testing.TB, ns netns.NsHandle, ifindex int, frame []byte, count int) {
	t.Helper()
	err := nstest.InNS(ns, func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifindex}); err != nil {
			return err
		}
		msg := append(make([]byte, vnetHdrLen), frame...)
		for range count {
			if _, err := unix.Write(fd, msg); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// ipStats reads the Ip: line of /proc/net/snmp in ns.
func ipStats(t testing.TB, ns netns.NsHandle) map[string]uint64 {
	t.Helper()
	var b []byte
	err := nstest.InNS(ns, func() error {
		var err error
		b, err = os.ReadFile("/proc/thread-self/net/snmp")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := procnet.ParseSNMP(b, "Ip")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tcxPrograms counts the tcx ingress programs on ifindex in ns.
func tcxPrograms(t testing.TB, ns netns.NsHandle, ifindex int) int {
	t.Helper()
	var n int
	err := nstest.InNS(ns, func() error {
		r, err := link.QueryPrograms(link.QueryOptions{Target: ifindex, Attach: ebpf.AttachTCXIngress})
		if err != nil {
			return err
		}
		n = len(r.Programs)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitLocal waits until the namespace's local set has a (or, with
// present false, not), and returns how long it took.
func waitLocal(t testing.TB, s *localSet, a string, present bool) time.Duration {
	t.Helper()
	start := time.Now()
	k := netip.MustParseAddr(a).As4()
	for time.Since(start) < waitTimeout {
		var v uint8
		err := s.local4.Lookup(k[:], &v)
		if (err == nil) == present {
			return time.Since(start)
		}
		time.Sleep(100 * time.Microsecond)
	}
	t.Fatalf("local set: %s present %v not seen after %v", a, !present, waitTimeout)
	return 0
}

// TestKernelFilterNetns attaches the filter to a veth end in a namespace
// whose other interface has the local address, and checks what reaches
// the kernel's IP layer: transit frames no longer (InReceives and
// InAddrErrors flat, the drop counter up, the driver still gets them),
// frames for the other interface's address still (weak host), an address
// added at runtime too, truncated frames are left to the kernel, and
// Close leaves no tcx program behind.
func TestKernelFilterNetns(t *testing.T) {
	// Jumbo frames: the non-linear case below needs a frame of a page.
	n := nstest.New(t, nstest.UniquePrefix("r2tx"), 2, nstest.MTU(9000))
	p0, p1 := n.Pairs[0], n.Pairs[1]
	addr := func(s string) *netlink.Addr {
		a, err := netlink.ParseAddr(s)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if err := n.HA.AddrAdd(n.LinkA(t, 1), addr("10.77.1.1/24")); err != nil {
		t.Fatal(err)
	}
	var logMu sync.Mutex
	var logs []string
	logf := func(f string, a ...any) {
		logMu.Lock()
		logs = append(logs, f)
		logMu.Unlock()
	}
	d := openIn(t, n.A, Config{Ifname: p0.IfA, KernelRxFilter: true, Logf: logf})
	if on, why := d.KernelFilter(); !on {
		t.Fatalf("filter not attached: %v", why)
	}
	if got := tcxPrograms(t, n.A, p0.IdxA); got != 1 {
		t.Fatalf("%d tcx programs on %s, want 1", got, p0.IfA)
	}
	pool := packet.NewPool(0, 256)
	raw := openRaw(t, n.B, p0.IdxB, false)
	send := func(dst string, count int) {
		t.Helper()
		fs := make([][]byte, count)
		for i := range fs {
			fs[i] = udp4Frame(p0.MACA, p0.MACB, "10.77.0.9", dst)
		}
		raw.Send(t, fs...)
		if got := recvFrames(t, d, pool, count, 64); len(got) != count {
			t.Fatalf("driver received %d of %d frames to %s", len(got), count, dst)
		}
	}
	const count = 50

	// Transit: R2 gets them, the kernel's IP layer does not.
	before := ipStats(t, n.A)
	send("10.99.0.1", count)
	time.Sleep(20 * time.Millisecond)
	after := ipStats(t, n.A)
	for _, k := range []string{"InReceives", "InAddrErrors"} {
		if after[k] != before[k] {
			t.Errorf("transit: Ip %s %d -> %d, want unchanged", k, before[k], after[k])
		}
	}
	if got, err := d.KernelFiltered(); err != nil || got != count {
		t.Errorf("KernelFiltered %d (%v), want %d", got, err, count)
	}

	// Weak host: the address of the other interface is delivered.
	before = after
	send("10.77.1.1", count)
	time.Sleep(20 * time.Millisecond)
	after = ipStats(t, n.A)
	if got := after["InDelivers"] - before["InDelivers"]; got != count {
		t.Errorf("to another interface's address: %d delivered, want %d", got, count)
	}

	// An address added at runtime is honoured once in the set, and one
	// removed is filtered again.
	set := d.filt.set
	if err := n.HA.AddrAdd(n.LinkA(t, 1), addr("10.77.2.1/24")); err != nil {
		t.Fatal(err)
	}
	lag := waitLocal(t, set, "10.77.2.1", true)
	t.Logf("address add to map update: %v", lag)
	waitLocal(t, set, "10.77.2.255", true) // its subnet broadcast
	before = ipStats(t, n.A)
	send("10.77.2.1", count)
	time.Sleep(20 * time.Millisecond)
	after = ipStats(t, n.A)
	if got := after["InDelivers"] - before["InDelivers"]; got != count {
		t.Errorf("to an address added at runtime: %d delivered, want %d", got, count)
	}
	if err := n.HA.AddrDel(n.LinkA(t, 1), addr("10.77.2.1/24")); err != nil {
		t.Fatal(err)
	}
	t.Logf("address del to map update: %v", waitLocal(t, set, "10.77.2.1", false))
	filtered, _ := d.KernelFiltered()
	send("10.77.2.1", count)
	if got, _ := d.KernelFiltered(); got-filtered != count {
		t.Errorf("after the address went: %d filtered, want %d", got-filtered, count)
	}

	// Truncated frames (an IP EtherType, a header cut short) go on to
	// the kernel, which counts them itself.
	filtered, _ = d.KernelFiltered()
	full := udp4Frame(p0.MACA, p0.MACB, "10.77.0.9", "10.99.0.1")
	raw.Send(t, full[:14], full[:14+19])
	if got := recvFrames(t, d, pool, 2, 8); len(got) != 2 {
		t.Fatalf("driver received %d of 2 truncated frames", len(got))
	}
	if got, _ := d.KernelFiltered(); got != filtered {
		t.Errorf("truncated frames: %d filtered, want none", got-filtered)
	}

	// Frames whose IP header is not in the skb's linear part are
	// filtered too, after a pull. A page-sized frame sent with a vnet
	// header has only its Ethernet header there, as a TX_RING sender's
	// (trafgen's) frames of any size.
	filtered, _ = d.KernelFiltered()
	before = ipStats(t, n.A)
	sendNonLinear(t, n.B, p0.IdxB, udp4FrameSize(p0.MACA, p0.MACB, "10.77.0.9", "10.99.0.1", 5000), count)
	// (R2's copies take the driver's long-frame path; not read here.)
	time.Sleep(50 * time.Millisecond)
	after = ipStats(t, n.A)
	if got, _ := d.KernelFiltered(); got-filtered != count || after["InReceives"] != before["InReceives"] {
		t.Errorf("non-linear transit frames: %d filtered, want %d; Ip InReceives %d -> %d", got-filtered, count, before["InReceives"], after["InReceives"])
	}

	// Close detaches.
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if got := tcxPrograms(t, n.A, p0.IdxA); got != 0 {
		t.Errorf("%d tcx programs on %s after Close, want 0", got, p0.IfA)
	}
	_ = p1
	localSets.mu.Lock()
	left := len(localSets.byNS)
	localSets.mu.Unlock()
	if left != 0 {
		t.Errorf("%d local sets left after the last filter closed", left)
	}
}

// TestKernelFilterCrash: a process killed with the filter attached
// leaves no program on the interface (the tcx link is the process's file
// descriptor, never pinned).
func TestKernelFilterCrash(t *testing.T) {
	v := newVethPair(t, 1500)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperFilterChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "R2_TCX_CHILD_NS=/run/netns/"+v.NSA, "R2_TCX_CHILD_IF="+v.IfA)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "attached" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q %v", line, err)
	}
	if got := tcxPrograms(t, v.A, v.IdxA); got != 1 {
		t.Fatalf("%d tcx programs while the child runs, want 1", got)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	// The kernel releases the link with the process's last file
	// reference, which exit does synchronously; allow a moment anyway.
	deadline := time.Now().Add(waitTimeout)
	for tcxPrograms(t, v.A, v.IdxA) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("a tcx program is left on the interface after the process was killed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHelperFilterChild is TestKernelFilterCrash's child: it attaches a
// filter, says so, and waits to be killed.
func TestHelperFilterChild(t *testing.T) {
	nsPath := os.Getenv("R2_TCX_CHILD_NS")
	if nsPath == "" {
		return // only TestKernelFilterCrash runs it, as a child process
	}
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		t.Fatal(err)
	}
	var d *Driver
	err = nstest.InNS(ns, func() error {
		d, err = Open(Config{Ifname: os.Getenv("R2_TCX_CHILD_IF"), KernelRxFilter: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if on, why := d.KernelFilter(); !on {
		t.Fatal(why)
	}
	fmt.Println("attached")
	time.Sleep(time.Minute)
}

// TestKernelFilterAddrOverflow: with a tiny notification buffer, a burst
// of address changes overflows the subscription; the set subscribes
// again, resyncs from a dump and ends with exactly the namespace's
// addresses.
func TestKernelFilterAddrOverflow(t *testing.T) {
	old := addrEventBuf
	addrEventBuf = 2048
	t.Cleanup(func() { addrEventBuf = old })
	n := nstest.New(t, nstest.UniquePrefix("r2to"), 2)
	d := openIn(t, n.A, Config{Ifname: n.Pairs[0].IfA, KernelRxFilter: true})
	if on, why := d.KernelFilter(); !on {
		t.Fatalf("filter not attached: %v", why)
	}
	set := d.filt.set
	l1 := n.LinkA(t, 1)
	const total = 1500
	addrOf := func(i int) string { return fmt.Sprintf("10.88.%d.%d", i/250, 1+i%250) }
	for i := range total {
		a, _ := netlink.ParseAddr(addrOf(i) + "/32")
		if err := n.HA.AddrAdd(l1, a); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < total; i += 2 {
		a, _ := netlink.ParseAddr(addrOf(i) + "/32")
		if err := n.HA.AddrDel(l1, a); err != nil {
			t.Fatal(err)
		}
	}
	// Every odd address in the map, every even one out.
	deadline := time.Now().Add(10 * time.Second)
	for {
		wrong := 0
		for i := range total {
			k := netip.MustParseAddr(addrOf(i)).As4()
			var v uint8
			if (set.local4.Lookup(k[:], &v) == nil) != (i%2 == 1) {
				wrong++
			}
		}
		if wrong == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d addresses wrong in the local set 10 s after the burst (resyncs %d)", wrong, total, set.resyncs.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("notifications applied %d, resyncs after overflow %d", set.applied.Load(), set.resyncs.Load())
	if set.resyncs.Load() == 0 {
		t.Errorf("no overflow and resync with a %d-byte buffer and %d notifications", addrEventBuf, total*3/2)
	}
}

// TestKernelFilterMapFull: when the maps cannot hold every local address
// the filter detaches (frames for the missing address would otherwise be
// dropped) and says why.
func TestKernelFilterMapFull(t *testing.T) {
	old := localMapEntries
	localMapEntries = 8
	t.Cleanup(func() { localMapEntries = old })
	v := newVethPair(t, 1500)
	d := v.openDriver(t, Config{KernelRxFilter: true})
	if on, why := d.KernelFilter(); !on {
		t.Fatalf("filter not attached: %v", why)
	}
	l := v.LinkA(t, 0)
	for i := range 10 {
		a, _ := netlink.ParseAddr(fmt.Sprintf("10.66.0.%d/32", i+1))
		if err := v.HA.AddrAdd(l, a); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(waitTimeout)
	for tcxPrograms(t, v.A, v.IdxA) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("filter still attached with more local addresses than its maps hold")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if on, why := d.KernelFilter(); on || why == nil {
		t.Errorf("KernelFilter() = %v, %v; want false and the reason", on, why)
	} else {
		t.Logf("detached: %v", why)
	}
}
