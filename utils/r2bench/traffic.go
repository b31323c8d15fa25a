//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/r2go/r2/apis/route"
)

// Frame sizes are Ethernet frame lengths as trafgen writes them: header
// included, no FCS. The smallest UDP/IPv4 frame is 14+20+8 = 42 bytes, the
// smallest UDP/IPv6 frame 14+40+8 = 62.
const (
	udpFrameOverhead  = 14 + 20 + 8
	udp6FrameOverhead = 14 + 40 + 8
	// A TCP flood's segments have a 20-byte TCP header instead of UDP's
	// 8: a 64-byte TCP/IPv4 frame carries 10 bytes.
	tcpExtra = 20 - 8
)

// flood is a running trafgen sending one frame (UDP, or TCP with
// -flood-proto tcp) over and over from h1.
//
// trafgen gives up ("Flushing TX_RING failed: Resource temporarily
// unavailable") when its packet socket's send buffer is full, which happens
// when the veth peer queues frames (an XDP program on the router side makes
// the veth use a NAPI ring): a supervisor restarts it at once and counts
// the restarts, so the flood goes on.
type flood struct {
	args  []string
	out   *lockedBuffer
	unreg func()
	size  int

	mu       sync.Mutex
	cur      *child
	stopping bool
	restarts int
	lastExit string // last line trafgen printed before an unexpected exit
	failed   error  // the supervisor gave up
	done     chan struct{}
}

// floodPacket is trafgen's packet configuration of a flood: the headers
// l3 (Ethernet and IP), a UDP header to port 9 (with proto "tcp" a TCP
// header with ACK set, as in an ACK flood: segments of a connection no
// host has, whose sender never slows down at a loss) and pay zero bytes.
// With flows above 1 the source port counts up from 1024, one frame each,
// so the flood is that many flows (trafgen recomputes the checksum).
func floodPacket(l3, proto string, pay, flows int) string {
	sp := "9"
	if flows > 1 {
		sp = fmt.Sprintf("dinc(1024, %d)", 1023+flows)
	}
	l4 := fmt.Sprintf("udp(sp=%s, dp=9)", sp)
	if proto == "tcp" {
		l4 = fmt.Sprintf("tcp(sp=%s, dp=9, seq=1, ackseq=1, ack, win=512)", sp)
	}
	if pay == 0 { // no payload, no fill()
		return fmt.Sprintf("{\n  %s,\n  %s\n}\n", l3, l4)
	}
	return fmt.Sprintf("{\n  %s,\n  %s,\n  fill(0x00, %d)\n}\n", l3, l4, pay)
}

// startFlood starts trafgen in h1, pinned to the generator CPU, sending
// size-byte UDP/IPv4 frames (TCP with -flood-proto tcp) to trafficDst
// through the router at the highest rate it reaches, and lets it ramp up.
func (s *setup) startFlood(size int) (*flood, error) { return s.startFloodFamily(size, false) }

