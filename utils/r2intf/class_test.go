package main

import (
	"strings"
	"testing"
)

func TestParseRate(t *testing.T) {
	for in, want := range map[string]int64{"50M": 50e6, "1.5m": 1.5e6, "64k": 64e3, "1G": 1e9, "1000": 1000} {
		if got, err := parseRate(in); err != nil || got != want {
			t.Errorf("parseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "M", "-1M", "10x", "1e20"} {
		if _, err := parseRate(in); err == nil {
			t.Errorf("parseRate(%q) accepted", in)
		}
	}
	if lo, hi, err := parsePorts("80-443"); err != nil || lo != 80 || hi != 443 {
		t.Errorf("parsePorts(80-443) = %d %d %v", lo, hi, err)
	}
	if lo, hi, err := parsePorts("53"); err != nil || lo != 53 || hi != 53 {
		t.Errorf("parsePorts(53) = %d %d %v", lo, hi, err)
	}
	for _, in := range []string{"", "a-b", "1-70000", "-"} {
		if _, _, err := parsePorts(in); err == nil {
			t.Errorf("parsePorts(%q) accepted", in)
		}
	}
}

// Bad QoS command lines are refused before dialling (exit 2).
func TestQoSUsage(t *testing.T) {
	for _, args := range [][]string{
		{"eth0", "qos"},
		{"eth0", "qos", "0"},
		{"eth0", "qos", "fast"},
		{"eth0", "class", "a"},
		{"eth0", "class", "a", "root"},                // no curve
		{"eth0", "class", "a", "root", "--fm1", "1M"}, // m1 without m2
		{"eth0", "class", "a", "root", "--fm2", "1M", "--fd", "x"},
		{"eth0", "class", "a", "root", "--fm2", "1M", "--dscp", "4"}, // a rule flag
		{"eth0", "class", "show", "--leaf"},
		{"eth0", "rule", "add", "x", "a"},
		{"eth0", "rule", "add", "1"},
		{"eth0", "rule", "add", "1", "a", "--dport", "1-x"},
		{"eth0", "rule", "del"},
		{"eth0", "rule", "zap"},
		{"eth0", "default"},
	} {
		code, _, stderr := r2intf(append([]string{"-s", "/nonexistent"}, args...)...)
		if code != 2 || !strings.Contains(stderr, "usage") {
			t.Errorf("r2intf %q: exit %d, stderr %q; want 2 and a usage hint", args, code, stderr)
		}
	}
	code, out, _ := r2intf("eth0", "class", "--help")
	if code != 0 || !strings.Contains(out, "--fm1 M1 --fd D --fm2 M2") {
		t.Errorf("class --help: exit %d\n%s", code, out)
	}
}
