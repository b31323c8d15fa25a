package decap_test

import (
	"bytes"
	"encoding/binary"
	"flag"
	"testing"

	gt "github.com/r2go/r2/r2/graph/graphtest"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/msg"
	"github.com/r2go/r2/r2/packet"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz from the seeds built in the tests")

// decapSeeds are the seed corpus of FuzzEtherDecap, mostly ARP: requests
// for each of our addresses, from on-link and off-link senders, probes,
// gratuitous ARP, replies, and ARP with damaged fixed fields.
func decapSeeds() map[string]gt.Seed {
	arp := func(dst [6]byte, op uint16, sha [6]byte, spa string, tpa string) []byte {
		return arpFrame(dst, op, sha, spa, zeroMAC, tpa)
	}
	damaged := func(i int, v byte) []byte {
		f := arp(gt.Broadcast, hdr.ARPRequest, peerMAC, "10.1.0.1", "10.1.0.2")
		f[hdr.EtherLen+i] = v
		return f
	}
	ip := gt.IPv4(gt.IP("10.1.0.1"), gt.IP("10.2.0.1"), 64, hdr.ProtoUDP, gt.UDP(1, 2, nil))
	return map[string]gt.Seed{
		"arp_request":           {arp(gt.Broadcast, hdr.ARPRequest, peerMAC, "10.1.0.1", "10.1.0.2")},
		"arp_request_padded":    {gt.Pad(arp(gt.Broadcast, hdr.ARPRequest, peerMAC, "10.1.0.1", "10.1.0.2"), 60)},
		"arp_request_trailer":   {append(gt.Pad(arp(gt.Broadcast, hdr.ARPRequest, peerMAC, "10.1.0.1", "10.1.0.2"), 60), 0xde, 0xad)},
		"arp_request_second":    {arp(gt.Broadcast, hdr.ARPRequest, peerMAC, "10.7.3.3", "10.7.0.1")},
		"arp_request_unicast":   {arp(ourMAC, hdr.ARPRequest, peerMAC, "10.1.0.1", "10.1.0.2")},
		"arp_request_offlink":   {arp(gt.Broadcast, hdr.ARPRequest, peerMAC, "192.0.2.1", "10.1.0.2")},
		"arp_probe":             {arp(gt.Broadcast, hdr.ARPRequest, peerMAC, "", "10.1.0.2")},
		"arp_gratuitous":        {arp(gt.Broadcast, hdr.ARPRequest, peerMAC, "10.1.0.1", "10.1.0.1")},
		"arp_request_other":     {arp(gt.Broadcast, hdr.ARPRequest, peerMAC, "10.1.0.1", "10.1.0.99")},
		"arp_reply":             {arpFrame(ourMAC, hdr.ARPReply, peerMAC, "10.1.0.1", ourMAC, "10.1.0.2")},
		"arp_reply_zero_sender": {arpFrame(ourMAC, hdr.ARPReply, peerMAC, "", ourMAC, "10.1.0.2")},
		"arp_multicast_sender":  {arp(gt.Broadcast, hdr.ARPRequest, gt.MAC("01:00:5e:00:00:01"), "10.1.0.1", "10.1.0.2")},
		"arp_op_3":              {arp(gt.Broadcast, 3, peerMAC, "10.1.0.1", "10.1.0.2")},
		"arp_bad_htype":         {damaged(1, 6)},
		"arp_bad_hlen":          {damaged(4, 8)},
		"arp_truncated":         {arp(gt.Broadcast, hdr.ARPRequest, peerMAC, "10.1.0.1", "10.1.0.2")[:hdr.EtherLen+27]},
		"arp_other_mac":         {arp(otherMAC, hdr.ARPRequest, peerMAC, "10.1.0.1", "10.1.0.2")},
		"ipv4":                  {gt.Ether(ourMAC, peerMAC, hdr.EtherTypeIPv4, ip)},
		"ipv4_broadcast":        {gt.Ether(gt.Broadcast, peerMAC, hdr.EtherTypeIPv4, ip)},
		"vlan":                  {gt.Ether(ourMAC, peerMAC, hdr.EtherTypeVLAN, ip)},
		"runt":                  {gt.Ether(ourMAC, peerMAC, hdr.EtherTypeARP, nil)[:13]},
	}
}

func TestFuzzEtherDecapSeeds(t *testing.T) {
	gt.SyncSeeds(t, "FuzzEtherDecap", decapSeeds(), *updateSeeds)
}

// dropCounters are the counters of EtherDecap that each account for a
// packet it discarded.
var dropCounters = []string{"runt", "not_for_us", "multicast", "vlan", "unknown_ethertype", "arp_bad"}

// FuzzEtherDecap feeds arbitrary frames to EtherDecap for eth0 and checks
// that each one is accounted for exactly once (passed to L3Parse, answered
// to IfNode, or consumed or dropped under a counter), that the pool is
// empty at the end, and that an ARP reply is exactly the answer to the
// request: 60 bytes, op reply, from our MAC and the requested address of
// ours, to the requester's MAC and address.
func FuzzEtherDecap(f *testing.F) {
	// The seeds are in testdata/fuzz/FuzzEtherDecap (TestFuzzEtherDecapSeeds).
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) > packet.MaxData {
			return // a driver never delivers more
		}
		e := setup(t, 4)
		h := e.h
		h.Inject(dname, h.Frame(frame))
		h.RunUntilIdle()
		c := h.Counters()

		// Accounting: exactly one fate per frame. ARP requests and replies
		// that are not answered are consumed (freed) under arp_requests or
		// arp_replies.
		fates := c["L3Parse/enq"] + c[ifn+"/enq"]
		for _, k := range dropCounters {
			fates += c[dname+"/"+k]
		}
		fates += c[dname+"/arp_requests"] + c[dname+"/arp_replies"] - c[dname+"/arp_replies_sent"]
		if c[dname+"/enq"] != 1 || fates != 1 {
			t.Errorf("frame %x: %d fates, counters %v", frame, fates, c)
		}
		if e.l3.Len() != int(c["L3Parse/enq"]) || e.ifs.Len() != int(c[ifn+"/enq"]) {
			t.Errorf("sinks got %d and %d packets, counters %v", e.l3.Len(), e.ifs.Len(), c)
		}

		for _, p := range e.l3.Take() {
			if !bytes.Equal(p.Data(), frame[hdr.EtherLen:]) || p.L3 != p.Head() {
				t.Errorf("L3Parse got %x (L3 %d, head %d), want %x", p.Data(), p.L3, p.Head(), frame[hdr.EtherLen:])
			}
			if bcast := hdr.IsBroadcast(frame[:6]); (p.Meta&packet.MetaL2Broadcast != 0) != bcast {
				t.Errorf("Meta %#x for a frame to %x", p.Meta, frame[:6])
			}
			h.Free(p)
		}
		for _, p := range e.ifs.Take() {
			checkReply(t, frame, p.Data())
			h.Free(p)
		}
		checkUps(t, frame, e.ups())
		h.Done()
	})
}

