//go:build linux

package afxdp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/r2go/r2/r2/driver/vnet"
	"github.com/r2go/r2/r2/internal/nstest"
	"github.com/r2go/r2/r2/packet"
)

// superFlow is n frames of one TCP flow from src to dst, their sequence
// numbers 0 to n-1 (to tell them apart): every third a super-frame of 3
// segments of 1000 bytes, the others single segments of 100 bytes.
func superFlow(dst, src []byte, n int) [][]byte {
	fs := make([][]byte, n)
	for i := range fs {
		if i%3 == 0 {
			fs[i] = tcpSuper(dst, src, 3, 1000)
		} else {
			fs[i] = tcpSuper(dst, src, 1, 100)
		}
		binary.BigEndian.PutUint32(fs[i][14+20+4:], uint32(i))
	}
	return fs
}

// sendVnet sends frames from end B of pair 0 through an AF_PACKET socket
// with PACKET_VNET_HDR, super-frames as such (the veth end has TSO, so
// the kernel hands them to the other end whole), in one batch.
func sendVnet(t *testing.T, tn *testNet, frames [][]byte) {
	t.Helper()
	pool := newPoolBig(t, 64, 16)
	pkts := make([]*packet.Packet, len(frames))
	for i, f := range frames {
		pkts[i] = framePacket(t, pool, f, 1000)
	}
	err := nstest.InNS(tn.B, func() error {
		s, err := vnet.Open(tn.Pairs[0].IdxB)
		if err != nil {
			return err
		}
		defer s.Close()
		if n, _ := s.Send(pkts); n != len(pkts) {
			return fmt.Errorf("sent %d of %d frames", n, len(pkts))
		}
		return nil
	})
	for _, p := range pkts {
		pool.Free(p)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestSuperFramesIn: in generic mode a TCP super-frame from a veth peer
// with TSO reaches the driver whole, with its GSO metadata and its
// destination MAC as sent, through the super-frame socket, and in the
// flow's order among the single segments that the XDP socket takes, with
// one receive ring and with two (light-flow steering on).
func TestSuperFramesIn(t *testing.T) {
	eachStampForm(t, func(t *testing.T) {
		for _, rings := range []int{1, 2} {
			t.Run(fmt.Sprint(rings, "rings"), func(t *testing.T) {
				testSuperFramesIn(t, rings)
			})
		}
	})
}

func testSuperFramesIn(t *testing.T, rings int) {
	tn := newTestNet(t, 1, 1500)
	v := tn.Pairs[0]
	pool := newPoolBig(t, 512, 32)
	c := Config{Pool: pool, Mode: ModeSKB, RxRings: rings}
	if rings > 1 {
		c.LightGap = time.Millisecond
	}
	d := tn.open(t, 0, c)
	if on, why := d.SuperFramesIn(); !on {
		t.Fatalf("SuperFramesIn off: %s", why)
	}
	prime(t, d, pool)
	want := superFlow(v.MACA, v.MACB, 30)
	sendVnet(t, tn, want)

	var got []*packet.Packet
	batch := make([]*packet.Packet, 8)
	for deadline := time.Now().Add(2 * time.Second); len(got) < len(want) && time.Now().Before(deadline); {
		n := d.Recv(pool, batch)
		got = append(got, batch[:n]...)
		if n == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("received %d frames, want %d (rx_errors %d, drv_rx_vnet %d)", len(got), len(want), d.Counters().RxErrors.Value(), d.cfg.RxVnet.Value())
	}
	for i, p := range got {
		f := p.Data()
		seq := binary.BigEndian.Uint32(f[14+20+4:])
		if seq != uint32(i) {
			t.Errorf("frame %d has sequence number %d: out of order", i, seq)
			continue
		}
		super := len(want[i]) > 1514
		if super && (p.GSO.Size != 1000 || p.GSO.Type&^packet.GSOECN != packet.GSOTCPv4 || p.GSO.Flags&packet.GSONeedsCsum == 0) {
			t.Errorf("super-frame %d: GSO %+v, want segments of 1000 bytes, TCPv4, checksum to finish", i, p.GSO)
		}
		if !super && p.GSO.Size != 0 {
			t.Errorf("single segment %d: GSO size %d, want 0", i, p.GSO.Size)
		}
		// The checksum field is the pseudo-header sum either way (the
		// peer left it to finish); everything else as sent.
		if !bytes.Equal(f, want[i]) {
			t.Errorf("frame %d (%d bytes, super %v) differs from the one sent", i, len(f), super)
		}
	}
	if n, w := d.cfg.RxVnet.Value(), uint64(10); n != w {
		t.Errorf("drv_rx_vnet = %d, want %d", n, w)
	}
	wantRxErrors(t, d, 0, "")
	for _, p := range got {
		p.Pool().Free(p)
	}

	// No allocation on the way: the same flow again, received in
	// batches of 8 (the frames are all there before the first call).
	sendVnet(t, tn, want)
	time.Sleep(50 * time.Millisecond)
	received := 0
	allocs := testing.AllocsPerRun(5, func() {
		n := d.Recv(pool, batch)
		for _, p := range batch[:n] {
			p.Pool().Free(p)
		}
		received += n
	})
	if received != len(want) {
		t.Errorf("received %d frames the second time, want %d", received, len(want))
	}
	if allocs != 0 {
		t.Errorf("Recv with super-frames: %v allocs/call, want 0", allocs)
	}
	closeDrained(t, d, pool)
}

// TestSuperFramesInOff: with NoSuperFrames the program passes nothing and
// no socket takes super-frames: they reach the XDP socket as multi-buffer
// frames too long for the MTU, dropped and counted, as before the socket
// existed; the single segments still arrive.
func TestSuperFramesInOff(t *testing.T) {
	tn := newTestNet(t, 1, 1500)
	v := tn.Pairs[0]
	pool := newPoolBig(t, 512, 32)
	d := tn.open(t, 0, Config{Pool: pool, Mode: ModeSKB, NoSuperFrames: true})
	if on, _ := d.SuperFramesIn(); on || d.sup != nil {
		t.Fatal("NoSuperFrames: the driver still takes super-frames")
	}
	prime(t, d, pool)
	sendVnet(t, tn, superFlow(v.MACA, v.MACB, 6))
	got := recvThenQuiet(t, d, pool, 4, 8)
	if len(got) != 4 {
		t.Errorf("received %d frames, want the 4 single segments", len(got))
	}
	wantRxErrors(t, d, 2, "the super-frames")
	closeDrained(t, d, pool)
}

// TestSuperFramesInWhileSent: frames of one flow, every third a
// super-frame, keep their order while a peer sends them (3,000 in batches
// of 30) and Recv reads them at the same time, so that super-frames reach
// the socket while the rings are being read; every frame arrives.
func TestSuperFramesInWhileSent(t *testing.T) {
	tn := newTestNet(t, 1, 1500)
	v := tn.Pairs[0]
	pool := newPoolBig(t, 4096, 128)
	d := tn.open(t, 0, Config{Pool: pool, Mode: ModeSKB, RxRings: 2, LightGap: 2 * time.Millisecond})
	prime(t, d, pool)
	const total, each = 3000, 30
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := 0; i < total; i += each {
			fs := superFlow(v.MACA, v.MACB, each)
			for j := range fs {
				binary.BigEndian.PutUint32(fs[j][14+20+4:], uint32(i+j))
			}
			sendVnet(t, tn, fs)
		}
	}()
	var got []uint32
	batch := make([]*packet.Packet, 32)
	for deadline := time.Now().Add(10 * time.Second); len(got) < total && time.Now().Before(deadline); {
		n := d.Recv(pool, batch)
		for _, p := range batch[:n] {
			got = append(got, binary.BigEndian.Uint32(p.Data()[14+20+4:]))
			p.Pool().Free(p)
		}
	}
	<-sent
	late := 0
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1] {
			late++
			if late <= 5 {
				t.Errorf("frame %d arrived after frame %d", got[i], got[i-1])
			}
		}
	}
	if len(got) != total || late != 0 {
		t.Errorf("received %d of %d frames, %d out of order (rx_errors %d)", len(got), total, late, d.Counters().RxErrors.Value())
	}
	if n := d.cfg.RxVnet.Value(); n != total/3 {
		t.Errorf("drv_rx_vnet = %d, want %d", n, total/3)
	}
	closeDrained(t, d, pool)
}

