//go:build linux

package afxdp

import (
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/internal/bpfasm"
	"github.com/r2go/r2/r2/packet"
)

// Neighbour copies. In host-owned mode the classifier passes ARP and ND to
// the host, so R2's own ARP replies and neighbour advertisements never
// reach the XDP socket; yet R2 resolves its next hops itself. A small
// AF_PACKET socket on the interface receives copies of the ARP and
// ICMPv6 NS/NA frames the kernel gets (the packet tap runs on what XDP
// passed), and Recv hands them to the graph as received frames: EtherDecap
// learns from them as it does with AF_PACKET (and, host-owned, answers
// none). The socket exists from Open so that its descriptor can join the
// owner thread's epoll set with the interface's (SideFd), but it is bound
// to protocol 0, which hooks nothing in the kernel, until host-owned mode
// is switched on.
const (
	neighFrameSize = 2048 // one ring slot: an ND frame with options fits
	neighFrames    = 16   // slots: 8 pages
)

// neighFilter accepts untagged ARP and ICMPv6 neighbour solicitations and
// advertisements (ICMPv6 straight after the fixed header, as ND always
// is). Tagged frames belong to the host's VLAN devices, not to R2's
// interface: the kernel strips the tag into metadata, so the filter asks.
var neighFilter = []bpf.Instruction{
	bpf.LoadExtension{Num: bpf.ExtVLANTagPresent},
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 0, SkipTrue: 8},
	bpf.LoadAbsolute{Off: 12, Size: 2},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: etherARP, SkipTrue: 7},
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: etherIPv6, SkipTrue: 5},
	bpf.LoadAbsolute{Off: ip6NextOff, Size: 1},
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 58, SkipTrue: 3},
	bpf.LoadAbsolute{Off: icmp6TypeAt, Size: 1},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 135, SkipTrue: 2}, // NS
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 136, SkipTrue: 1}, // NA
	bpf.RetConstant{Val: 0},
	bpf.RetConstant{Val: neighFrameSize},
}

// neighSock is the AF_PACKET socket of the copies, with a TPACKET_V2
// receive ring so that Recv sees a waiting frame with one load, no
// system call.
type neighSock struct {
	ringSock
	ifindex int
	cur     int              // slot read next
	copies  counters.Counter // copies handed to the graph
	errs    counters.Counter // copies dropped: malformed or truncated
}

