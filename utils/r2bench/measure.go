//go:build linux

package main

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/r2go/r2/apis/route"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/routedata"
)

// metricDef describes one figure of a measurement.
type metricDef struct {
	Key    string  `json:"key"`
	Label  string  `json:"label"`
	Unit   string  `json:"unit"`
	Scale  float64 `json:"-"` // shown value = value / Scale
	Digits int     `json:"-"`
	Better string  `json:"better,omitempty"` // "higher", "lower" or ""
	Chart  bool    `json:"-"`
	R2Only bool    `json:"r2_only,omitempty"` // the kernel has no such figure
	// NoRatio: a ratio to the kernel would mislead (loss percentages and
	// counts, often near zero on the kernel).
	NoRatio bool `json:"no_ratio,omitempty"`
}

// measDef describes one measurement.
type measDef struct {
	ID      string
	Title   string
	Metrics []metricDef
	run     func(s *setup) (map[string]float64, []string, error)
}

func udpMetrics() []metricDef {
	return []metricDef{
		{Key: "pps", Label: "delivered", Unit: "kpps", Scale: 1e3, Digits: 1, Better: "higher", Chart: true},
		{Key: "gbps", Label: "delivered", Unit: "Gbit/s", Scale: 1, Digits: 3, Better: "higher"},
		{Key: "offered_pps", Label: "offered by trafgen", Unit: "kpps", Scale: 1e3, Digits: 1},
		{Key: "loss_pct", Label: "loss", Unit: "%", Scale: 1, Digits: 1, Better: "lower", NoRatio: true},
		{Key: "r2_cpu_pct", Label: "R2 CPU time (100 = one CPU)", Unit: "%", Scale: 1, Digits: 0, R2Only: true, NoRatio: true},
		{Key: "r2_cpu_ns_pkt", Label: "R2 CPU time per delivered frame", Unit: "ns", Scale: 1, Digits: 0, Better: "lower", R2Only: true, NoRatio: true},
	}
}

// cpuMetrics are what a measurement reports of R2's CPU time: where the
// machine is shared, the forwarding thread loses its CPU to other work and
// rates swing with the load, while the CPU time R2 spends per frame or
// byte moves much less, so it compares two R2 builds better.
func cpuMetrics() []metricDef {
	return []metricDef{
		{Key: "r2_cpu_pct", Label: "R2 CPU time (100 = one CPU)", Unit: "%", Scale: 1, Digits: 0, R2Only: true, NoRatio: true},
		{Key: "r2_cpu_ms_gb", Label: "R2 CPU time per GB delivered", Unit: "ms", Scale: 1, Digits: 0, Better: "lower", R2Only: true, NoRatio: true},
	}
}

func pingMetrics(load bool) []metricDef {
	m := []metricDef{
		{Key: "rtt_median_us", Label: "RTT median", Unit: "µs", Scale: 1, Digits: 0, Better: "lower", Chart: true},
		{Key: "rtt_p99_us", Label: "RTT p99", Unit: "µs", Scale: 1, Digits: 0, Better: "lower", Chart: true},
		{Key: "loss_pct", Label: "ping loss", Unit: "%", Scale: 1, Digits: 1, Better: "lower", NoRatio: true},
	}
	if load {
		m = append(m,
			metricDef{Key: "flood_pps", Label: "flood delivered", Unit: "kpps", Scale: 1e3, Digits: 1, Better: "higher"},
			metricDef{Key: "offered_pps", Label: "flood offered by trafgen", Unit: "kpps", Scale: 1e3, Digits: 1},
			metricDef{Key: "lost_fwd", Label: "echo requests lost h1→h2", Unit: "", Scale: 1, Digits: 0, Better: "lower", NoRatio: true},
			metricDef{Key: "lost_ret", Label: "echo replies lost h2→h1", Unit: "", Scale: 1, Digits: 0, Better: "lower", NoRatio: true},
			metricDef{Key: "softnet_drops", Label: "backlog drops (softnet_stat)", Unit: "", Scale: 1, Digits: 0, Better: "lower", NoRatio: true},
			metricDef{Key: "ring_drop_pct", Label: "flood dropped at R2's Rx ring (kernel), of offered", Unit: "%", Scale: 1, Digits: 1, Better: "lower", R2Only: true, NoRatio: true},
			metricDef{Key: "shed_pct", Label: "flood shed by R2 (rx_shed), of offered", Unit: "%", Scale: 1, Digits: 1, R2Only: true, NoRatio: true},
		)
	} else {
		m = append(m, metricDef{Key: "idle_cpu_pct", Label: "R2 CPU when idle after", Unit: "% of a CPU", Scale: 1, Digits: 2, Better: "lower", R2Only: true, NoRatio: true})
	}
	return m
}

