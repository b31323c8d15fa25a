package frag_test

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/gnodes/layer3/ipv4/frag"
	"github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/names"
)

func intfs(mtu int) *fwd.Interfaces {
	return (&fwd.Interfaces{}).With(&fwd.Interface{Ifindex: 1, Name: "eth1", MAC: [6]byte{2, 0, 0, 0, 0, 1}, MTU: mtu,
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.2.0.2/24")}, Up: true})
}

// datagram is an IPv4 packet of total bytes with options opts (padded), DF
// clear, flags/offset ff, and a payload that counts.
func datagram(total int, opts []byte, ff uint16) []byte {
	for len(opts)%4 != 0 {
		opts = append(opts, 0)
	}
	ihl := 20 + len(opts)
	b := make([]byte, total)
	hdr.PutIPv4(b, 0, total, 0x4242, 63, hdr.ProtoUDP, 0x0a010001, 0x0a020009)
	b[0] = 0x40 | byte(ihl/4)
	copy(b[20:], opts)
	binary.BigEndian.PutUint16(b[6:], ff)
	for i := ihl; i < total; i++ {
		b[i] = byte(i * 13)
	}
	b[10], b[11] = 0, 0
	c := hdr.Checksum(b[:ihl], 0)
	b[10], b[11] = byte(c>>8), byte(c)
	return b
}

func run(t *testing.T, mtu, pool int, in []byte) (*graphtest.Harness, [][]byte) {
	t.Helper()
	h := graphtest.New(t, graphtest.Options{PoolSize: pool})
	graphtest.Add(h, frag.New(intfs(mtu)))
	mux := h.Sink(names.EncapMux)
	p := h.L3(append(make([]byte, 14), in...))
	p.OutIfindex, p.NextHop = 1, 0x0a020009
	h.Inject(names.IPv4Frag, p)
	h.RunUntilIdle()
	var out [][]byte
	for _, f := range mux.Take() {
		if f.OutIfindex != 1 || f.NextHop != 0x0a020009 {
			t.Errorf("fragment lost its output: %d %x", f.OutIfindex, f.NextHop)
		}
		out = append(out, append([]byte(nil), f.Data()...))
		h.Free(f)
	}
	return h, out
}

// reassemble checks each fragment and rebuilds the payload.
func reassemble(t *testing.T, frags [][]byte, mtu int, wantMFLast bool) ([]byte, [][]byte) {
	t.Helper()
	payload := []byte{}
	var headers [][]byte
	next := -1
	for i, f := range frags {
		ip := hdr.IPv4(f)
		if len(f) > mtu || ip.TotalLen() != len(f) || !hdr.HeaderChecksumOK(f[:ip.HeaderLen()]) {
			t.Fatalf("fragment %d: len %d total %d checksum ok %v", i, len(f), ip.TotalLen(), hdr.HeaderChecksumOK(f[:ip.HeaderLen()]))
		}
		off := int(ip.FlagsFrag()&hdr.IPv4OffMask) * 8
		if next >= 0 && off != next {
			t.Fatalf("fragment %d at offset %d, want %d", i, off, next)
		}
		mf := ip.FlagsFrag()&hdr.IPv4FlagMF != 0
		if last := i == len(frags)-1; mf != (!last || wantMFLast) {
			t.Fatalf("fragment %d: MF %v", i, mf)
		}
		if ip.ID() != 0x4242 || ip.TTL() != 63 {
			t.Fatalf("fragment %d: id %x ttl %d", i, ip.ID(), ip.TTL())
		}
		body := f[ip.HeaderLen():]
		if i < len(frags)-1 && len(body)%8 != 0 {
			t.Fatalf("fragment %d payload %d bytes, not a multiple of 8", i, len(body))
		}
		payload = append(payload, body...)
		headers = append(headers, f[:ip.HeaderLen()])
		next = off + len(body)
	}
	return payload, headers
}

func TestFragment(t *testing.T) {
	copied := []byte{0x82, 4, 0xaa, 0xbb}    // copy flag set: in every fragment
	notCopied := []byte{7, 7, 4, 0, 0, 0, 0} // record route: first fragment only
	tests := []struct {
		name     string
		total    int
		opts     []byte
		mtu      int
		ff       uint16
		frags    int
		laterIHL int
	}{
		{"1400 over 576", 1400, nil, 576, 0, 3, 20},
		{"exactly two", 1012, nil, 520, 0, 2, 20}, // 992 = 2 x 496
		{"options", 1400, append(append([]byte{}, notCopied...), append([]byte{1}, copied...)...), 576, 0, 3, 24},
		{"a fragment of a fragment", 1400, nil, 576, hdr.IPv4FlagMF | 100, 3, 20},
		{"largest packet over 1280", 1900, nil, 1280, 0, 2, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := datagram(tt.total, tt.opts, tt.ff)
			h, out := run(t, tt.mtu, 64, in)
			if len(out) != tt.frags {
				t.Fatalf("%d fragments, want %d", len(out), tt.frags)
			}
			mfLast := tt.ff&hdr.IPv4FlagMF != 0
			payload, headers := reassemble(t, out, tt.mtu, mfLast)
			ihl := hdr.IPv4(in).HeaderLen()
			if !bytes.Equal(payload, in[ihl:]) {
				t.Fatal("reassembled payload differs")
			}
			if first := hdr.IPv4(out[0]); int(first.FlagsFrag()&hdr.IPv4OffMask) != int(tt.ff&hdr.IPv4OffMask) ||
				!bytes.Equal(headers[0][20:], in[20:ihl]) {
				t.Fatalf("first fragment header %x, want options %x", headers[0], in[20:ihl])
			}
			for i, hd := range headers[1:] {
				if len(hd) != tt.laterIHL {
					t.Fatalf("fragment %d header %d bytes, want %d", i+1, len(hd), tt.laterIHL)
				}
				if tt.laterIHL > 20 && !bytes.Equal(hd[20:24], copied) {
					t.Fatalf("fragment %d options %x, want only the copied one", i+1, hd[20:])
				}
			}
			h.ExpectCounters(map[string]uint64{"IPv4Frag/enq": 1, "IPv4Frag/fragmented": 1,
				"IPv4Frag/fragments": uint64(tt.frags), "EncapMux/enq": uint64(tt.frags)})
			h.Done()
		})
	}
}

func TestFragmentPoolDry(t *testing.T) {
	// 3 buffers: the original and two fragments; the third cannot be made.
	h, out := run(t, 576, 3, datagram(1400, nil, 0))
	if len(out) != 2 {
		t.Fatalf("%d fragments", len(out))
	}
	if h.Counter("IPv4Frag/frag_nobuf") != 1 {
		t.Fatalf("frag_nobuf %d", h.Counter("IPv4Frag/frag_nobuf"))
	}
	h.Done()
}

func TestFragmentBadMTUAndUnknownInterface(t *testing.T) {
	h, out := run(t, 24, 8, datagram(100, nil, 0))
	if len(out) != 0 || h.Counter("IPv4Frag/mtu_too_small") != 1 {
		t.Fatalf("tiny MTU: %d out, counter %d", len(out), h.Counter("IPv4Frag/mtu_too_small"))
	}
	h.Done()

	h2 := graphtest.New(t, graphtest.Options{PoolSize: 8})
	graphtest.Add(h2, frag.New(intfs(576)))
	h2.Sink(names.EncapMux)
	p := h2.L3(append(make([]byte, 14), datagram(1000, nil, 0)...))
	p.OutIfindex = 7
	h2.Inject(names.IPv4Frag, p)
	h2.RunUntilIdle()
	if h2.Counter("IPv4Frag/no_intf") != 1 {
		t.Fatal("unknown interface not counted")
	}
	h2.Done()
}

// Packets that each make 37 fragments (1790 bytes over a 68-byte MTU) in one
// run: after six of them EncapMux has room for 34 fragments, fewer than the
// next packet makes. That packet must wait for the next run, not lose
// fragments to a full vector in the middle of the graph.
func TestFragmentsNeverOverflowEncapMux(t *testing.T) {
	h := graphtest.New(t, graphtest.Options{PoolSize: 1024})
	graphtest.Add(h, frag.New(intfs(68)))
	mux := h.Sink(names.EncapMux)
	const pkts = 7
	for i := 0; i < pkts; i++ {
		p := h.L3(append(make([]byte, 14), datagram(1790, nil, 0)...))
		p.OutIfindex, p.NextHop = 1, 0x0a020009
		h.Inject(names.IPv4Frag, p)
	}
	h.RunUntilIdle()
	got := mux.Take()
	for _, f := range got {
		h.Free(f)
	}
	if full := h.Counter(names.EncapMux + "/vec_full"); full != 0 || len(got) != pkts*37 {
		t.Fatalf("%d fragments reached EncapMux, want %d; %d dropped at its full vector", len(got), pkts*37, full)
	}
}

// A fragment that ends beyond the largest datagram (65535 bytes) cannot be
// reassembled, and the offsets of its later fragments would spill into the
// flags: it is dropped. One that ends exactly there is fragmented.
func TestFragmentBeyondLargestDatagram(t *testing.T) {
	tests := []struct {
		name  string
		total int
		frags int // 0: dropped as bad_offset
	}{
		{name: "ends at 65535", total: 20 + 735, frags: 2},
		{name: "ends at 65536", total: 20 + 736, frags: 0},
		{name: "ends at 66180", total: 1400, frags: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, out := run(t, 576, 8, datagram(tt.total, nil, 8100)) // offset 64800
			if tt.frags == 0 {
				if len(out) != 0 || h.Counter("IPv4Frag/bad_offset") != 1 {
					t.Fatalf("%d fragments, bad_offset %d", len(out), h.Counter("IPv4Frag/bad_offset"))
				}
			} else {
				payload, _ := reassemble(t, out, 576, false)
				if len(out) != tt.frags || len(payload) != tt.total-20 {
					t.Fatalf("%d fragments of %d bytes", len(out), len(payload))
				}
			}
			h.Done()
		})
	}
}
