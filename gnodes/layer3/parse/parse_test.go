package parse_test

import (
	"bytes"
	"testing"

	"github.com/r2go/r2/gnodes/layer3/parse"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/names"
)

var (
	ourMAC  = gt.MAC("02:00:00:00:00:01")
	peerMAC = gt.MAC("02:00:00:00:00:02")
)

// udp is a valid 20+8+4 byte IPv4/UDP packet.
func udp() []byte {
	return gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.2.0.1"), 64, hdr.ProtoUDP, gt.UDP(1000, 2000, []byte("data")))
}

// mod returns udp() changed by f (f fixes the checksum if it wants to).
func mod(f func(ip []byte) []byte) []byte { return f(udp()) }

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		etype uint16
		l3    []byte
		pad   int    // Ethernet frame padded to this length
		drop  string // counter of the drop, "" if the packet passes
		want  []byte // the data that reaches IPv4Fwd
	}{
		{name: "valid", etype: hdr.EtherTypeIPv4, l3: udp(), want: udp()},
		{name: "valid with Ethernet padding trimmed", etype: hdr.EtherTypeIPv4, l3: udp(), pad: 60, want: udp()},
		{name: "valid with options", etype: hdr.EtherTypeIPv4, l3: withOptions(), want: withOptions()},
		{name: "total length exactly header", etype: hdr.EtherTypeIPv4,
			l3:   gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.2.0.1"), 64, 253, nil),
			want: gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.2.0.1"), 64, 253, nil)},
		{name: "empty", etype: hdr.EtherTypeIPv4, l3: nil, drop: "truncated"},
		{name: "19 bytes", etype: hdr.EtherTypeIPv4, l3: udp()[:19], drop: "truncated"},
		{name: "bad version", etype: hdr.EtherTypeIPv4, l3: mod(func(b []byte) []byte {
			b[0] = 0x65
			gt.FixIPv4Checksum(b)
			return b
		}), drop: "bad_version"},
		{name: "version 0", etype: hdr.EtherTypeIPv4, l3: mod(func(b []byte) []byte {
			b[0] = 0x05
			gt.FixIPv4Checksum(b)
			return b
		}), drop: "bad_version"},
		{name: "IHL 4", etype: hdr.EtherTypeIPv4, l3: mod(func(b []byte) []byte { b[0] = 0x44; return b }), drop: "bad_ihl"},
		{name: "IHL 0", etype: hdr.EtherTypeIPv4, l3: mod(func(b []byte) []byte { b[0] = 0x40; return b }), drop: "bad_ihl"},
		// IHL 15 is 60 bytes of header in a 32-byte packet.
		{name: "IHL beyond frame", etype: hdr.EtherTypeIPv4, l3: mod(func(b []byte) []byte { b[0] = 0x4f; return b }), drop: "truncated"},
		{name: "total length below IHL", etype: hdr.EtherTypeIPv4, l3: mod(func(b []byte) []byte {
			b[2], b[3] = 0, 19
			gt.FixIPv4Checksum(b)
			return b
		}), drop: "bad_total_len"},
		{name: "total length zero", etype: hdr.EtherTypeIPv4, l3: mod(func(b []byte) []byte {
			b[2], b[3] = 0, 0
			gt.FixIPv4Checksum(b)
			return b
		}), drop: "bad_total_len"},
		{name: "total length beyond frame", etype: hdr.EtherTypeIPv4, l3: mod(func(b []byte) []byte {
			b[2], b[3] = 0, byte(len(b)+1)
			gt.FixIPv4Checksum(b)
			return b
		}), drop: "truncated"},
		{name: "bad checksum", etype: hdr.EtherTypeIPv4, l3: mod(func(b []byte) []byte { b[11] ^= 1; return b }), drop: "bad_checksum"},
		{name: "checksum of changed TTL not updated", etype: hdr.EtherTypeIPv4, l3: mod(func(b []byte) []byte { b[8]--; return b }), drop: "bad_checksum"},
		{name: "unknown ethertype", etype: 0x88cc, l3: udp(), drop: "unknown_proto"},
		{name: "ARP ethertype", etype: hdr.EtherTypeARP, l3: udp(), drop: "unknown_proto"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := gt.New(t, gt.Options{})
			gt.Add(h, parse.New())
			out := h.Sink(names.IPv4Fwd)
			frame := gt.Ether(ourMAC, peerMAC, tc.etype, tc.l3)
			if tc.pad > 0 {
				frame = gt.Pad(frame, tc.pad)
			}
			h.Inject(names.L3Parse, h.L3(frame))
			h.RunUntilIdle()
			want := map[string]uint64{"L3Parse/enq": 1}
			if tc.drop != "" {
				want["L3Parse/"+tc.drop] = 1
				if out.Len() != 0 {
					t.Errorf("dropped packet reached IPv4Fwd")
				}
			} else {
				want["IPv4Fwd/enq"] = 1
				got := out.Datas()
				if len(got) != 1 || !bytes.Equal(got[0], tc.want) {
					t.Errorf("IPv4Fwd got %x, want [%x]", got, tc.want)
				}
			}
			h.ExpectCounters(want)
			h.Done()
		})
	}
}

