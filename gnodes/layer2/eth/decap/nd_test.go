package decap_test

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/gnodes/internal/v6test"
	"github.com/r2go/r2/gnodes/layer2/eth/decap"
	"github.com/r2go/r2/r2/graph"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/packet"
)

// The frames below are built byte by byte with a checksum computed here,
// independently of r2/hdr.

// eth0 with IPv6: 2001:db8:1::2/64 besides the IPv4 addresses; its EUI-64
// link-local address (never configured) is fe80::ff:fe00:1.
func intf6() *fwd.Interface {
	i := intf()
	i.Addrs = append(i.Addrs, netip.MustParsePrefix("2001:db8:1::2/64"))
	return i
}

const (
	ourGlobal = "2001:db8:1::2"
	ourLL     = "fe80::ff:fe00:1"
	peerLL    = "fe80::2"
	peerGl    = "2001:db8:1::1"
)

func a6(s string) [16]byte { return netip.MustParseAddr(s).As16() }

func setup6(t testing.TB, uplinkSize int) *env {
	up := msg.NewUplink(uplinkSize)
	h := gt.New(t, gt.Options{Thread: 1, Uplink: up})
	gt.Add(h, decap.New(intf6()))
	return &env{h: h, up: up, l3: h.Sink(names.L3Parse), ifs: h.Sink(ifn)}
}

// csum6 is the ICMPv6 checksum (RFC 4443 2.3) of m between src and dst,
// with m's checksum field taken as zero.
func csum6(src, dst [16]byte, m []byte) uint16 {
	return v6test.SlowChecksum6(src[:], dst[:], m)
}

// ip6 is an IPv6 packet carrying ICMPv6 message m, its checksum filled in.
func ip6(src, dst string, hops uint8, m []byte) []byte {
	s, d := a6(src), a6(dst)
	m = bytes.Clone(m)
	binary.BigEndian.PutUint16(m[2:], csum6(s, d, m))
	b := []byte{0x60, 0, 0, 0, byte(len(m) >> 8), byte(len(m)), 58, hops}
	b = append(b, s[:]...)
	b = append(b, d[:]...)
	return append(b, m...)
}

// ndMsg is an NS or NA body for target followed by opts.
func ndMsg(typ, flags uint8, target string, opts ...[]byte) []byte {
	tg := a6(target)
	m := append([]byte{typ, 0, 0, 0, flags, 0, 0, 0}, tg[:]...)
	for _, o := range opts {
		m = append(m, o...)
	}
	return m
}

func lla(typ uint8, mac [6]byte) []byte { return append([]byte{typ, 1}, mac[:]...) }

func nsMsg(target string, opts ...[]byte) []byte { return ndMsg(135, 0, target, opts...) }

// naFrame is the advertisement EtherDecap must send.
func naFrame(dstMAC [6]byte, target, dst string, flags uint8) []byte {
	return gt.Ether(dstMAC, ourMAC, hdr.EtherTypeIPv6, ip6(target, dst, 255, ndMsg(136, flags, target, lla(2, ourMAC))))
}

func frame6(dstMAC [6]byte, ip []byte) []byte {
	return gt.Ether(dstMAC, peerMAC, hdr.EtherTypeIPv6, ip)
}

var (
	snMAC    = gt.MAC("33:33:ff:00:00:02") // ff02::1:ff00:2, 2001:db8:1::2's group
	snLLMAC  = gt.MAC("33:33:ff:00:00:01") // fe80::ff:fe00:1's group
	allNodes = gt.MAC("33:33:00:00:00:01")
)

func up6(ip string, mac [6]byte, create bool) []msg.Up {
	return []msg.Up{{Kind: msg.UpMAC6, Thread: 1, Ifindex: 4, IP6: a6(ip), MAC: mac, Create: create}}
}

