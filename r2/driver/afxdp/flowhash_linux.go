//go:build linux

package afxdp

import (
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"

	"github.com/r2go/r2/r2/internal/bpfasm"
)

// Several receive rings on one queue (Config.RxRings).
//
// An AF_XDP socket's Rx ring is a FIFO: a 64 B flood fills it, and a ping
// on the same queue is then dropped by the kernel (no room) or waits
// behind the whole ring. A NIC spreads flows over RSS queues for that
// reason; on one queue R2 does it itself, as AF_PACKET's fanout does: the
// driver binds K sockets to the queue, the first owning the fill and
// completion rings and the others sharing them (XDP_SHARED_UMEM on the same
// device and queue shares the buffer pool and its two rings, Linux 5.10+),
// and the XDP program sends each frame to socket queue*K + hash(flow) % K.
// The hash covers the IP addresses, the protocol and, for TCP and UDP
// frames that are not fragments, the ports, so a flow always reaches one
// ring and keeps its order; anything else (ARP, tagged frames, frames too
// short for their headers) goes to ring 0. Recv serves the rings with
// driver.RxSched (light rings first, then deficit round robin).
//
// With Config.LightGap the ring is chosen by light-flow steering instead
// (bpfasm.SteerBucket, as AF_PACKET's fanout program does): ring 0 of the
// queue for a flow whose frames come at least the gap apart, one of rings
// 1 to K-1 by the hash for every other flow, and a flow changes ring only
// across a gap (or once after a dense run in ring 0), and only once the
// driver has read its last frame from the ring it leaves (read marks,
// readmark_linux.go); ring 0 is gated (ring0Gate, as on AF_PACKET). A
// queue's rings are one thread's, so this holds with any number of
// threads. The gap is measured when the program runs (in the device's
// NAPI poll), which a stalled poll delays for every flow alike.

