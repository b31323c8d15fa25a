//go:build linux

package daemon

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	ifnode "github.com/r2go/r2/gnodes/interface"
	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/driver/afpacket"
	"github.com/r2go/r2/r2/driver/afxdp"
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/packet"
)

// config is the daemon's configuration: defaults, then the file, then
// flags.
type config struct {
	Threads     int           // [general] threads
	Pkts        int           // [general] pkts: packet buffers per thread
	Particles   int           // [general] particles: accepted for R2 compatibility, must be >= pkts
	ParticleSz  int           // [general] particle_sz: must be packet.BufSize
	CPUs        []int         // [general] cpus: pin thread i to cpus[i]
	ControlCPUs []int         // [general] control_cpus: pin every other thread of the process to these
	BusyPoll    bool          // [general] busy_poll
	SpinUs      int           // [general] spin_us: keep polling this long after work before sleeping
	RTPriority  int           // [general] rt_priority: SCHED_FIFO priority of the forwarding threads (0: ordinary)
	WarmMs      int           // [general] warm_ms: after work, sleep in slices short enough to keep the Go P this long
	WarmYield   bool          // [general] warm_yield: while warm, pass through the Go scheduler every 5-9 ms so sysmon leaves the P
	WarmRawWait bool          // [general] warm_raw_wait: while warm, wait without telling the Go runtime (keeps the P)
	BusyYield   bool          // [general] busy_yield: after 5 ms without sleeping, pass through the Go scheduler every 5 ms
	Batch       int           // [general] batch: most packets a thread takes in per graph run
	RxShedUs    int           // [general] rx_shed_us: shed heavy flows' frames older than this at the Rx ring head (0: off)
	RxShedIvUs  int           // [general] rx_shed_interval_us: once the head has been that old this long
	GRO         bool          // [general] gro: merge received TCP segments into super-frames (software GRO)
	Driver      string        // [general] driver: default driver for interfaces
	Socket      string        // [api] socket
	Listen      string        // [api] listen: optional TCP address
	AllowRemote bool          // [api] allow_remote
	LogEntries  int           // [log] entries per thread
	Ring        string        // [afpacket] ring: v2 (per-frame, low latency) or v3 (blocks)
	Frames      int           // [afpacket] frames: v2 ring slots
	FramesSet   bool          // frames was given
	VnetHdr     bool          // [afpacket] vnet_hdr: receive and send GSO super-frames whole
	KernelRx    bool          // [afpacket] kernel_rx_filter: tcx filter dropping the kernel's copies of transit frames
	RxBlocks    int           // [afpacket] blocks
	RxBlockKB   int           // [afpacket] block_kb
	RxTimeout   time.Duration // [afpacket] block_timeout
	RxQueues    int           // [afpacket] rx_queues: receive rings per interface, served in turn
	LightGapUs  int           // [afpacket] light_gap_us: steer flows whose frames come this far apart to ring 0 (0: off)
	XDPRxRings  int           // [afxdp] rx_rings: receive rings (sockets) per queue, served in turn
	XDPGapUs    int           // [afxdp] light_gap_us: steer flows whose frames come this far apart to ring 0 (0: off)
	XDPSuper    bool          // [afxdp] super_frames: send (and in generic XDP receive) super-frames whole through AF_PACKET sockets
	XDPMode     string        // [afxdp] mode: auto, zero-copy, copy or skb (afxdp.ParseMode)
}

