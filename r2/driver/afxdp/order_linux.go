//go:build linux

package afxdp

import (
	"github.com/r2go/r2/r2/driver/vnet"
	"github.com/r2go/r2/r2/packet"
)

// One flow's frames can take both of the driver's send paths: plain
// frames the Tx ring, its super-frames (software GRO's) the AF_PACKET
// socket. The paths meet only in the device, and each can overtake the
// other:
//
//   - The socket's frames go through the qdisc, which holds them while the
//     device pushes back, or while a shaper (tbf, say) makes them wait; the
//     Tx ring's frames bypass the qdisc (__dev_direct_xmit, or the NIC's
//     own queue in zero-copy mode) and would pass them. So while the socket
//     has frames in the kernel (SIOCOUTQ), plain frames follow them through
//     the socket. One ioctl per run of plain frames after the socket was
//     used, until it reports none.
//   - Descriptors the device left on the Tx ring (txKick) go at a later
//     kick, while a frame given to the socket now could leave at once. So
//     a frame for the socket waits in the driver until the ring is
//     empty, and frames sent meanwhile queue behind it (at most orderHold;
//     more are dropped and counted). Pending stays true while frames
//     wait, and Recv sends them as soon as the ring is empty.
//
// Both count in TxOrderHeld. Not covered: a multi-queue device whose
// qdisc picks another Tx queue than the socket's AF_XDP queue, where the
// device itself may serve the two queues out of order.

// orderHold is the most frames held behind descriptors left on the Tx ring:
// two graph batches.
const orderHold = 512

// sendRuns sends pkts in runs of frames for the Tx ring and for the
// socket, in order, holding back what would overtake frames already sent.
// Frames held or diverted count in TxOrderHeld unless they were counted
// already (waited: frames that waited before).
func (d *Driver) sendRuns(pool *packet.Pool, pkts []*packet.Packet, waited bool) int {
	sent := 0
	for len(pkts) > 0 {
		whole := vnet.Needs(pkts[0])
		k := 1
		for k < len(pkts) && vnet.Needs(pkts[k]) == whole {
			k++
		}
		run := pkts[:k]
		switch {
		case whole:
			if d.txKick {
				d.kickTx()
			}
			if d.txKick {
				return sent + d.wait(pool, pkts, waited)
			}
			sent += d.sendWhole(pool, run)
		case d.vnetSent && d.vnet.InFlight() > 0:
			if !waited {
				d.cfg.TxOrderHeld.Add(uint64(k))
			}
			sent += d.sendWhole(pool, run)
		default:
			d.vnetSent = false
			sent += d.sendRing(pool, run)
		}
		pkts = pkts[k:]
	}
	return sent
}

// wait appends pkts to the frames waiting for the Tx ring to empty (pkts
// may be the tail of those very frames, waited) and returns how many it
// kept; the rest are dropped, counted in TxErrors.
func (d *Driver) wait(pool *packet.Pool, pkts []*packet.Packet, waited bool) int {
	n := len(d.waiting)
	k := copy(d.waitBuf[n:], pkts)
	d.waiting = d.waitBuf[:n+k]
	if !waited {
		d.cfg.TxOrderHeld.Add(uint64(k))
	}
	if k < len(pkts) {
		d.cnt.TxErrors.Add(uint64(len(pkts) - k))
		for _, p := range pkts[k:] {
			pool.Free(p)
		}
	}
	return k
}

// sendWaiting sends the waiting frames, in order, if the Tx ring has
// emptied; what still cannot go keeps waiting.
func (d *Driver) sendWaiting(pool *packet.Pool) {
	if d.txKick {
		d.kickTx()
	}
	if d.txKick {
		return
	}
	w := d.waiting
	d.waiting = d.waitBuf[:0]
	d.sendRuns(pool, w, true)
	clear(d.waitBuf[len(d.waiting):len(w)])
}