// measurements returns every measurement, by ID.
func measurements() map[string]*measDef {
	tcp := func(offloads bool) []metricDef {
		m := []metricDef{
			{Key: "gbps", Label: "throughput", Unit: "Gbit/s", Scale: 1, Digits: 3, Better: "higher", Chart: true},
			{Key: "retransmits", Label: "retransmits", Unit: "", Scale: 1, Digits: 0, Better: "lower", NoRatio: true},
		}
		m = append(m, metricDef{Key: "gro_merged_pct", Label: "segments R2 merged on receive (GRO), of those received", Unit: "%", Scale: 1, Digits: 0, R2Only: true, NoRatio: true},
			metricDef{Key: "gro_segs", Label: "segments per merged frame (GRO)", Unit: "", Scale: 1, Digits: 1, R2Only: true, NoRatio: true})
		if offloads {
			m = append(m, metricDef{Key: "r2_rx_errors", Label: "frames R2 dropped as bad/oversized", Unit: "", Scale: 1, Digits: 0, Better: "lower", R2Only: true, NoRatio: true})
		}
		return append(m, cpuMetrics()...)
	}
	defs := []*measDef{
		{ID: "udp64", Title: "UDP 64 B frames, h1→h2", Metrics: udpMetrics(), run: func(s *setup) (map[string]float64, []string, error) { return s.udp(64) }},
		{ID: "udp512", Title: "UDP 512 B frames, h1→h2", Metrics: udpMetrics(), run: func(s *setup) (map[string]float64, []string, error) { return s.udp(512) }},
		{ID: "udp1500", Title: "UDP 1500 B frames, h1→h2", Metrics: udpMetrics(), run: func(s *setup) (map[string]float64, []string, error) { return s.udp(1500) }},
		{ID: "udp6", Title: "UDP 64 B frames over IPv6, h1→h2", Metrics: udpMetrics(), run: func(s *setup) (map[string]float64, []string, error) { return s.udpFamily(64, true) }},
		{ID: "tcp", Title: "TCP (iperf3), offloads off", Metrics: tcp(false), run: func(s *setup) (map[string]float64, []string, error) { return s.tcp() }},
		{ID: "tcp6", Title: "TCP (iperf3) over IPv6, offloads off", Metrics: tcp(false), run: func(s *setup) (map[string]float64, []string, error) { return s.tcpTo(h2Addr6) }},
		{ID: "tcp-offload", Title: "TCP (iperf3), default veth offloads (TSO/GSO/GRO on)", Metrics: tcp(true), run: func(s *setup) (map[string]float64, []string, error) { return s.tcp() }},
		{ID: "tcp-offload4", Title: "TCP (iperf3 -P 4), default veth offloads (TSO/GSO/GRO on)", Metrics: tcp(true), run: func(s *setup) (map[string]float64, []string, error) { return s.tcpStreams(h2Addr, 4) }},
		{ID: "ping-idle", Title: "ping h1→h2, idle (R2 epoll)", Metrics: pingMetrics(false), run: func(s *setup) (map[string]float64, []string, error) { return s.ping(false) }},
		{ID: "ping-load", Title: "ping h1→h2 under a 64 B flood (R2 epoll)", Metrics: pingMetrics(true), run: func(s *setup) (map[string]float64, []string, error) { return s.ping(true) }},
		{ID: "ping-busy-idle", Title: "ping h1→h2, idle (R2 busy-poll; kernel as usual)", Metrics: pingMetrics(false), run: func(s *setup) (map[string]float64, []string, error) { return s.ping(false) }},
		{ID: "ping-busy-load", Title: "ping h1→h2 under a 64 B flood (R2 busy-poll; kernel as usual)", Metrics: pingMetrics(true), run: func(s *setup) (map[string]float64, []string, error) { return s.ping(true) }},
		{ID: "churn", Title: "UDP 64 B while routes change 10,000/s (batches of 100 every 10 ms)", Metrics: []metricDef{
			{Key: "pps_nochurn", Label: "delivered, no churn", Unit: "kpps", Scale: 1e3, Digits: 1, Better: "higher"},
			{Key: "pps_churn", Label: "delivered, churn", Unit: "kpps", Scale: 1e3, Digits: 1, Better: "higher", Chart: true},
			{Key: "churn_ratio", Label: "churn / no churn", Unit: "×", Scale: 1, Digits: 3, Better: "higher"},
			{Key: "loss_nochurn_pct", Label: "loss, no churn", Unit: "%", Scale: 1, Digits: 1, Better: "lower", NoRatio: true},
			{Key: "loss_churn_pct", Label: "loss, churn", Unit: "%", Scale: 1, Digits: 1, Better: "lower", NoRatio: true},
			{Key: "changes_per_s", Label: "route changes done", Unit: "/s", Scale: 1, Digits: 0, Better: "higher"},
		}, run: func(s *setup) (map[string]float64, []string, error) { return s.churn() }},
		{ID: "table", Title: "Load the tier1 table, IPv4 + IPv6 (R2: API AddBatch ×5000, memory VmRSS; kernel: ip -batch, memory Slab growth)", Metrics: []metricDef{
			{Key: "routes", Label: "routes loaded", Unit: "", Scale: 1, Digits: 0, NoRatio: true},
			{Key: "routes6", Label: "of which IPv6", Unit: "", Scale: 1, Digits: 0, NoRatio: true},
			{Key: "load_s", Label: "load time", Unit: "s", Scale: 1, Digits: 2, Better: "lower", Chart: true},
			{Key: "routes_per_s", Label: "load rate", Unit: "k/s", Scale: 1e3, Digits: 1, Better: "higher"},
			{Key: "mem_before_mib", Label: "memory before load", Unit: "MiB", Scale: 1, Digits: 1, Better: "lower", R2Only: true},
			{Key: "mem_mib", Label: "memory after load", Unit: "MiB", Scale: 1, Digits: 1, Better: "lower", Chart: true},
			{Key: "mem_peak_mib", Label: "peak memory (VmHWM)", Unit: "MiB", Scale: 1, Digits: 1, Better: "lower", R2Only: true},
		}, run: func(s *setup) (map[string]float64, []string, error) { return s.table() }},
		{ID: "threads2", Title: "UDP 64 B, R2 with two forwarding threads, one interface each (kernel as usual)", Metrics: []metricDef{
			{Key: "pps", Label: "delivered", Unit: "kpps", Scale: 1e3, Digits: 1, Better: "higher", Chart: true},
			{Key: "offered_pps", Label: "offered by trafgen", Unit: "kpps", Scale: 1e3, Digits: 1},
			{Key: "loss_pct", Label: "loss", Unit: "%", Scale: 1, Digits: 1, Better: "lower", NoRatio: true},
		}, run: func(s *setup) (map[string]float64, []string, error) { return s.udp(64) }},
		{ID: "fanout64", Title: "UDP 64 B, R2 with two forwarding threads serving both interfaces (kernel as usual)", Metrics: udpMetrics(), run: func(s *setup) (map[string]float64, []string, error) { return s.udp(64) }},
		{ID: "fanout-ping-load", Title: "ping h1→h2 under a 64 B flood, R2 with two forwarding threads serving both interfaces (kernel as usual)", Metrics: pingMetrics(true), run: func(s *setup) (map[string]float64, []string, error) { return s.ping(true) }},
		{ID: "follow", Title: "Routing-daemon deployment: tier1 table into the kernel (ip -batch) under a 64 B flood; R2 follows it with r2follow", Metrics: followMetrics(),
			run: func(s *setup) (map[string]float64, []string, error) { return s.follow() }},
	}
	m := map[string]*measDef{}
	for _, d := range defs {
		m[d.ID] = d
	}
	return m
}

