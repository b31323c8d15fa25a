package decap_test

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/msg"
)

// terminal are the counters of EtherDecap in which a frame ends when it
// goes neither to L3Parse nor to IfNode.
var terminal = []string{"runt", "not_for_us", "multicast", "vlan", "unknown_ethertype", "arp_bad", "nd_bad_hop_limit",
	"nd_bad_checksum", "nd_bad", "nd_ns_not_for_us", "nd_na_received", "nd_na_our_addr"}

// FuzzND feeds arbitrary ICMPv6 messages into EtherDecap inside a valid
// IPv6 header. sel picks the source (bits 0-1: a link-local or global
// neighbour, ::, our own address), the destination (bits 2-3: our
// link-local or global address, the solicited-node group of the message's
// target, all-nodes) and whether the payload length overstates the message
// (bit 4); fix fills in a correct checksum so that the checks behind it are
// reached. Every frame must end in exactly one place, and every
// advertisement sent must be well-formed, answer a solicitation for one of
// our addresses, and carry a checksum that verifies here.
func FuzzND(f *testing.F) {
	slla := lla(1, peerMAC)
	for _, s := range []struct {
		m   []byte
		sel uint8
	}{
		{nsMsg(ourLL, slla), 0}, {nsMsg(ourGlobal, slla), 1<<2 | 1}, {nsMsg(ourGlobal, slla), 2 << 2},
		{nsMsg(ourGlobal), 2<<2 | 2}, {ndMsg(136, 0x60, peerLL, lla(2, peerMAC)), 0},
		{ndMsg(136, 0x20, peerLL, lla(2, peerMAC)), 3 << 2}, {nsMsg(ourLL, []byte{1, 0}), 0},
	} {
		f.Add(s.m, uint8(255), s.sel, true)
	}
	f.Fuzz(func(t *testing.T, m []byte, hop, sel uint8, fix bool) {
		if len(m) > 1400 {
			return
		}
		srcs := []string{peerLL, peerGl, "::", ourLL}
		src := a6(srcs[sel&3])
		var dst [16]byte
		dstMAC := ourMAC
		switch sel >> 2 & 3 {
		case 0:
			dst = a6(ourLL)
		case 1:
			dst = a6(ourGlobal)
		case 2:
			tg := a6(ourGlobal)
			if len(m) >= 24 {
				copy(tg[:], m[8:24])
			}
			dst = hdr.SolicitedNode(tg[:])
			dstMAC = hdr.MulticastMAC(dst[:])
		case 3:
			dst = a6("ff02::1")
			dstMAC = allNodes
		}
		m = bytes.Clone(m)
		if fix && len(m) >= 4 {
			binary.BigEndian.PutUint16(m[2:], csum6(src, dst, m))
		}
		plen := len(m)
		if sel&16 != 0 {
			plen += 8
		}
		ip := []byte{0x60, 0, 0, 0, byte(plen >> 8), byte(plen), 58, hop}
		ip = append(append(append(ip, src[:]...), dst[:]...), m...)
		frame := frame6(dstMAC, ip)

		e := setup6(t, 4)
		h := e.h
		h.Inject(dname, h.Frame(frame))
		h.RunUntilIdle()
		c := h.Counters()
		ends := c["L3Parse/enq"] + c[ifn+"/enq"]
		for _, k := range terminal {
			ends += c[dname+"/"+k]
		}
		if c[dname+"/enq"] != 1 || ends != 1 {
			t.Fatalf("frame ended %d times: %v", ends, c)
		}
		for k := range c {
			if name, ok := strings.CutPrefix(k, dname+"/"); ok && name != "enq" && name != "nd_learned" &&
				name != "uplink_full" && name != "nd_na_sent" && !contains(terminal, name) {
				t.Errorf("unexpected counter %s", k)
			}
		}
		for _, u := range e.ups() {
			if u.Kind != msg.UpMAC6 || u.Ifindex != 4 || u.MAC[0]&1 != 0 || u.IP6 == ([16]byte{}) || u.IP6[0] == 0xff {
				t.Errorf("bad report %+v", u)
			}
		}
		for _, na := range e.ifs.Datas() {
			checkNA(t, na, m, src)
		}
		h.Done()
	})
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// checkNA verifies an advertisement answering solicitation ns from src.
func checkNA(t *testing.T, f, ns []byte, src [16]byte) {
	t.Helper()
	if len(f) != 86 || !bytes.Equal(f[6:12], ourMAC[:]) || binary.BigEndian.Uint16(f[12:]) != hdr.EtherTypeIPv6 {
		t.Fatalf("NA frame %x", f)
	}
	if len(ns) < 24 || ns[0] != 135 {
		t.Fatalf("NA %x answers %x, not a solicitation", f, ns)
	}
	ip, m := f[14:54], f[54:]
	nsrc, ndst := [16]byte(ip[8:24]), [16]byte(ip[24:40])
	target := [16]byte(m[8:24])
	dad := src == [16]byte{}
	wantDst, wantMAC := src, peerMAC
	var flags byte = 0xe0
	if dad {
		wantDst, wantMAC, flags = a6("ff02::1"), allNodes, 0xa0
	}
	switch {
	case ip[0] != 0x60 || ip[1] != 0 || ip[2] != 0 || ip[3] != 0 || binary.BigEndian.Uint16(ip[4:]) != 32 || ip[6] != 58 || ip[7] != 255:
		t.Errorf("IPv6 header %x", ip)
	case nsrc != target || (target != a6(ourLL) && target != a6(ourGlobal)) || target != [16]byte(ns[8:24]):
		t.Errorf("NA from %x for %x answering a solicitation for %x", nsrc, target, ns[8:24])
	case ndst != wantDst:
		t.Errorf("NA to %x, want %x", ndst, wantDst)
	case m[0] != 136 || m[1] != 0 || m[4] != flags || m[5]|m[6]|m[7] != 0:
		t.Errorf("NA header %x", m[:8])
	case binary.BigEndian.Uint16(m[2:]) != csum6(nsrc, ndst, m):
		t.Errorf("NA checksum %x, want %x", m[2:4], csum6(nsrc, ndst, m))
	case !bytes.Equal(m[24:], append([]byte{2, 1}, ourMAC[:]...)):
		t.Errorf("NA options %x", m[24:])
	case !dad && f[0]&1 != 0, dad && !bytes.Equal(f[:6], wantMAC[:]):
		t.Errorf("NA to MAC %x", f[:6])
	}
}
