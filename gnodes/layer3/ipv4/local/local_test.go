package local_test

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/gnodes/layer3/ipv4/local"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

// The router: eth0 (ifindex 1) 10.1.0.2/24 and 192.168.7.1/24, eth1
// (ifindex 2) 10.2.0.2/24.
func intfs() *fwd.Interfaces {
	var s *fwd.Interfaces
	s = s.With(&fwd.Interface{Ifindex: 1, Name: "eth0", MTU: 1500, Up: true, Addrs: []netip.Prefix{
		netip.MustParsePrefix("10.1.0.2/24"), netip.MustParsePrefix("192.168.7.1/24")}})
	s = s.With(&fwd.Interface{Ifindex: 2, Name: "eth1", MTU: 1500, Up: true, Addrs: []netip.Prefix{
		netip.MustParsePrefix("10.2.0.2/24")}})
	return s
}

func setup(t *testing.T, s *fwd.Interfaces) (*gt.Harness, *gt.Sink) {
	h := gt.New(t, gt.Options{})
	gt.Add(h, local.New(s))
	return h, h.Sink(names.IPv4Fwd)
}

// pkt is an IPv4 packet as IPv4Fwd passes it on, received on ifindex 1.
func pkt(h *gt.Harness, ip []byte, meta, info uint32) *packet.Packet {
	p := h.L3(gt.Ether(gt.MAC("02:00:00:00:00:01"), gt.MAC("02:00:00:00:00:99"), hdr.EtherTypeIPv4, ip))
	p.InIfindex = 1
	p.Meta = meta
	p.NextHop = info
	return p
}

func icmpErr(typ, code uint8) uint32 { return packet.MetaICMPError | uint32(typ)<<8 | uint32(code) }

func ipWith(src, dst string, proto uint8, payload []byte, f func([]byte)) []byte {
	b := gt.IPv4(gt.IP(src), gt.IP(dst), 60, proto, payload)
	if f != nil {
		f(b)
		gt.FixIPv4Checksum(b)
	}
	return b
}

func TestEchoReply(t *testing.T) {
	data := []byte("hello r2, 0123456789")
	tests := []struct {
		name string
		req  []byte
		// reply src/dst and the ICMP message that must come back
		src, dst string
		tos      uint8
	}{
		{name: "to first address", req: ipWith("10.1.0.1", "10.1.0.2", hdr.ProtoICMP, gt.Echo(0x77, 3, data), nil),
			src: "10.1.0.2", dst: "10.1.0.1"},
		{name: "to second address of the interface", req: ipWith("192.168.7.9", "192.168.7.1", hdr.ProtoICMP, gt.Echo(1, 1, data), nil),
			src: "192.168.7.1", dst: "192.168.7.9"},
		{name: "to another interface's address, from afar", req: ipWith("172.16.1.1", "10.2.0.2", hdr.ProtoICMP, gt.Echo(9, 65535, nil), nil),
			src: "10.2.0.2", dst: "172.16.1.1"},
		{name: "TOS kept", req: ipWith("10.1.0.1", "10.1.0.2", hdr.ProtoICMP, gt.Echo(5, 6, data), func(b []byte) { b[1] = 0x28 }),
			src: "10.1.0.2", dst: "10.1.0.1", tos: 0x28},
		{name: "options dropped", req: echoWithOptions(gt.Echo(0x77, 4, data)), src: "10.1.0.2", dst: "10.1.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, out := setup(t, intfs())
			ihl := int(tc.req[0]&0xf) * 4
			reqICMP := tc.req[ihl:]
			h.Inject(names.IPv4Local, pkt(h, tc.req, 0, 0))
			h.RunUntilIdle()
			ps := out.Take()
			if len(ps) != 1 {
				t.Fatalf("IPv4Fwd got %d packets", len(ps))
			}
			p := ps[0]
			got := p.Data()
			if p.Meta != packet.MetaLocalOrigin {
				t.Errorf("Meta = %#x, want MetaLocalOrigin", p.Meta)
			}
			if !gt.IPv4ChecksumOK(got) || hdr.Checksum(got[20:], 0) != 0 {
				t.Errorf("bad IP or ICMP checksum: %x", got)
			}
			// Expected: a fresh 20-byte header (same ID as sent, TTL 64) and
			// the request's ICMP with type 0.
			icmp := append([]byte(nil), reqICMP...)
			icmp[0] = hdr.ICMPEchoReply
			icmp[2], icmp[3] = 0, 0
			binary.BigEndian.PutUint16(icmp[2:], hdr.Checksum(icmp, 0))
			want := make([]byte, 20+len(icmp))
			hdr.PutIPv4(want, tc.tos, len(want), hdr.IPv4(got).ID(), 64, hdr.ProtoICMP, gt.IP(tc.src), gt.IP(tc.dst))
			copy(want[20:], icmp)
			if !bytes.Equal(got, want) {
				t.Errorf("reply\n%x\nwant\n%x", got, want)
			}
			h.Free(p)
			h.ExpectCounters(map[string]uint64{"IPv4Local/enq": 1, "IPv4Fwd/enq": 1, "IPv4Local/echo_replies": 1})
			h.Done()
		})
	}
}