// udp floods size-byte frames and counts what h2 receives.
func (s *setup) udp(size int) (map[string]float64, []string, error) { return s.udpFamily(size, false) }

// udpFamily is udp with IPv4 or, with v6, IPv6 frames.
func (s *setup) udpFamily(size int, v6 bool) (map[string]float64, []string, error) {
	f, err := s.startFloodFamily(size, v6)
	if err != nil {
		return nil, nil, err
	}
	defer f.stop()
	var before map[string]uint64
	if s.d != nil {
		before, _ = s.d.counterTotals()
	}
	cpu0, t0 := s.r2CPU(), time.Now()
	r, err := s.measureRate(f)
	if err != nil {
		return nil, nil, err
	}
	cpu, wall := s.r2CPU()-cpu0, time.Since(t0)
	var notes []string
	if n := f.note(); n != "" {
		notes = append(notes, n)
	}
	if s.d != nil && before != nil {
		if after, err := s.d.counterTotals(); err == nil {
			notes = append(notes, s.filteredNote(before, after)...)
		}
	}
	if r.RxOther > r.Delivered/100 {
		notes = append(notes, fmt.Sprintf("h2 also received %.0f other frames/s (not counted)", r.RxOther))
	}
	if r.Delivered == 0 {
		return nil, notes, fmt.Errorf("nothing reached h2 (trafgen offered %.0f frames/s)", r.Offered)
	}
	m := map[string]float64{
		"pps":         r.Delivered,
		"gbps":        r.Delivered * float64(size) * 8 / 1e9,
		"offered_pps": r.Offered,
		"loss_pct":    r.LossPct,
	}
	if s.d != nil && cpu > 0 {
		m["r2_cpu_pct"] = 100 * cpu.Seconds() / wall.Seconds()
		m["r2_cpu_ns_pkt"] = float64(cpu.Nanoseconds()) / (r.Delivered * wall.Seconds())
	}
	return m, notes, nil
}