// TestSuperFramesDropped: super-frames beyond what the socket holds
// (its ring of superSlots, its queue), while the owner does not read, are
// dropped by the kernel and counted in Stats.SuperDropped and
// KernelDrops; every frame sent is either received or counted (the
// kernel may count a few more drops than frames missing: 4 of 296 here).
func TestSuperFramesDropped(t *testing.T) {
	tn := newTestNet(t, 1, 1500)
	v := tn.Pairs[0]
	pool := newPoolBig(t, 512, 128)
	d := tn.open(t, 0, Config{Pool: pool, Mode: ModeSKB})
	prime(t, d, pool)
	const sent = superSlots + 40
	for i := 0; i < sent; i += 10 {
		fs := make([][]byte, 10)
		for j := range fs {
			fs[j] = tcpSuper(v.MACA, v.MACB, 3, 1000)
			binary.BigEndian.PutUint32(fs[j][14+20+4:], uint32(i+j))
		}
		sendVnet(t, tn, fs)
	}
	st, err := d.Stats()
	if err != nil {
		t.Fatal(err)
	}
	got := recvThenQuiet(t, d, pool, sent-int(st.SuperDropped), 16)
	t.Logf("%d super-frames sent, %d received, %d dropped by the kernel", sent, len(got), st.SuperDropped)
	if st.SuperDropped < sent-superSlots || len(got)+int(st.SuperDropped) < sent {
		t.Errorf("%d received and %d counted dropped of %d sent: want at least %d dropped, and every frame accounted for", len(got), st.SuperDropped, sent, sent-superSlots)
	}
	if kd, _ := d.KernelDrops(); kd != st.SuperDropped {
		t.Errorf("KernelDrops = %d, want %d", kd, st.SuperDropped)
	}
	wantRxErrors(t, d, 0, "")
	closeDrained(t, d, pool)
}