// echoWithOptions is an echo request to 10.1.0.2 with a 24-byte header.
func echoWithOptions(icmp []byte) []byte {
	b := make([]byte, 24+len(icmp))
	hdr.PutIPv4(b, 0, len(b), 1, 60, hdr.ProtoICMP, gt.IP("10.1.0.1"), gt.IP("10.1.0.2"))
	b[0] = 0x46
	b[20], b[21], b[22], b[23] = 1, 1, 1, 0
	copy(b[24:], icmp)
	gt.FixIPv4Checksum(b)
	return b
}

// TestDeliverDrops covers what the router does not answer.
func TestDeliverDrops(t *testing.T) {
	badSum := gt.Echo(1, 1, []byte("x"))
	badSum[2] ^= 1
	tests := []struct {
		name    string
		ip      []byte
		counter string
	}{
		{name: "TCP", ip: ipWith("10.1.0.1", "10.1.0.2", hdr.ProtoTCP, make([]byte, 20), nil), counter: "tcp"},
		{name: "UDP", ip: ipWith("10.1.0.1", "10.1.0.2", hdr.ProtoUDP, gt.UDP(1, 53, nil), nil), counter: "udp"},
		{name: "GRE", ip: ipWith("10.1.0.1", "10.1.0.2", 47, make([]byte, 8), nil), counter: "other_proto"},
		{name: "subnet broadcast", ip: ipWith("10.1.0.1", "10.1.0.255", hdr.ProtoICMP, gt.Echo(1, 1, nil), nil), counter: "not_our_addr"},
		{name: "network address", ip: ipWith("10.1.0.1", "10.1.0.0", hdr.ProtoUDP, gt.UDP(1, 2, nil), nil), counter: "not_our_addr"},
		{name: "fragment", ip: ipWith("10.1.0.1", "10.1.0.2", hdr.ProtoICMP, gt.Echo(1, 1, nil), func(b []byte) {
			b[6] = hdr.IPv4FlagMF >> 8
		}), counter: "fragment"},
		{name: "bad ICMP checksum", ip: ipWith("10.1.0.1", "10.1.0.2", hdr.ProtoICMP, badSum, nil), counter: "bad_icmp"},
		{name: "ICMP shorter than 8", ip: ipWith("10.1.0.1", "10.1.0.2", hdr.ProtoICMP, []byte{8, 0, 0xf7, 0xff}, nil), counter: "bad_icmp"},
		{name: "echo reply to us", ip: ipWith("10.1.0.1", "10.1.0.2", hdr.ProtoICMP, gt.ICMP(0, 0, 1, nil), nil), counter: "other_icmp"},
		{name: "timestamp", ip: ipWith("10.1.0.1", "10.1.0.2", hdr.ProtoICMP, gt.ICMP(13, 0, 1, make([]byte, 12)), nil), counter: "other_icmp"},
		{name: "echo with code 1", ip: ipWith("10.1.0.1", "10.1.0.2", hdr.ProtoICMP, gt.ICMP(8, 1, 1, nil), nil), counter: "other_icmp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, out := setup(t, intfs())
			h.Inject(names.IPv4Local, pkt(h, tc.ip, 0, 0))
			h.RunUntilIdle()
			if out.Len() != 0 {
				t.Errorf("IPv4Fwd got %d packets", out.Len())
			}
			h.ExpectCounters(map[string]uint64{"IPv4Local/enq": 1, "IPv4Local/" + tc.counter: 1})
			h.Done()
		})
	}
}

