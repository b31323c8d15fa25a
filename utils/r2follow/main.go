// Command r2follow makes R2 follow the Linux kernel of the network
// namespace it runs in, so that any routing daemon that programs Linux
// (BIRD, FRR, a script with ip route) programs R2 too. R2 stays a pure
// forwarding plane configured through its API; r2follow is one more client.
//
//	r2follow -if 'veth*' [-table 254] [-i NAME]
//
// It subscribes to the kernel's link, address, route and neighbour
// notifications (netlink, large socket buffers), then dumps the kernel's
// state, attaches the interfaces whose names match -if, mirrors their
// addresses, loads the routes of the followed table in API batches,
// mirrors the kernel's neighbours on those interfaces (see Follower), and
// from then on sends R2 what changes, coalesced over -coalesce or
// -max-msgs notifications. A notification socket that overflows (ENOBUFS)
// or a lost connection to R2 (R2 restarted) leads to a resync: subscribe
// again, dump, and send R2 only the differences from what it has.
//
// SIGUSR1 writes the statistics as JSON (to -stats, or the log); SIGTERM
// and SIGINT stop it. R2 keeps what it was given.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/r2go/r2/utils/internal/client"
)

const prog = "r2follow"

const help = `usage: r2follow -if PATTERN[,PATTERN...] [flags]

Follow the kernel's links, addresses, routes and neighbours (IPv4 and
IPv6) of this network namespace into R2. The kernel's neighbours with a
link-layer address on the followed interfaces become R2 neighbours of kind
"kernel" (r2intf neigh show); gateways without one are asked for.

Flags:
  -if PATTERNS    interfaces to attach: names or globs, comma-separated ('veth*,eth1')
  -table N        kernel routing table to follow (default 254, main)
  -host-owned     attach in host-owned-addresses mode: Linux answers ARP, NDP
                  and traffic to the addresses, R2 forwards (default true)
  -batch N        most routes per API call (default 4096)
  -coalesce D     gather changes this long before sending them (default 50ms)
  -max-msgs N     ... or until this many notifications (default 2048)
  -rcvbuf BYTES   netlink socket receive buffer (default 134217728)
  -stats PATH     where SIGUSR1 writes the statistics (default: the log)
  -stats-every D  log the statistics this often when they change (default 10s; 0 never)
` + client.FlagsHelp + "\n"

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

type options struct {
	target     client.Target
	patterns   []string
	table      int
	hostOwned  bool
	batch      int
	coalesce   time.Duration
	maxMsgs    int
	rcvbuf     int
	statsPath  string
	statsEvery time.Duration
}

func parse(args []string, stderr io.Writer) (options, int) {
	var o options
	fs := client.NewFlagSet(prog)
	o.target.AddFlags(fs)
	ifs := fs.String("if", "", "")
	fs.IntVar(&o.table, "table", tableMain, "")
	fs.BoolVar(&o.hostOwned, "host-owned", true, "")
	fs.IntVar(&o.batch, "batch", DefaultBatch, "")
	fs.DurationVar(&o.coalesce, "coalesce", 50*time.Millisecond, "")
	fs.IntVar(&o.maxMsgs, "max-msgs", 2048, "")
	fs.IntVar(&o.rcvbuf, "rcvbuf", 128<<20, "")
	fs.StringVar(&o.statsPath, "stats", "", "")
	fs.DurationVar(&o.statsEvery, "stats-every", 10*time.Second, "")
	pos, err := client.Parse(fs, args)
	if err == flag.ErrHelp {
		fmt.Fprint(stderr, help)
		return o, client.ExitOK
	}
	switch {
	case err != nil:
		return o, client.Usagef(stderr, prog, "%v", err)
	case len(pos) > 0:
		return o, client.Usagef(stderr, prog, "unexpected argument %q", pos[0])
	case *ifs == "":
		return o, client.Usagef(stderr, prog, "-if is required (interfaces to attach, e.g. -if 'veth*')")
	case o.table <= 0 || o.table == tableLocal:
		return o, client.Usagef(stderr, prog, "-table %d: want a table other than local (255)", o.table)
	case o.batch < 1 || o.maxMsgs < 1 || o.coalesce <= 0:
		return o, client.Usagef(stderr, prog, "-batch, -max-msgs and -coalesce must be positive")
	}
	if err := o.target.Check(); err != nil {
		return o, client.Usagef(stderr, prog, "%v", err)
	}
	for _, p := range strings.Split(*ifs, ",") {
		if p = strings.TrimSpace(p); p != "" {
			o.patterns = append(o.patterns, p)
		}
	}
	return o, -1
}