// flowRedirect is the program's last part: with R6 holding the context,
// R7 data and R8 data_end, it redirects to XSKMAP slot
//
//	ctx->rx_queue_index * rings + flowHash(frame) % rings
//
// (bpf_redirect_map with XDP_PASS as the action for an empty slot), sym
// on its first instruction. rings is a power of two; with 1 it is the
// plain redirect by queue. seed is mixed into the hash (chosen at random
// for each interface's program, as the kernel seeds its flow hash at
// boot): which flows share a ring differs from run to run, and nobody
// outside can aim a flood at a given flow's ring. It uses R9 for the hash;
// calls before it may have clobbered R1-R5.
//
// With steer (light-flow steering, Config.LightGap) the ring is not the
// hash's but bpfasm.SteerBucket's: ring 0 for a flow whose frames come a
// gap apart, else 1 + hash % (rings-1); frames it cannot hash (not IP,
// too short) share one bucket instead of going to ring 0.
func flowRedirect(sym string, rings int, seed uint32, loadXsks asm.Instruction, steer *steering, pass superPass) asm.Instructions {
	if rings <= 1 {
		return append(asm.Instructions{
			asm.LoadMem(asm.R9, asm.R6, xdpMdRxQueueIndex, asm.Word).WithSymbol(sym),
		}, stampRedirect(loadXsks, 0, 1, pass)...)
	}
	need := func(n int32, miss string) asm.Instructions { return bpfasm.Need(asm.R7, asm.R8, n, miss) }
	unhashed := "fh_done" // ring 0
	if steer != nil {
		unhashed = "fh_mix"
	}
	var insns asm.Instructions
	add := func(is ...asm.Instruction) { insns = append(insns, is...) }
	add(asm.Mov.Imm(asm.R9, 0).WithSymbol(sym))
	add(need(ethHdr, unhashed)...)
	add(
		asm.LoadMem(asm.R2, asm.R7, 12, asm.Half),
		asm.JEq.Imm(asm.R2, bpfasm.NE16(etherIPv4), "fh_v4"),
		asm.JEq.Imm(asm.R2, bpfasm.NE16(etherIPv6), "fh_v6"),
		asm.Ja.Label(unhashed),
	)
	// IPv4: addresses and protocol; ports unless a fragment.
	v4 := need(ip4MinEnd, unhashed)
	v4[0] = v4[0].WithSymbol("fh_v4")
	add(v4...)
	add(
		asm.LoadMem(asm.R9, asm.R7, ethHdr+12, asm.Word),
		asm.LoadMem(asm.R2, asm.R7, ethHdr+16, asm.Word),
		asm.Xor.Reg32(asm.R9, asm.R2),
		asm.LoadMem(asm.R3, asm.R7, ethHdr+9, asm.Byte),
		asm.Xor.Reg32(asm.R9, asm.R3),
		// frag_off's MF flag and offset: a fragment carries no ports
		// (or, the first one, ports its followers lack).
		asm.LoadMem(asm.R2, asm.R7, ethHdr+6, asm.Half),
		asm.And.Imm(asm.R2, bpfasm.NE16(0x3fff)),
		asm.JNE.Imm(asm.R2, 0, "fh_mix"),
		asm.JEq.Imm(asm.R3, 6, "fh_v4ports"),
		asm.JNE.Imm(asm.R3, 17, "fh_mix"),
		// The ports follow the header, whose length is IHL words.
		asm.LoadMem(asm.R2, asm.R7, ethHdr, asm.Byte).WithSymbol("fh_v4ports"),
		asm.And.Imm(asm.R2, 0x0f),
		asm.LSh.Imm(asm.R2, 2),
		asm.Mov.Reg(asm.R4, asm.R7),
		asm.Add.Reg(asm.R4, asm.R2),
		asm.Mov.Reg(asm.R5, asm.R4),
		asm.Add.Imm(asm.R5, ethHdr+4),
		asm.JGT.Reg(asm.R5, asm.R8, "fh_mix"),
		asm.LoadMem(asm.R2, asm.R4, ethHdr, asm.Word),
		asm.Xor.Reg32(asm.R9, asm.R2),
		asm.Ja.Label("fh_mix"),
	)
	// IPv6: addresses and next header; ports when it is TCP or UDP
	// (extension headers are not walked: their flows hash without ports).
	v6 := need(ip6HdrEnd, unhashed)
	v6[0] = v6[0].WithSymbol("fh_v6")
	add(v6...)
	add(asm.LoadMem(asm.R9, asm.R7, ethHdr+8, asm.Word))
	for off := int16(ethHdr + 12); off < ip6HdrEnd; off += 4 {
		add(
			asm.LoadMem(asm.R2, asm.R7, off, asm.Word),
			asm.Xor.Reg32(asm.R9, asm.R2),
		)
	}
	add(
		asm.LoadMem(asm.R3, asm.R7, ip6NextOff, asm.Byte),
		asm.Xor.Reg32(asm.R9, asm.R3),
		asm.JEq.Imm(asm.R3, 6, "fh_v6ports"),
		asm.JNE.Imm(asm.R3, 17, "fh_mix"),
	)
	v6p := need(ip6HdrEnd+4, "fh_mix")
	v6p[0] = v6p[0].WithSymbol("fh_v6ports")
	add(v6p...)
	add(
		asm.LoadMem(asm.R2, asm.R7, ip6HdrEnd, asm.Word),
		asm.Xor.Reg32(asm.R9, asm.R2),
	)
	// Mix (a 32-bit finalizer, so that every input bit moves the low
	// bits the ring is taken from), then ring = hash % rings.
	add(
		asm.Xor.Imm32(asm.R9, int32(seed)).WithSymbol("fh_mix"),
		asm.Mov.Reg32(asm.R2, asm.R9),
		asm.RSh.Imm32(asm.R2, 16),
		asm.Xor.Reg32(asm.R9, asm.R2),
		asm.Mul.Imm32(asm.R9, 0x45d9f3b),
		asm.Mov.Reg32(asm.R2, asm.R9),
		asm.RSh.Imm32(asm.R2, 16),
		asm.Xor.Reg32(asm.R9, asm.R2),
	)
	var nowSlot int16 // 0: the stamp reads the clock
	if steer == nil {
		add(asm.And.Imm32(asm.R9, int32(rings-1)))
	} else {
		// The bucket from the low bits, the home ring from the high
		// ones; R7 and R8 (the frame's bounds) are not needed any
		// more: stampRedirect reads them again.
		add(
			asm.Mov.Reg32(asm.R7, asm.R9),
			asm.And.Imm32(asm.R7, bpfasm.SteerBuckets-1),
			asm.Mov.Reg32(asm.R8, asm.R9),
			asm.RSh.Imm32(asm.R8, 16),
			asm.Mod.Imm32(asm.R8, int32(rings-1)),
			asm.Add.Imm32(asm.R8, 1),
		)
		add(bpfasm.SteerBucket("fh_steer", steer.loadMap, steer.gapNs, ring0Gate, steerKeySlot, steerNowSlot, steer.readCheck(rings))...)
		add(asm.Mov.Reg32(asm.R9, asm.R0))
		nowSlot = steerNowSlot // the stamp takes steering's clock reading
	}
	add(
		asm.LoadMem(asm.R2, asm.R6, xdpMdRxQueueIndex, asm.Word).WithSymbol("fh_done"),
		asm.Mul.Imm32(asm.R2, int32(rings)),
		asm.Add.Reg32(asm.R9, asm.R2),
	)
	return append(insns, stampRedirect(loadXsks, nowSlot, rings, pass)...)
}