func TestICMPError(t *testing.T) {
	udp := func(src string, n int) []byte {
		return gt.IPv4(gt.IP(src), gt.IP("10.9.9.9"), 1, hdr.ProtoUDP, gt.UDP(33434, 33435, gt.Bytes(n)))
	}
	tests := []struct {
		name  string
		orig  []byte
		meta  uint32
		info  uint32
		inIf  int32
		src   string // error source
		quote int    // bytes of orig quoted
		rest  uint32 // ICMP bytes 4-7
		code  uint16 // type<<8|code
	}{
		{name: "time exceeded", orig: udp("10.1.0.1", 100), meta: icmpErr(11, 0), inIf: 1, src: "10.1.0.2", quote: 128, code: 11 << 8},
		{name: "net unreachable", orig: udp("10.1.0.1", 10), meta: icmpErr(3, 0), inIf: 1, src: "10.1.0.2", quote: 38, code: 3 << 8},
		{name: "frag needed carries the MTU", orig: udp("10.1.0.1", 10), meta: icmpErr(3, 4), info: 1400, inIf: 1,
			src: "10.1.0.2", quote: 38, code: 3<<8 | 4, rest: 1400},
		{name: "source on the second subnet", orig: udp("192.168.7.50", 10), meta: icmpErr(11, 0), inIf: 1,
			src: "192.168.7.1", quote: 38, code: 11 << 8},
		{name: "source off-link: first address", orig: udp("172.16.0.1", 10), meta: icmpErr(11, 0), inIf: 1,
			src: "10.1.0.2", quote: 38, code: 11 << 8},
		{name: "input interface unknown: any address", orig: udp("10.2.0.7", 10), meta: icmpErr(11, 0), inIf: 9,
			src: "10.1.0.2", quote: 38, code: 11 << 8},
		{name: "input interface eth1", orig: udp("10.2.0.7", 10), meta: icmpErr(11, 0), inIf: 2,
			src: "10.2.0.2", quote: 38, code: 11 << 8},
		{name: "capped at 576 bytes", orig: udp("10.1.0.1", 1372), meta: icmpErr(11, 0), inIf: 1, src: "10.1.0.2",
			quote: 576 - 28, code: 11 << 8},
		{name: "exactly 576 bytes", orig: udp("10.1.0.1", 520), meta: icmpErr(11, 0), inIf: 1, src: "10.1.0.2",
			quote: 548, code: 11 << 8},
		{name: "about an echo request", orig: gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.9.9.9"), 1, hdr.ProtoICMP, gt.Echo(1, 2, nil)),
			meta: icmpErr(11, 0), inIf: 1, src: "10.1.0.2", quote: 28, code: 11 << 8},
		{name: "about a first fragment", orig: func() []byte { b := udp("10.1.0.1", 10); gt.SetFlagsFrag(b, hdr.IPv4FlagMF); return b }(),
			meta: icmpErr(11, 0), inIf: 1, src: "10.1.0.2", quote: 38, code: 11 << 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, out := setup(t, intfs())
			orig := tc.orig
			p := pkt(h, orig, tc.meta, tc.info)
			p.InIfindex = tc.inIf
			h.Inject(names.IPv4Local, p)
			h.RunUntilIdle()
			ps := out.Take()
			if len(ps) != 1 {
				t.Fatalf("IPv4Fwd got %d packets", len(ps))
			}
			p = ps[0]
			got := p.Data()
			if p.Meta != packet.MetaLocalOrigin || p.NextHop != 0 || p.L3 != p.Head() {
				t.Errorf("Meta %#x NextHop %d L3 %d head %d", p.Meta, p.NextHop, p.L3, p.Head())
			}
			if len(got) > 576 {
				t.Errorf("error of %d bytes", len(got))
			}
			if !gt.IPv4ChecksumOK(got) || hdr.Checksum(got[20:], 0) != 0 {
				t.Errorf("bad IP or ICMP checksum: %x", got)
			}
			icmp := make([]byte, 8+tc.quote)
			binary.BigEndian.PutUint16(icmp[0:], tc.code)
			binary.BigEndian.PutUint32(icmp[4:], tc.rest)
			copy(icmp[8:], orig[:tc.quote])
			binary.BigEndian.PutUint16(icmp[2:], hdr.Checksum(icmp, 0))
			want := make([]byte, 20+len(icmp))
			hdr.PutIPv4(want, 0xc0, len(want), hdr.IPv4(got).ID(), 64, hdr.ProtoICMP, gt.IP(tc.src), hdr.IPv4(orig).Src())
			copy(want[20:], icmp)
			if !bytes.Equal(got, want) {
				t.Errorf("error\n%x\nwant\n%x", got, want)
			}
			h.Free(p)
			h.ExpectCounters(map[string]uint64{"IPv4Local/enq": 1, "IPv4Fwd/enq": 1, "IPv4Local/icmp_errors_sent": 1})
			h.Done()
		})
	}
}

