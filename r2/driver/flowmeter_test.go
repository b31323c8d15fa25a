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

// ipv6TCPFrame is an Ethernet frame with an IPv6 header whose next header
// is TCP, from port sport.
func ipv6TCPFrame(sport uint16) []byte {
	f := make([]byte, 80)
	binary.BigEndian.PutUint16(f[12:], 0x86dd)
	f[14] = 0x60
	f[20] = 6
	f[22], f[38] = 0x20, 0x20
	binary.BigEndian.PutUint16(f[54:], sport)
	return f
}

// A heavy TCP flow loses one frame per TCPGap to shedding; a heavy UDP
// flow every frame; a light flow none; with TCPGap 0, TCP is shed like
// any heavy flow.
func TestSheddable(t *testing.T) {
	const gap = int64(10e6)
	udp := ipv4Frame(17, 1, 2, 0x04d20009)
	tcp4 := ipv4Frame(6, 1, 2, 0x9c400016)
	tcp6 := ipv6TCPFrame(40000)
	ping := ipv4Frame(1, 1, 3, 0x08000000)
	var m FlowMeter
	m.TCPGap = gap
	for range meterWindow / 2 { // make the three flows heavy
		m.Heavy(udp)
		m.Heavy(tcp4)
		m.Heavy(tcp6)
	}
	if m.Sheddable(ping) {
		t.Error("a light flow sheddable")
	}
	// Four sheds 4 ms apart, 100 frames of each flow offered to each.
	var dropped [3]int
	for k := range 4 {
		m.Now = 1e9 + int64(k)*4e6
		for range 100 {
			for i, f := range [][]byte{udp, tcp4, tcp6} {
				if m.Sheddable(f) {
					dropped[i]++
				}
			}
		}
	}
	// At 0 and 12 ms (more than gap apart) a TCP flow loses one frame;
	// at 4 and 8 ms none.
	if dropped != [3]int{400, 2, 2} {
		t.Errorf("dropped UDP, TCP/IPv4, TCP/IPv6 %v, want [400 2 2]", dropped)
	}
	m.TCPGap = 0
	if !m.Sheddable(tcp4) || !m.Sheddable(tcp4) {
		t.Error("TCPGap 0: a heavy TCP flow not shed like any other")
	}
}

func TestIsTCP(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    []byte
		want bool
	}{
		{"tcp4", ipv4Frame(6, 1, 2, 5), true},
		{"udp4", ipv4Frame(17, 1, 2, 5), false},
		{"tcp6", ipv6TCPFrame(1), true},
		{"vlan", append(append(make([]byte, 12), 0x81, 0), make([]byte, 60)...), false},
		{"short", make([]byte, 20), false},
	} {
		if got := isTCP(tc.f); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A heavy TCP flow that keeps the queue standing through tcpSignals
// signals is cut back like any heavy flow for the rest of the episode; a
// new episode signals it again.
func TestSheddableEscalates(t *testing.T) {
	const gap = int64(10e6)
	tcp := ipv4Frame(6, 1, 2, 0x9c400016)
	m := FlowMeter{TCPGap: gap, Episode: 1}
	for range meterWindow / 2 {
		m.Heavy(tcp)
	}
	shed := func(now int64) (n int) {
		m.Now = now
		for range 10 {
			if m.Sheddable(tcp) {
				n++
			}
		}
		return n
	}
	for k := range tcpSignals {
		if n := shed(1e9 + int64(k)*gap); n != 1 {
			t.Fatalf("signal %d: %d frames shed, want 1", k+1, n)
		}
	}
	if n := shed(1e9 + tcpSignals*gap + 1); n != 10 {
		t.Errorf("after %d signals in one episode: %d of 10 frames shed, want all", tcpSignals, n)
	}
	if m.Signals != tcpSignals {
		t.Errorf("Signals %d after the cut-back, want %d (the frames cut back are no signals)", m.Signals, tcpSignals)
	}
	m.Episode = 2
	if n := shed(1e9 + (tcpSignals+1)*gap + 2); n != 1 {
		t.Errorf("a new episode: %d frames shed, want 1 (signalled again)", n)
	}
	if m.Signals != tcpSignals+1 {
		t.Errorf("Signals %d after a new episode's first, want %d", m.Signals, tcpSignals+1)
	}
}
