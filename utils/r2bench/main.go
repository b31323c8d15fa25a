//go:build linux

// Command r2bench measures R2 against the Linux kernel's own IPv4 and IPv6
// forwarding on the same topology,
//
//	h1 [10.1.0.1] --veth-- [10.1.0.2] router [10.2.0.2] --veth-- [10.2.0.1] h2
//
// with, for the IPv6 measurements and the table, h1 2001:db8:1::1/64,
// router 2001:db8:1::2/64 and 2001:db8:2::2/64, h2 2001:db8:2::1/64
// (configured by r2bench: no duplicate address detection, no router
// advertisements; the kernel router gets net.ipv6.conf.all.forwarding=1)
//
// built afresh in network namespaces for every setup (r2/topo). The router is
// the kernel (topo RouterNS mode, the baseline), R2 with its AF_PACKET driver,
// or R2 with its AF_XDP driver when the daemon has one (otherwise those cells
// say "n/a" and why). R2 runs as a separate daemon started by r2bench under
// an instance name unique to the run, configured with r2intf and r2rt and,
// for bulk route changes, with the Go API client.
//
// Kernel and R2 setups are interleaved within every round, and every figure
// is reported as the median of the rounds with its min-max range and its
// ratio to the kernel's median:
//
//   - udp64, udp512, udp1500: UDP frames of that size (Ethernet header
//     included, no FCS) sent by trafgen in h1, pinned to CPU 0, at the highest
//     rate it reaches; R2's forwarding thread is pinned to CPU 1. Delivered
//     packets/s are counted in h2: the frames are addressed to 10.9.0.1, a
//     destination routed to h2, where a tcx program on its interface drops
//     and counts them (-h2-sink), so ARP and other traffic are not counted.
//   - udp6: 64-byte UDP/IPv6 frames as udp64, to 2001:db8:9::1 (routed to
//     h2 and dropped there the same way).
//   - tcp6: iperf3 over IPv6, offloads off, as tcp.
//   - tcp, tcp-offload: iperf3 from h1 to h2 through the router, with
//     offloads off on all veth ends and with the veth defaults (TSO, GSO, GRO
//     and checksum offload on); tcp-offload4: the latter with 4 streams.
//     R2's AF_PACKET interfaces run with vnet headers (the default).
//   - ping-idle, ping-load: ping RTT median and p99 from h1 to h2, idle and
//     under a 64-byte UDP flood; ping-busy-idle, ping-busy-load: the same with
//     R2 busy polling (-busy-poll). The kernel has no such mode: its column
//     there is the ordinary kernel, measured alongside. ping-idle also
//     reports R2's CPU (all its threads, /proc schedstat) over one
//     measurement length of idleness after the pings.
//   - churn: 64-byte forwarding rate while 10,000 route changes per second
//     (batches of 100 every 10 ms: Route.AddBatch / DelBatch through the API
//     for R2, netlink for the kernel) hit prefixes the traffic does not use,
//     compared with the rate just before, and the loss in both phases.
//   - table: load the whole tier1 table, IPv4 and IPv6 (about 1.06 M
//     routes; Route.AddBatch in chunks of 5000 for R2; `ip -batch` for the
//     kernel), time and resident memory.
//   - threads2: 64-byte rate with two R2 forwarding threads, each interface
//     owned by a different one (the MPSC Tx handoff path).
//   - fanout64, fanout-ping-load: the 64-byte rate, and ping beside a 64-byte
//     flood, with both interfaces served by both threads (r2intf --threads
//     0,1: an AF_PACKET fanout group whose steering program picks a flow's
//     thread; AF_XDP one socket per queue, so on the topology's 1-queue
//     veths the second thread serves nothing).
//   - follow: the deployment with a routing daemon. The router namespace
//     holds the addresses in Linux (the kernel variant forwards; for R2 the
//     kernel's forwarding is off, R2 runs in that namespace and r2follow
//     attaches the interfaces host-owned and mirrors addresses and routes).
//     The tier1 table goes into the kernel with `ip -batch` while a 64 B
//     flood runs: the time until the router forwards with the whole table
//     (for R2: until r2follow has given it all to R2, and how long after
//     the kernel had it), R2's and r2follow's resident memory, and the
//     forwarding rate during the load compared with the rate before it.
//
// Usage:
//
//	r2bench [-rounds N] [-duration D] [-short] [-only LIST] [-variants LIST]
//	        [-r2 PATH] [-bindir DIR] [-table PATH] [-json FILE] [-svg FILE]
//
// It needs root, and the programs ip, taskset, trafgen (netsniff-ng), iperf3
// and ping (iputils-ping). A missing program or a failed step is recorded
// in the results and the other measurements go on. SIGINT and SIGTERM stop
// the run and remove everything it created.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// options are the parsed command line.
type options struct {
	rounds   int
	duration time.Duration
	short    bool
	only     []string // measurement IDs, in canonical order
	variants []string // variant IDs, in canonical order
	r2Path   string
	// r2Base is the r2 binary of the afpacket-base variant (-r2-base).
	r2Base   string
	binDir   string
	table    string
	jsonPath string
	svgPath  string
	// tableLimit, when > 0, loads only the first tableLimit prefixes.
	tableLimit int
	// threads2CPUs is -cpus for the two-thread setup.
	threads2CPUs string
	// mtu is the MTU of every veth end (topo Config.MTU).
	mtu int
	// floodRate, when > 0, caps trafgen's floods at this many frames/s,
	// so every router is offered the same load.
	floodRate int
	// floodFlows is how many flows a flood is (source ports 1024 up,
	// in turn); 1: one flow.
	floodFlows int
	// floodProto is the floods' transport: "udp" or "tcp" (ACK segments
	// of one flow that never slows down).
	floodProto string
	// pingFirst: the ping rows beside a flood ping for a second before
	// the flood starts, so that the pings' flow exists before it.
	pingFirst bool
	// h2Sink is where h2 drops the floods: "tcx" (a tcx program at its
	// interface, counted there) or "stack" (its IP layer, InAddrErrors).
	h2Sink string
	// hostRPS, if not empty, is the CPU mask (hex, as rps_cpus takes it)
	// the hosts' receive work is steered to (RPS on h1's and h2's
	// interfaces).
	hostRPS string
	// routerRPS, if not empty, is the CPU mask the router's own receive
	// work (the kernel router's, or the copy into R2's rings) is steered
	// to: RPS on the router-side veth ends, in every variant.
	routerRPS string
}