// r2CPU is the CPU time R2's threads have used (0 for the kernel setup, or
// if it cannot be read).
func (s *setup) r2CPU() time.Duration {
	if s.d == nil {
		return 0
	}
	return s.d.cpuTime()
}

// tcp runs iperf3 over IPv4 and, for R2, reports its drop counters.
func (s *setup) tcp() (map[string]float64, []string, error) { return s.tcpTo(h2Addr) }

// tcpTo is tcp to h2's address dst (h2Addr or h2Addr6).
func (s *setup) tcpTo(dst string) (map[string]float64, []string, error) { return s.tcpStreams(dst, 1) }

// tcpStreams is tcpTo with that many parallel TCP streams.
func (s *setup) tcpStreams(dst string, streams int) (map[string]float64, []string, error) {
	var before map[string]uint64
	if s.d != nil {
		before, _ = s.d.counterTotals()
	}
	cpu0, t0 := s.r2CPU(), time.Now()
	res, err := s.runIperf(dst, streams)
	cpu, wall := s.r2CPU()-cpu0, time.Since(t0)
	m := map[string]float64{}
	if res.FromIperf || err == nil {
		m["gbps"] = res.Gbps
	}
	if s.d != nil && cpu > 0 && res.Gbps > 0 {
		// The iperf3 run is the window, its start-up included: R2
		// is idle then, which costs next to no CPU time.
		m["r2_cpu_pct"] = 100 * cpu.Seconds() / wall.Seconds()
		gb := res.Gbps / 8 * math.Max(1, math.Round(s.b.o.duration.Seconds())) // iperf3 -t
		m["r2_cpu_ms_gb"] = cpu.Seconds() * 1000 / gb
	}
	if res.FromIperf {
		m["retransmits"] = res.Retransmits
	}
	notes := res.Notes
	if s.d != nil && before != nil {
		if after, cerr := s.d.counterTotals(); cerr == nil {
			var rxErr uint64
			for _, n := range []string{s.tp.RouterIfA, s.tp.RouterIfB} {
				name := names.IfNodeCounter(n, driver.DrvRxErrors)
				rxErr += after[name] - before[name]
			}
			if s.grp.offloads {
				m["r2_rx_errors"] = float64(rxErr)
			}
			// GRO on the h1 side, where the data segments arrive.
			rx := names.IfNodeCounter(s.tp.RouterIfA, names.IfRx)
			pk := names.IfNodeCounter(s.tp.RouterIfA, names.IfRxGROPackets)
			sg := names.IfNodeCounter(s.tp.RouterIfA, names.IfRxGROSegments)
			if n := after[rx] - before[rx]; n > 0 {
				m["gro_merged_pct"] = 100 * float64(after[sg]-before[sg]) / float64(n)
			}
			if n := after[pk] - before[pk]; n > 0 {
				m["gro_segs"] = float64(after[sg]-before[sg]) / float64(n)
			}
			if d := dropDeltas(before, after); len(d) > 0 {
				notes = append(notes, "R2 drop/error counters: "+strings.Join(d, ", "))
			}
			notes = append(notes, s.filteredNote(before, after)...)
		}
	}
	return m, notes, err
}