func defaultConfig() config {
	return config{
		Threads:     1,
		Pkts:        8192,
		Particles:   8192,
		ParticleSz:  packet.BufSize,
		Driver:      afpacket.Name,
		LogEntries:  4096,
		SpinUs:      50,
		WarmMs:      2000,
		WarmYield:   false,
		WarmRawWait: true,
		BusyYield:   true,
		Batch:       graph.VecSize,
		RxShedUs:    int(ifnode.DefaultShedTarget / time.Microsecond),
		RxShedIvUs:  int(ifnode.DefaultShedInterval / time.Microsecond),
		GRO:         true,
		Ring:        "v2",
		// 1024 slots per receive ring (the rings share frames).
		Frames:    4096,
		VnetHdr:   true,
		KernelRx:  true,
		RxBlocks:  64,
		RxBlockKB: 64,
		RxTimeout: time.Millisecond,
		// Four receive rings per interface: a light flow hashed
		// away from a flood is neither dropped at the flood's full
		// ring nor queued behind it (README, "Several receive
		// rings"), and with four it shares the flood's ring on one
		// boot in four instead of one in two (the kernel seeds its
		// flow hash at boot). With frames scaled to keep 1024 slots
		// a ring, 4 against 2 measured level on UDP and better on
		// TCP and on a ping beside a flood (README, goals of issue
		// 11). The driver's own default stays one.
		RxQueues: 4,
		// Light flows (frames 2 ms apart or more, a ping, a shell)
		// get ring 0 to themselves, whatever the boot's hash seed
		// (README, "Light flows steered to ring 0").
		LightGapUs: int(afpacket.DefaultLightGap / time.Microsecond),
		// The same for AF_XDP, on each queue: a ping hashed away
		// from a 64 B flood is neither dropped at the flood's full
		// ring nor queued behind it (README, "Several receive rings
		// on an AF_XDP queue").
		XDPRxRings: 2,
		// And light flows get ring 0 of their queue, as on AF_PACKET.
		XDPGapUs: int(afpacket.DefaultLightGap / time.Microsecond),
		// AF_XDP cannot send a super-frame: an AF_PACKET socket of the
		// interface sends them whole (README, "AF_XDP sends
		// super-frames through AF_PACKET").
		XDPSuper: true,
		XDPMode:  afxdp.ModeAuto.String(),
	}
}

