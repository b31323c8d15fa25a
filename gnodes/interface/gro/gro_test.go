package gro_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/r2go/r2/gnodes/interface/gro"
	"github.com/r2go/r2/gnodes/layer3/gso"
	"github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/packet"
)

// csum is an RFC 1071 checksum written independently of r2/hdr.
var csum = graphtest.RefChecksum

// pseudo is the TCP pseudo-header of Ethernet frame b (IPv4 or IPv6 with
// the TCP header right after the fixed IP header) for l4len bytes.
func pseudo(b []byte, l4len int) []byte {
	if binary.BigEndian.Uint16(b[12:]) == 0x86dd {
		return append(append([]byte{}, b[22:54]...), 0, 0, byte(l4len>>8), byte(l4len), 0, 0, 0, 6)
	}
	return append(append([]byte{}, b[26:34]...), 0, 6, byte(l4len>>8), byte(l4len))
}

func l4of(b []byte) int {
	if binary.BigEndian.Uint16(b[12:]) == 0x86dd {
		return 14 + 40
	}
	return 14 + 20
}

// fix recomputes the lengths and checksums of a frame built by seg.
func fix(b []byte) []byte {
	l4 := l4of(b)
	if l4 == 34 {
		binary.BigEndian.PutUint16(b[16:], uint16(len(b)-14))
		b[24], b[25] = 0, 0
		binary.BigEndian.PutUint16(b[24:], csum(b[14:34]))
	} else {
		binary.BigEndian.PutUint16(b[18:], uint16(len(b)-54))
	}
	b[l4+16], b[l4+17] = 0, 0
	binary.BigEndian.PutUint16(b[l4+16:], csum(pseudo(b, len(b)-l4), b[l4:]))
	return b
}

// seg builds a TCP segment of flow (its source port) with a timestamp
// option and correct checksums.
func seg(v6 bool, flow int, seq uint32, id uint16, flags byte, pay int) []byte {
	l3 := 20
	if v6 {
		l3 = 40
	}
	b := make([]byte, 14+l3+32+pay)
	copy(b, []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2})
	if v6 {
		b[12], b[13] = 0x86, 0xdd
		ip := b[14:]
		ip[0], ip[1], ip[2], ip[3] = 0x60, 0x01, 0x23, 0x45
		ip[6], ip[7] = 6, 64
		for i := 8; i < 40; i++ {
			ip[i] = byte(0x20 + i)
		}
	} else {
		b[12], b[13] = 0x08, 0x00
		ip := b[14:]
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[4:], id)
		ip[6] = 0x40 // DF
		ip[8], ip[9] = 64, 6
		copy(ip[12:], []byte{10, 1, 0, 1, 10, 2, 0, 9})
	}
	h := b[14+l3:]
	binary.BigEndian.PutUint16(h[0:], uint16(40000+flow))
	binary.BigEndian.PutUint16(h[2:], 5201)
	binary.BigEndian.PutUint32(h[4:], seq)
	binary.BigEndian.PutUint32(h[8:], 77)
	h[12] = 8 << 4
	h[13] = flags
	binary.BigEndian.PutUint16(h[14:], 512)
	copy(h[20:], []byte{1, 1, 8, 10, 0, 0, 1, 2, 0, 0, 3, 4})
	for i := 32; i < len(h); i++ {
		h[i] = byte(int(seq) + i*7)
	}
	return fix(b)
}

// stream is k segments of flow, mss bytes each but the last (last bytes),
// sequence numbers and IPv4 IDs running from values that wrap.
func stream(v6 bool, flow, k, mss, last int) [][]byte {
	var out [][]byte
	seq := uint32(0xffffff00)
	for i := 0; i < k; i++ {
		n := mss
		if i == k-1 {
			n = last
		}
		out = append(out, seg(v6, flow, seq, 0xfffe+uint16(i), 0x10, n))
		seq += uint32(n)
	}
	return out
}

func newPool(big int) *packet.Pool {
	pool := packet.NewPool(0, 4096)
	if big > 0 {
		pool.SetBig(packet.NewBigPool(0, big))
	}
	return pool
}

func packets(t testing.TB, pool *packet.Pool, frames [][]byte, flags uint8) []*packet.Packet {
	ps := make([]*packet.Packet, len(frames))
	for i, f := range frames {
		p := pool.Get()
		if p == nil || !p.SetData(f) {
			t.Fatalf("frame %d: no packet for %d bytes", i, len(f))
		}
		p.GSO.Flags = flags
		ps[i] = p
	}
	return ps
}

