// Package bpfasm holds the pieces of BPF assembly that R2's packet
// classifiers share (the AF_XDP host-owned XDP program, the AF_PACKET
// tcx filter and the test topology's traffic sink): looking an address up in a hash map keyed by it, counting
// in a per-CPU array, EtherType constants in load order, and the bucket
// state of light-flow steering (SteerBucket). Each program
// keeps its own control flow; only the fragments are said once here.
package bpfasm

import (
	"encoding/binary"

	"github.com/cilium/ebpf/asm"
)

// NE16 is v in network order as a native-order 16-bit load of a frame
// reads it, so EtherTypes compare without a byte swap.
func NE16(v uint16) int32 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return int32(binary.NativeEndian.Uint16(b[:]))
}

// Stack slots the fragments use below the frame pointer: the key of an
// address lookup (16 bytes for IPv6, 4 for IPv4) and the key of a counter.
const (
	addrKey    = -16
	counterKey = -20
)

// Need jumps to miss unless the n bytes from the frame's start (register
// data) are before its end (register end), as the verifier wants before
// any direct access to them. It uses R2 as scratch.
func Need(data, end asm.Register, n int32, miss string) asm.Instructions {
	return asm.Instructions{
		asm.Mov.Reg(asm.R2, data),
		asm.Add.Imm(asm.R2, n),
		asm.JGT.Reg(asm.R2, end, miss),
	}
}

// LookupIPv4 looks the 4 bytes at offset off from register base up in the
// map loadMap loads into R1 (a pseudo map load), with sym (if not "") on
// its first instruction: R0 is then the value or 0. It clobbers R1-R5.
func LookupIPv4(sym string, base asm.Register, off int16, loadMap asm.Instruction) asm.Instructions {
	return asm.Instructions{
		named(asm.LoadMem(asm.R2, base, off, asm.Word), sym),
		asm.StoreMem(asm.RFP, -4, asm.R2, asm.Word),
		loadMap,
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
	}
}

// LookupIPv6 is LookupIPv4 for the 16 bytes at off.
func LookupIPv6(sym string, base asm.Register, off int16, loadMap asm.Instruction) asm.Instructions {
	return asm.Instructions{
		named(asm.LoadMem(asm.R2, base, off, asm.DWord), sym),
		asm.StoreMem(asm.RFP, addrKey, asm.R2, asm.DWord),
		asm.LoadMem(asm.R2, base, off+8, asm.DWord),
		asm.StoreMem(asm.RFP, addrKey+8, asm.R2, asm.DWord),
		loadMap,
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, addrKey),
		asm.FnMapLookupElem.Call(),
	}
}

// CountAndReturn adds one to entry 0 of the per-CPU array loadMap loads
// (per CPU, so without atomics) and returns ret, with sym on its first
// instruction and sym+"_ret" on the return.
func CountAndReturn(sym string, loadMap asm.Instruction, ret int32) asm.Instructions {
	return asm.Instructions{
		asm.StoreImm(asm.RFP, counterKey, 0, asm.Word).WithSymbol(sym),
		loadMap,
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, counterKey),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, sym+"_ret"),
		asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
		asm.Add.Imm(asm.R1, 1),
		asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R0, ret).WithSymbol(sym + "_ret"),
		asm.Return(),
	}
}

// named is ins with symbol sym, or as it is for "".
func named(ins asm.Instruction, sym string) asm.Instruction {
	if sym == "" {
		return ins
	}
	return ins.WithSymbol(sym)
}

// Offsets in struct __sk_buff (uapi linux/bpf.h) that tc programs read.
const (
	SkbLen     = 0
	SkbData    = 76
	SkbDataEnd = 80
)

// PullSkb is the slow path of a tc program whose frame's first n bytes are
// not all in the skb's linear part, where direct access reaches (a
// sender's TX_RING or vnet header leaves only the Ethernet header there):
// if the frame is that long, bpf_skb_pull_data brings them in, the data
// pointers are read again, and it jumps to body; otherwise, or if the pull
// fails, to miss. sym names its first instruction. It expects the program's
// registers as R2's programs keep them: R6 the context, R7 data, R8
// data_end; it clobbers R0-R5.
func PullSkb(sym string, n int32, miss, body string) asm.Instructions {
	is := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R6, SkbLen, asm.Word).WithSymbol(sym),
		asm.JLT.Imm(asm.R2, n, miss),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, n),
		asm.FnSkbPullData.Call(),
		asm.JNE.Imm(asm.R0, 0, miss),
		asm.LoadMem(asm.R7, asm.R6, SkbData, asm.Word),
		asm.LoadMem(asm.R8, asm.R6, SkbDataEnd, asm.Word),
	}
	is = append(is, Need(asm.R7, asm.R8, n, miss)...)
	return append(is, asm.Ja.Label(body))
}
