//go:build linux

package router

import (
	"testing"
	"time"

	"github.com/r2go/r2/r2/hdr"
)

// TestHostOwned: with if0 host-owned, R2 answers no ARP request for its
// address (the kernel does) but still forwards, and the mode shows.
func TestHostOwned(t *testing.T) {
	r := newRig(t, 1)
	must(t, r.e.SetHostOwned("if0", true))
	if err := r.e.SetHostOwned("nope", true); err == nil {
		t.Error("SetHostOwned on an unknown interface succeeded")
	}
	infos, err := r.e.Interfaces("if0")
	must(t, err)
	if !infos[0].HostOwned {
		t.Error("Interfaces does not show host-owned")
	}
	r.d0.Inject(arpFrame(hdr.ARPRequest, bcast, macH1, "10.1.0.1", [6]byte{}, "10.1.0.2"))
	deadline := time.Now().Add(2 * time.Second)
	for r.counter("EtherDecap:if0/arp_host_owned") == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if r.counter("EtherDecap:if0/arp_host_owned") != 1 {
		t.Fatal("ARP request not counted as host-owned")
	}
	if n := len(r.d0.Frames()); n != 0 {
		t.Errorf("R2 sent %d frames in answer to an ARP request for a host-owned address", n)
	}
	// Back off: R2 answers again.
	must(t, r.e.SetHostOwned("if0", false))
	r.d0.Inject(arpFrame(hdr.ARPRequest, bcast, macH1, "10.1.0.1", [6]byte{}, "10.1.0.2"))
	waitFrames(t, r.d0, 1)
	checkNoLeak(t, r.e)
}