// TestICMPErrorInputInterface: the source of an error is an address of the
// interface the packet came in on, else the router's first address.
func TestICMPErrorInputInterface(t *testing.T) {
	for _, tc := range []struct {
		name string
		inIf int32
		src  string
	}{
		{name: "eth0", inIf: 1, src: "10.1.0.2"},
		{name: "eth1", inIf: 2, src: "10.2.0.2"},
		{name: "unknown", inIf: 7, src: "10.1.0.2"},
		{name: "unset", inIf: -1, src: "10.1.0.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, out := setup(t, intfs())
			p := pkt(h, gt.IPv4(gt.IP("172.16.0.1"), gt.IP("10.9.9.9"), 1, hdr.ProtoUDP, gt.UDP(1, 2, nil)), icmpErr(11, 0), 0)
			p.InIfindex = tc.inIf
			h.Inject(names.IPv4Local, p)
			h.RunUntilIdle()
			ps := out.Take()
			if len(ps) != 1 || hdr.IPv4(ps[0].Data()).Src() != gt.IP(tc.src) {
				t.Fatalf("got %d errors, want one from %s", len(ps), tc.src)
			}
			h.Free(ps...)
			h.Done()
		})
	}
}

func TestICMPErrorSuppressed(t *testing.T) {
	udpFrom := func(src string) []byte {
		return gt.IPv4(gt.IP(src), gt.IP("10.9.9.9"), 1, hdr.ProtoUDP, gt.UDP(1, 2, nil))
	}
	icmpMsg := func(typ uint8) []byte {
		return gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.9.9.9"), 1, hdr.ProtoICMP, gt.ICMP(typ, 0, 0, make([]byte, 28)))
	}
	tests := []struct {
		name string
		orig []byte
	}{
		{name: "dest unreachable", orig: icmpMsg(hdr.ICMPDestUnreach)},
		{name: "time exceeded", orig: icmpMsg(hdr.ICMPTimeExceeded)},
		{name: "parameter problem", orig: icmpMsg(hdr.ICMPParamProblem)},
		{name: "redirect", orig: icmpMsg(5)},
		{name: "ICMP without a header", orig: gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.9.9.9"), 1, hdr.ProtoICMP, nil)},
		{name: "non-first fragment", orig: func() []byte { b := udpFrom("10.1.0.1"); gt.SetFlagsFrag(b, 10); return b }()},
		{name: "last fragment", orig: func() []byte { b := udpFrom("10.1.0.1"); gt.SetFlagsFrag(b, 185); return b }()},
		{name: "zero source", orig: udpFrom("0.0.0.0")},
		{name: "broadcast source", orig: udpFrom("255.255.255.255")},
		{name: "multicast source", orig: udpFrom("224.0.0.1")},
		{name: "loopback source", orig: udpFrom("127.0.0.1")},
		{name: "limited broadcast destination", orig: gt.IPv4(gt.IP("10.1.0.1"), gt.IP("255.255.255.255"), 1, hdr.ProtoUDP, gt.UDP(1, 2, nil))},
		{name: "multicast destination", orig: gt.IPv4(gt.IP("10.1.0.1"), gt.IP("239.1.2.3"), 1, hdr.ProtoUDP, gt.UDP(1, 2, nil))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, out := setup(t, intfs())
			h.Inject(names.IPv4Local, pkt(h, tc.orig, icmpErr(11, 0), 0))
			h.RunUntilIdle()
			if out.Len() != 0 {
				t.Errorf("an error was sent")
			}
			h.ExpectCounters(map[string]uint64{"IPv4Local/enq": 1, "IPv4Local/icmp_error_suppressed": 1})
			h.Done()
		})
	}
}

