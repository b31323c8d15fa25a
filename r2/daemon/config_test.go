//go:build linux

package daemon

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseConfig(t *testing.T) {
	good := `# R2 configuration
[general]
threads = 2
pkts=4096
particles = 8192
particle_sz = 2048
cpus = 0-1
busy_poll = true
spin_us = 50

[api]
socket = /run/r2/x.sock
listen = 127.0.0.1:9090

[log]
entries = 1024

[afpacket]
ring = v3
frames = 1024
blocks = 32
block_kb = 128
block_timeout = 2ms

[afxdp]
rx_rings = 4
`
	c := defaultConfig()
	if s := c.driverSettings(); s.XDPRxRings != 2 || s.RxQueues != 4 || s.Frames != 4096 || s.LightGap != 2*time.Millisecond || s.XDPLightGap != 2*time.Millisecond {
		t.Errorf("default receive rings: AF_XDP %d, AF_PACKET %d of %d frames in all, light gap %v; want 2, and 4 of 4096, 2ms", s.XDPRxRings, s.RxQueues, s.Frames, s.LightGap)
	}
	if err := parseConfig(&c, "r2.cfg", strings.NewReader(good)); err != nil {
		t.Fatal(err)
	}
	if c.Threads != 2 || c.SpinUs != 50 || c.Pkts != 4096 || c.Particles != 8192 || len(c.CPUs) != 2 || !c.BusyPoll ||
		c.Socket != "/run/r2/x.sock" || c.Listen != "127.0.0.1:9090" || c.LogEntries != 1024 ||
		c.RxBlocks != 32 || c.RxBlockKB != 128 || c.RxTimeout != 2*time.Millisecond || c.driverSettings().XDPRxRings != 4 {
		t.Fatalf("parsed %+v", c)
	}
	if err := c.check(); err != nil {
		t.Fatal(err)
	}

	bad := []struct {
		name, text, want string
	}{
		{"unknown key", "[general]\nthreads=1\nfoo=2\n", "r2.cfg:3: [general] foo: unknown key"},
		{"unknown section", "[nope]\n", "r2.cfg:1: unknown section [nope]"},
		{"not a number", "[general]\nthreads=two\n", `r2.cfg:2: [general] threads: "two" is not a number`},
		{"out of range", "[general]\nthreads=0\n", "r2.cfg:2: [general] threads: 0 is out of range 1..256"},
		{"particle size", "[general]\nparticle_sz=1024\n", "r2.cfg:2: [general] particle_sz: 1024 is not supported"},
		{"no section", "threads=1\n", "r2.cfg:1: key \"threads\" is outside any section"},
		{"no equals", "[general]\nthreads\n", "r2.cfg:2: expected key = value"},
		{"duplicate", "[general]\nthreads=1\nthreads=2\n", "r2.cfg:3: threads set again (first set at line 2)"},
		{"bad bool", "[general]\nbusy_poll=maybe\n", `r2.cfg:2: [general] busy_poll: "maybe" is not true or false`},
		{"bad spin", "[general]\nspin_us=-1\n", "r2.cfg:2: [general] spin_us: -1 is out of range"},
		{"bad cpus", "[general]\ncpus=3-1\n", "r2.cfg:2: [general] cpus:"},
		{"bad header", "[general\n", "r2.cfg:1: section header"},
		{"relative socket", "[api]\nsocket=x.sock\n", "r2.cfg:2: [api] socket:"},
		{"block not pow2", "[afpacket]\nblock_kb=96\n", "not a power of two"},
		{"bad driver", "[general]\ndriver=dpdk\n", `"dpdk" is not a driver (afpacket, afxdp)`},
		{"bad ring", "[afpacket]\nring=v4\n", `"v4" is not a ring version`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			c := defaultConfig()
			err := parseConfig(&c, "r2.cfg", strings.NewReader(tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
	c = defaultConfig()
	c.Pkts, c.Particles = 8192, 4096
	if err := c.check(); err == nil {
		t.Fatal("particles < pkts accepted")
	}
}

func TestConfigFileMissing(t *testing.T) {
	c := defaultConfig()
	missing := filepath.Join(t.TempDir(), "none.cfg")
	if err := loadConfig(&c, missing, false); err != nil {
		t.Fatalf("default path missing: %v", err)
	}
	if err := loadConfig(&c, missing, true); err == nil {
		t.Fatal("explicit missing file accepted")
	}
}

// Bad command lines print usage and exit 2 before touching anything.
func TestBadCommandLines(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "bad.cfg")
	os.WriteFile(cfg, []byte("[general]\nthreads = lots\n"), 0o644)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-nope"}, "usage: r2"},
		{"extra argument", []string{"start"}, `unexpected argument "start"`},
		{"bad threads", []string{"-c", "/dev/null", "-threads", "0"}, "r2: -threads: 0 is out of range 1..256"},
		{"bad cpus", []string{"-c", "/dev/null", "-cpus", "x"}, "-cpus"},
		{"cpus count", []string{"-c", "/dev/null", "-threads", "2", "-cpus", "0"}, "1 cpus given for 2 threads"},
		{"control cpus alone", []string{"-c", "/dev/null", "-control-cpus", "0"}, "control_cpus needs cpus"},
		{"bad instance", []string{"-c", "/dev/null", "-i", "../x"}, "-i"},
		{"bad config", []string{"-c", cfg}, cfg + ":2:"},
		{"missing config", []string{"-c", cfg + ".none"}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errb bytes.Buffer
			if code := Run(tt.args, &errb, nil); code != 2 {
				t.Fatalf("exit %d, want 2; stderr:\n%s", code, errb.String())
			}
			if !strings.Contains(errb.String(), tt.want) {
				t.Fatalf("stderr lacks %q:\n%s", tt.want, errb.String())
			}
		})
	}
	var out bytes.Buffer
	if code := Run([]string{"-h"}, &out, nil); code != 0 || !strings.Contains(out.String(), "-threads") {
		t.Fatalf("-h: exit %d\n%s", code, out.String())
	}
}

// Every flag that overrides a key is checked by the key's setter: a bad
// value exits 2 with a message naming the flag, and reads as the same
// value in the file does.
func TestBadFlagValues(t *testing.T) {
	tests := []struct {
		flag, value string
		want        string // the error after "-flag: " and "[section] key: "
	}{
		{"threads", "0", "0 is out of range 1..256"},
		{"threads", "257", "257 is out of range 1..256"},
		{"threads", "two", `"two" is not a number`},
		{"pkts", "100", "100 is out of range 1024..1048576"},
		{"pkts", "lots", `"lots" is not a number`},
		{"cpus", "x", `"x" is not a CPU number`},
		{"cpus", "3-1", `"3-1" is not a CPU range`},
		{"control-cpus", "x", `"x" is not a CPU number`},
		{"control-cpus", "2-1", `"2-1" is not a CPU range`},
		{"busy-poll", "maybe", `"maybe" is not true or false`},
		{"spin", "-1", "-1 is out of range 0..100000"},
		{"spin", "100001", "100001 is out of range 0..100000"},
		{"rx-shed", "-1", "-1 is out of range 0..10000000"},
		{"rt-priority", "100", "100 is out of range 0..99"},
		{"warm", "60001", "60001 is out of range 0..60000"},
		{"warm", "-1", "-1 is out of range 0..60000"},
		{"warm-yield", "sometimes", `"sometimes" is not true or false`},
		{"warm-raw-wait", "raw", `"raw" is not true or false`},
		{"busy-yield", "2", `"2" is not true or false`},
		{"batch", "0", "0 is out of range 1..256"},
		{"batch", "257", "257 is out of range 1..256"},
		{"rt-priority", "fifo", `"fifo" is not a number`},
		{"rx-shed-interval", "10000001", "10000001 is out of range 0..10000000"},
		{"rx-shed-interval", "soon", `"soon" is not a number`},
		{"driver", "dpdk", `"dpdk" is not a driver (afpacket, afxdp)`},
		{"socket", "x.sock", `"x.sock" is not an absolute path`},
		{"listen", "localhost", `"localhost" is not host:port`},
		{"listen", "127.0.0.1:http", `"127.0.0.1:http": port "http" is not a number from 0 to 65535`},
		{"listen", "127.0.0.1:70000", `"127.0.0.1:70000": port "70000" is not a number`},
		{"allow-remote", "yes please", `"yes please" is not true or false`},
		{"vnet-hdr", "on", `"on" is not true or false`},
		{"rx-queues", "0", "0 is out of range 1..64"},
		{"rx-queues", "65", "65 is out of range 1..64"},
		{"rx-queues", "four", `"four" is not a number`},
		{"light-gap", "-1", "-1 is out of range 0..2147483"},
		{"light-gap", "2147484", "2147484 is out of range 0..2147483"},
		{"light-gap", "2ms", `"2ms" is not a number`},
		{"afxdp-light-gap", "-5", "-5 is out of range 0..2147483"},
		{"afxdp-light-gap", "fast", `"fast" is not a number`},
		{"afxdp-rx-rings", "0", "0 is out of range 1..8"},
		{"afxdp-rx-rings", "3", "3 is not a power of two"},
		{"afxdp-rx-rings", "16", "16 is out of range 1..8"},
		{"kernel-rx-filter", "yes", `"yes" is not true or false`},
		{"kernel-rx-filter", "", `"" is not true or false`},
		{"gro", "yes", `"yes" is not true or false`},
		{"afxdp-super-frames", "maybe", `"maybe" is not true or false`},
		{"afxdp-mode", "fast", `"fast" is not an AF_XDP mode (auto, zero-copy, copy or skb)`},
		{"afxdp-mode", "", `"" is not an AF_XDP mode (auto, zero-copy, copy or skb)`},
	}
	keyOf := map[string][2]string{}
	for _, k := range flagKeys {
		keyOf[k.flag] = [2]string{k.section, k.key}
	}
	tested := map[string]bool{}
	for _, tt := range tests {
		tested[tt.flag] = true
	}
	for f := range keyOf {
		if !tested[f] {
			t.Errorf("no bad value tested for -%s", f)
		}
	}
	for _, tt := range tests {
		t.Run(tt.flag+"="+tt.value, func(t *testing.T) {
			var errb bytes.Buffer
			if code := Run([]string{"-c", "/dev/null", "-" + tt.flag + "=" + tt.value}, &errb, nil); code != 2 {
				t.Fatalf("exit %d, want 2; stderr:\n%s", code, errb.String())
			}
			if want := "r2: -" + tt.flag + ": " + tt.want; !strings.Contains(errb.String(), want) {
				t.Errorf("stderr %q lacks %q", errb.String(), want)
			}
			k, ok := keyOf[tt.flag]
			if !ok {
				t.Fatalf("-%s overrides no key", tt.flag)
			}
			c := defaultConfig()
			err := parseConfig(&c, "r2.cfg", strings.NewReader("["+k[0]+"]\n"+k[1]+" = "+tt.value+"\n"))
			if want := "r2.cfg:2: [" + k[0] + "] " + k[1] + ": " + tt.want; err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("file: error %v, want %q", err, want)
			}
		})
	}
}

