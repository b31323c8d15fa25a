//go:build linux

package topo

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"

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
type Sink struct {
	count *ebpf.Map // per-CPU array, one slot: frames dropped
	prog  *ebpf.Program
	lnk   link.Link
}

// Offsets in struct __sk_buff (uapi linux/bpf.h) the sink reads.
const (
	sinkSkbLen     = 0
	sinkSkbData    = 76
	sinkSkbDataEnd = 80
)

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
	// r6 ctx, r7 data, r8 data_end; r2, r3 scratch.
	need := func(n int32, miss string) asm.Instructions { return bpfasm.Need(asm.R7, asm.R8, n, miss) }
	// match drops the frame if the 8-byte (or 4-byte) load at off, masked,
	// equals net.
	match := func(size asm.Size, off int16, mask, net uint64, miss string) asm.Instructions {
		return asm.Instructions{
			asm.LoadMem(asm.R2, asm.R7, off, size),
			asm.LoadImm(asm.R3, int64(mask), asm.DWord),
			asm.And.Reg(asm.R2, asm.R3),
			asm.LoadImm(asm.R3, int64(net), asm.DWord),
			asm.JNE.Reg(asm.R2, asm.R3, miss),
		}
	}
	pull := func(sym string, n int32, body string) asm.Instructions {
		is := asm.Instructions{
			asm.LoadMem(asm.R2, asm.R6, sinkSkbLen, asm.Word).WithSymbol(sym),
			asm.JLT.Imm(asm.R2, n, "next"),
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.Mov.Imm(asm.R2, n),
			asm.FnSkbPullData.Call(),
			asm.JNE.Imm(asm.R0, 0, "next"),
			asm.LoadMem(asm.R7, asm.R6, sinkSkbData, asm.Word),
			asm.LoadMem(asm.R8, asm.R6, sinkSkbDataEnd, asm.Word),
		}
		is = append(is, need(n, "next")...)
		return append(is, asm.Ja.Label(body))
	}
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R7, asm.R1, sinkSkbData, asm.Word),
		asm.LoadMem(asm.R8, asm.R1, sinkSkbDataEnd, asm.Word),
	}
	insns = append(insns, need(sinkEthHdr, "next")...)
	insns = append(insns, asm.LoadMem(asm.R2, asm.R7, 12, asm.Half))
	if p4.IsValid() {
		insns = append(insns, asm.JEq.Imm(asm.R2, bpfasm.NE16(0x0800), "ipv4"))
	}
	if p6.IsValid() {
		insns = append(insns, asm.JEq.Imm(asm.R2, bpfasm.NE16(0x86dd), "ipv6"))
	}
	insns = append(insns, asm.Ja.Label("next"))
	if p4.IsValid() {
		is := need(sinkIP4End, "pull4")
		is[0] = is[0].WithSymbol("ipv4")
		insns = append(insns, is...)
		mask, net := prefixWords(p4, 0, 4)
		is = match(asm.Word, sinkIP4Dst, mask, net, "next")
		is[0] = is[0].WithSymbol("ipv4body")
		insns = append(insns, is...)
		insns = append(insns, asm.Ja.Label("drop"))
	}
	if p6.IsValid() {
		is := need(sinkIP6End, "pull6")
		is[0] = is[0].WithSymbol("ipv6")
		insns = append(insns, is...)
		mask, net := prefixWords(p6, 0, 8)
		is = match(asm.DWord, sinkIP6Dst, mask, net, "next")
		is[0] = is[0].WithSymbol("ipv6body")
		insns = append(insns, is...)
		mask, net = prefixWords(p6, 8, 8)
		insns = append(insns, match(asm.DWord, sinkIP6Dst+8, mask, net, "next")...)
		insns = append(insns, asm.Ja.Label("drop"))
	}
	insns = append(insns,
		asm.Mov.Imm(asm.R0, sinkNext).WithSymbol("next"),
		asm.Return(),
	)
	insns = append(insns, bpfasm.CountAndReturn("drop", ldCount, sinkDrop)...)
	if p4.IsValid() {
		insns = append(insns, pull("pull4", sinkIP4End, "ipv4body")...)
	}
	if p6.IsValid() {
		insns = append(insns, pull("pull6", sinkIP6End, "ipv6body")...)
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
