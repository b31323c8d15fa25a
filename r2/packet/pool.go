package packet

import (
	"fmt"

	"github.com/r2go/r2/r2/ring"
)

// Pool is a fixed set of packets owned by one forwarding thread. Get and Free
// are for the owner thread only; packets of this pool freed by other threads
// come back through Return, which is safe from any goroutine.
type Pool struct {
	owner int
	mem   []byte // the buffers, packet i at i*BufSize
	pkts  []Packet
	// free is a stack of packets ready for Get, used by the owner only.
	free []*Packet
	// ret carries packets freed by other threads back to the owner. It holds
	// the whole pool, so Return never finds it full.
	ret *ring.MPSC[*Packet]
	// big is the owner's pool of big packets (SetBig), or nil.
	big *Pool

	gets, allocFails, frees, reclaimed, doubleFrees uint64
}

// NewPool makes a pool of n packets for thread owner, all allocated now.
func NewPool(owner, n int) *Pool {
	if n <= 0 {
		panic(fmt.Sprintf("packet: pool size %d", n))
	}
	mem := make([]byte, n*BufSize)
	p := newPool(owner, n, func(i int) []byte { return mem[i*BufSize : (i+1)*BufSize : (i+1)*BufSize] })
	p.mem = mem
	return p
}

// NewBigPool makes a pool of n big packets (BigBufSize bytes each) for
// thread owner, to be the companion of its normal pool (SetBig). The
// memory is allocated now but, being fresh zero pages, only takes room as
// super-frames first touch it.
func NewBigPool(owner, n int) *Pool {
	if n <= 0 {
		panic(fmt.Sprintf("packet: pool size %d", n))
	}
	mem := make([]byte, n*BigBufSize)
	p := newPool(owner, n, func(i int) []byte { return mem[i*BigBufSize : (i+1)*BigBufSize : (i+1)*BigBufSize] })
	p.mem = mem
	return p
}

// SetBig gives p a companion pool of big packets of the same owner: Big
// returns it, and p.Free takes its packets back to it directly.
func (p *Pool) SetBig(big *Pool) {
	if big != nil && big.owner != p.owner {
		panic(fmt.Sprintf("packet: big pool of thread %d for thread %d", big.owner, p.owner))
	}
	p.big = big
}

// Big is p's companion pool of big packets, or nil.
func (p *Pool) Big() *Pool { return p.big }

// NewPoolOn makes a pool whose buffers are the n consecutive BufSize frames
// of mem, e.g. an AF_XDP UMEM, so a received frame becomes a packet without a
// copy. Packet i's buffer starts at byte i*BufSize of mem.
func NewPoolOn(owner int, mem []byte) *Pool {
	n := len(mem) / BufSize
	if n <= 0 {
		panic(fmt.Sprintf("packet: pool memory of %d bytes", len(mem)))
	}
	p := newPool(owner, n, func(i int) []byte { return mem[i*BufSize : (i+1)*BufSize : (i+1)*BufSize] })
	p.mem = mem[:n*BufSize]
	return p
}

// Mem is the memory holding the pool's buffers (packet i at i*BufSize), for
// drivers that register it with the kernel, like an AF_XDP UMEM.
func (p *Pool) Mem() []byte { return p.mem }

// Packet returns packet number i of the pool (an AF_XDP frame index).
func (p *Pool) Packet(i uint32) *Packet { return &p.pkts[i] }

func newPool(owner, n int, buf func(int) []byte) *Pool {
	p := &Pool{
		owner: owner,
		pkts:  make([]Packet, n),
		free:  make([]*Packet, 0, n),
		ret:   ring.NewMPSC[*Packet](n),
	}
	for i := n - 1; i >= 0; i-- {
		pk := &p.pkts[i]
		pk.buf = buf(i)
		pk.pool = p
		pk.index = uint32(i)
		pk.free = true
		p.free = append(p.free, pk)
	}
	return p
}

// Owner is the forwarding thread that owns the pool.
func (p *Pool) Owner() int { return p.owner }

// Size is the number of packets in the pool.
func (p *Pool) Size() int { return len(p.pkts) }

// Get returns a clean packet, or nil if none is free. It never blocks.
func (p *Pool) Get() *Packet {
	if len(p.free) == 0 && p.Reclaim() == 0 {
		p.allocFails++
		return nil
	}
	pk := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	pk.free = false
	pk.reset()
	p.gets++
	return pk
}

// Free gives pk back. Called on p's owner thread; pk may belong to another
// pool, in which case it travels back to its owner.
func (p *Pool) Free(pk *Packet) {
	if pk.pool != p {
		if pk.pool == p.big && p.big != nil {
			p.big.Free(pk)
			return
		}
		pk.Return()
		return
	}
	if pk.free {
		p.doubleFrees++
		return
	}
	pk.free = true
	p.frees++
	p.free = append(p.free, pk)
}

// Return sends pk back to its own pool from any goroutine.
func (pk *Packet) Return() {
	if pk.free {
		// A double free from a foreign thread cannot be counted without a
		// race on the owner's counter; dropping it on the floor is the safe
		// choice, the owner's accounting will show the imbalance.
		return
	}
	pk.free = true
	pk.pool.ret.Enqueue(pk) // cannot fail: the ring holds the whole pool
}

// Reclaim moves packets returned by other threads to the free stack and
// reports how many it moved. Owner thread only.
func (p *Pool) Reclaim() int {
	n := 0
	for {
		pk, ok := p.ret.Dequeue()
		if !ok {
			break
		}
		p.free = append(p.free, pk)
		n++
	}
	p.reclaimed += uint64(n)
	return n
}

// Stats is a pool's accounting. In a quiet pool, after Reclaim,
// Free+InReturn == Size and InFlight == 0; anything else is a leak.
type Stats struct {
	Size        int    // packets in the pool
	Free        int    // on the owner's free stack
	InReturn    int    // freed elsewhere, not yet reclaimed
	InFlight    int    // allocated and not freed
	Gets        uint64 // successful Gets
	AllocFails  uint64 // Gets that found the pool empty
	Frees       uint64 // frees on the owner thread
	Reclaimed   uint64 // returns from other threads taken back
	DoubleFrees uint64 // frees of a packet already free (a bug, counted)
}

// Stats reads the accounting. Owner thread only, or while the owner is
// stopped or synchronized with the caller.
func (p *Pool) Stats() Stats {
	s := Stats{
		Size:        len(p.pkts),
		Free:        len(p.free),
		InReturn:    p.ret.Len(),
		Gets:        p.gets,
		AllocFails:  p.allocFails,
		Frees:       p.frees,
		Reclaimed:   p.reclaimed,
		DoubleFrees: p.doubleFrees,
	}
	s.InFlight = s.Size - s.Free - s.InReturn
	return s
}

// FreeRing empties r, an MPSC ring of packets that other threads hand to
// this pool's thread, freeing every packet to pool (the owner thread, while
// it still runs the node that reads r).
func FreeRing(r *ring.MPSC[*Packet], pool *Pool) {
	for {
		p, ok := r.Dequeue()
		if !ok {
			return
		}
		pool.Free(p)
	}
}

// ReturnRing empties r, sending every packet back to its own pool: for the
// control side, once no thread reads r any more.
func ReturnRing(r *ring.MPSC[*Packet]) {
	for {
		p, ok := r.Dequeue()
		if !ok {
			return
		}
		p.Return()
	}
}
