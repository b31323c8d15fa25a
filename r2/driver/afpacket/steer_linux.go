//go:build linux

package afpacket

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/r2go/r2/r2/internal/bpfasm"
)

// Light-flow steering: the fanout group's eBPF program (PACKET_FANOUT_EBPF)
// that puts sparse flows into ring 0 and every other flow into one of the
// rings 1..K-1 by its hash. See "Light flows steered to ring 0" in doc.go.

// Offsets and values the program reads (uapi linux/bpf.h).
const (
	skbProtocol = 16 // struct __sk_buff: protocol, the EtherType in network order
)

// Stack of the program, below the frame pointer.
const (
	stHdr  = -48 // the IP header's first 40 bytes (IPv4: 20) and the 4 after them: the ports
	stL4   = -52 // an IPv4 header's ports past its options
	stKey  = -56 // the bucket's index, the map key
	stThr  = -64 // the thread hash (several members)
	ip4Hdr = 20
	ip6Hdr = 40
)

// refuseSteer makes Open act as if the steering program failed to load
// (tests of the fallback to the kernel's hash).
var refuseSteer bool

// ring0Gate bounds what ring 0 takes (bpfasm.SteerGate): a flood of many
// flows, each as sparse as a ping, does not move into it once it takes
// 16 kpps. A variable for the tests.
var ring0Gate = bpfasm.DefaultSteerGate

// steerer is an interface's steering program and the map of its buckets.
type steerer struct {
	prog *ebpf.Program
	m    *ebpf.Map
}

func (s *steerer) close() {
	if s == nil {
		return
	}
	s.prog.Close()
	s.m.Close()
}

// newSteerer builds the steering program of an interface served by
// members drivers (threads; 0 counts as 1) of rings receive rings each (at
// least 2). gap is Config.LightGap.
func newSteerer(rings, members int, gap time.Duration) (*steerer, error) {
	if rings < 2 {
		return nil, fmt.Errorf("light-flow steering needs 2 rings or more, not %d", rings)
	}
	members = max(members, 1)
	if members*rings > MaxFanoutMembers {
		return nil, fmt.Errorf("light-flow steering: %d members of %d rings, more than a group's %d", members, rings, MaxFanoutMembers)
	}
	if gap <= 0 || gap > MaxLightGap {
		return nil, fmt.Errorf("light-flow steering: gap %v is not in (0, %v]", gap, MaxLightGap)
	}
	m, err := ebpf.NewMap(bpfasm.SteerMapSpec())
	if err != nil {
		return nil, fmt.Errorf("steering map: %w", err)
	}
	insns, err := steerInsns(m, rings, members, gap, ring0Gate, randomSeed(), threadSeed())
	if err != nil {
		m.Close()
		return nil, err
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "r2_steer",
		Type:         ebpf.SocketFilter,
		Instructions: insns,
		License:      filterProgLicense,
	})
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("steering program: %w", err)
	}
	return &steerer{prog: prog, m: m}, nil
}

// randomSeed is a fresh random hash seed.
func randomSeed() int64 {
	var seed [8]byte
	_, _ = rand.Read(seed[:]) // never fails (crypto/rand panics rather)
	return int64(binary.NativeEndian.Uint64(seed[:]))
}

// threadSeed is the seed of the thread pick, one for the process: every
// interface's program then sends a flow's frames and its replies' to the
// same member index.
var threadSeed = sync.OnceValue(randomSeed)

// Multipliers of the flow hash (odd constants: the golden ratio's 32 bits,
// an immediate that the 64-bit multiply sign-extends, and MurmurHash3's
// 64-bit finaliser): each word of the flow's key is xored in and the sum
// multiplied by A, and the end folded with B, so that every bit of the key
// reaches the bits the bucket and the ring are taken from.
const (
	steerMulA = -0x61c88647         // 0x9e3779b9, sign-extended (an immediate)
	steerMulB = -0x00ae502812aa7333 // 0xff51afd7ed558ccd
)

