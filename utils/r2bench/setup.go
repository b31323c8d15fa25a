//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/r2go/r2/r2/topo"
)

// Addresses the benchmark uses besides the topology's own.
const (
	// trafficNet is routed to h2 (10.2.0.1) by the router; a tcx program
	// on h2's interface drops and counts what arrives for it (with -h2-sink
	// stack h2's IP layer does: h2 does not forward, so it drops it
	// silently, no ICMP, and counts it in its IP InAddrErrors). The UDP
	// frames go to trafficDst.
	trafficNet = "10.9.0.0/24"
	trafficDst = "10.9.0.1"
	h2Addr     = "10.2.0.1"
)

// The IPv6 side of the topology, which r2bench configures itself (topo
// builds the namespaces with IPv6 off) for the groups that need it: h1
// 2001:db8:1::1/64 and h2 2001:db8:2::1/64, each with a default route via
// the router's address on its link. trafficNet6 plays trafficNet's part:
// routed to h2 and dropped at its interface (or, with -h2-sink stack, by
// h2, which does not forward IPv6 and counts what arrives for it in
// Ip6InAddrErrors).
const (
	h1Addr6      = "2001:db8:1::1"
	h2Addr6      = "2001:db8:2::1"
	routerAddrA6 = "2001:db8:1::2"
	routerAddrB6 = "2001:db8:2::2"
	subnetLen6   = "/64"
	trafficNet6  = "2001:db8:9::/64"
	trafficDst6  = "2001:db8:9::1"
)

// group is a set of measurements that share one router configuration;
// every variant builds it afresh for them in every round.
type group struct {
	name     string
	offloads bool // topo Config.Offloads
	busyPoll bool // R2 -busy-poll
	threads  int  // R2 forwarding threads; with 2 the interfaces get one each
	fanout   bool // with 2 threads: both serve both interfaces (--threads 0,1)
	ipv6     bool // hosts and router get IPv6 addresses and routes too
	// follow: the router namespace holds the addresses in Linux; R2 runs
	// in it and r2follow configures R2 from the kernel.
	follow bool
	ids    []string
}

// groups lists the setups in the order a round runs them.
func groups() []*group {
	return []*group{
		{name: "base", threads: 1, ids: []string{"udp64", "udp512", "udp1500", "tcp", "ping-idle", "ping-load", "churn"}},
		{name: "ipv6", threads: 1, ipv6: true, ids: []string{"udp6", "tcp6"}},
		{name: "offloads", threads: 1, offloads: true, ids: []string{"tcp-offload", "tcp-offload4"}},
		{name: "busy-poll", threads: 1, busyPoll: true, ids: []string{"ping-busy-idle", "ping-busy-load"}},
		{name: "table", threads: 1, ipv6: true, ids: []string{"table"}},
		{name: "two-threads", threads: 2, ids: []string{"threads2"}},
		{name: "fanout", threads: 2, fanout: true, ids: []string{"fanout64", "fanout-ping-load"}},
		{name: "follow", threads: 1, ipv6: true, follow: true, ids: []string{"follow"}},
	}
}

// naError says a measurement cannot be made in this configuration (as
// opposed to one that failed).
type naError struct{ reason string }

func (e *naError) Error() string { return "n/a: " + e.reason }

// setup is one built router configuration: a topology and, for R2, the
// daemon configured on it.
type setup struct {
	b       *bench
	variant string
	grp     *group
	tp      *topo.Topology
	d       *daemon // nil for the kernel
	fol     *follower
	info    setupInfo
	closeTp func()
	// sink drops and counts the floods at h2's interface (-h2-sink tcx);
	// nil with -h2-sink stack. It closes with tp.
	sink *topo.Sink
}

// setupInfo is what the report records about a setup.
type setupInfo struct {
	Round    int               `json:"round"`
	Group    string            `json:"group"`
	Variant  string            `json:"variant"`
	Prefix   string            `json:"topology_prefix"`
	Instance string            `json:"r2_instance,omitempty"`
	R2Args   []string          `json:"r2_args,omitempty"`
	Drivers  map[string]string `json:"drivers,omitempty"` // interface → driver active per `r2intf show`
	Threads  map[string]int    `json:"threads,omitempty"` // interface → owning thread
	Offloads bool              `json:"offloads"`
	Error    string            `json:"error,omitempty"`
}

// controlCPUs is the -control-cpus of the afpacket-ctl variant for daemon
// flags f: the generators' CPU, which a single forwarding thread does not
// use; "" when the forwarding threads are not pinned (one CPU), since r2
// refuses control CPUs without forwarding ones.
func (b *bench) controlCPUs(f r2Flags) string {
	if f.CPUs == "" {
		return ""
	}
	return strconv.Itoa(b.genCPU)
}