// checkReply checks that reply is the ARP reply to the request frame.
func checkReply(t *testing.T, frame, reply []byte) {
	t.Helper()
	be := binary.BigEndian
	if len(frame) < hdr.EtherLen+hdr.ARPLen || be.Uint16(frame[12:]) != hdr.EtherTypeARP {
		t.Fatalf("reply %x to a frame that is not ARP: %x", reply, frame)
	}
	req := hdr.ARP(frame[hdr.EtherLen:])
	var sha [6]byte
	copy(sha[:], req.SenderMAC())
	if !req.Valid() || req.Op() != hdr.ARPRequest || !intf().HasAddr(req.TargetIP()) {
		t.Fatalf("reply to something other than a request for our address: %x", frame)
	}
	want := gt.Pad(gt.Ether(sha, ourMAC, hdr.EtherTypeARP,
		gt.ARP(hdr.ARPReply, ourMAC, req.TargetIP(), sha, req.SenderIP())), hdr.EtherMinFrame)
	if !bytes.Equal(reply, want) {
		t.Errorf("reply to %x\n got %x\nwant %x", frame, reply, want)
	}
}

// checkUps checks what EtherDecap reported to the control side: at most
// one sender, learned from a valid ARP packet, on one of our subnets.
func checkUps(t *testing.T, frame []byte, ups []msg.Up) {
	t.Helper()
	if len(ups) == 0 {
		return
	}
	if len(ups) > 1 || len(frame) < hdr.EtherLen+hdr.ARPLen {
		t.Fatalf("reports %+v for frame %x", ups, frame)
	}
	a := hdr.ARP(frame[hdr.EtherLen:])
	u := ups[0]
	if u.Kind != msg.UpMAC || u.Ifindex != 4 || u.IP != a.SenderIP() || !bytes.Equal(u.MAC[:], a.SenderMAC()) ||
		u.IP == 0 || !intf().OnLink(u.IP) || hdr.IsMulticast(u.MAC[:]) || u.Create != intf().HasAddr(a.TargetIP()) {
		t.Errorf("report %+v for frame %x", u, frame)
	}
}