// openNeigh opens the socket on ifindex, bound to protocol 0.
func openNeigh(ifindex int, copies, errs counters.Counter) (_ *neighSock, err error) {
	// The host's own ARP and ND go out too; R2 needs only what arrives
	// (the ring socket ignores outgoing frames).
	rs, err := openRingSock("neighbour socket", neighFilter, false, neighFrameSize, neighFrames)
	if err != nil {
		return nil, err
	}
	s := &neighSock{ringSock: rs, ifindex: ifindex, copies: copies, errs: errs}
	if err := s.listen(false); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// listen hooks the socket to every frame the interface receives (the
// filter keeps ARP and ND), or unhooks it (protocol 0). Safe beside the
// owner's recv: the ring stays.
func (s *neighSock) listen(on bool) error {
	proto := uint16(0)
	if on {
		proto = unix.ETH_P_ALL
	}
	if err := unix.Bind(s.fd, &unix.SockaddrLinklayer{Protocol: uint16(bpfasm.NE16(proto)), Ifindex: s.ifindex}); err != nil {
		return fmt.Errorf("neighbour socket: bind protocol %#x: %w", proto, err)
	}
	return nil
}

// status is slot i's tp_status word.
func (s *neighSock) status(i int) *uint32 {
	return (*uint32)(unsafe.Pointer(&s.mem[i*neighFrameSize]))
}

// ready reports whether a copy waits in the ring.
func (s *neighSock) ready() bool {
	return atomic.LoadUint32(s.status(s.cur))&unix.TP_STATUS_USER != 0
}

// recv moves waiting copies into packets of pool, at most len(pkts), and
// returns how many. A copy that does not fit a packet, or a slot the
// kernel described wrongly, is counted in errs and skipped. Owner thread
// only.
func (s *neighSock) recv(pool *packet.Pool, pkts []*packet.Packet) int {
	n := 0
	for n < len(pkts) {
		st := s.status(s.cur)
		if atomic.LoadUint32(st)&unix.TP_STATUS_USER == 0 {
			break
		}
		slot := s.mem[s.cur*neighFrameSize : (s.cur+1)*neighFrameSize]
		h := (*unix.Tpacket2Hdr)(unsafe.Pointer(&slot[0]))
		start, end := int(h.Mac), int(h.Mac)+int(h.Snaplen)
		if start < unix.SizeofTpacket2Hdr || end > neighFrameSize || h.Snaplen != h.Len {
			s.errs.Inc()
		} else {
			p := pool.Get()
			if p == nil {
				break // the slot stays; next time
			}
			if p.SetData(slot[start:end]) {
				pkts[n] = p
				n++
				s.copies.Inc()
			} else {
				pool.Free(p)
				s.errs.Inc()
			}
		}
		atomic.StoreUint32(st, unix.TP_STATUS_KERNEL)
		s.cur = (s.cur + 1) % neighFrames
	}
	return n
}

// close unmaps the ring and closes the socket.
func (s *neighSock) close() error { return s.ringSock.close() }

// ringSock is an AF_PACKET socket and its mapped receive ring.
type ringSock struct {
	fd  int
	mem []byte
}

// openRingSock opens an unbound AF_PACKET socket (what names it in errors)
// with the classic BPF filter, ignoring the frames the interface sends,
// and a TPACKET_V2 receive ring of slots slots of slot bytes. With vnet
// each frame comes with its virtio_net_hdr, and a frame longer than a
// slot gets the copy path (PACKET_COPY_THRESH: the slot says it waits,
// recvmsg reads it whole from the socket's queue).
func openRingSock(what string, filter []bpf.Instruction, vnet bool, slot, slots int) (_ ringSock, err error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return ringSock{fd: -1}, fmt.Errorf("%s: %w", what, err)
	}
	s := ringSock{fd: fd}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	prog, err := bpf.Assemble(filter)
	if err != nil {
		return s, fmt.Errorf("%s: filter: %w", what, err)
	}
	f := make([]unix.SockFilter, len(prog))
	for i, r := range prog {
		f[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	type option struct {
		what string
		set  func() error
	}
	opts := []option{
		{"attach filter", func() error {
			return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]})
		}},
		{"PACKET_IGNORE_OUTGOING", func() error { return unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1) }},
	}
	if vnet {
		// Before the ring: the kernel lays slots out by it.
		opts = append(opts,
			option{"PACKET_VNET_HDR", func() error { return unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1) }},
			option{"PACKET_COPY_THRESH", func() error { return unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_COPY_THRESH, 1) }})
	}
	opts = append(opts, option{"TPACKET_V2", func() error { return unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V2) }})
	for _, o := range opts {
		if err := o.set(); err != nil {
			return s, fmt.Errorf("%s: %s: %w", what, o.what, err)
		}
	}
	block := max(os.Getpagesize(), slot)
	size := slots * slot
	req := unix.TpacketReq{Block_size: uint32(block), Block_nr: uint32(size / block), Frame_size: uint32(slot), Frame_nr: uint32(slots)}
	if err := unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return s, fmt.Errorf("%s: PACKET_RX_RING: %w", what, err)
	}
	if s.mem, err = unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return s, fmt.Errorf("%s: mmap ring: %w", what, err)
	}
	return s, nil
}

// close unmaps the ring and closes the socket, whatever exists of them.
func (s *ringSock) close() error {
	var err error
	if s.mem != nil {
		err = unix.Munmap(s.mem)
		s.mem = nil
	}
	if s.fd >= 0 {
		if e := unix.Close(s.fd); err == nil {
			err = e
		}
		s.fd = -1
	}
	return err
}
