//go:build linux

package afxdp

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/r2go/r2/r2/driver"
)

// eachStampForm runs body in the kernel's form of stamps and, where that is
// the metadata one, again with the stamp in front of the data
// (forceDataStamps), so that both forms are tested on kernels that have
// bpf_xdp_adjust_meta. Drivers are opened inside body.
func eachStampForm(t *testing.T, body func(t *testing.T)) {
	forms := []bool{false}
	if !stampsInData() {
		forms = append(forms, true)
	}
	for _, force := range forms {
		name := "kernel"
		if force {
			name = "data"
		}
		t.Run(name, func(t *testing.T) {
			forceDataStamps = force
			defer func() { forceDataStamps = false }()
			body(t)
		})
	}
}

// TestStampedProgramPasses: with no socket in the frame's XSKMAP slot, the
// program (one ring, and four with light-flow steering) passes the frame
// to the stack as it came, in both forms of stamps: a stamp in front of
// the data would reach the host's stack as garbage.
func TestStampedProgramPasses(t *testing.T) {
	frames := transitFrames(testMACA, testMACB)
	eachStampForm(t, func(t *testing.T) {
		t.Logf("stamps in front of the data: %v", stampsInData())
		for _, rings := range []int{1, 4} {
			x, err := newRedirectProg(1, rings, 2*time.Millisecond, 0, superPass{})
			if err != nil {
				t.Fatal(err)
			}
			for name, f := range frames {
				out := make([]byte, len(f)+64)
				ret, err := x.prog.Run(&ebpf.RunOptions{Data: f, DataOut: out})
				if err != nil {
					t.Fatal(err)
				}
				if ret != xdpPass {
					t.Errorf("rings %d, %s: action %d, want XDP_PASS", rings, name, ret)
				}
				if !bytes.Equal(out[:len(f)], f) {
					t.Errorf("rings %d, %s: the frame passed changed", rings, name)
				}
			}
			x.close()
		}
	})
}

// TestStampFormLogged: the registered open says, once an interface, when
// frames are stamped in front of their data, and says nothing of stamps
// otherwise.
func TestStampFormLogged(t *testing.T) {
	eachStampForm(t, func(t *testing.T) {
		tn := newTestNet(t, 1, 1500)
		pool := newPool(t, 0, 256)
		var logged []string
		if _, err := openIn(t, tn.A, func() (driver.Driver, error) {
			return driver.Open(Name, driver.OpenArgs{Ifname: tn.Pairs[0].IfA, Pool: pool,
				Logf: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }})
		}); err != nil {
			t.Fatal(err)
		}
		said := strings.Contains(strings.Join(logged, "\n"), "stamped in front of their data")
		if said != stampsInData() {
			t.Errorf("stamps in front of the data %v, logged %v: %q", stampsInData(), said, logged)
		}
	})
}
