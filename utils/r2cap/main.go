// Command r2cap captures the packets R2 pushes to a graph node (every
// packet entering it) or along one edge (-from: only those pushed by that
// node), optionally only those a tcpdump filter expression matches, and
// writes them as pcap (-w FILE, or -w - for stdout) or one line each.
//
// Usage:
//
//	r2cap [-i NAME | -s PATH | -a HOST:PORT] [-from NODE] [-c COUNT] [-T SECONDS] [-snap BYTES] [-w FILE|-] NODE [FILTER ...]
//
// The forwarding threads copy matching packets into a ring per thread;
// r2cap reads them through the API every 50 ms, which also keeps the
// capture's lease: a killed r2cap's capture stops within the lease (5 s).
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/r2go/r2/apis/graphapi"
	"github.com/r2go/r2/utils/internal/client"
)

const help = `usage: r2cap [-i NAME | -s PATH | -a HOST:PORT] [-from NODE] [-c COUNT] [-T SECONDS] [-snap BYTES] [-w FILE|-] NODE [FILTER ...]

Capture the packets R2 pushes to graph node NODE (see r2graph for the names:
IfNode:veth0, EtherDecap:veth0, L3Parse, IPv4Fwd, EtherEncap:veth1, ...)
or, with -from, only those pushed along the edge from node -from to NODE.
NODE Drop is every dropped packet (-from IPv4Fwd: IPv4Fwd's drops).
FILTER is a tcpdump expression (compiled with tcpdump -dd; needs tcpdump)
run on the frame. Frames are written with their Ethernet header: the one
they arrived with until EtherEncap writes the outgoing one; packets made
at layer 3 (ICMP errors, echo replies) get a zero Ethernet header.

` + client.FlagsHelp + `
  -from NODE    capture only packets pushed by NODE to NODE (one edge)
  -c COUNT      stop after COUNT packets (default: until -T or interrupted)
  -T SECONDS    stop after SECONDS (default: until -c or interrupted)
  -snap BYTES   keep at most BYTES of each packet (default: all)
  -w FILE       write pcap (nanosecond time stamps, LINKTYPE_ETHERNET) to FILE;
                "-" is stdout: r2cap -w - L3Parse | tcpdump -n -r -
                without -w: one line per packet on stdout
  -ring KB      ring per forwarding thread (default 1024); a full ring loses
                packets (counted, reported at the end), never delays them
  -q            no summary on stderr at the end

Example: r2cap -c 20 -w ping.pcap EtherEncap:veth_r2_2 icmp
`

