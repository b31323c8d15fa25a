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
}

// readNS reads the counters of ifname and the IP counters inside the named
// namespace ns ("" for the caller's), from /proc/thread-self/net on an OS
// thread switched into it (and back: the thread is released only if the
// switch back worked).
func readNS(ns, ifname string) (nsSnap, error) {
	type result struct {
		s   nsSnap
		err error
	}
	rc := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		var r result
		defer func() { rc <- r }()
		if ns != "" {
			orig, err := netns.Get()
			if err != nil {
				r.err = fmt.Errorf("netns: %w", err)
				runtime.UnlockOSThread()
				return
			}
			defer orig.Close()
			h, err := netns.GetFromName(ns)
			if err != nil {
				r.err = fmt.Errorf("netns %s: %w", ns, err)
				runtime.UnlockOSThread()
				return
			}
			defer h.Close()
			if err := netns.Set(h); err != nil {
				r.err = fmt.Errorf("enter netns %s: %w", ns, err)
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
		r.s, r.err = readProcNet("/proc/thread-self/net", ifname)
	}()
	r := <-rc
	return r.s, r.err
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
	ip, err := parseSNMP(snmp, "Ip")
	if err != nil {
		return s, err
	}
	v, ok := ip["InAddrErrors"]
	if !ok {
		return s, fmt.Errorf("/proc/net/snmp: no Ip InAddrErrors")
	}
	s.InAddrErrors = v
	return s, nil
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

// parseSNMP returns the counters of one protocol line pair ("Ip") of
// /proc/net/snmp text.
func parseSNMP(b []byte, proto string) (map[string]uint64, error) {
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		p, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || p != proto {
			continue
		}
		f := strings.Fields(rest)
		if names == nil {
			names = f
			continue
		}
		if len(f) != len(names) {
			return nil, fmt.Errorf("/proc/net/snmp: %s: %d names, %d values", proto, len(names), len(f))
		}
		m := make(map[string]uint64, len(f))
		for i, v := range f {
			// Forwarding and DefaultTTL are small; some fields may be
			// negative on odd kernels: skip what does not parse.
			if u, err := strconv.ParseUint(v, 10, 64); err == nil {
				m[names[i]] = u
			}
		}
		return m, nil
	}
	return nil, fmt.Errorf("/proc/net/snmp: no %s lines", proto)
}
