//go:build !linux

package afxdp

import (
	"errors"
	"io"
	"net/netip"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/packet"
)

// Driver is an AF_XDP interface driver; AF_XDP exists on Linux only, and
// this stub only lets dependents compile.
type Driver struct {
	cfg    Config
	cnt    driver.Counters
	copies counters.Counter
}

// Open returns an error wrapping ErrUnsupported.
func Open(c Config) (*Driver, error) {
	return nil, errors.Join(ErrUnsupported, errors.New("afxdp: AF_XDP needs Linux"))
}

// AttachPass returns ErrUnsupported.
func AttachPass(ifindex int) (io.Closer, error) { return nil, ErrUnsupported }

// ActiveMode returns "".
func (d *Driver) ActiveMode() string { return "" }

// SharedUMEM returns false.
func (d *Driver) SharedUMEM() bool { return false }

// Fd returns -1.
func (d *Driver) Fd() int { return -1 }

// Recv receives nothing.
func (d *Driver) Recv(pool *packet.Pool, pkts []*packet.Packet) int { return 0 }

// Send frees pkts and sends nothing.
func (d *Driver) Send(pool *packet.Pool, pkts []*packet.Packet) int {
	for _, p := range pkts {
		pool.Free(p)
	}
	return 0
}

// Pending returns false.
func (d *Driver) Pending() bool { return false }

// Stats returns ErrUnsupported.
func (d *Driver) Stats() (Stats, error) { return Stats{}, ErrUnsupported }

// Close does nothing.
func (d *Driver) Close() error { return nil }

// MultiBuffer returns false.
func (d *Driver) MultiBuffer() (bool, string) { return false, "AF_XDP needs Linux" }

// SetHostOwned returns ErrUnsupported.
func (d *Driver) SetHostOwned(on bool, addrs []netip.Addr) error { return ErrUnsupported }

// SideFd returns -1.
func (d *Driver) SideFd() int { return -1 }

// HostPassed returns ErrUnsupported.
func (d *Driver) HostPassed() (uint64, error) { return 0, ErrUnsupported }
