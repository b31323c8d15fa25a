//go:build linux

package afxdp

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync/atomic"
	"unsafe"

	"github.com/cilium/ebpf/asm"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/driver/vnet"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/internal/bpfasm"
	"github.com/r2go/r2/r2/packet"
)

// Super-frames received through the stack.
//
// In generic mode the XDP program runs on an skb, after the kernel's GRO
// (a NIC) or with the GSO super-frame a veth peer with TSO handed over
// whole: a TCP frame of up to 64 KiB, which an XDP socket can only take
// as a multi-buffer frame without its GSO metadata (the segment size, the
// checksum left partial), so R2 could not forward it (RxErrors). AF_PACKET
// with PACKET_VNET_HDR gets such a frame whole with that metadata. So the
// program passes to the stack every frame longer than the sockets take
// (maxFrame) that is addressed to the interface's MAC, with its
// destination MAC rewritten: byte 0 flipped (superMark; unicast stays
// unicast, and the address is no longer the interface's, so the kernel's
// IP layer drops the frame as PACKET_OTHERHOST instead of routing a copy),
// byte 1 the receive ring the program chose for the flow, bytes 2-5 the
// low 32 bits of the time it ran, the clock of the sockets' stamps. An
// AF_PACKET socket of the driver (superSock), whose filter takes only
// such frames of its queue, receives them before the IP layer (the packet
// taps run first), and Recv hands them to the graph as super-frames with
// the destination put back.
//
// Order: a flow's frames reach XDP one after the other on one CPU, and
// the tap queues a passed frame before the next frame of the CPU runs the
// program, so a frame in an XDP ring had every earlier passed frame of its
// flow in the socket before it. Recv reads the rings, then the socket, and
// puts each super-frame in the batch in front of the first frame of its
// ring stamped after it (mergeSuper); one stamped after a frame still
// waiting in its ring waits too (superHold), and frames the batch has no
// room for are carried to the next Recv.

// tpStatusVLANTPIDValid is TP_STATUS_VLAN_TPID_VALID (not in x/sys/unix).
const tpStatusVLANTPIDValid = 1 << 6

// superMark is what the program XORs into byte 0 of a passed frame's
// destination MAC: every bit but the group and local bits.
const superMark = 0xfc

// superHold bounds the super-frames Recv keeps between calls.
const superHold = 64

// Ring of the super-frame socket: slots only big enough for their headers
// (every frame is longer than a slot, so all go through the copy path:
// the slot says a frame waits, and recvmsg reads it whole from the
// socket's queue), and the queue bounded by superRcvBuf.
const (
	superSlot   = 256
	superSlots  = 256
	superRcvBuf = 32 << 20
)

// superPass is what the redirect program needs to pass super-frames
// (superPassInsns); the zero value passes none.
type superPass struct {
	on     bool
	mac    [6]byte // the interface's: only frames addressed to it pass
	maxLen int     // frames longer than this pass
	frags  bool    // xdp.frags program: the length is bpf_xdp_get_buff_len's
}

// superPassInsns is the program part that passes super-frames (see the
// top of this file), with the context in R6 and the XSKMAP slot in R9,
// rings a power of two; clock reads the time into R0. A frame that does
// not pass continues at the instruction labelled "sp_no", which the
// caller provides. It uses R7 and R8 as the rest of the program does.
func superPassInsns(s superPass, rings int, clock asm.Instruction) asm.Instructions {
	if !s.on {
		return nil
	}
	var insns asm.Instructions
	if s.frags {
		insns = append(insns,
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.FnXdpGetBuffLen.Call(),
			asm.JLE.Imm(asm.R0, int32(s.maxLen), "sp_no"),
		)
	}
	need := int32(6)
	if !s.frags {
		need = int32(s.maxLen) + 1 // longer than maxLen, in the linear part
	}
	insns = append(insns, asm.LoadMem(asm.R7, asm.R6, 0, asm.Word), asm.LoadMem(asm.R8, asm.R6, 4, asm.Word))
	insns = append(insns, bpfasm.Need(asm.R7, asm.R8, need, "sp_no")...)
	insns = append(insns,
		asm.LoadMem(asm.R2, asm.R7, 0, asm.Word),
		asm.JNE.Imm32(asm.R2, int32(binary.NativeEndian.Uint32(s.mac[:4])), "sp_no"),
		asm.LoadMem(asm.R2, asm.R7, 4, asm.Half),
		asm.JNE.Imm(asm.R2, int32(binary.NativeEndian.Uint16(s.mac[4:])), "sp_no"),
		clock,
		asm.StoreImm(asm.R7, 0, int64(s.mac[0]^superMark), asm.Byte),
		asm.Mov.Reg32(asm.R2, asm.R9),
		asm.And.Imm32(asm.R2, int32(rings-1)),
		asm.StoreMem(asm.R7, 1, asm.R2, asm.Byte),
		asm.StoreMem(asm.R7, 2, asm.R0, asm.Word),
		asm.Mov.Imm(asm.R0, xdpPass),
		asm.Return(),
	)
	return insns
}

