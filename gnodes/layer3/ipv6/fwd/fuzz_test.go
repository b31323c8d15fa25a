package ipv6fwd_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v6 "github.com/r2go/r2/gnodes/internal/v6test"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz/FuzzIPv6Fwd from fuzzSeeds")

// Fuzz flags: which metadata the packet arrives with.
const (
	fuzzOrigin    = 1 << 0 // MetaLocalOrigin
	fuzzBroadcast = 1 << 1 // MetaL2Broadcast
	fuzzIfShift   = 2      // bits 2-4: InIfindex (0-7; 1-4 exist)
)

type seed struct {
	ip    []byte
	flags byte
}

// fuzzSeeds are the seed corpus of FuzzIPv6Fwd, kept in
// testdata/fuzz/FuzzIPv6Fwd (TestFuzzSeeds checks they match).
func fuzzSeeds() map[string]seed {
	const far = "2001:db8:2::9"
	eth0 := byte(1 << fuzzIfShift)
	return map[string]seed{
		"connected":      {udp(h1, far, 64, 20), eth0},
		"gateway":        {udp(h1, "2001:db8:50::1", 64, 20), eth0},
		"no_route":       {udp(h1, "2001:db8:99::1", 64, 20), eth0},
		"hop_limit_1":    {udp(h1, far, 1, 20), eth0},
		"too_big":        {udp(h1, far, 64, 1360), eth0},
		"local":          {udp(h1, v6.Eth0Global, 64, 20), eth0},
		"link_local_dst": {udp("fe80::99", v6.Eth0LL, 64, 20), eth0},
		"link_local_src": {udp("fe80::99", far, 64, 20), eth0},
		"all_nodes":      {udp("fe80::99", "ff02::1", 255, 8), eth0},
		"solicited":      {udp(h1, "ff02::1:ff00:2", 255, 8), eth0},
		"martian":        {udp("::1", far, 64, 8), eth0},
		"hbh_ok":         {withExt(far, hdr.ProtoHopByHop, v6.Ext(hdr.ProtoUDP, 5, 2, 0, 0, 1, 0)), eth0},
		"hbh_unknown":    {withExt(far, hdr.ProtoHopByHop, v6.Ext(hdr.ProtoUDP, 0x9e, 2, 0, 0)), eth0},
		"rh0":            {withExt(far, hdr.ProtoIPv6Route, v6.Ext(hdr.ProtoUDP, 0, 1)), eth0},
		"fragment":       {withExt(far, hdr.ProtoIPv6Frag, v6.Frag(hdr.ProtoUDP, 0, true)), eth0},
		"truncated_ext":  {v6.IPv6(h1, far, 64, hdr.ProtoIPv6DstOpts, []byte{17, 3, 0, 0}), eth0},
		"local_origin":   {udp(v6.Eth1LL, "fe80::99", 64, 20), 2<<fuzzIfShift | fuzzOrigin},
		"broadcast":      {udp(h1, far, 64, 20), eth0 | fuzzBroadcast},
		"runt":           {[]byte{0x60, 0, 0}, eth0},
	}
}

const seedDir = "testdata/fuzz/FuzzIPv6Fwd"

