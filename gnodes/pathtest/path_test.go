package pathtest

import (
	"bytes"
	"encoding/binary"
	"testing"

	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
)

func udpFrame(dstMAC [6]byte, src, dst string, ttl uint8, n int) ([]byte, []byte) {
	ip := gt.IPv4(gt.IP(src), gt.IP(dst), ttl, hdr.ProtoUDP, gt.UDP(4000, 5000, gt.Bytes(n)))
	return gt.Pad(gt.Ether(dstMAC, h1MAC, hdr.EtherTypeIPv4, ip), 60), ip
}

// decTTL is ip with the TTL one lower and the checksum recomputed.
func decTTL(ip []byte) []byte {
	b := append([]byte(nil), ip...)
	b[8]--
	gt.FixIPv4Checksum(b)
	return b
}

func expect(t *testing.T, got [][]byte, want ...[]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d frames, want %d:\n%x", len(got), len(want), got)
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("frame %d\n%x\nwant\n%x", i, got[i], want[i])
		}
	}
}

func TestPathForward(t *testing.T) {
	tests := []struct {
		name   string
		dst    string
		n      int
		nhMAC  [6]byte
		outDrv int
	}{
		{name: "connected, small (padding trimmed)", dst: "10.2.0.1", n: 4, nhMAC: h2MAC, outDrv: 1},
		{name: "default route", dst: "192.0.2.10", n: 100, nhMAC: h2MAC, outDrv: 1},
		{name: "at eth1's MTU", dst: "192.0.2.10", n: 1400 - 28, nhMAC: h2MAC, outDrv: 1},
		{name: "gateway back out eth0", dst: "10.100.1.1", n: 10, nhMAC: h1MAC, outDrv: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, 256, false)
			frame, ip := udpFrame(r2MAC0, "10.1.0.1", tc.dst, 64, tc.n)
			w.drv0.Inject(frame)
			w.h.RunUntilIdle()
			outMAC := [2][6]byte{r2MAC0, r2MAC1}[tc.outDrv]
			got := [2][][]byte{w.drv0.Frames(), w.drv1.Frames()}
			expect(t, got[tc.outDrv], gt.Ether(tc.nhMAC, outMAC, hdr.EtherTypeIPv4, decTTL(ip)))
			if len(got[1-tc.outDrv]) != 0 {
				t.Errorf("frames on the other interface: %x", got[1-tc.outDrv])
			}
			if v := w.h.Counter("IPv4Fwd/forwarded"); v != 1 {
				t.Errorf("forwarded = %d", v)
			}
			w.close()
		})
	}
}

func TestPathPing(t *testing.T) {
	w := newWorld(t, 256, false)
	echo := gt.Echo(0x4242, 7, []byte("abcdefghijklmnopqrstuvwabcdefghi"))
	ip := gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.2.0.2"), 64, hdr.ProtoICMP, echo)
	w.drv0.Inject(gt.Ether(r2MAC0, h1MAC, hdr.EtherTypeIPv4, ip))
	w.h.RunUntilIdle()
	got := w.drv0.Frames()
	if len(got) != 1 {
		t.Fatalf("%d frames back", len(got))
	}
	f := got[0]
	checkTx(t, got, r2MAC0)
	rip := hdr.IPv4(f[14:])
	if !hdr.MACEqual(hdr.Ether(f).Dst(), h1MAC) || rip.Src() != gt.IP("10.2.0.2") || rip.Dst() != gt.IP("10.1.0.1") ||
		rip.TTL() != 64 || f[14+20] != hdr.ICMPEchoReply || !bytes.Equal(f[14+24:], echo[4:]) || hdr.Checksum(f[14+20:], 0) != 0 {
		t.Errorf("reply %x", f)
	}
	if w.h.Counter("IPv4Local/echo_replies") != 1 || w.h.Counter("IPv4Fwd/forwarded") != 1 {
		t.Error("counters")
	}
	w.close()
}