// superFilter accepts the frames the program passed for queue: marked
// for mac, longer than maxLen (less 4: the kernel strips a VLAN tag
// between the program and the tap), their ring below rings, and of the
// queue the program saw them on (skb->queue_mapping is the receive queue
// plus one, or 0 when none was recorded, which XDP takes for queue 0).
func superFilter(mac [6]byte, maxLen, queue, rings int) []bpf.Instruction {
	other := uint32(queue + 1) // a second test of the queue, or for queue 0 none recorded
	if queue == 0 {
		other = 0
	}
	const reject, accept = 9, 10
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: 0, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(mac[0] ^ superMark), SkipTrue: reject - 2},
		bpf.LoadAbsolute{Off: 1, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: uint32(rings), SkipTrue: reject - 4},
		bpf.LoadExtension{Num: bpf.ExtLen},
		bpf.JumpIf{Cond: bpf.JumpLessOrEqual, Val: uint32(maxLen - 4), SkipTrue: reject - 6},
		bpf.LoadExtension{Num: bpf.ExtQueue},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(queue + 1), SkipTrue: accept - 8},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: other, SkipTrue: accept - 9},
		bpf.RetConstant{Val: 0},
		bpf.RetConstant{Val: 1 << 18},
	}
}

// superFrame is a super-frame Recv read and has not handed out yet.
type superFrame struct {
	p     *packet.Packet
	stamp uint32 // low 32 bits of the program's clock
	ring  int
}

// superSock is the AF_PACKET socket of the super-frames of one driver's
// queue, with a TPACKET_V2 ring whose slots only say that a frame waits
// (one load, no system call) and the copy path that reads it whole.
type superSock struct {
	ringSock
	cur  int
	mac  [6]byte
	held []superFrame // read, in order, not handed out yet
	// recvmsg's vectors, preallocated: the virtio_net_hdr, then the
	// packet's room.
	vnet [vnet.HdrLen]byte
	iov  [2]unix.Iovec
	msg  unix.Msghdr
	cnt  counters.Counter // RxVnet: super-frames handed to the graph
}

// openSuper opens the socket of queue's super-frames on ifindex.
func openSuper(ifindex int, mac [6]byte, maxLen, queue, rings int, cnt counters.Counter) (_ *superSock, err error) {
	rs, err := openRingSock("super-frame socket", superFilter(mac, maxLen, queue, rings), true, superSlot, superSlots)
	if err != nil {
		return nil, err
	}
	s := &superSock{ringSock: rs, mac: mac, held: make([]superFrame, 0, superHold), cnt: cnt}
	fd := rs.fd
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	// As AF_PACKET's copy path: forced past rmem_max with CAP_NET_ADMIN.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, superRcvBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, superRcvBuf)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(bpfasm.NE16(unix.ETH_P_ALL)), Ifindex: ifindex}); err != nil {
		return nil, fmt.Errorf("super-frame socket: bind: %w", err)
	}
	s.iov[0].Base = &s.vnet[0]
	s.iov[0].SetLen(vnet.HdrLen)
	s.msg.Iov = &s.iov[0]
	s.msg.SetIovlen(len(s.iov))
	return s, nil
}

// status is slot i's tp_status word.
func (s *superSock) status(i int) *uint32 {
	return (*uint32)(unsafe.Pointer(&s.mem[i*superSlot]))
}