// expect checks out against in: output j is in[groups[j][0]] unchanged if
// the group has one frame, else the merged super-frame of the group, which
// the GSO node must cut back into the group's frames byte for byte.
func expect(t *testing.T, pool *packet.Pool, in [][]byte, out []*packet.Packet, groups [][]int) {
	t.Helper()
	if len(out) != len(groups) {
		t.Fatalf("%d packets out, want %d (%v)", len(out), len(groups), groups)
	}
	for j, g := range groups {
		p := out[j]
		if len(g) == 1 {
			if !bytes.Equal(p.Data(), in[g[0]]) || p.GSO.Size != 0 || p.GSO.Flags&packet.GSONeedsCsum != 0 {
				t.Errorf("packet %d: not frame %d as received", j, g[0])
			}
			continue
		}
		first := in[g[0]]
		d := p.Data()
		l4 := l4of(first)
		v6 := l4 == 54
		wantTyp := packet.GSOTCPv4
		if v6 {
			wantTyp = packet.GSOTCPv6
		}
		mss := len(first) - (l4 + 32)
		wantGSO := packet.GSO{CsumStart: uint16(p.Head() + l4), CsumOffset: 16, Size: uint16(mss), Type: wantTyp, Flags: packet.GSONeedsCsum}
		if p.GSO != wantGSO {
			t.Errorf("packet %d: GSO %+v, want %+v", j, p.GSO, wantGSO)
		}
		if !p.Big() {
			t.Errorf("packet %d: merged into a normal packet", j)
		}
		total := l4 + 32
		for _, i := range g {
			total += len(in[i]) - (l4 + 32)
		}
		if len(d) != total {
			t.Fatalf("packet %d: %d bytes, want %d", j, len(d), total)
		}
		if !bytes.Equal(d[:14], first[:14]) {
			t.Errorf("packet %d: Ethernet header changed", j)
		}
		if v6 {
			if n := int(binary.BigEndian.Uint16(d[18:])); n != total-54 {
				t.Errorf("packet %d: payload length %d, want %d", j, n, total-54)
			}
		} else {
			if n := int(binary.BigEndian.Uint16(d[16:])); n != total-14 {
				t.Errorf("packet %d: total length %d, want %d", j, n, total-14)
			}
			if csum(d[14:34]) != 0 {
				t.Errorf("packet %d: bad IPv4 header checksum", j)
			}
		}
		// The checksum field holds the pseudo-header sum, folded and not
		// complemented (CHECKSUM_PARTIAL).
		if got, want := binary.BigEndian.Uint16(d[l4+16:]), ^csum(pseudo(d, total-l4)); got != want {
			t.Errorf("packet %d: TCP checksum field %#04x, want the pseudo-header sum %#04x", j, got, want)
		}
		if d[l4+13] != in[g[len(g)-1]][l4+13] {
			t.Errorf("packet %d: flags %#x, want the last segment's %#x", j, d[l4+13], in[g[len(g)-1]][l4+13])
		}
		roundTrip(t, pool, p, in, g)
	}
}

// roundTrip cuts merged packet p with the GSO node's Segment and compares
// the segments with the frames of group g.
func roundTrip(t *testing.T, pool *packet.Pool, p *packet.Packet, in [][]byte, g []int) {
	t.Helper()
	eth := append([]byte{}, p.Data()[:14]...)
	if !p.Pull(14) {
		t.Fatal("pull")
	}
	defer p.Push(14)
	var segs [gso.MaxSegments]*packet.Packet
	k, err := gso.Segment(p, pool, segs[:])
	if err != nil {
		t.Fatalf("gso.Segment of the merged packet: %v", err)
	}
	defer func() {
		for _, s := range segs[:k] {
			pool.Free(s)
		}
	}()
	if k != len(g) {
		t.Fatalf("re-segmented into %d segments, want %d", k, len(g))
	}
	for x, i := range g {
		got := append(append([]byte{}, eth...), segs[x].Data()...)
		if !bytes.Equal(got, in[i]) {
			t.Errorf("segment %d: not frame %d byte for byte:\n got %x\nwant %x", x, i, got[:min(len(got), 80)], in[i][:min(len(in[i]), 80)])
		}
	}
}

func run(t *testing.T, pool *packet.Pool, in [][]byte, flags uint8) ([]*packet.Packet, gro.Stats) {
	t.Helper()
	ps := packets(t, pool, in, flags)
	c := gro.New(1024)
	k, st := c.Merge(pool, ps)
	return ps[:k], st
}