// flagKeys are the daemon's flags that override configuration keys. A
// flag's value goes through the key's setter (config.set), so it is checked
// exactly as the key in the file is, and its errors read the same.
var flagKeys = []struct {
	flag, section, key, usage string
	def                       func(c *config) any // the default shown by -h
}{
	{"threads", "general", "threads", "forwarding `threads`", func(c *config) any { return c.Threads }},
	{"pkts", "general", "pkts", "packet `buffers` per thread (raises particles to match)", func(c *config) any { return c.Pkts }},
	{"cpus", "general", "cpus", "pin threads to these `CPUs`, e.g. 0,1 or 2-3", func(c *config) any { return "" }},
	{"control-cpus", "general", "control_cpus", "pin every thread but the forwarding ones (API, garbage collector, route loads) to these `CPUs`, so they keep off the forwarding CPUs (needs cpus)", func(c *config) any { return "" }},
	{"busy-poll", "general", "busy_poll", "forwarding threads spin instead of sleeping (dedicated cores)", func(c *config) any { return c.BusyPoll }},
	{"spin", "general", "spin_us", "`microseconds` a thread keeps polling after its last packet before sleeping", func(c *config) any { return c.SpinUs }},
	{"warm", "general", "warm_ms", "`milliseconds` after its last packet a thread sleeps in 4 ms slices, keeping the Go runtime's P, so the next packet is forwarded sooner (0: off)", func(c *config) any { return c.WarmMs }},
	{"warm-yield", "general", "warm_yield", "while warm, a thread yields to the Go scheduler every 5-9 ms, so sysmon does not take its P (faster median wakeup; the yields add tail latency when the CPUs are contended)", func(c *config) any { return c.WarmYield }},
	{"warm-raw-wait", "general", "warm_raw_wait", "while warm, a thread waits for packets without telling the Go runtime, so it keeps its P and the next packet is forwarded ~30 µs sooner (for ~1.5% of a CPU per warm thread; GOMAXPROCS is raised to threads+1)", func(c *config) any { return c.WarmRawWait }},
	{"busy-yield", "general", "busy_yield", "a thread that has run 5 ms without sleeping (under load) yields to the Go scheduler every 5 ms, so sysmon does not take its P in every system call (less CPU per packet, for a ~0.1 ms pause each time)", func(c *config) any { return c.BusyYield }},
	{"batch", "general", "batch", "most `packets` a thread takes in per graph run (1-256): smaller runs serve a light flow beside a flood sooner, bigger ones cost less per packet and let GRO merge more", func(c *config) any { return c.Batch }},
	{"rt-priority", "general", "rt_priority", "run the forwarding threads under SCHED_FIFO at this `priority` (1-99; 0: ordinary scheduling)", func(c *config) any { return c.RTPriority }},
	{"rx-shed", "general", "rx_shed_us", "shed frames of heavy flows that waited longer than these `microseconds` in an interface's receive ring, once the queue stands (0: off)", func(c *config) any { return c.RxShedUs }},
	{"rx-shed-interval", "general", "rx_shed_interval_us", "the receive queue stands when its head has been older than rx_shed_us for these `microseconds` without the queue emptying; a TCP flow in it loses at most one frame per interval, which slows its sender", func(c *config) any { return c.RxShedIvUs }},
	{"gro", "general", "gro", "merge the TCP segments of each received batch into super-frames (software GRO), sent on whole or segmented again on output; merged only while some interface sends super-frames whole (AF_PACKET, or AF_XDP with super_frames)", func(c *config) any { return c.GRO }},
	{"driver", "general", "driver", "default `driver` of interfaces attached without one", func(c *config) any { return c.Driver }},
	{"rx-queues", "afpacket", "rx_queues", "AF_PACKET receive `rings` per interface, flows spread over them by hash and served in turn, so a flood fills only its own (frames and blocks are shared among them)", func(c *config) any { return c.RxQueues }},
	{"light-gap", "afpacket", "light_gap_us", "with several AF_PACKET receive rings, a flow whose frames come at least these `microseconds` apart (a ping, a shell) gets ring 0 (of its thread, with several on the interface), shared only with other such flows; the rest spread over the other rings (0: the kernel's hash for all)", func(c *config) any { return c.LightGapUs }},
	{"afxdp-light-gap", "afxdp", "light_gap_us", "with several AF_XDP receive rings, a flow whose frames come at least these `microseconds` apart (a ping, a shell) gets ring 0 of its queue, shared only with other such flows; the rest spread over the other rings (0: the hash for all)", func(c *config) any { return c.XDPGapUs }},
	{"afxdp-rx-rings", "afxdp", "rx_rings", "AF_XDP receive `rings` (sockets) per queue, 1, 2, 4 or 8: the XDP program spreads flows over them by hash and they are served in turn, so a flood fills only its own", func(c *config) any { return c.XDPRxRings }},
	{"afxdp-mode", "afxdp", "mode", "how AF_XDP interfaces take frames (`mode`): auto (zero-copy, else copy with the XDP program in the driver, else generic; on a veth of one queue generic first), zero-copy (or AF_PACKET serves the interface: the attach is refused and logged), copy, or skb (generic XDP: on a veth the receive work stays on the sending CPU; GSO super-frames, from hosts with TSO or a NIC with GRO, are passed to the stack and received whole through an AF_PACKET socket, see super_frames)", func(c *config) any { return c.XDPMode }},
	{"afxdp-super-frames", "afxdp", "super_frames", "AF_XDP interfaces send GSO super-frames (software GRO's, AF_PACKET's) and frames with a checksum to finish whole, through a transmit-only AF_PACKET socket with vnet headers, and in generic XDP receive them whole through another; false: the GSO node segments them first, and generic XDP drops received ones as oversized", func(c *config) any { return c.XDPSuper }},
	{"vnet-hdr", "afpacket", "vnet_hdr", "AF_PACKET takes GSO/GRO super-frames whole (PACKET_VNET_HDR); false drops them as oversized", func(c *config) any { return c.VnetHdr }},
	{"kernel-rx-filter", "afpacket", "kernel_rx_filter", "AF_PACKET interfaces get a tcx ingress filter that drops the kernel's copies of transit frames (forwarding off drops them anyway, after an IP receive)", func(c *config) any { return c.KernelRx }},
	{"socket", "api", "socket", "API Unix socket `path` (default /run/r2/INSTANCE.sock)", func(c *config) any { return "" }},
	{"listen", "api", "listen", "also serve the API on this TCP `host:port` (loopback only unless -allow-remote)", func(c *config) any { return "" }},
	{"allow-remote", "api", "allow_remote", "allow a non-loopback -listen address: anyone reaching it can reconfigure the router", func(c *config) any { return c.AllowRemote }},
}