func seedFile(s seed) string {
	return fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbyte(%q)\n", s.ip, s.flags)
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

// FuzzIPv6Fwd feeds arbitrary bytes to IPv6Fwd as an IPv6 packet and checks
// that nothing panics and that the packet is accounted for exactly once:
// forwarded, counted in one drop or error reason, or delivered to
// IPv6Local for the router itself. What it forwards is well formed for
// EncapMux; what it hands IPv6Local for an error carries a valid request.
func FuzzIPv6Fwd(f *testing.F) {
	f.Fuzz(func(t *testing.T, ip []byte, flags byte) {
		if len(ip) > packet.MaxData-14 {
			return
		}
		h, mux, local := setup(t, v6.Table())
		var meta uint32
		if flags&fuzzOrigin != 0 {
			meta |= packet.MetaLocalOrigin
		}
		if flags&fuzzBroadcast != 0 {
			meta |= packet.MetaL2Broadcast
		}
		p := pkt(h, ip, meta)
		p.InIfindex = int32(flags >> fuzzIfShift & 7)
		h.Inject(names.IPv6Fwd, p)
		h.RunUntilIdle()

		var reasons uint64
		for k, v := range h.Counters() {
			if strings.HasPrefix(k, "IPv6Fwd/") && k != "IPv6Fwd/enq" && k != "IPv6Fwd/forwarded" && !strings.HasSuffix(k, "#bytes") {
				reasons += v
			}
		}
		fwded := h.Counter("IPv6Fwd/forwarded")
		var toLocal uint64
		for _, q := range local.Take() {
			switch {
			case q.Meta&packet.MetaICMPError == 0:
				toLocal++ // for the router itself: no reason counted
			case meta&packet.MetaLocalOrigin != 0:
				t.Errorf("error requested about a packet of our own")
			default:
				typ := uint8(q.Meta >> 8)
				if typ < hdr.ICMPv6DestUnreach || typ > hdr.ICMPv6ParamProblem {
					t.Errorf("error type %d requested", typ)
				}
			}
			h.Free(q)
		}
		outs := mux.Take()
		if uint64(len(outs)) != fwded {
			t.Errorf("%d packets at EncapMux, forwarded %d", len(outs), fwded)
		}
		for _, q := range outs {
			d := q.Data()
			in := v6.Intfs().Get(q.OutIfindex)
			switch {
			case q.Meta&packet.MetaIPv6 == 0:
				t.Errorf("forwarded without MetaIPv6")
			case in == nil || !in.Up || len(d) > in.MTU:
				t.Errorf("forwarded out of ifindex %d, %d bytes", q.OutIfindex, len(d))
			case len(d) < hdr.IPv6Len || hdr.IPv6(d).PayloadLen()+hdr.IPv6Len != len(d):
				t.Errorf("forwarded a bad header: %x", d)
			}
			h.Free(q)
		}
		if sent := h.Counter("IPv6Fwd/enq"); fwded+reasons+toLocal != sent || sent != 1 {
			t.Errorf("forwarded %d + counted drops %d + to local %d != sent %d; counters %v", fwded, reasons, toLocal, sent, h.Counters())
		}
		h.Done()
	})
}

// TestSeedPaths checks that each seed takes the path it is named after.
func TestSeedPaths(t *testing.T) {
	want := map[string]string{
		"connected": "IPv6Fwd/forwarded", "gateway": "IPv6Fwd/forwarded", "no_route": "IPv6Fwd/no_route",
		"hop_limit_1": "IPv6Fwd/hop_limit_exceeded", "too_big": "IPv6Fwd/too_big", "local": "IPv6Local/enq",
		"link_local_dst": "IPv6Local/enq", "link_local_src": "IPv6Fwd/link_local", "all_nodes": "IPv6Local/enq",
		"solicited": "IPv6Local/enq", "martian": "IPv6Fwd/martian_src", "hbh_ok": "IPv6Fwd/forwarded",
		"hbh_unknown": "IPv6Fwd/unknown_option", "rh0": "IPv6Fwd/rh0", "fragment": "IPv6Fwd/forwarded",
		"truncated_ext": "IPv6Fwd/bad_ext_hdr", "local_origin": "IPv6Fwd/forwarded", "broadcast": "IPv6Fwd/l2_broadcast",
		"runt": "IPv6Fwd/bad_header",
	}
	seeds := fuzzSeeds()
	if len(want) != len(seeds) {
		t.Fatalf("%d seeds, %d checked", len(seeds), len(want))
	}
	for name, s := range seeds {
		t.Run(name, func(t *testing.T) {
			h, _, _ := setup(t, v6.Table())
			p := pkt(h, s.ip, 0)
			if s.flags&fuzzOrigin != 0 {
				p.Meta |= packet.MetaLocalOrigin
			}
			if s.flags&fuzzBroadcast != 0 {
				p.Meta |= packet.MetaL2Broadcast
			}
			p.InIfindex = int32(s.flags >> fuzzIfShift & 7)
			h.Inject(names.IPv6Fwd, p)
			h.RunUntilIdle()
			if v := h.Counter(want[name]); v != 1 {
				t.Errorf("%s = %d, want 1; counters %v", want[name], v, h.Counters())
			}
			h.Done()
		})
	}
}