func release(pool *packet.Pool, ps []*packet.Packet) {
	for _, p := range ps {
		pool.Free(p)
	}
}

func g(idx ...int) []int { return idx }

func singles(n int) [][]int {
	var out [][]int
	for i := 0; i < n; i++ {
		out = append(out, g(i))
	}
	return out
}

// TestMergeRules: three segments of one flow, the middle one changed in
// one way; each rule of what may not merge.
func TestMergeRules(t *testing.T) {
	type mod func(b []byte, l4 int) []byte
	ip4 := func(off int, v byte) mod {
		return func(b []byte, l4 int) []byte { b[14+off] ^= v; return fix(b) }
	}
	tcpb := func(off int, v byte) mod {
		return func(b []byte, l4 int) []byte { b[l4+off] ^= v; return fix(b) }
	}
	tests := []struct {
		name   string
		v4, v6 bool // families the case applies to
		seg    int  // the segment changed
		mod    mod
		groups [][]int
		bad    int
	}{
		{name: "unchanged", v4: true, v6: true, seg: 1, mod: func(b []byte, _ int) []byte { return b }, groups: [][]int{g(0, 1, 2)}},
		{name: "tos", v4: true, seg: 1, mod: ip4(1, 0x04), groups: singles(3)},
		{name: "ttl", v4: true, seg: 1, mod: ip4(8, 1), groups: singles(3)},
		{name: "df", v4: true, seg: 1, mod: ip4(6, 0x40), groups: singles(3)},
		{name: "id_gap", v4: true, seg: 1, mod: ip4(5, 0x10), groups: singles(3)},
		{name: "fragment", v4: true, seg: 1, mod: ip4(6, 0x20), groups: singles(3)},
		{name: "ip_options", v4: true, seg: 1, mod: func(b []byte, l4 int) []byte {
			// IHL 6: a 4-byte option (end of list) before TCP.
			nb := append(append(append([]byte{}, b[:34]...), 0, 0, 0, 0), b[34:]...)
			nb[14] = 0x46
			binary.BigEndian.PutUint16(nb[16:], uint16(len(nb)-14))
			nb[24], nb[25] = 0, 0
			binary.BigEndian.PutUint16(nb[24:], csum(nb[14:38]))
			return nb
		}, groups: singles(3)},
		{name: "ip_header_checksum", v4: true, seg: 1, mod: func(b []byte, _ int) []byte { b[25] ^= 1; return b }, groups: singles(3)},
		{name: "trailing_bytes", v4: true, v6: true, seg: 1, mod: func(b []byte, _ int) []byte { return append(b, 0, 0) }, groups: singles(3)},
		{name: "traffic_class", v6: true, seg: 1, mod: ip4(1, 0x10), groups: singles(3)},
		{name: "flow_label", v6: true, seg: 1, mod: ip4(3, 1), groups: singles(3)},
		{name: "hop_limit", v6: true, seg: 1, mod: ip4(7, 1), groups: singles(3)},
		{name: "extension_header", v6: true, seg: 1, mod: ip4(6, 6^60), groups: singles(3)},
		{name: "ack", v4: true, v6: true, seg: 1, mod: tcpb(11, 1), groups: singles(3)},
		{name: "window", v4: true, v6: true, seg: 1, mod: tcpb(15, 1), groups: singles(3)},
		{name: "urgent_pointer", v4: true, v6: true, seg: 1, mod: tcpb(19, 1), groups: singles(3)},
		{name: "timestamp", v4: true, v6: true, seg: 1, mod: tcpb(31, 1), groups: singles(3)},
		{name: "data_offset", v4: true, v6: true, seg: 1, mod: func(b []byte, l4 int) []byte {
			// The timestamp option becomes payload: same length, shorter header.
			b[l4+12] = 5 << 4
			return fix(b)
		}, groups: singles(3)},
		{name: "seq_gap", v4: true, v6: true, seg: 1, mod: tcpb(7, 1), groups: singles(3)},
		{name: "syn", v4: true, v6: true, seg: 1, mod: tcpb(13, 0x02), groups: singles(3)},
		{name: "fin", v4: true, v6: true, seg: 1, mod: tcpb(13, 0x01), groups: singles(3)},
		{name: "rst", v4: true, v6: true, seg: 1, mod: tcpb(13, 0x04), groups: singles(3)},
		{name: "urg", v4: true, v6: true, seg: 1, mod: tcpb(13, 0x20), groups: singles(3)},
		{name: "ece", v4: true, v6: true, seg: 1, mod: tcpb(13, 0x40), groups: singles(3)},
		{name: "cwr", v4: true, v6: true, seg: 1, mod: tcpb(13, 0x80), groups: singles(3)},
		{name: "no_ack", v4: true, v6: true, seg: 1, mod: tcpb(13, 0x10), groups: singles(3)},
		{name: "psh_last", v4: true, v6: true, seg: 1, mod: tcpb(13, 0x08), groups: [][]int{g(0, 1), g(2)}},
		{name: "psh_first", v4: true, v6: true, seg: 0, mod: tcpb(13, 0x08), groups: [][]int{g(0), g(1, 2)}},
		{name: "short_middle", v4: true, v6: true, seg: 1, mod: func(b []byte, _ int) []byte { return fix(b[:len(b)-1]) }, groups: [][]int{g(0, 1), g(2)}},
		{name: "no_payload", v4: true, v6: true, seg: 1, mod: func(b []byte, l4 int) []byte { return fix(b[:l4+32]) }, groups: singles(3)},
		{name: "other_mac", v4: true, v6: true, seg: 1, mod: func(b []byte, _ int) []byte { b[11] ^= 1; return b }, groups: singles(3)},
		{name: "bad_tcp_checksum", v4: true, v6: true, seg: 1, mod: func(b []byte, l4 int) []byte { b[len(b)-1] ^= 0x40; return b }, groups: singles(3), bad: 1},
		{name: "bad_tcp_checksum_first", v4: true, v6: true, seg: 0, mod: func(b []byte, l4 int) []byte { b[l4+16] ^= 1; return b }, groups: [][]int{g(0), g(1, 2)}, bad: 1},
	}
	for _, tt := range tests {
		for _, v6 := range []bool{false, true} {
			if v6 && !tt.v6 || !v6 && !tt.v4 {
				continue
			}
			t.Run(fmt.Sprintf("%s/v6=%v", tt.name, v6), func(t *testing.T) {
				pool := newPool(8)
				in := stream(v6, 0, 3, 1000, 1000)
				in[tt.seg] = tt.mod(in[tt.seg], l4of(in[tt.seg]))
				out, st := run(t, pool, in, 0)
				expect(t, pool, in, out, tt.groups)
				if st.CsumBad != tt.bad {
					t.Errorf("CsumBad %d, want %d", st.CsumBad, tt.bad)
				}
				merged, segs := 0, 0
				for _, gr := range tt.groups {
					if len(gr) > 1 {
						merged++
						segs += len(gr)
					}
				}
				if st.Packets != merged || st.Segments != segs {
					t.Errorf("stats %+v, want %d packets of %d segments", st, merged, segs)
				}
				release(pool, out)
				if s := pool.Stats(); s.InFlight != 0 {
					t.Errorf("leak: %+v", s)
				}
				if s := pool.Big().Stats(); s.InFlight != 0 {
					t.Errorf("big pool leak: %+v", s)
				}
			})
		}
	}
}