// waiting reports whether a super-frame waits in the ring or in held.
func (s *superSock) waiting() bool {
	return len(s.held) > 0 || atomic.LoadUint32(s.status(s.cur))&unix.TP_STATUS_USER != 0
}

// take reads the waiting super-frames into held (up to superHold) as
// packets of big. A frame that is malformed, or whose slot has no copy
// (the queue was full), is counted in RxErrors and dropped; with big
// empty it counts RxNoBuf and leaves the rest for a later call.
func (s *superSock) take(big *packet.Pool, cnt *driver.Counters) {
	for len(s.held) < cap(s.held) {
		st := s.status(s.cur)
		status := atomic.LoadUint32(st)
		if status&unix.TP_STATUS_USER == 0 {
			return
		}
		if status&unix.TP_STATUS_COPY != 0 {
			p := big.Get()
			if p == nil {
				cnt.RxNoBuf.Inc()
				return // the slot and its queue entry stay
			}
			h := (*unix.Tpacket2Hdr)(unsafe.Pointer(&s.mem[s.cur*superSlot]))
			if f, ok := s.read(p, h, status, cnt); ok {
				s.held = append(s.held, f)
			} else {
				big.Free(p)
				cnt.RxErrors.Inc()
			}
		} else {
			cnt.RxErrors.Inc() // truncated: the queue was full
		}
		atomic.StoreUint32(st, unix.TP_STATUS_KERNEL)
		s.cur = (s.cur + 1) % superSlots
	}
}

// read reads the frame of the copy slot h (status) into p: its ring and
// stamp from the marked destination, which is put back, its GSO metadata
// from the virtio_net_hdr, and a VLAN tag the kernel stripped into
// metadata back in front of its EtherType, as AF_PACKET's copy path does.
func (s *superSock) read(p *packet.Packet, h *unix.Tpacket2Hdr, status uint32, cnt *driver.Counters) (superFrame, bool) {
	tag := 0
	if status&unix.TP_STATUS_VLAN_VALID != 0 {
		tag = 4
	}
	b := p.RxBuf()
	s.iov[1].Base = unsafe.SliceData(b[tag:])
	s.iov[1].SetLen(len(b) - tag)
	r, _, errno := unix.Syscall(unix.SYS_RECVMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.msg)), unix.MSG_DONTWAIT|unix.MSG_TRUNC)
	s.iov[1].Base = nil
	cnt.Syscalls.Inc()
	n := int(r) - vnet.HdrLen
	if errno != 0 || n != int(h.Len) || n+tag > len(b) || n < 14 {
		return superFrame{}, false
	}
	if tag != 0 {
		tpid := uint16(0x8100)
		if status&tpStatusVLANTPIDValid != 0 && h.Vlan_tpid != 0 {
			tpid = h.Vlan_tpid
		}
		hdr.TagBack(b, tpid, h.Vlan_tci)
	}
	p.SetLen(n + tag)
	f := superFrame{p: p, ring: int(b[1]), stamp: binary.NativeEndian.Uint32(b[2:])}
	copy(b, s.mac[:])
	if !vnet.Read(p, s.vnet[:], tag != 0) {
		return superFrame{}, false
	}
	binary.NativeEndian.PutUint64(p.Buf()[p.Head()-stampLen:], uint64(f.stamp))
	p.Meta |= uint32(f.ring) << packet.MetaRxQueueShift & packet.MetaRxQueueMask
	return f, true
}

// close unmaps the ring, closes the socket and frees what it holds.
func (s *superSock) close() error {
	for _, f := range s.held {
		f.p.Return()
	}
	s.held = s.held[:0]
	return s.ringSock.close()
}

