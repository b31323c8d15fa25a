//go:build linux

package daemon

import (
	"testing"
	"time"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/names"
)

// dropperFunc is a driver.KernelDropper made of a function.
type dropperFunc func() (uint64, error)

func (f dropperFunc) KernelDrops() (uint64, error) { return f() }

// Shutdown closes the drivers (engine) and unmaps the counters right after
// the backend's close: by then publishDrops must no longer be reading a
// driver's statistics or writing a counter.
func TestBackendCloseWaitsForPublishDrops(t *testing.T) {
	reg, err := counters.NewMem(counters.Sizes{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	b := newBackend(nil, nil, reg, config{}, t.Logf)
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	b.drops["if0"] = kernelDrops{c: reg.Counter(0, names.IfNodeCounter("if0", driver.DrvKernelDrops)), d: dropperFunc(func() (uint64, error) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
		return 7, nil
	})}
	done := make(chan struct{})
	go b.publishDrops(done)
	select {
	case <-entered:
	case <-time.After(5 * statsInterval):
		t.Fatal("publishDrops never read the driver")
	}
	close(done)
	closed := make(chan struct{})
	go func() {
		b.close()
		close(closed)
	}()
	select {
	case <-closed:
		close(release)
		t.Fatal("backend close returned while publishDrops still reads a driver the engine is about to close")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	<-closed
	// Nothing is polled after close, even if the ticker fires again.
	time.Sleep(statsInterval + 200*time.Millisecond)
	select {
	case <-entered:
		t.Fatal("publishDrops read a driver after close")
	default:
	}
}