// filteredNote says how many of the kernel's copies of transit frames the
// AF_PACKET tcx filter kept from its IP layer (drv_kernel_filtered, both
// router interfaces; published once a second, so up to a second late).
func (s *setup) filteredNote(before, after map[string]uint64) []string {
	var n uint64
	for _, ifn := range []string{s.tp.RouterIfA, s.tp.RouterIfB} {
		k := names.IfNodeCounter(ifn, driver.DrvKernelFiltered)
		n += after[k] - before[k]
	}
	if n == 0 {
		return nil
	}
	return []string{fmt.Sprintf("kernel copies of transit frames dropped by the tcx filter (drv_kernel_filtered): %d", n)}
}

// ringsNote says how many frames each receive ring of R2's h1 side took
// (drv_rx_ring0, ...) while pings ran beside a flood, and whether the
// pings came through a ring of their own: the rings split flows by the
// kernel's flow hash, seeded at boot, so on some boots the ping shares the
// flood's ring and waits behind it. pings is how many echo requests were
// sent; nothing without ring counters (one ring). With more than two
// rings some may take nothing: what counts is whether the rings other
// than the flood's (the busiest) took the pings. A flood of many flows
// spreads over the rings, and then the counts cannot tell.
func ringsNote(ifname string, before, after map[string]uint64, pings int) string {
	var took []uint64
	for i := 0; ; i++ {
		k := names.IfNodeCounter(ifname, driver.RxRingCounter(i))
		v, ok := after[k]
		if !ok {
			break
		}
		took = append(took, v-before[k])
	}
	if len(took) < 2 {
		return ""
	}
	parts := make([]string, len(took))
	for i, v := range took {
		parts[i] = strconv.FormatUint(v, 10)
	}
	// The flood's ring is the busiest; the pings had their own if the
	// others took about as many frames as were sent.
	var others uint64
	for _, v := range took {
		others += v
	}
	others -= slices.Max(took)
	verdict := "the pings had a ring apart from the flood's"
	switch {
	case others < uint64(pings)/2:
		verdict = "the pings shared the flood's ring (flow hash), and waited behind it"
	case others > 4*uint64(pings):
		// A flood of many flows (-flood-flows) fills several rings.
		verdict = "the flood spread over several rings (many flows): the counts do not tell whether the pings had one apart"
	}
	return fmt.Sprintf("frames per receive ring of %s: %s; %s", ifname, strings.Join(parts, " / "), verdict)
}

// dropDeltas lists the counters with "drop", "err", "nobuf" or "miss" in
// their name that grew, largest first (at most 6).
func dropDeltas(before, after map[string]uint64) []string {
	type kv struct {
		k string
		v uint64
	}
	var l []kv
	for k, v := range after {
		lk := strings.ToLower(k)
		if !strings.Contains(lk, "drop") && !strings.Contains(lk, "err") && !strings.Contains(lk, "nobuf") && !strings.Contains(lk, "miss") && !strings.Contains(lk, "shed") {
			continue
		}
		if v > before[k] {
			l = append(l, kv{k, v - before[k]})
		}
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v || l[i].v == l[j].v && l[i].k < l[j].k })
	var out []string
	for i, x := range l {
		if i == 6 {
			break
		}
		out = append(out, fmt.Sprintf("%s +%d", x.k, x.v))
	}
	return out
}

