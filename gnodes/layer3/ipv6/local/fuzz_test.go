package local_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v6 "github.com/r2go/r2/gnodes/internal/v6test"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz/FuzzIPv6Local from fuzzSeeds")

// fuzzErrors are the errors a fuzz input may ask for: mode 0 delivers the
// packet, mode i asks for fuzzErrors[i-1] (modulo).
var fuzzErrors = [][2]uint8{
	{hdr.ICMPv6DestUnreach, hdr.ICMPv6NoRoute}, {hdr.ICMPv6DestUnreach, hdr.ICMPv6BeyondScope},
	{hdr.ICMPv6DestUnreach, hdr.ICMPv6AddrUnreach}, {hdr.ICMPv6PacketTooBig, 0},
	{hdr.ICMPv6TimeExceeded, hdr.ICMPv6HopLimitExceed}, {hdr.ICMPv6ParamProblem, hdr.ICMPv6ErrHeaderField},
	{hdr.ICMPv6ParamProblem, hdr.ICMPv6UnknownNextHdr}, {hdr.ICMPv6ParamProblem, hdr.ICMPv6UnknownOption},
}

// Fuzz control byte: bits 0-3 the mode, bit 4 MetaL2Broadcast, bits 5-7
// InIfindex (0-7; 1-4 exist).
const (
	fuzzModeMask  = 0xf
	fuzzBroadcast = 1 << 4
	fuzzIfShift   = 5
)

type seed struct {
	ip   []byte
	ctl  byte
	info uint16
}

func fuzzSeeds() map[string]seed {
	eth0 := byte(1 << fuzzIfShift)
	far := "2001:db8:99::9"
	return map[string]seed{
		"echo":              {v6.Echo(h1, v6.Eth0Global, 1, 2, []byte("ping")), eth0, 0},
		"echo_all_nodes":    {v6.Echo("fe80::99", "ff02::1", 1, 2, nil), eth0, 0},
		"echo_link_local":   {v6.Echo("fe80::99", v6.Eth0LL, 1, 2, nil), eth0, 0},
		"udp":               {v6.UDPPacket(h1, v6.Eth0Global, 64, 10), eth0, 0},
		"neigh_solicit":     {v6.IPv6(h1, "ff02::1:ff00:2", 255, 58, v6.ICMP(h1, "ff02::1:ff00:2", 135, 0, 0, make([]byte, 16))), eth0, 0},
		"fragment":          {v6.IPv6(h1, v6.Eth0Global, 64, 44, v6.Cat(v6.Frag(58, 0, true), make([]byte, 8))), eth0, 0},
		"no_route":          {v6.UDPPacket(h1, far, 64, 10), eth0 | 1, 0},
		"too_big":           {v6.UDPPacket(h1, far, 64, 1400), eth0 | 4, 1400},
		"time_exceeded_ll":  {v6.UDPPacket("fe80::99", far, 1, 10), eth0 | 5, 0},
		"param_problem":     {v6.UDPPacket(h1, "ff0e::1", 64, 10), eth0 | 8, 42},
		"error_about_error": {v6.IPv6(h1, far, 1, 58, v6.ICMP(h1, far, 1, 0, 0, make([]byte, 40))), eth0 | 5, 0},
		"broadcast":         {v6.UDPPacket(h1, far, 64, 10), eth0 | 5 | fuzzBroadcast, 0},
		"runt":              {[]byte{0x60, 0}, eth0 | 5, 0},
	}
}

const seedDir = "testdata/fuzz/FuzzIPv6Local"

func seedFile(s seed) string {
	return fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbyte(%q)\nuint16(%d)\n", s.ip, s.ctl, s.info)
}