// ring0Gate bounds what ring 0 of a queue takes (bpfasm.SteerGate), as on
// AF_PACKET. A variable for the tests.
var ring0Gate = bpfasm.DefaultSteerGate

// steering is light-flow steering's part of a redirect program: the
// instruction that loads its bucket map (bpfasm.SteerMapSpec) into R1,
// the gap, and the instruction that loads the rings' read marks
// (readMarks) into R1 (none: no read check).
type steering struct {
	loadMap  asm.Instruction
	gapNs    int32
	loadRead *asm.Instruction
}

// readCheck is the steering's bpfasm.SteerRead, with rings per queue: the
// frame's queue's first slot is ctx->rx_queue_index * rings, as in the
// XSKMAP. nil without read marks.
func (s *steering) readCheck(rings int) *bpfasm.SteerRead {
	if s.loadRead == nil {
		return nil
	}
	return &bpfasm.SteerRead{
		LoadMap: *s.loadRead,
		Base: asm.Instructions{
			asm.LoadMem(asm.R3, asm.R6, xdpMdRxQueueIndex, asm.Word),
			asm.Mul.Imm32(asm.R3, int32(rings)),
		},
		Slot: steerReadSlot,
	}
}

// Stack slots of steering, below those the host-owned classifier's
// lookups use: the bucket's key, and the clock's reading, which the stamp
// takes from there (a second bpf_ktime_get_ns would cost ~30 ns a frame).
const (
	steerKeySlot  = -24
	steerNowSlot  = -32
	steerReadSlot = -56 // 16 bytes, below stampKeySlot
)

// steerWith is the steering of a program with bucket map m, gap and the
// rings' read marks read (nil: no read check); nil (no steering) if m is
// nil.
func steerWith(m *ebpf.Map, gap time.Duration, read *ebpf.Map) (*steering, error) {
	if m == nil {
		return nil, nil
	}
	ld := asm.LoadMapPtr(asm.R1, 0)
	if err := ld.AssociateMap(m); err != nil {
		return nil, err
	}
	s := &steering{loadMap: ld, gapNs: int32(gap.Nanoseconds())}
	if read != nil {
		lr := asm.LoadMapPtr(asm.R1, 0)
		if err := lr.AssociateMap(read); err != nil {
			return nil, err
		}
		s.loadRead = &lr
	}
	return s, nil
}