// TestND: solicitations and advertisements, valid and not. Each case says
// where the frame ends: an advertisement to IfNode, L3Parse, or a counter.
func TestND(t *testing.T) {
	slla := lla(1, peerMAC)
	const rso, ro, so, o, s = 0xe0, 0xa0, 0x60, 0x20, 0x40
	tests := []struct {
		name    string
		frame   []byte
		reply   []byte
		l3      bool   // passed to L3Parse
		counter string // the counter the frame ends in (besides enq)
		ups     []msg.Up
	}{
		// Solicitations answered.
		{name: "unicast NS for our global address",
			frame: frame6(ourMAC, ip6(peerGl, ourGlobal, 255, nsMsg(ourGlobal, slla))),
			reply: naFrame(peerMAC, ourGlobal, peerGl, rso), counter: "nd_na_sent", ups: up6(peerGl, peerMAC, true)},
		{name: "solicited-node NS for our global address",
			frame: frame6(snMAC, ip6(peerGl, "ff02::1:ff00:2", 255, nsMsg(ourGlobal, slla))),
			reply: naFrame(peerMAC, ourGlobal, peerGl, rso), counter: "nd_na_sent", ups: up6(peerGl, peerMAC, true)},
		{name: "solicited-node NS for the EUI-64 link-local",
			frame: frame6(snLLMAC, ip6(peerLL, "ff02::1:ff00:1", 255, nsMsg(ourLL, slla))),
			reply: naFrame(peerMAC, ourLL, peerLL, rso), counter: "nd_na_sent", ups: up6(peerLL, peerMAC, true)},
		{name: "NS with an Ethernet trailer",
			frame: append(frame6(ourMAC, ip6(peerLL, ourLL, 255, nsMsg(ourLL, slla))), 0xde, 0xad),
			reply: naFrame(peerMAC, ourLL, peerLL, rso), counter: "nd_na_sent", ups: up6(peerLL, peerMAC, true)},
		{name: "NS with other options before the SLLA",
			frame: frame6(ourMAC, ip6(peerLL, ourLL, 255, nsMsg(ourLL, []byte{14, 1, 1, 2, 3, 4, 5, 6}, make([]byte, 0), slla))),
			reply: naFrame(peerMAC, ourLL, peerLL, rso), counter: "nd_na_sent", ups: up6(peerLL, peerMAC, true)},
		{name: "NS without SLLA: answered to the frame's source",
			frame: frame6(ourMAC, ip6(peerLL, ourLL, 255, nsMsg(ourLL))),
			reply: naFrame(peerMAC, ourLL, peerLL, rso), counter: "nd_na_sent"},
		{name: "NS whose SLLA differs from the frame's source",
			frame: frame6(ourMAC, ip6(peerLL, ourLL, 255, nsMsg(ourLL, lla(1, otherMAC)))),
			reply: naFrame(otherMAC, ourLL, peerLL, rso), counter: "nd_na_sent", ups: up6(peerLL, otherMAC, true)},
		{name: "DAD probe for our address is defended to all-nodes",
			frame: frame6(snMAC, ip6("::", "ff02::1:ff00:2", 255, nsMsg(ourGlobal))),
			reply: naFrame(allNodes, ourGlobal, "ff02::1", ro), counter: "nd_na_sent"},
		// Solicitations for someone else.
		{name: "NS for another address in our solicited-node group",
			frame:   frame6(snMAC, ip6(peerGl, "ff02::1:ff00:2", 255, nsMsg("2001:db8:7::2", slla))),
			counter: "nd_ns_not_for_us"},
		{name: "unicast NS to us for another target",
			frame:   frame6(ourMAC, ip6(peerGl, ourGlobal, 255, nsMsg("2001:db8:1::99", slla))),
			counter: "nd_ns_not_for_us"},
		{name: "DAD probe for another address",
			frame:   frame6(snMAC, ip6("::", "ff02::1:ff00:2", 255, nsMsg("2001:db8:7::2"))),
			counter: "nd_ns_not_for_us"},
		{name: "NS in a group frame we are not in", frame: frame6(gt.MAC("33:33:ff:00:00:99"),
			ip6(peerGl, "ff02::1:ff00:99", 255, nsMsg("2001:db8:1::99", slla))), counter: "multicast"},
		{name: "NS unicast to another host is forwarded",
			frame: frame6(ourMAC, ip6(peerGl, "2001:db8:9::9", 255, nsMsg("2001:db8:9::9", slla))), l3: true},
		// Invalid solicitations (RFC 4861 7.1.1).
		{name: "NS hop limit 254", frame: frame6(ourMAC, ip6(peerLL, ourLL, 254, nsMsg(ourLL, slla))), counter: "nd_bad_hop_limit"},
		{name: "NS hop limit 1", frame: frame6(snLLMAC, ip6(peerLL, "ff02::1:ff00:1", 1, nsMsg(ourLL, slla))), counter: "nd_bad_hop_limit"},
		{name: "NS bad checksum", frame: mod(frame6(ourMAC, ip6(peerLL, ourLL, 255, nsMsg(ourLL, slla))), 57, 0x55),
			counter: "nd_bad_checksum"},
		{name: "NS code 1", frame: frame6(ourMAC, ip6(peerLL, ourLL, 255, mod(nsMsg(ourLL, slla), 1, 1))), counter: "nd_bad"},
		{name: "NS for a multicast target", frame: frame6(ourMAC, ip6(peerLL, ourLL, 255, nsMsg("ff02::1", slla))), counter: "nd_bad"},
		{name: "NS option of length 0", frame: frame6(ourMAC, ip6(peerLL, ourLL, 255, nsMsg(ourLL, []byte{1, 0, 0, 0, 0, 0, 0, 0}))),
			counter: "nd_bad"},
		{name: "NS option overrunning the message", frame: frame6(ourMAC, ip6(peerLL, ourLL, 255, nsMsg(ourLL, []byte{14, 2, 0, 0, 0, 0, 0, 0}))),
			counter: "nd_bad"},
		{name: "NS option cut after its type", frame: frame6(ourMAC, ip6(peerLL, ourLL, 255, nsMsg(ourLL, slla, []byte{1}))),
			counter: "nd_bad"},
		{name: "NS SLLA of 16 bytes", frame: frame6(ourMAC, ip6(peerLL, ourLL, 255, nsMsg(ourLL, []byte{1, 2, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}))),
			counter: "nd_bad"},
		{name: "NS multicast SLLA", frame: frame6(ourMAC, ip6(peerLL, ourLL, 255, nsMsg(ourLL, lla(1, allNodes)))), counter: "nd_bad"},
		{name: "NS from a multicast MAC", frame: gt.Ether(ourMAC, allNodes, hdr.EtherTypeIPv6, ip6(peerLL, ourLL, 255, nsMsg(ourLL))),
			counter: "nd_bad"},
		{name: "NS of 20 bytes", frame: frame6(ourMAC, ip6(peerLL, ourLL, 255, nsMsg(ourLL)[:20])), counter: "nd_bad"},
		{name: "NS truncated", frame: frame6(ourMAC, ip6(peerLL, ourLL, 255, nsMsg(ourLL, slla)))[:14+40+28], counter: "nd_bad"},
		{name: "DAD probe with SLLA", frame: frame6(snMAC, ip6("::", "ff02::1:ff00:2", 255, nsMsg(ourGlobal, slla))), counter: "nd_bad"},
		{name: "DAD probe to all-nodes", frame: frame6(allNodes, ip6("::", "ff02::1", 255, nsMsg(ourGlobal))), counter: "nd_bad"},
		{name: "DAD probe unicast", frame: frame6(ourMAC, ip6("::", ourGlobal, 255, nsMsg(ourGlobal))), counter: "nd_bad"},
		// Advertisements.
		{name: "solicited NA creates", frame: frame6(ourMAC, ip6(peerLL, ourLL, 255, ndMsg(136, so, peerLL, lla(2, peerMAC)))),
			counter: "nd_na_received", ups: up6(peerLL, peerMAC, true)},
		{name: "solicited NA without override creates", frame: frame6(ourMAC, ip6(peerGl, ourGlobal, 255, ndMsg(136, s, peerGl, lla(2, otherMAC)))),
			counter: "nd_na_received", ups: up6(peerGl, otherMAC, true)},
		{name: "unsolicited NA to all-nodes only updates", frame: frame6(allNodes, ip6(peerLL, "ff02::1", 255, ndMsg(136, o, peerLL, lla(2, otherMAC)))),
			counter: "nd_na_received", ups: up6(peerLL, otherMAC, false)},
		{name: "unsolicited NA without override teaches nothing", frame: frame6(allNodes, ip6(peerLL, "ff02::1", 255, ndMsg(136, 0, peerLL, lla(2, otherMAC)))),
			counter: "nd_na_received"},
		{name: "NA without TLLA teaches nothing", frame: frame6(ourMAC, ip6(peerLL, ourLL, 255, ndMsg(136, so, peerLL))),
			counter: "nd_na_received"},
		{name: "NA with an SLLA only teaches nothing", frame: frame6(ourMAC, ip6(peerLL, ourLL, 255, ndMsg(136, so, peerLL, lla(1, peerMAC)))),
			counter: "nd_na_received"},
		{name: "NA for our address", frame: frame6(allNodes, ip6(peerLL, "ff02::1", 255, ndMsg(136, o, ourGlobal, lla(2, peerMAC)))),
			counter: "nd_na_our_addr"},
		{name: "NA hop limit 64", frame: frame6(ourMAC, ip6(peerLL, ourLL, 64, ndMsg(136, so, peerLL, lla(2, peerMAC)))),
			counter: "nd_bad_hop_limit"},
		{name: "NA bad checksum", frame: mod(frame6(ourMAC, ip6(peerLL, ourLL, 255, ndMsg(136, so, peerLL, lla(2, peerMAC)))), 70, 1),
			counter: "nd_bad_checksum"},
		{name: "solicited NA to multicast", frame: frame6(allNodes, ip6(peerLL, "ff02::1", 255, ndMsg(136, so, peerLL, lla(2, peerMAC)))),
			counter: "nd_bad"},
		{name: "NA for a multicast target", frame: frame6(ourMAC, ip6(peerLL, ourLL, 255, ndMsg(136, so, "ff02::2", lla(2, peerMAC)))),
			counter: "nd_bad"},
		{name: "NA option of length 0", frame: frame6(ourMAC, ip6(peerLL, ourLL, 255, ndMsg(136, so, peerLL, []byte{2, 0, 0, 0, 0, 0, 0, 0}))),
			counter: "nd_bad"},
		// Other IPv6 is passed on.
		{name: "router solicitation to all-routers", frame: frame6(gt.MAC("33:33:00:00:00:02"),
			ip6(peerLL, "ff02::2", 255, []byte{133, 0, 0, 0, 0, 0, 0, 0})), l3: true},
		{name: "router advertisement to all-nodes", frame: frame6(allNodes,
			ip6(peerLL, "ff02::1", 255, append([]byte{134, 0, 0, 0, 64, 0, 0, 0}, make([]byte, 8)...))), l3: true},
		{name: "redirect", frame: frame6(ourMAC, ip6(peerLL, ourLL, 255, append([]byte{137, 0, 0, 0}, make([]byte, 36)...))), l3: true},
		{name: "echo request", frame: frame6(ourMAC, ip6(peerGl, ourGlobal, 64, []byte{128, 0, 0, 0, 0, 1, 0, 1})), l3: true},
		{name: "NS behind a hop-by-hop header", frame: frame6(ourMAC, hopByHop(ip6(peerLL, ourLL, 255, nsMsg(ourLL, slla)))), l3: true},
		{name: "IPv6 header cut short", frame: frame6(ourMAC, ip6(peerLL, ourLL, 255, nsMsg(ourLL))[:30]), l3: true},
		{name: "version 4 in an IPv6 frame", frame: frame6(ourMAC, mod(ip6(peerLL, ourLL, 255, nsMsg(ourLL)), 0, 0x40)), l3: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := setup6(t, 4)
			h := e.h
			h.Inject(dname, h.Frame(tc.frame))
			h.RunUntilIdle()
			want := map[string]uint64{dname + "/enq": 1}
			if tc.counter != "" {
				want[dname+"/"+tc.counter] = 1
			}
			if tc.reply != nil {
				want[ifn+"/enq"] = 1
			}
			if tc.l3 {
				want["L3Parse/enq"] = 1
				ps := e.l3.Take()
				if len(ps) != 1 || !bytes.Equal(ps[0].Data(), tc.frame[14:]) {
					t.Fatalf("L3Parse got %d packets", len(ps))
				}
				if multi := tc.frame[0]&1 == 1; (ps[0].Meta&packet.MetaL2Broadcast != 0) != multi {
					t.Errorf("Meta %#x for a frame to %x", ps[0].Meta, tc.frame[:6])
				}
				h.Free(ps...)
			}
			if len(tc.ups) > 0 {
				want[dname+"/nd_learned"] = 1
			}
			got := e.ifs.Datas()
			if tc.reply != nil {
				if len(got) != 1 || !bytes.Equal(got[0], tc.reply) {
					t.Errorf("reply\n%x\nwant\n%x", got, tc.reply)
				}
			} else if len(got) != 0 {
				t.Errorf("unexpected reply %x", got)
			}
			if diff := cmp.Diff(tc.ups, e.ups()); diff != "" {
				t.Errorf("uplink (-want +got):\n%s", diff)
			}
			h.ExpectCounters(want)
			h.Done()
		})
	}
}