// A segment the driver validated (GSODataValid) is not checked again: a
// wrong checksum then merges, as the kernel's GRO trusts CHECKSUM_UNNECESSARY.
func TestDataValid(t *testing.T) {
	pool := newPool(8)
	in := stream(false, 0, 3, 1000, 600)
	in[1][len(in[1])-1] ^= 1
	out, st := run(t, pool, in, packet.GSODataValid)
	if len(out) != 1 || st.Packets != 1 || st.Segments != 3 || st.CsumBad != 0 {
		t.Fatalf("%d packets, stats %+v; want one of 3 segments", len(out), st)
	}
	release(pool, out)
}

// Segments whose checksum the sender left to finish (GSONeedsCsum at the
// TCP checksum, the field holding the pseudo-header sum, as AF_PACKET's
// vnet header and AF_XDP's markPartial describe them) merge with each
// other and with complete ones, unchecked; finished by the GSO node, the
// merged packet gives back the sender's segments with full checksums.
func TestPartial(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		for _, partial := range [][]bool{{true, true, true, true}, {false, true, true, false}, {true, false, false, false}} {
			t.Run(fmt.Sprintf("v6=%v/%v", v6, partial), func(t *testing.T) {
				pool := newPool(8)
				full := stream(v6, 0, 4, 1000, 700)
				l4 := l4of(full[0])
				in := make([][]byte, len(full))
				for i, f := range full {
					in[i] = append([]byte(nil), f...)
					if partial[i] {
						binary.BigEndian.PutUint16(in[i][l4+16:], ^csum(pseudo(f, len(f)-l4)))
					}
				}
				ps := packets(t, pool, in, 0)
				for i, p := range ps {
					if partial[i] {
						p.GSO = packet.GSO{CsumStart: uint16(p.Head() + l4), CsumOffset: 16, Flags: packet.GSONeedsCsum}
					}
				}
				k, st := gro.New(64).Merge(pool, ps)
				if st.Packets != 1 || st.Segments != 4 || st.CsumBad != 0 {
					t.Fatalf("stats %+v, want one packet of 4 segments", st)
				}
				expect(t, pool, full, ps[:k], [][]int{g(0, 1, 2, 3)})
				release(pool, ps[:k])
			})
		}
	}
}