// startFloodFamily is startFlood for IPv4 or, with v6, UDP/IPv6 frames to
// trafficDst6.
func (s *setup) startFloodFamily(size int, v6 bool) (*flood, error) {
	b := s.b
	if b.tools["trafgen"] == "" {
		return nil, fmt.Errorf("trafgen not found (Debian package netsniff-ng)")
	}
	overhead, next := udpFrameOverhead, 17
	if v6 {
		overhead = udp6FrameOverhead
	}
	if b.o.floodProto == "tcp" {
		overhead, next = overhead+tcpExtra, 6
	}
	if size < overhead || size > s.tp.Config.MTU+14 {
		return nil, fmt.Errorf("frame size %d out of range %d..%d", size, overhead, s.tp.Config.MTU+14)
	}
	fam := b.o.floodProto + map[bool]string{false: "", true: "6"}[v6]
	cfg := filepath.Join(b.tmp, fmt.Sprintf("%s-%d-%s.trafgen", fam, size, s.tp.Config.Prefix))
	// trafgen fills in the IPv4 total length and checksum (the IPv6
	// payload length), the IPv4 protocol, and the UDP length and checksum
	// or the TCP checksum (over the IPv6 pseudo-header after ipv6(),
	// whose next header is set here).
	l3 := fmt.Sprintf("eth(da=%s, sa=%s, type=0x0800),\n  ipv4(saddr=%s, daddr=%s, ttl=64)", s.tp.RouterMACA, s.tp.H1MAC, s.tp.H1IP, trafficDst)
	if v6 {
		l3 = fmt.Sprintf("eth(da=%s, sa=%s, type=0x86dd),\n  ipv6(saddr=%s, daddr=%s, hoplimit=64, nexthdr=%d)", s.tp.RouterMACA, s.tp.H1MAC, h1Addr6, trafficDst6, next)
	}
	if err := os.WriteFile(cfg, []byte(floodPacket(l3, b.o.floodProto, size-overhead, b.o.floodFlows)), 0o644); err != nil {
		return nil, err
	}
	// -P 1: one sender process (trafgen pins it to CPU 0 itself, hence
	// the generator CPU); -Q: leave IRQ affinities alone; --no-sock-mem:
	// leave the global socket memory sysctls alone; -C: no CPU statistics.
	f := &flood{out: &lockedBuffer{}, size: size, done: make(chan struct{}),
		args: []string{"netns", "exec", s.tp.H1NS, "taskset", "-c", strconv.Itoa(b.genCPU),
			"trafgen", "-o", s.tp.H1If, "-i", cfg, "-P", "1", "-Q", "--no-sock-mem", "-C"}}
	if b.o.floodRate > 0 {
		f.args = append(f.args, "-b", strconv.Itoa(b.o.floodRate)+"pps")
	}
	first, err := f.launch()
	if err != nil {
		return nil, fmt.Errorf("start trafgen: %w", err)
	}
	f.unreg = b.cleanup.add(f.halt)
	go f.supervise(first)
	if err := sleepCtx(b.ctx, b.ramp()); err != nil {
		f.stop()
		return nil, err
	}
	if err := f.err(); err != nil {
		f.stop()
		return nil, err
	}
	return f, nil
}

// errStopping: the flood is being stopped.
var errStopping = errors.New("stopping")

// launch starts one trafgen process, unless the flood is being stopped.
func (f *flood) launch() (*child, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopping {
		return nil, errStopping
	}
	cmd := exec.Command("ip", f.args...)
	cmd.Stdout, cmd.Stderr = f.out, f.out
	c, err := spawn(cmd, syscall.SIGKILL)
	if err != nil {
		return nil, err
	}
	f.cur = c
	return c, nil
}

// supervise restarts trafgen whenever it exits unasked, until stopped or
// until it exits within 100 ms of starting five times in a row.
func (f *flood) supervise(c *child) {
	defer close(f.done)
	quick := 0
	for {
		started := time.Now()
		<-c.done
		f.mu.Lock()
		if f.stopping {
			f.mu.Unlock()
			return
		}
		f.restarts++
		f.lastExit = lastLines(f.out.String(), 1)
		if time.Since(started) < 100*time.Millisecond {
			quick++
		} else {
			quick = 0
		}
		if quick >= 5 {
			f.failed = fmt.Errorf("trafgen keeps exiting at start (%v): %s", c.err, lastLines(f.out.String(), 4))
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		var err error
		if c, err = f.launch(); err != nil {
			if errors.Is(err, errStopping) {
				return
			}
			f.mu.Lock()
			f.failed = fmt.Errorf("restart trafgen: %w", err)
			f.mu.Unlock()
			return
		}
	}
}

// err reports whether the supervisor gave up.
func (f *flood) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

// note describes the restarts, if any.
func (f *flood) note() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.restarts == 0 {
		return ""
	}
	return fmt.Sprintf("trafgen exited %d time(s) and was restarted (last words: %q)", f.restarts, f.lastExit)
}

// halt stops trafgen for good (SIGINT to its process group: its sender is
// a forked child).
func (f *flood) halt() {
	f.mu.Lock()
	f.stopping = true
	c := f.cur
	f.mu.Unlock()
	c.stop(syscall.SIGINT, 3*time.Second)
	<-f.done
}

// stop stops trafgen and forgets its cleanup.
func (f *flood) stop() {
	f.unreg()
}

