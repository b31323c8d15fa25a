//go:build linux

package topo

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"

	"github.com/r2go/r2/r2/internal/bpfasm"
	"github.com/r2go/r2/r2/internal/netnsx"
)

// Sink drops, and counts, the frames to some prefixes at a host's interface,
// in a tcx ingress program, before the host's IP layer sees them.
//
// A host that does not forward drops a datagram for an address that is not
// its own after a route lookup that, on that path, allocates a route entry
// per datagram and frees it through RCU. In a benchmark every frame of a
// flood then costs the host that much, and the cost lands on whatever CPU
// delivers the frame to the host: for R2 its forwarding thread's, inside its
// send, where the RCU callbacks come back in bursts of milliseconds in
// ksoftirqd and keep the thread off its CPU. A real router's receiver is
// another machine; the sink lets a benchmark measure the router alone.
// Its methods are safe for concurrent use.
type Sink struct {
	mu    sync.Mutex
	count *ebpf.Map // per-CPU array, one slot: frames dropped
	prog  *ebpf.Program
	lnk   link.Link
}

// Frame layout: an untagged Ethernet header, then IPv4 or IPv6.
const (
	sinkEthHdr = 14
	sinkIP4Dst = sinkEthHdr + 16
	sinkIP4End = sinkEthHdr + 20
	sinkIP6Dst = sinkEthHdr + 24
	sinkIP6End = sinkEthHdr + 40
)

// tcx verdicts (uapi TCX_*): the next program or the stack, and drop.
const (
	sinkNext = -1
	sinkDrop = 2
)

// AddSink attaches a Sink to interface ifname in namespace ns (one the
// topology created) for the given prefixes, at most one IPv4 and one IPv6
// prefix. Close closes it, or the topology's Close does.
func (t *Topology) AddSink(ns, ifname string, prefixes ...netip.Prefix) (*Sink, error) {
	var p4, p6 netip.Prefix
	for _, p := range prefixes {
		p = p.Masked()
		switch {
		case !p.IsValid():
			return nil, fmt.Errorf("sink: invalid prefix %v", p)
		case p.Addr().Is4() && !p4.IsValid():
			p4 = p
		case p.Addr().Is6() && !p6.IsValid():
			p6 = p
		default:
			return nil, fmt.Errorf("sink: more than one %s prefix", map[bool]string{true: "IPv4", false: "IPv6"}[p.Addr().Is4()])
		}
	}
	if !p4.IsValid() && !p6.IsValid() {
		return nil, errors.New("sink: no prefix")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, fmt.Errorf("topo %s: %w", t.Config.Prefix, net.ErrClosed)
	}
	if err := t.ownNS(ns); err != nil {
		return nil, err
	}
	l, err := t.nlh[ns].LinkByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("sink: interface %s in %s: %w", ifname, ns, err)
	}
	s := &Sink{}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	if s.count, err = ebpf.NewMap(&ebpf.MapSpec{Name: "topo_sink_count", Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1}); err != nil {
		return nil, fmt.Errorf("sink: counter map: %w", err)
	}
	if s.prog, err = newSinkProg(s.count, p4, p6); err != nil {
		return nil, err
	}
	// The kernel resolves the ifindex in the caller's namespace.
	err = netnsx.InNS(t.nsh[ns], func() error {
		var aerr error
		s.lnk, aerr = link.AttachTCX(link.TCXOptions{Interface: l.Attrs().Index, Program: s.prog, Attach: ebpf.AttachTCXIngress})
		return aerr
	})
	if err != nil {
		return nil, fmt.Errorf("sink: attach tcx ingress on %s: %w", ifname, err)
	}
	t.sinks = append(t.sinks, s)
	ok = true
	return s, nil
}

// Count is the number of frames the sink has dropped.
func (s *Sink) Count() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.count == nil {
		return 0, fmt.Errorf("sink: %w", net.ErrClosed)
	}
	var per []uint64
	if err := s.count.Lookup(uint32(0), &per); err != nil {
		return 0, fmt.Errorf("sink: read counter: %w", err)
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	return n, nil
}

// Close detaches the sink. It may be called more than once.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	if s.lnk != nil {
		errs = append(errs, s.lnk.Close())
		s.lnk = nil
	}
	if s.prog != nil {
		errs = append(errs, s.prog.Close())
		s.prog = nil
	}
	if s.count != nil {
		errs = append(errs, s.count.Close())
		s.count = nil
	}
	return errors.Join(errs...)
}

