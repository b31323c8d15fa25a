//go:build linux

package afxdp

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"

	"github.com/r2go/r2/r2/internal/bpfasm"
)

// xdpPass is XDP_PASS (enum xdp_action, include/uapi/linux/bpf.h).
const xdpPass = 2

// xdpDrop is XDP_DROP.
const xdpDrop = 1

// xdpMdRxQueueIndex is the offset of rx_queue_index in struct xdp_md
// (data, data_end, data_meta, ingress_ifindex, rx_queue_index: u32 each).
const xdpMdRxQueueIndex = 16

// progLicense is the license the programs declare. They are a handful of
// instructions generated here; no helper they call is GPL-only.
const progLicense = "Dual MIT/GPL"

// xdpProg is the redirect program of one interface, its XSKMAP and, once
// attached, its link.
type xdpProg struct {
	xsks  *ebpf.Map
	rings int    // receive rings (sockets) per queue
	seed  uint32 // of the flow hash (flowRedirect)
	// steer is the light-flow steering's bucket map (Config.LightGap),
	// shared with the host-owned classifier; nil without steering.
	steer *ebpf.Map
	gap   time.Duration
	// read is the rings' read marks (readmark_linux.go); nil without
	// steering, or if the kernel refused them (readWhy says why).
	read    *readMarks
	readWhy string
	// pass passes super-frames to the stack (super_linux.go).
	pass superPass
	prog *ebpf.Program
	lnk  link.Link
}

// newRedirectProg builds the program
//
//	return bpf_redirect_map(&xsks, ctx->rx_queue_index * rings + flow % rings, XDP_PASS);
//
// (flowRedirect; with rings 1 the slot is the queue) with an XSKMAP of
// queues*rings slots, loaded with flags (0, or BPF_F_XDP_HAS_FRAGS for an
// xdp.frags program: see multibuf_linux.go). The low bits of the flags
// argument are the action when the map has no socket for the slot (Linux
// 5.3+): frames of queues R2 has no socket on go to the kernel's stack, as
// they would without R2 (see the package documentation).
//
// With gap above 0 and several rings the program steers light flows to
// ring 0 of their queue (flowRedirect, bpfasm.SteerBucket); with pass on
// it passes super-frames to the stack (superPassInsns).
func newRedirectProg(queues, rings int, gap time.Duration, flags uint32, pass superPass) (_ *xdpProg, err error) {
	m, err := ebpf.NewMap(&ebpf.MapSpec{
		Name:       "r2_xsks",
		Type:       ebpf.XSKMap,
		KeySize:    4,
		ValueSize:  4,
		MaxEntries: uint32(queues * rings),
	})
	if err != nil {
		return nil, fmt.Errorf("XSKMAP: %w", err)
	}
	x := &xdpProg{xsks: m, rings: rings, seed: rand.Uint32(), pass: pass}
	defer func() {
		if err != nil {
			x.close()
		}
	}()
	if gap > 0 && rings > 1 {
		if x.steer, err = ebpf.NewMap(bpfasm.SteerMapSpec()); err != nil {
			return nil, fmt.Errorf("steering map: %w", err)
		}
		x.gap = gap
		// Without them (a kernel before memory-mapped arrays, 5.5)
		// steering works as before the marks: a thread kept off its
		// CPU longer than the gap may see a moving flow reordered.
		r, rerr := newReadMarks(queues * rings)
		if rerr == nil && refuseReadMarks {
			r.close()
			rerr = errors.New("refused by a test")
		}
		if rerr == nil {
			x.read = r
		} else {
			x.readWhy = rerr.Error()
		}
	}
	steer, err := steerWith(x.steer, gap, x.readMap())
	if err != nil {
		return nil, err
	}
	ldMap := asm.LoadMapPtr(asm.R1, 0)
	if err := ldMap.AssociateMap(m); err != nil {
		return nil, err
	}
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R7, asm.R1, 0, asm.Word), // ctx->data
		asm.LoadMem(asm.R8, asm.R1, 4, asm.Word), // ctx->data_end
	}
	if rings <= 1 {
		insns = insns[:1] // the queue is the slot: no frame read
	}
	insns = append(insns, flowRedirect("redirect", rings, x.seed, ldMap, steer, pass)...)
	x.prog, err = ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "r2_xsk_redirect",
		Type:         ebpf.XDP,
		Flags:        flags,
		Instructions: insns,
		License:      progLicense,
	})
	if err != nil {
		return nil, fmt.Errorf("load XDP program: %w", err)
	}
	return x, nil
}