// mod returns b with byte i XORed with x.
func mod(b []byte, i int, x byte) []byte {
	b = bytes.Clone(b)
	b[i] ^= x
	return b
}

// hopByHop inserts an empty hop-by-hop options header after the IPv6
// header of ip.
func hopByHop(ip []byte) []byte {
	out := bytes.Clone(ip[:40])
	out[6] = 0
	binary.BigEndian.PutUint16(out[4:], uint16(len(ip)-40+8))
	out = append(out, 58, 0, 1, 4, 0, 0, 0, 0)
	return append(out, ip[40:]...)
}

// TestNDUplinkFull: a report that does not fit is counted; the answer is
// still sent.
func TestNDUplinkFull(t *testing.T) {
	e := setup6(t, 1)
	h := e.h
	e.up.Send(msg.Up{Kind: msg.UpMAC})
	h.Inject(dname, h.Frame(frame6(ourMAC, ip6(peerLL, ourLL, 255, nsMsg(ourLL, lla(1, peerMAC))))))
	h.RunUntilIdle()
	h.ExpectCounters(map[string]uint64{dname + "/enq": 1, ifn + "/enq": 1, dname + "/nd_na_sent": 1, dname + "/uplink_full": 1})
	h.Done()
}

// freeSink stands in for a next node and frees what reaches it, so that a
// measurement sees only the node under test.
type freeSink struct {
	graph.NoControl
	name string
	n    int
}