// pollEvery is how often the rings are read: at 1 Mpps a 1 MiB ring of
// small frames holds ~10 ms, so a flood loses packets; a ping does not.
const pollEvery = 50 * time.Millisecond

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := client.NewFlagSet("r2cap")
	var tgt client.Target
	tgt.AddFlags(fs)
	from := fs.String("from", "", "")
	count := fs.Int("c", 0, "")
	secs := fs.Float64("T", 0, "")
	snap := fs.Int("snap", 0, "")
	out := fs.String("w", "", "")
	ringKB := fs.Int("ring", 0, "")
	quiet := fs.Bool("q", false, "")
	pos, err := client.Parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, help)
		return client.ExitOK
	}
	if err != nil {
		return client.Usagef(stderr, "r2cap", "%v", err)
	}
	if len(pos) == 0 {
		return client.Usagef(stderr, "r2cap", "which node? (r2graph lists them)")
	}
	if *count < 0 || *secs < 0 || *snap < 0 || *ringKB < 0 {
		return client.Usagef(stderr, "r2cap", "-c, -T, -snap and -ring must not be negative")
	}
	if err := tgt.Check(); err != nil {
		return client.Usagef(stderr, "r2cap", "%v", err)
	}
	spec := &graphapi.CaptureSpec{Node: pos[0], FromNode: *from, Snap: int32(*snap), LeaseMs: 5000, RingKb: int32(*ringKB)}
	if expr := strings.Join(pos[1:], " "); expr != "" {
		if spec.Filter, err = compileFilter(expr); err != nil {
			fmt.Fprintf(stderr, "r2cap: %v\n", err)
			return client.ExitFail
		}
	}
	var sink func(*graphapi.Packet) error
	var flush func() error
	switch *out {
	case "":
		bw := bufio.NewWriter(stdout)
		sink = func(p *graphapi.Packet) error { _, err := fmt.Fprintln(bw, summary(p)); return err }
		flush = bw.Flush
	default:
		w := stdout
		if *out != "-" {
			f, err := os.Create(*out)
			if err != nil {
				fmt.Fprintf(stderr, "r2cap: %v\n", err)
				return client.ExitFail
			}
			defer f.Close()
			w = f
		}
		bw := bufio.NewWriterSize(w, 1<<16)
		pw, err := newPcapWriter(bw)
		if err != nil {
			fmt.Fprintf(stderr, "r2cap: %v\n", err)
			return client.ExitFail
		}
		sink = func(p *graphapi.Packet) error { return pw.write(time.Unix(0, p.TsNs), p.Data, int(p.OrigLen)) }
		flush = bw.Flush
	}

	c, err := client.Dial(tgt)
	if err != nil {
		fmt.Fprintf(stderr, "r2cap: %v\n", err)
		return client.ExitFail
	}
	defer c.Close()
	ctx := context.Background()
	h, err := c.Graph.CaptureStart(ctx, spec)
	if err != nil {
		return client.Fail(stderr, "r2cap", err)
	}
	if !*quiet {
		what := spec.Node
		if spec.FromNode != "" {
			what = spec.FromNode + " -> " + spec.Node
		}
		filter := ""
		if len(pos) > 1 {
			filter = ", filter: " + strings.Join(pos[1:], " ")
		}
		fmt.Fprintf(stderr, "r2cap: capturing packets pushed to %s%s\n", what, filter)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			c.Graph.CaptureStop(ctx, h)
		}
	}
	defer stop()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGPIPE)
	defer signal.Stop(sig)
	var deadline <-chan time.Time
	if *secs > 0 {
		deadline = time.After(time.Duration(*secs * float64(time.Second)))
	}
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	written := 0
	var matched, lost int64
	var ioErr error
	done := false
	// drain reads until the rings are empty (or COUNT is reached).
	drain := func() error {
		for {
			b, err := c.Graph.CaptureRead(ctx, h, 4096)
			if err != nil {
				return err
			}
			matched, lost = b.Matched, b.Lost
			for _, p := range b.Pkts {
				if *count > 0 && written >= *count {
					break
				}
				if ioErr = sink(p); ioErr != nil {
					return nil
				}
				written++
			}
			if ioErr == nil {
				ioErr = flush()
			}
			if len(b.Pkts) < 4096 || ioErr != nil || (*count > 0 && written >= *count) {
				return nil
			}
		}
	}
	for !done {
		select {
		case <-sig:
			done = true
		case <-deadline:
			done = true
		case <-tick.C:
		}
		if done {
			// The last packets: stop capturing, then empty the rings.
			if err := drain(); err != nil {
				return client.Fail(stderr, "r2cap", err)
			}
			break
		}
		if err := drain(); err != nil {
			return client.Fail(stderr, "r2cap", err)
		}
		if ioErr != nil || (*count > 0 && written >= *count) {
			done = true
		}
	}
	stop()
	if ioErr != nil && !errors.Is(ioErr, syscall.EPIPE) {
		fmt.Fprintf(stderr, "r2cap: %v\n", ioErr)
		return client.ExitFail
	}
	if !*quiet {
		fmt.Fprintf(stderr, "r2cap: %d packets written; %d matched, %d lost (ring full)\n", written, matched, lost)
	}
	return client.ExitOK
}

// summary describes a captured frame in one line, tcpdump-like.
func summary(p *graphapi.Packet) string {
	t := time.Unix(0, p.TsNs).Format("15:04:05.000000")
	d := p.Data
	head := fmt.Sprintf("%s t%d len %d", t, p.Thread, p.OrigLen)
	if len(d) < 14 {
		return head + " (short frame)"
	}
	et := binary.BigEndian.Uint16(d[12:])
	l3 := d[14:]
	switch {
	case et == 0x0806:
		return head + " ARP"
	case et == 0x0800 && len(l3) >= 20:
		src, dst := netip.AddrFrom4([4]byte(l3[12:16])), netip.AddrFrom4([4]byte(l3[16:20]))
		ihl := int(l3[0]&15) * 4
		l4 := l3[min(ihl, len(l3)):]
		switch l3[9] {
		case 1:
			if len(l4) >= 2 {
				return fmt.Sprintf("%s IP %s > %s ICMP type %d code %d ttl %d", head, src, dst, l4[0], l4[1], l3[8])
			}
		case 6, 17:
			proto := map[byte]string{6: "TCP", 17: "UDP"}[l3[9]]
			if len(l4) >= 4 {
				return fmt.Sprintf("%s IP %s.%d > %s.%d %s ttl %d", head, src, binary.BigEndian.Uint16(l4), dst, binary.BigEndian.Uint16(l4[2:]), proto, l3[8])
			}
		}
		return fmt.Sprintf("%s IP %s > %s proto %d ttl %d", head, src, dst, l3[9], l3[8])
	case et == 0x86dd && len(l3) >= 40:
		src, dst := netip.AddrFrom16([16]byte(l3[8:24])), netip.AddrFrom16([16]byte(l3[24:40]))
		return fmt.Sprintf("%s IP6 %s > %s next %d hlim %d", head, src, dst, l3[6], l3[7])
	}
	return fmt.Sprintf("%s ethertype 0x%04x", head, et)
}
