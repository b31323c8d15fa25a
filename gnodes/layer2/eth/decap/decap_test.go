package decap_test

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/r2go/r2/fwd"
	"github.com/r2go/r2/gnodes/layer2/eth/decap"
	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/names"
)

var (
	ourMAC   = gt.MAC("02:00:00:00:00:01")
	peerMAC  = gt.MAC("02:00:00:00:00:02")
	otherMAC = gt.MAC("02:00:00:00:00:03")
	zeroMAC  [6]byte
)

const (
	dname = "EtherDecap:eth0"
	ifn   = "IfNode:eth0"
)

// eth0, ifindex 4: 10.1.0.2/24 and 10.7.0.1/16.
func intf() *fwd.Interface {
	return &fwd.Interface{Ifindex: 4, Name: "eth0", MAC: ourMAC, MTU: 1500, Up: true, Addrs: []netip.Prefix{
		netip.MustParsePrefix("10.1.0.2/24"), netip.MustParsePrefix("10.7.0.1/16")}}
}

type env struct {
	h       *gt.Harness
	up      *msg.Uplink
	l3, ifs *gt.Sink
}

func setup(t *testing.T, uplinkSize int) *env {
	var up *msg.Uplink
	if uplinkSize > 0 {
		up = msg.NewUplink(uplinkSize)
	}
	h := gt.New(t, gt.Options{Thread: 0, Uplink: up})
	gt.Add(h, decap.New(intf()))
	return &env{h: h, up: up, l3: h.Sink(names.L3Parse), ifs: h.Sink(ifn)}
}

func (e *env) ups() []msg.Up {
	var out []msg.Up
	for {
		select {
		case u := <-e.up.C:
			out = append(out, u)
		default:
			return out
		}
	}
}

func TestFrames(t *testing.T) {
	ip := gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.2.0.1"), 64, hdr.ProtoUDP, gt.UDP(1, 2, nil))
	tests := []struct {
		name    string
		frame   []byte
		counter string // drop counter, "" if the frame goes to L3Parse
	}{
		{name: "IPv4 to our MAC", frame: gt.Ether(ourMAC, peerMAC, hdr.EtherTypeIPv4, ip)},
		{name: "IPv4 to broadcast", frame: gt.Ether(gt.Broadcast, peerMAC, hdr.EtherTypeIPv4, ip)},
		{name: "IPv4 padded", frame: gt.Pad(gt.Ether(ourMAC, peerMAC, hdr.EtherTypeIPv4, ip), 60)},
		{name: "IPv6 goes to L3Parse", frame: gt.Ether(ourMAC, peerMAC, hdr.EtherTypeIPv6, make([]byte, 40))},
		{name: "header only", frame: gt.Ether(ourMAC, peerMAC, hdr.EtherTypeIPv4, nil)},
		{name: "other unicast", frame: gt.Ether(otherMAC, peerMAC, hdr.EtherTypeIPv4, ip), counter: "not_for_us"},
		{name: "MAC differing in the last byte", frame: gt.Ether(gt.MAC("02:00:00:00:00:00"), peerMAC, hdr.EtherTypeIPv4, ip), counter: "not_for_us"},
		{name: "MAC differing in the first byte", frame: gt.Ether(gt.MAC("06:00:00:00:00:01"), peerMAC, hdr.EtherTypeIPv4, ip), counter: "not_for_us"},
		{name: "IPv4 multicast", frame: gt.Ether(gt.MAC("01:00:5e:00:00:05"), peerMAC, hdr.EtherTypeIPv4, ip), counter: "multicast"},
		{name: "IPv6 multicast of another group", frame: gt.Ether(gt.MAC("33:33:00:00:00:fb"), peerMAC, hdr.EtherTypeIPv6, make([]byte, 40)), counter: "multicast"},
		{name: "IPv6 all-nodes goes to L3Parse", frame: gt.Ether(gt.MAC("33:33:00:00:00:01"), peerMAC, hdr.EtherTypeIPv6, make([]byte, 40))},
		{name: "IPv4 in an IPv6 group's frame", frame: gt.Ether(gt.MAC("33:33:00:00:00:01"), peerMAC, hdr.EtherTypeIPv4, ip), counter: "multicast"},
		{name: "empty", frame: nil, counter: "runt"},
		{name: "13 bytes", frame: gt.Ether(ourMAC, peerMAC, hdr.EtherTypeIPv4, nil)[:13], counter: "runt"},
		{name: "VLAN", frame: gt.Ether(ourMAC, peerMAC, hdr.EtherTypeVLAN, append([]byte{0, 5, 8, 0}, ip...)), counter: "vlan"},
		{name: "LLDP", frame: gt.Ether(ourMAC, peerMAC, 0x88cc, make([]byte, 46)), counter: "unknown_ethertype"},
		{name: "802.3 length", frame: gt.Ether(ourMAC, peerMAC, 46, make([]byte, 46)), counter: "unknown_ethertype"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, 4)
			h := e.h
			h.Inject(dname, h.Frame(tc.frame))
			h.RunUntilIdle()
			want := map[string]uint64{dname + "/enq": 1}
			if tc.counter != "" {
				want[dname+"/"+tc.counter] = 1
				if e.l3.Len() != 0 {
					t.Error("dropped frame reached L3Parse")
				}
			} else {
				want["L3Parse/enq"] = 1
				ps := e.l3.Take()
				if len(ps) != 1 {
					t.Fatalf("L3Parse got %d packets", len(ps))
				}
				p := ps[0]
				if !bytes.Equal(p.Data(), tc.frame[14:]) || p.L3 != p.Head() || p.Uint16(p.Head()-2) != hdr.Ether(tc.frame).Type() {
					t.Errorf("L3Parse got %x (L3 %d head %d), want %x", p.Data(), p.L3, p.Head(), tc.frame[14:])
				}
				h.Free(p)
			}
			h.ExpectCounters(want)
			if e.ifs.Len() != 0 || len(e.ups()) != 0 {
				t.Error("unexpected ARP reply or report")
			}
			h.Done()
		})
	}
}

