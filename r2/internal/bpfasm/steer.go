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
	SteerEntered   = 16 // u64: ktime the flow last moved to ring 0 (SteerGate)
	SteerValueSize = 24
)

// SteerBuckets is the number of flow buckets of a steering map (a power
// of two): two flows share a bucket's state with probability
// 1/SteerBuckets, and then count as one (both dense if either is).
const SteerBuckets = 4096

// SteerMapSpec is the spec of a steering map: an array of SteerBuckets
// buckets of SteerValueSize bytes, keyed by the bucket's index, and after
// them, at index SteerBuckets, ring 0's meter (SteerGate).
func SteerMapSpec() *ebpf.MapSpec {
	return &ebpf.MapSpec{
		Name:       "r2_steer",
		Type:       ebpf.Array,
		KeySize:    4,
		ValueSize:  SteerValueSize,
		MaxEntries: SteerBuckets + 1,
	}
}

// Ring 0's meter, the map's last entry: the frames steered to ring 0 in the
// current window, which began at SteerMeterStart, whether the last window
// took SteerGate.Frames or more (ring 0 closed), and since when it has been
// closed without a break.
const (
	SteerMeterStart       = 0  // u64: ktime the window began
	SteerMeterCount       = 8  // u32: frames steered to ring 0 in it
	SteerMeterClosed      = 12 // u32: 1 if the window before took Frames or more
	SteerMeterClosedSince = 16 // u64: ktime of the roll that closed it
)

// SteerGate bounds what ring 0 takes. A flood of many flows, each as
// sparse as a ping (4096 flows at 450 kpps send a frame each every 9 ms),
// would otherwise move into ring 0 flow by flow and queue there ahead of
// the light flows it is for. Once Frames frames went to ring 0 within a
// Window (nanoseconds), no flow moves there until a window takes fewer,
// and ring 0 is closed from the next window on: then a flow in ring 0
// that moved there less than Tenure before it closed goes back to its home
// ring at its next sparse frame. Flows that had ring 0 longer (a routing
// session, a monitoring ping that ran before the flood began) keep it. The
// zero value is no gate.
type SteerGate struct {
	Window int32 // ns, at most 1e9
	Frames int32
	Tenure int32 // ns
}