// rate is what a window of measureRate saw.
type rate struct {
	Elapsed   time.Duration
	Delivered float64 // generator frames counted in h2 per second
	Offered   float64 // frames trafgen put on h1's veth per second (sent + dropped)
	RxOther   float64 // other frames received by h2 per second
	LossPct   float64 // 100 * (1 - delivered/offered)
}

// snapPair reads h1's and h2's counters.
func (s *setup) snapPair() (h1, h2 nsSnap, err error) {
	if h1, err = readNS(s.tp.H1NS, s.tp.H1If); err != nil {
		return
	}
	if h2, err = readNS(s.tp.H2NS, s.tp.H2If); err != nil || s.sink == nil {
		return
	}
	h2.Sunk, err = s.sink.Count()
	return
}

// rateBetween computes the rates between two snapshot pairs.
func rateBetween(a1, a2, z1, z2 nsSnap) rate {
	el := z2.At.Sub(a2.At)
	r := rate{Elapsed: el}
	sec := el.Seconds()
	if sec <= 0 {
		return r
	}
	// A flood is of one family, counted in h2's sink or (without one) its
	// IP layer; the other counters stay still.
	gen := float64(z2.InAddrErrors - a2.InAddrErrors + z2.InAddrErrors6 - a2.InAddrErrors6 + z2.Sunk - a2.Sunk)
	rx := float64(z2.If.RxPackets - a2.If.RxPackets)
	off := float64((z1.If.TxPackets + z1.If.TxDropped) - (a1.If.TxPackets + a1.If.TxDropped))
	r.Delivered = gen / sec
	r.RxOther = math.Max(0, rx-gen) / sec
	r.Offered = off / sec
	if off > 0 {
		r.LossPct = math.Max(0, 100*(1-gen/off))
	}
	return r
}

// measureRate counts for the configured duration what reaches h2.
func (s *setup) measureRate(f *flood) (rate, error) {
	a1, a2, err := s.snapPair()
	if err != nil {
		return rate{}, err
	}
	if err := sleepCtx(s.b.ctx, s.b.o.duration); err != nil {
		return rate{}, err
	}
	z1, z2, err := s.snapPair()
	if err != nil {
		return rate{}, err
	}
	if f != nil {
		if err := f.err(); err != nil {
			return rate{}, err
		}
	}
	return rateBetween(a1, a2, z1, z2), nil
}

// iperfResult is what a TCP run measured.
type iperfResult struct {
	Gbps        float64 // receiver goodput by iperf3; else h2's rx bytes
	Retransmits float64
	FromIperf   bool
	Notes       []string
}

// iperf3JSON is the part of `iperf3 -J` output used here.
type iperf3JSON struct {
	End struct {
		SumSent struct {
			Bytes         float64 `json:"bytes"`
			BitsPerSecond float64 `json:"bits_per_second"`
			Retransmits   float64 `json:"retransmits"`
		} `json:"sum_sent"`
		SumReceived struct {
			Bytes         float64 `json:"bytes"`
			BitsPerSecond float64 `json:"bits_per_second"`
		} `json:"sum_received"`
	} `json:"end"`
	Error string `json:"error"`
}