// Flags override the file, in command-line order, and -pkts raises
// particles (kept for R2 compatibility) to match.
func TestFlagsOverrideFile(t *testing.T) {
	c := defaultConfig()
	if err := parseConfig(&c, "r2.cfg", strings.NewReader("[general]\nthreads = 2\npkts = 2048\nparticles = 2048\nbusy_poll = true\n")); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("r2", flag.ContinueOnError)
	o := keyFlags(fs)
	if err := fs.Parse([]string{"-threads", "3", "-threads", "4", "-pkts", "4096", "-busy-poll=false", "-listen", "127.0.0.1:9090", "-driver", "afxdp"}); err != nil {
		t.Fatal(err)
	}
	if err := o.apply(&c); err != nil {
		t.Fatal(err)
	}
	if c.Threads != 4 || c.Pkts != 4096 || c.Particles != 4096 || c.BusyPoll || c.Listen != "127.0.0.1:9090" || c.Driver != "afxdp" {
		t.Errorf("config %+v", c)
	}
	if err := c.check(); err != nil {
		t.Error(err)
	}
}

// TestREADMEConfigExample parses the example configuration in README.md,
// comments and all, so the documented file is one r2 accepts.
func TestREADMEConfigExample(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```ini\n")
	if !ok {
		t.Fatal("README.md has no ```ini block")
	}
	ini, _, _ := strings.Cut(rest, "```")
	c := defaultConfig()
	if err := parseConfig(&c, "README.md", strings.NewReader(ini)); err != nil {
		t.Fatalf("README's example configuration: %v", err)
	}
	if c.Threads != 2 || c.SpinUs != 50 || c.Listen != "127.0.0.1:9090" {
		t.Errorf("README example parsed as threads %d, spin %d, listen %q", c.Threads, c.SpinUs, c.Listen)
	}
	// A comment needs white space before it: "a#b" is a value.
	c = defaultConfig()
	if err := parseConfig(&c, "x", strings.NewReader("[api]\nsocket = /run/r2/a#b.sock\n")); err != nil || c.Socket != "/run/r2/a#b.sock" {
		t.Errorf("socket with # inside: %q, %v", c.Socket, err)
	}
}

// TestControlCPUsRefused runs the daemon with control_cpus naming a CPU
// the process may not use: it must exit 1 saying why, before it starts
// any forwarding thread, and leave its own threads' CPUs as they were.
func TestControlCPUsRefused(t *testing.T) {
	var before unix.CPUSet
	if err := unix.SchedGetaffinity(0, &before); err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	instance := fmt.Sprintf("ccpu%d", os.Getpid())
	if code := Run([]string{"-c", "/dev/null", "-i", instance, "-cpus", "0", "-control-cpus", "1000"}, &errb, nil); code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "r2: control_cpus: affinity: CPU 1000 is not one this process may use") {
		t.Errorf("stderr does not say which CPUs were refused:\n%s", errb.String())
	}
	var after unix.CPUSet
	if err := unix.SchedGetaffinity(0, &after); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("the refused pin changed this thread's CPUs: %d CPUs, had %d", after.Count(), before.Count())
	}
}
