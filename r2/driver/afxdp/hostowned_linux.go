//go:build linux

package afxdp

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/names"
)

// SetHostOwned implements driver.HostPasser. On, the interface's XDP link
// runs the host-owned classifier (newHostProg) instead of the plain
// redirect program, with addrs as the host's addresses, and the
// neighbour socket listens, so that Recv also returns copies of the ARP
// and ND frames the host receives. Off, the plain program is back and the
// socket hears nothing. The program is swapped on the XDP link
// atomically (BPF_LINK_UPDATE): no frame goes unhandled. On error the
// driver is as it was. Safe from any goroutine.
func (d *Driver) SetHostOwned(on bool, addrs []netip.Addr) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	fail := func(err error) error { return fmt.Errorf("af_xdp %s: host-owned mode: %w", d.cfg.Ifname, err) }
	if !on {
		if !d.hostOn {
			return nil
		}
		if err := d.prog.lnk.Update(d.prog.prog); err != nil {
			return fail(fmt.Errorf("restore the redirect program: %w", err))
		}
		d.hostOn = false
		if err := d.neigh.listen(false); err != nil {
			return fail(err) // copies keep coming: harmless, R2 learns from them
		}
		return nil
	}
	if d.host == nil {
		h, err := newHostProg(d.prog.xdpProg, d.prog.loadFlags())
		if err != nil {
			return fail(err)
		}
		d.host = h
	}
	if err := d.host.setAddrs(addrs); err != nil {
		return fail(err)
	}
	if d.hostOn {
		return nil
	}
	// Listen first: a neighbour reply that the new program passes to
	// the host is copied to R2 too.
	if err := d.neigh.listen(true); err != nil {
		return fail(err)
	}
	if err := d.prog.lnk.Update(d.host.prog); err != nil {
		return fail(errors.Join(fmt.Errorf("attach the host-owned program: %w", err), d.neigh.listen(false)))
	}
	d.hostOn = true
	return nil
}

// HostOwned reports whether the host-owned program runs.
func (d *Driver) HostOwned() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.hostOn
}

// HostPassed implements driver.HostPassCounter: the frames the host-owned
// program has passed to Linux since it was first switched on.
func (d *Driver) HostPassed() (uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return 0, ErrClosed
	}
	if d.host == nil {
		return 0, nil
	}
	return d.host.passedFrames()
}

// SideFd implements driver.SideFder: the neighbour socket, which polls
// readable while copies wait in its ring.
func (d *Driver) SideFd() int {
	if d.neigh == nil {
		return -1
	}
	return d.neigh.fd
}

// NeighCopies is the number of neighbour frame copies Recv returned.
func (d *Driver) NeighCopies() uint64 { return d.cfg.NeighCopies.Value() }

// neighCounters allocates NeighCopies and NeighErrors privately when the
// caller gave none (see privateCounters).
func neighCounters(ifname string) (copies, errs counters.Counter, err error) {
	reg, err := counters.NewMem(counters.Sizes{Entries: 2, Names: 256, Values: 2})
	if err != nil {
		return copies, errs, err
	}
	node := "afxdp:" + ifname
	return reg.Counter(0, names.Counter(node, "drv_neigh_copies")), reg.Counter(0, names.Counter(node, "drv_neigh_errors")), nil
}
