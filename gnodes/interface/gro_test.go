package ifnode_test

import (
	"encoding/binary"
	"testing"

	"github.com/r2go/r2/fwd"
	ifnode "github.com/r2go/r2/gnodes/interface"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/packet"
)

// tcpSeg is an IPv4 TCP segment (ACK, pay bytes) in an Ethernet frame,
// with its checksums.
func tcpSeg(seq uint32, id uint16, pay int) []byte {
	b := make([]byte, 14+20+20+pay)
	copy(b, []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0})
	ip := b[14:]
	hdr.PutIPv4(ip, 0, len(ip), id, 64, hdr.ProtoTCP, 0x0a010001, 0x0a020009)
	ip[6] = 0x40
	ip[10], ip[11] = 0, 0
	hdr.IPv4(ip).SetChecksum(hdr.Checksum(ip[:20], 0))
	t := ip[20:]
	binary.BigEndian.PutUint16(t, 40000)
	binary.BigEndian.PutUint16(t[2:], 5201)
	binary.BigEndian.PutUint32(t[4:], seq)
	t[12], t[13] = 5<<4, 0x10
	binary.BigEndian.PutUint16(t[14:], 512)
	for i := 20; i < len(t); i++ {
		t[i] = byte(i)
	}
	binary.BigEndian.PutUint16(t[16:], hdr.Checksum(t, hdr.Sum(ip[12:20], hdr.ProtoTCP+uint32(len(t)))))
	return b
}

// TestRxGRO: IfNode merges a received batch's segments of a flow (package
// gro) and counts what it merged; with GRO off they pass as they came.
func TestRxGRO(t *testing.T) {
	for _, on := range []bool{true, false} {
		ifnode.GRO = on
		t.Cleanup(func() { ifnode.GRO = true })
		h := gt.New(t, gt.Options{})
		h.Pool.SetBig(packet.NewBigPool(0, 4))
		drv := newDriver(t, 64)
		gt.Add(h, ifnode.New(7, "eth0", 0, drv, nil))
		dec := h.Sink(dname)
		total := 0
		for i := 0; i < 3; i++ {
			f := tcpSeg(1000+uint32(i)*1000, 7+uint16(i), 1000)
			total += len(f)
			if !drv.Inject(f) {
				t.Fatal("inject")
			}
		}
		h.RunUntilIdle()
		ps := dec.Take()
		want := map[string]uint64{iname + "/rx": 3, iname + "/rx#bytes": uint64(total)}
		if on {
			if len(ps) != 1 || ps[0].GSO.Size != 1000 || ps[0].Len() != 54+3000 || ps[0].InIfindex != 7 || ps[0].L2 != ps[0].Head() {
				t.Fatalf("GRO on: %d packets to EtherDecap, want one super-frame of 3,000 bytes of payload", len(ps))
			}
			want[iname+"/rx_gro_packets"], want[iname+"/rx_gro_segments"], want[dname+"/enq"] = 1, 3, 1
		} else {
			if len(ps) != 3 || ps[0].GSO.Size != 0 {
				t.Fatalf("GRO off: %d packets to EtherDecap, want the 3 segments", len(ps))
			}
			want[dname+"/enq"] = 3
		}
		for _, p := range ps {
			h.Free(p)
		}
		h.ExpectCounters(want)
		h.Done()
	}
}

// TestRxGROOnlyForSuperFrameOutput: IfNode merges only while some
// interface sends super-frames whole (the interface snapshot's
// AnyOffload); with AF_XDP interfaces alone the segments pass as they came,
// and they are merged again once an offloading interface is there.
func TestRxGROOnlyForSuperFrameOutput(t *testing.T) {
	h := gt.New(t, gt.Options{})
	h.Pool.SetBig(packet.NewBigPool(0, 4))
	drv := newDriver(t, 64)
	gt.Add(h, ifnode.New(7, "eth0", 0, drv, nil))
	dec := h.Sink(dname)
	xdp := &fwd.Interface{Ifindex: 7, Name: "eth0", MTU: 1500, Up: true}
	pkt := &fwd.Interface{Ifindex: 8, Name: "eth1", MTU: 1500, Up: true, Offload: true}
	noSuper := (*fwd.Interfaces)(nil).With(xdp)
	for _, tc := range []struct {
		snap *fwd.Interfaces
		want int // packets to EtherDecap for 3 segments
	}{
		{noSuper, 3},
		{noSuper.With(pkt), 1},
		{noSuper.With(pkt).Without(8), 3},
	} {
		h.Control(msg.Interfaces{Snapshot: tc.snap})
		for i := 0; i < 3; i++ {
			if !drv.Inject(tcpSeg(1000+uint32(i)*1000, 7+uint16(i), 1000)) {
				t.Fatal("inject")
			}
		}
		h.RunUntilIdle()
		ps := dec.Take()
		if len(ps) != tc.want {
			t.Errorf("AnyOffload %v: %d packets to EtherDecap, want %d", tc.snap.AnyOffload(), len(ps), tc.want)
		}
		h.Free(ps...)
	}
	h.Done()
}