// Super-frames and frames with a checksum to finish somewhere other than
// their TCP checksum pass unmerged and close their flow.
func TestNotPlain(t *testing.T) {
	for _, gs := range []packet.GSO{
		{Size: 1000, Type: packet.GSOTCPv4, Flags: packet.GSONeedsCsum, CsumOffset: 16},
		{Flags: packet.GSONeedsCsum, CsumOffset: 6},
	} {
		pool := newPool(8)
		in := stream(false, 0, 3, 1000, 1000)
		ps := packets(t, pool, in, 0)
		gs.CsumStart = uint16(ps[1].Head() + 34)
		ps[1].GSO = gs
		k, st := gro.New(64).Merge(pool, ps)
		if k != 3 || st.Packets != 0 {
			t.Errorf("GSO %+v: %d packets, stats %+v; want 3 unmerged", gs, k, st)
		}
		if ps[1].GSO != gs {
			t.Errorf("GSO metadata changed")
		}
		release(pool, ps[:k])
	}
}

// Flows interleaved with each other, with the reverse direction's ACKs
// and UDP: each flow merges, in the place of its first segment.
func TestInterleaved(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		pool := newPool(8)
		a := stream(v6, 1, 3, 1200, 1200)
		b := stream(v6, 2, 2, 800, 500)
		ack := seg(v6, 3, 5, 9, 0x10, 0) // no payload: not merged
		udp := append([]byte{}, a[0]...)
		if v6 {
			udp[20] = 17
		} else {
			udp[23] = 17
			udp[24], udp[25] = 0, 0
			binary.BigEndian.PutUint16(udp[24:], csum(udp[14:34]))
		}
		in := [][]byte{a[0], ack, b[0], a[1], udp, b[1], ack, a[2]}
		out, st := run(t, pool, in, 0)
		expect(t, pool, in, out, [][]int{g(0, 3, 7), g(1), g(2, 5), g(4), g(6)})
		if st.Packets != 2 || st.Segments != 5 {
			t.Errorf("stats %+v", st)
		}
		release(pool, out)
	}
}

// The ninth flow closes the oldest: with nine flows each segment of a
// round comes too late, with eight all merge.
func TestFlowTable(t *testing.T) {
	for _, flows := range []int{gro.MaxFlows, gro.MaxFlows + 1} {
		pool := newPool(16)
		var in [][]byte
		var groups [][]int
		for r := 0; r < 2; r++ {
			for f := 0; f < flows; f++ {
				in = append(in, stream(false, f, 2, 500, 500)[r])
			}
		}
		if flows == gro.MaxFlows {
			for f := 0; f < flows; f++ {
				groups = append(groups, g(f, f+flows))
			}
		} else {
			groups = singles(len(in))
		}
		out, _ := run(t, pool, in, 0)
		expect(t, pool, in, out, groups)
		release(pool, out)
	}
}

// Limits: MaxSegments segments, and 65,535 bytes of IP packet.
func TestLimits(t *testing.T) {
	pool := newPool(8)
	in := stream(false, 0, 70, 100, 100)
	out, _ := run(t, pool, in, 0)
	var all []int
	for i := range in {
		all = append(all, i)
	}
	expect(t, pool, in, out, [][]int{all[:gro.MaxSegments], all[gro.MaxSegments:]})
	release(pool, out)

	// 52 bytes of headers and 45 segments of 1448 are 65,212 bytes; a 46th
	// would pass 65,535.
	in = stream(false, 0, 50, 1448, 1448)
	out, _ = run(t, pool, in, 0)
	expect(t, pool, in, out, [][]int{all[:45], all[45:50]})
	release(pool, out)

	in = stream(true, 0, 50, 1428, 1428) // IPv6: 40 + 32 + 46*1428 = 65,760 > 65,535
	out, _ = run(t, pool, in, 0)
	expect(t, pool, in, out, [][]int{all[:45], all[45:50]})
	release(pool, out)
}