// TestICMPRateLimit: the bucket holds ErrorBurst tokens; within one run no
// tokens are added, so the excess is counted and dropped. After a pause the
// bucket refills at ErrorRate per second.
func TestICMPRateLimit(t *testing.T) {
	h, out := setup(t, intfs())
	const n = local.ErrorBurst + 50
	for i := 0; i < n; i++ {
		h.Inject(names.IPv4Local, pkt(h, gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.9.9.9"), 1, hdr.ProtoUDP, gt.UDP(uint16(i), 2, nil)), icmpErr(11, 0), 0))
	}
	h.RunUntilIdle()
	if out.Len() != local.ErrorBurst {
		t.Errorf("%d errors sent, want %d", out.Len(), local.ErrorBurst)
	}
	h.ExpectCounters(map[string]uint64{"IPv4Local/enq": n, "IPv4Fwd/enq": local.ErrorBurst,
		"IPv4Local/icmp_errors_sent": local.ErrorBurst, "IPv4Local/icmp_rate_limited": 50})
	// Every error has its own IP ID.
	ids := map[uint16]bool{}
	for _, p := range out.Take() {
		ids[hdr.IPv4(p.Data()).ID()] = true
		h.Free(p)
	}
	if len(ids) != local.ErrorBurst {
		t.Errorf("%d distinct IP IDs in %d errors", len(ids), local.ErrorBurst)
	}
	// 20 ms at 1000/s is 20 tokens: 10 errors all go out.
	time.Sleep(20 * time.Millisecond)
	for i := 0; i < 10; i++ {
		h.Inject(names.IPv4Local, pkt(h, gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.9.9.9"), 1, hdr.ProtoUDP, gt.UDP(uint16(i), 2, nil)), icmpErr(11, 0), 0))
	}
	h.RunUntilIdle()
	if out.Len() != 10 || h.Counter("IPv4Local/icmp_rate_limited") != 50 {
		t.Errorf("after refill: %d sent, rate_limited %d", out.Len(), h.Counter("IPv4Local/icmp_rate_limited"))
	}
	h.Done()
}

// TestEchoNotRateLimited: echo replies do not use error tokens.
func TestEchoNotRateLimited(t *testing.T) {
	h, out := setup(t, intfs())
	const n = local.ErrorBurst + 20
	for i := 0; i < n; i++ {
		h.Inject(names.IPv4Local, pkt(h, gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.1.0.2"), 64, hdr.ProtoICMP, gt.Echo(1, uint16(i), nil)), 0, 0))
	}
	h.RunUntilIdle()
	if out.Len() != n {
		t.Errorf("%d replies, want %d", out.Len(), n)
	}
	h.ExpectCounters(map[string]uint64{"IPv4Local/enq": n, "IPv4Fwd/enq": n, "IPv4Local/echo_replies": n})
	h.Done()
}

func TestICMPErrorNoAddress(t *testing.T) {
	var s *fwd.Interfaces
	s = s.With(&fwd.Interface{Ifindex: 1, Name: "eth0", MTU: 1500, Up: true})
	h, out := setup(t, s)
	h.Inject(names.IPv4Local, pkt(h, gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.9.9.9"), 1, hdr.ProtoUDP, nil), icmpErr(11, 0), 0))
	h.RunUntilIdle()
	if out.Len() != 0 {
		t.Errorf("error sent without a source address")
	}
	h.ExpectCounters(map[string]uint64{"IPv4Local/enq": 1, "IPv4Local/no_src_addr": 1})
	h.Done()
}

// TestICMPErrorNoHeadroom: a packet whose data starts less than 28 bytes
// into its buffer cannot get the error's headers in front.
func TestICMPErrorNoHeadroom(t *testing.T) {
	h, out := setup(t, intfs())
	ip := gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.9.9.9"), 1, hdr.ProtoUDP, gt.UDP(1, 2, nil))
	p := h.Frame(ip)
	p.Push(packet.Headroom - 10) // data now starts at offset 10
	copy(p.Data(), ip)
	p.Trim(len(ip))
	p.Meta = icmpErr(11, 0)
	p.InIfindex = 1
	h.Inject(names.IPv4Local, p)
	h.RunUntilIdle()
	if out.Len() != 0 {
		t.Errorf("error sent")
	}
	h.ExpectCounters(map[string]uint64{"IPv4Local/enq": 1, "IPv4Local/echo_too_big": 1})
	h.Done()
}

// TestInterfacesSwap: a new address answers pings after msg.Interfaces.
func TestInterfacesSwap(t *testing.T) {
	h, out := setup(t, intfs())
	echo := func() {
		h.Inject(names.IPv4Local, pkt(h, gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.5.0.1"), 64, hdr.ProtoICMP, gt.Echo(1, 1, nil)), 0, 0))
		h.RunUntilIdle()
	}
	echo()
	i := intfs().Get(2).Clone()
	i.Addrs = append(i.Addrs, netip.MustParsePrefix("10.5.0.1/24"))
	h.Control(msg.Interfaces{Snapshot: intfs().With(i)})
	echo()
	if out.Len() != 1 {
		t.Errorf("%d replies, want 1 (after the swap)", out.Len())
	}
	h.ExpectCounters(map[string]uint64{"IPv4Local/enq": 2, "IPv4Fwd/enq": 1, "IPv4Local/not_our_addr": 1, "IPv4Local/echo_replies": 1})
	h.Done()
}