const usageText = `usage: r2bench [flags]

Benchmark R2 against the Linux kernel's IPv4 and IPv6 forwarding on the
topology h1 -- router -- h2 (network namespaces). Kernel and R2 setups
alternate in every round; the table shows medians [min-max] and ratios to
the kernel.
Needs root, ip, taskset, trafgen (netsniff-ng), iperf3 and ping.

Flags:
  -rounds N        rounds (default 3; at least 1)
  -duration D      length of one measurement, e.g. 5s (default 5s)
  -short           quick run: 1 round of about 1 s per measurement (for CI);
                   -rounds and -duration given explicitly still apply
  -only LIST       comma-separated measurements to run (default all):
                     udp64 udp512 udp1500 udp6 tcp tcp6 tcp-offload tcp-offload4 ping-idle
                     ping-load ping-busy-idle ping-busy-load churn table
                     threads2 fanout64 fanout-ping-load follow
                   and the groups udp (IPv4), ipv6 (udp6, tcp6), ping
                   (idle, load), ping-busy, fanout, all
  -variants LIST   routers to measure (default kernel,afpacket,afxdp; also
                   afpacket-novnet: AF_PACKET without vnet headers;
                   afpacket-rt: AF_PACKET, threads under SCHED_FIFO
                   (r2 -rt-priority 60);
                   afpacket-ctl: AF_PACKET, every other thread of r2 (API,
                   garbage collector, route loads) pinned to the
                   generators' CPU (r2 -control-cpus);
                   afxdp-host: AF_XDP with the interfaces host-owned, the
                   hosts given the router's MACs statically;
                   afxdp-skb: AF_XDP with the program in generic XDP
                   (r2 -afxdp-mode skb, what auto picks on a veth of one
                   queue);
                   afxdp-drv: AF_XDP with the program in driver mode
                   (r2 -afxdp-mode copy: the veth's own XDP);
                   afpacket-base, afxdp-base: AF_PACKET, AF_XDP with the
                   -r2-base binary)
  -r2 PATH         the r2 daemon binary (default: DIR/r2 with -bindir, or built)
  -r2-base PATH    another r2 binary (a baseline build) for the afpacket-base and afxdp-base
                   variant, measured in the same rounds as the others
  -bindir DIR      directory holding r2, r2intf, r2rt and r2follow (default: build them
                   with 'go build' into a temporary directory)
  -table PATH      tier1 prefix table (both families are loaded) (default: the repository's copy,
                   r2/routedata/testdata/tier1-prefixes.txt.gz, found by
                   routedata.Find; then $R2_ROUTEDATA, then shared/data)
  -table-limit N   load only N prefixes of the table, IPv4 and IPv6 in the
                   table's proportion (default all; 100000 with -short)
  -mtu N           MTU of every veth end (default 1500; e.g. 9000 for jumbo
                   frames: TCP then runs with 9000-byte frames, AF_XDP
                   receives them in several buffers)
  -threads2-cpus LIST
                   -cpus of R2's two-thread setup (default 1,0: the thread
                   owning the h1 side on CPU 1, the h2 side's on CPU 0)
  -flood-rate PPS  cap every trafgen flood at PPS frames/s (default 0: as fast
                   as trafgen goes, which with the kernel as router is the
                   kernel's own rate: it forwards inside trafgen's send)
  -flood-flows N   make every trafgen flood N flows (source ports 1024 to
                   1023+N, one frame of each in turn; default 1), as floods
                   from many sources are, which a router cannot tell from
                   light flows by one flow's rate
  -flood-proto P   udp (default) or tcp: every trafgen flood (the udp rows'
                   traffic and the flood beside ping-load) is then TCP
                   segments with ACK set, as an ACK flood is: heavy TCP
                   flows that never slow down at a loss, which shedding
                   signals before it cuts them back (rx_shed_interval_us)
  -ping-first      beside a flood, ping for a second before the flood starts
                   (default: the flood first): the pings' flow then exists
                   before the flood, as a routing session's or a monitoring
                   ping's would, and keeps ring 0 beside a flood of many
                   flows (light-flow steering's gate)
  -h2-sink WHERE   where h2 drops the floods' frames: tcx (default: a tcx
                   ingress program on h2's interface drops and counts them
                   before h2's IP layer, so a flood costs h2 next to nothing
                   and the router is measured alone) or stack (h2's IP
                   layer drops them as not its own and counts them in
                   InAddrErrors, as r2bench did before 2026-12-03: a route
                   entry allocated and freed through RCU per frame, on the
                   CPU that delivers it, for R2 its forwarding CPU)
  -host-rps MASK   steer the hosts' receive work to the CPUs of MASK (hex,
                   as /sys/class/net/IF/queues/rx-0/rps_cpus takes it; 1 is
                   CPU 0, the generators'): a veth delivers into the backlog
                   of the CPU that sends, so without it the hosts' stacks
                   receive R2's frames on R2's forwarding CPU, which no
                   deployment with NICs has (default: none)
  -router-rps MASK steer the router's receive work to the CPUs of MASK (RPS
                   on the router-side veth ends, every variant alike): the
                   kernel router's forwarding, or the copy of each frame
                   into R2's rings, which otherwise runs on the sender's
                   CPU, as it runs on a NIC's interrupt CPU (default: none)
  -json FILE       write all results (every sample, notes, errors) as JSON
  -svg FILE        draw the ratios to the kernel as an SVG bar chart
  -h, --help       show this help
`

