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
)

// FlowMeter estimates which flows carry most of the frames at the head of a
// receive queue, so that shedding spares the light ones. Flows hash into
// meterBuckets counters (collisions only make a light flow look heavier).
// Owned by one forwarding thread; the zero value is ready to use.
type FlowMeter struct {
	counts [meterBuckets]uint16
	seen   int
}

// Heavy counts the Ethernet frame's flow and reports whether the flow is
// heavy.
func (m *FlowMeter) Heavy(frame []byte) bool {
	h := flowHash(frame) % meterBuckets
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
