package ifnode_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/r2go/r2/counters"
	ifnode "github.com/r2go/r2/gnodes/interface"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/driver/mem"
	"github.com/r2go/r2/r2/graph"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/packet"
)

const (
	iname = "IfNode:eth0"
	dname = "EtherDecap:eth0"
)

// waker counts Wake calls.
type waker struct{ n int }

func (w *waker) Wake() { w.n++ }

func newDriver(t *testing.T, depth int) *mem.Driver {
	t.Helper()
	d, err := mem.New("eth0", depth)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func frame(i int) []byte {
	b := make([]byte, 60+i%40)
	copy(b, fmt.Sprintf("frame %d", i))
	return b
}

func TestRx(t *testing.T) {
	h := gt.New(t, gt.Options{})
	drv := newDriver(t, 64)
	gt.Add(h, ifnode.New(7, "eth0", 0, drv, nil))
	dec := h.Sink(dname)
	var want [][]byte
	total := 0
	for i := 0; i < 10; i++ {
		want = append(want, frame(i))
		total += len(frame(i))
		if !drv.Inject(frame(i)) {
			t.Fatal("inject")
		}
	}
	h.RunUntilIdle()
	got := dec.Datas()
	if len(got) != len(want) {
		t.Fatalf("EtherDecap got %d frames, want %d", len(got), len(want))
	}
	for i, p := range dec.Take() {
		if !bytes.Equal(got[i], want[i]) || p.InIfindex != 7 || p.L2 != p.Head() || p.Head() != packet.Headroom {
			t.Errorf("frame %d: %q InIfindex %d L2 %d head %d", i, got[i], p.InIfindex, p.L2, p.Head())
		}
		h.Free(p)
	}
	h.ExpectCounters(map[string]uint64{iname + "/rx": 10, iname + "/rx#bytes": uint64(total), dname + "/enq": 10})
	h.Done()
}

func TestTx(t *testing.T) {
	h := gt.New(t, gt.Options{})
	drv := newDriver(t, 8)
	w := &waker{}
	gt.Add(h, ifnode.New(7, "eth0", 0, drv, w))
	h.Sink(dname)
	var want [][]byte
	total := 0
	for i := 0; i < 20; i++ {
		want = append(want, frame(i))
		total += len(frame(i))
		h.Inject(iname, h.Frame(frame(i)))
	}
	h.RunUntilIdle()
	got := drv.Frames()
	if len(got) != len(want) {
		t.Fatalf("driver sent %d frames, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("frame %d: %q", i, got[i])
		}
	}
	if w.n != 0 {
		t.Errorf("owner woke itself %d times", w.n)
	}
	h.ExpectCounters(map[string]uint64{iname + "/enq": 20, iname + "/tx": 20, iname + "/tx#bytes": uint64(total)})
	h.Done()
}

// threads makes the harnesses of two threads sharing a registry, and the
// IfNode of eth0 (owned by thread 0) cloned into both.
func threads(t *testing.T, drv *mem.Driver, w *waker, poolSize int) (h0, h1 *gt.Harness, n0, n1 *ifnode.Node) {
	reg, err := counters.NewMem(counters.Sizes{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	h0 = gt.New(t, gt.Options{Thread: 0, Registry: reg, PoolSize: poolSize})
	h1 = gt.New(t, gt.Options{Thread: 1, Registry: reg, PoolSize: poolSize})
	var base *ifnode.Node
	if drv != nil { // a nil *mem.Driver would be a non-nil driver.Driver

		base = ifnode.New(7, "eth0", 0, drv, w)
	} else {
		base = ifnode.New(7, "eth0", 0, nil, w)
	}
	n0 = gt.Add(h0, base)
	n1 = gt.Add(h1, base)
	h0.Sink(dname)
	h1.Sink(dname)
	return
}

// TestHandoff: on a thread that does not own the interface, Tx goes to the
// owner through the ring and wakes it; the owner transmits it and the
// packets go back to the other thread's pool.
func TestHandoff(t *testing.T) {
	drv := newDriver(t, 8)
	w := &waker{}
	h0, h1, n0, n1 := threads(t, drv, w, 64)
	for i := 0; i < 3; i++ {
		h1.Inject(iname, h1.Frame(frame(i)))
	}
	h1.RunUntilIdle()
	if w.n != 1 {
		t.Errorf("woke the owner %d times, want 1", w.n)
	}
	if n1.Pending() || !n0.Pending() {
		t.Errorf("Pending: owner %v, other %v", n0.Pending(), n1.Pending())
	}
	if f := drv.Frames(); len(f) != 0 {
		t.Fatalf("non-owner transmitted %d frames itself", len(f))
	}
	// The owner's graph has no packets in any vector, but Pending (through
	// the node) keeps its thread awake.
	if !h0.G.Pending() {
		t.Error("owner graph not pending with packets in the ring")
	}
	h0.RunUntilIdle()
	got := drv.Frames()
	if len(got) != 3 || !bytes.Equal(got[2], frame(2)) {
		t.Fatalf("owner sent %d frames", len(got))
	}
	if n0.Pending() {
		t.Error("owner still pending")
	}
	h0.ExpectCounters(map[string]uint64{iname + "/tx": 3, iname + "/tx#bytes": uint64(len(frame(0)) + len(frame(1)) + len(frame(2)))})
	h1.ExpectCounters(map[string]uint64{iname + "/enq": 3, iname + "/handoff": 3})
	h0.Done()
	h1.Done() // the owner freed thread 1's packets: they came back to its pool
}

// TestHandoffFull: when the ring is full the packets are dropped and
// counted; the owner drains the ring over several runs, asking for more.
func TestHandoffFull(t *testing.T) {
	drv := newDriver(t, 8)
	drv.Capture(false)
	w := &waker{}
	h0, h1, n0, _ := threads(t, drv, w, ifnode.HandoffSize+64)
	// One run moves a vector (IfVecSize) into the ring.
	for run := 0; run < 3; run++ {
		k := graph.IfVecSize
		if run == 2 {
			k = 10
		}
		for i := 0; i < k; i++ {
			h1.Inject(iname, h1.Frame(frame(i)))
		}
		h1.RunUntilIdle()
	}
	if w.n != 2 {
		t.Errorf("woke the owner %d times, want 2 (the third run handed nothing over)", w.n)
	}
	h1.ExpectCounters(map[string]uint64{iname + "/enq": ifnode.HandoffSize + 10, iname + "/handoff": ifnode.HandoffSize,
		iname + "/handoff_full": 10})
	if work, _ := h0.Run(); !work || !n0.Pending() {
		t.Error("owner did not ask for another run with the ring not drained")
	}
	h0.RunUntilIdle()
	if st := drv.Stats(); st.TxPkts != ifnode.HandoffSize {
		t.Errorf("owner sent %d, want %d", st.TxPkts, ifnode.HandoffSize)
	}
	h0.Done()
	h1.Done()
}

// TestRxThrottle: Rx takes no more than EtherDecap has room for; with no
// room it leaves the frames in the driver and counts the run.
func TestRxThrottle(t *testing.T) {
	h := gt.New(t, gt.Options{})
	drv := newDriver(t, 64)
	n := gt.Add(h, ifnode.New(7, "eth0", 0, drv, nil))
	dec := h.SinkSize(dname, 8)
	dec.Paused = true
	for i := 0; i < 20; i++ {
		drv.Inject(frame(i))
	}
	if work, _ := h.Run(); !work {
		t.Error("Run reported no work with a full batch received")
	}
	if work, _ := h.Run(); !work {
		t.Error("Run reported no work while throttled")
	}
	if st := drv.Stats(); st.RxPkts != 8 || !n.Pending() {
		t.Errorf("driver delivered %d frames, want 8; pending %v", st.RxPkts, n.Pending())
	}
	h.ExpectCounters(map[string]uint64{iname + "/rx": 8, iname + "/rx#bytes": rxBytes(0, 8), dname + "/enq": 8, iname + "/rx_throttled": 1})
	dec.Paused = false
	h.RunUntilIdle()
	got := dec.Datas()
	if len(got) != 20 || !bytes.Equal(got[19], frame(19)) {
		t.Fatalf("EtherDecap got %d frames", len(got))
	}
	if h.Counter(iname+"/rx") != 20 || h.Counter(dname+"/vec_full") != 0 {
		t.Errorf("rx %d, vec_full %d", h.Counter(iname+"/rx"), h.Counter(dname+"/vec_full"))
	}
	h.Done()
}

func rxBytes(from, to int) uint64 {
	n := 0
	for i := from; i < to; i++ {
		n += len(frame(i))
	}
	return uint64(n)
}

func TestNoDriver(t *testing.T) {
	h := gt.New(t, gt.Options{})
	n := gt.Add(h, ifnode.New(7, "eth0", 0, nil, nil))
	h.Sink(dname)
	h.Inject(iname, h.Frame(frame(0)), h.Frame(frame(1)))
	h.RunUntilIdle()
	if n.Pending() || n.PollFd() != -1 {
		t.Errorf("Pending %v PollFd %d", n.Pending(), n.PollFd())
	}
	h.ExpectCounters(map[string]uint64{iname + "/enq": 2, iname + "/no_driver": 2})
	h.Done()
}

// TestNoDriverHandoff: packets other threads hand to an owner that has no
// driver must be dropped like its own, not left in the ring (where they
// keep the owner's Pending true, so its thread never sleeps, and fill the
// ring).
func TestNoDriverHandoff(t *testing.T) {
	w := &waker{}
	h0, h1, n0, _ := threads(t, nil, w, 64)
	h1.Inject(iname, h1.Frame(frame(0)))
	h1.RunUntilIdle()
	h0.RunUntilIdle()
	if n0.Pending() {
		t.Error("owner without a driver still pending after its run")
	}
	h0.ExpectCounters(map[string]uint64{iname + "/no_driver": 1})
	h0.Done()
	h1.Done()
}

// TestRemovedFreesHandoff: removing the owner's node frees what waits in
// the ring (the packets go back to their own pool).
func TestRemovedFreesHandoff(t *testing.T) {
	drv := newDriver(t, 8)
	h0, h1, _, _ := threads(t, drv, &waker{}, 64)
	h1.Inject(iname, h1.Frame(frame(0)), h1.Frame(frame(1)))
	h1.RunUntilIdle()
	h0.G.Remove(iname)
	h1.G.Remove(iname)
	h0.Done()
	h1.Done()
	if f := drv.Frames(); len(f) != 0 {
		t.Errorf("%d frames sent", len(f))
	}
}

// shedDriver is a mem driver that records Shed calls, reports shedding
// a fixed number of frames, signals of them as TCP signals (as
// FlowMeter.Sheddable counts them), and says its head frame arrived at
// head.
type shedDriver struct {
	*mem.Driver
	calls   int
	cutoffs []int64
	ret     int
	signals uint64
	head    int64
}

func (d *shedDriver) Shed(cutoff int64, max int, m *driver.FlowMeter) int {
	d.calls++
	d.cutoffs = append(d.cutoffs, cutoff)
	m.Signals += d.signals
	return d.ret
}

func (d *shedDriver) HeadTime() (int64, bool) { return d.head, d.Pending() }

// setShed sets ShedTarget and ShedInterval for one test.
func setShed(t *testing.T, target, interval time.Duration) {
	t.Helper()
	ifnode.ShedTarget, ifnode.ShedInterval = target, interval
	t.Cleanup(func() { ifnode.ShedTarget, ifnode.ShedInterval = ifnode.DefaultShedTarget, ifnode.DefaultShedInterval })
}

// TestRxShed checks that the queue head is shed only while the interface
// is backlogged (the last Recv filled its batch) and the queue stands
// (its head older than ShedTarget for ShedInterval), with a cutoff
// ShedTarget in the past, and that shed frames are counted.
func TestRxShed(t *testing.T) {
	const interval = 20 * time.Millisecond
	setShed(t, time.Millisecond, interval)
	h := gt.New(t, gt.Options{})
	drv := &shedDriver{Driver: newDriver(t, 64), ret: 5, signals: 2, head: time.Now().Add(-time.Hour).UnixNano()}
	gt.Add(h, ifnode.New(7, "eth0", 0, drv, nil))
	dec := h.SinkSize(dname, 8)
	drv.Inject(frame(0))
	h.Run()
	if drv.calls != 0 {
		t.Fatalf("Shed called %d times without a backlog", drv.calls)
	}
	for i := 1; i < 60; i++ {
		drv.Inject(frame(i))
	}
	take := func() {
		for _, p := range dec.Take() {
			h.Free(p)
		}
	}
	h.Run() // takes what fits (7 of 59): backlogged; the old head starts the interval
	take()
	h.Run()
	take()
	if drv.calls != 0 {
		t.Fatalf("Shed called %d times before the queue stood for ShedInterval", drv.calls)
	}
	time.Sleep(interval)
	before := time.Now().UnixNano()
	h.Run()
	after := time.Now().UnixNano()
	take()
	if drv.calls != 1 {
		t.Fatalf("Shed called %d times after the queue stood for ShedInterval, want 1", drv.calls)
	}
	target := int64(time.Millisecond)
	if c := drv.cutoffs[0]; c < before-target || c > after-target {
		t.Errorf("cutoff %d not ShedTarget before the run [%d, %d]", c, before-target, after-target)
	}
	if got := h.Counter(iname + "/rx_shed"); got != 5 {
		t.Errorf("rx_shed = %d, want 5", got)
	}
	h.Run() // still standing: sheds again at once
	take()
	if drv.calls != 2 {
		t.Fatalf("Shed called %d times on the next run of a standing queue, want 2", drv.calls)
	}
	if got := h.Counter(iname + "/rx_shed_episodes"); got != 1 {
		t.Errorf("rx_shed_episodes = %d after two sheds of one standing queue, want 1", got)
	}
	if got := h.Counter(iname + "/rx_shed_tcp_signals"); got != 4 {
		t.Errorf("rx_shed_tcp_signals = %d, want 4 (2 in each Shed)", got)
	}

	// Once the queue has emptied it must stand for a whole interval again.
	for drv.Pending() {
		h.Run()
		take()
	}
	h.Run()
	calls := drv.calls
	for i := range 40 {
		drv.Inject(frame(i))
	}
	h.Run()
	take()
	h.Run()
	take()
	if drv.calls != calls {
		t.Errorf("Shed called %d times after the queue emptied, before ShedInterval", drv.calls-calls)
	}
	time.Sleep(interval)
	h.Run()
	take()
	if drv.calls != calls+1 {
		t.Errorf("Shed called %d times once the queue stood again, want 1", drv.calls-calls)
	}
	if got := h.Counter(iname + "/rx_shed_episodes"); got != 2 {
		t.Errorf("rx_shed_episodes = %d after the queue stood again, want 2", got)
	}
	h.RunUntilIdle()
	take()
	h.Done()
}

// TestRxShedBurst checks that a queue whose head is young is not shed,
// however long it stays backlogged.
func TestRxShedBurst(t *testing.T) {
	setShed(t, time.Hour, 0)
	h := gt.New(t, gt.Options{})
	drv := &shedDriver{Driver: newDriver(t, 64), ret: 5, head: time.Now().UnixNano()}
	gt.Add(h, ifnode.New(7, "eth0", 0, drv, nil))
	dec := h.SinkSize(dname, 8)
	for i := range 60 {
		drv.Inject(frame(i))
	}
	for drv.Pending() {
		h.Run()
		for _, p := range dec.Take() {
			h.Free(p)
		}
	}
	if drv.calls != 0 {
		t.Errorf("Shed called %d times with the head younger than ShedTarget", drv.calls)
	}
	h.RunUntilIdle()
	h.Done()
}

// TestRxShedOff checks that a zero ShedTarget never sheds.
func TestRxShedOff(t *testing.T) {
	setShed(t, 0, 0)
	h := gt.New(t, gt.Options{})
	drv := &shedDriver{Driver: newDriver(t, 64), ret: 5}
	gt.Add(h, ifnode.New(7, "eth0", 0, drv, nil))
	dec := h.SinkSize(dname, 8)
	for i := range 40 {
		drv.Inject(frame(i))
	}
	for range 10 {
		h.Run()
		for _, p := range dec.Take() {
			h.Free(p)
		}
	}
	if drv.calls != 0 {
		t.Errorf("Shed called %d times with ShedTarget 0", drv.calls)
	}
	h.Done()
}

// TestGroup: an interface served by threads 0 and 1 through a
// driver.Group. Each thread receives from and transmits on its own
// driver, with no handoff; a third thread that does not serve hands its Tx
// to the owner (thread 0).
func TestGroup(t *testing.T) {
	d0, d1 := newDriver(t, 64), newDriver(t, 64)
	g, err := driver.NewGroup([]driver.Driver{d0, d1})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := counters.NewMem(counters.Sizes{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	w := &waker{}
	base := ifnode.New(7, "eth0", g.First(), g, w)
	var hs [3]*gt.Harness
	var ns [3]*ifnode.Node
	var sinks [3]*gt.Sink
	for i := range hs {
		hs[i] = gt.New(t, gt.Options{Thread: i, Registry: reg, PoolSize: 64})
		ns[i] = gt.Add(hs[i], base)
		sinks[i] = hs[i].Sink(dname)
	}
	for i, want := range []int{0, 1, 0} {
		if got := ns[i].Owner(); got != want {
			t.Errorf("thread %d clone: Owner() = %d, want %d", i, got, want)
		}
	}
	if ns[1].PollFd() != d1.Fd() || ns[0].PollFd() != d0.Fd() || ns[2].PollFd() != -1 {
		t.Errorf("PollFd: %d %d %d, want %d %d -1", ns[0].PollFd(), ns[1].PollFd(), ns[2].PollFd(), d0.Fd(), d1.Fd())
	}

	// Rx: each thread takes its own driver's frames.
	d0.Inject(frame(0))
	d1.Inject(frame(1))
	d1.Inject(frame(2))
	for i, want := range []int{1, 2, 0} {
		hs[i].RunUntilIdle()
		if got := hs[i].Counter(iname + "/rx"); got != uint64(want) {
			t.Errorf("thread %d: rx %d, want %d", i, got, want)
		}
		for _, p := range sinks[i].Take() {
			hs[i].Free(p)
		}
	}

	// Tx: threads 0 and 1 send on their own drivers; thread 2 hands off.
	hs[1].Inject(iname, hs[1].Frame(frame(10)))
	hs[1].RunUntilIdle()
	if f := d1.Frames(); len(f) != 1 || !bytes.Equal(f[0], frame(10)) || len(d0.Frames()) != 0 || w.n != 0 {
		t.Errorf("thread 1 Tx: d1 %d frames, d0 %d, wakes %d; want 1, 0, 0", len(f), len(d0.Frames()), w.n)
	}
	hs[2].Inject(iname, hs[2].Frame(frame(20)))
	hs[2].RunUntilIdle()
	if w.n != 1 || !ns[0].Pending() || ns[1].Pending() {
		t.Errorf("thread 2 Tx: wakes %d, owner pending %v, thread 1 pending %v", w.n, ns[0].Pending(), ns[1].Pending())
	}
	hs[1].RunUntilIdle() // not the owner: leaves the handoff ring alone
	hs[0].RunUntilIdle()
	if f, f1 := d0.Frames(), d1.Frames(); len(f) != 1 || !bytes.Equal(f[0], frame(20)) || len(f1) != 0 {
		t.Errorf("handed-off Tx: d0 %d frames, d1 %d more; want 1, 0", len(f), len(f1))
	}
	hs[2].ExpectCounters(map[string]uint64{iname + "/enq": 1, iname + "/handoff": 1})
	for _, h := range hs {
		h.Done()
	}
}
