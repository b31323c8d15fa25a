package afxdp

import (
	"testing"

	"github.com/r2go/r2/r2/driver"
)

// AF_XDP declares AF_PACKET as its fallback, so an interface the kernel or
// the device refuses AF_XDP on is still served.
func TestRegistered(t *testing.T) {
	r, ok := driver.Lookup(Name)
	if !ok || r.Fallback != "afpacket" {
		t.Fatalf("Lookup(%s) = %+v, %v; want a registration falling back to afpacket", Name, r, ok)
	}
	if d, err := r.Open(driver.OpenArgs{Ifname: "lo"}); err == nil || d != nil {
		t.Errorf("Open without a pool = %v, %v; want a nil driver and an error", d, err)
	}
}