// overrides are the key flags given on a command line, in order.
type overrides []override

type override struct{ flag, section, key, value string }

// keyFlag is a flag.Value that records a key flag's value for apply.
type keyFlag struct {
	list               *overrides
	flag, section, key string
	def                string
	isBool             bool
}

func (f *keyFlag) String() string {
	if f == nil {
		return ""
	}
	return f.def
}

func (f *keyFlag) Set(v string) error {
	*f.list = append(*f.list, override{f.flag, f.section, f.key, v})
	return nil
}

func (f *keyFlag) IsBoolFlag() bool { return f.isBool }

// keyFlags defines the flags of flagKeys in fs and returns the list their
// values are recorded in.
func keyFlags(fs *flag.FlagSet) *overrides {
	list := new(overrides)
	d := defaultConfig()
	for _, k := range flagKeys {
		def := k.def(&d)
		_, isBool := def.(bool)
		shown := fmt.Sprint(def)
		if shown == "false" {
			shown = "" // not shown, like the flag package's own bools
		}
		fs.Var(&keyFlag{list: list, flag: k.flag, section: k.section, key: k.key, def: shown, isBool: isBool},
			k.flag, fmt.Sprintf("%s (overrides [%s] %s)", k.usage, k.section, k.key))
	}
	return list
}

// apply sets the keys of the flags in o, in command-line order, on c (which
// holds the defaults and the file). An error names the flag.
func (o *overrides) apply(c *config) error {
	for _, f := range *o {
		if err := c.set(f.section, f.key, f.value); err != nil {
			return fmt.Errorf("-%s: %v", f.flag, err)
		}
		if f.key == "pkts" && c.Particles < c.Pkts {
			// particles only exists for R2 compatibility.
			c.Particles = c.Pkts
		}
	}
	return nil
}

// driverSettings are the configuration values for drivers.
func (c *config) driverSettings() driver.Settings {
	s := driver.Settings{Ring: c.Ring, Frames: c.Frames, Blocks: c.RxBlocks,
		BlockSize: c.RxBlockKB << 10, BlockTimeout: c.RxTimeout, NoVnetHdr: !c.VnetHdr,
		NoKernelRxFilter: !c.KernelRx, RxQueues: c.RxQueues, XDPRxRings: c.XDPRxRings,
		LightGap:    time.Duration(c.LightGapUs) * time.Microsecond,
		XDPLightGap: time.Duration(c.XDPGapUs) * time.Microsecond, XDPNoSuperFrames: !c.XDPSuper,
		XDPMode: c.XDPMode}
	if c.VnetHdr && c.RxBlockKB < 128 {
		s.BlockSize = 128 << 10 // a v3 block must hold a super-frame
	}
	return s
}

// configError is a problem at a line of a configuration file.
type configError struct {
	File string
	Line int
	Msg  string
}