// TestIPv6GoesToIPv6Fwd: IPv6 is passed on untouched (IPv6Fwd checks it).
func TestIPv6GoesToIPv6Fwd(t *testing.T) {
	h := gt.New(t, gt.Options{})
	gt.Add(h, parse.New())
	out4 := h.Sink(names.IPv4Fwd)
	out6 := h.Sink(names.IPv6Fwd)
	l3 := make([]byte, 40)
	l3[0] = 0x60
	h.Inject(names.L3Parse, h.L3(gt.Ether(ourMAC, peerMAC, hdr.EtherTypeIPv6, l3)))
	h.RunUntilIdle()
	if got := out6.Datas(); len(got) != 1 || !bytes.Equal(got[0], l3) || out4.Len() != 0 {
		t.Fatalf("IPv6Fwd got %x, IPv4Fwd %d packets", got, out4.Len())
	}
	h.ExpectCounters(map[string]uint64{"L3Parse/enq": 1, "L3Parse/ipv6": 1, "IPv6Fwd/enq": 1})
	h.Free(out6.Take()...)
	h.Done()
}

// withOptions is a packet with a 24-byte header (one NOP*4 option word).
func withOptions() []byte {
	payload := gt.UDP(1, 2, []byte("opt"))
	b := make([]byte, 24+len(payload))
	hdr.PutIPv4(b, 0, len(b), 7, 64, hdr.ProtoUDP, gt.IP("10.1.0.1"), gt.IP("10.2.0.1"))
	b[0] = 0x46
	b[20], b[21], b[22], b[23] = 1, 1, 1, 0 // NOP NOP NOP EOL
	copy(b[24:], payload)
	gt.FixIPv4Checksum(b)
	return b
}

// TestParseBatch sends a full vector of mixed packets in one run: every
// packet is accounted for once, and the good ones keep their order.
func TestParseBatch(t *testing.T) {
	h := gt.New(t, gt.Options{})
	gt.Add(h, parse.New())
	out := h.Sink(names.IPv4Fwd)
	out6 := h.Sink(names.IPv6Fwd)
	bad := udp()
	bad[11] ^= 0xff
	var want [][]byte
	for i := 0; i < 256; i++ {
		switch i % 4 {
		case 0, 1:
			ip := gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.2.0.1"), uint8(i), hdr.ProtoUDP, gt.UDP(1, 2, nil))
			want = append(want, ip)
			h.Inject(names.L3Parse, h.L3(gt.Pad(gt.Ether(ourMAC, peerMAC, hdr.EtherTypeIPv4, ip), 60)))
		case 2:
			h.Inject(names.L3Parse, h.L3(gt.Ether(ourMAC, peerMAC, hdr.EtherTypeIPv4, bad)))
		case 3:
			h.Inject(names.L3Parse, h.L3(gt.Ether(ourMAC, peerMAC, hdr.EtherTypeIPv6, make([]byte, 40))))
		}
	}
	h.RunUntilIdle()
	got := out.Datas()
	if len(got) != len(want) {
		t.Fatalf("IPv4Fwd got %d packets, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("packet %d: got %x, want %x", i, got[i], want[i])
		}
	}
	h.ExpectCounters(map[string]uint64{
		"L3Parse/enq": 256, "IPv4Fwd/enq": 128, "L3Parse/bad_checksum": 64, "L3Parse/ipv6": 64, "IPv6Fwd/enq": 64,
	})
	if out6.Len() != 64 {
		t.Errorf("IPv6Fwd got %d packets, want 64", out6.Len())
	}
	h.Free(out6.Take()...)
	h.Done()
}

