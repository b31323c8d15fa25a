//go:build linux

package afxdp

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/r2go/r2/r2/internal/bpfasm"
)

// hostMapEntries bounds the addresses of each family that one interface
// can hand to the host (addresses and IPv4 subnet broadcasts).
const hostMapEntries = 1024

// hostProg is the XDP program of an interface in host-owned mode, beside
// the plain redirect program: the same redirect for transit frames, but
// XDP_PASS for what the Linux host must answer itself. It has the
// host's addresses in two hash maps (r2_host4: 4-byte keys, r2_host6:
// 16-byte keys, network order, value unused) and shares the driver's
// XSKMAP.
type hostProg struct {
	host4, host6 *ebpf.Map
	passed       *ebpf.Map // r2_passed: per-CPU count of frames passed
	prog         *ebpf.Program
	addrs        map[netip.Addr]bool // what the maps hold
}

// XDP action of the classifier when it lets a frame through to Linux.
const xdpActPass = xdpPass

// EtherTypes and header offsets the classifier reads (an untagged
// Ethernet header of 14 bytes).
const (
	ethHdr      = 14
	etherARP    = 0x0806
	etherIPv4   = 0x0800
	etherIPv6   = 0x86dd
	etherVLAN   = 0x8100
	etherQinQ   = 0x88a8
	ip4DstOff   = ethHdr + 16 // IPv4 destination
	ip4MinEnd   = ethHdr + 20 // a minimal IPv4 header
	ip6NextOff  = ethHdr + 6  // IPv6 next header
	ip6DstOff   = ethHdr + 24 // IPv6 destination
	ip6HdrEnd   = ethHdr + 40 // the fixed IPv6 header
	icmp6TypeAt = ip6HdrEnd   // ICMPv6 type, when next header is 58
)

