package driver

import (
	"encoding/binary"
	"testing"
)

// ipv4Frame is an Ethernet frame with an IPv4 header of protocol proto
// and four bytes after it (ports, or ICMP type and code).
func ipv4Frame(proto byte, src, dst byte, l4 uint32) []byte {
	f := make([]byte, 64)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	f[14] = 0x45
	f[23] = proto
	f[29], f[33] = src, dst
	binary.BigEndian.PutUint32(f[34:], l4)
	return f
}

func TestFlowMeter(t *testing.T) {
	flood := ipv4Frame(17, 1, 2, 0x04d20009)
	ping := ipv4Frame(1, 1, 2, 0x08000000)
	var m FlowMeter
	heavy, pingHeavy := 0, 0
	for i := range 10 * meterWindow {
		if m.Heavy(flood) {
			heavy++
		}
		if i%600 == 0 && m.Heavy(ping) {
			pingHeavy++
		}
	}
	if heavy < 9*meterWindow {
		t.Errorf("flood heavy %d times of %d, want nearly all", heavy, 10*meterWindow)
	}
	if pingHeavy != 0 {
		t.Errorf("a ping beside the flood counted heavy %d times", pingHeavy)
	}
}

func TestFlowHash(t *testing.T) {
	tests := []struct {
		name string
		a, b []byte
		same bool
	}{
		{name: "same flow", a: ipv4Frame(17, 1, 2, 5), b: ipv4Frame(17, 1, 2, 5), same: true},
		{name: "protocol", a: ipv4Frame(17, 1, 2, 5), b: ipv4Frame(1, 1, 2, 5)},
		{name: "ports", a: ipv4Frame(17, 1, 2, 5), b: ipv4Frame(17, 1, 2, 6)},
		{name: "address", a: ipv4Frame(17, 1, 2, 5), b: ipv4Frame(17, 1, 3, 5)},
		{name: "short frames", a: []byte{1}, b: []byte{2}, same: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := flowHash(tc.a) == flowHash(tc.b); got != tc.same {
				t.Errorf("same hash = %v, want %v", got, tc.same)
			}
		})
	}
}