// refVerdict is a straightforward reading of the checks L3Parse makes, in
// its order: the counter that must drop data, or "" and the length it is
// trimmed to.
func refVerdict(data []byte) (string, int) {
	if len(data) < 20 {
		return "truncated", 0
	}
	if data[0]>>4 != 4 {
		return "bad_version", 0
	}
	ihl := int(data[0]&0xf) * 4
	if ihl < 20 {
		return "bad_ihl", 0
	}
	if ihl > len(data) {
		return "truncated", 0
	}
	total := int(data[2])<<8 | int(data[3])
	if total < ihl {
		return "bad_total_len", 0
	}
	if total > len(data) {
		return "truncated", 0
	}
	var sum uint32
	for i := 0; i < ihl; i += 2 {
		sum += uint32(data[i])<<8 | uint32(data[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	if sum != 0xffff {
		return "bad_checksum", 0
	}
	// Options, written independently of checkOptions: a list of
	// type-length-value items after End/No-op handling.
	opts := data[20:ihl]
	for i := 0; i < len(opts); {
		t := opts[i]
		if t == 0 {
			break
		}
		if t == 1 {
			i++
			continue
		}
		if i+1 >= len(opts) {
			return "bad_options", 0
		}
		l := int(opts[i+1])
		if l < 2 || i+l > len(opts) {
			return "bad_options", 0
		}
		if t == 131 || t == 137 {
			return "source_route", 0
		}
		i += l
	}
	return "", total
}

// withOpts builds a UDP packet whose header carries the option bytes o
// (padded with End to a multiple of 4).
func withOpts(o ...byte) []byte {
	for len(o)%4 != 0 {
		o = append(o, 0)
	}
	payload := gt.UDP(1, 2, []byte("opt"))
	b := make([]byte, 20+len(o)+len(payload))
	hdr.PutIPv4(b, 0, len(b), 7, 64, hdr.ProtoUDP, gt.IP("10.1.0.1"), gt.IP("10.2.0.1"))
	b[0] = 0x40 | byte((20+len(o))/4)
	copy(b[20:], o)
	copy(b[20+len(o):], payload)
	gt.FixIPv4Checksum(b)
	return b
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name string
		opts []byte
		drop string
	}{
		{"record route", []byte{7, 7, 4, 0, 0, 0, 0}, ""},
		{"timestamp after nops", []byte{1, 1, 68, 8, 5, 0, 0, 0, 0, 0}, ""},
		{"router alert", []byte{148, 4, 0, 0}, ""},
		{"loose source route", []byte{131, 7, 4, 10, 2, 0, 1}, "source_route"},
		{"strict source route", []byte{137, 7, 4, 10, 2, 0, 1}, "source_route"},
		{"length zero", []byte{7, 0, 0, 0}, "bad_options"},
		{"length one", []byte{7, 1, 0, 0}, "bad_options"},
		{"length beyond header", []byte{7, 9, 4, 0}, "bad_options"},
		{"type without length", []byte{1, 1, 1, 7}, "bad_options"},
		{"end then garbage", []byte{0, 131, 99, 99}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := withOpts(tt.opts...)
			if got, _ := refVerdict(data); got != tt.drop {
				t.Fatalf("reference says %q, want %q", got, tt.drop)
			}
			h := gt.New(t, gt.Options{PoolSize: 4})
			gt.Add(h, parse.New())
			out := h.Sink(names.IPv4Fwd)
			h.Inject(names.L3Parse, h.L3(gt.Ether(ourMAC, peerMAC, hdr.EtherTypeIPv4, data)))
			h.RunUntilIdle()
			want := map[string]uint64{"L3Parse/enq": 1}
			if tt.drop != "" {
				want["L3Parse/"+tt.drop] = 1
			} else {
				want["IPv4Fwd/enq"] = 1
				if got := out.Datas(); len(got) != 1 || !bytes.Equal(got[0], data) {
					t.Fatalf("forwarded %x, want %x", got, data)
				}
			}
			h.ExpectCounters(want)
			h.Done()
		})
	}
}

// FuzzL3Parse checks L3Parse against refVerdict on arbitrary IPv4 payloads.
func FuzzL3Parse(f *testing.F) {
	f.Add(udp())
	f.Add(withOptions())
	f.Add(withOpts(131, 7, 4, 10, 2, 0, 1))
	f.Add(withOpts(7, 9, 4, 0))
	f.Add(gt.Pad(udp(), 46))
	f.Add(udp()[:19])
	f.Add(mod(func(b []byte) []byte { b[0] = 0x4f; return b }))
	f.Add(make([]byte, 20))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1500 {
			return
		}
		h := gt.New(t, gt.Options{PoolSize: 4})
		gt.Add(h, parse.New())
		out := h.Sink(names.IPv4Fwd)
		h.Inject(names.L3Parse, h.L3(gt.Ether(ourMAC, peerMAC, hdr.EtherTypeIPv4, data)))
		h.RunUntilIdle()
		drop, total := refVerdict(data)
		want := map[string]uint64{"L3Parse/enq": 1}
		if drop != "" {
			want["L3Parse/"+drop] = 1
		} else {
			want["IPv4Fwd/enq"] = 1
			if got := out.Datas(); len(got) != 1 || !bytes.Equal(got[0], data[:total]) {
				t.Errorf("IPv4Fwd got %x, want %x", got, data[:total])
			}
		}
		h.ExpectCounters(want)
		h.Done()
	})
}
