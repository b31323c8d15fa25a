//go:build linux

package daemon

import (
	"errors"
	"flag"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	gt "github.com/r2go/r2/r2/graph/graphtest"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz from the seeds built in the tests")

// formatConfig writes c back out in the INI form parseConfig reads, every
// field explicitly, except those whose zero value the parser cannot take
// (no CPU list, no socket path).
func formatConfig(c config) string {
	var b strings.Builder
	kv := func(k string, v any) { fmt.Fprintf(&b, "%s = %v\n", k, v) }
	b.WriteString("[general]\n")
	kv("threads", c.Threads)
	kv("pkts", c.Pkts)
	kv("particles", c.Particles)
	kv("particle_sz", c.ParticleSz)
	if c.CPUs != nil {
		cpus := make([]string, len(c.CPUs))
		for i, n := range c.CPUs {
			cpus[i] = strconv.Itoa(n)
		}
		kv("cpus", strings.Join(cpus, ","))
	}
	if c.ControlCPUs != nil {
		cpus := make([]string, len(c.ControlCPUs))
		for i, n := range c.ControlCPUs {
			cpus[i] = strconv.Itoa(n)
		}
		kv("control_cpus", strings.Join(cpus, ","))
	}
	kv("busy_poll", c.BusyPoll)
	kv("spin_us", c.SpinUs)
	kv("rt_priority", c.RTPriority)
	kv("warm_ms", c.WarmMs)
	kv("warm_yield", c.WarmYield)
	kv("warm_raw_wait", c.WarmRawWait)
	kv("busy_yield", c.BusyYield)
	kv("batch", c.Batch)
	kv("rx_shed_us", c.RxShedUs)
	kv("rx_shed_interval_us", c.RxShedIvUs)
	kv("gro", c.GRO)
	kv("driver", c.Driver)
	b.WriteString("\n[api]\n")
	if c.Socket != "" {
		kv("socket", c.Socket)
	}
	kv("listen", c.Listen)
	kv("allow_remote", c.AllowRemote)
	b.WriteString("\n[log]\n")
	kv("entries", c.LogEntries)
	b.WriteString("\n[afpacket]\n")
	kv("ring", c.Ring)
	if c.FramesSet { // frames left unset have a default that depends on vnet_hdr
		kv("frames", c.Frames)
	}
	kv("vnet_hdr", c.VnetHdr)
	kv("kernel_rx_filter", c.KernelRx)
	kv("blocks", c.RxBlocks)
	kv("block_kb", c.RxBlockKB)
	kv("block_timeout", c.RxTimeout)
	kv("rx_queues", c.RxQueues)
	kv("light_gap_us", c.LightGapUs)
	b.WriteString("\n[afxdp]\n")
	kv("rx_rings", c.XDPRxRings)
	kv("light_gap_us", c.XDPGapUs)
	kv("super_frames", c.XDPSuper)
	return b.String()
}

// configSeeds are the seed corpus of FuzzParseConfig.
func configSeeds() map[string]gt.Seed {
	return map[string]gt.Seed{
		"full": {`# R2 configuration
[general]
threads = 2
pkts=4096
particles = 8192
particle_sz = 2048
cpus = 0-1
busy_poll = true
spin_us = 50
rt_priority = 10
warm_ms = 1000
rx_shed_us = 2000
rx_shed_interval_us = 20000
gro = false
driver = afxdp

[api]
socket = /run/r2/x.sock
listen = 127.0.0.1:9090
allow_remote = false

[log]
entries = 1024

[afpacket]
ring = v3
frames = 1024
blocks = 32
block_kb = 128
block_timeout = 2ms
`},
		"defaults_formatted": {formatConfig(defaultConfig())},
		"empty":              {""},
		"comments":           {"; only\n# comments\n\n   \n"},
		"crlf":               {"[General]\r\nTHREADS = 3\r\ncpus = 4,5 , 6\r\n"},
		"cpus_list":          {"[general]\ncpus = 0,2,4-6,3\n"},
		"cpus_bad":           {"[general]\ncpus = 3-1\n"},
		"cpus_huge_range":    {"[general]\ncpus = 0-2000000000\n"},
		"duration":           {"[afpacket]\nblock_timeout = 1.5ms\n"},
		"listen_odd":         {"[api]\nlisten = [::1]:9 = x # not a comment\n"},
		"inline_comment":     {"[general]\nthreads = 2          # forwarding threads\n"},
		"duplicate":          {"[general]\nthreads=1\n[log]\n[general]\nThreads=2\n"},
		"no_section":         {"threads=1\n"},
		"bad_header":         {"[general\n"},
		"no_equals":          {"[api]\nsocket\n"},
		"unknown_key":        {"[afpacket]\nring=v2\nrings=2\n"},
	}
}

func TestFuzzParseConfigSeeds(t *testing.T) {
	gt.SyncSeeds(t, "FuzzParseConfig", configSeeds(), *updateSeeds)
}

// FuzzParseConfig parses arbitrary text as a configuration file. An
// accepted configuration must round-trip: written back out by formatConfig
// and parsed again it is the same, and formatting that gives the same text.
// A rejected one must be refused with a *configError naming the file and a
// line of the text, and every line before that one must parse (the parser
// stops at the first problem).
func FuzzParseConfig(f *testing.F) {
	// The seeds are in testdata/fuzz/FuzzParseConfig (TestFuzzParseConfigSeeds).
	f.Fuzz(func(t *testing.T, text string) {
		c := defaultConfig()
		err := parseConfig(&c, "fuzz.cfg", strings.NewReader(text))
		if err != nil {
			var ce *configError
			if !errors.As(err, &ce) {
				t.Fatalf("error %q is not a *configError", err)
			}
			lines := strings.SplitAfter(text, "\n")
			prefix := fmt.Sprintf("fuzz.cfg:%d: ", ce.Line)
			if ce.File != "fuzz.cfg" || ce.Line < 1 || ce.Line > len(lines) || ce.Msg == "" || !strings.HasPrefix(err.Error(), prefix) {
				t.Fatalf("error %q (line %d) for a text of %d lines", err, ce.Line, len(lines))
			}
			before := defaultConfig()
			if err := parseConfig(&before, "fuzz.cfg", strings.NewReader(strings.Join(lines[:ce.Line-1], ""))); err != nil {
				t.Fatalf("error %q, but the lines before it fail too: %v", ce, err)
			}
			return
		}
		out := formatConfig(c)
		c2 := defaultConfig()
		if err := parseConfig(&c2, "fuzz.cfg", strings.NewReader(out)); err != nil {
			t.Fatalf("accepted config written back out is refused: %v\n%s", err, out)
		}
		if diff := cmp.Diff(c, c2); diff != "" {
			t.Fatalf("config changed through formatConfig (-first +second):\n%s\n%s", diff, out)
		}
		if out2 := formatConfig(c2); out2 != out {
			t.Fatalf("formatting is not stable:\n%s\nthen\n%s", out, out2)
		}
	})
}

// TestParseCPUsBounded: a CPU list is bounded by maxCPUs before anything is
// allocated for it ("0-2000000000" used to allocate 16 GB).
func TestParseCPUsBounded(t *testing.T) {
	tests := []struct {
		name, v string
		n       int    // CPUs listed when accepted
		err     string // "" if accepted
	}{
		{name: "largest range", v: "0-1023", n: 1024},
		{name: "highest CPU", v: "1023", n: 1},
		{name: "CPU too high", v: "1024", err: `"1024" is not a CPU number`},
		{name: "range too high", v: "0-1024", err: `"0-1024" is not a CPU range`},
		{name: "huge range", v: "0-2000000000", err: "not a CPU range"},
		{name: "huge number", v: "99999999999999999999", err: "not a CPU number"},
		{name: "list too long", v: "0-1023,5", err: "more than 1024 CPUs listed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			cpus, err := parseCPUs(tt.v)
			runtime.ReadMemStats(&m1)
			switch {
			case tt.err == "" && (err != nil || len(cpus) != tt.n):
				t.Errorf("parseCPUs(%q) = %d CPUs, %v; want %d", tt.v, len(cpus), err, tt.n)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("parseCPUs(%q) error %v, want %q", tt.v, err, tt.err)
			}
			if a := m1.TotalAlloc - m0.TotalAlloc; a > 1<<20 {
				t.Errorf("parseCPUs(%q) allocated %d bytes", tt.v, a)
			}
		})
	}
}