// newSinkProg builds the sink's program. In C:
//
//	if (eth + 14 > end) return TCX_NEXT;
//	switch (eth->proto) {
//	case IPv4: if (ip + 20 > end && !pull(skb, 34)) return TCX_NEXT;
//		if ((ip->daddr & mask4) == net4) goto drop; break;
//	case IPv6: if (ip6 + 40 > end && !pull(skb, 54)) return TCX_NEXT;
//		if ((dst.hi & mask6hi) == net6hi && (dst.lo & mask6lo) == net6lo) goto drop;
//	}
//	return TCX_NEXT;
//	drop: count[0]++; return TCX_DROP;
//
// with the addresses compared as the native-order loads of their network-
// order bytes, and pull the bpf_skb_pull_data of a frame whose headers are
// not all in the skb's linear part (a sender's vnet header leaves only the
// Ethernet header there). An invalid prefix leaves its family out.
func newSinkProg(count *ebpf.Map, p4, p6 netip.Prefix) (*ebpf.Program, error) {
	ldCount := asm.LoadMapPtr(asm.R1, 0)
	if err := ldCount.AssociateMap(count); err != nil {
		return nil, err
	}
	// r6 ctx, r7 data, r8 data_end (bpfasm's convention); r2, r3 scratch.
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R7, asm.R1, bpfasm.SkbData, asm.Word),
		asm.LoadMem(asm.R8, asm.R1, bpfasm.SkbDataEnd, asm.Word),
	}
	insns = append(insns, bpfasm.Need(asm.R7, asm.R8, sinkEthHdr, "next")...)
	insns = append(insns, asm.LoadMem(asm.R2, asm.R7, 12, asm.Half))
	// A family's test: the destination address, in words of size (4 or
	// 8 bytes) from dst, masked, against the prefix.
	type family struct {
		name      string
		etherType uint16
		p         netip.Prefix
		end, dst  int32
		size      asm.Size
		words     int
	}
	fams := []family{
		{"ipv4", 0x0800, p4, sinkIP4End, sinkIP4Dst, asm.Word, 1},
		{"ipv6", 0x86dd, p6, sinkIP6End, sinkIP6Dst, asm.DWord, 2},
	}
	for _, f := range fams {
		if f.p.IsValid() {
			insns = append(insns, asm.JEq.Imm(asm.R2, bpfasm.NE16(f.etherType), f.name))
		}
	}
	insns = append(insns, asm.Ja.Label("next"))
	for _, f := range fams {
		if !f.p.IsValid() {
			continue
		}
		is := bpfasm.Need(asm.R7, asm.R8, f.end, "pull_"+f.name)
		is[0] = is[0].WithSymbol(f.name)
		insns = append(insns, is...)
		n := f.size.Sizeof()
		for w := 0; w < f.words; w++ {
			mask, net := prefixWords(f.p, w*n, n)
			ins := asm.LoadMem(asm.R2, asm.R7, int16(f.dst)+int16(w*n), f.size)
			if w == 0 {
				ins = ins.WithSymbol(f.name + "_body")
			}
			insns = append(insns,
				ins,
				asm.LoadImm(asm.R3, int64(mask), asm.DWord),
				asm.And.Reg(asm.R2, asm.R3),
				asm.LoadImm(asm.R3, int64(net), asm.DWord),
				asm.JNE.Reg(asm.R2, asm.R3, "next"),
			)
		}
		insns = append(insns, asm.Ja.Label("drop"))
	}
	insns = append(insns,
		asm.Mov.Imm(asm.R0, sinkNext).WithSymbol("next"),
		asm.Return(),
	)
	insns = append(insns, bpfasm.CountAndReturn("drop", ldCount, sinkDrop)...)
	for _, f := range fams {
		if f.p.IsValid() {
			insns = append(insns, bpfasm.PullSkb("pull_"+f.name, f.end, "next", f.name+"_body")...)
		}
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "topo_sink",
		Type:         ebpf.SchedCLS,
		AttachType:   ebpf.AttachTCXIngress,
		Instructions: insns,
		License:      "Dual BSD/GPL",
	})
	if err != nil {
		return nil, fmt.Errorf("sink: load program: %w", err)
	}
	return prog, nil
}

// prefixWords returns the mask and the masked address of the n bytes of p's
// address from byte off, as a native-order load of them reads them.
func prefixWords(p netip.Prefix, off, n int) (mask, net uint64) {
	addr := p.Addr().AsSlice()
	var m, a [8]byte
	for i := 0; i < n; i++ {
		bit := (off + i) * 8 // the first bit of this byte in the address
		switch rest := p.Bits() - bit; {
		case rest >= 8:
			m[i] = 0xff
		case rest > 0:
			m[i] = byte(0xff << (8 - rest))
		}
		a[i] = addr[off+i] & m[i]
	}
	if n == 4 {
		return uint64(binary.NativeEndian.Uint32(m[:4])), uint64(binary.NativeEndian.Uint32(a[:4]))
	}
	return binary.NativeEndian.Uint64(m[:]), binary.NativeEndian.Uint64(a[:])
}