// TestPathTraceroute: a probe with TTL 1 gets a time exceeded from the input
// interface's address, quoting the probe as received.
func TestPathTraceroute(t *testing.T) {
	w := newWorld(t, 256, false)
	frame, ip := udpFrame(r2MAC0, "10.1.0.1", "192.0.2.10", 1, 12)
	w.drv0.Inject(frame)
	w.h.RunUntilIdle()
	icmp := make([]byte, 8+len(ip))
	icmp[0] = hdr.ICMPTimeExceeded
	copy(icmp[8:], ip)
	binary.BigEndian.PutUint16(icmp[2:], hdr.Checksum(icmp, 0))
	got := w.drv0.Frames()
	if len(got) != 1 {
		t.Fatalf("%d frames", len(got))
	}
	want := make([]byte, 20+len(icmp))
	hdr.PutIPv4(want, 0xc0, len(want), hdr.IPv4(got[0][14:]).ID(), 64, hdr.ProtoICMP, gt.IP("10.1.0.2"), gt.IP("10.1.0.1"))
	copy(want[20:], icmp)
	expect(t, got, gt.Ether(h1MAC, r2MAC0, hdr.EtherTypeIPv4, want))
	if len(w.drv1.Frames()) != 0 {
		t.Error("probe forwarded")
	}
	w.close()
}

// TestPathARPResolve: the first packet to an unknown neighbour waits for
// ARP; h2's reply goes through EtherDecap and the control side (relay) to
// EtherEncap, which then sends the packet.
func TestPathARPResolve(t *testing.T) {
	w := newWorld(t, 256, true)
	frame, ip := udpFrame(r2MAC0, "10.1.0.1", "192.0.2.10", 64, 20)
	w.drv0.Inject(frame)
	w.h.RunUntilIdle()
	req := gt.Pad(gt.Ether(gt.Broadcast, r2MAC1, hdr.EtherTypeARP,
		gt.ARP(hdr.ARPRequest, r2MAC1, gt.IP("10.2.0.2"), [6]byte{}, gt.IP("10.2.0.1"))), 60)
	expect(t, w.drv1.Frames(), req)
	if w.held() != 1 {
		t.Fatalf("%d packets held", w.held())
	}
	w.h.CheckPool(1)
	// h2 answers.
	w.drv1.Inject(gt.Pad(gt.Ether(r2MAC1, h2MAC, hdr.EtherTypeARP,
		gt.ARP(hdr.ARPReply, h2MAC, gt.IP("10.2.0.1"), r2MAC1, gt.IP("10.2.0.2"))), 60))
	w.h.RunUntilIdle()
	if n := w.relay(); n != 1 {
		t.Fatalf("relayed %d reports", n)
	}
	w.h.RunUntilIdle()
	expect(t, w.drv1.Frames(), gt.Ether(h2MAC, r2MAC1, hdr.EtherTypeIPv4, decTTL(ip)))
	if w.held() != 0 {
		t.Errorf("%d still held", w.held())
	}
	w.close()
}

// TestPathARPRequest: r2 answers h1's request for its address.
func TestPathARPRequest(t *testing.T) {
	w := newWorld(t, 256, true)
	w.drv0.Inject(gt.Ether(gt.Broadcast, h1MAC, hdr.EtherTypeARP, gt.ARP(hdr.ARPRequest, h1MAC, gt.IP("10.1.0.1"), [6]byte{}, gt.IP("10.1.0.2"))))
	w.h.RunUntilIdle()
	expect(t, w.drv0.Frames(), gt.Pad(gt.Ether(h1MAC, r2MAC0, hdr.EtherTypeARP,
		gt.ARP(hdr.ARPReply, r2MAC0, gt.IP("10.1.0.2"), h1MAC, gt.IP("10.1.0.1"))), 60))
	if n := w.relay(); n != 1 {
		t.Errorf("relayed %d reports, want 1 (h1 asked for us)", n)
	}
	w.close()
}

// TestPathLinkBroadcast: RFC 1812 5.3.4: "A router MUST NOT forward any
// packet that the router received as a Link Layer broadcast, unless it is
// directed to an IP Multicast address", and 4.3.2.7: no ICMP error about
// a packet sent as a link-layer broadcast.
func TestPathLinkBroadcast(t *testing.T) {
	w := newWorld(t, 256, false)
	frame, _ := udpFrame(gt.Broadcast, "10.1.0.1", "192.0.2.10", 64, 10)
	w.drv0.Inject(frame)
	frame, _ = udpFrame(gt.Broadcast, "10.1.0.1", "192.0.2.10", 1, 10)
	w.drv0.Inject(frame)
	w.h.RunUntilIdle()
	if f := w.drv1.Frames(); len(f) != 0 {
		t.Errorf("link-layer broadcast forwarded: %x", f)
	}
	if f := w.drv0.Frames(); len(f) != 0 {
		t.Errorf("ICMP error about a link-layer broadcast: %x", f)
	}
	w.close()
}