// runIperf runs an iperf3 server in h2 and a client in h1 (both pinned to
// the generator CPU) for the configured duration (whole seconds, at least
// one), to h2's address dst (h2Addr or h2Addr6).
func (s *setup) runIperf(dst string, streams int) (iperfResult, error) {
	b := s.b
	var res iperfResult
	if b.tools["iperf3"] == "" {
		return res, fmt.Errorf("iperf3 not found (Debian package iperf3)")
	}
	secs := max(1, int(math.Round(b.o.duration.Seconds())))
	cpu := strconv.Itoa(b.genCPU)
	srvOut := &lockedBuffer{}
	srvCmd := exec.Command("ip", "netns", "exec", s.tp.H2NS, "iperf3", "-s", "-1", "-B", dst, "-A", cpu, "--forceflush")
	srvCmd.Stdout, srvCmd.Stderr = srvOut, srvOut
	srv, err := spawn(srvCmd, syscall.SIGKILL)
	if err != nil {
		return res, fmt.Errorf("start iperf3 server: %w", err)
	}
	unreg := b.cleanup.add(func() { srv.stop(syscall.SIGKILL, time.Second) })
	defer unreg()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(srvOut.String(), "listening"); {
		if srv.exited() || time.Now().After(deadline) {
			return res, fmt.Errorf("iperf3 server did not start: %s", lastLines(srvOut.String(), 3))
		}
		if err := sleepCtx(b.ctx, 20*time.Millisecond); err != nil {
			return res, err
		}
	}
	_, h2a, err := s.snapPair()
	if err != nil {
		return res, err
	}
	limit := time.Duration(secs)*time.Second + 20*time.Second
	ctx, cancel := context.WithTimeout(b.ctx, limit)
	defer cancel()
	cliOut, cliErr := &lockedBuffer{}, &lockedBuffer{}
	args := []string{"netns", "exec", s.tp.H1NS, "iperf3", "-c", dst, "-t", strconv.Itoa(secs),
		"-J", "-A", cpu, "--connect-timeout", "3000"}
	if streams > 1 {
		args = append(args, "-P", strconv.Itoa(streams))
	}
	cliCmd := exec.Command("ip", args...)
	cliCmd.Stdout, cliCmd.Stderr = cliOut, cliErr
	start := time.Now()
	cli, err := spawn(cliCmd, syscall.SIGKILL)
	if err != nil {
		return res, fmt.Errorf("start iperf3 client: %w", err)
	}
	unregCli := b.cleanup.add(func() { cli.stop(syscall.SIGKILL, time.Second) })
	defer unregCli()
	timedOut := false
	select {
	case <-cli.done:
	case <-ctx.Done():
		timedOut = true
		cli.stop(syscall.SIGKILL, time.Second)
	}
	elapsed := time.Since(start)
	_, h2z, snapErr := s.snapPair()

	var j iperf3JSON
	jerr := json.Unmarshal([]byte(cliOut.String()), &j)
	switch {
	case timedOut:
		res.Notes = append(res.Notes, fmt.Sprintf("iperf3 client did not finish within %v and was killed", limit.Round(time.Second)))
	case jerr != nil:
		res.Notes = append(res.Notes, fmt.Sprintf("iperf3 output is not JSON (%v): %s", jerr, lastLines(cliOut.String()+cliErr.String(), 3)))
	case j.Error != "":
		res.Notes = append(res.Notes, "iperf3 error: "+j.Error)
	}
	if !timedOut && jerr == nil && j.End.SumReceived.Bytes > 0 {
		res.Gbps = j.End.SumReceived.BitsPerSecond / 1e9
		res.Retransmits = j.End.SumSent.Retransmits
		res.FromIperf = true
		return res, nil
	}
	if !timedOut && jerr == nil && j.Error == "" {
		// Finished, but nothing arrived.
		res.Retransmits = j.End.SumSent.Retransmits
		res.FromIperf = true
		return res, nil
	}
	// No usable iperf3 report: say what reached h2.
	if snapErr == nil {
		bytes := float64(h2z.If.RxBytes - h2a.If.RxBytes)
		res.Gbps = bytes * 8 / elapsed.Seconds() / 1e9
		res.Notes = append(res.Notes, fmt.Sprintf("throughput from h2's interface rx bytes (%.0f bytes in %v, headers included)", bytes, elapsed.Round(time.Millisecond)))
		if bytes > 0 {
			return res, nil
		}
	}
	return res, fmt.Errorf("%s", strings.Join(res.Notes, "; "))
}

// churnStats is what a route churner did.
type churnStats struct {
	Changes int
	Errors  int
	First   error
	Elapsed time.Duration
	Late    int // ticks whose work took longer than the tick
}

// churnTarget applies one batch of route changes.
type churnTarget interface {
	add(ps []netip.Prefix) error
	del(ps []netip.Prefix) error
}

const (
	churnBatch = 100
	churnTick  = 10 * time.Millisecond // 100 per 10 ms: 10,000 changes/s
	churnSets  = 1000                  // distinct batches cycled through
)

// churnPrefixes returns batch k of the churn prefixes: /32s in
// 198.18.0.0/15 (the benchmarking range), which the traffic never uses.
func churnPrefixes(k int) []netip.Prefix {
	k %= churnSets
	out := make([]netip.Prefix, churnBatch)
	for i := range out {
		n := (uint32(198)<<24 | uint32(18)<<16) + uint32(k*churnBatch+i)
		out[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), 32)
	}
	return out
}