func arpFrame(dst [6]byte, op uint16, sha [6]byte, spa string, tha [6]byte, tpa string) []byte {
	ip := func(s string) uint32 {
		if s == "" {
			return 0
		}
		return gt.IP(s)
	}
	return gt.Ether(dst, sha, hdr.EtherTypeARP, gt.ARP(op, sha, ip(spa), tha, ip(tpa)))
}

func TestARP(t *testing.T) {
	reply := func(tpa, spa string) []byte {
		return gt.Pad(gt.Ether(peerMAC, ourMAC, hdr.EtherTypeARP, gt.ARP(hdr.ARPReply, ourMAC, gt.IP(tpa), peerMAC, ipOrZero(spa))), 60)
	}
	up := func(ip string, create bool) []msg.Up {
		return []msg.Up{{Kind: msg.UpMAC, Thread: 0, Ifindex: 4, IP: gt.IP(ip), MAC: peerMAC, Create: create}}
	}
	req := func(spa, tpa string) []byte {
		return arpFrame(gt.Broadcast, hdr.ARPRequest, peerMAC, spa, zeroMAC, tpa)
	}
	tests := []struct {
		name     string
		frame    []byte
		reply    []byte // what goes back to IfNode, nil for nothing
		ups      []msg.Up
		counters map[string]uint64
	}{
		{name: "request for us", frame: req("10.1.0.1", "10.1.0.2"), reply: reply("10.1.0.2", "10.1.0.1"),
			ups:      up("10.1.0.1", true),
			counters: map[string]uint64{"arp_requests": 1, "arp_learned": 1, "arp_replies_sent": 1}},
		{name: "request for our second address", frame: req("10.7.200.1", "10.7.0.1"), reply: reply("10.7.0.1", "10.7.200.1"),
			ups:      up("10.7.200.1", true),
			counters: map[string]uint64{"arp_requests": 1, "arp_learned": 1, "arp_replies_sent": 1}},
		{name: "padded request with trailer", frame: append(gt.Pad(req("10.1.0.1", "10.1.0.2"), 60), 0xde, 0xad, 0xbe, 0xef),
			reply: reply("10.1.0.2", "10.1.0.1"), ups: up("10.1.0.1", true),
			counters: map[string]uint64{"arp_requests": 1, "arp_learned": 1, "arp_replies_sent": 1}},
		{name: "unicast request for us", frame: arpFrame(ourMAC, hdr.ARPRequest, peerMAC, "10.1.0.1", zeroMAC, "10.1.0.2"),
			reply: reply("10.1.0.2", "10.1.0.1"), ups: up("10.1.0.1", true),
			counters: map[string]uint64{"arp_requests": 1, "arp_learned": 1, "arp_replies_sent": 1}},
		{name: "request for us from off-link sender", frame: req("192.0.2.1", "10.1.0.2"), reply: reply("10.1.0.2", "192.0.2.1"),
			counters: map[string]uint64{"arp_requests": 1, "arp_replies_sent": 1}},
		{name: "probe for our address", frame: req("", "10.1.0.2"), reply: reply("10.1.0.2", ""),
			counters: map[string]uint64{"arp_requests": 1, "arp_replies_sent": 1}},
		{name: "request for another host", frame: req("10.1.0.1", "10.1.0.99"),
			ups:      up("10.1.0.1", false),
			counters: map[string]uint64{"arp_requests": 1, "arp_learned": 1, "arp_not_for_us": 1}},
		{name: "request for another host from off-link", frame: req("192.0.2.1", "10.1.0.99"),
			counters: map[string]uint64{"arp_requests": 1, "arp_not_for_us": 1}},
		{name: "gratuitous request", frame: req("10.1.0.1", "10.1.0.1"),
			ups:      up("10.1.0.1", false),
			counters: map[string]uint64{"arp_requests": 1, "arp_learned": 1, "arp_not_for_us": 1}},
		{name: "gratuitous reply", frame: arpFrame(gt.Broadcast, hdr.ARPReply, peerMAC, "10.1.0.1", gt.Broadcast, "10.1.0.1"),
			ups:      up("10.1.0.1", false),
			counters: map[string]uint64{"arp_replies": 1, "arp_learned": 1, "arp_not_for_us": 1}},
		{name: "reply to us", frame: arpFrame(ourMAC, hdr.ARPReply, peerMAC, "10.1.0.1", ourMAC, "10.1.0.2"),
			ups:      up("10.1.0.1", true),
			counters: map[string]uint64{"arp_replies": 1, "arp_learned": 1}},
		{name: "reply to another host", frame: arpFrame(gt.Broadcast, hdr.ARPReply, peerMAC, "10.1.0.1", otherMAC, "10.1.0.50"),
			ups:      up("10.1.0.1", false),
			counters: map[string]uint64{"arp_replies": 1, "arp_learned": 1, "arp_not_for_us": 1}},
		{name: "ARP for another MAC is not looked at", frame: arpFrame(otherMAC, hdr.ARPRequest, peerMAC, "10.1.0.1", zeroMAC, "10.1.0.2"),
			counters: map[string]uint64{"not_for_us": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, 4)
			h := e.h
			h.Inject(dname, h.Frame(tc.frame))
			h.RunUntilIdle()
			want := map[string]uint64{dname + "/enq": 1}
			for k, v := range tc.counters {
				want[dname+"/"+k] = v
			}
			got := e.ifs.Datas()
			if tc.reply != nil {
				want[ifn+"/enq"] = 1
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
			if e.l3.Len() != 0 {
				t.Error("ARP reached L3Parse")
			}
			h.Done()
		})
	}
}

