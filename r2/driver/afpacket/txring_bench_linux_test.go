//go:build linux

package afpacket

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/driver/vnet"
	"github.com/r2go/r2/r2/internal/nstest"
	"github.com/r2go/r2/r2/packet"
)

// txRing is a PACKET_TX_RING socket of the benchmarks below (TPACKET_V2,
// qdisc bypassed, with or without vnet headers, as the driver's sockets):
// tpacket_snd builds an skb whose fragments point at the slot's pages
// beyond the headers, so the kernel copies only the headers. Not used by
// the driver: see BenchmarkSendLong and BenchmarkSendShort.
type txRing struct {
	fd        int
	mem       []byte
	frameSize int
	frames    int
	cur       int
	vnet      bool
}

// txData is where a V2 Tx slot's data starts without PACKET_TX_HAS_OFF:
// TPACKET2_HDRLEN less the sockaddr_ll (the virtio_net_hdr comes first).
const txData = 32

// openTxRing opens a txRing of frames slots of frameSize bytes on end B of
// v.
func openTxRing(tb testing.TB, v *vethPair, frames, frameSize int, vnetHdr bool) *txRing {
	r := &txRing{frameSize: frameSize, frames: frames, vnet: vnetHdr}
	err := nstest.InNS(v.B, func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		r.fd = fd
		opts := []struct{ opt, v int }{{unix.PACKET_VERSION, unix.TPACKET_V2}, {unix.PACKET_QDISC_BYPASS, 1}}
		if r.vnet {
			opts = append(opts, struct{ opt, v int }{unix.PACKET_VNET_HDR, 1})
		}
		for _, o := range opts {
			if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, o.opt, o.v); err != nil {
				return err
			}
		}
		block := max(r.frameSize, os.Getpagesize()) // a block is at least a page
		req := unix.TpacketReq{Block_size: uint32(block), Block_nr: uint32(frames * r.frameSize / block), Frame_size: uint32(r.frameSize), Frame_nr: uint32(frames)}
		if err := unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, unix.PACKET_TX_RING, &req); err != nil {
			return fmt.Errorf("PACKET_TX_RING: %w", err)
		}
		if r.mem, err = unix.Mmap(fd, 0, frames*r.frameSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: v.IdxB})
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { unix.Munmap(r.mem); unix.Close(r.fd) })
	return r
}

// put copies p (with its vnet header) into the next slot and marks it for
// sending; false if the slot is still the kernel's.
func (r *txRing) put(p *packet.Packet) bool {
	slot := r.mem[r.cur*r.frameSize : (r.cur+1)*r.frameSize]
	st := (*uint32)(unsafe.Pointer(&slot[0]))
	if atomic.LoadUint32(st) != unix.TP_STATUS_AVAILABLE {
		return false
	}
	if r.vnet {
		frame := p.Head()
		v := p.Push(vnetHdrLen)
		vnet.Put(v, p, frame)
	}
	n := copy(slot[txData:], p.Data())
	h := (*unix.Tpacket2Hdr)(unsafe.Pointer(&slot[0]))
	h.Len = uint32(n)
	atomic.StoreUint32(st, unix.TP_STATUS_SEND_REQUEST)
	r.cur = (r.cur + 1) % r.frames
	return true
}

// kick has the kernel send every slot marked.
func (r *txRing) kick() error {
	_, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(r.fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
	if errno != 0 && errno != unix.EAGAIN {
		return errno
	}
	return nil
}

// benchDriverSend sends b.N frames made by fill through d, batch at a
// time, freeing them to pool, and reports the CPU time a frame.
func benchDriverSend(b *testing.B, d *Driver, pool *packet.Pool, batch int, fill func() *packet.Packet) {
	pkts := make([]*packet.Packet, batch)
	b.ReportAllocs()
	cpu0 := cpuTime()
	for sent := 0; sent < b.N; {
		n := min(batch, b.N-sent)
		for i := range n {
			pkts[i] = fill()
		}
		d.Send(pool, pkts[:n])
		sent += n
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/frame")
}

// benchRingSend is benchDriverSend through r: it fills up to batch slots,
// as many as are free, and kicks.
func benchRingSend(b *testing.B, r *txRing, pool *packet.Pool, batch int, fill func() *packet.Packet) {
	b.ReportAllocs()
	cpu0 := cpuTime()
	start := time.Now()
	for sent := 0; sent < b.N; {
		n := 0
		for ; n < batch && sent+n < b.N; n++ {
			p := fill()
			ok := r.put(p)
			pool.Free(p)
			if !ok {
				break
			}
		}
		sent += n
		if err := r.kick(); err != nil {
			b.Fatal(err)
		}
		if n == 0 && time.Since(start) > 30*time.Second {
			b.Fatal("Tx ring stalled")
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/frame")
}

// BenchmarkSendLong measures the transmission of 64 KiB TCP super-frames
// (MSS 1448) on a veth, CPU time per frame, by the driver's Send (sendmmsg:
// the kernel copies the frame into a new skb) and by a PACKET_TX_RING
// (R2 copies the frame from its packet into the ring slot; the kernel
// points the skb at the slot's pages). Both fill a packet first, as a
// receive would have. The frames die in the peer namespace (no route).
func BenchmarkSendLong(b *testing.B) {
	v := newVethPair(b, 1500)
	const batch = 32
	frame, gso := tcpSuper(v.MACA, v.MACB, 64<<10-100, packet.Headroom)
	pool := packet.NewPool(0, 4)
	pool.SetBig(packet.NewBigPool(0, batch))
	fill := func() *packet.Packet {
		p := pool.Big().Get()
		p.SetData(frame)
		p.GSO = gso
		return p
	}
	b.Run("tx=sendmmsg", func(b *testing.B) {
		d := v.openDriverB(b, Config{})
		benchDriverSend(b, d, pool, batch, fill)
		if e := d.Counters().TxErrors.Value(); e != 0 {
			b.Logf("%d tx errors (device busy)", e)
		}
	})
	b.Run("tx=ring", func(b *testing.B) {
		benchRingSend(b, openTxRing(b, v, 256, 17<<12, true), pool, batch, fill)
	})
}

// BenchmarkSendShort is BenchmarkSendLong for plain 64 and 1514-byte
// frames, through the driver's bare socket (sendmmsg) and through a
// PACKET_TX_RING of 2 KiB slots without vnet headers, batches of 64: is
// the per-message work of sendmmsg worth a ring? Measured 2026-12-05: no,
// the ring costs 13-15% more CPU a frame (64 B: 635 against 560 ns; 1514
// B: 702 against 616).
func BenchmarkSendShort(b *testing.B) {
	v := newVethPair(b, 1500)
	const batch = 64
	pool := packet.NewPool(0, batch)
	for _, size := range []int{64, 1514} {
		frame := nstest.Frame(v.MACA, v.MACB, 1, size)
		fill := func() *packet.Packet {
			p := pool.Get()
			p.SetData(frame)
			return p
		}
		b.Run(fmt.Sprintf("size=%d,tx=sendmmsg", size), func(b *testing.B) {
			d := v.openDriverB(b, Config{})
			benchDriverSend(b, d, pool, batch, fill)
			if e := d.Counters().TxErrors.Value(); e != 0 {
				b.Errorf("%d frames refused", e)
			}
		})
		b.Run(fmt.Sprintf("size=%d,tx=ring", size), func(b *testing.B) {
			benchRingSend(b, openTxRing(b, v, 1024, 2048, false), pool, batch, fill)
		})
	}
}
