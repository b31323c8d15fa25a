package local_test

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"testing"

	"github.com/r2go/r2/gnodes/layer3/ipv4/local"
	"github.com/r2go/r2/gnodes/layer3/parse"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz from the seeds built in the tests")

// localSeeds are the seed corpus of FuzzIPv4Local. The arguments are the
// IPv4 packet, whether IPv4Fwd asked for an ICMP error, its type<<8|code,
// the next-hop MTU, the input ifindex and whether the frame was a
// link-layer broadcast.
func localSeeds() map[string]gt.Seed {
	udp := func(src string, n int) []byte {
		return gt.IPv4(gt.IP(src), gt.IP("10.9.9.9"), 1, hdr.ProtoUDP, gt.UDP(33434, 33435, gt.Bytes(n)))
	}
	frag := func(ff uint16) []byte { b := udp("10.1.0.1", 40); gt.SetFlagsFrag(b, ff); return b }
	icmp := func(typ uint8, n int) []byte {
		return gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.9.9.9"), 1, hdr.ProtoICMP, gt.ICMP(typ, 0, 0, gt.Bytes(n)))
	}
	echo := func(dst string, n int) []byte {
		return gt.IPv4(gt.IP("10.1.0.1"), gt.IP(dst), 64, hdr.ProtoICMP, gt.Echo(0x77, 3, gt.Bytes(n)))
	}
	const te, unreach, fragNeeded = 11 << 8, 3 << 8, 3<<8 | 4
	return map[string]gt.Seed{
		"ttl_exceeded":        {udp("10.1.0.1", 100), true, uint16(te), uint16(0), int8(1), false},
		"net_unreachable":     {udp("172.16.0.1", 10), true, uint16(unreach), uint16(0), int8(2), false},
		"frag_needed":         {udp("10.1.0.1", 1400), true, uint16(fragNeeded), uint16(1400), int8(1), false},
		"quote_capped":        {udp("192.168.7.5", 1200), true, uint16(te), uint16(0), int8(1), false},
		"quote_548":           {udp("10.1.0.1", 520), true, uint16(te), uint16(0), int8(1), false},
		"first_fragment":      {frag(hdr.IPv4FlagMF), true, uint16(te), uint16(0), int8(1), false},
		"non_first_fragment":  {frag(hdr.IPv4FlagMF | 5), true, uint16(te), uint16(0), int8(1), false},
		"last_fragment":       {frag(7), true, uint16(te), uint16(0), int8(1), false},
		"about_echo":          {icmp(hdr.ICMPEchoRequest, 8), true, uint16(te), uint16(0), int8(1), false},
		"about_error":         {icmp(hdr.ICMPDestUnreach, 28), true, uint16(te), uint16(0), int8(1), false},
		"about_empty_icmp":    {gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.9.9.9"), 1, hdr.ProtoICMP, nil), true, uint16(te), uint16(0), int8(1), false},
		"l2_broadcast":        {udp("10.1.0.1", 10), true, uint16(te), uint16(0), int8(1), true},
		"zero_source":         {udp("0.0.0.0", 10), true, uint16(te), uint16(0), int8(1), false},
		"broadcast_source":    {udp("255.255.255.255", 10), true, uint16(te), uint16(0), int8(1), false},
		"broadcast_dest":      {gt.IPv4(gt.IP("10.1.0.1"), gt.IP("255.255.255.255"), 1, hdr.ProtoUDP, gt.UDP(1, 2, nil)), true, uint16(te), uint16(0), int8(1), false},
		"unknown_interface":   {udp("10.2.0.7", 10), true, uint16(te), uint16(0), int8(9), false},
		"with_options":        {echoWithOptions(gt.Echo(1, 1, []byte("x"))), true, uint16(unreach), uint16(0), int8(1), false},
		"echo":                {echo("10.1.0.2", 20), false, uint16(0), uint16(0), int8(1), false},
		"echo_options":        {echoWithOptions(gt.Echo(0x77, 4, []byte("hello"))), false, uint16(0), uint16(0), int8(1), false},
		"echo_big":            {echo("10.2.0.2", 1400), false, uint16(0), uint16(0), int8(2), false},
		"echo_not_ours":       {echo("10.1.0.255", 8), false, uint16(0), uint16(0), int8(1), true},
		"echo_bad_checksum":   {func() []byte { b := echo("10.1.0.2", 4); b[30] ^= 1; return b }(), false, uint16(0), uint16(0), int8(1), false},
		"echo_fragment":       {func() []byte { b := echo("10.1.0.2", 4); gt.SetFlagsFrag(b, hdr.IPv4FlagMF); return b }(), false, uint16(0), uint16(0), int8(1), false},
		"udp_to_us":           {gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.1.0.2"), 64, hdr.ProtoUDP, gt.UDP(1, 53, nil)), false, uint16(0), uint16(0), int8(1), false},
		"echo_short_icmp":     {gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.1.0.2"), 64, hdr.ProtoICMP, []byte{8, 0, 0xf7, 0xff}), false, uint16(0), uint16(0), int8(1), false},
		"timestamp_to_us":     {gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.1.0.2"), 64, hdr.ProtoICMP, gt.ICMP(13, 0, 1, make([]byte, 12))), false, uint16(0), uint16(0), int8(1), false},
		"error_about_garbage": {[]byte("not an IPv4 packet at all"), true, uint16(te), uint16(0), int8(1), false},
	}
}

func TestFuzzIPv4LocalSeeds(t *testing.T) {
	gt.SyncSeeds(t, "FuzzIPv4Local", localSeeds(), *updateSeeds)
}

// localDrops are the counters of IPv4Local that each account for a packet
// it discarded.
var localDrops = []string{"icmp_rate_limited", "icmp_error_suppressed", "no_src_addr", "bad_icmp", "fragment",
	"not_our_addr", "tcp", "udp", "other_proto", "other_icmp", "echo_too_big"}

// maxQuote is how much of the original an ICMP error quotes at most: 576
// bytes less its own IPv4 and ICMP headers (RFC 1812 4.3.2.3).
const maxQuote = 576 - 20 - 8

// FuzzIPv4Local passes arbitrary IPv4 packets through the real L3Parse (so
// IPv4Local sees only what it can be given) and then to IPv4Local, as an
// echo request or marked for an ICMP error of any type and code. It checks
// that each packet leaves exactly once (one message to IPv4Fwd or one drop
// counter), that the pool is empty at the end, and that every message
// IPv4Local makes is right: valid IPv4 and ICMP checksums, addressed back
// to the sender from one of our addresses; an error is at most 576 bytes,
// carries the type, code and MTU asked for, quotes a prefix of the original
// and is never about an ICMP error, a non-first fragment, a link-layer
// broadcast or a source or destination that cannot be answered; an echo
// reply carries the request's identifier, sequence and data.
func FuzzIPv4Local(f *testing.F) {
	// The seeds are in testdata/fuzz/FuzzIPv4Local (TestFuzzIPv4LocalSeeds).
	f.Fuzz(func(t *testing.T, ip []byte, icmpErr bool, typeCode, info uint16, inIf int8, l2bcast bool) {
		if len(ip) > packet.MaxData-hdr.EtherLen {
			return
		}
		h := gt.New(t, gt.Options{PoolSize: 8})
		gt.Add(h, parse.New())
		gt.Add(h, local.New(intfs()))
		out := h.Sink(names.IPv4Fwd)
		h.Inject(names.L3Parse, h.L3(gt.Ether(gt.MAC("02:00:00:00:00:01"), gt.MAC("02:00:00:00:00:99"), hdr.EtherTypeIPv4, ip)))
		h.RunUntilIdle()
		parsed := out.Take()
		if len(parsed) == 0 {
			h.Done() // L3Parse refused it: IPv4Local never sees such a packet
			return
		}
		p := parsed[0]
		orig := append([]byte(nil), p.Data()...)
		p.InIfindex = int32(inIf)
		p.Meta, p.NextHop = 0, uint32(info)
		if l2bcast {
			p.Meta |= packet.MetaL2Broadcast
		}
		if icmpErr {
			p.Meta |= packet.MetaICMPError | uint32(typeCode)
		}
		before := h.Counters()
		h.Inject(names.IPv4Local, p)
		h.RunUntilIdle()
		c := h.Counters()
		delta := func(k string) uint64 { return c[k] - before[k] }

		sent := out.Take()
		fates := uint64(len(sent))
		for _, k := range localDrops {
			fates += delta("IPv4Local/" + k)
		}
		if delta("IPv4Local/enq") != 1 || fates != 1 || delta("IPv4Fwd/enq") != uint64(len(sent)) {
			t.Errorf("packet %x: %d fates, counters %v", orig, fates, c)
		}
		for _, q := range sent {
			if q.Meta != packet.MetaLocalOrigin || q.NextHop != 0 && icmpErr || q.L3 != q.Head() {
				t.Errorf("Meta %#x NextHop %d L3 %d head %d", q.Meta, q.NextHop, q.L3, q.Head())
			}
			var err error
			if icmpErr {
				err = checkError(orig, q.Data(), typeCode, info, l2bcast)
			} else {
				err = checkEcho(orig, q.Data())
			}
			if err != nil {
				t.Errorf("about %x (error %v, %#x): %v\nsent %x", orig, icmpErr, typeCode, err, q.Data())
			}
			h.Free(q)
		}
		h.Done()
	})
}

// checkICMP checks the IPv4 header and ICMP checksum of a message the
// router sent to dst and returns its ICMP part.
func checkICMP(msg []byte, dst uint32) ([]byte, error) {
	ip := hdr.IPv4(msg)
	switch {
	case len(msg) < 28:
		return nil, fmt.Errorf("%d bytes", len(msg))
	case ip.Version() != 4 || ip.HeaderLen() != 20 || ip.TotalLen() != len(msg):
		return nil, fmt.Errorf("bad version, header or total length")
	case !gt.IPv4ChecksumOK(msg):
		return nil, fmt.Errorf("bad IPv4 header checksum")
	case hdr.Checksum(msg[20:], 0) != 0:
		return nil, fmt.Errorf("bad ICMP checksum")
	case ip.Protocol() != hdr.ProtoICMP || ip.TTL() != hdr.DefaultTTL || ip.IsFragment():
		return nil, fmt.Errorf("protocol %d, TTL %d, flags/offset %#x", ip.Protocol(), ip.TTL(), ip.FlagsFrag())
	case ip.Dst() != dst:
		return nil, fmt.Errorf("sent to %#x, not %#x", ip.Dst(), dst)
	}
	for _, i := range intfs().All() {
		if i.HasAddr(ip.Src()) {
			return msg[20:], nil
		}
	}
	return nil, fmt.Errorf("source %#x is not ours", ip.Src())
}

// checkError checks msg, the ICMP error sent about orig.
func checkError(orig, msg []byte, typeCode, info uint16, l2bcast bool) error {
	o := hdr.IPv4(orig)
	icmp, err := checkICMP(msg, o.Src())
	if err != nil {
		return err
	}
	switch src, dst := o.Src(), o.Dst(); {
	case len(msg) > 576:
		return fmt.Errorf("%d bytes, more than 576", len(msg))
	case l2bcast:
		return fmt.Errorf("about a link-layer broadcast")
	case o.FlagsFrag()&hdr.IPv4OffMask != 0:
		return fmt.Errorf("about a non-first fragment")
	case src == 0 || src>>24 == 127 || src >= 0xe0000000:
		return fmt.Errorf("to source %#x, which cannot be answered", src)
	case dst >= 0xe0000000:
		return fmt.Errorf("about a packet to multicast or broadcast %#x", dst)
	case o.Protocol() == hdr.ProtoICMP && !isQuery(orig[o.HeaderLen():]):
		return fmt.Errorf("about an ICMP error")
	}
	if got := binary.BigEndian.Uint16(icmp); got != typeCode {
		return fmt.Errorf("type/code %#x, want %#x", got, typeCode)
	}
	if got := binary.BigEndian.Uint32(icmp[4:]); got != uint32(info) {
		return fmt.Errorf("bytes 4-7 are %#x, want %#x", got, info)
	}
	quote := icmp[8:]
	if want := min(len(orig), maxQuote); len(quote) != want || !bytes.Equal(quote, orig[:want]) {
		return fmt.Errorf("quotes %d bytes, want the first %d of the original", len(quote), want)
	}
	return nil
}

// isQuery reports whether icmp is an ICMP query message (an error may be
// sent about those, RFC 1812 4.3.2.7).
func isQuery(icmp []byte) bool {
	if len(icmp) == 0 {
		return false
	}
	switch icmp[0] {
	case hdr.ICMPEchoRequest, hdr.ICMPEchoReply, 13, 14, 15, 16, 17, 18:
		return true
	}
	return false
}

// checkEcho checks msg, the echo reply sent for orig.
func checkEcho(orig, msg []byte) error {
	o := hdr.IPv4(orig)
	icmp, err := checkICMP(msg, o.Src())
	if err != nil {
		return err
	}
	req := orig[o.HeaderLen():]
	switch {
	case o.Protocol() != hdr.ProtoICMP || len(req) < 8 || req[0] != hdr.ICMPEchoRequest || req[1] != 0:
		return fmt.Errorf("a reply to something other than an echo request")
	case hdr.Checksum(req, 0) != 0:
		return fmt.Errorf("a reply to a request with a bad checksum")
	case o.IsFragment():
		return fmt.Errorf("a reply to a fragment")
	case hdr.IPv4(msg).Src() != o.Dst():
		return fmt.Errorf("from %#x, not from the address asked %#x", hdr.IPv4(msg).Src(), o.Dst())
	case hdr.IPv4(msg).TOS() != o.TOS():
		return fmt.Errorf("TOS %#x, want %#x", hdr.IPv4(msg).TOS(), o.TOS())
	case icmp[0] != hdr.ICMPEchoReply || icmp[1] != 0:
		return fmt.Errorf("type %d code %d", icmp[0], icmp[1])
	case !bytes.Equal(icmp[4:], req[4:]):
		return fmt.Errorf("identifier, sequence or data changed")
	}
	return nil
}