// ping measures RTTs from h1 to h2, idle or under a 64-byte flood.
func (s *setup) ping(load bool) (map[string]float64, []string, error) {
	const interval = 10 * time.Millisecond
	count := int(s.b.o.duration / interval)
	count = max(20, min(count, 3000))
	var f *flood
	var a1, a2 nsSnap
	var before map[string]uint64
	var sn0 uint64
	if load {
		if s.b.o.pingFirst {
			// The pings' flow for a while before the flood, longer
			// than light-flow steering's tenure in ring 0
			// (bpfasm.DefaultSteerGate); one bucket for every ping
			// between the two hosts (ICMP has no ports), so the
			// measured pings continue it.
			if _, err := s.tp.Ping(s.tp.H1NS, h2Addr, 12, 100*time.Millisecond); err != nil {
				return nil, nil, fmt.Errorf("pings before the flood: %w", err)
			}
		}
		var err error
		if f, err = s.startFlood(64); err != nil {
			return nil, nil, err
		}
		defer f.stop()
		if a1, a2, err = s.snapPair(); err != nil {
			return nil, nil, err
		}
		if s.d != nil {
			before, _ = s.d.counterTotals()
		}
		sn0, _ = softnetDrops()
	}
	res, err := s.tp.Ping(s.tp.H1NS, h2Addr, count, interval)
	if err != nil {
		return nil, nil, err
	}
	m := map[string]float64{
		"rtt_median_us": float64(res.Percentile(50)) / 1e3,
		"rtt_p99_us":    float64(res.Percentile(99)) / 1e3,
		"loss_pct":      res.Loss,
	}
	var notes []string
	if res.Errors > 0 || res.Duplicates > 0 {
		notes = append(notes, fmt.Sprintf("ping: %d errors, %d duplicates", res.Errors, res.Duplicates))
	}
	if load {
		z1, z2, err := s.snapPair()
		if err != nil {
			return nil, notes, err
		}
		if err := f.err(); err != nil {
			return nil, notes, err
		}
		if n := f.note(); n != "" {
			notes = append(notes, n)
		}
		r := rateBetween(a1, a2, z1, z2)
		m["flood_pps"], m["offered_pps"] = r.Delivered, r.Offered
		// Where pings were lost: before h2 (in the router, or h2's
		// backlog) or on the way back. The flood sends no echoes.
		m["lost_fwd"] = math.Max(0, float64(z1.OutEchos-a1.OutEchos)-float64(z2.InEchos-a2.InEchos))
		m["lost_ret"] = math.Max(0, float64(z2.OutEchoReps-a2.OutEchoReps)-float64(z1.InEchoReps-a1.InEchoReps))
		if sn1, err := softnetDrops(); err == nil {
			m["softnet_drops"] = float64(sn1 - sn0)
		}
		if s.d != nil && before != nil {
			if after, cerr := s.d.counterTotals(); cerr == nil {
				off := r.Offered * r.Elapsed.Seconds()
				ra := func(what string) float64 {
					k := names.IfNodeCounter(s.tp.RouterIfA, what)
					return float64(after[k] - before[k])
				}
				if off > 0 {
					m["ring_drop_pct"] = 100 * ra(driver.DrvKernelDrops) / off
					m["shed_pct"] = 100 * ra(names.IfRxShed) / off
				}
				if d := dropDeltas(before, after); len(d) > 0 {
					notes = append(notes, "R2 drop/error counters: "+strings.Join(d, ", "))
				}
				notes = append(notes, s.filteredNote(before, after)...)
				if n := ringsNote(s.tp.RouterIfA, before, after, res.Transmitted); n != "" {
					notes = append(notes, n)
				}
			}
		}
	}
	if res.Received == 0 {
		return m, notes, fmt.Errorf("no ping replies (%d sent)", res.Transmitted)
	}
	if !load && s.d != nil {
		// What the router costs between pings: a thread that spins (or
		// a runtime that keeps waking) shows here. The pings' own spin
		// is over after 100 ms.
		time.Sleep(100 * time.Millisecond)
		c0, err := procCPU(s.d.pid())
		if err != nil {
			return m, notes, err
		}
		win := s.b.o.duration
		time.Sleep(win)
		c1, err := procCPU(s.d.pid())
		if err != nil {
			return m, notes, err
		}
		m["idle_cpu_pct"] = 100 * float64(c1-c0) / float64(win)
	}
	return m, notes, nil
}