// steerInsns is the steering program. In C it would be
//
//	h = seed;
//	switch (skb->protocol) {
//	case IPv4: if (load(skb, 0, hdr, 24)) { if (load(skb, 0, hdr, 20)) break; short = 1; }
//		mix(h, src); mix(h, dst); mix(h, proto);
//		if ((frag & 0x3fff) || (proto != TCP && proto != UDP)) break;
//		if (ihl == 5) { if (!short) mix(h, hdr[20..24]); }        // the ports
//		else if (!load(skb, ihl*4, l4, 4)) mix(h, l4);
//		break;
//	case IPv6: if (load(skb, 0, hdr, 44)) { if (load(skb, 0, hdr, 40)) break; short = 1; }
//		mix(h, src[0..3]); mix(h, dst[0..3]); mix(h, next);
//		if ((next == TCP || next == UDP) && !short) mix(h, hdr[40..44]);
//	}
//	h ^= h >> 29; h *= B; h ^= h >> 32;
//	home = 1 + (h >> 16 & 0xffff) % (rings - 1);
//	base = (fold(t) >> 16 & 0xffff) % members * rings;            // the member's first ring
//	return base + steer(&buckets[h & (bpfasm.SteerBuckets - 1)], home);  // bpfasm.SteerBucket
//
// with mix(h, w) = h = (h ^ w) * A and fold the three steps before
// home. The group's members are numbered in the order they joined: member
// m's ring r is m*rings + r. A flow keeps its member (thread) whatever its
// rate; only its ring there changes. With several members a second hash t,
// from tseed (one for the process), picks the member from what a flow
// and its replies share: t = mix(t, src ^ dst) (IPv6: two words each),
// and the ports as mix(t, sport ^ dport), so that, as with the kernel's
// symmetric hash, both directions of a flow take the same member index
// on every interface. A
// frame that is not IP, or too short
// for its header, hashes as the seed alone (one bucket for all of them).
// One load takes the header and the ports together: each helper call
// costs, and a frame sent from a packet socket's ring has its headers in
// page fragments, which the helper copies out.
func steerInsns(m *ebpf.Map, rings, members int, gap time.Duration, gate bpfasm.SteerGate, seed, tseed int64) (asm.Instructions, error) {
	ldMap := asm.LoadMapPtr(asm.R1, 0)
	if err := ldMap.AssociateMap(m); err != nil {
		return nil, err
	}
	// r6 ctx, r7 the hash, r8 a flag, later the home ring, r9 scratch;
	// calls clobber r0-r5.
	mix := func(w asm.Register) asm.Instructions {
		return asm.Instructions{asm.Xor.Reg(asm.R7, w), asm.Mul.Imm(asm.R7, steerMulA)}
	}
	// load calls bpf_skb_load_bytes(ctx, off, fp+to, n) with off in R2
	// (set by the caller), from the network header, where the skb's
	// data starts when the fanout hook runs; R0 is 0 when it loaded.
	// Not bpf_skb_load_bytes_relative: it reads the linear part only,
	// and a frame sent from a packet socket's ring (trafgen) arrives
	// with its headers in page fragments.
	load := func(to int16, n int32) asm.Instructions {
		return asm.Instructions{
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.Mov.Reg(asm.R3, asm.RFP),
			asm.Add.Imm(asm.R3, int32(to)),
			asm.Mov.Imm(asm.R4, n),
			asm.FnSkbLoadBytes.Call(),
		}
	}
	// mixT mixes w into the thread hash on the stack (R0 scratch); it
	// is nothing with one member.
	mixT := func(w asm.Register) asm.Instructions {
		if members < 2 {
			return nil
		}
		return asm.Instructions{
			asm.LoadMem(asm.R0, asm.RFP, stThr, asm.DWord),
			asm.Xor.Reg(asm.R0, w),
			asm.Mul.Imm(asm.R0, steerMulA),
			asm.StoreMem(asm.RFP, stThr, asm.R0, asm.DWord),
		}
	}
	// pair loads two words of size sz at a and b, xors them (the same
	// either way round) and mixes that into the thread hash.
	pair := func(a, b int16, sz asm.Size) asm.Instructions {
		if members < 2 {
			return nil
		}
		return append(asm.Instructions{
			asm.LoadMem(asm.R2, asm.RFP, a, sz),
			asm.LoadMem(asm.R3, asm.RFP, b, sz),
			asm.Xor.Reg(asm.R2, asm.R3),
		}, mixT(asm.R2)...)
	}
	// ports mixes the two halves of the ports word in R9, xored.
	ports := func() asm.Instructions {
		if members < 2 {
			return nil
		}
		return append(asm.Instructions{
			asm.Mov.Reg(asm.R2, asm.R9),
			asm.RSh.Imm(asm.R2, 16),
			asm.Mov.Reg(asm.R3, asm.R9),
			asm.And.Imm(asm.R3, 0xffff),
			asm.Xor.Reg(asm.R2, asm.R3),
		}, mixT(asm.R2)...)
	}
	const (
		tcp = 6
		udp = 17
	)
	var is asm.Instructions
	add := func(more ...asm.Instruction) { is = append(is, more...) }
	if members > 1 {
		add(
			asm.LoadImm(asm.R0, tseed, asm.DWord),
			asm.StoreMem(asm.RFP, stThr, asm.R0, asm.DWord),
		)
	}
	add(
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadImm(asm.R7, seed, asm.DWord),
		asm.LoadMem(asm.R2, asm.R6, skbProtocol, asm.Word),
		asm.JEq.Imm(asm.R2, bpfasm.NE16(fEtherIPv4), "v4"),
		asm.JEq.Imm(asm.R2, bpfasm.NE16(fEtherIPv6), "v6"),
		asm.Ja.Label("hashed"),
	)
	// header loads an IP header of n bytes and the 4 after it (the ports,
	// if the header has no options) in one call; without them (a short
	// frame) the header alone. R8 says whether the ports were loaded.
	header := func(sym string, n int32) asm.Instructions {
		is := asm.Instructions{asm.Mov.Imm(asm.R2, 0).WithSymbol(sym)}
		is = append(is, load(stHdr, n+4)...)
		is = append(is,
			asm.Mov.Imm(asm.R8, 1),
			asm.JEq.Imm(asm.R0, 0, sym+"hdr"),
			asm.Mov.Imm(asm.R2, 0))
		is = append(is, load(stHdr, n)...)
		return append(is,
			asm.Mov.Imm(asm.R8, 0),
			asm.JNE.Imm(asm.R0, 0, "hashed"))
	}
	// IPv4.
	add(header("v4", ip4Hdr)...)
	add(asm.LoadMem(asm.R9, asm.RFP, stHdr+12, asm.Word).WithSymbol("v4hdr")) // source
	add(mix(asm.R9)...)
	add(asm.LoadMem(asm.R9, asm.RFP, stHdr+16, asm.Word)) // destination
	add(mix(asm.R9)...)
	add(asm.LoadMem(asm.R9, asm.RFP, stHdr+9, asm.Byte)) // protocol
	add(mix(asm.R9)...)
	add(pair(stHdr+12, stHdr+16, asm.Word)...)
	add(
		// A fragment (offset or more-fragments set) carries the
		// ports only in the first: hash none of them.
		asm.LoadMem(asm.R2, asm.RFP, stHdr+6, asm.Half),
		asm.And.Imm(asm.R2, int32(bpfasm.NE16(0x3fff))),
		asm.JNE.Imm(asm.R2, 0, "hashed"),
		asm.JEq.Imm(asm.R9, tcp, "v4l4"),
		asm.JNE.Imm(asm.R9, udp, "hashed"),
		asm.LoadMem(asm.R2, asm.RFP, stHdr, asm.Byte).WithSymbol("v4l4"),
		asm.And.Imm(asm.R2, 0xf),
		asm.JNE.Imm(asm.R2, 5, "v4options"),
		asm.JEq.Imm(asm.R8, 0, "hashed"),
		asm.LoadMem(asm.R9, asm.RFP, stHdr+ip4Hdr, asm.Word),
	)
	add(mix(asm.R9)...)
	add(ports()...)
	add(
		asm.Ja.Label("hashed"),
		asm.LSh.Imm(asm.R2, 2).WithSymbol("v4options"),
	)
	add(load(stL4, 4)...)
	add(
		asm.JNE.Imm(asm.R0, 0, "hashed"),
		asm.LoadMem(asm.R9, asm.RFP, stL4, asm.Word),
	)
	add(mix(asm.R9)...)
	add(ports()...)
	add(asm.Ja.Label("hashed"))
	// IPv6: the fixed header and the ports the same way.
	add(header("v6", ip6Hdr)...)
	for off := int16(8); off < ip6Hdr; off += 8 { // source, destination
		is := asm.Instructions{asm.LoadMem(asm.R9, asm.RFP, stHdr+off, asm.DWord)}
		if off == 8 {
			is[0] = is[0].WithSymbol("v6hdr")
		}
		add(is...)
		add(mix(asm.R9)...)
	}
	add(pair(stHdr+8, stHdr+24, asm.DWord)...)
	add(pair(stHdr+16, stHdr+32, asm.DWord)...)
	add(asm.LoadMem(asm.R9, asm.RFP, stHdr+6, asm.Byte)) // next header
	add(mix(asm.R9)...)
	add(
		asm.JEq.Imm(asm.R9, tcp, "v6l4"),
		asm.JNE.Imm(asm.R9, udp, "hashed"),
		asm.JEq.Imm(asm.R8, 0, "hashed").WithSymbol("v6l4"),
		asm.LoadMem(asm.R9, asm.RFP, stHdr+ip6Hdr, asm.Word),
	)
	add(mix(asm.R9)...)
	add(ports()...)
	// fold finishes hash h (tmp scratch): h ^= h >> 29; h *= B;
	// h ^= h >> 32.
	fold := func(h, tmp asm.Register) asm.Instructions {
		return asm.Instructions{
			asm.Mov.Reg(tmp, h),
			asm.RSh.Imm(tmp, 29),
			asm.Xor.Reg(h, tmp),
			asm.LoadImm(tmp, steerMulB, asm.DWord),
			asm.Mul.Reg(h, tmp),
			asm.Mov.Reg(tmp, h),
			asm.RSh.Imm(tmp, 32),
			asm.Xor.Reg(h, tmp),
		}
	}
	// pick sets dst to (src >> 16 & 0xffff) % n.
	pick := func(dst, src asm.Register, n int) asm.Instructions {
		return asm.Instructions{
			asm.Mov.Reg(dst, src),
			asm.RSh.Imm(dst, 16),
			asm.And.Imm(dst, 0xffff),
			asm.Mod.Imm(dst, int32(n)),
		}
	}
	// The hash folded; the home ring (r8) and the bucket taken from it.
	f := fold(asm.R7, asm.R9)
	f[0] = f[0].WithSymbol("hashed")
	add(f...)
	add(pick(asm.R8, asm.R7, rings-1)...)
	add(asm.Add.Imm(asm.R8, 1))
	if members > 1 {
		// r6 (the context, no longer needed) = the member's first
		// ring, from the thread hash folded the same way.
		add(asm.LoadMem(asm.R6, asm.RFP, stThr, asm.DWord))
		add(fold(asm.R6, asm.R0)...)
		add(pick(asm.R6, asm.R6, members)...)
		add(asm.Mul.Imm(asm.R6, int32(rings)))
	}
	add(asm.And.Imm(asm.R7, bpfasm.SteerBuckets-1))
	add(bpfasm.SteerBucket("steer", ldMap, int32(gap.Nanoseconds()), gate, stKey, 0, nil)...)
	if members > 1 {
		add(asm.Add.Reg(asm.R0, asm.R6))
	}
	add(asm.Return())
	return is, nil
}