func (e *configError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// loadConfig reads the file at path into c. A missing file is an error
// only when required (it was named with -c).
func loadConfig(c *config, path string, required bool) error {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !required {
			return nil
		}
		return fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return parseConfig(c, path, f)
}

// stripComment cuts an end-of-line comment: # or ; after a space or tab.
// No value R2 reads (numbers, CPU lists, paths, host:port) contains one.
func stripComment(line string) string {
	for i := 1; i < len(line); i++ {
		if (line[i] == '#' || line[i] == ';') && (line[i-1] == ' ' || line[i-1] == '\t') {
			return line[:i]
		}
	}
	return line
}

// parseConfig reads INI text: [section] headers, key = value lines, # and ;
// comments, whole-line or after white space at the end of a line (as in
// README's example). Every unknown section or key and every bad value is an
// error naming the file and line; the first one stops parsing.
func parseConfig(c *config, file string, r io.Reader) error {
	sc := bufio.NewScanner(r)
	section := ""
	seen := map[string]int{}
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(stripComment(sc.Text()))
		if s == "" || s[0] == '#' || s[0] == ';' {
			continue
		}
		bad := func(format string, args ...any) error {
			return &configError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
		}
		if s[0] == '[' {
			if !strings.HasSuffix(s, "]") {
				return bad("section header %q lacks a closing ]", s)
			}
			section = strings.ToLower(strings.TrimSpace(s[1 : len(s)-1]))
			switch section {
			case "general", "api", "log", "afpacket", "afxdp":
			default:
				return bad("unknown section [%s] (known: [general], [api], [log], [afpacket], [afxdp])", section)
			}
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return bad("expected key = value, got %q", s)
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if section == "" {
			return bad("key %q is outside any section (put it under [general])", k)
		}
		full := section + "." + k
		if prev, dup := seen[full]; dup {
			return bad("%s set again (first set at line %d)", k, prev)
		}
		seen[full] = line
		if err := c.set(section, k, v); err != nil {
			return bad("[%s] %s: %v", section, k, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("config: %s: %w", file, err)
	}
	return nil
}

func (c *config) set(section, k, v string) error {
	num := func(dst *int, min, max int) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
		if n < min || n > max {
			return fmt.Errorf("%d is out of range %d..%d", n, min, max)
		}
		*dst = n
		return nil
	}
	cpuList := func(dst *[]int) error {
		cpus, err := parseCPUs(v)
		if err == nil {
			*dst = cpus
		}
		return err
	}
	boolean := func(dst *bool) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		*dst = b
		return nil
	}
	switch section + "." + k {
	case "general.threads":
		return num(&c.Threads, 1, 256)
	case "general.pkts":
		return num(&c.Pkts, 1024, 1<<20)
	case "general.particles":
		return num(&c.Particles, 1024, 1<<20)
	case "general.particle_sz":
		if err := num(&c.ParticleSz, 64, 65536); err != nil {
			return err
		}
		if c.ParticleSz != packet.BufSize {
			return fmt.Errorf("%d is not supported: packet buffers are %d bytes", c.ParticleSz, packet.BufSize)
		}
		return nil
	case "general.cpus":
		return cpuList(&c.CPUs)
	case "general.control_cpus":
		return cpuList(&c.ControlCPUs)
	case "general.busy_poll":
		return boolean(&c.BusyPoll)
	case "general.spin_us":
		return num(&c.SpinUs, 0, 100000)
	case "general.warm_ms":
		return num(&c.WarmMs, 0, 60000)
	case "general.warm_yield":
		return boolean(&c.WarmYield)
	case "general.warm_raw_wait":
		return boolean(&c.WarmRawWait)
	case "general.busy_yield":
		return boolean(&c.BusyYield)
	case "general.batch":
		return num(&c.Batch, 1, graph.VecSize)
	case "general.rt_priority":
		return num(&c.RTPriority, 0, 99)
	case "general.rx_shed_us":
		return num(&c.RxShedUs, 0, 10000000)
	case "general.rx_shed_interval_us":
		return num(&c.RxShedIvUs, 0, 10000000)
	case "general.gro":
		return boolean(&c.GRO)
	case "general.driver":
		if _, ok := driver.Lookup(v); !ok {
			return fmt.Errorf("%q is not a driver (%s)", v, strings.Join(driver.Names(), ", "))
		}
		c.Driver = v
		return nil
	case "api.socket":
		if !strings.HasPrefix(v, "/") {
			return fmt.Errorf("%q is not an absolute path", v)
		}
		c.Socket = v
		return nil
	case "api.listen":
		if v != "" {
			_, port, err := net.SplitHostPort(v)
			if err != nil {
				return fmt.Errorf("%q is not host:port", v)
			}
			if _, err := strconv.ParseUint(port, 10, 16); err != nil {
				return fmt.Errorf("%q: port %q is not a number from 0 to 65535", v, port)
			}
		}
		c.Listen = v
		return nil
	case "api.allow_remote":
		return boolean(&c.AllowRemote)
	case "log.entries":
		return num(&c.LogEntries, 16, 1<<20)
	case "afpacket.ring":
		if v != "v2" && v != "v3" {
			return fmt.Errorf("%q is not a ring version (v2: low latency, v3: blocks)", v)
		}
		c.Ring = v
		return nil
	case "afpacket.frames":
		c.FramesSet = true
		return num(&c.Frames, 64, 1<<20)
	case "afpacket.vnet_hdr":
		return boolean(&c.VnetHdr)
	case "afpacket.rx_queues":
		return num(&c.RxQueues, 1, afpacket.MaxRxQueues)
	case "afpacket.light_gap_us":
		return num(&c.LightGapUs, 0, int(afpacket.MaxLightGap/time.Microsecond))
	case "afxdp.light_gap_us":
		return num(&c.XDPGapUs, 0, int(afpacket.MaxLightGap/time.Microsecond))
	case "afxdp.super_frames":
		return boolean(&c.XDPSuper)
	case "afxdp.mode":
		if _, err := afxdp.ParseMode(v); err != nil {
			return fmt.Errorf("%q is not an AF_XDP mode (auto, zero-copy, copy or skb)", v)
		}
		c.XDPMode = v
		return nil
	case "afxdp.rx_rings":
		if err := num(&c.XDPRxRings, 1, afxdp.MaxRxRings); err != nil {
			return err
		}
		if c.XDPRxRings&(c.XDPRxRings-1) != 0 {
			return fmt.Errorf("%d is not a power of two", c.XDPRxRings)
		}
		return nil
	case "afpacket.kernel_rx_filter":
		return boolean(&c.KernelRx)
	case "afpacket.blocks":
		return num(&c.RxBlocks, 2, 4096)
	case "afpacket.block_kb":
		if err := num(&c.RxBlockKB, 4, 4096); err != nil {
			return err
		}
		if c.RxBlockKB&(c.RxBlockKB-1) != 0 {
			return fmt.Errorf("%d is not a power of two", c.RxBlockKB)
		}
		return nil
	case "afpacket.block_timeout":
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Millisecond || d > time.Second {
			return fmt.Errorf("%q is not a duration between 1ms and 1s", v)
		}
		c.RxTimeout = d
		return nil
	}
	return fmt.Errorf("unknown key")
}

// maxCPUs bounds CPU numbers and the length of a CPU list: it is what the
// affinity mask (unix.CPUSet) holds. Without a bound "0-2000000000" would
// allocate gigabytes before check() could refuse it.
const maxCPUs = 1024

// parseCPUs reads "0,2,4" or "2-5".
func parseCPUs(v string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 || a >= maxCPUs {
			return nil, fmt.Errorf("%q is not a CPU number (0 to %d)", lo, maxCPUs-1)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b >= maxCPUs {
				return nil, fmt.Errorf("%q is not a CPU range", part)
			}
		}
		if len(out)+b-a+1 > maxCPUs {
			return nil, fmt.Errorf("more than %d CPUs listed", maxCPUs)
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	return out, nil
}

// check validates the combined configuration.
func (c *config) check() error {
	if c.Particles < c.Pkts {
		return fmt.Errorf("config: particles (%d) must be at least pkts (%d): every packet needs one buffer", c.Particles, c.Pkts)
	}
	if c.CPUs != nil && len(c.CPUs) != c.Threads {
		return fmt.Errorf("config: %d cpus given for %d threads", len(c.CPUs), c.Threads)
	}
	if c.ControlCPUs != nil && c.CPUs == nil {
		return fmt.Errorf("config: control_cpus needs cpus: forwarding threads not pinned would run on the control CPUs")
	}
	return nil
}