// TestFuzzSeeds keeps the corpus on disk in sync with fuzzSeeds (run with
// -update-seeds to rewrite it).
func TestFuzzSeeds(t *testing.T) {
	seeds := fuzzSeeds()
	if *updateSeeds {
		if err := os.MkdirAll(seedDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, s := range seeds {
			if err := os.WriteFile(filepath.Join(seedDir, name), []byte(seedFile(s)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, s := range seeds {
		got, err := os.ReadFile(filepath.Join(seedDir, name))
		if err != nil {
			t.Fatalf("%v (run go test -run TestFuzzSeeds -update-seeds)", err)
		}
		if !bytes.Equal(got, []byte(seedFile(s))) {
			t.Errorf("seed %s is out of date (run go test -run TestFuzzSeeds -update-seeds)", name)
		}
	}
}

// run puts one fuzz input through IPv6Local and returns what came out.
func run(t *testing.T, ip []byte, ctl byte, info uint16) (h *gt.Harness, outs []*packet.Packet, typ, code uint8, in []byte) {
	h, out := setup(t, gt.Options{})
	var meta uint32
	if mode := int(ctl & fuzzModeMask); mode != 0 {
		e := fuzzErrors[(mode-1)%len(fuzzErrors)]
		typ, code = e[0], e[1]
		meta = packet.MetaICMPError | packet.MetaIPv6 | uint32(typ)<<8 | uint32(code)
	}
	if ctl&fuzzBroadcast != 0 {
		meta |= packet.MetaL2Broadcast
	}
	p := pkt(h, ip, meta, uint32(info))
	p.InIfindex = int32(ctl >> fuzzIfShift)
	h.Inject(names.IPv6Local, p)
	h.RunUntilIdle()
	return h, out.Take(), typ, code, ip
}

// FuzzIPv6Local feeds arbitrary bytes to IPv6Local as a packet for the
// router or as one to answer with an ICMPv6 error, and checks that every
// message it emits is well formed: an IPv6 header whose payload length is
// the rest of the packet, an ICMPv6 checksum that an independent
// computation accepts, a source that is one of the router's addresses, at
// most 1280 bytes for an error (and the offending packet's prefix quoted),
// at most the request's size for an echo reply; and that every packet is
// counted exactly once.
func FuzzIPv6Local(f *testing.F) {
	f.Fuzz(func(t *testing.T, ip []byte, ctl byte, info uint16) {
		if len(ip) > packet.MaxData-14 {
			return
		}
		h, outs, typ, code, in := run(t, ip, ctl, info)
		for _, q := range outs {
			b := q.Data()
			if len(b) < 48 || b[0]>>4 != 6 || int(be.Uint16(b[4:]))+40 != len(b) || b[6] != hdr.ProtoICMPv6 {
				t.Fatalf("bad IPv6 framing: %x", b)
			}
			if got, want := be.Uint16(b[42:]), v6.SlowChecksum6(b[8:24], b[24:40], b[40:]); got != want {
				t.Errorf("ICMPv6 checksum %#04x, want %#04x", got, want)
			}
			if q.Meta != packet.MetaLocalOrigin|packet.MetaIPv6 {
				t.Errorf("Meta %#x", q.Meta)
			}
			ours := false
			for _, i := range v6.Intfs().All() {
				ours = ours || i.HasAddr6([16]byte(b[8:24]))
			}
			if !ours {
				t.Errorf("source %x is not ours", b[8:24])
			}
			if !bytes.Equal(b[24:40], in[8:24]) {
				t.Errorf("sent to %x, not to the original source %x", b[24:40], in[8:24])
			}
			if typ == 0 {
				if b[40] != hdr.ICMPv6EchoReply || len(b) > len(in) {
					t.Errorf("reply type %d, %d bytes for a request of %d", b[40], len(b), len(in))
				}
			} else {
				quote := b[48:]
				if len(b) > hdr.ICMPv6MaxError || b[40] != typ || b[41] != code || !bytes.HasPrefix(in, quote) {
					t.Errorf("error %d/%d of %d bytes for %d/%d", b[40], b[41], len(b), typ, code)
				}
			}
			h.Free(q)
		}
		var counted uint64
		for k, v := range h.Counters() {
			if strings.HasPrefix(k, "IPv6Local/") && k != "IPv6Local/enq" {
				counted += v
			}
		}
		if counted != 1 || h.Counter("IPv6Fwd/enq") != uint64(len(outs)) {
			t.Errorf("counters %v", h.Counters())
		}
		h.Done()
	})
}

// TestSeedPaths checks that each seed takes the path it is named after.
func TestSeedPaths(t *testing.T) {
	want := map[string]string{
		"echo": "echo_replies", "echo_all_nodes": "echo_replies", "echo_link_local": "echo_replies", "udp": "udp",
		"neigh_solicit": "nd_unexpected", "fragment": "fragment", "no_route": "icmp_errors_sent",
		"too_big": "icmp_errors_sent", "time_exceeded_ll": "icmp_errors_sent", "param_problem": "icmp_errors_sent",
		"error_about_error": "icmp_error_suppressed", "broadcast": "icmp_error_suppressed", "runt": "bad_header",
	}
	seeds := fuzzSeeds()
	if len(want) != len(seeds) {
		t.Fatalf("%d seeds, %d checked", len(seeds), len(want))
	}
	for name, s := range seeds {
		t.Run(name, func(t *testing.T) {
			h, outs, _, _, _ := run(t, s.ip, s.ctl, s.info)
			h.Free(outs...)
			if v := h.Counter("IPv6Local/" + want[name]); v != 1 {
				t.Errorf("%s = %d, want 1; counters %v", want[name], v, h.Counters())
			}
			h.Done()
		})
	}
}