func run(args []string, stderr io.Writer) int {
	o, code := parse(args, stderr)
	if code >= 0 {
		return code
	}
	lg := log.New(stderr, prog+": ", log.LstdFlags|log.Lmicroseconds)
	d := &daemon{o: o, logf: lg.Printf}
	d.f = NewFollower(Config{Patterns: o.patterns, Table: o.table, HostOwned: o.hostOwned, Batch: o.batch,
		Logf: lg.Printf, Resolve: resolveGw, ResolveNeigh: resolveNeigh})
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	d.sigs = sigs
	return d.loop()
}

// daemon is r2follow's main loop: the follower, its kernel source and its
// connection to R2.
type daemon struct {
	o    options
	f    *Follower
	src  *source
	r2   R2
	logf func(string, ...any)
	sigs chan os.Signal
	stop bool

	// What flushes sent since the last summary line (one a second at most).
	lastLog          time.Time
	logAdd, logDel   uint64
	logBatch, logFls uint64
}

// summary logs what was sent to R2 since the last summary, at most once a
// second.
func (d *daemon) summary(force bool) {
	s := &d.f.Stats
	if s.Added == d.logAdd && s.Deleted == d.logDel || !force && time.Since(d.lastLog) < time.Second {
		return
	}
	d.logf("sent R2 %d route additions/replacements and %d deletions in %d batches, %d flushes (last lag %.1f ms); R2 has %d followed routes, %d refused",
		s.Added-d.logAdd, s.Deleted-d.logDel, s.Batches-d.logBatch, s.Flushes-d.logFls, s.LastLagMs, s.RoutesR2, s.Refused)
	d.logAdd, d.logDel, d.logBatch, d.logFls = s.Added, s.Deleted, s.Batches, s.Flushes
	d.lastLog = time.Now()
}

// resync subscribes again, dumps the kernel and makes it the follower's
// view; the next flush sends R2 the differences.
func (d *daemon) resync(why string) error {
	start := time.Now()
	if d.src != nil {
		d.src.Close()
		d.src = nil
	}
	src, err := openSource(d.o.rcvbuf)
	if err != nil {
		return err
	}
	dp, err := dump(d.o.table)
	if err != nil {
		src.Close()
		return err
	}
	d.src = src
	d.f.Replace(dp)
	d.logf("resync (%s): kernel has %d links, %d addresses, %d routes in table %d (dump %.2fs)",
		why, len(dp.Links), len(dp.Addrs), len(dp.Routes), d.o.table, time.Since(start).Seconds())
	return nil
}