// r2flags returns the daemon flags for g.
func (b *bench) r2flags(g *group) r2Flags {
	f := r2Flags{Threads: g.threads, BusyPoll: g.busyPoll}
	if b.ncpu >= 2 {
		if g.threads == 1 {
			f.CPUs = strconv.Itoa(b.fwdCPU)
		} else {
			f.CPUs = b.threads2CPUs
		}
	}
	return f
}

// newSetup builds the topology of g for variant and configures the router.
func (b *bench) newSetup(round int, g *group, variant string) (*setup, error) {
	s := &setup{b: b, variant: variant, grp: g}
	s.info = setupInfo{Round: round, Group: g.name, Variant: variant, Offloads: g.offloads}
	prefix := topo.UniquePrefix()
	s.info.Prefix = prefix
	// Registered before New, so an interrupt in the middle of building
	// still removes whatever exists by then.
	unregLeft := b.cleanup.add(func() { _ = topo.Cleanup(prefix) })
	tp, err := topo.New(topo.Config{Prefix: prefix, RouterNS: variant == variantKernel || g.follow, Offloads: g.offloads, MTU: b.o.mtu})
	if err != nil {
		unregLeft()
		return nil, err
	}
	s.tp = tp
	closeTp := b.cleanup.add(func() {
		if err := tp.Close(); err != nil {
			b.logf("topology %s: close: %v", prefix, err)
		}
	})
	s.closeTp = func() { closeTp(); unregLeft() }
	if b.o.h2Sink == "tcx" {
		if s.sink, err = tp.AddSink(tp.H2NS, tp.H2If, netip.MustParsePrefix(trafficNet), netip.MustParsePrefix(trafficNet6)); err != nil {
			s.close()
			return nil, err
		}
	}
	if b.o.hostRPS != "" {
		for _, h := range [][2]string{{tp.H1NS, tp.H1If}, {tp.H2NS, tp.H2If}} {
			if err := tp.SteerRx(h[0], h[1], b.o.hostRPS); err != nil {
				s.close()
				return nil, fmt.Errorf("-host-rps: %w", err)
			}
		}
	}
	if b.o.routerRPS != "" {
		for _, ifname := range []string{tp.RouterIfA, tp.RouterIfB} {
			if err := tp.SteerRx(tp.RouterNSName, ifname, b.o.routerRPS); err != nil {
				s.close()
				return nil, fmt.Errorf("-router-rps: %w", err)
			}
		}
	}
	if err := s.configure(); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// close stops the daemon and removes the topology.
func (s *setup) close() {
	if s.fol != nil {
		s.fol.stop()
	}
	if s.d != nil {
		s.d.stop()
	}
	s.closeTp()
}

func (s *setup) configure() error {
	ctx := s.b.ctx
	tp := s.tp
	if s.grp.ipv6 {
		if err := s.hostsIPv6(); err != nil {
			return err
		}
	}
	if s.variant == variantKernel {
		if err := tp.AddHostRoute(tp.RouterNSName, trafficNet, h2Addr); err != nil {
			return err
		}
		if s.grp.ipv6 {
			if err := s.kernelIPv6(); err != nil {
				return err
			}
		}
		return s.warmUp()
	}
	if s.grp.follow {
		return s.configureFollow()
	}
	s.b.instSeq++
	inst := fmt.Sprintf("%s-%d", s.b.runID, s.b.instSeq)
	f := s.b.r2flags(s.grp)
	f.NoVnet = s.variant == variantAFPacketNoVnet
	switch s.variant {
	case variantAFXDPSKB:
		f.XDPMode = "skb"
	case variantAFXDPDrv:
		f.XDPMode = "copy"
	}
	if s.variant == variantAFPacketRT {
		f.RTPriority = rtPriority
	}
	if s.variant == variantAFPacketCtl {
		f.ControlCPUs = s.b.controlCPUs(f)
	}
	s.info.Instance, s.info.R2Args = inst, f.args()
	bins := s.b.bins
	if isBase(s.variant) {
		bins.R2 = s.b.o.r2Base
		s.info.R2Args = append([]string{"(" + bins.R2 + ")"}, s.info.R2Args...)
	}
	d, err := startDaemon(ctx, s.b.cleanup, bins, inst, f)
	if err != nil {
		return err
	}
	s.d = d
	threadB := "0"
	if s.grp.threads > 1 {
		threadB = "1"
	}
	for _, a := range []struct{ ifname, thread string }{{tp.RouterIfA, "0"}, {tp.RouterIfB, threadB}} {
		args := []string{a.ifname, "add", "auto", "--thread", a.thread}
		if s.grp.fanout {
			args = []string{a.ifname, "add", "auto", "--threads", "0,1"}
		}
		if isXDP(s.variant) {
			args = append(args, "--driver", "afxdp")
		}
		if _, err := d.util(ctx, s.b.bins.R2intf, args...); err != nil {
			if isXDP(s.variant) {
				return &naError{reason: "AF_XDP attach refused: " + err.Error()}
			}
			return err
		}
	}
	for _, a := range []struct{ ifname, addr string }{{tp.RouterIfA, topo.DefaultRouterAddrA}, {tp.RouterIfB, topo.DefaultRouterAddrB}} {
		if _, err := d.util(ctx, s.b.bins.R2intf, a.ifname, "ip", a.addr); err != nil {
			return err
		}
	}
	if _, err := d.util(ctx, s.b.bins.R2rt, "route", trafficNet, h2Addr, tp.RouterIfB); err != nil {
		return err
	}
	if s.grp.ipv6 {
		for _, a := range []struct{ ifname, addr string }{{tp.RouterIfA, routerAddrA6 + subnetLen6}, {tp.RouterIfB, routerAddrB6 + subnetLen6}} {
			if _, err := d.util(ctx, s.b.bins.R2intf, a.ifname, "ip", a.addr); err != nil {
				return err
			}
		}
		if _, err := d.util(ctx, s.b.bins.R2rt, "route", trafficNet6, h2Addr6, tp.RouterIfB); err != nil {
			return err
		}
	}
	if err := s.checkDrivers(); err != nil {
		return err
	}
	if s.variant == variantAFXDPHost {
		if err := s.hostOwned(); err != nil {
			return err
		}
	}
	return s.warmUp()
}

// checkDrivers records which driver and thread serve the router's
// interfaces and fails (n/a for AF_XDP) unless it is the variant's driver.
func (s *setup) checkDrivers() error {
	tp, d := s.tp, s.d
	shown, out, err := d.showInterfaces(s.b.ctx)
	if err != nil {
		return err
	}
	s.info.Drivers, s.info.Threads = map[string]string{}, map[string]int{}
	for _, n := range []string{tp.RouterIfA, tp.RouterIfB} {
		i, ok := shown[n]
		if !ok {
			return fmt.Errorf("r2intf show does not list %s:\n%s", n, out)
		}
		s.info.Drivers[n], s.info.Threads[n] = i.Driver, i.Thread
	}
	want := map[string]string{variantAFPacket: "afpacket", variantAFPacketNoVnet: "afpacket", variantAFPacketRT: "afpacket", variantAFPacketCtl: "afpacket", variantAFPacketBase: "afpacket", variantAFXDP: "afxdp", variantAFXDPHost: "afxdp", variantAFXDPSKB: "afxdp", variantAFXDPDrv: "afxdp", variantAFXDPBase: "afxdp"}[s.variant]
	for n, drv := range s.info.Drivers {
		if drv == want {
			continue
		}
		reason := fmt.Sprintf("r2intf show reports driver %q on %s, not %q", drv, n, want)
		if isXDP(s.variant) {
			if l := grepLines(d.log.String(), "af_xdp"); len(l) > 0 {
				reason += "; r2 logged: " + afterLogPrefix(l[0])
			}
			return &naError{reason: reason}
		}
		return errors.New(reason)
	}
	return nil
}

// isXDP reports whether variant runs R2 on AF_XDP.
func isXDP(variant string) bool {
	return variant == variantAFXDP || variant == variantAFXDPHost || variant == variantAFXDPSKB || variant == variantAFXDPDrv || variant == variantAFXDPBase
}

// hostOwned puts both router interfaces in host-owned mode. The router's
// addresses then belong to the Linux host, which here (the caller's
// namespace) does not have them: rather than give it addresses, the hosts
// get the router's MACs as static neighbours, so nothing needs to answer
// their ARP or NS. R2 still resolves the hosts itself, from the copies of
// their replies.
func (s *setup) hostOwned() error {
	ctx, tp := s.b.ctx, s.tp
	for _, ifn := range []string{tp.RouterIfA, tp.RouterIfB} {
		if _, err := s.d.util(ctx, s.b.bins.R2intf, ifn, "host-owned", "on"); err != nil {
			return err
		}
	}
	neigh := []struct {
		ns, ifn string
		ip      string
		mac     string
	}{
		{tp.H1NS, tp.H1If, tp.RouterIPA.String(), tp.RouterMACA.String()},
		{tp.H2NS, tp.H2If, tp.RouterIPB.String(), tp.RouterMACB.String()},
	}
	if s.grp.ipv6 {
		neigh = append(neigh,
			struct{ ns, ifn, ip, mac string }{tp.H1NS, tp.H1If, routerAddrA6, tp.RouterMACA.String()},
			struct{ ns, ifn, ip, mac string }{tp.H2NS, tp.H2If, routerAddrB6, tp.RouterMACB.String()})
	}
	for _, n := range neigh {
		if out, err := tp.Exec(n.ns, "ip", "neigh", "replace", n.ip, "lladdr", n.mac, "dev", n.ifn, "nud", "permanent").CombinedOutput(); err != nil {
			return fmt.Errorf("static neighbour %s in %s: %v: %s", n.ip, n.ns, err, out)
		}
	}
	return nil
}

// afterLogPrefix drops the daemon's "r2[inst]: date time " log prefix.
func afterLogPrefix(l string) string {
	if i := strings.Index(l, "]: "); i >= 0 {
		l = l[i+3:]
		if f := strings.SplitN(l, " ", 3); len(f) == 3 {
			return f[2]
		}
	}
	return l
}

// enableIPv6 turns IPv6 on in namespace ns (topo built it off) for lo and
// the interfaces ifs, without duplicate address detection (an address is
// usable at once), router advertisements or solicitations; forward makes
// the namespace an IPv6 router.
func (s *setup) enableIPv6(ns string, ifs []string, forward bool) error {
	var kv [][2]string
	for _, c := range append([]string{"all", "default"}, ifs...) {
		kv = append(kv, [2]string{c + "/accept_dad", "0"}, [2]string{c + "/accept_ra", "0"}, [2]string{c + "/router_solicitations", "0"})
	}
	if forward {
		kv = append(kv, [2]string{"all/forwarding", "1"})
	}
	// Last: "all" turns IPv6 on for every interface of the namespace.
	kv = append(kv, [2]string{"all/disable_ipv6", "0"})
	for _, c := range append([]string{"lo"}, ifs...) {
		kv = append(kv, [2]string{c + "/disable_ipv6", "0"})
	}
	return inNS(ns, func() error {
		for _, x := range kv {
			p := "/proc/sys/net/ipv6/conf/" + x[0]
			if err := os.WriteFile(p, []byte(x[1]), 0o644); err != nil {
				return fmt.Errorf("netns %s: sysctl %s=%s: %w", ns, p, x[1], err)
			}
		}
		return nil
	})
}

// ip runs `ip -n ns args...`.
func (s *setup) ip(ns string, args ...string) error {
	ctx, cancel := context.WithTimeout(s.b.ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", append([]string{"-n", ns}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip -n %s %s: %v: %s", ns, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// hostsIPv6 gives h1 and h2 their IPv6 address and default route.
func (s *setup) hostsIPv6() error {
	tp := s.tp
	for _, h := range []struct{ ns, ifname, addr, gw string }{
		{tp.H1NS, tp.H1If, h1Addr6, routerAddrA6},
		{tp.H2NS, tp.H2If, h2Addr6, routerAddrB6},
	} {
		if err := s.enableIPv6(h.ns, []string{h.ifname}, false); err != nil {
			return err
		}
		if err := s.ip(h.ns, "-6", "addr", "add", h.addr+subnetLen6, "dev", h.ifname, "nodad"); err != nil {
			return err
		}
		if err := s.ip(h.ns, "-6", "route", "add", "default", "via", h.gw, "dev", h.ifname); err != nil {
			return err
		}
	}
	return nil
}

// kernelIPv6 makes the kernel router's namespace an IPv6 router with the
// router's addresses and the route to trafficNet6.
func (s *setup) kernelIPv6() error {
	tp := s.tp
	ns := tp.RouterNSName
	if err := s.enableIPv6(ns, []string{tp.RouterIfA, tp.RouterIfB}, true); err != nil {
		return err
	}
	for _, a := range []struct{ ifname, addr string }{{tp.RouterIfA, routerAddrA6}, {tp.RouterIfB, routerAddrB6}} {
		if err := s.ip(ns, "-6", "addr", "add", a.addr+subnetLen6, "dev", a.ifname, "nodad"); err != nil {
			return err
		}
	}
	return s.ip(ns, "-6", "route", "add", trafficNet6, "via", h2Addr6, "dev", tp.RouterIfB)
}

// warmUp pings h2 from h1 until replies come (ARP, and with IPv6 neighbour
// discovery, resolved on both sides), for up to about 5 s each.
func (s *setup) warmUp() error {
	if err := s.warmUpTo(h2Addr); err != nil {
		return err
	}
	if s.grp.ipv6 {
		return s.warmUpTo(h2Addr6)
	}
	return nil
}

func (s *setup) warmUpTo(dst string) error {
	var last string
	for i := 0; i < 5; i++ {
		if err := s.b.ctx.Err(); err != nil {
			return err
		}
		r, err := s.tp.Ping(s.tp.H1NS, dst, 3, 100*time.Millisecond)
		if err == nil && r.Received > 0 {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = strings.TrimSpace(r.Output)
		}
	}
	return fmt.Errorf("no connectivity from h1 to h2 (%s) through the router: %s", dst, last)
}

// sleepCtx sleeps for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