// mergeSuper puts the super-frames waiting in the socket into the batch
// Recv read from the rings, pkts[:n], each in front of the first frame of
// its ring stamped after it, and returns the batch's new length. It runs
// after the rings were read: a frame read there had every earlier frame of
// its flow that the program passed in the socket before it, so it is
// here now. A super-frame whose ring still holds an older frame waits
// (held) for a later call; what does not fit pkts is carried to the next
// Recv, which delivers it before reading anything new.
func (d *Driver) mergeSuper(pkts []*packet.Packet, n int) int {
	s := d.sup
	s.take(d.mb.big, &d.cnt)
	if len(s.held) == 0 {
		return n
	}
	m := d.mergeBuf[:0]
	if cap(m) < len(pkts)+superHold {
		m = make([]*packet.Packet, 0, len(pkts)+superHold)
	}
	m = append(m, pkts[:n]...)
	k := 0
	for ; k < len(s.held); k++ {
		f := s.held[k]
		if d.ringOlder(f.ring, f.stamp) {
			break // its flow may have a frame before it in the ring
		}
		m = insertByStamp(m, f)
		s.cnt.Inc()
	}
	if k > 0 {
		left := copy(s.held, s.held[k:])
		clear(s.held[left:])
		s.held = s.held[:left]
	}
	n = copy(pkts, m)
	d.carry = append(d.carry[:0], m[n:]...)
	clear(m)
	d.mergeBuf = m[:0]
	return n
}

// ringOlder reports whether Rx ring ring has a frame stamped before stamp
// at its head.
func (d *Driver) ringOlder(ring int, stamp uint32) bool {
	if ring >= len(d.rx) {
		return false
	}
	r := &d.rx[ring]
	if !r.ready() {
		return false
	}
	t := uint32(d.stamp(r.descs[r.cons&r.mask].Addr))
	return t != 0 && int32(stamp-t) > 0
}

// recvCarried hands out, in order, the frames an earlier Recv read but had
// no room for, and reports whether any are left for the next call.
func (d *Driver) recvCarried(pkts []*packet.Packet) (n int, more bool) {
	n = copy(pkts, d.carry)
	left := copy(d.carry, d.carry[n:])
	clear(d.carry[left:])
	d.carry = d.carry[:left]
	return n, left > 0
}

// packetStamp is the stamp (low 32 bits) of a received packet, stampLen
// bytes before its data (where the kernel put it, or Recv for a frame it
// assembled or read from the super-frame socket); 0 if none.
func packetStamp(p *packet.Packet) uint32 {
	h := p.Head()
	if h < stampLen {
		return 0
	}
	return uint32(binary.NativeEndian.Uint64(p.Buf()[h-stampLen:]))
}

// insertByStamp puts f.p into pkts in front of the first packet of its
// ring stamped after it (at the end if none is), within pkts' capacity.
// Packets of other rings are other flows, whose order does not matter.
func insertByStamp(pkts []*packet.Packet, f superFrame) []*packet.Packet {
	tag := uint32(f.ring) << packet.MetaRxQueueShift & packet.MetaRxQueueMask
	n := len(pkts)
	at := n
	for i, p := range pkts {
		if p.Meta&packet.MetaRxQueueMask != tag {
			continue
		}
		if t := packetStamp(p); t != 0 && int32(t-f.stamp) > 0 {
			at = i
			break
		}
	}
	pkts = append(pkts, nil)
	copy(pkts[at+1:], pkts[at:n])
	pkts[at] = f.p
	return pkts
}

// refuseSuper is a test hook: Open acts as if the socket of received
// super-frames could not be opened.
var refuseSuper bool

// openSuper opens the socket of received super-frames, unless
// Config.NoSuperFrames, or no big pool could hold them, or the interface
// has no Ethernet address to pass them by; supWhy says why not.
func (d *Driver) openSuper(hw net.HardwareAddr) {
	c := &d.cfg
	switch {
	case c.NoSuperFrames:
		d.supWhy = "off (Config.NoSuperFrames)"
	case c.Pool.Big() == nil:
		d.supWhy = "no big-packet pool"
	case len(hw) != 6:
		d.supWhy = "the interface has no Ethernet address"
	case refuseSuper:
		d.supWhy = "refused by a test"
	default:
		var mac [6]byte
		copy(mac[:], hw)
		s, err := openSuper(c.Ifindex, mac, int(d.maxFrame), c.Queue, c.RxRings, c.RxVnet)
		if err != nil {
			d.supWhy = err.Error()
			return
		}
		d.sup = s
	}
}

// SuperFramesIn reports whether super-frames the program passes to the
// stack are received whole (super_linux.go) and, if not, why.
func (d *Driver) SuperFramesIn() (on bool, why string) {
	if d.sup == nil {
		return false, d.supWhy
	}
	if d.prog != nil && !d.prog.pass.on {
		return false, "the interface's program was loaded by a driver without it"
	}
	return true, ""
}
