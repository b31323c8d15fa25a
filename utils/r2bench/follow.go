//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/r2go/r2/r2/api"
)

// The follow measurement: R2 deployed beside a routing daemon. The router
// namespace keeps the addresses in Linux, R2 runs in that namespace and
// r2follow attaches the interfaces (host-owned: Linux answers ARP, NDP and
// traffic to the addresses) and mirrors the kernel's addresses and routes
// into R2. The kernel variant is the same namespace forwarding by itself.

// followMetrics are the follow measurement's columns.
func followMetrics() []metricDef {
	return []metricDef{
		{Key: "routes", Label: "routes loaded", Unit: "", Scale: 1, Digits: 0, NoRatio: true},
		{Key: "kernel_s", Label: "kernel has the table (ip -batch)", Unit: "s", Scale: 1, Digits: 2},
		{Key: "ready_s", Label: "router forwards with the table", Unit: "s", Scale: 1, Digits: 2, Better: "lower", Chart: true},
		{Key: "lag_s", Label: "R2 complete after the kernel", Unit: "s", Scale: 1, Digits: 2, Better: "lower", R2Only: true},
		{Key: "mem_mib", Label: "R2 memory after load (VmRSS)", Unit: "MiB", Scale: 1, Digits: 1, Better: "lower", R2Only: true},
		{Key: "follower_mib", Label: "r2follow memory (VmHWM)", Unit: "MiB", Scale: 1, Digits: 1, Better: "lower", R2Only: true},
		{Key: "pps_before", Label: "64 B delivered before the load", Unit: "kpps", Scale: 1e3, Digits: 1, Better: "higher"},
		{Key: "pps_during", Label: "64 B delivered during the load", Unit: "kpps", Scale: 1e3, Digits: 1, Better: "higher"},
		{Key: "during_ratio", Label: "during / before", Unit: "×", Scale: 1, Digits: 3, Better: "higher", Chart: true},
		{Key: "offered_during", Label: "64 B offered by trafgen during the load", Unit: "kpps", Scale: 1e3, Digits: 1},
		{Key: "loss_before_pct", Label: "loss before the load", Unit: "%", Scale: 1, Digits: 1, Better: "lower", NoRatio: true},
		{Key: "loss_during_pct", Label: "loss during the load", Unit: "%", Scale: 1, Digits: 1, Better: "lower", NoRatio: true},
		{Key: "overflows", Label: "netlink overflows (resynced)", Unit: "", Scale: 1, Digits: 0, R2Only: true, NoRatio: true},
	}
}

// follower is a running r2follow.
type follower struct {
	proc  *child
	log   *lockedBuffer
	stats string
	unreg func()
}

func (f *follower) stop() {
	f.unreg()
}

func (f *follower) pid() int { return f.proc.cmd.Process.Pid }

// statistics asks r2follow for its statistics (SIGUSR1 writes them to the
// -stats file).
func (f *follower) statistics() (map[string]any, error) {
	os.Remove(f.stats)
	if err := f.proc.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(f.stats)
		if err != nil {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal(b, &m); err != nil {
			// Read while being written: try again.
			continue
		}
		return m, nil
	}
	return nil, fmt.Errorf("r2follow wrote no statistics: %s", lastLines(f.log.String(), 5))
}

