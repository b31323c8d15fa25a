//go:build linux

package afxdp

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/packet"
)

// Multi-buffer frames (Linux 6.6+).
//
// A UMEM chunk holds at most FrameSize-256 = 1792 bytes of a received
// frame in copy mode. Longer frames (jumbo MTUs) arrive, when the socket
// is bound with XDP_USE_SG and the program is an xdp.frags one
// (BPF_F_XDP_HAS_FRAGS), as several Rx descriptors, all but the last with
// XDP_PKT_CONTD in their options. Recv copies them, in order, into a big
// packet of the owner thread's companion pool (packet.Pool.Big, the 68 KiB
// buffers AF_PACKET takes super-frames into) and gives the chunks straight
// back to the fill ring: the graph sees one contiguous frame, as from
// AF_PACKET. Send does the reverse for a frame that does not fit one
// chunk: it copies it into as many pool packets (whole 2 KiB chunks) and
// puts them on the Tx ring as one multi-descriptor frame, which the kernel
// sends as one skb (copy mode builds its page fragments). When the big
// pool is empty, Recv stops at the first descriptor of a multi-buffer
// frame and leaves it in the Rx ring (counted in RxNoBuf), as drivers do
// when the pool runs dry: the graph's Rx throttling, not a drop.
//
// Where the kernel refuses (no xdp.frags program, a bind with XDP_USE_SG
// failing, no big pool), the driver runs as before, frames that do not fit
// a chunk being dropped by the kernel (Stats.RxDropped); MultiBuffer says
// why, and the registered open logs it and counts it in drv_sg_off.

// maxTxFrags is how many descriptors one transmitted frame may use: the
// kernel's copy-mode Tx builds an skb of one linear part and up to
// MAX_SKB_FRAGS (17) page fragments, and refuses longer chains.
const maxTxFrags = 18

// maxSGMTU is the largest MTU with multi-buffer frames: a frame of
// MTU+18 bytes must fit maxTxFrags chunks on Tx (and a big packet on Rx).
const maxSGMTU = maxTxFrags*FrameSize - maxHeader

// multiBuf is a driver's multi-buffer state; owner thread only, except
// want, sg and why, which are set by Open.
type multiBuf struct {
	want bool   // asked for: a big pool exists and Config.NoMultiBuffer is unset
	sg   bool   // bound with XDP_USE_SG (by this socket, or the UMEM it shares)
	why  string // why the bind went without XDP_USE_SG
	big  *packet.Pool
	// cur is the big packet a frame is being assembled into; skip is
	// set while the rest of a dropped frame's descriptors go by.
	cur  *packet.Packet
	skip bool
	// rx counts frames received in several descriptors, tx frames sent
	// in several.
	rx, tx counters.Counter
}

// drop frees a frame being assembled (the driver is closing).
func (m *multiBuf) drop() {
	if m.cur != nil {
		m.cur.Return()
		m.cur = nil
	}
	m.skip = false
}

// abort drops the multi-buffer frame being assembled, if any, after a
// bad descriptor of it; with cont (more descriptors of the frame follow)
// they are skipped.
func (m *multiBuf) abort(cont bool) {
	if m.cur != nil {
		m.big.Free(m.cur)
		m.cur = nil
	}
	m.skip = cont
}

// Test hooks: make the kernel's refusals happen where it accepts.
var (
	refuseSG    bool // bindSG acts as if the bind with XDP_USE_SG failed
	refuseFrags bool // acquireProg acts as if the frags program failed to load
)

// bindSG binds the socket with XDP_USE_SG if multi-buffer is wanted (a
// shared socket inherits it from the UMEM), and without if the kernel
// refuses it, saying why in d.mb.why.
func (d *Driver) bindSG(fd int, sa *unix.SockaddrXDP) error {
	if !d.mb.want || sa.Flags&unix.XDP_SHARED_UMEM != 0 {
		return bind(fd, sa)
	}
	sa.Flags |= unix.XDP_USE_SG
	err := error(unix.EINVAL)
	if !refuseSG {
		err = bind(fd, sa)
	}
	if err == nil {
		d.mb.sg = true
		return nil
	}
	sa.Flags &^= unix.XDP_USE_SG
	if err == unix.EBUSY {
		return err // the queue is taken: nothing to do with XDP_USE_SG
	}
	if err2 := bind(fd, sa); err2 != nil {
		return err2
	}
	d.mb.why = fmt.Sprintf("bind with XDP_USE_SG refused: %v", err)
	return nil
}