// newHostProg builds the classifier around the XSKMAP xsks. In C it would be
//
//	eth = data; if (eth + 14 > end) goto redirect;
//	switch (eth->proto) {
//	case ARP, 802.1Q, 802.1ad: return XDP_PASS;
//	case IPv4: if (ip + 20 > end || ip->version != 4 || ip->ihl < 5) goto redirect;
//		if (dst in 224.0.0.0/24 || dst == 255.255.255.255 || host4[dst]) return XDP_PASS;
//		goto redirect;
//	case IPv6: if (ip6 + 40 > end || ip6->version != 6) goto redirect;
//		if (dst in ff02::/16) return XDP_PASS;
//		if (nexthdr == 58) { if (ip6 + 41 > end) goto redirect;
//			if (type in 130..137 || type == 143) return XDP_PASS; }
//		if (host6[dst]) return XDP_PASS;
//	}
//	redirect: as the plain program (flowRedirect)
//
// Every read is bounds-checked against data_end first (the verifier
// insists), and a frame too short for what its EtherType promises is
// redirected: R2 counts and drops malformed frames, the host never sees
// them. VLAN-tagged frames go to the host: R2 drops them anyway (EtherDecap
// counts "vlan"), and the host may run VLAN devices on the interface.
//
// The redirect part is the interface's redirect program's: its XSKMAP,
// rings and seed and its steering map and gap (nil: no steering), so a
// flow keeps its ring and its bucket when one program replaces the other.
func newHostProg(x *xdpProg, flags uint32) (_ *hostProg, err error) {
	xsks, rings, seed := x.xsks, x.rings, x.seed
	h := &hostProg{addrs: map[netip.Addr]bool{}}
	defer func() {
		if err != nil {
			h.close()
		}
	}()
	if h.host4, err = ebpf.NewMap(&ebpf.MapSpec{Name: "r2_host4", Type: ebpf.Hash, KeySize: 4, ValueSize: 1, MaxEntries: hostMapEntries}); err != nil {
		return nil, fmt.Errorf("host IPv4 map: %w", err)
	}
	if h.host6, err = ebpf.NewMap(&ebpf.MapSpec{Name: "r2_host6", Type: ebpf.Hash, KeySize: 16, ValueSize: 1, MaxEntries: hostMapEntries}); err != nil {
		return nil, fmt.Errorf("host IPv6 map: %w", err)
	}
	if h.passed, err = ebpf.NewMap(&ebpf.MapSpec{Name: "r2_passed", Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1}); err != nil {
		return nil, fmt.Errorf("passed-frames map: %w", err)
	}
	ldMap := func(m *ebpf.Map) (asm.Instruction, error) {
		ins := asm.LoadMapPtr(asm.R1, 0)
		return ins, ins.AssociateMap(m)
	}
	ld4, err := ldMap(h.host4)
	if err != nil {
		return nil, err
	}
	ld6, err := ldMap(h.host6)
	if err != nil {
		return nil, err
	}
	ldX, err := ldMap(xsks)
	if err != nil {
		return nil, err
	}
	ldP, err := ldMap(h.passed)
	if err != nil {
		return nil, err
	}
	// r6 ctx, r7 data, r8 data_end; r2 scratch. Calls clobber r1-r5.
	need := func(n int32, miss string) asm.Instructions { return bpfasm.Need(asm.R7, asm.R8, n, miss) }
	var insns asm.Instructions
	add := func(is ...asm.Instruction) { insns = append(insns, is...) }
	add(
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R7, asm.R1, 0, asm.Word), // ctx->data
		asm.LoadMem(asm.R8, asm.R1, 4, asm.Word), // ctx->data_end
	)
	add(need(ethHdr, "redirect")...)
	add(
		asm.LoadMem(asm.R2, asm.R7, 12, asm.Half),
		asm.JEq.Imm(asm.R2, bpfasm.NE16(etherARP), "pass"),
		asm.JEq.Imm(asm.R2, bpfasm.NE16(etherIPv4), "ipv4"),
		asm.JEq.Imm(asm.R2, bpfasm.NE16(etherIPv6), "ipv6"),
		asm.JEq.Imm(asm.R2, bpfasm.NE16(etherVLAN), "pass"),
		asm.JEq.Imm(asm.R2, bpfasm.NE16(etherQinQ), "pass"),
		asm.Ja.Label("redirect"),
	)
	// IPv4.
	add(need(ip4MinEnd, "redirect")...)
	insns[len(insns)-3] = insns[len(insns)-3].WithSymbol("ipv4")
	add(
		asm.LoadMem(asm.R2, asm.R7, ethHdr, asm.Byte),
		asm.RSh.Imm(asm.R2, 4),
		asm.JNE.Imm(asm.R2, 4, "redirect"),
		asm.LoadMem(asm.R2, asm.R7, ethHdr, asm.Byte),
		asm.And.Imm(asm.R2, 0x0f),
		asm.JLT.Imm(asm.R2, 5, "redirect"),
		// 224.0.0.0/24: local network control (IGMP, OSPF, VRRP, ...).
		asm.LoadMem(asm.R2, asm.R7, ip4DstOff, asm.Byte),
		asm.JNE.Imm(asm.R2, 224, "v4bcast"),
		asm.LoadMem(asm.R2, asm.R7, ip4DstOff+1, asm.Byte),
		asm.JNE.Imm(asm.R2, 0, "v4lookup"),
		asm.LoadMem(asm.R2, asm.R7, ip4DstOff+2, asm.Byte),
		asm.JEq.Imm(asm.R2, 0, "pass"),
		asm.Ja.Label("v4lookup"),
		asm.LoadMem(asm.R2, asm.R7, ip4DstOff, asm.Word).WithSymbol("v4bcast"),
		asm.JEq.Imm32(asm.R2, -1, "pass"),
	)
	add(bpfasm.LookupIPv4("v4lookup", asm.R7, ip4DstOff, ld4)...)
	add(
		asm.JNE.Imm(asm.R0, 0, "pass"),
		asm.Ja.Label("redirect"),
	)
	// IPv6.
	add(need(ip6HdrEnd, "redirect")...)
	insns[len(insns)-3] = insns[len(insns)-3].WithSymbol("ipv6")
	add(
		asm.LoadMem(asm.R2, asm.R7, ethHdr, asm.Byte),
		asm.RSh.Imm(asm.R2, 4),
		asm.JNE.Imm(asm.R2, 6, "redirect"),
		// ff02::/16: link-local multicast (all-nodes, solicited-node,
		// MLD reports, routing protocols).
		asm.LoadMem(asm.R2, asm.R7, ip6DstOff, asm.Byte),
		asm.JNE.Imm(asm.R2, 0xff, "v6icmp"),
		asm.LoadMem(asm.R2, asm.R7, ip6DstOff+1, asm.Byte),
		asm.JEq.Imm(asm.R2, 0x02, "pass"),
		// ICMPv6 right after the fixed header: MLD (130-132, 143) and
		// ND (133-137) go to the host whatever their destination.
		asm.LoadMem(asm.R2, asm.R7, ip6NextOff, asm.Byte).WithSymbol("v6icmp"),
		asm.JNE.Imm(asm.R2, 58, "v6lookup"),
	)
	add(need(icmp6TypeAt+1, "redirect")...)
	add(
		asm.LoadMem(asm.R2, asm.R7, icmp6TypeAt, asm.Byte),
		asm.JLT.Imm(asm.R2, 130, "v6lookup"),
		asm.JLE.Imm(asm.R2, 137, "pass"),
		asm.JEq.Imm(asm.R2, 143, "pass"),
	)
	add(bpfasm.LookupIPv6("v6lookup", asm.R7, ip6DstOff, ld6)...)
	add(asm.JNE.Imm(asm.R0, 0, "pass"))
	// Everything else: to R2, as the plain program does.
	steer, err := steerWith(x.steer, x.gap, x.readMap())
	if err != nil {
		return nil, err
	}
	add(flowRedirect("redirect", rings, seed, ldX, steer, x.pass)...)
	// Passed: counted (only these frames pay for it).
	add(bpfasm.CountAndReturn("pass", ldP, xdpActPass)...)
	h.prog, err = ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "r2_xsk_host",
		Type:         ebpf.XDP,
		Flags:        flags, // as the redirect program's (ifprog_linux.go)
		Instructions: insns,
		License:      progLicense,
	})
	if err != nil {
		return nil, fmt.Errorf("load host-owned XDP program: %w", err)
	}
	return h, nil
}

