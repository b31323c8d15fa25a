//go:build linux

package afpacket

import (
	"unsafe"

	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/driver/vnet"
	"github.com/r2go/r2/r2/packet"
)

// Send implements driver.Driver: it transmits pkts with one sendmmsg call
// per TxBatch frames and frees every packet to pool. Frames the kernel
// refuses are counted in TxErrors.
func (d *Driver) Send(pool *packet.Pool, pkts []*packet.Packet) int {
	sent := 0
	for len(pkts) > 0 {
		b := pkts[:min(len(pkts), TxBatch)]
		pkts = pkts[len(b):]
		sent += d.sendBatch(b)
		for _, p := range b {
			pool.Free(p)
		}
	}
	return sent
}

// sendBatch transmits b (at most TxBatch frames) and returns how many the
// kernel took.
func (d *Driver) sendBatch(b []*packet.Packet) int {
	n := len(b)
	if d.fd < 0 {
		d.cnt.TxErrors.Add(uint64(n))
		return 0
	}
	// Each frame goes through the socket its metadata needs: super-frames
	// through gsoFd, frames with a checksum to finish through fd (both with
	// a virtio_net_hdr in the headroom, in front of the frame: the packet
	// is freed after the send), the rest through plainFd, bare. Runs of
	// one socket go in one sendmmsg each, in order.
	for i, p := range b {
		d.txSock[i] = d.sockFor(p)
		if d.vnet && d.txSock[i] != int32(d.plainFd) {
			frame := p.Head()
			if v := p.Push(vnetHdrLen); v != nil {
				vnet.Put(v, p, frame)
			}
		}
		data := p.Data()
		d.iovs[i].Base = unsafe.SliceData(data)
		d.iovs[i].SetLen(len(data))
	}
	sent := 0
	for from := 0; from < n; {
		fd := d.txSock[from]
		to := from + 1
		for to < n && d.txSock[to] == fd {
			to++
		}
		sent += d.sendRange(int(fd), from, to)
		from = to
	}
	if sent < n {
		d.cnt.TxErrors.Add(uint64(n - sent))
	}
	for i := range b {
		d.iovs[i].Base = nil // do not keep buffers reachable from here
	}
	return sent
}

// sockFor is the socket frame p is sent through (see sendBatch).
func (d *Driver) sockFor(p *packet.Packet) int32 {
	switch {
	case !d.vnet:
		return int32(d.fd)
	case p.GSO.Size != 0 && d.gsoFd >= 0:
		return int32(d.gsoFd)
	case p.GSO.Flags&packet.GSONeedsCsum != 0 || d.plainFd < 0:
		return int32(d.fd)
	}
	return int32(d.plainFd)
}

// sendRange sends messages msgs[from:to] through fd and returns how
// many the kernel took (driver.SendMsgs).
func (d *Driver) sendRange(fd, from, to int) int {
	sent, calls := driver.SendMsgs(fd, d.msgs[from:to])
	d.cnt.Syscalls.Add(uint64(calls))
	return sent
}