// DefaultSteerGate closes ring 0 while it takes 16 frames in a millisecond
// (16 kpps: far above pings, hellos and keepalives, a small part of a
// flood, which R2 serves before the other rings) and sends back the flows
// that moved there within the second before.
var DefaultSteerGate = SteerGate{Window: 1e6, Frames: 16, Tenure: 1e9}

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
//	if (last < now && now - last >= gap) {      // sparse: a gap before it
//		b->dense = 0;
//		if (b->sparse < SteerSparseRun) b->sparse++;
//		r = b->sparse == SteerSparseRun || b->ring == 1 ? 0 : home;
//		b->ring = r + 1;
//		return r;
//	}
//	b->sparse = 0;                              // dense: stay where it is,
//	if (b->dense < SteerDenseRun) b->dense++;   // unless ring 0 for too long
//	if (!b->ring || b->ring == 1 && b->dense == SteerDenseRun) b->ring = home + 1;
//	return b->ring - 1;
//
// where "return" goes on after the fragment, whose symbols start with
// sym. With a gate (SteerGate), the sparse path's ring 0 is checked
// against ring 0's meter, and every frame steered to ring 0 is counted:
//
//	m = &meter;  // buckets[SteerBuckets]
//	if (r == 0 && now - m->start < W) {             // else the meter is stale: open
//		if (b->ring == 1) {                         // in ring 0: out if it came just before it closed
//			if (m->closed && b->entered + T > m->closed_since) r = home;
//		} else if (m->closed || m->count >= F)      // not in: stays home, tries again
//			r = home;                               // at its next sparse frame
//	}
//	if (r == 0 && b->ring != 1) b->entered = now;
//	...
//	if (r == 0) {
//		if (now - m->start >= W) {                  // a new window: was the last one over?
//			c = now - m->start < 2*W && m->count >= F;
//			if (c && !m->closed) m->closed_since = now;
//			m->closed = c; m->start = now; m->count = 0;
//		}
//		atomic m->count++;
//	}
//
// With read (SteerRead), every change of ring (r, before it is stored)
// is first checked against what the reader has taken from the ring the
// flow leaves:
//
//	if (b->ring && r != b->ring - 1 && read[base + b->ring - 1] < last)
//		r = b->ring - 1;  // its last frame may still wait there: stay
//
// gapNs is the gap in nanoseconds; read may be nil (no check). If nowSlot
// is not 0 the clock's reading is left in that 8-byte stack slot too, for
// a program that stamps the frame with it. It clobbers R0-R5 and R7; R6,
// R8 and R9 are kept. Buckets are shared by the CPUs unlocked: a race costs a count,
// and a time stored later by another CPU makes the frame dense; the
// meter's count is added to atomically, its window rolled unlocked (two
// CPUs rolling at once lose a few counts).
func SteerBucket(sym string, loadMap asm.Instruction, gapNs int32, gate SteerGate, keySlot, nowSlot int16, read *SteerRead) asm.Instructions {
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
		asm.Ja.Label(l("end")), // past the meter: R7 is no bucket
		asm.Mov.Reg(asm.R7, asm.R0).WithSymbol(l("bucket")),
	)
	is = append(is, clock...)
	is = append(is, asm.LoadMem(asm.R2, asm.R7, SteerLast, asm.DWord))
	if read != nil {
		is = append(is, asm.StoreMem(asm.RFP, read.Slot, asm.R2, asm.DWord))
	}
	is = append(is,
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
		// A flow in ring 0 already stays at any sparse frame: two flows
		// in one bucket, a light one and another, mix dense and sparse
		// gaps, and the light one must not go home at every sparse
		// frame after a dense one.
		asm.LoadMem(asm.R2, asm.R7, SteerRing, asm.Half),
		asm.JEq.Imm(asm.R2, 1, l("light")),
		asm.Mov.Reg(asm.R0, asm.R8),
		asm.Ja.Label(l("store")),
	)
	is = append(is, gateEntry(l, loadMap, gate, keySlot)...)
	is = append(is, readCheck(l, keySlot, read)...)
	is = append(is,
		asm.Mov.Reg(asm.R2, asm.R0).WithSymbol(l("commit")),
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
		asm.Ja.Label(l("store")),
		asm.Sub.Imm(asm.R0, 1).WithSymbol(l("stay")),
		asm.Mov.Reg(asm.R0, asm.R0).WithSymbol(l("done")),
	)
	is = append(is, gateCount(l, loadMap, gate, keySlot)...)
	return append(is, asm.Mov.Reg(asm.R0, asm.R0).WithSymbol(l("end")))
}

// SteerRead is what SteerBucket needs to keep a flow in its ring until
// the ring's reader has taken the flow's last frame from it: an array the
// reader (R2) writes, one u64 per ring, the stamp (the program's clock
// reading, which the frame carries) of the last frame it took from that
// ring. Frames enter a ring in the order of their stamps, so every frame
// of the ring stamped at or before that value has been read. A flow that
// would move (across a gap, after a dense run in ring 0, or sent back by
// the gate) while its previous frame is stamped later stays where it is
// for this frame: however long the reader was kept from the ring, none of
// the flow's frames can then be read after a later one from another ring.
type SteerRead struct {
	// LoadMap loads the array into R1 (a pseudo map load).
	LoadMap asm.Instruction
	// Base puts into R3 the array index of ring 0 of the frame's rings
	// (with AF_XDP, the queue's first slot); it may use R1-R5 and must
	// keep R0, R6-R9.
	Base asm.Instructions
	// Slot is a 16-byte stack area below the frame pointer for the
	// check's own use (the flow's previous time, the rings).
	Slot int16
}