// measurement IDs in the order they are reported.
var allMeasurements = []string{
	"udp64", "udp512", "udp1500", "udp6", "tcp", "tcp6", "tcp-offload", "tcp-offload4",
	"ping-idle", "ping-load", "ping-busy-idle", "ping-busy-load",
	"churn", "table", "threads2", "fanout64", "fanout-ping-load", "follow",
}

var measurementGroups = map[string][]string{
	"udp":       {"udp64", "udp512", "udp1500"},
	"ipv6":      {"udp6", "tcp6"},
	"ping":      {"ping-idle", "ping-load"},
	"fanout":    {"fanout64", "fanout-ping-load"},
	"ping-busy": {"ping-busy-idle", "ping-busy-load"},
	"all":       allMeasurements,
}

// variant IDs in the order they are reported.
var allVariants = []string{variantKernel, variantAFPacket, variantAFPacketNoVnet, variantAFPacketRT, variantAFPacketCtl, variantAFPacketBase, variantAFXDP, variantAFXDPHost, variantAFXDPSKB, variantAFXDPDrv, variantAFXDPBase}

// defaultVariants are measured unless -variants says otherwise.
var defaultVariants = []string{variantKernel, variantAFPacket, variantAFXDP}

const (
	variantKernel   = "kernel"
	variantAFPacket = "afpacket"
	variantAFXDP    = "afxdp"
	// variantAFPacketNoVnet is AF_PACKET without vnet headers (r2
	// -vnet-hdr=false), to measure what they cost or bring.
	variantAFPacketNoVnet = "afpacket-novnet"
	// variantAFPacketRT is AF_PACKET with the forwarding threads under
	// SCHED_FIFO (r2 -rt-priority).
	variantAFPacketRT = "afpacket-rt"
	// variantAFPacketCtl is AF_PACKET with every thread but the forwarding
	// ones pinned to the generators' CPU (r2 -control-cpus), so that route
	// loads and the garbage collector keep off the forwarding CPU.
	variantAFPacketCtl = "afpacket-ctl"
	// variantAFXDPHost is AF_XDP with both interfaces host-owned (the XDP
	// program classifies every frame), to measure what that costs.
	variantAFXDPHost = "afxdp-host"
	// variantAFXDPSKB is AF_XDP with the program in generic XDP (r2
	// -afxdp-mode skb), which on a veth keeps the receive work on the
	// sending CPU.
	variantAFXDPSKB = "afxdp-skb"
	// variantAFXDPDrv is AF_XDP with the program in driver mode (r2
	// -afxdp-mode copy): on a veth its own NAPI XDP, which auto no
	// longer picks there.
	variantAFXDPDrv = "afxdp-drv"
	// variantAFPacketBase is AF_PACKET run by the -r2-base binary, to
	// compare two builds round by round.
	variantAFPacketBase = "afpacket-base"
	// variantAFXDPBase is AF_XDP run by the -r2-base binary.
	variantAFXDPBase = "afxdp-base"
)