// setSocket puts the socket fd in the map slot of ring of queue.
func (x *xdpProg) setSocket(queue, ring, fd int) error {
	slot := queue*x.rings + ring
	if err := x.xsks.Put(uint32(slot), uint32(fd)); err != nil {
		return fmt.Errorf("XSKMAP slot %d (queue %d, ring %d): %w", slot, queue, ring, err)
	}
	return nil
}

// attach links the program to ifindex with flags (driver or generic mode).
func (x *xdpProg) attach(ifindex int, flags link.XDPAttachFlags) error {
	l, err := link.AttachXDP(link.XDPOptions{Program: x.prog, Interface: ifindex, Flags: flags})
	if err != nil {
		return err
	}
	x.lnk = l
	return nil
}

// detach unlinks the program, if attached.
func (x *xdpProg) detach() error {
	if x.lnk == nil {
		return nil
	}
	err := x.lnk.Close()
	x.lnk = nil
	return err
}

// close detaches the program and releases it and its map.
func (x *xdpProg) close() error {
	err := errors.Join(x.detach(), x.xsks.Close())
	if x.prog != nil {
		err = errors.Join(err, x.prog.Close())
	}
	if x.steer != nil {
		err = errors.Join(err, x.steer.Close())
	}
	if x.read != nil {
		err = errors.Join(err, x.read.close())
	}
	return err
}

// readMap is the read marks' map, nil if none.
func (x *xdpProg) readMap() *ebpf.Map {
	if x.read == nil {
		return nil
	}
	return x.read.m
}

// refuseReadMarks is a test hook: programs are built as if the kernel
// refused the read-mark array.
var refuseReadMarks bool

// passLink is what AttachPass returns: closing it detaches the program.
type passLink struct{ l link.Link }

func (p passLink) Close() error { return p.l.Close() }

// AttachPass attaches a minimal XDP program (return XDP_PASS) to the
// interface ifindex of the calling thread's network namespace, in driver
// mode if the device has native XDP, else in generic mode, and returns
// the link: closing it detaches the program (so does the process's exit).
//
// It exists for veth topologies. A veth end with an XDP program (or GRO)
// receives through NAPI; frames that an XDP program elsewhere redirects to
// it (XDP_REDIRECT through a devmap, XDP_TX on its peer) are dropped unless
// it has one. AF_XDP transmission itself does not need it (copy mode builds
// skbs that the peer receives like any other), but test topologies and the
// benchmark tool attach it to the far ends so that both directions run
// through the same NAPI path as a physical NIC would, and so that
// redirect-based tools work.
func AttachPass(ifindex int) (io.Closer, error) {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "r2_xdp_pass",
		Type:         ebpf.XDP,
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, xdpPass), asm.Return()},
		License:      progLicense,
	})
	if err != nil {
		return nil, fmt.Errorf("afxdp: load XDP_PASS program: %w", err)
	}
	defer prog.Close() // the link keeps the program
	l, err := link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifindex, Flags: link.XDPDriverMode})
	if err != nil {
		var gerr error
		l, gerr = link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifindex, Flags: link.XDPGenericMode})
		if gerr != nil {
			return nil, fmt.Errorf("afxdp: attach XDP_PASS to ifindex %d: driver mode: %w; generic mode: %w", ifindex, err, gerr)
		}
	}
	return passLink{l}, nil
}
