package mem

import (
	"sync"
	"sync/atomic"

	"github.com/r2go/r2/r2/packet"
	"github.com/r2go/r2/r2/ring"
)

// Driver is an in-memory interface. Recv, Send and Pending are for the owner
// thread; the other methods are safe from any goroutine.
type Driver struct {
	name string
	efd  int
	rx   *ring.MPSC[[]byte]
	// efdBuf receives the eventfd's count in Recv: a local array would
	// escape to the heap through the read (with -race), one allocation a
	// call.
	efdBuf [8]byte

	// gen, when set, makes Recv produce copies of these frames in turn.
	gen    [][]byte
	genPos int

	mu       sync.Mutex
	frames   [][]byte // captured Tx frames, when capturing
	capture  bool
	txPkts   atomic.Uint64
	txBytes  atomic.Uint64
	rxPkts   atomic.Uint64
	rxDrops  atomic.Uint64 // injected frames that did not fit the ring
	noBuf    atomic.Uint64
	onTx     func([]byte)
	maxFrame int
}

// New makes a driver whose Rx queue holds up to depth injected frames and
// which captures transmitted frames for Frames.
func New(name string, depth int) (*Driver, error) {
	efd, err := newEventfd()
	if err != nil {
		return nil, err
	}
	return &Driver{name: name, efd: efd, rx: ring.NewMPSC[[]byte](depth), capture: true, maxFrame: packet.MaxData}, nil
}

// Name is the interface name given to New.
func (d *Driver) Name() string { return d.name }

// Kind is "mem".
func (d *Driver) Kind() string { return "mem" }

// Fd is an eventfd that is readable while injected frames wait.
func (d *Driver) Fd() int { return d.efd }

// Inject queues a copy of frame for Recv. It reports false when the queue is
// full (counted).
func (d *Driver) Inject(frame []byte) bool {
	if !d.rx.Enqueue(append([]byte(nil), frame...)) {
		d.rxDrops.Add(1)
		return false
	}
	signal(d.efd)
	return true
}

// Generate makes Recv return copies of frames in turn, forever, instead of
// injected frames. Call before the owner thread starts receiving.
func (d *Driver) Generate(frames [][]byte) { d.gen = frames }

// Capture turns capturing of transmitted frames on or off (off: only count).
func (d *Driver) Capture(on bool) {
	d.mu.Lock()
	d.capture = on
	d.mu.Unlock()
}

// OnTx sets a function called with every transmitted frame (on the owner
// thread; the slice is only valid during the call).
func (d *Driver) OnTx(f func([]byte)) { d.onTx = f }

// Recv implements driver.Driver.
func (d *Driver) Recv(pool *packet.Pool, pkts []*packet.Packet) int {
	if d.gen != nil {
		return d.recvGen(pool, pkts)
	}
	reset(d.efd, d.efdBuf[:]) // reset readiness before draining, see Inject
	n := 0
	for n < len(pkts) {
		if d.rx.Len() == 0 {
			break
		}
		p := pool.Get()
		if p == nil {
			d.noBuf.Add(1)
			break
		}
		f, ok := d.rx.Dequeue()
		if !ok {
			pool.Free(p)
			break
		}
		if !p.SetData(f) {
			pool.Free(p)
			d.rxDrops.Add(1)
			continue
		}
		pkts[n] = p
		n++
	}
	d.rxPkts.Add(uint64(n))
	return n
}

func (d *Driver) recvGen(pool *packet.Pool, pkts []*packet.Packet) int {
	n := 0
	for n < len(pkts) {
		p := pool.Get()
		if p == nil {
			break
		}
		p.SetData(d.gen[d.genPos])
		d.genPos++
		if d.genPos == len(d.gen) {
			d.genPos = 0
		}
		pkts[n] = p
		n++
	}
	return n
}

// Send implements driver.Driver.
func (d *Driver) Send(pool *packet.Pool, pkts []*packet.Packet) int {
	var bytes uint64
	capture := false
	if d.gen == nil { // benchmarks never capture: it would allocate
		d.mu.Lock()
		capture = d.capture
		d.mu.Unlock()
	}
	for _, p := range pkts {
		bytes += uint64(p.Len())
		if d.onTx != nil {
			d.onTx(p.Data())
		}
		if capture {
			f := append([]byte(nil), p.Data()...)
			d.mu.Lock()
			d.frames = append(d.frames, f)
			d.mu.Unlock()
		}
		pool.Free(p)
	}
	d.txPkts.Add(uint64(len(pkts)))
	d.txBytes.Add(bytes)
	return len(pkts)
}

// Pending implements driver.Driver.
func (d *Driver) Pending() bool { return d.gen != nil || d.rx.Len() > 0 }

// Frames returns and forgets the captured Tx frames.
func (d *Driver) Frames() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.frames
	d.frames = nil
	return f
}

// Stats are the driver's totals.
type Stats struct{ RxPkts, RxDrops, RxNoBuf, TxPkts, TxBytes uint64 }

// Stats reads the totals.
func (d *Driver) Stats() Stats {
	return Stats{RxPkts: d.rxPkts.Load(), RxDrops: d.rxDrops.Load(), RxNoBuf: d.noBuf.Load(), TxPkts: d.txPkts.Load(), TxBytes: d.txBytes.Load()}
}

// Close implements driver.Driver; queued frames are discarded.
func (d *Driver) Close() error {
	for {
		if _, ok := d.rx.Dequeue(); !ok {
			break
		}
	}
	return closeFd(d.efd)
}
