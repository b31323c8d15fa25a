//go:build linux

package afpacket

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/r2go/r2/r2/internal/bpfasm"
)

// Offsets in struct __sk_buff (uapi linux/bpf.h) that the filter reads.
const (
	skbVlanPresent = 20 // a tag the kernel (or the NIC) took off the frame
	skbData        = bpfasm.SkbData
	skbDataEnd     = bpfasm.SkbDataEnd
)

// tcx verdicts (uapi TCX_*). TCX_NEXT hands the frame to the next program
// of the interface's chain, or to the stack if there is none: the filter
// never decides for anything it passes.
const (
	tcxNext = -1
	tcxDrop = 2
)

// Frame layout the filter reads: an untagged Ethernet header of 14 bytes.
const (
	fEthHdr    = 14
	fEtherIPv4 = 0x0800
	fEtherIPv6 = 0x86dd
	fIP4Dst    = fEthHdr + 16
	fIP4End    = fEthHdr + 20
	fIP6Dst    = fEthHdr + 24
	fIP6End    = fEthHdr + 40
)

// filterProgLicense is the license the kernel is told; the filter calls
// only helpers that any license may.
const filterProgLicense = "Dual BSD/GPL"

// filterFamilies says which families the filter drops transit frames of:
// those the kernel does not forward on the interface (see forwardingOff).
type filterFamilies struct{ v4, v6 bool }