// readCheck is SteerBucket's "store" label with R0 the ring chosen and R7
// the bucket: with read, a change of ring is taken back (R0 = the ring of
// the bucket's last frame) unless the reader has taken that frame
// (SteerRead). It continues at "commit".
func readCheck(l func(string) string, keySlot int16, read *SteerRead) asm.Instructions {
	if read == nil {
		return asm.Instructions{asm.Mov.Reg(asm.R0, asm.R0).WithSymbol(l("store"))}
	}
	prev, from, to := read.Slot, read.Slot+8, read.Slot+12
	is := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R7, SteerRing, asm.Half).WithSymbol(l("store")),
		asm.JEq.Imm(asm.R2, 0, l("commit")), // the bucket's first frame
		asm.Sub.Imm(asm.R2, 1),
		asm.JEq.Reg(asm.R2, asm.R0, l("commit")), // no move
		asm.StoreMem(asm.RFP, from, asm.R2, asm.Word),
		asm.StoreMem(asm.RFP, to, asm.R0, asm.Word),
	}
	is = append(is, read.Base...)
	is = append(is,
		asm.LoadMem(asm.R2, asm.RFP, from, asm.Word),
		asm.Add.Reg32(asm.R3, asm.R2),
		asm.StoreMem(asm.RFP, keySlot, asm.R3, asm.Word),
		read.LoadMap,
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(keySlot)),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, l("moves")), // no such ring: nothing to wait for
		asm.LoadMem(asm.R2, asm.R0, 0, asm.DWord),
		asm.LoadMem(asm.R3, asm.RFP, prev, asm.DWord),
		asm.JGE.Reg(asm.R2, asm.R3, l("moves")),
		asm.LoadMem(asm.R0, asm.RFP, from, asm.Word), // not read yet: stays
		asm.Ja.Label(l("commit")),
		asm.LoadMem(asm.R0, asm.RFP, to, asm.Word).WithSymbol(l("moves")),
	)
	return is
}

// meterLookup looks up ring 0's meter (the key through keySlot) and jumps
// to miss if the lookup fails (it cannot: the index is in range), leaving
// its address in R0.
func meterLookup(loadMap asm.Instruction, keySlot int16, miss string) asm.Instructions {
	return asm.Instructions{
		asm.StoreImm(asm.RFP, keySlot, SteerBuckets, asm.Word),
		loadMap,
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(keySlot)),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, miss),
	}
}

