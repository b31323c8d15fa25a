package bpfasm

import (
	"math"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// SteerMaxGap is the longest gap SteerBucket takes: it compares the gap
// with a 32-bit immediate.
const SteerMaxGap = time.Duration(math.MaxInt32)

// Light-flow steering's per-bucket state, kept in an array map of
// SteerValueSize-byte values by the programs that choose a receive ring
// (AF_PACKET's fanout program, AF_XDP's XDP program): a flow whose frames
// come at least a gap apart gets ring 0; every other flow its home ring.
const (
	SteerLast      = 0  // u64: ktime of the bucket's last frame
	SteerRing      = 8  // u16: ring of the last frame, plus one (0: none yet)
	SteerSparse    = 10 // u16: sparse arrivals in a row, at most SteerSparseRun
	SteerDense     = 12 // u32: dense arrivals in a row, at most SteerDenseRun
	SteerValueSize = 16
)

// SteerBuckets is the number of flow buckets of a steering map (a power
// of two): two flows share a bucket's state with probability
// 1/SteerBuckets, and then count as one (both dense if either is).
const SteerBuckets = 4096

// SteerMapSpec is the spec of a steering map: an array of SteerBuckets
// buckets of SteerValueSize bytes, keyed by the bucket's index.
func SteerMapSpec() *ebpf.MapSpec {
	return &ebpf.MapSpec{
		Name:       "r2_steer",
		Type:       ebpf.Array,
		KeySize:    4,
		ValueSize:  SteerValueSize,
		MaxEntries: SteerBuckets,
	}
}

// SteerSparseRun is how many sparse arrivals in a row a bucket needs
// before its flow goes to ring 0: a flow's first frame counts as sparse
// (nothing came before it), so a new flood's first frame must not take it
// there.
const SteerSparseRun = 2

// SteerDenseRun is how many frames in a row closer than the gap a flow in
// ring 0 may send before it goes to its home ring anyway: a light flow that
// turns dense (a shell starting a copy) or a flood whose bucket a light
// flow had left light would otherwise keep ring 0 until it paused. That
// move is not across a gap (its frames still in ring 0 may be read after
// its next ones); ring 0 is served first while light, so they are few. A
// light flow's bursts (a window of TCP segments) stay below it.
const SteerDenseRun = 64

// SteerBucket chooses the ring of a frame from its bucket's state: with
// the bucket's index in R7 and the flow's home ring (1 or more) in R8 it
// looks the bucket up in the array loadMap loads (the key through the
// stack slot at keySlot), reads the clock and leaves the ring in R0, 0 for
// a light flow; in C
//
//	b = &buckets[r7]; now = ktime(); last = b->last; b->last = now;
//	if (last < now && now - last >= gap) {      // sparse: nothing of it left in a ring
//		b->dense = 0;
//		if (b->sparse < SteerSparseRun) b->sparse++;
//		r = b->sparse == SteerSparseRun ? 0 : home;
//		b->ring = r + 1;
//		return r;
//	}
//	b->sparse = 0;                              // dense: stay where it is,
//	if (b->dense < SteerDenseRun) b->dense++;   // unless ring 0 for too long
//	if (!b->ring || b->ring == 1 && b->dense == SteerDenseRun) b->ring = home + 1;
//	return b->ring - 1;
//
// where "return" goes on after the fragment, whose symbols start with
// sym. gapNs is the gap in nanoseconds. If nowSlot is not 0 the clock's
// reading is left in that 8-byte stack slot too, for a program that
// stamps the frame with it. It clobbers R0-R5 and R7; R6, R8 and R9 are
// kept. Buckets are shared by the CPUs unlocked: a race costs a count,
// and a time stored later by another CPU makes the frame dense.
func SteerBucket(sym string, loadMap asm.Instruction, gapNs int32, keySlot, nowSlot int16) asm.Instructions {
	l := func(s string) string { return sym + "_" + s }
	clock := asm.Instructions{asm.FnKtimeGetNs.Call()}
	if nowSlot != 0 {
		clock = append(clock, asm.StoreMem(asm.RFP, nowSlot, asm.R0, asm.DWord))
	}
	is := asm.Instructions{
		asm.StoreMem(asm.RFP, keySlot, asm.R7, asm.Word).WithSymbol(sym),
		loadMap,
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(keySlot)),
		asm.FnMapLookupElem.Call(),
		asm.JNE.Imm(asm.R0, 0, l("bucket")),
	}
	// Cannot happen (the index is in range); the verifier wants the
	// check, and nowSlot written on every path.
	if nowSlot != 0 {
		is = append(is, clock...)
	}
	is = append(is,
		asm.Mov.Reg(asm.R0, asm.R8),
		asm.Ja.Label(l("done")),
		asm.Mov.Reg(asm.R7, asm.R0).WithSymbol(l("bucket")),
	)
	is = append(is, clock...)
	return append(is,
		asm.LoadMem(asm.R2, asm.R7, SteerLast, asm.DWord),
		asm.StoreMem(asm.R7, SteerLast, asm.R0, asm.DWord),
		asm.JGE.Reg(asm.R2, asm.R0, l("dense")),
		asm.Sub.Reg(asm.R0, asm.R2), // the gap
		asm.JLT.Imm(asm.R0, gapNs, l("dense")),
		// Sparse.
		asm.StoreImm(asm.R7, SteerDense, 0, asm.Word),
		asm.LoadMem(asm.R2, asm.R7, SteerSparse, asm.Half),
		asm.JGE.Imm(asm.R2, SteerSparseRun, l("light")),
		asm.Add.Imm(asm.R2, 1),
		asm.StoreMem(asm.R7, SteerSparse, asm.R2, asm.Half),
		asm.JGE.Imm(asm.R2, SteerSparseRun, l("light")),
		asm.Mov.Reg(asm.R0, asm.R8),
		asm.Ja.Label(l("store")),
		asm.Mov.Imm(asm.R0, 0).WithSymbol(l("light")),
		asm.Mov.Reg(asm.R2, asm.R0).WithSymbol(l("store")),
		asm.Add.Imm(asm.R2, 1),
		asm.StoreMem(asm.R7, SteerRing, asm.R2, asm.Half),
		asm.Ja.Label(l("done")),
		// Dense: stay in the ring of the last frame, unless that is
		// ring 0 and the run has grown too long for a light flow.
		asm.StoreImm(asm.R7, SteerSparse, 0, asm.Half).WithSymbol(l("dense")),
		asm.LoadMem(asm.R2, asm.R7, SteerDense, asm.Word),
		asm.JGE.Imm(asm.R2, SteerDenseRun, l("counted")),
		asm.Add.Imm(asm.R2, 1),
		asm.StoreMem(asm.R7, SteerDense, asm.R2, asm.Word),
		asm.LoadMem(asm.R0, asm.R7, SteerRing, asm.Half).WithSymbol(l("counted")),
		asm.JEq.Imm(asm.R0, 0, l("home")),
		asm.JNE.Imm(asm.R0, 1, l("stay")),
		asm.JLT.Imm(asm.R2, SteerDenseRun, l("stay")),
		asm.Mov.Reg(asm.R0, asm.R8).WithSymbol(l("home")),
		asm.Add.Imm(asm.R0, 1),
		asm.StoreMem(asm.R7, SteerRing, asm.R0, asm.Half),
		asm.Sub.Imm(asm.R0, 1).WithSymbol(l("stay")),
		asm.Mov.Reg(asm.R0, asm.R0).WithSymbol(l("done")),
	)
}