func (s *freeSink) Name() string                     { return s.name }
func (s *freeSink) NextNames() []string              { return []string{names.Drop} }
func (s *freeSink) Clone(*graph.CloneCtx) graph.Node { return s }
func (s *freeSink) Dispatch(d *graph.Dispatch) {
	for p := d.Pop(); p != nil; p = d.Pop() {
		s.n++
		d.Free(p)
	}
}

// TestNDAllocs: answering a solicitation and passing other IPv6 on do not
// allocate.
func TestNDAllocs(t *testing.T) {
	up := msg.NewUplink(1024)
	h := gt.New(t, gt.Options{Thread: 1, Uplink: up})
	gt.Add(h, decap.New(intf6()))
	l3, ifs := &freeSink{name: names.L3Parse}, &freeSink{name: ifn}
	h.AddRaw(l3)
	h.AddRaw(ifs)
	ns := frame6(snMAC, ip6(peerGl, "ff02::1:ff00:2", 255, nsMsg(ourGlobal, lla(1, peerMAC))))
	echo := frame6(ourMAC, ip6(peerGl, ourGlobal, 64, []byte{128, 0, 0, 0, 0, 1, 0, 1}))
	run := func() {
		x, y := h.Pool.Get(), h.Pool.Get()
		x.SetData(ns)
		y.SetData(echo)
		h.Inject(dname, x, y)
		h.RunUntilIdle()
		<-up.C
	}
	run() // warm up: the source grows its queue
	if allocs := testing.AllocsPerRun(50, run); allocs != 0 {
		t.Errorf("%v allocations per NS and echo", allocs)
	}
	if l3.n != 52 || ifs.n != 52 { // ours, AllocsPerRun's warm-up, 50 measured
		t.Errorf("%d to L3Parse, %d answers; want 52", l3.n, ifs.n)
	}
	h.Done()
}

// BenchmarkNDAnswer answers solicited-node NSs, 64 per graph run (the
// harness's packet setup included).
func BenchmarkNDAnswer(b *testing.B) {
	up := msg.NewUplink(1)
	h := gt.New(b, gt.Options{Thread: 1, Uplink: up})
	gt.Add(h, decap.New(intf6()))
	ifs := &freeSink{name: ifn}
	h.AddRaw(ifs)
	h.AddRaw(&freeSink{name: names.L3Parse})
	ns := frame6(snMAC, ip6(peerGl, "ff02::1:ff00:2", 255, nsMsg(ourGlobal, lla(1, peerMAC))))
	pkts := make([]*packet.Packet, 64)
	b.ReportAllocs()
	for b.Loop() {
		for i := range pkts {
			pkts[i] = h.Pool.Get()
			pkts[i].SetData(ns)
		}
		h.Inject(dname, pkts...)
		h.Run()
		h.Run()
		select {
		case <-up.C:
		default:
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(ifs.n), "ns/pkt")
}
