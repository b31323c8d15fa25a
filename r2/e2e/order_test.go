//go:build linux

package e2e

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/procnet"
	"github.com/r2go/r2/r2/topo"
)

// tcpTransferInOrder is tcpTransfer, also checking that R2 kept the order
// of the flow's data segments: it captures them arriving at R2 (the
// router-side end of h1's veth) and arriving at h2, and counts segments
// that reached h2 after one that reached R2 later. Segments are told apart
// by their IPv4 ID, which Linux steps by one per segment of a connected
// socket (retransmissions included).
//
// atH1 captures the arrivals at R2 as they leave h1 instead, for AF_XDP,
// whose XDP program takes frames before any capture on R2's side could
// see them. Otherwise the capture is at R2's side: h1 sends from two CPUs
// (its process, and its softirq answering the ACKs R2 delivers, on R2's
// CPU), and each CPU's backlog feeds the veth, so frames may reach R2 in
// another order than h1's tap saw them leave. Even at R2's side two CPUs
// would hand a frame to the capture and to R2's socket one after the
// other, and a frame of the other CPU can pass between the two (seen once
// under CI load: 6 of 11,775 segments "late" with R2 not at fault), so the
// interface's receive work is steered to one CPU (RPS) for the capture:
// every tap then sees the frames in one order. TCP's own reordering
// counters (TCPSACKReorder and the like) are no evidence either: they
// also move with loss and retransmission on a loaded machine.
func tcpTransferInOrder(t *testing.T, tp *topo.Topology, n int, atH1 bool) {
	t.Helper()
	need(t, "tcpdump", "tcpdump")
	dir := t.TempDir()
	// Data segments only: longer than 100 bytes on the wire.
	const filter = "ip and tcp and dst port 5001 and greater 100"
	inNS, inIf := tp.RouterNSName, tp.RouterIfA
	if atH1 {
		inNS, inIf = tp.H1NS, tp.H1If
	} else {
		oneRxCPU(t, inNS, inIf)
	}
	sent := startTcpdump(t, inNS, inIf, filepath.Join(dir, "in.pcap"), filter)
	recv := startTcpdump(t, tp.H2NS, tp.H2If, filepath.Join(dir, "h2.pcap"), filter)
	before := tcpCounters(t, tp.H1NS)
	tcpTransfer(t, tp, n)
	after := tcpCounters(t, tp.H1NS)
	sentIDs := sent.stop(t)
	recvIDs := recv.stop(t)
	late, common := lateArrivals(sentIDs, recvIDs)
	t.Logf("TCP order: %d segments captured on their way to R2, %d at h2, %d in both, %d arrived after a later one", len(sentIDs), len(recvIDs), common, late)
	// Retransmissions (loss) and timeouts that gave the flow a new hash,
	// and with it maybe another queue: what to look at first when the
	// order check fails.
	t.Logf("h1 during the transfer: %s", tcpCounterDelta(before, after, "Tcp:RetransSegs", "TcpExt:TCPTimeouts", "TcpExt:TcpTimeoutRehash", "TcpExt:TcpDuplicateDataRehash"))
	if common < len(recvIDs)/2 {
		t.Fatalf("captures hardly overlap (%d of %d segments at h2 seen reaching R2): nothing to compare", common, len(recvIDs))
	}
	if late != 0 {
		t.Errorf("TCP: %d of %d segments arrived at h2 after a segment that reached R2 later", late, common)
	}
}

// oneRxCPU steers the receive work of interface ifname (in namespace ns,
// which must be this one: sysfs shows its interfaces) to CPU 0 with RPS
// until t ends.
func oneRxCPU(t *testing.T, ns, ifname string) {
	t.Helper()
	if ns != "" {
		t.Fatalf("RPS for %s in namespace %s: only the test's own namespace's interfaces are in sysfs", ifname, ns)
	}
	p := filepath.Join("/sys/class/net", ifname, "queues", "rx-0", "rps_cpus")
	old, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("1"), 0); err != nil {
		t.Fatalf("RPS: %v", err)
	}
	t.Cleanup(func() { os.WriteFile(p, old, 0) })
}

// lateArrivals counts the IDs of recv that come after an ID that comes
// later in sent, among the IDs both lists hold (a capture may miss a few
// frames). IDs are 16 bits and wrap: a transfer of super-frames, whose IDs
// step by the segments each holds, goes round several times, so both
// lists are unwrapped first (unwrapIDs), recv from the point of sent's
// first ID nearest its own first.
func lateArrivals(sent, recv []uint16) (late, common int) {
	if len(sent) == 0 || len(recv) == 0 {
		return 0, 0
	}
	us := unwrapIDs(sent, int64(sent[0]))
	ur := unwrapIDs(recv, us[0]+int64(int16(recv[0]-sent[0])))
	at := make(map[int64]int, len(sent))
	for i, id := range us {
		if _, dup := at[id]; !dup {
			at[id] = i
		}
	}
	latest := -1
	for _, id := range ur {
		i, ok := at[id]
		if !ok {
			continue
		}
		common++
		if i < latest {
			late++
			continue
		}
		latest = i
	}
	return late, common
}