// stampLen is the stamp the program puts before each frame it redirects:
// the time it ran, CLOCK_MONOTONIC ns, native order.
const stampLen = 8

// stampKeySlot is the stack slot of the XSKMAP key when the stamp goes in
// front of the data (stampsInData); below steering's slots.
const stampKeySlot = -40

// stampRedirect is the end of the program, with the XSKMAP slot in R9 and
// the context in R6: it writes the time (bpf_ktime_get_ns) into stampLen
// bytes just before the frame, so that Recv knows how long a frame waited
// in its ring (Shed, HeadTime), and redirects. The stamp is XDP metadata
// (bpf_xdp_adjust_meta), which the kernel copies into the UMEM chunk with
// the frame in copy mode and leaves in the chunk's headroom in zero-copy
// mode; a device without metadata support (adjust_meta fails) gets frames
// unstamped. On a kernel that refuses the helper to XDP programs
// (stampsInData) the stamp is put in front of the data instead
// (dataStampRedirect).
// With nowSlot not 0 the time is the one an earlier part of the program
// read into that stack slot (steering's), not read again. Before all
// that, a super-frame is passed to the stack (superPassInsns, with pass
// on; rings are the rings a queue has).
func stampRedirect(loadXsks asm.Instruction, nowSlot int16, rings int, pass superPass) asm.Instructions {
	clock := asm.FnKtimeGetNs.Call()
	if nowSlot != 0 {
		clock = asm.LoadMem(asm.R0, asm.RFP, nowSlot, asm.DWord)
	}
	var rest asm.Instructions
	if stampsInData() {
		rest = dataStampRedirect(loadXsks, clock)
	} else {
		// ctx->data_meta to ctx->data
		rest = append(writeStamp(asm.FnXdpAdjustMeta, 8, 0, "fh_redirect", "fh_redirect", clock),
			asm.Mov.Reg(asm.R2, asm.R9).WithSymbol("fh_redirect"),
			loadXsks,
			asm.Mov.Imm(asm.R3, xdpPass),
			asm.FnRedirectMap.Call(),
			asm.Return(),
		)
	}
	if !pass.on {
		return rest
	}
	rest[0] = rest[0].WithSymbol("sp_no")
	return append(superPassInsns(pass, rings, clock), rest...)
}

// writeStamp grows the frame's front by stampLen with helper adjust
// (bpf_xdp_adjust_meta or _head) and writes the time clock reads into the
// stampLen bytes between the context's fields at from and to (data_meta and
// data, or data and data_end), jumping to failed if the helper fails and
// to short if those bytes are not there.
func writeStamp(adjust asm.BuiltinFunc, from, to int16, failed, short string, clock asm.Instruction) asm.Instructions {
	return asm.Instructions{
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, -stampLen),
		adjust.Call(),
		asm.JNE.Imm(asm.R0, 0, failed),
		asm.LoadMem(asm.R7, asm.R6, from, asm.Word),
		asm.LoadMem(asm.R8, asm.R6, to, asm.Word),
		asm.Mov.Reg(asm.R2, asm.R7),
		asm.Add.Imm(asm.R2, stampLen),
		asm.JGT.Reg(asm.R2, asm.R8, short),
		clock,
		asm.StoreMem(asm.R7, 0, asm.R0, asm.DWord),
	}
}