// churn runs batches against t every churnTick until stop is closed:
// batch k added on one tick, deleted on the next. Whatever was added is
// deleted before it returns.
func churn(t churnTarget, stop <-chan struct{}) churnStats {
	var st churnStats
	tick := time.NewTicker(churnTick)
	defer tick.Stop()
	start := time.Now()
	k := 0
	var pending []netip.Prefix
	for {
		select {
		case <-stop:
			st.Elapsed = time.Since(start)
			if pending != nil {
				if err := t.del(pending); err == nil {
					st.Changes += len(pending)
				}
			}
			return st
		case <-tick.C:
		}
		t0 := time.Now()
		var err error
		if pending == nil {
			pending = churnPrefixes(k)
			k++
			if err = t.add(pending); err != nil {
				pending = nil
			}
		} else {
			if err = t.del(pending); err == nil {
				pending = nil
			}
		}
		if err != nil {
			st.Errors++
			if st.First == nil {
				st.First = err
			}
		} else {
			st.Changes += churnBatch
		}
		if time.Since(t0) > churnTick {
			st.Late++
		}
	}
}

// r2Churn changes R2's routes through the Route API's batch calls.
type r2Churn struct {
	c      *route.RouteClient
	ifname string
}

func (r r2Churn) entries(ps []netip.Prefix, full bool) []*route.RouteEntry {
	out := make([]*route.RouteEntry, len(ps))
	for i, p := range ps {
		out[i] = &route.RouteEntry{Prefix: p.String()}
		if full {
			out[i].Nexthop, out[i].Ifname = h2Addr, r.ifname
		}
	}
	return out
}

func (r r2Churn) add(ps []netip.Prefix) error {
	return r.c.AddBatch(context.Background(), r.entries(ps, true))
}

func (r r2Churn) del(ps []netip.Prefix) error {
	return r.c.DelBatch(context.Background(), r.entries(ps, false))
}

// kernelChurn changes the kernel router's routes over netlink, one request
// per route (netlink has no batch).
type kernelChurn struct {
	h       *netlink.Handle
	ifindex int
	gw      net.IP
}

func (k kernelChurn) route(p netip.Prefix) *netlink.Route {
	a := p.Addr().As4()
	return &netlink.Route{LinkIndex: k.ifindex, Gw: k.gw,
		Dst: &net.IPNet{IP: net.IP(a[:]), Mask: net.CIDRMask(p.Bits(), 32)}}
}

func (k kernelChurn) add(ps []netip.Prefix) error {
	for _, p := range ps {
		if err := k.h.RouteAdd(k.route(p)); err != nil {
			return fmt.Errorf("netlink route add %s: %w", p, err)
		}
	}
	return nil
}

func (k kernelChurn) del(ps []netip.Prefix) error {
	for _, p := range ps {
		if err := k.h.RouteDel(k.route(p)); err != nil {
			return fmt.Errorf("netlink route del %s: %w", p, err)
		}
	}
	return nil
}

// churnTargetFor returns a churner for the setup's router and a function
// that releases it.
func (s *setup) churnTargetFor() (churnTarget, func(), error) {
	if s.d != nil {
		c, err := s.d.dial()
		if err != nil {
			return nil, nil, fmt.Errorf("API: %w", err)
		}
		return r2Churn{c: c.Route, ifname: s.tp.RouterIfB}, func() { c.Close() }, nil
	}
	ns, err := netns.GetFromName(s.tp.RouterNSName)
	if err != nil {
		return nil, nil, err
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, nil, err
	}
	return kernelChurn{h: h, ifindex: s.tp.RouterIndexB, gw: net.ParseIP(h2Addr).To4()},
		func() { h.Close(); ns.Close() }, nil
}

// churnRunner runs churn in the background.
type churnRunner struct {
	stopc chan struct{}
	wg    sync.WaitGroup
	st    churnStats
}

func startChurn(t churnTarget) *churnRunner {
	r := &churnRunner{stopc: make(chan struct{})}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.st = churn(t, r.stopc)
	}()
	return r
}

func (r *churnRunner) stop() churnStats {
	close(r.stopc)
	r.wg.Wait()
	return r.st
}
