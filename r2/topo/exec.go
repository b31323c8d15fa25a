//go:build linux

package topo

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Exec returns a command that runs name with args in namespace ns ("" runs
// it in the caller's namespace; otherwise through `ip netns exec`, which also
// mounts a matching /sys). ns may be any named namespace, not only the
// topology's. The caller runs the command (Run, Output, Start ...).
func (t *Topology) Exec(ns string, name string, args ...string) *exec.Cmd {
	return nsCommand(context.Background(), ns, name, args...)
}

// SteerRx steers the receive work of interface ifname in namespace ns to
// the CPUs of mask (RPS: hex, as queues/rx-0/rps_cpus takes it; "0" turns it
// off). A veth delivers into the backlog of the CPU that sends, so a host's
// stack otherwise runs on whichever CPU sent it the frame.
func (t *Topology) SteerRx(ns, ifname, mask string) error {
	if _, err := strconv.ParseUint(mask, 16, 64); err != nil {
		return fmt.Errorf("RPS mask %q: want a CPU mask in hex", mask)
	}
	// In ns through Exec: `ip netns exec` mounts the namespace's own
	// sysfs, where its interfaces are.
	c := t.Exec(ns, "tee", "/sys/class/net/"+ifname+"/queues/rx-0/rps_cpus")
	c.Stdin = strings.NewReader(mask + "\n")
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("RPS on %s in %q: %v: %s", ifname, ns, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// nsCommand is Exec with a context.
func nsCommand(ctx context.Context, ns string, name string, args ...string) *exec.Cmd {
	if ns == "" {
		return exec.CommandContext(ctx, name, args...)
	}
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// PingResult is what one run of ping(8) reported.
type PingResult struct {
	// Transmitted and Received count echo requests sent and (distinct)
	// replies received; Duplicates and Errors are ping's "+N duplicates"
	// and "+N errors" (ICMP errors such as host unreachable).
	Transmitted, Received, Duplicates, Errors int
	// Loss is the packet loss in percent, as ping printed it.
	Loss float64
	// Min, Avg, Max and Mdev are ping's rtt summary; zero when nothing was
	// received.
	Min, Avg, Max, Mdev time.Duration
	// RTTs holds the round-trip time of each non-duplicate reply, in
	// arrival order.
	RTTs []time.Duration
	// Output is ping's complete output, for logs.
	Output string
}

// Percentile returns the p-th percentile (0 < p <= 100) of r.RTTs by the
// nearest-rank method: Percentile(50) is the median, Percentile(99) the p99.
// It returns 0 when there are no RTTs.
func (r PingResult) Percentile(p float64) time.Duration {
	if len(r.RTTs) == 0 {
		return 0
	}
	s := slices.Clone(r.RTTs)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	rank = max(1, min(rank, len(s)))
	return s[rank-1]
}

// pingReplyWait is ping's -W: how long it waits for a reply when none has
// come. One second is generous on veth links and keeps a ping that is meant
// to fail quick.
const pingReplyWait = 1

// Ping runs `ping -n -c count -i interval -W 1 dst` in namespace fromNS and
// parses its report. interval 0 means ping's default (1 s). Packet loss,
// even total, is reported in the result and is not an error; the error is
// for a ping that did not run or did not print its statistics (for example
// "Network is unreachable").
func (t *Topology) Ping(fromNS, dst string, count int, interval time.Duration) (PingResult, error) {
	if count < 1 {
		return PingResult{}, fmt.Errorf("ping: count %d < 1", count)
	}
	args := []string{"-n", "-c", strconv.Itoa(count), "-W", strconv.Itoa(pingReplyWait)}
	if interval > 0 {
		args = append(args, "-i", strconv.FormatFloat(interval.Seconds(), 'f', -1, 64))
	} else {
		interval = time.Second
	}
	args = append(args, dst)
	limit := pingLimit(count, interval)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := nsCommand(ctx, fromNS, "ping", args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, runErr := cmd.CombinedOutput()
	res, err := parsePing(string(out))
	if err != nil {
		if runErr != nil {
			err = fmt.Errorf("%w (%v)", err, runErr)
		}
		return res, fmt.Errorf("ping %s from %q: %w", dst, fromNS, err)
	}
	return res, nil
}

// pingLimit is how long Ping lets ping run before killing it: a safety net
// only, ping ends on its own after count sends and pingReplyWait. Twice the
// nominal count*interval, because a busy machine stretches ping's interval
// (2,000 pings 10 ms apart beside a 64-byte flood took 30 s, not 20:
// killed, the run lost every sample).
func pingLimit(count int, interval time.Duration) time.Duration {
	return 2*time.Duration(count)*interval + pingReplyWait*time.Second + 10*time.Second
}

var (
	pingReplyRE = regexp.MustCompile(`(?m)^\d+ bytes from .*icmp_seq=\d+.* time[=<]([0-9.]+) ms( \(DUP!\))?`)
	pingStatsRE = regexp.MustCompile(`(?m)^(\d+) packets transmitted, (\d+) (?:packets )?received(.*)$`)
	pingDupRE   = regexp.MustCompile(`\+(\d+) duplicates`)
	pingErrRE   = regexp.MustCompile(`\+(\d+) errors`)
	pingLossRE  = regexp.MustCompile(`([0-9.]+)% packet loss`)
	pingRTTRE   = regexp.MustCompile(`(?m)^(?:rtt|round-trip) min/avg/max/(?:mdev|stddev) = ([0-9.]+)/([0-9.]+)/([0-9.]+)/([0-9.]+) ms`)
)

// parsePing parses the output of iputils ping.
func parsePing(out string) (PingResult, error) {
	r := PingResult{Output: out}
	for _, m := range pingReplyRE.FindAllStringSubmatch(out, -1) {
		if m[2] != "" {
			continue // duplicate, counted from the summary
		}
		d, err := msDuration(m[1])
		if err != nil {
			return r, err
		}
		r.RTTs = append(r.RTTs, d)
	}
	m := pingStatsRE.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no statistics in ping output %q", strings.TrimSpace(out))
	}
	r.Transmitted, _ = strconv.Atoi(m[1])
	r.Received, _ = strconv.Atoi(m[2])
	rest := m[3]
	if d := pingDupRE.FindStringSubmatch(rest); d != nil {
		r.Duplicates, _ = strconv.Atoi(d[1])
	}
	if e := pingErrRE.FindStringSubmatch(rest); e != nil {
		r.Errors, _ = strconv.Atoi(e[1])
	}
	l := pingLossRE.FindStringSubmatch(rest)
	if l == nil {
		return r, fmt.Errorf("no packet loss in ping statistics %q", m[0])
	}
	var err error
	if r.Loss, err = strconv.ParseFloat(l[1], 64); err != nil {
		return r, fmt.Errorf("packet loss %q: %w", l[1], err)
	}
	if s := pingRTTRE.FindStringSubmatch(out); s != nil {
		for i, dst := range []*time.Duration{&r.Min, &r.Avg, &r.Max, &r.Mdev} {
			if *dst, err = msDuration(s[i+1]); err != nil {
				return r, err
			}
		}
	}
	return r, nil
}

// msDuration converts ping's milliseconds ("0.054") to a Duration.
func msDuration(s string) (time.Duration, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("ping time %q: %w", s, err)
	}
	return time.Duration(math.Round(f * float64(time.Millisecond))), nil
}