// dataStampRedirect is stampRedirect with the stamp in front of the frame
// (bpf_xdp_adjust_head), where Recv strips it: every frame that reaches a
// socket then carries one. So it first looks the slot up and passes the
// frame to the stack, untouched, when no socket holds it (the XDP_PASS of
// the redirect's flags in the other form); a socket that leaves the slot
// between the look-up and the redirect has its frame dropped (XDP_DROP),
// which only a closing driver sees.
func dataStampRedirect(loadXsks, clock asm.Instruction) asm.Instructions {
	insns := asm.Instructions{
		asm.StoreMem(asm.RFP, stampKeySlot, asm.R9, asm.Word),
		loadXsks,
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, stampKeySlot),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "fh_pass"),
	}
	// ctx->data to ctx->data_end; too short cannot be (the frame grew by
	// stampLen), but the verifier wants the check.
	insns = append(insns, writeStamp(asm.FnXdpAdjustHead, 0, 4, "fh_pass", "fh_drop", clock)...)
	return append(insns,
		asm.Mov.Reg(asm.R2, asm.R9),
		loadXsks,
		asm.Mov.Imm(asm.R3, xdpDrop),
		asm.FnRedirectMap.Call(),
		asm.Return(),
		asm.Mov.Imm(asm.R0, xdpDrop).WithSymbol("fh_drop"),
		asm.Return(),
		asm.Mov.Imm(asm.R0, xdpPass).WithSymbol("fh_pass"),
		asm.Return(),
	)
}

// stampsInData reports whether stamps go in front of the frame's data
// (dataStampRedirect): when the kernel refuses bpf_xdp_adjust_meta to XDP
// programs (some builds do), or a test asks for it. Probed once, before
// the first program is built, so every driver of the process agrees.
func stampsInData() bool {
	stampProbe.once.Do(func() {
		err := features.HaveProgramHelper(ebpf.XDP, asm.FnXdpAdjustMeta)
		stampProbe.inData = errors.Is(err, ebpf.ErrNotSupported)
	})
	return stampProbe.inData || forceDataStamps
}

// stampSkip is the length of the stamp in front of every received frame:
// stampLen when stampsInData, else 0.
func stampSkip() uint32 {
	if stampsInData() {
		return stampLen
	}
	return 0
}

var stampProbe struct {
	once   sync.Once
	inData bool
}

// forceDataStamps makes stampsInData true (tests of that form on kernels
// that have the helper).
var forceDataStamps bool

// flowHash is what flowRedirect computes for frame with seed, in Go: the
// tests check the kernel's choice of ring against it.
func flowHash(seed uint32, frame []byte) uint32 {
	le := binary.NativeEndian.Uint32 // as the program's loads read
	var h uint32
	if len(frame) < ethHdr {
		return 0
	}
	switch uint16(frame[12])<<8 | uint16(frame[13]) {
	case etherIPv4:
		if len(frame) < ip4MinEnd {
			return 0
		}
		ip := frame[ethHdr:]
		h = le(ip[12:]) ^ le(ip[16:]) ^ uint32(ip[9])
		if (ip[6]&0x3f == 0 && ip[7] == 0) && (ip[9] == 6 || ip[9] == 17) {
			l4 := ethHdr + int(ip[0]&0x0f)*4
			if l4+4 <= len(frame) {
				h ^= le(frame[l4:])
			}
		}
	case etherIPv6:
		if len(frame) < ip6HdrEnd {
			return 0
		}
		for off := ethHdr + 8; off < ip6HdrEnd; off += 4 {
			h ^= le(frame[off:])
		}
		nh := frame[ip6NextOff]
		h ^= uint32(nh)
		if (nh == 6 || nh == 17) && ip6HdrEnd+4 <= len(frame) {
			h ^= le(frame[ip6HdrEnd:])
		}
	default:
		return 0
	}
	return mixFlowHash(h, seed)
}

// mixFlowHash is flowRedirect's finalizer of the flow's words h: what a
// frame hashes to once mixed (with steering, also a frame it cannot hash:
// h 0).
func mixFlowHash(h, seed uint32) uint32 {
	h ^= seed
	h ^= h >> 16
	h *= 0x45d9f3b
	h ^= h >> 16
	return h
}
