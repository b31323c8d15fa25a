package driver

import "encoding/binary"

// Flow meter sizes. A flow is heavy when it has more than heavyCount of the
// last about meterWindow..2*meterWindow frames metered (counts halve every
// meterWindow frames): more than roughly 1-2% of them. A ping every 10 ms
// beside a 60 kpps flood is one frame in 600 and stays light.
const (
	meterBuckets = 256
	meterWindow  = 1024
	heavyCount   = 24
	// tcpSignals is how many signals (one frame each, TCPGap apart) a
	// heavy TCP flow gets in one standing episode before it is cut back
	// like a flow that does not slow down: a queue that still stands
	// after four halvings of a sender's window is not that sender's
	// doing alone, or the sender does not react.
	tcpSignals = 4
)

// FlowMeter estimates which flows carry most of the frames at the head of a
// receive queue, so that shedding spares the light ones. Flows hash into
// meterBuckets counters (collisions only make a light flow look heavier).
// Owned by one forwarding thread; the zero value is ready to use.
type FlowMeter struct {
	counts [meterBuckets]uint16
	seen   int

	// TCPGap, when above 0, makes shedding signal TCP flows rather than
	// cut them back (Sheddable): a heavy TCP flow loses at most one frame
	// to shedding per TCPGap nanoseconds. A TCP sender halves its window
	// at one loss, which drains the standing queue within a round trip;
	// cutting a queue's worth of its segments at once (hundreds) only
	// costs it as many retransmissions. Flows that do not react to loss
	// (floods, UDP) are still cut back whole.
	TCPGap int64
	// Now is the time (ns) the caller sheds at, and Episode the standing
	// episode of the queue (ShedControl.Episode), set before each Shed.
	Now     int64
	Episode uint32
	// Signals counts the TCP frames Sheddable let go as signals (before
	// a flow is cut back), for the caller's counters.
	Signals uint64
	tcp     [meterBuckets]tcpSignal
}

// tcpSignal is what shedding did to a TCP flow's bucket: when it last
// lost a frame (FlowMeter.Now; 0 for never) and how many it lost in
// standing episode ep.
type tcpSignal struct {
	last    int64
	ep      uint32
	signals uint8
}

// Heavy counts the Ethernet frame's flow and reports whether the flow is
// heavy.
func (m *FlowMeter) Heavy(frame []byte) bool {
	return m.count(flowHash(frame) % meterBuckets)
}

// count counts a frame of bucket h and reports whether its flow is heavy.
func (m *FlowMeter) count(h uint32) bool {
	m.counts[h]++
	m.seen++
	if m.seen >= meterWindow {
		for i := range m.counts {
			m.counts[i] >>= 1
		}
		m.seen = 0
	}
	return m.counts[h] > heavyCount
}

// Sheddable counts the Ethernet frame's flow, as Heavy, and reports
// whether shedding drops the frame: its flow is heavy and, when TCPGap is
// set and the frame is TCP, the flow has not lost a frame to shedding in
// the last TCPGap, or has had tcpSignals such losses in this standing
// episode already and a TCPGap since (it did not slow down enough: it is
// cut back from then on). A true answer for a TCP frame records that
// loss, so call it only for a frame that is dropped when it says so.
// Shedding stops at a frame it may not drop (it takes frames from the
// head of a queue), so a TCP flow at the head also spares what is queued
// behind it until the next Shed.
func (m *FlowMeter) Sheddable(frame []byte) bool {
	h := flowHash(frame) % meterBuckets
	if !m.count(h) {
		return false
	}
	if m.TCPGap <= 0 || !isTCP(frame) {
		return true
	}
	t := &m.tcp[h]
	if t.ep != m.Episode {
		t.ep, t.signals = m.Episode, 0
	}
	if t.signals > tcpSignals {
		return true // signalled tcpSignals times, and a gap after the last
	}
	if t.last != 0 && m.Now-t.last < m.TCPGap {
		return false
	}
	t.last = m.Now
	t.signals++
	if t.signals <= tcpSignals {
		m.Signals++
	}
	return true
}

// isTCP reports whether Ethernet frame f is an untagged IPv4 or IPv6 frame
// whose IP header says TCP (IPv6: the first next header; extension
// headers are not followed).
func isTCP(f []byte) bool {
	if len(f) < 24 {
		return false
	}
	switch binary.BigEndian.Uint16(f[12:14]) {
	case 0x0800:
		return f[23] == 6
	case 0x86dd:
		return f[20] == 6
	}
	return false
}

// flowHash hashes an Ethernet frame's flow: IPv4 or IPv6 addresses,
// protocol and the first four bytes after the IP header (TCP/UDP ports, the
// ICMP type and code); other frames hash by EtherType.
func flowHash(f []byte) uint32 {
	if len(f) < 14 {
		return 0
	}
	h := uint32(2166136261)
	et := binary.BigEndian.Uint16(f[12:14])
	switch {
	case et == 0x0800 && len(f) >= 34:
		ihl := int(f[14]&0x0f) * 4
		h = fnv(h, f[23:24])
		h = fnv(h, f[26:34])
		if len(f) >= 14+ihl+4 {
			h = fnv(h, f[14+ihl:14+ihl+4])
		}
	case et == 0x86dd && len(f) >= 54:
		h = fnv(h, f[20:21])
		h = fnv(h, f[22:54])
		if len(f) >= 58 {
			h = fnv(h, f[54:58])
		}
	default:
		h = fnv(h, f[12:14])
	}
	return h
}

// fnv folds b into the FNV-1a hash h.
func fnv(h uint32, b []byte) uint32 {
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
}
