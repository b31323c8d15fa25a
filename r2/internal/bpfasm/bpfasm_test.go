package bpfasm

import (
	"encoding/binary"
	"testing"

	"github.com/cilium/ebpf/asm"
)

// TestNE16: a native-order 16-bit load of the network-order bytes of v
// gives NE16(v).
func TestNE16(t *testing.T) {
	for _, v := range []uint16{0x0800, 0x86dd, 0x0806, 0x8100} {
		var b [2]byte
		binary.BigEndian.PutUint16(b[:], v)
		if got := int32(binary.NativeEndian.Uint16(b[:])); got != NE16(v) {
			t.Errorf("NE16(%#x) = %#x, a load reads %#x", v, NE16(v), got)
		}
	}
}

// TestFragments: the fragments carry their symbols where the programs
// jump to them, and none for "".
func TestFragments(t *testing.T) {
	ld := asm.LoadMapPtr(asm.R1, 0)
	if s := LookupIPv4("v4", asm.R7, 30, ld)[0].Symbol(); s != "v4" {
		t.Errorf("LookupIPv4 first symbol %q", s)
	}
	if s := LookupIPv6("", asm.R7, 38, ld)[0].Symbol(); s != "" {
		t.Errorf("LookupIPv6 with no symbol has %q", s)
	}
	c := CountAndReturn("drop", ld, 2)
	if c[0].Symbol() != "drop" || c[len(c)-2].Symbol() != "drop_ret" || c[len(c)-1].OpCode != asm.Return().OpCode {
		t.Errorf("CountAndReturn: symbols %q, %q, last %v", c[0].Symbol(), c[len(c)-2].Symbol(), c[len(c)-1])
	}
}
