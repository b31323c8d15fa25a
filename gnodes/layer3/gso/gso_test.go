package gso_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"

	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/gnodes/layer3/gso"
	"github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

// csum is an RFC 1071 checksum written independently of r2/hdr.
var csum = graphtest.RefChecksum

// superFrame builds an IPv4 or IPv6 TCP or UDP packet with payload bytes
// of payload and the GSO metadata a vnet-header driver would give it.
func superFrame(v6, udp bool, payload, mss int, flags byte) []byte {
	l3 := 20
	if v6 {
		l3 = 40
	}
	l4 := 20 + 12 // TCP with a timestamp option
	if udp {
		l4 = 8
	}
	b := make([]byte, l3+l4+payload)
	proto := byte(6)
	if udp {
		proto = 17
	}
	if v6 {
		b[0] = 0x60
		binary.BigEndian.PutUint16(b[4:], uint16(l4+payload))
		b[6], b[7] = proto, 63
		for i := 8; i < 40; i++ {
			b[i] = byte(0x20 + i)
		}
	} else {
		b[0] = 0x45
		binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
		binary.BigEndian.PutUint16(b[4:], 0xfff0) // wraps during segmentation
		b[6] = 0x40                               // DF
		b[8], b[9] = 63, proto
		copy(b[12:], []byte{10, 1, 0, 1, 10, 2, 0, 9})
		c := csum(b[:20])
		binary.BigEndian.PutUint16(b[10:], c)
	}
	h := b[l3:]
	binary.BigEndian.PutUint16(h[0:], 40000)
	binary.BigEndian.PutUint16(h[2:], 5201)
	if udp {
		binary.BigEndian.PutUint16(h[4:], uint16(l4+payload))
	} else {
		binary.BigEndian.PutUint32(h[4:], 0xfffff000) // wraps too
		binary.BigEndian.PutUint32(h[8:], 77)
		h[12] = byte(l4/4) << 4
		h[13] = flags
		binary.BigEndian.PutUint16(h[14:], 512)
		copy(h[20:], []byte{1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8})
	}
	for i := l3 + l4; i < len(b); i++ {
		b[i] = byte(i*7 + i>>8)
	}
	// The checksum field holds garbage: GSO must not depend on it.
	return b
}

func packetOf(t testing.TB, pool *packet.Pool, b []byte, v6, udp bool, mss int) *packet.Packet {
	from := pool
	if len(b) > packet.MaxData {
		from = pool.Big()
	}
	p := from.Get()
	if !p.SetData(b) {
		t.Fatalf("%d bytes do not fit", len(b))
	}
	l3 := 20
	typ := packet.GSOTCPv4
	if v6 {
		l3 = 40
		typ = packet.GSOTCPv6
	}
	off := uint16(16)
	if udp {
		typ, off = packet.GSOUDPL4, 6
	}
	p.GSO = packet.GSO{CsumStart: uint16(p.Head() + l3), CsumOffset: off, Size: uint16(mss), Type: typ, Flags: packet.GSONeedsCsum}
	p.L3 = p.Head()
	if v6 {
		p.Meta |= packet.MetaIPv6
	}
	return p
}

func newPool() *packet.Pool {
	pool := packet.NewPool(0, 512)
	pool.SetBig(packet.NewBigPool(0, 16))
	return pool
}

// check verifies segs against the super-frame in: headers, lengths, IDs,
// sequence numbers, flags and checksums, and that the payloads put back
// together are the original's.
func check(t *testing.T, in []byte, segs []*packet.Packet, v6, udp bool, mss int) {
	t.Helper()
	l3 := 20
	if v6 {
		l3 = 40
	}
	l4 := 32
	if udp {
		l4 = 8
	}
	hl := l3 + l4
	want := in[hl:]
	if n := (len(want) + mss - 1) / mss; len(segs) != n {
		t.Fatalf("%d segments, want %d", len(segs), n)
	}
	var got []byte
	for i, s := range segs {
		b := s.Data()
		pay := b[hl:]
		if i < len(segs)-1 && len(pay) != mss {
			t.Errorf("segment %d: %d payload bytes, want %d", i, len(pay), mss)
		}
		got = append(got, pay...)
		var pseudo []byte
		if v6 {
			if int(binary.BigEndian.Uint16(b[4:])) != len(b)-40 {
				t.Errorf("segment %d: payload length %d", i, binary.BigEndian.Uint16(b[4:]))
			}
			pseudo = append(append([]byte{}, b[8:40]...), 0, 0, byte((len(b)-l3)>>8), byte(len(b)-l3), 0, 0, 0, b[6])
		} else {
			if int(binary.BigEndian.Uint16(b[2:])) != len(b) {
				t.Errorf("segment %d: total length %d, want %d", i, binary.BigEndian.Uint16(b[2:]), len(b))
			}
			if id := binary.BigEndian.Uint16(b[4:]); id != 0xfff0+uint16(i) {
				t.Errorf("segment %d: IP ID %#x", i, id)
			}
			if csum(b[:20]) != 0 {
				t.Errorf("segment %d: bad IPv4 header checksum", i)
			}
			pseudo = append(append([]byte{}, b[12:20]...), 0, b[9], byte((len(b)-l3)>>8), byte(len(b)-l3))
		}
		if csum(pseudo, b[l3:]) != 0 {
			t.Errorf("segment %d: bad L4 checksum", i)
		}
		h := b[l3:]
		if udp {
			if int(binary.BigEndian.Uint16(h[4:])) != len(h) {
				t.Errorf("segment %d: UDP length %d, want %d", i, binary.BigEndian.Uint16(h[4:]), len(h))
			}
			if binary.BigEndian.Uint16(h[6:]) == 0 {
				t.Errorf("segment %d: UDP checksum 0", i)
			}
			continue
		}
		if seq := binary.BigEndian.Uint32(h[4:]); seq != 0xfffff000+uint32(i*mss) {
			t.Errorf("segment %d: seq %#x", i, seq)
		}
		f := in[l3+13]
		if i < len(segs)-1 {
			f &^= 0x01 | 0x08
		}
		if i > 0 {
			f &^= 0x80
		}
		if h[13] != f {
			t.Errorf("segment %d: flags %#x, want %#x", i, h[13], f)
		}
		if !bytes.Equal(h[14:16], in[l3+14:l3+16]) || !bytes.Equal(h[18:l4], in[l3+18:l3+l4]) {
			t.Errorf("segment %d: window, pointer or options changed", i)
		}
	}
	if !bytes.Equal(got, want) {
		t.Errorf("reassembled payload differs from the original (%d vs %d bytes)", len(got), len(want))
	}
}