// newFilterProg builds the tcx ingress filter of one interface. local4 and
// local6 are the namespace's local addresses (hash maps, 4- and 16-byte
// keys in network order, shared by every interface), dropped a one-slot
// per-CPU array the program counts its drops in. In C it would be
//
//	if (skb->vlan_present) return TCX_NEXT;
//	if (eth + 14 > end || eth->dst[0] & 1) return TCX_NEXT;  // multicast, broadcast
//	switch (eth->proto) {
//	case IPv4: if (ip + 20 > end && !pull(skb, 34)) return TCX_NEXT;
//		if (ip->version != 4 || ip->ihl < 5) return TCX_NEXT;
//		if (dst[0] >= 224 || dst[0] == 127 || dst[0] == 0) return TCX_NEXT;
//		if (local4[dst]) return TCX_NEXT;
//		goto drop;
//	case IPv6: if (ip6 + 40 > end && !pull(skb, 54)) return TCX_NEXT;
//		if (ip6->version != 6) return TCX_NEXT;
//		if (dst[0] == 0xff) return TCX_NEXT;                   // multicast
//		if (local6[dst]) return TCX_NEXT;
//		goto drop;
//	}
//	return TCX_NEXT;
//	drop: dropped[0]++; return TCX_DROP;
//
// where pull is bpf_skb_pull_data when skb->len has the bytes (the header
// is in the frame, only not in the skb's linear part), re-reading the
// data pointers after it.
//
// It drops only what a kernel with forwarding off drops after its route
// lookup anyway (ip_error, ip6_forward: InAddrErrors): unicast frames of a
// family not forwarded, well formed, to an address that is not local.
// Anything it is unsure of goes on: malformed and short frames (the kernel
// counts and drops them itself), tagged frames (a VLAN device may own
// them; the kernel strips the tag before tc, so vlan_present is what says
// so), loopback, zero and multicast/broadcast/class E destinations.
func newFilterProg(local4, local6, dropped *ebpf.Map, fam filterFamilies) (*ebpf.Program, error) {
	if !fam.v4 && !fam.v6 {
		// Nothing would jump to "drop", and the verifier refuses
		// unreachable code; such a filter has no use anyway.
		return nil, fmt.Errorf("tcx filter for no family")
	}
	ldMap := func(m *ebpf.Map) (asm.Instruction, error) {
		ins := asm.LoadMapPtr(asm.R1, 0)
		return ins, ins.AssociateMap(m)
	}
	ld4, err := ldMap(local4)
	if err != nil {
		return nil, err
	}
	ld6, err := ldMap(local6)
	if err != nil {
		return nil, err
	}
	ldD, err := ldMap(dropped)
	if err != nil {
		return nil, err
	}
	// r6 ctx, r7 data, r8 data_end; r2 scratch. Calls clobber r1-r5.
	needOr := func(n int32, miss string) asm.Instructions { return bpfasm.Need(asm.R7, asm.R8, n, miss) }
	need := func(n int32) asm.Instructions { return needOr(n, "next") }
	// pull is the slow path of a frame whose IP header is not all in
	// the skb's linear part (NIC drivers pull the headers; a sender's
	// TX_RING or vnet header does not): the kernel's ip_rcv would pull
	// them too.
	pull := func(sym string, n int32, body string) asm.Instructions { return bpfasm.PullSkb(sym, n, "next", body) }
	var insns asm.Instructions
	add := func(is ...asm.Instruction) { insns = append(insns, is...) }
	label := func(sym string) { insns[len(insns)-3] = insns[len(insns)-3].WithSymbol(sym) }
	add(
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R2, asm.R1, skbVlanPresent, asm.Word),
		asm.JNE.Imm(asm.R2, 0, "next"),
		asm.LoadMem(asm.R7, asm.R1, skbData, asm.Word),
		asm.LoadMem(asm.R8, asm.R1, skbDataEnd, asm.Word),
	)
	add(need(fEthHdr)...)
	add(
		// The group bit of the destination MAC: multicast and broadcast.
		asm.LoadMem(asm.R2, asm.R7, 0, asm.Byte),
		asm.And.Imm(asm.R2, 1),
		asm.JNE.Imm(asm.R2, 0, "next"),
		asm.LoadMem(asm.R2, asm.R7, 12, asm.Half),
	)
	if fam.v4 {
		add(asm.JEq.Imm(asm.R2, bpfasm.NE16(fEtherIPv4), "ipv4"))
	}
	if fam.v6 {
		add(asm.JEq.Imm(asm.R2, bpfasm.NE16(fEtherIPv6), "ipv6"))
	}
	add(asm.Ja.Label("next"))
	if fam.v4 {
		add(needOr(fIP4End, "pull4")...)
		label("ipv4")
		add(
			asm.LoadMem(asm.R2, asm.R7, fEthHdr, asm.Byte).WithSymbol("ipv4body"),
			asm.RSh.Imm(asm.R2, 4),
			asm.JNE.Imm(asm.R2, 4, "next"),
			asm.LoadMem(asm.R2, asm.R7, fEthHdr, asm.Byte),
			asm.And.Imm(asm.R2, 0x0f),
			asm.JLT.Imm(asm.R2, 5, "next"),
			asm.LoadMem(asm.R2, asm.R7, fIP4Dst, asm.Byte),
			asm.JGE.Imm(asm.R2, 224, "next"),
			asm.JEq.Imm(asm.R2, 127, "next"),
			asm.JEq.Imm(asm.R2, 0, "next"),
		)
		add(bpfasm.LookupIPv4("", asm.R7, fIP4Dst, ld4)...)
		add(
			asm.JNE.Imm(asm.R0, 0, "next"),
			asm.Ja.Label("drop"),
		)
	}
	if fam.v6 {
		add(needOr(fIP6End, "pull6")...)
		label("ipv6")
		add(
			asm.LoadMem(asm.R2, asm.R7, fEthHdr, asm.Byte).WithSymbol("ipv6body"),
			asm.RSh.Imm(asm.R2, 4),
			asm.JNE.Imm(asm.R2, 6, "next"),
			asm.LoadMem(asm.R2, asm.R7, fIP6Dst, asm.Byte),
			asm.JEq.Imm(asm.R2, 0xff, "next"),
		)
		add(bpfasm.LookupIPv6("", asm.R7, fIP6Dst, ld6)...)
		add(
			asm.JNE.Imm(asm.R0, 0, "next"),
			asm.Ja.Label("drop"),
		)
	}
	add(
		asm.Mov.Imm(asm.R0, tcxNext).WithSymbol("next"),
		asm.Return(),
	)
	// Dropped: counted.
	add(bpfasm.CountAndReturn("drop", ldD, tcxDrop)...)
	if fam.v4 {
		add(pull("pull4", fIP4End, "ipv4body")...)
	}
	if fam.v6 {
		add(pull("pull6", fIP6End, "ipv6body")...)
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "r2_krx_filter",
		Type:         ebpf.SchedCLS,
		AttachType:   ebpf.AttachTCXIngress,
		Instructions: insns,
		License:      filterProgLicense,
	})
	if err != nil {
		return nil, fmt.Errorf("load the tcx filter: %w", err)
	}
	return prog, nil
}