// configureFollow prepares the follow setup on a kernel-mode topology: the
// kernel keeps the addresses and the routes to the traffic networks but
// stops forwarding; R2 runs in the router namespace and r2follow gives it
// the interfaces, addresses and routes.
func (s *setup) configureFollow() error {
	tp, b := s.tp, s.b
	ns := tp.RouterNSName
	if b.bins.R2follow == "" {
		return fmt.Errorf("r2follow binary unknown")
	}
	if err := s.enableIPv6(ns, []string{tp.RouterIfA, tp.RouterIfB}, false); err != nil {
		return err
	}
	for _, a := range []struct{ ifname, addr string }{{tp.RouterIfA, routerAddrA6}, {tp.RouterIfB, routerAddrB6}} {
		if err := s.ip(ns, "-6", "addr", "add", a.addr+subnetLen6, "dev", a.ifname, "nodad"); err != nil {
			return err
		}
	}
	// Host-owned mode as the README says: Linux forwards nothing (its
	// copies of transit frames are dropped), R2 forwards.
	if err := inNS(ns, func() error {
		for _, p := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"} {
			if err := os.WriteFile(p, []byte("0"), 0o644); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("netns %s: forwarding off: %w", ns, err)
	}
	if err := s.ip(ns, "route", "add", trafficNet, "via", h2Addr, "dev", tp.RouterIfB, "proto", "static"); err != nil {
		return err
	}
	if err := s.ip(ns, "-6", "route", "add", trafficNet6, "via", h2Addr6, "dev", tp.RouterIfB, "proto", "static"); err != nil {
		return err
	}

	b.instSeq++
	inst := fmt.Sprintf("%s-%d", b.runID, b.instSeq)
	f := b.r2flags(s.grp)
	f.NetNS = ns
	if isXDP(s.variant) {
		f.Driver = "afxdp" // r2follow makes the interfaces host-owned either way
	}
	f.NoVnet = s.variant == variantAFPacketNoVnet
	if s.variant == variantAFPacketRT {
		f.RTPriority = rtPriority
	}
	if s.variant == variantAFPacketCtl {
		f.ControlCPUs = b.controlCPUs(f)
	}
	s.info.Instance, s.info.R2Args = inst, f.args()
	d, err := startDaemon(b.ctx, b.cleanup, b.bins, inst, f)
	if err != nil {
		return err
	}
	s.d = d

	fl := &follower{log: &lockedBuffer{}, stats: filepath.Join(b.tmp, inst+"-follow.json")}
	cmd := exec.Command("ip", "netns", "exec", ns, b.bins.R2follow, "-i", inst,
		"-if", tp.RouterIfA+","+tp.RouterIfB, "-stats", fl.stats, "-stats-every", "0")
	cmd.Stdout, cmd.Stderr = fl.log, fl.log
	if fl.proc, err = spawn(cmd, syscall.SIGTERM); err != nil {
		return fmt.Errorf("start r2follow: %w", err)
	}
	fl.unreg = b.cleanup.add(func() { fl.proc.stop(syscall.SIGTERM, 10*time.Second) })
	s.fol = fl

	// Ready when R2 routes both traffic networks (r2follow has attached,
	// mirrored the addresses and loaded the kernel's routes).
	c, err := d.dial()
	if err != nil {
		return fmt.Errorf("API: %w", err)
	}
	defer c.Close()
	for deadline := time.Now().Add(20 * time.Second); ; {
		if routed(c, trafficDst, trafficNet) && routed(c, trafficDst6, trafficNet6) {
			break
		}
		if fl.proc.exited() {
			return fmt.Errorf("r2follow exited: %s", lastLines(fl.log.String(), 5))
		}
		if time.Now().After(deadline) || b.ctx.Err() != nil {
			return fmt.Errorf("R2 does not route %s and %s 20 s after r2follow started: %s", trafficNet, trafficNet6, lastLines(fl.log.String(), 5))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.checkDrivers(); err != nil {
		return err
	}
	return s.warmUp()
}

// routed reports whether R2 looks addr up to prefix pfx.
func routed(c *api.Client, addr, pfx string) bool {
	e, err := c.Route.Lookup(context.Background(), addr)
	return err == nil && e.Prefix == pfx
}

// follow loads the table into the kernel with ip -batch while a 64-byte
// flood runs, and measures when the router has it and the rate meanwhile.
func (s *setup) follow() (map[string]float64, []string, error) {
	b := s.b
	ps, err := b.tablePrefixes()
	if err != nil {
		return nil, nil, err
	}
	file, err := s.writeTableBatch(ps, "follow-routes", " proto static")
	if err != nil {
		return nil, nil, err
	}
	defer os.Remove(file)

	var c *api.Client
	total := func() (int, error) {
		pg, err := c.Route.Show(context.Background(), 0, 1)
		if err != nil {
			return 0, err
		}
		return int(pg.Total), nil
	}
	base := 0
	if s.d != nil {
		if c, err = s.d.dial(); err != nil {
			return nil, nil, fmt.Errorf("API: %w", err)
		}
		defer c.Close()
		if base, err = total(); err != nil {
			return nil, nil, err
		}
	}

	fl, err := s.startFlood(64)
	if err != nil {
		return nil, nil, err
	}
	defer fl.stop()
	r0, err := s.measureRate(fl)
	if err != nil {
		return nil, nil, err
	}
	a1, a2, err := s.snapPair()
	if err != nil {
		return nil, nil, err
	}
	start := time.Now()
	kernelDone, err := s.ipBatch(file)
	if err != nil {
		return nil, nil, err
	}
	ready := kernelDone
	m := map[string]float64{"routes": float64(len(ps)), "kernel_s": kernelDone.Seconds()}
	var notes []string
	if s.d != nil {
		for {
			n, err := total()
			if err != nil {
				return nil, nil, fmt.Errorf("route show: %w", err)
			}
			if n >= base+len(ps) {
				break
			}
			if time.Since(start) > b.tableTimeout() || b.ctx.Err() != nil {
				return nil, nil, fmt.Errorf("R2 has %d of %d routes %v after the kernel", n-base, len(ps), time.Since(start)-kernelDone)
			}
			if s.fol.proc.exited() {
				return nil, nil, fmt.Errorf("r2follow exited: %s", lastLines(s.fol.log.String(), 5))
			}
			time.Sleep(10 * time.Millisecond)
		}
		ready = time.Since(start)
		m["lag_s"] = (ready - kernelDone).Seconds()
	}
	z1, z2, err := s.snapPair()
	if err != nil {
		return nil, nil, err
	}
	if err := fl.err(); err != nil {
		return nil, nil, err
	}
	r1 := rateBetween(a1, a2, z1, z2)
	m["ready_s"] = ready.Seconds()
	m["pps_before"], m["pps_during"] = r0.Delivered, r1.Delivered
	// The generator shares the machine with ip and r2follow: what it
	// offered during the load, and the share lost, separate the router's
	// losses from a starved sender.
	m["offered_during"] = r1.Offered
	m["loss_before_pct"], m["loss_during_pct"] = r0.LossPct, r1.LossPct
	if r0.Delivered > 0 {
		m["during_ratio"] = r1.Delivered / r0.Delivered
	}
	if n := fl.note(); n != "" {
		notes = append(notes, n)
	}
	if s.d == nil {
		return m, notes, nil
	}
	rss, err := procStatusKB(s.d.pid(), "VmRSS")
	if err != nil {
		return nil, nil, err
	}
	m["mem_mib"] = float64(rss) / 1024
	if hwm, err := procStatusKB(s.fol.pid(), "VmHWM"); err == nil {
		m["follower_mib"] = float64(hwm) / 1024
	}
	st, err := s.fol.statistics()
	if err != nil {
		return m, notes, err
	}
	if v, ok := st["overflows"].(float64); ok {
		m["overflows"] = v
	}
	if v, ok := st["refused"].(float64); ok && v > 0 {
		notes = append(notes, fmt.Sprintf("r2follow: %v kernel routes refused by R2: %v", v, st["refused_reasons"]))
	}
	return m, notes, nil
}
