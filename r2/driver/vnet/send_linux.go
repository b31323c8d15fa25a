//go:build linux

package vnet

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/packet"
)

// Batch is the most frames one sendmmsg call of Send takes.
const Batch = 64

// sndBuf is the socket's send buffer: a batch of 64 KiB super-frames
// needs about 4 MiB in flight.
const sndBuf = 8 << 20

// Sender sends frames with a virtio_net_hdr through a transmit-only
// AF_PACKET socket of one interface: bound with protocol 0, so it receives
// nothing, with PACKET_VNET_HDR, and through the qdisc (dev_queue_xmit),
// which segments a super-frame in software when the device cannot (with
// the qdisc bypassed, __dev_direct_xmit drops it). It is for one thread
// (its message vectors are reused); Close it.
type Sender struct {
	fd   int
	msgs [Batch]unix.Mmsghdr
	iovs [Batch]unix.Iovec
}

// Open opens a Sender on interface ifindex of the calling thread's network
// namespace.
func Open(ifindex int) (*Sender, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("vnet sender: socket: %w", err)
	}
	fail := func(what string, err error) (*Sender, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("vnet sender: %s: %w", what, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
		return fail("PACKET_VNET_HDR", err)
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, sndBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, sndBuf)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifindex}); err != nil {
		return fail(fmt.Sprintf("bind to ifindex %d", ifindex), err)
	}
	s := &Sender{fd: fd}
	for i := range s.msgs {
		s.msgs[i].Hdr.Iov = &s.iovs[i]
		s.msgs[i].Hdr.SetIovlen(1)
	}
	return s, nil
}

// Send transmits pkts, each with a header written into its headroom (the
// packets are the caller's to free after), in sendmmsg calls of up to Batch
// frames. It returns how many the kernel took and the system calls made.
// A packet without headroom for the header is not sent; a frame the
// kernel refuses (too long for the device without being a super-frame)
// is skipped, the rest of its batch sent; a full socket buffer or a
// device that is down drops the rest of the batch.
func (s *Sender) Send(pkts []*packet.Packet) (sent, calls int) {
	for len(pkts) > 0 {
		b := pkts[:min(len(pkts), Batch)]
		pkts = pkts[len(b):]
		n := 0
		for _, p := range b {
			frame := p.Head()
			v := p.Push(HdrLen)
			if v == nil {
				continue
			}
			Put(v, p, frame)
			data := p.Data()
			s.iovs[n].Base = unsafe.SliceData(data)
			s.iovs[n].SetLen(len(data))
			n++
		}
		k, c := driver.SendMsgs(s.fd, s.msgs[:n])
		sent += k
		calls += c
		for i := range n {
			s.iovs[i].Base = nil // do not keep buffers reachable from here
		}
	}
	return sent, calls
}

// InFlight returns the bytes of frames this socket sent that the kernel
// still holds (SIOCOUTQ: in the qdisc, or in the device until it
// completes them; a veth frees or orphans a frame as it passes it on). An
// error counts as nothing in flight.
func (s *Sender) InFlight() int {
	n, err := unix.IoctlGetInt(s.fd, unix.SIOCOUTQ)
	if err != nil {
		return 0
	}
	return n
}

// Close closes the socket. Calling it again does nothing.
func (s *Sender) Close() error {
	if s == nil || s.fd < 0 {
		return nil
	}
	err := unix.Close(s.fd)
	s.fd = -1
	return err
}