func ipOrZero(s string) uint32 {
	if s == "" {
		return 0
	}
	return gt.IP(s)
}

func TestARPBad(t *testing.T) {
	good := func() []byte { return arpFrame(gt.Broadcast, hdr.ARPRequest, peerMAC, "10.1.0.1", zeroMAC, "10.1.0.2") }
	mod := func(f func(b []byte)) []byte { b := good(); f(b[14:]); return b }
	tests := []struct {
		name  string
		frame []byte
	}{
		{name: "no ARP body", frame: good()[:14]},
		{name: "27 bytes", frame: good()[:14+27]},
		{name: "htype 6", frame: mod(func(a []byte) { a[1] = 6 })},
		{name: "ptype IPv6", frame: mod(func(a []byte) { a[2], a[3] = 0x86, 0xdd })},
		{name: "hlen 5", frame: mod(func(a []byte) { a[4] = 5 })},
		{name: "plen 6", frame: mod(func(a []byte) { a[5] = 6 })},
		{name: "op 0", frame: mod(func(a []byte) { a[7] = 0 })},
		{name: "op 3 (RARP)", frame: mod(func(a []byte) { a[7] = 3 })},
		{name: "op 257", frame: mod(func(a []byte) { a[6] = 1 })},
		{name: "multicast sender MAC", frame: mod(func(a []byte) { a[8] = 1 })},
		{name: "broadcast sender MAC", frame: mod(func(a []byte) { copy(a[8:14], gt.Broadcast[:]) })},
		{name: "reply from 0.0.0.0", frame: arpFrame(ourMAC, hdr.ARPReply, peerMAC, "", ourMAC, "10.1.0.2")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, 4)
			h := e.h
			h.Inject(dname, h.Frame(tc.frame))
			h.RunUntilIdle()
			if e.ifs.Len() != 0 || len(e.ups()) != 0 {
				t.Error("bad ARP answered or reported")
			}
			h.ExpectCounters(map[string]uint64{dname + "/enq": 1, dname + "/arp_bad": 1})
			h.Done()
		})
	}
}