// isBase reports whether variant runs the -r2-base binary.
func isBase(variant string) bool {
	return variant == variantAFPacketBase || variant == variantAFXDPBase
}

var variantTitles = map[string]string{
	variantKernel:   "kernel",
	variantAFPacket: "R2 AF_PACKET",
	variantAFXDP:    "R2 AF_XDP",

	variantAFPacketNoVnet: "R2 AF_PACKET no vnet",
	variantAFPacketRT:     "R2 AF_PACKET SCHED_FIFO",
	variantAFPacketCtl:    "R2 AF_PACKET control CPU apart",
	variantAFXDPHost:      "R2 AF_XDP host-owned",
	variantAFXDPSKB:       "R2 AF_XDP generic",
	variantAFXDPDrv:       "R2 AF_XDP driver",
	variantAFPacketBase:   "R2 AF_PACKET (-r2-base)",
	variantAFXDPBase:      "R2 AF_XDP (-r2-base)",
}

// shortTableLimit is how many prefixes -short loads (the kernel takes
// about half a minute for the whole table).
const shortTableLimit = 100000

// errUsage marks a command-line error (exit status 2).
var errUsage = errors.New("usage")

// parseFlags parses args. It returns flag.ErrHelp for -h/--help.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("r2bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var o options
	fs.IntVar(&o.rounds, "rounds", 3, "")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "")
	fs.BoolVar(&o.short, "short", false, "")
	only := fs.String("only", "all", "")
	variants := fs.String("variants", strings.Join(defaultVariants, ","), "")
	fs.StringVar(&o.r2Path, "r2", "", "")
	fs.StringVar(&o.r2Base, "r2-base", "", "")
	fs.StringVar(&o.binDir, "bindir", "", "")
	fs.StringVar(&o.table, "table", "", "")
	fs.IntVar(&o.tableLimit, "table-limit", 0, "")
	fs.StringVar(&o.threads2CPUs, "threads2-cpus", "1,0", "")
	fs.IntVar(&o.mtu, "mtu", 1500, "")
	fs.IntVar(&o.floodRate, "flood-rate", 0, "")
	fs.IntVar(&o.floodFlows, "flood-flows", 1, "")
	fs.StringVar(&o.floodProto, "flood-proto", "udp", "")
	fs.BoolVar(&o.pingFirst, "ping-first", false, "")
	fs.StringVar(&o.h2Sink, "h2-sink", "tcx", "")
	fs.StringVar(&o.hostRPS, "host-rps", "", "")
	fs.StringVar(&o.routerRPS, "router-rps", "", "")
	fs.StringVar(&o.jsonPath, "json", "", "")
	fs.StringVar(&o.svgPath, "svg", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.short {
		if !set["rounds"] {
			o.rounds = 1
		}
		if !set["duration"] {
			o.duration = time.Second
		}
		if !set["table-limit"] {
			o.tableLimit = shortTableLimit
		}
	}
	if o.rounds < 1 || o.rounds > 100 {
		return o, fmt.Errorf("%w: -rounds %d: want 1 to 100", errUsage, o.rounds)
	}
	if o.duration < 200*time.Millisecond || o.duration > 10*time.Minute {
		return o, fmt.Errorf("%w: -duration %v: want 200ms to 10m", errUsage, o.duration)
	}
	if err := checkCPUList(o.threads2CPUs, 2); err != nil {
		return o, fmt.Errorf("%w: -threads2-cpus: %v", errUsage, err)
	}
	if o.mtu < 1280 || o.mtu > 65535 {
		return o, fmt.Errorf("%w: -mtu %d: want 1280 to 65535", errUsage, o.mtu)
	}
	if o.floodRate < 0 || o.floodRate > 100000000 {
		return o, fmt.Errorf("%w: -flood-rate %d: want 0 (no cap) to 100000000", errUsage, o.floodRate)
	}
	if o.floodFlows < 1 || o.floodFlows > 64512 {
		return o, fmt.Errorf("%w: -flood-flows %d: want 1 to 64512 (source ports 1024 to 65535)", errUsage, o.floodFlows)
	}
	if o.floodProto != "udp" && o.floodProto != "tcp" {
		return o, fmt.Errorf("%w: -flood-proto %q: want udp or tcp", errUsage, o.floodProto)
	}
	if o.h2Sink != "tcx" && o.h2Sink != "stack" {
		return o, fmt.Errorf("%w: -h2-sink %q: want tcx or stack", errUsage, o.h2Sink)
	}
	if o.hostRPS != "" {
		if m, err := strconv.ParseUint(o.hostRPS, 16, 64); err != nil || m == 0 {
			return o, fmt.Errorf("%w: -host-rps %q: want a CPU mask in hex, not 0 (1 is CPU 0)", errUsage, o.hostRPS)
		}
	}
	if o.routerRPS != "" {
		if m, err := strconv.ParseUint(o.routerRPS, 16, 64); err != nil || m == 0 {
			return o, fmt.Errorf("%w: -router-rps %q: want a CPU mask in hex, not 0 (2 is CPU 1)", errUsage, o.routerRPS)
		}
	}
	if o.tableLimit < 0 {
		return o, fmt.Errorf("%w: -table-limit %d: want 0 (all) or more", errUsage, o.tableLimit)
	}
	var err error
	if o.only, err = parseList(*only, allMeasurements, measurementGroups); err != nil {
		return o, fmt.Errorf("%w: -only: %v", errUsage, err)
	}
	if o.variants, err = parseList(*variants, allVariants, nil); err != nil {
		return o, fmt.Errorf("%w: -variants: %v", errUsage, err)
	}
	if base := slices.ContainsFunc(o.variants, isBase); base != (o.r2Base != "") {
		return o, fmt.Errorf("%w: the afpacket-base or afxdp-base variant and -r2-base go together", errUsage)
	}
	if o.r2Base != "" {
		if st, err := os.Stat(o.r2Base); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return o, fmt.Errorf("%w: -r2-base %q is not an executable file", errUsage, o.r2Base)
		}
	}
	for _, p := range []struct{ flag, path string }{{"json", o.jsonPath}, {"svg", o.svgPath}} {
		if set[p.flag] && p.path == "" {
			return o, fmt.Errorf("%w: -%s needs a file name", errUsage, p.flag)
		}
	}
	if set["bindir"] {
		if st, err := os.Stat(o.binDir); err != nil || !st.IsDir() {
			return o, fmt.Errorf("%w: -bindir %q is not a directory", errUsage, o.binDir)
		}
	}
	return o, nil
}

