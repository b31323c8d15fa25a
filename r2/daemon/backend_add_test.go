//go:build linux

package daemon

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/api"
	"github.com/r2go/r2/r2/engine"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/netdev"
	"github.com/r2go/r2/r2/router"
)

// Two API clients attach the same Linux interface at once: one wins, the
// other is refused, and the refusal must not release the counters of the
// interface that was attached (they would disappear from r2cnt and be
// handed to the next interface while the driver still writes them).
func TestConcurrentAddSameInterfaceKeepsCounters(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (AF_PACKET)")
	}
	ifname := fmt.Sprintf("r2ca%d", os.Getpid()%100000)
	if out, err := exec.Command("ip", "link", "add", ifname, "type", "veth", "peer", "name", ifname+"p").CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v: %s", err, out)
	}
	defer exec.Command("ip", "link", "del", ifname).Run()
	if _, err := netdev.Lookup(ifname); err != nil {
		t.Fatal(err)
	}
	reg, err := counters.NewMem(counters.Sizes{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	eng, err := router.New(engine.Config{Threads: 1, Packets: 256, Counters: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	cfg := defaultConfig()
	cfg.Frames = 64
	b := newBackend(eng, nil, reg, cfg, t.Logf)
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x42}
	for round := 0; round < 20; round++ {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = b.AddInterface(api.AddIf{Name: ifname, Ifindex: -1, MAC: mac, Thread: 0})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if !strings.Contains(err.Error(), "already") {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d adds succeeded: %v", round, ok, errs)
		}
		if _, found := counters.Value(reg.Snapshot(), names.IfNodeCounter(ifname, names.IfTx)); !found {
			t.Fatalf("round %d: counters of attached interface %s were released by the refused add (%v)", round, ifname, errs)
		}
		if err := b.DelInterface(ifname); err != nil {
			t.Fatal(err)
		}
	}
}