// TestUplinkFull: a report that does not fit the uplink is counted, and the
// reply is still sent.
func TestUplinkFull(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int // 0: no uplink at all
	}{{name: "full", size: 1}, {name: "nil", size: 0}} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, tc.size)
			h := e.h
			if e.up != nil {
				e.up.Send(msg.Up{Kind: msg.UpMAC}) // fill it
			}
			h.Inject(dname, h.Frame(arpFrame(gt.Broadcast, hdr.ARPRequest, peerMAC, "10.1.0.1", zeroMAC, "10.1.0.2")))
			h.Inject(dname, h.Frame(arpFrame(gt.Broadcast, hdr.ARPRequest, peerMAC, "10.1.0.3", zeroMAC, "10.1.0.2")))
			h.RunUntilIdle()
			if e.ifs.Len() != 2 {
				t.Errorf("%d replies, want 2", e.ifs.Len())
			}
			h.ExpectCounters(map[string]uint64{dname + "/enq": 2, ifn + "/enq": 2, dname + "/arp_requests": 2,
				dname + "/arp_replies_sent": 2, dname + "/uplink_full": 2})
			if e.up != nil && len(e.ups()) != 1 {
				t.Error("uplink content changed")
			}
			h.Done()
		})
	}
}

// TestInterfacesSwap: a new MAC and address apply from the next Run; a
// snapshot without the interface leaves the node as it was.
func TestInterfacesSwap(t *testing.T) {
	e := setup(t, 8)
	h := e.h
	newMAC := gt.MAC("02:00:00:00:00:aa")
	i := intf().Clone()
	i.MAC = newMAC
	i.Addrs = []netip.Prefix{netip.MustParsePrefix("10.9.0.1/24")}
	var s *fwd.Interfaces
	h.Control(msg.Interfaces{Snapshot: s.With(i)})
	ip := gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.2.0.1"), 64, hdr.ProtoUDP, nil)
	h.Inject(dname, h.Frame(gt.Ether(ourMAC, peerMAC, hdr.EtherTypeIPv4, ip)))
	h.Inject(dname, h.Frame(gt.Ether(newMAC, peerMAC, hdr.EtherTypeIPv4, ip)))
	h.Inject(dname, h.Frame(arpFrame(gt.Broadcast, hdr.ARPRequest, peerMAC, "10.9.0.5", zeroMAC, "10.9.0.1")))
	h.Inject(dname, h.Frame(arpFrame(gt.Broadcast, hdr.ARPRequest, peerMAC, "10.1.0.1", zeroMAC, "10.1.0.2")))
	h.RunUntilIdle()
	// Another interface's snapshot: no change.
	var other *fwd.Interfaces
	h.Control(msg.Interfaces{Snapshot: other.With(&fwd.Interface{Ifindex: 5, Name: "eth5", MTU: 1500})})
	h.Inject(dname, h.Frame(gt.Ether(newMAC, peerMAC, hdr.EtherTypeIPv4, ip)))
	h.RunUntilIdle()
	replies := e.ifs.Datas()
	want := gt.Pad(gt.Ether(peerMAC, newMAC, hdr.EtherTypeARP, gt.ARP(hdr.ARPReply, newMAC, gt.IP("10.9.0.1"), peerMAC, gt.IP("10.9.0.5"))), 60)
	if len(replies) != 1 || !bytes.Equal(replies[0], want) {
		t.Errorf("replies %x, want [%x]", replies, want)
	}
	h.ExpectCounters(map[string]uint64{dname + "/enq": 5, "L3Parse/enq": 2, ifn + "/enq": 1, dname + "/not_for_us": 1,
		dname + "/arp_requests": 2, dname + "/arp_replies_sent": 1, dname + "/arp_learned": 1, dname + "/arp_not_for_us": 1})
	h.Done()
}
