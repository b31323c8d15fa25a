package pathtest

import (
	"testing"

	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
)

// generated is a world whose eth0 receives frames forever (mem driver
// generator) to destinations behind h2, and whose eth1 only counts what it
// sends.
func generated(t testing.TB) *world {
	w := newWorld(t, 4096, false)
	var frames [][]byte
	for i := 0; i < 16; i++ {
		ip := gt.IPv4(gt.IP("10.1.0.1"), gt.IP("192.0.2.0")+uint32(i), 64, hdr.ProtoUDP, gt.UDP(4000, 5000, gt.Bytes(18+i*50)))
		frames = append(frames, gt.Ether(r2MAC0, h1MAC, hdr.EtherTypeIPv4, ip))
	}
	w.drv0.Generate(frames)
	w.drv1.Capture(false)
	return w
}

// TestZeroAllocs: in steady state a Run of the whole IPv4 path (Rx,
// decap, parse, lookup, encap, Tx) allocates nothing.
func TestZeroAllocs(t *testing.T) {
	w := generated(t)
	for i := 0; i < 10; i++ {
		w.h.Run()
	}
	before := w.drv1.Stats().TxPkts
	if a := testing.AllocsPerRun(200, func() { w.h.Run() }); a != 0 {
		t.Errorf("%v allocations per Run, want 0", a)
	}
	sent := w.drv1.Stats().TxPkts - before
	// Each Run receives a full EtherDecap vector (256 frames), less the
	// 32 eth0 leaves eth1 in the runs where it receives first.
	if sent < 200*(256-32) {
		t.Errorf("only %d packets forwarded in 201 runs", sent)
	}
	// Nothing dropped or diverted on the way.
	rx := w.h.Counter("IfNode:eth0/rx")
	w.h.ExpectCountersPrefix(map[string]uint64{"L3Parse/enq": rx, "EncapMux/enq": rx}, "L3Parse/", "IPv4Local/", "EncapMux/", "Drop/")
	if w.h.Counter("IPv4Fwd/forwarded") != rx || w.h.Counter("IfNode:eth1/tx") == 0 {
		t.Errorf("counters: %s", counterDump(w))
	}
	w.close()
}

// BenchmarkForwardPath measures one thread forwarding 256-packet vectors
// through the whole IPv4 path.
func BenchmarkForwardPath(b *testing.B) {
	w := generated(b)
	for i := 0; i < 10; i++ {
		w.h.Run()
	}
	before := w.drv1.Stats().TxPkts
	b.ReportAllocs()
	for b.Loop() {
		w.h.Run()
	}
	pkts := w.drv1.Stats().TxPkts - before
	b.ReportMetric(float64(pkts)/b.Elapsed().Seconds(), "pkts/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(pkts), "ns/pkt")
	w.close()
}