// unwrapIDs turns 16-bit IDs into a sequence that does not wrap, starting
// at base: each ID is taken as the previous one plus the shortest step
// (forwards or back) between them.
func unwrapIDs(ids []uint16, base int64) []int64 {
	out := make([]int64, len(ids))
	cur := base
	for i, id := range ids {
		if i > 0 {
			cur += int64(int16(id - ids[i-1]))
		}
		out[i] = cur
	}
	return out
}

// tcpdumpRun is a tcpdump writing a pcap file.
type tcpdumpRun struct {
	cmd    *exec.Cmd
	file   string
	stderr *syncBuf
}

// startTcpdump captures the first 96 bytes of the frames on ifname in
// namespace ns ("": this one) that match filter into file, and returns
// once tcpdump listens.
func startTcpdump(t *testing.T, ns, ifname, file, filter string) *tcpdumpRun {
	t.Helper()
	r := &tcpdumpRun{file: file, stderr: &syncBuf{}}
	args := []string{"tcpdump", "-i", ifname, "-n", "-s", "96", "-B", "16384", "-U", "-w", file, filter}
	if ns != "" {
		args = append([]string{"ip", "netns", "exec", ns}, args...)
	}
	r.cmd = exec.Command(args[0], args[1:]...)
	r.cmd.Stderr = r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.cmd.Process.Kill() })
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(r.stderr.String(), "listening on") {
		if time.Now().After(deadline) {
			t.Fatalf("tcpdump in %s did not start: %s", ns, r.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return r
}

// stop ends the capture and returns the IPv4 IDs of its frames in order.
func (r *tcpdumpRun) stop(t *testing.T) []uint16 {
	t.Helper()
	r.cmd.Process.Signal(syscall.SIGINT)
	if err := r.cmd.Wait(); err != nil {
		t.Fatalf("tcpdump: %v\n%s", err, r.stderr.String())
	}
	data, err := os.ReadFile(r.file)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pcapIPv4IDs(data)
	if err != nil {
		t.Fatalf("%s: %v", r.file, err)
	}
	return ids
}

// pcapIPv4IDs reads a pcap file of Ethernet frames (as tcpdump -w writes
// it, in this machine's byte order) and returns the IPv4 ID of each frame.
func pcapIPv4IDs(b []byte) ([]uint16, error) {
	if len(b) < 24 {
		return nil, fmt.Errorf("pcap: %d bytes, no header", len(b))
	}
	var bo binary.ByteOrder
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		bo = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("pcap: bad magic %#x", binary.LittleEndian.Uint32(b))
	}
	if lt := bo.Uint32(b[20:]); lt != 1 {
		return nil, fmt.Errorf("pcap: link type %d, want Ethernet (1)", lt)
	}
	var ids []uint16
	for off := 24; off < len(b); {
		if off+16 > len(b) {
			return nil, fmt.Errorf("pcap: record header cut at %d", off)
		}
		incl := int(bo.Uint32(b[off+8:]))
		off += 16
		if off+incl > len(b) {
			return nil, fmt.Errorf("pcap: record cut at %d", off)
		}
		f := b[off : off+incl]
		off += incl
		if len(f) < 14+20 || binary.BigEndian.Uint16(f[12:]) != 0x0800 {
			continue
		}
		ids = append(ids, binary.BigEndian.Uint16(f[14+4:]))
	}
	return ids, nil
}

func TestLateArrivals(t *testing.T) {
	for _, c := range []struct {
		sent, recv   []uint16
		late, common int
	}{
		{[]uint16{1, 2, 3, 4}, []uint16{1, 2, 3, 4}, 0, 4},
		{[]uint16{1, 2, 3, 4}, []uint16{1, 3, 4}, 0, 3},          // a loss
		{[]uint16{1, 2, 3, 4}, []uint16{1, 3, 2, 4}, 1, 4},       // 2 after 3
		{[]uint16{1, 2, 3, 4}, []uint16{9, 1, 2, 8, 3}, 0, 3},    // not captured at h1
		{[]uint16{5, 6, 7, 8, 9}, []uint16{5, 8, 6, 7, 9}, 2, 5}, // 6, 7 after 8
		// Super-frames whose IDs step by 10000: the IDs wrap, and the
		// 8th frame's 4467 (70,003) and 14467 come after 60003.
		{[]uint16{3, 10003, 20003, 30003, 40003, 50003, 60003, 4467, 14467}, []uint16{3, 10003, 20003, 30003, 40003, 50003, 60003, 4467, 14467}, 0, 9},
		{[]uint16{3, 10003, 20003, 30003, 40003, 50003, 60003, 4467, 14467}, []uint16{3, 10003, 20003, 30003, 40003, 50003, 4467, 60003, 14467}, 1, 9},
		{[]uint16{65534, 65535, 0, 1}, []uint16{65534, 0, 65535, 1}, 1, 4},
	} {
		late, common := lateArrivals(c.sent, c.recv)
		if late != c.late || common != c.common {
			t.Errorf("lateArrivals(%v, %v) = %d, %d; want %d, %d", c.sent, c.recv, late, common, c.late, c.common)
		}
	}
}

// TestAFXDPSendOrder: a TCP flow whose segments R2 merges (GRO, on its
// AF_PACKET interface towards h1) leaves through AF_XDP towards h2 by two
// paths: super-frames through the driver's AF_PACKET socket, which goes
// through the qdisc, single segments through the XDP socket's Tx ring,
// which bypasses it. With a shaper (tbf) on that interface holding the
// socket's frames, the segments still reach h2 in the order they reached
// R2, and drv_tx_order_held counts the segments that followed the socket
// to keep it (2-55 a run of 16 MB). Without that rule 180-3017 of 11,392
// segments came late.
// h2's receive work is steered to one CPU (RPS): the shaper releases
// frames from a timer on any CPU, whose backlog h2 drains apart from the
// one of R2's CPU, so without it h2 may take frames out of the order they
// left R2's interface in (4-17 late segments a run, with the rule).
func TestAFXDPSendOrder(t *testing.T) {
	tp := newTopo(t)
	d := startR2(t, uniqueInstance(t))
	attachArgs(t, d, tp, []string{"--driver", "afpacket"}, []string{"--driver", "afxdp"})
	if show := d.must(t, "r2intf", "show"); !strings.Contains(show, "afxdp") {
		t.Fatalf("no interface on afxdp:\n%s\n%s", show, d.log.String())
	}
	pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 3)
	if out, err := exec.Command("tc", "qdisc", "add", "dev", tp.RouterIfB, "root", "tbf",
		"rate", "400mbit", "burst", "256kb", "latency", "50ms").CombinedOutput(); err != nil {
		t.Fatalf("tc qdisc add tbf on %s: %v: %s", tp.RouterIfB, err, out)
	}
	if err := tp.SteerRx(tp.H2NS, tp.H2If, "1"); err != nil {
		t.Fatal(err)
	}
	before := d.counters(t)
	tcpTransferInOrder(t, tp, 32<<20, false)
	after := d.counters(t)
	whole := counterDelta(before, after, names.IfNodeCounter(tp.RouterIfB, driver.DrvTxVnet), 0)
	held := counterDelta(before, after, names.IfNodeCounter(tp.RouterIfB, driver.DrvTxOrderHeld), 0)
	t.Logf("AF_XDP sent %d frames through its AF_PACKET socket, %d of them (or held) to keep the order", whole, held)
	if whole == 0 || held == 0 {
		t.Errorf("drv_tx_vnet %d, drv_tx_order_held %d: want both paths used and frames kept behind the shaped socket (else nothing was tested)", whole, held)
	}
}

// tcpCounters reads the TCP counters of namespace ns (/proc/net/snmp and
// /proc/net/netstat as a process in ns sees them), keyed "Tcp:RetransSegs",
// "TcpExt:TCPTimeouts" and so on.
func tcpCounters(t *testing.T, ns string) map[string]uint64 {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "cat", "/proc/net/snmp", "/proc/net/netstat").Output()
	if err != nil {
		t.Fatalf("TCP counters of %s: %v", ns, err)
	}
	c := map[string]uint64{}
	for _, group := range []string{"Tcp", "TcpExt"} {
		m, err := procnet.ParseSNMP(out, group)
		if err != nil {
			t.Fatalf("TCP counters of %s: %v", ns, err)
		}
		for name, v := range m {
			c[group+":"+name] = v
		}
	}
	return c
}

// tcpCounterDelta says how much each of the named counters grew from
// before to after, "name +n" each; a counter this kernel lacks is "name ?".
func tcpCounterDelta(before, after map[string]uint64, names ...string) string {
	parts := make([]string, 0, len(names))
	for _, n := range names {
		a, ok := after[n]
		if !ok {
			parts = append(parts, n+" ?")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s +%d", n, a-before[n]))
	}
	return strings.Join(parts, ", ")
}