// MultiBuffer reports whether frames longer than one UMEM chunk are
// received (an xdp.frags program and a socket bound with XDP_USE_SG) and,
// when they are not although a big pool was there to take them, why.
func (d *Driver) MultiBuffer() (on bool, why string) {
	switch {
	case !d.mb.want && d.cfg.NoMultiBuffer:
		return false, "disabled (Config.NoMultiBuffer)"
	case !d.mb.want:
		return false, "no big-packet pool"
	case d.prog == nil:
		return false, "closed"
	case !d.prog.frags:
		return false, d.prog.fragsWhy
	case !d.mb.sg && d.mb.why != "":
		return false, d.mb.why
	case !d.mb.sg:
		return false, "the shared UMEM was bound without XDP_USE_SG"
	}
	return true, ""
}

// gather takes Rx descriptor desc, of frame i of the UMEM, which belongs to
// a multi-buffer frame (cont: more descriptors follow), into the big
// packet being assembled (which Recv took at the frame's first
// descriptor). It returns the packet when desc was the frame's
// last, nil otherwise. The caller gives frame i back to the fill ring.
func (d *Driver) gather(i uint32, desc *unix.XDPDesc, cont bool) *packet.Packet {
	m := &d.mb
	if !m.skip {
		if m.cur == nil {
			// Recv takes the big packet at a frame's first
			// descriptor; there is none without a big pool.
			d.cnt.RxErrors.Inc()
			m.skip = true
		}
		if p := m.cur; p != nil {
			off, n, l := int(desc.Addr&(FrameSize-1)), p.Len(), int(desc.Len)
			if n == 0 {
				// The first buffer: past the stamp, if it has one.
				off, l = off+int(d.stampSkip), l-int(d.stampSkip)
			}
			if l < 0 || off+l > FrameSize || n+l > int(d.maxFrame) || !p.Resize(n+l) {
				d.cnt.RxErrors.Inc()
				m.big.Free(p)
				m.cur, m.skip = nil, true
			} else {
				copy(p.Data()[n:], d.pool.Packet(i).Buf()[off:off+l])
			}
		}
	}
	if cont {
		return nil
	}
	p := m.cur
	m.cur, m.skip = nil, false
	if p != nil {
		m.rx.Inc()
	}
	return p
}

// sendMulti puts p, longer than a chunk, on the Tx ring as a chain of
// pool packets (whole chunks), all but the last with XDP_PKT_CONTD, after
// the used descriptors Send already wrote; *room is the ring's free space
// as Send last read it, read again if it looks too small. It returns how
// many descriptors it used, 0 when the ring or the pool has no room (the
// caller counts and frees p).
func (d *Driver) sendMulti(p *packet.Packet, room *uint32, used uint32) uint32 {
	data := p.Data()
	k := uint32((len(data) + FrameSize - 1) / FrameSize)
	if !d.mb.sg || k > maxTxFrags {
		return 0
	}
	if used+k > *room {
		// Send sized the ring for one descriptor a frame.
		*room = used + d.tx.free(k) // free counts from what is written
		if used+k > *room {
			return 0
		}
	}
	first := d.tx.prod
	for j := uint32(0); j < k; j++ {
		q := d.pool.Get()
		if q == nil {
			// Give back what this frame took: the descriptors were
			// written but not submitted.
			for d.tx.prod != first {
				d.tx.prod--
				i := d.frameOf(d.tx.descs[d.tx.prod&d.tx.mask].Addr)
				d.clearHeld(i)
				d.pool.Free(d.pool.Packet(i))
			}
			return 0
		}
		chunk := data[j*FrameSize : min(len(data), int(j+1)*FrameSize)]
		i := q.Index()
		copy(q.Buf(), chunk)
		d.setHeld(i)
		desc := &d.tx.descs[d.tx.prod&d.tx.mask]
		desc.Addr = uint64(i) << frameShift
		desc.Len = uint32(len(chunk))
		desc.Options = unix.XDP_PKT_CONTD
		if j == k-1 {
			desc.Options = 0
		}
		d.tx.prod++
	}
	d.mb.tx.Inc()
	return k
}