// TestSuperPassProgram runs the interface's program (BPF_PROG_TEST_RUN)
// on frames around the pass rule: only a frame longer than the sockets
// take and addressed to the interface's MAC is passed, its destination
// marked with its ring and stamp; with host-owned mode on, a long frame
// for the host's own address goes to the host unmarked and a long transit
// frame is still passed marked.
func TestSuperPassProgram(t *testing.T) {
	tn := newTestNet(t, 1, 1500)
	v := tn.Pairs[0]
	pool := newPoolBig(t, 256, 8)
	d := tn.open(t, 0, Config{Pool: pool, Mode: ModeSKB, RxRings: 2})
	if on, why := d.SuperFramesIn(); !on {
		t.Fatalf("SuperFramesIn off: %s", why)
	}
	host := netip.MustParseAddr("10.2.0.1") // tcpSuper's destination
	long := func(dst net.HardwareAddr) []byte {
		f := tcpSuper(dst, v.MACB, 2, 1000) // 2054 bytes
		return f
	}
	// Other MACs: the interface's with its second or its last byte
	// changed (each half of the program's comparison).
	other1 := append(net.HardwareAddr(nil), v.MACA...)
	other1[1] ^= 0x10
	other5 := append(net.HardwareAddr(nil), v.MACA...)
	other5[5] ^= 0x10
	run := func(p *ebpf.Program, f []byte) (uint32, []byte) {
		t.Helper()
		out := make([]byte, len(f)+256)
		ret, err := p.Run(&ebpf.RunOptions{Data: f, DataOut: out})
		if err != nil {
			t.Fatal(err)
		}
		return ret, out
	}
	marked := func(f, out []byte) bool {
		return out[0] == v.MACA[0]^superMark && out[1] < 2 && bytes.Equal(out[6:len(f)], f[6:])
	}
	for _, tc := range []struct {
		name  string
		frame []byte
		pass  bool
	}{
		{"long, to the interface", long(v.MACA), true},
		{"long, to another MAC (byte 1)", long(other1), false},
		{"long, to another MAC (byte 5)", long(other5), false},
		{"MTU-sized, to the interface", tcpSuper(v.MACA, v.MACB, 1, 1460), false},
	} {
		ret, out := run(d.prog.prog, tc.frame)
		if tc.pass && (ret != actPass || !marked(tc.frame, out)) {
			t.Errorf("%s: action %d, destination % x: want passed and marked", tc.name, ret, out[:6])
		}
		if !tc.pass && (ret != actRedirect || out[0] == v.MACA[0]^superMark) {
			t.Errorf("%s: action %d, destination % x: want redirected, unmarked", tc.name, ret, out[:6])
		}
	}
	if err := d.SetHostOwned(true, []netip.Addr{host}); err != nil {
		t.Fatal(err)
	}
	f := long(v.MACA)
	if ret, out := run(d.host.prog, f); ret != actPass || !bytes.Equal(out[:len(f)], f) {
		t.Errorf("host-owned, long frame to the host's address: action %d, destination % x: want passed unmarked", ret, out[:6])
	}
	transit := long(v.MACA)
	copy(transit[14+16:], []byte{192, 0, 2, 7})
	if ret, out := run(d.host.prog, transit); ret != actPass || !marked(transit, out) {
		t.Errorf("host-owned, long transit frame: action %d, destination % x: want passed and marked", ret, out[:6])
	}
}