// gateEntry is SteerBucket's "light" label: R0 = 0 (ring 0), or the home
// ring (R8) for a flow the gate keeps out or sends back. R7 is the bucket,
// whose SteerLast is now.
func gateEntry(l func(string) string, loadMap asm.Instruction, gate SteerGate, keySlot int16) asm.Instructions {
	if gate.Frames <= 0 {
		return asm.Instructions{asm.Mov.Imm(asm.R0, 0).WithSymbol(l("light"))}
	}
	is := meterLookup(loadMap, keySlot, l("enter"))
	is[0] = is[0].WithSymbol(l("light"))
	return append(is,
		asm.LoadMem(asm.R3, asm.R7, SteerLast, asm.DWord),
		asm.LoadMem(asm.R2, asm.R0, SteerMeterStart, asm.DWord),
		asm.Sub.Reg(asm.R3, asm.R2),
		asm.JGE.Imm(asm.R3, gate.Window, l("open")), // the meter is stale
		asm.LoadMem(asm.R2, asm.R7, SteerRing, asm.Half),
		asm.JNE.Imm(asm.R2, 1, l("entering")),
		// In ring 0: sent back if it came within Tenure of the closing.
		asm.LoadMem(asm.R2, asm.R0, SteerMeterClosed, asm.Word),
		asm.JEq.Imm(asm.R2, 0, l("stay0")),
		asm.LoadMem(asm.R2, asm.R7, SteerEntered, asm.DWord),
		asm.Add.Imm(asm.R2, gate.Tenure),
		asm.LoadMem(asm.R3, asm.R0, SteerMeterClosedSince, asm.DWord),
		asm.JGT.Reg(asm.R2, asm.R3, l("refuse")),
		asm.Mov.Imm(asm.R0, 0).WithSymbol(l("stay0")),
		asm.Ja.Label(l("store")),
		// Not in ring 0: kept out while closed or full.
		asm.LoadMem(asm.R2, asm.R0, SteerMeterClosed, asm.Word).WithSymbol(l("entering")),
		asm.JNE.Imm(asm.R2, 0, l("refuse")),
		asm.LoadMem(asm.R2, asm.R0, SteerMeterCount, asm.Word),
		asm.JGE.Imm(asm.R2, gate.Frames, l("refuse")),
		asm.Ja.Label(l("enter")),
		asm.LoadMem(asm.R2, asm.R7, SteerRing, asm.Half).WithSymbol(l("open")),
		asm.JEq.Imm(asm.R2, 1, l("stay0")),
		asm.LoadMem(asm.R2, asm.R7, SteerLast, asm.DWord).WithSymbol(l("enter")),
		asm.StoreMem(asm.R7, SteerEntered, asm.R2, asm.DWord),
		asm.Mov.Imm(asm.R0, 0),
		asm.Ja.Label(l("store")),
		asm.Mov.Reg(asm.R0, asm.R8).WithSymbol(l("refuse")),
	)
}

// gateCount follows SteerBucket's "done" label: a frame steered to ring 0
// (R0 = 0) is counted in the meter, whose window it rolls when over. R7
// is the bucket (the failed lookup jumps past this).
func gateCount(l func(string) string, loadMap asm.Instruction, gate SteerGate, keySlot int16) asm.Instructions {
	if gate.Frames <= 0 {
		return nil
	}
	is := asm.Instructions{
		asm.JNE.Imm(asm.R0, 0, l("end")),
		asm.LoadMem(asm.R7, asm.R7, SteerLast, asm.DWord), // now; the bucket is done with
	}
	is = append(is, meterLookup(loadMap, keySlot, l("zero"))...)
	return append(is,
		asm.LoadMem(asm.R2, asm.R0, SteerMeterStart, asm.DWord),
		asm.Mov.Reg(asm.R3, asm.R7),
		asm.Sub.Reg(asm.R3, asm.R2),
		asm.JLT.Imm(asm.R3, gate.Window, l("count")),
		// A new window: closed if the one that just ended took Frames
		// or more (not if ring 0 has been quiet since); the time it
		// closed is kept while it stays closed.
		asm.Mov.Imm(asm.R4, 0),
		asm.JGE.Imm(asm.R3, 2*gate.Window, l("roll")),
		asm.LoadMem(asm.R5, asm.R0, SteerMeterCount, asm.Word),
		asm.JLT.Imm(asm.R5, gate.Frames, l("roll")),
		asm.Mov.Imm(asm.R4, 1),
		asm.LoadMem(asm.R5, asm.R0, SteerMeterClosed, asm.Word),
		asm.JNE.Imm(asm.R5, 0, l("roll")),
		asm.StoreMem(asm.R0, SteerMeterClosedSince, asm.R7, asm.DWord),
		asm.StoreMem(asm.R0, SteerMeterClosed, asm.R4, asm.Word).WithSymbol(l("roll")),
		asm.StoreMem(asm.R0, SteerMeterStart, asm.R7, asm.DWord),
		asm.StoreImm(asm.R0, SteerMeterCount, 0, asm.Word),
		asm.Mov.Imm(asm.R1, 1).WithSymbol(l("count")),
		asm.AddAtomic.Mem(asm.R0, asm.R1, asm.Word, SteerMeterCount),
		asm.Mov.Imm(asm.R0, 0).WithSymbol(l("zero")),
	)
}