// hostKey is a's map and key: 4 bytes for IPv4 (and IPv4-mapped IPv6,
// which the classifier never sees), 16 for IPv6.
func (h *hostProg) hostKey(a netip.Addr) (*ebpf.Map, []byte) {
	if a.Is4() || a.Is4In6() {
		b := a.Unmap().As4()
		return h.host4, b[:]
	}
	b := a.As16()
	return h.host6, b[:]
}

// setAddrs makes the maps hold exactly addrs. On error the maps are as
// they were.
func (h *hostProg) setAddrs(addrs []netip.Addr) error {
	want := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		want[a.Unmap()] = true
	}
	var added []netip.Addr
	for a := range want {
		if h.addrs[a] {
			continue
		}
		m, k := h.hostKey(a)
		if err := m.Put(k, uint8(1)); err != nil {
			for _, b := range added {
				m, k := h.hostKey(b)
				m.Delete(k)
			}
			return fmt.Errorf("host address %s: %w", a, err)
		}
		added = append(added, a)
	}
	var errs []error
	for a := range h.addrs {
		if want[a] {
			continue
		}
		m, k := h.hostKey(a)
		if err := m.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			// Left behind, its frames still go to the host: harmless,
			// but say so.
			errs = append(errs, fmt.Errorf("forget host address %s: %w", a, err))
			want[a] = true
		}
	}
	h.addrs = want
	return errors.Join(errs...)
}

// passedFrames sums the per-CPU counts of passed frames.
func (h *hostProg) passedFrames() (uint64, error) {
	var per []uint64
	if err := h.passed.Lookup(uint32(0), &per); err != nil {
		return 0, err
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	return n, nil
}

// close releases the program and the maps, whatever exists of them.
func (h *hostProg) close() error {
	var errs []error
	for _, c := range []interface{ Close() error }{h.prog, h.host4, h.host6, h.passed} {
		switch x := c.(type) {
		case *ebpf.Program:
			if x != nil {
				errs = append(errs, x.Close())
			}
		case *ebpf.Map:
			if x != nil {
				errs = append(errs, x.Close())
			}
		}
	}
	return errors.Join(errs...)
}
