package afpacket

import (
	"strings"
	"testing"

	"github.com/r2go/r2/r2/driver"
)

func TestRegistered(t *testing.T) {
	r, ok := driver.Lookup(Name)
	if !ok || r.Fallback != "" {
		t.Fatalf("Lookup(%s) = %+v, %v; want a registration without fallback", Name, r, ok)
	}
	if _, err := r.Open(driver.OpenArgs{Ifname: "lo", Settings: driver.Settings{Ring: "v4"}}); err == nil || !strings.Contains(err.Error(), `ring "v4"`) {
		t.Errorf("ring v4: %v", err)
	}
}