// With no big packet to merge into, every frame goes out as it came.
func TestNoBuf(t *testing.T) {
	for _, big := range []int{0, 1} {
		pool := newPool(big)
		var held *packet.Packet
		if big > 0 {
			held = pool.Big().Get() // the only one
		}
		in := append(stream(false, 0, 3, 1000, 1000), stream(true, 1, 3, 1000, 10)...)
		out, st := run(t, pool, in, 0)
		expect(t, pool, in, out, singles(6))
		if st.NoBuf != 2 {
			t.Errorf("big=%d: NoBuf %d, want 2", big, st.NoBuf)
		}
		release(pool, out)
		if held != nil {
			pool.Free(held)
		}
		if s := pool.Stats(); s.InFlight != 0 {
			t.Errorf("leak: %+v", s)
		}
	}
}

func TestMergeAllocs(t *testing.T) {
	pool := newPool(8)
	in := append(stream(false, 0, 20, 1448, 1000), stream(true, 1, 20, 1428, 10)...)
	c := gro.New(1024)
	ps := make([]*packet.Packet, len(in))
	allocs := testing.AllocsPerRun(100, func() {
		for i, f := range in {
			ps[i] = pool.Get()
			ps[i].SetData(f)
		}
		k, _ := c.Merge(pool, ps)
		for _, p := range ps[:k] {
			pool.Free(p)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per batch, want 0", allocs)
	}
}

// BenchmarkMerge: a batch of one TCP stream (1448-byte segments) with the
// reverse direction's ACKs between; ns per merged segment.
func BenchmarkMerge(b *testing.B) {
	for _, v6 := range []bool{false, true} {
		// partial: the segments' checksums left to finish (GSONeedsCsum),
		// merged unchecked; else complete, each verified.
		for _, partial := range []bool{false, true} {
			b.Run(fmt.Sprintf("v6=%v/partial=%v", v6, partial), func(b *testing.B) {
				pool := newPool(64)
				s := stream(v6, 0, 200, 1448-20*btoi(v6), 1448-20*btoi(v6))
				ack := seg(v6, 9, 1, 1, 0x10, 0)
				l4 := l4of(ack)
				var in [][]byte
				var mark []bool
				for i, f := range s {
					if partial {
						f = append([]byte(nil), f...)
						binary.BigEndian.PutUint16(f[l4+16:], ^csum(pseudo(f, len(f)-l4)))
					}
					in, mark = append(in, f), append(mark, partial)
					if i%2 == 1 {
						in, mark = append(in, ack), append(mark, false)
					}
				}
				c := gro.New(1024)
				ps := make([]*packet.Packet, len(in))
				b.ReportAllocs()
				segs := 0
				for b.Loop() {
					b.StopTimer()
					for i, f := range in {
						ps[i] = pool.Get()
						ps[i].SetData(f)
						if mark[i] {
							ps[i].GSO = packet.GSO{CsumStart: uint16(ps[i].Head() + l4), CsumOffset: 16, Flags: packet.GSONeedsCsum}
						}
					}
					b.StartTimer()
					k, st := c.Merge(pool, ps)
					segs += st.Segments
					b.StopTimer()
					for _, p := range ps[:k] {
						pool.Free(p)
					}
					b.StartTimer()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(segs), "ns/segment")
			})
		}
	}
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}

// A super-frame carries its segments' receive queue and sparse mark
// (packet.Meta): an output keeps each queue's packets in order by them, so
// a super-frame that lost them could be overtaken by its flow's next
// segment.
func TestMergeKeepsQueue(t *testing.T) {
	pool := newPool(4)
	in := stream(false, 1, 4, 1000, 1000)
	ps := packets(t, pool, in, 0)
	tag := uint32(3)<<packet.MetaRxQueueShift | packet.MetaSparse
	for _, p := range ps {
		p.Meta = tag
	}
	c := gro.New(len(ps))
	k, st := c.Merge(pool, ps)
	if k != 1 || st.Packets != 1 {
		t.Fatalf("merged into %d packets (%+v), want one super-frame", k, st)
	}
	if ps[0].Meta != tag {
		t.Errorf("super-frame Meta %#x, want its segments' %#x", ps[0].Meta, tag)
	}
	release(pool, ps[:k])
}
