//go:build linux

package afpacket

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/packet"
)

// tpStatusVLANTPIDValid is TP_STATUS_VLAN_TPID_VALID (not in x/sys/unix):
// tp_vlan_tpid holds the stripped tag's TPID.
const tpStatusVLANTPIDValid = 1 << 6

// rxRing is a receive ring of one TPACKET version (ring2 or ring3, chosen
// at Open), walked by the owner thread. The kernel is the only other party,
// and the ring's status words are the only memory both write. Recv makes
// one interface call per batch; the walk of each version is plain code.
type rxRing interface {
	// recv copies up to len(pkts) frames, in ring order, into packets of
	// pool, counting in cnt, and returns how many it did.
	recv(pool *packet.Pool, pkts []*packet.Packet, cnt *driver.Counters) int
	// pending reports whether recv would find a frame now.
	pending() bool
}

// noRing is the ring of a driver without one (after Close): it is empty.
type noRing struct{}

func (noRing) recv(*packet.Pool, []*packet.Packet, *driver.Counters) int { return 0 }
func (noRing) pending() bool                                             { return false }

// Recv implements driver.Driver: it copies up to len(pkts) frames from the
// rings into packets of pool. It makes no system call and never blocks.
//
// With several receive queues it serves their rings by deficit round
// robin, as a NIC driver polls its RSS queues: each ring in turn gives up
// to a quantum of len(pkts)/K frames, and a ring whose turn the end of a
// batch cut short finishes it first at the next call. So a light flow
// whose ring holds one frame waits for at most one batch of the others,
// however many frames a flood keeps in its own ring.
func (d *Driver) Recv(pool *packet.Pool, pkts []*packet.Packet) int {
	n := d.sched.Recv(d, pool, pkts)
	if n > 0 {
		d.cnt.RxBatches.Inc()
	}
	return n
}

// rxOpts is what take needs to know of the driver's configuration.
type rxOpts struct {
	maxFrame int  // longest plain frame accepted, VLAN tag included
	maxGSO   int  // longest super-frame accepted (with vnet headers)
	vnet     bool // frames come with a virtio_net_hdr (PACKET_VNET_HDR)
	// outgoing counts frames the interface sent itself (Config.RxOutgoing).
	outgoing counters.Counter
}

// frame is what Recv needs of one frame header (tpacket2_hdr or
// tpacket3_hdr).
type frame struct {
	data   []byte // tp_snaplen bytes at tp_mac
	wire   int    // tp_len
	status uint32 // tp_status
	tci    uint16 // stripped VLAN tag, if status says so
	tpid   uint16
	vnet   []byte // the virtio_net_hdr before data, with PACKET_VNET_HDR
	// outgoing: the interface sent it (sll_pkttype PACKET_OUTGOING).
	outgoing bool
}

// sllPkttypeOff is where sll_pkttype sits in the struct sockaddr_ll that
// the kernel writes after a frame header (at the header's size rounded up
// to TPACKET_ALIGNMENT): family, protocol, ifindex, hatype, then pkttype.
const sllPkttypeOff = 10

// outgoingAt reports whether the sockaddr_ll at b (a frame header's
// size, aligned, past the header) says the interface sent the frame. A
// fanout group's sockets get such frames unless the group was made with
// PACKET_FANOUT_FLAG_IGNORE_OUTGOING (PACKET_IGNORE_OUTGOING on a member
// does not apply to the group): the kernel's own frames on the interface
// and R2's super-frames, which go through the qdisc and its packet taps.
func outgoingAt(b []byte) bool {
	return len(b) > sllPkttypeOff && b[sllPkttypeOff] == unix.PACKET_OUTGOING
}

// size is the length of f once its VLAN tag is back.
func (f *frame) size() int {
	if f.status&unix.TP_STATUS_VLAN_VALID != 0 {
		return len(f.data) + 4
	}
	return len(f.data)
}

// take checks frame f and copies it into a packet of pool (of its
// companion pool of big packets for a super-frame that needs one). It
// returns the packet and more true; or nil and more true for a frame it
// dropped (counted in RxErrors), which the ring steps over; or nil and
// more false when the pool is empty (counted in RxNoBuf): the frame stays
// in the ring for a later call, and recv stops.
func take(pool *packet.Pool, f *frame, o *rxOpts, cnt *driver.Counters) (p *packet.Packet, more bool) {
	limit := o.maxFrame
	if len(f.vnet) == vnetHdrLen && f.vnet[1] != vnetGSONone {
		limit = o.maxGSO // a super-frame: its segments are checked on output
	}
	// Truncated (longer than a block or slot), oversized or runt: drop
	// it before it takes a packet.
	size := f.size()
	if len(f.data) != f.wire || size > limit || len(f.data) < 14 {
		cnt.RxErrors.Inc()
		return nil, true
	}
	from := pool
	if size > packet.MaxData {
		if from = pool.Big(); from == nil {
			cnt.RxErrors.Inc()
			return nil, true
		}
	}
	if p = from.Get(); p == nil {
		cnt.RxNoBuf.Inc()
		return nil, false
	}
	p.SetLen(copyFrame(p.RxBuf(), f))
	if o.vnet {
		if !readVnet(p, f) {
			pool.Free(p)
			cnt.RxErrors.Inc()
			return nil, true
		}
		return p, true
	}
	if f.status&unix.TP_STATUS_CSUMNOTREADY != 0 {
		// A local sender left the checksum to "hardware" (a veth peer
		// with checksum offload): finish it, or the receiver drops
		// what we forward.
		hdr.CompleteChecksum(p.Data())
		cnt.RxCsumFixed.Inc()
	}
	return p, true
}

// copyFrame copies f into buf, the Rx room of a packet, putting back the
// VLAN tag the kernel stripped, and returns the frame's length. The caller
// checked that it fits.
func copyFrame(buf []byte, f *frame) int {
	if f.status&unix.TP_STATUS_VLAN_VALID == 0 {
		return copy(buf, f.data)
	}
	tpid := uint16(0x8100)
	if f.status&tpStatusVLANTPIDValid != 0 && f.tpid != 0 {
		tpid = f.tpid
	}
	copy(buf[:12], f.data[:12])
	binary.BigEndian.PutUint16(buf[12:], tpid)
	binary.BigEndian.PutUint16(buf[14:], f.tci)
	return 16 + copy(buf[16:], f.data[12:])
}
