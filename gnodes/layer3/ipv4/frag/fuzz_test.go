package frag_test

import (
	"bytes"
	"flag"
	"fmt"
	"testing"

	"github.com/r2go/r2/gnodes/layer3/ipv4/frag"
	"github.com/r2go/r2/gnodes/layer3/parse"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz from the seeds built in the tests")

// fragSeeds are the seed corpus of FuzzIPv4Frag: an IPv4 packet, the MTU
// of the output interface (raised to 68) and whether the pool is so small
// that it runs dry mid-packet.
func fragSeeds() map[string]gt.Seed {
	copied := []byte{0x82, 4, 0xaa, 0xbb}
	notCopied := []byte{7, 7, 4, 0, 0, 0, 0}
	opts := append(append(append([]byte{}, notCopied...), 1), copied...)
	return map[string]gt.Seed{
		"1400_over_576":    {datagram(1400, nil, 0), uint16(576), false},
		"exactly_two":      {datagram(1012, nil, 0), uint16(520), false},
		"options":          {datagram(1400, opts, 0), uint16(576), false},
		"max_options_68":   {datagram(300, append(bytes.Repeat([]byte{0x83, 8, 4, 0, 0, 0, 0, 0}, 5), 0x82, 0), 0), uint16(68), false},
		"fragment_of_frag": {datagram(1400, nil, hdr.IPv4FlagMF|100), uint16(576), false},
		"last_fragment":    {datagram(1000, nil, 40), uint16(300), false},
		"high_offset":      {datagram(1400, nil, 8000), uint16(576), false},
		"offset_overflow":  {datagram(1400, nil, 8100), uint16(576), false},
		"largest_1280":     {datagram(1900, nil, 0), uint16(1280), false},
		"68_mtu":           {datagram(1790, nil, 0), uint16(68), false},
		"fits":             {datagram(500, nil, 0), uint16(1500), false},
		"pool_dry":         {datagram(1400, nil, 0), uint16(576), true},
		"header_only":      {datagram(20, nil, 0), uint16(68), false},
		"options_eol":      {datagram(200, []byte{0x82, 4, 1, 2, 0, 0x82, 4, 3}, 0), uint16(68), false},
	}
}

func TestFuzzIPv4FragSeeds(t *testing.T) {
	gt.SyncSeeds(t, "FuzzIPv4Frag", fragSeeds(), *updateSeeds)
}

// FuzzIPv4Frag passes an arbitrary packet through the real L3Parse (so
// IPv4Frag sees only what it can be given) and then fragments it for an
// output MTU of at least 68. Either the packet is dropped under a counter
// (bad_offset, and only if it ends beyond the largest datagram), or every
// fragment fits the MTU, has a valid header checksum, the
// original's identity and the options it must carry, an offset that
// continues the previous fragment's and a payload that is a multiple of 8
// but in the last; and the fragments put back together are the original
// payload (a prefix of it if the pool ran dry). At the end the pool is
// empty.
func FuzzIPv4Frag(f *testing.F) {
	// The seeds are in testdata/fuzz/FuzzIPv4Frag (TestFuzzIPv4FragSeeds).
	f.Fuzz(func(t *testing.T, ip []byte, mtu16 uint16, smallPool bool) {
		if len(ip) > packet.MaxData-hdr.EtherLen {
			return
		}
		mtu := max(int(mtu16), 68)
		pool := 512
		if smallPool {
			pool = 4 // the original and three fragments
		}
		h := gt.New(t, gt.Options{PoolSize: pool})
		gt.Add(h, parse.New())
		gt.Add(h, frag.New(intfs(mtu)))
		fwdSink := h.Sink(names.IPv4Fwd)
		mux := h.Sink(names.EncapMux)
		h.Inject(names.L3Parse, h.L3(gt.Ether(gt.MAC("02:00:00:00:00:01"), gt.MAC("02:00:00:00:00:99"), hdr.EtherTypeIPv4, ip)))
		h.RunUntilIdle()
		parsed := fwdSink.Take()
		if len(parsed) == 0 {
			h.Done() // L3Parse refused it: IPv4Frag never sees such a packet
			return
		}
		p := parsed[0]
		orig := append([]byte(nil), p.Data()...)
		p.OutIfindex, p.NextHop, p.InIfindex, p.Meta = 1, 0x0a020009, 3, packet.MetaL2Broadcast
		h.Inject(names.IPv4Frag, p)
		h.RunUntilIdle()

		c := h.Counters()
		out := mux.Take()
		var frags [][]byte
		for _, q := range out {
			if q.OutIfindex != 1 || q.NextHop != 0x0a020009 || q.InIfindex != 3 || q.Meta != packet.MetaL2Broadcast || q.L3 != q.Head() {
				t.Errorf("fragment metadata: out %d nexthop %#x in %d meta %#x L3 %d head %d",
					q.OutIfindex, q.NextHop, q.InIfindex, q.Meta, q.L3, q.Head())
			}
			frags = append(frags, append([]byte(nil), q.Data()...))
			h.Free(q)
		}
		switch {
		case c["IPv4Frag/enq"] != 1:
			t.Errorf("IPv4Frag/enq %d", c["IPv4Frag/enq"])
		case c["IPv4Frag/mtu_too_small"] == 1 || c["IPv4Frag/no_intf"] == 1:
			t.Errorf("packet of %d bytes over MTU %d dropped: %v", len(orig), mtu, c)
		case c["IPv4Frag/bad_offset"] == 1:
			// Dropped only if it ends beyond the largest datagram.
			o := hdr.IPv4(orig)
			if end := int(o.FlagsFrag()&hdr.IPv4OffMask)*8 + len(orig) - o.HeaderLen(); end <= 0xffff || len(out) != 0 {
				t.Errorf("fragment ending at %d dropped as bad_offset, %d fragments sent", end, len(out))
			}
		case c["IPv4Frag/fragmented"] != 1 || c["IPv4Frag/fragments"] != uint64(len(frags)) || c["EncapMux/enq"] != uint64(len(frags)):
			t.Errorf("%d fragments, counters %v", len(frags), c)
		default:
			dry := c["IPv4Frag/frag_nobuf"] == 1
			if dry && !smallPool {
				t.Errorf("pool of %d ran dry", pool)
			}
			if err := checkFragments(orig, frags, mtu, dry); err != nil {
				t.Errorf("packet with header %x over MTU %d: %v", orig[:hdr.IPv4(orig).HeaderLen()], mtu, err)
				for i, f := range frags {
					t.Logf("fragment %d: %x", i, f)
				}
			}
		}
		h.Done()
	})
}

// checkFragments checks that frags are orig fragmented for mtu, all of it
// unless the pool ran dry (then a prefix, possibly empty).
func checkFragments(orig []byte, frags [][]byte, mtu int, dry bool) error {
	o := hdr.IPv4(orig)
	ihl := o.HeaderLen()
	payload := orig[ihl:]
	baseOff := int(o.FlagsFrag()&hdr.IPv4OffMask) * 8
	origMF := o.FlagsFrag()&hdr.IPv4FlagMF != 0
	if !dry && len(frags) == 0 && len(payload) > 0 {
		return fmt.Errorf("no fragments")
	}
	var got []byte
	for i, f := range frags {
		ip := hdr.IPv4(f)
		last := i == len(frags)-1
		switch {
		case len(f) < hdr.IPv4MinLen || ip.Version() != 4 || ip.HeaderLen() < hdr.IPv4MinLen || ip.HeaderLen() > len(f):
			return fmt.Errorf("fragment %d: bad header", i)
		case len(f) > mtu:
			return fmt.Errorf("fragment %d: %d bytes over MTU %d", i, len(f), mtu)
		case ip.TotalLen() != len(f):
			return fmt.Errorf("fragment %d: total length %d, %d bytes", i, ip.TotalLen(), len(f))
		case !hdr.HeaderChecksumOK(f[:ip.HeaderLen()]):
			return fmt.Errorf("fragment %d: bad header checksum", i)
		case ip.ID() != o.ID() || ip.TTL() != o.TTL() || ip.Protocol() != o.Protocol() || ip.TOS() != o.TOS() ||
			ip.Src() != o.Src() || ip.Dst() != o.Dst():
			return fmt.Errorf("fragment %d: identity differs from the original", i)
		case ip.FlagsFrag()&hdr.IPv4FlagDF != o.FlagsFrag()&hdr.IPv4FlagDF || ip.FlagsFrag()&0x8000 != o.FlagsFrag()&0x8000:
			return fmt.Errorf("fragment %d: flags %#x, original %#x", i, ip.FlagsFrag(), o.FlagsFrag())
		}
		// The header: the original's for the first fragment, its options
		// with the copy flag for the others.
		wantHdr := orig[hdr.IPv4MinLen:ihl]
		if i > 0 {
			wantHdr = copiedOptions(wantHdr)
		}
		if !bytes.Equal(f[hdr.IPv4MinLen:ip.HeaderLen()], wantHdr) {
			return fmt.Errorf("fragment %d: options %x, want %x", i, f[hdr.IPv4MinLen:ip.HeaderLen()], wantHdr)
		}
		body := f[ip.HeaderLen():]
		off := int(ip.FlagsFrag()&hdr.IPv4OffMask) * 8
		if off != baseOff+len(got) {
			return fmt.Errorf("fragment %d at offset %d, want %d", i, off, baseOff+len(got))
		}
		mf := ip.FlagsFrag()&hdr.IPv4FlagMF != 0
		complete := len(got)+len(body) == len(payload)
		if want := !complete || origMF; mf != want {
			return fmt.Errorf("fragment %d: MF %v, want %v", i, mf, want)
		}
		if !complete && len(body)%8 != 0 {
			return fmt.Errorf("fragment %d: %d payload bytes, not a multiple of 8", i, len(body))
		}
		if len(body) == 0 && len(payload) > 0 || !last && complete {
			return fmt.Errorf("fragment %d: %d payload bytes, %d of %d before", i, len(body), len(got), len(payload))
		}
		got = append(got, body...)
	}
	if !bytes.Equal(got, payload[:min(len(got), len(payload))]) || !dry && len(got) != len(payload) {
		return fmt.Errorf("reassembled %d bytes, not the original %d", len(got), len(payload))
	}
	return nil
}

// copiedOptions returns the options of opts (a valid list) whose copy flag
// is set, padded with zeros to a multiple of 4 bytes (RFC 791).
func copiedOptions(opts []byte) []byte {
	var out []byte
	for len(opts) > 0 && opts[0] != 0 {
		l := 1
		if opts[0] != 1 {
			l = int(opts[1])
		}
		if opts[0]&0x80 != 0 {
			out = append(out, opts[:l]...)
		}
		opts = opts[l:]
	}
	for len(out)%4 != 0 {
		out = append(out, 0)
	}
	return out
}