// connect dials R2 until it answers (or a signal stops it) and reads back
// what R2 has.
func (d *daemon) connect() bool {
	backoff := 100 * time.Millisecond
	for first := true; ; first = false {
		if !first {
			select {
			case s := <-d.sigs:
				if d.signal(s) {
					return false
				}
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
		}
		c, err := client.Dial(d.o.target)
		if err != nil {
			if first {
				d.logf("%v; retrying", err)
			}
			continue
		}
		r2 := thriftR2{c}
		if err := d.f.Connect(r2); err != nil {
			d.logf("%v; retrying", err)
			c.Close()
			continue
		}
		d.r2 = r2
		d.f.Stats.Reconnects++
		return true
	}
}

// flush sends R2 the pending changes; on a connection failure it
// reconnects, reads R2's state back and sends the differences.
func (d *daemon) flush() bool {
	for {
		if d.r2 == nil && !d.connect() {
			return false
		}
		err := d.f.Flush()
		if err == nil {
			d.summary(false)
			return true
		}
		d.logf("R2 connection failed: %s; reconnecting and resyncing", client.Message(err))
		d.r2.Close()
		d.r2 = nil
	}
}

// signal handles one signal and reports whether to stop.
func (d *daemon) signal(s os.Signal) bool {
	if s == syscall.SIGUSR1 {
		d.writeStats()
		return false
	}
	d.summary(true)
	d.logf("%v: stopping (R2 keeps its configuration)", s)
	d.stop = true
	return true
}

func (d *daemon) writeStats() {
	b, _ := json.Marshal(d.f.Stats)
	if d.o.statsPath == "" {
		d.logf("stats %s", b)
		return
	}
	tmp := d.o.statsPath + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		d.logf("stats: %v", err)
		return
	}
	if err := os.Rename(tmp, d.o.statsPath); err != nil {
		d.logf("stats: %v", err)
	}
}

func (d *daemon) loop() int {
	defer func() {
		if d.src != nil {
			d.src.Close()
		}
		if d.r2 != nil {
			d.r2.Close()
		}
	}()
	if err := d.resync("start"); err != nil {
		d.logf("%v", err)
		return client.ExitFail
	}
	if !d.flush() {
		return client.ExitOK
	}
	d.logf("following: %d routes in R2, %d refused (reasons in the statistics)", d.f.Stats.RoutesR2, d.f.Stats.Refused)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	msgs := 0
	health := time.NewTicker(time.Second)
	defer health.Stop()
	var statsC <-chan time.Time
	if d.o.statsEvery > 0 {
		t := time.NewTicker(d.o.statsEvery)
		defer t.Stop()
		statsC = t.C
	}
	lastFlushes := d.f.Stats.Flushes
	flushNow := func() bool {
		if armed {
			timer.Stop()
			armed = false
		}
		msgs = 0
		return d.flush()
	}
	for !d.stop {
		select {
		case ev := <-d.src.Events:
			d.f.Apply(ev)
			msgs++
			if msgs >= d.o.maxMsgs {
				if !flushNow() {
					return client.ExitOK
				}
			} else if !armed && d.f.Pending() {
				timer.Reset(d.o.coalesce)
				armed = true
			}
		case <-timer.C:
			armed = false
			if !flushNow() {
				return client.ExitOK
			}
		case <-d.src.Lost:
			d.f.Stats.Overflows++
			d.logf("kernel notifications lost (%v): resyncing", d.src.Err)
			if err := d.resync("netlink overflow"); err != nil {
				d.logf("%v", err)
				return client.ExitFail
			}
			if !flushNow() {
				return client.ExitOK
			}
			d.logf("resynced: %d routes sent (only the differences) in %.3fs", d.f.Stats.LastResyncOps, d.f.Stats.LastResyncSec)
		case <-health.C:
			d.f.ResolveGateways(time.Now())
			if d.r2 != nil {
				if ifs, err := d.r2.Interfaces(); err != nil {
					d.logf("R2 does not answer (%s): reconnecting and resyncing", client.Message(err))
					d.r2.Close()
					d.r2 = nil
					d.f.touch()
					if !flushNow() {
						return client.ExitOK
					}
				} else if d.f.LostInterfaces(ifs) {
					d.logf("R2 lost followed interfaces (restarted?): resyncing")
					if err := d.f.Connect(d.r2); err == nil && !flushNow() {
						return client.ExitOK
					}
				}
			}
		case <-statsC:
			d.summary(true)
			if d.f.Stats.Flushes != lastFlushes {
				lastFlushes = d.f.Stats.Flushes
				b, _ := json.Marshal(d.f.Stats)
				d.logf("stats %s", b)
			}
		case s := <-d.sigs:
			if d.signal(s) {
				return client.ExitOK
			}
		}
	}
	return client.ExitOK
}