// churn measures the 64-byte rate without, then with, route churn.
func (s *setup) churn() (map[string]float64, []string, error) {
	tgt, release, err := s.churnTargetFor()
	if err != nil {
		return nil, nil, err
	}
	defer release()
	f, err := s.startFlood(64)
	if err != nil {
		return nil, nil, err
	}
	defer f.stop()
	r0, err := s.measureRate(f)
	if err != nil {
		return nil, nil, err
	}
	cr := startChurn(tgt)
	r1, err := s.measureRate(f)
	st := cr.stop()
	if err != nil {
		return nil, nil, err
	}
	m := map[string]float64{
		"pps_nochurn":      r0.Delivered,
		"pps_churn":        r1.Delivered,
		"loss_nochurn_pct": r0.LossPct,
		"loss_churn_pct":   r1.LossPct,
		"changes_per_s":    float64(st.Changes) / st.Elapsed.Seconds(),
	}
	if r0.Delivered > 0 {
		m["churn_ratio"] = r1.Delivered / r0.Delivered
	}
	var notes []string
	if n := f.note(); n != "" {
		notes = append(notes, n)
	}
	if st.Late > 0 {
		notes = append(notes, fmt.Sprintf("%d churn ticks took longer than %v", st.Late, churnTick))
	}
	if st.Errors > 0 {
		notes = append(notes, fmt.Sprintf("%d failed route batches, first: %v", st.Errors, st.First))
	}
	if st.Changes == 0 {
		return m, notes, fmt.Errorf("no route change succeeded: %v", st.First)
	}
	return m, notes, nil
}

// tablePrefixes loads the tier1 prefixes once, IPv4 then IPv6: each
// family deduplicated, without the topology's own subnets (and nothing
// inside 2001:db8::/32, the documentation prefix the IPv6 side uses), and
// cut to -table-limit in all, the families in the table's proportion.
func (b *bench) tablePrefixes() ([]netip.Prefix, error) {
	if b.tableErr != nil || b.prefixes != nil {
		return b.prefixes, b.tableErr
	}
	path := b.o.table
	if path == "" {
		if path, b.tableErr = routedata.Find(); b.tableErr != nil {
			return nil, b.tableErr
		}
	}
	b.tablePath = path
	ps4, err := routedata.LoadIPv4(path)
	if err != nil {
		b.tableErr = err
		return nil, err
	}
	ps6, err := routedata.LoadIPv6(path)
	if err != nil {
		b.tableErr = err
		return nil, err
	}
	own := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/24"), netip.MustParsePrefix("10.2.0.0/24"), netip.MustParsePrefix(trafficNet)}
	doc6 := netip.MustParsePrefix("2001:db8::/32")
	ps4 = slices.DeleteFunc(sortPrefixes(ps4), func(p netip.Prefix) bool { return slices.Contains(own, p) })
	ps6 = slices.DeleteFunc(sortPrefixes(ps6), func(p netip.Prefix) bool { return p.Overlaps(doc6) })
	if n := b.o.tableLimit; n > 0 && len(ps4)+len(ps6) > n {
		n6 := int(int64(n) * int64(len(ps6)) / int64(len(ps4)+len(ps6)))
		ps4, ps6 = ps4[:min(len(ps4), n-n6)], ps6[:n6]
	}
	if len(ps4)+len(ps6) == 0 {
		b.tableErr = fmt.Errorf("%s: no prefixes", path)
		return nil, b.tableErr
	}
	b.prefixes = append(ps4, ps6...)
	b.prefixes6 = len(ps6)
	return b.prefixes, nil
}

// sortPrefixes sorts ps by address, then length, and drops duplicates.
func sortPrefixes(ps []netip.Prefix) []netip.Prefix {
	slices.SortFunc(ps, func(a, c netip.Prefix) int {
		if r := a.Addr().Compare(c.Addr()); r != 0 {
			return r
		}
		return a.Bits() - c.Bits()
	})
	return slices.Compact(ps)
}

// tableNextHop is the next hop of a table route: h2, in p's family.
func tableNextHop(p netip.Prefix) string {
	if p.Addr().Is4() {
		return h2Addr
	}
	return h2Addr6
}

// tableChunk is how many routes one AddBatch carries: 5000 IPv4 routes
// take about 430 kB, well under the API's 1 MiB frame, and IPv6 ones a
// little more (longer prefixes and next hop). A batch may mix families.
const tableChunk = 5000