// parseList parses a comma-separated list of names from known (or groups
// of them) and returns them deduplicated in the order of known.
func parseList(s string, known []string, groups map[string][]string) ([]string, error) {
	want := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if g, ok := groups[f]; ok {
			for _, x := range g {
				want[x] = true
			}
			continue
		}
		if !slices.Contains(known, f) {
			names := append(slices.Clone(known), sortedKeys(groups)...)
			return nil, fmt.Errorf("unknown name %q (known: %s)", f, strings.Join(names, ", "))
		}
		want[f] = true
	}
	var out []string
	for _, k := range known {
		if want[k] {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	return out, nil
}

// checkCPUList checks a list of n CPU numbers such as "1,0".
func checkCPUList(s string, n int) error {
	f := strings.Split(s, ",")
	if len(f) != n {
		return fmt.Errorf("%q: want %d CPU numbers separated by commas", s, n)
	}
	for _, c := range f {
		if v, err := strconv.Atoi(strings.TrimSpace(c)); err != nil || v < 0 || v >= 4096 {
			return fmt.Errorf("%q is not a CPU number", c)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is r2bench; it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usageText)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "r2bench: %v\n\n%s", strings.TrimPrefix(err.Error(), "usage: "), usageText)
		return exitUsage
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "r2bench: needs root (network namespaces, veth, AF_PACKET)")
		return exitFail
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := newBench(ctx, o, stderr)
	stopSignals := b.cleanup.handleSignals(cancel, stderr)
	defer stopSignals()
	defer b.cleanup.runAll()

	rep, err := b.run()
	if rep != nil {
		printTable(stdout, rep)
		if o.jsonPath != "" {
			if werr := writeJSON(o.jsonPath, rep); werr != nil {
				fmt.Fprintf(stderr, "r2bench: %v\n", werr)
				err = errors.Join(err, werr)
			}
		}
		if o.svgPath != "" {
			if werr := writeSVG(o.svgPath, rep); werr != nil {
				fmt.Fprintf(stderr, "r2bench: %v\n", werr)
				err = errors.Join(err, werr)
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "r2bench: %v\n", err)
		return exitFail
	}
	return exitOK
}
