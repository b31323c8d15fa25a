package gro_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/r2go/r2/gnodes/interface/gro"
	"github.com/r2go/r2/gnodes/layer3/gso"
	"github.com/r2go/r2/r2/packet"
)

// orderKey is what must keep its order through Merge: frames of one
// Ethernet header, protocol, addresses and ports (read where they are
// without options; other frames have no key).
func orderKey(b []byte) string {
	if len(b) >= 58 && binary.BigEndian.Uint16(b[12:]) == 0x86dd {
		return string(b[:14]) + string(b[20:21]) + string(b[22:58])
	}
	if len(b) >= 38 && binary.BigEndian.Uint16(b[12:]) == 0x0800 {
		return string(b[:14]) + string(b[23:24]) + string(b[26:38])
	}
	return ""
}

// FuzzMerge: two interleaved TCP streams and ACKs, changed at fuzzed
// places (bytes flipped, frames cut). Merge never panics nor leaks; what
// comes out, merged packets cut again by the GSO node, is exactly the
// frames that went in, and frames of a flow keep their order.
func FuzzMerge(f *testing.F) {
	f.Add([]byte{}, uint8(10), false)
	f.Add([]byte{3, 60, 1, 5, 0, 0}, uint8(20), true)
	f.Add([]byte{2, 47, 8, 7, 255, 0}, uint8(7), false)
	pool := newPool(64)
	c := gro.New(1024)
	var segs [gso.MaxSegments]*packet.Packet
	f.Fuzz(func(t *testing.T, ops []byte, n uint8, v6 bool) {
		k := int(n%48) + 2
		a := stream(v6, 1, k, 700, 300)
		b := stream(!v6, 2, k/2+1, 900, 900)
		var in [][]byte
		for i := range a {
			in = append(in, a[i])
			if i < len(b) {
				in = append(in, b[i])
			}
			if i%3 == 0 {
				in = append(in, seg(v6, 3, uint32(i), uint16(i), 0x10, 0))
			}
		}
		changed := len(ops) >= 3
		// ops: (frame, offset, value) triples; value 0 cuts the frame.
		for len(ops) >= 3 {
			i := int(ops[0]) % len(in)
			fr := append([]byte{}, in[i]...)
			if len(fr) == 0 {
				ops = ops[3:]
				continue
			}
			off := int(ops[1]) % len(fr)
			if ops[2] == 0 {
				fr = fr[:off]
			} else {
				fr[off] ^= ops[2]
			}
			in[i] = fr
			ops = ops[3:]
		}
		ps := packets(t, pool, in, 0)
		m, st := c.Merge(pool, ps)
		if !changed && st.Segments != len(a)+len(b) {
			t.Fatalf("unchanged streams: %d segments merged, want %d", st.Segments, len(a)+len(b))
		}
		var got [][]byte
		for _, p := range ps[:m] {
			if p.GSO.Size == 0 {
				got = append(got, append([]byte{}, p.Data()...))
				continue
			}
			eth := append([]byte{}, p.Data()[:14]...)
			p.Pull(14)
			s, err := gso.Segment(p, pool, segs[:])
			if err != nil {
				t.Fatalf("merged packet does not segment: %v", err)
			}
			for _, x := range segs[:s] {
				got = append(got, append(append([]byte{}, eth...), x.Data()...))
				pool.Free(x)
			}
		}
		release(pool, ps[:m])
		if st := pool.Stats(); st.InFlight != 0 {
			t.Fatalf("leak: %+v", st)
		}
		if st := pool.Big().Stats(); st.InFlight != 0 {
			t.Fatalf("big pool leak: %+v", st)
		}
		if len(got) != len(in) {
			t.Fatalf("%d frames in, %d out after re-segmenting", len(in), len(got))
		}
		pos := make([]int, len(in))
		used := make([]bool, len(got))
		for i, fr := range in {
			pos[i] = -1
			for j := range got {
				if !used[j] && bytes.Equal(got[j], fr) {
					used[j], pos[i] = true, j
					break
				}
			}
			if pos[i] < 0 {
				t.Fatalf("frame %d did not come out as it went in", i)
			}
		}
		for i := range in {
			ki := orderKey(in[i])
			if ki == "" {
				continue
			}
			for j := i + 1; j < len(in); j++ {
				if orderKey(in[j]) == ki && pos[j] < pos[i] {
					t.Fatalf("frames %d and %d of one flow reordered", i, j)
				}
			}
		}
	})
}