func TestSegment(t *testing.T) {
	tests := []struct {
		name         string
		v6, udp      bool
		payload, mss int
		flags        byte
	}{
		{name: "tcp4 64KiB", payload: 65535 - 52, mss: 1448, flags: 0x80 | 0x10 | 0x08 | 0x01},
		{name: "tcp4 exact multiple", payload: 4 * 1448, mss: 1448, flags: 0x10 | 0x08},
		{name: "tcp4 one short segment", payload: 100, mss: 1448, flags: 0x18},
		{name: "tcp6 64KiB", v6: true, payload: 65535 - 32, mss: 1428, flags: 0x80 | 0x18 | 0x01},
		{name: "tcp4 jumbo segments (big packets)", payload: 30000, mss: 8948, flags: 0x18},
		{name: "udp4", udp: true, payload: 30001, mss: 1472},
		{name: "udp6", v6: true, udp: true, payload: 20000, mss: 1452},
		{name: "tcp4 smallest MSS", payload: 65000, mss: 536, flags: 0x18},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pool := newPool()
			in := superFrame(tc.v6, tc.udp, tc.payload, tc.mss, tc.flags)
			p := packetOf(t, pool, in, tc.v6, tc.udp, tc.mss)
			var segs [gso.MaxSegments]*packet.Packet
			k, err := gso.Segment(p, pool, segs[:])
			if err != nil {
				t.Fatal(err)
			}
			if c := gso.Count(p); c != k {
				t.Errorf("Count %d, Segment made %d", c, k)
			}
			check(t, in, segs[:k], tc.v6, tc.udp, tc.mss)
			for _, s := range segs[:k] {
				pool.Free(s)
			}
			pool.Free(p)
			if st := pool.Stats(); st.InFlight != 0 {
				t.Errorf("leak: %+v", st)
			}
			if st := pool.Big().Stats(); st.InFlight != 0 {
				t.Errorf("big pool leak: %+v", st)
			}
		})
	}
}

func TestSegmentErrors(t *testing.T) {
	pool := packet.NewPool(0, 8) // too few for a 64 KiB super-frame
	pool.SetBig(packet.NewBigPool(0, 1))
	in := superFrame(false, false, 60000, 1448, 0x18)
	p := packetOf(t, pool, in, false, false, 1448)
	var segs [gso.MaxSegments]*packet.Packet
	if _, err := gso.Segment(p, pool, segs[:]); err != gso.ErrNoBuf {
		t.Errorf("got %v, want ErrNoBuf", err)
	}
	p.GSO.Size = 1 // 60,000 segments
	if _, err := gso.Segment(p, pool, segs[:]); err != gso.ErrBad {
		t.Errorf("got %v, want ErrBad", err)
	}
	pool.Free(p)
	if st := pool.Stats(); st.InFlight != 0 {
		t.Errorf("leak: %+v", st)
	}
}

func TestSegmentAllocs(t *testing.T) {
	pool := newPool()
	in := superFrame(false, false, 65000, 1448, 0x18)
	p := packetOf(t, pool, in, false, false, 1448)
	var segs [gso.MaxSegments]*packet.Packet
	a := testing.AllocsPerRun(100, func() {
		k, _ := gso.Segment(p, pool, segs[:])
		for _, s := range segs[:k] {
			pool.Free(s)
		}
	})
	if a != 0 {
		t.Errorf("%v allocations per super-frame", a)
	}
}

