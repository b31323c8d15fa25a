//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netns"

	"github.com/r2go/r2/r2/procnet"
)

// ifStats are the counters of one interface, as /proc/net/dev shows them.
type ifStats struct {
	RxPackets, RxDropped, TxPackets, TxDropped uint64
	RxBytes, TxBytes                           uint64
}

// nsSnap is a snapshot of an interface's counters and the namespace's IP
// counters, taken at one moment.
type nsSnap struct {
	At time.Time
	If ifStats
	// InAddrErrors is the IP InAddrErrors counter: datagrams for an
	// address that is not local and that the host, not forwarding,
	// dropped. The benchmark's UDP frames go to such an address in h2.
	InAddrErrors uint64
	// InAddrErrors6 is the same for IPv6 (Ip6InAddrErrors of
	// /proc/net/snmp6): IPv6 datagrams that h2 would have to forward and,
	// with IPv6 forwarding off, drops.
	InAddrErrors6 uint64
	// Sunk is what h2's sink dropped (0 without one): the floods' frames
	// that would otherwise be InAddrErrors or InAddrErrors6.
	Sunk uint64
	// Echo counters of /proc/net/snmp's Icmp lines: where a ping was lost
	// (h1's OutEchos against h2's InEchos, h2's OutEchoReps against h1's
	// InEchoReps).
	OutEchos, InEchos, OutEchoReps, InEchoReps uint64
}

// readNS reads the counters of ifname and the IP counters inside the named
// namespace ns ("" for the caller's), from /proc/thread-self/net.
func readNS(ns, ifname string) (nsSnap, error) {
	var s nsSnap
	err := inNS(ns, func() error {
		var err error
		s, err = readProcNet("/proc/thread-self/net", ifname)
		return err
	})
	return s, err
}

// inNS runs f on an OS thread switched into the named namespace ns (""
// for the caller's) and back: the thread is released only if the switch
// back worked. /proc/thread-self/net and /proc/sys/net resolve to the
// namespace of that thread.
func inNS(ns string, f func() error) error {
	rc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		var err error
		defer func() { rc <- err }()
		if ns != "" {
			orig, oerr := netns.Get()
			if oerr != nil {
				err = fmt.Errorf("netns: %w", oerr)
				runtime.UnlockOSThread()
				return
			}
			defer orig.Close()
			h, herr := netns.GetFromName(ns)
			if herr != nil {
				err = fmt.Errorf("netns %s: %w", ns, herr)
				runtime.UnlockOSThread()
				return
			}
			defer h.Close()
			if serr := netns.Set(h); serr != nil {
				err = fmt.Errorf("enter netns %s: %w", ns, serr)
				if netns.Set(orig) == nil {
					runtime.UnlockOSThread()
				}
				return
			}
			defer func() {
				if netns.Set(orig) == nil {
					runtime.UnlockOSThread()
				}
				// Otherwise the thread stays locked and dies with
				// this goroutine.
			}()
		}
		err = f()
	}()
	return <-rc
}

// readProcNet reads dir/dev for ifname and dir/snmp.
func readProcNet(dir, ifname string) (nsSnap, error) {
	s := nsSnap{At: time.Now()}
	dev, err := os.ReadFile(dir + "/dev")
	if err != nil {
		return s, err
	}
	snmp, err := os.ReadFile(dir + "/snmp")
	if err != nil {
		return s, err
	}
	if s.If, err = parseNetDev(dev, ifname); err != nil {
		return s, err
	}
	ip, err := procnet.ParseSNMP(snmp, "Ip")
	if err != nil {
		return s, err
	}
	v, ok := ip["InAddrErrors"]
	if !ok {
		return s, fmt.Errorf("/proc/net/snmp: no Ip InAddrErrors")
	}
	s.InAddrErrors = v
	if icmp, err := procnet.ParseSNMP(snmp, "Icmp"); err == nil {
		s.OutEchos, s.InEchos = icmp["OutEchos"], icmp["InEchos"]
		s.OutEchoReps, s.InEchoReps = icmp["OutEchoReps"], icmp["InEchoReps"]
	}
	// snmp6 exists whenever the kernel has IPv6, even with IPv6 disabled
	// in the namespace; without it there is no IPv6 traffic to count.
	if b, err := os.ReadFile(dir + "/snmp6"); err == nil {
		s.InAddrErrors6 = parseSNMP6(b)["Ip6InAddrErrors"]
	}
	return s, nil
}

// parseSNMP6 parses /proc/net/snmp6 text: one "name value" pair a line.
func parseSNMP6(b []byte) map[string]uint64 {
	m := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		if v, err := strconv.ParseUint(f[1], 10, 64); err == nil {
			m[f[0]] = v
		}
	}
	return m
}

// parseNetDev finds ifname in /proc/net/dev text.
func parseNetDev(b []byte, ifname string) (ifStats, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) != ifname {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 16 {
			return ifStats{}, fmt.Errorf("/proc/net/dev: short line for %s", ifname)
		}
		n := make([]uint64, 16)
		for i := range n {
			v, err := strconv.ParseUint(f[i], 10, 64)
			if err != nil {
				return ifStats{}, fmt.Errorf("/proc/net/dev: %s: %w", ifname, err)
			}
			n[i] = v
		}
		// rx: bytes packets errs drop fifo frame compressed multicast;
		// tx: bytes packets errs drop fifo colls carrier compressed.
		return ifStats{RxBytes: n[0], RxPackets: n[1], RxDropped: n[3], TxBytes: n[8], TxPackets: n[9], TxDropped: n[11]}, nil
	}
	return ifStats{}, fmt.Errorf("/proc/net/dev: no interface %s", ifname)
}

// softnetDrops sums the "dropped" column of /proc/net/softnet_stat over the
// CPUs: frames a CPU's input backlog (netdev_max_backlog) had no room for,
// veth deliveries among them. The file is not per namespace.
func softnetDrops() (uint64, error) {
	b, err := os.ReadFile("/proc/net/softnet_stat")
	if err != nil {
		return 0, err
	}
	return parseSoftnetDrops(b)
}

// parseSoftnetDrops parses softnet_stat text: one line per CPU of
// hexadecimal columns, the second being the drops.
func parseSoftnetDrops(b []byte) (uint64, error) {
	var sum uint64
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			return 0, fmt.Errorf("/proc/net/softnet_stat: short line %q", l)
		}
		v, err := strconv.ParseUint(f[1], 16, 32)
		if err != nil {
			return 0, fmt.Errorf("/proc/net/softnet_stat: %w", err)
		}
		sum += v
	}
	return sum, nil
}