// table loads the whole table into the router and measures time and memory.
func (s *setup) table() (map[string]float64, []string, error) {
	ps, err := s.b.tablePrefixes()
	if err != nil {
		return nil, nil, err
	}
	if s.d == nil {
		return s.kernelTable(ps)
	}
	c, err := s.d.dial()
	if err != nil {
		return nil, nil, fmt.Errorf("API: %w", err)
	}
	defer c.Close()
	before, err := procStatusKB(s.d.pid(), "VmRSS")
	if err != nil {
		return nil, nil, err
	}
	entries := make([]*route.RouteEntry, len(ps))
	for i, p := range ps {
		entries[i] = &route.RouteEntry{Prefix: p.String(), Nexthop: tableNextHop(p), Ifname: s.tp.RouterIfB}
	}
	deadline := time.Now().Add(s.b.tableTimeout())
	start := time.Now()
	for i := 0; i < len(entries); i += tableChunk {
		if err := s.b.ctx.Err(); err != nil {
			return nil, nil, err
		}
		if time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("gave up after %v: %d of %d routes loaded", s.b.tableTimeout(), i, len(entries))
		}
		if err := c.Route.AddBatch(context.Background(), entries[i:min(i+tableChunk, len(entries))]); err != nil {
			return nil, nil, fmt.Errorf("AddBatch of routes %d..: %w", i, err)
		}
	}
	el := time.Since(start)
	after, err := procStatusKB(s.d.pid(), "VmRSS")
	if err != nil {
		return nil, nil, err
	}
	hwm, err := procStatusKB(s.d.pid(), "VmHWM")
	if err != nil {
		return nil, nil, err
	}
	var notes []string
	page, err := c.Route.Show(context.Background(), 0, 1)
	if err != nil {
		return nil, notes, fmt.Errorf("route show: %w", err)
	}
	if page.Total < int64(len(ps)) {
		notes = append(notes, fmt.Sprintf("R2 reports %d routes after loading %d", page.Total, len(ps)))
	}
	return map[string]float64{
		"routes":         float64(len(ps)),
		"routes6":        float64(s.b.prefixes6),
		"load_s":         el.Seconds(),
		"routes_per_s":   float64(len(ps)) / el.Seconds(),
		"mem_before_mib": float64(before) / 1024,
		"mem_mib":        float64(after) / 1024,
		"mem_peak_mib":   float64(hwm) / 1024,
	}, notes, nil
}

// kernelTable loads the table into the kernel router's namespace with
// `ip -batch` and reports the growth of the system's slab memory (an
// approximation: the kernel's FIB belongs to no process).
func (s *setup) kernelTable(ps []netip.Prefix) (map[string]float64, []string, error) {
	b := s.b
	file, err := s.writeTableBatch(ps, "kernel-routes", "")
	if err != nil {
		return nil, nil, err
	}
	defer os.Remove(file)
	slab0, err := meminfoKB("Slab")
	if err != nil {
		return nil, nil, err
	}
	el, err := s.ipBatch(file)
	if err != nil {
		return nil, nil, err
	}
	slab1, err := meminfoKB("Slab")
	if err != nil {
		return nil, nil, err
	}
	growth := math.Max(0, float64(slab1)-float64(slab0)) / 1024
	return map[string]float64{
			"routes":       float64(len(ps)),
			"routes6":      float64(b.prefixes6),
			"load_s":       el.Seconds(),
			"routes_per_s": float64(len(ps)) / el.Seconds(),
			"mem_mib":      growth,
		}, []string{"kernel memory: growth of Slab in /proc/meminfo (system-wide, approximate)"},
		nil
}

// writeTableBatch writes an `ip -batch` file that routes every prefix of ps
// to h2, each line ending in extra (e.g. " proto static").
func (s *setup) writeTableBatch(ps []netip.Prefix, name, extra string) (string, error) {
	file := filepath.Join(s.b.tmp, name+"-"+s.tp.Config.Prefix+".batch")
	var sb strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&sb, "route replace %s via %s dev %s%s\n", p, tableNextHop(p), s.tp.RouterIfB, extra)
	}
	return file, os.WriteFile(file, []byte(sb.String()), 0o644)
}

// ipBatch runs `ip -batch file` in the router's namespace (bounded by the
// table timeout) and returns how long it took.
func (s *setup) ipBatch(file string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(s.b.ctx, s.b.tableTimeout())
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, "ip", "-n", s.tp.RouterNSName, "-force", "-batch", file).CombinedOutput()
	el := time.Since(start)
	if err != nil {
		return el, fmt.Errorf("ip -batch: %v: %s", err, lastLines(string(out), 3))
	}
	return el, nil
}

// meminfoKB reads a field of /proc/meminfo in kB.
func meminfoKB(field string) (uint64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && k == field {
			var n uint64
			if _, err := fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &n); err != nil {
				return 0, fmt.Errorf("/proc/meminfo %s: %w", field, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("/proc/meminfo: no %s", field)
}