// TestNode runs the node: a super-frame to an output with a smaller MTU
// and DF clear goes out as segments, the ones too big to IPv4Frag; a frame
// with only a checksum to finish gets it finished.
func TestNode(t *testing.T) {
	intfs := (&fwd.Interfaces{}).With(&fwd.Interface{Ifindex: 1, Name: "eth1", MAC: [6]byte{2, 0, 0, 0, 0, 1}, MTU: 1500, Up: true})
	h := graphtest.New(t, graphtest.Options{PoolSize: 256})
	h.Pool.SetBig(packet.NewBigPool(h.Pool.Owner(), 2))
	graphtest.Add(h, gso.New(intfs))
	mux := h.Sink(names.EncapMux)
	fr := h.Sink(names.IPv4Frag)
	in := superFrame(false, false, 20000, 1448, 0x18)
	p := packetOf(t, h.Pool, in, false, false, 1448)
	p.OutIfindex = 1
	h.Inject(names.GSO, p)
	small := superFrame(false, true, 1000, 1000, 0)
	q := packetOf(t, h.Pool, small, false, true, 1000)
	q.GSO.Size, q.GSO.Type = 0, 0
	q.OutIfindex = 1
	h.Inject(names.GSO, q)
	// A plain packet queued behind them (IPv4Fwd's behind_gso) passes
	// unchanged, after them.
	plain := superFrame(false, true, 500, 500, 0)
	r := packetOf(t, h.Pool, plain, false, true, 500)
	r.GSO = packet.GSO{}
	r.OutIfindex = 1
	h.Inject(names.GSO, r)
	h.RunUntilIdle()
	segs := mux.Take()
	if len(segs) != 16 || fr.Len() != 0 {
		t.Fatalf("%d to EncapMux, %d to IPv4Frag; want 16 and 0", len(segs), fr.Len())
	}
	if !bytes.Equal(segs[15].Data(), plain) {
		t.Errorf("the plain packet changed in GSO or is not last")
	}
	check(t, in, segs[:14], false, false, 1448)
	last := segs[14].Data()
	pseudo := append(append([]byte{}, last[12:20]...), 0, 17, byte((len(last)-20)>>8), byte(len(last)-20))
	if csum(pseudo, last[20:]) != 0 || segs[14].GSO != (packet.GSO{}) {
		t.Errorf("checksum not finished or GSO left set")
	}
	for _, s := range segs {
		h.Free(s)
	}
	h.ExpectCountersPrefix(map[string]uint64{"GSO/segmented": 1, "GSO/segments": 14, "GSO/csum_done": 1, "GSO/passed": 1}, "GSO/segm", "GSO/csum", "GSO/nobuf", "GSO/bad", "GSO/passed")
}

func FuzzSegment(f *testing.F) {
	f.Add(superFrame(false, false, 3000, 1000, 0x18), uint16(1000), uint8(1), uint8(20))
	f.Add(superFrame(true, false, 3000, 1000, 0x19), uint16(1000), uint8(4), uint8(40))
	f.Add(superFrame(false, true, 2000, 700, 0), uint16(700), uint8(5), uint8(20))
	pool := newPool()
	var segs [gso.MaxSegments]*packet.Packet
	f.Fuzz(func(t *testing.T, b []byte, mss uint16, typ, l4 uint8) {
		if len(b) > packet.MaxBigData {
			return
		}
		from := pool
		if len(b) > packet.MaxData {
			from = pool.Big()
		}
		p := from.Get()
		p.SetData(b)
		p.GSO = packet.GSO{CsumStart: uint16(p.Head() + int(l4)), Size: mss, Type: typ, Flags: packet.GSONeedsCsum}
		k, err := gso.Segment(p, pool, segs[:])
		if err == nil {
			total := 0
			for _, s := range segs[:k] {
				total += s.Len()
				pool.Free(s)
			}
			if total < len(b) {
				t.Errorf("%d segments hold %d bytes, less than the %d of the super-frame", k, total, len(b))
			}
		}
		pool.Free(p)
		if st := pool.Stats(); st.InFlight != 0 {
			t.Fatalf("leak: %+v", st)
		}
	})
}

func BenchmarkSegment(b *testing.B) {
	for _, mss := range []int{1448, 8948} {
		b.Run(fmt.Sprintf("tcp4-64KiB/mss=%d", mss), func(b *testing.B) {
			pool := newPool()
			in := superFrame(false, false, 65535-52, mss, 0x18)
			p := packetOf(b, pool, in, false, false, mss)
			var segs [gso.MaxSegments]*packet.Packet
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			k := 0
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0 := threadCPU()
			for b.Loop() {
				k, _ = gso.Segment(p, pool, segs[:])
				for _, s := range segs[:k] {
					pool.Free(s)
				}
			}
			cpu := float64((threadCPU() - cpu0).Nanoseconds()) / float64(b.N)
			b.ReportMetric(cpu, "cpu-ns/superframe")
			b.ReportMetric(cpu/float64(k), "cpu-ns/segment")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(k), "ns/segment")
		})
	}
}