// TestSuperFramesInVLAN: a tagged super-frame reaches the program with
// its tag (XDP sees the frame as on the wire), and the kernel then strips
// the tag into the skb's metadata before the packet tap: the driver puts
// it back, so the frame arrives whole, byte for byte, with its GSO
// metadata pointing at the TCP checksum behind the tag.
func TestSuperFramesInVLAN(t *testing.T) {
	tn := newTestNet(t, 1, 1500)
	v := tn.Pairs[0]
	pool := newPoolBig(t, 512, 16)
	d := tn.open(t, 0, Config{Pool: pool, Mode: ModeSKB})
	prime(t, d, pool)
	super := tcpSuper(v.MACA, v.MACB, 3, 1000)
	tagged := append(append(append([]byte(nil), super[:12]...), 0x81, 0x00, 0x00, 0x05), super[12:]...)
	bpool := newPoolBig(t, 16, 4)
	p := bpool.Big().Get()
	if !p.SetData(tagged) {
		t.Fatal("no room for the frame")
	}
	p.GSO = packet.GSO{CsumStart: uint16(p.Head() + 38), CsumOffset: 16, Size: 1000, Type: packet.GSOTCPv4, Flags: packet.GSONeedsCsum}
	err := nstest.InNS(tn.B, func() error {
		s, err := vnet.Open(v.IdxB)
		if err != nil {
			return err
		}
		defer s.Close()
		if n, _ := s.Send([]*packet.Packet{p}); n != 1 {
			return fmt.Errorf("super-frame not sent")
		}
		return nil
	})
	bpool.Free(p)
	if err != nil {
		t.Fatal(err)
	}
	batch := make([]*packet.Packet, 4)
	var got []*packet.Packet
	for deadline := time.Now().Add(waitTimeout); len(got) == 0 && time.Now().Before(deadline); {
		n := d.Recv(pool, batch)
		got = append(got, batch[:n]...)
	}
	time.Sleep(20 * time.Millisecond)
	n := d.Recv(pool, batch)
	got = append(got, batch[:n]...)
	if len(got) != 1 {
		t.Fatalf("received %d frames, want the super-frame whole (rx_errors %d, drv_rx_vnet %d)", len(got), d.Counters().RxErrors.Value(), d.cfg.RxVnet.Value())
	}
	f := got[0]
	if !bytes.Equal(f.Data(), tagged) {
		n := min(f.Len(), 20)
		t.Errorf("received %d bytes starting % x, want %d starting % x", f.Len(), f.Data()[:n], len(tagged), tagged[:20])
	}
	if g := f.GSO; g.Size != 1000 || int(g.CsumStart)-f.Head() != 38 || g.CsumOffset != 16 {
		t.Errorf("GSO %+v (checksum start %d into the frame), want segments of 1000 and the TCP checksum at 38+16", g, int(g.CsumStart)-f.Head())
	}
	if v := d.cfg.RxVnet.Value(); v != 1 {
		t.Errorf("drv_rx_vnet = %d, want 1", v)
	}
	f.Pool().Free(f)
	closeDrained(t, d, pool)
}
