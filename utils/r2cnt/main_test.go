package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/r2go/r2/counters"
)

func TestR2cnt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cnt")
	reg, err := counters.Create(path, counters.Sizes{Entries: 64, Names: 4096, Values: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Remove()
	reg.PktByte(0, "IfNode:veth0/rx").Add(100)
	reg.PktByte(1, "IfNode:veth0/rx").Add(50)
	reg.Counter(0, "IPv4Fwd/no_route").Add(7)
	reg.Counter(0, "IPv4Fwd/ttl_expired")

	tests := []struct {
		name     string
		args     []string
		code     int
		want     []string
		notWant  []string
		inStderr string
	}{
		{"all", []string{"-f", path}, 0, []string{"IfNode:veth0/rx", "2 pkts 150 bytes", "IPv4Fwd/no_route", "ttl_expired"}, nil, ""},
		{"filter", []string{"-f", path, "no_route"}, 0, []string{"IPv4Fwd/no_route  7"}, []string{"IfNode"}, ""},
		{"nonzero", []string{"-f", path, "-z"}, 0, []string{"no_route"}, []string{"ttl_expired"}, ""},
		{"threads", []string{"-f", path, "-t", "IfNode"}, 0, []string{"t0: 1 pkts 100 bytes", "t1: 1 pkts 50 bytes"}, nil, ""},
		{"missing", []string{"-i", "nosuchinstance"}, 1, nil, nil, "is r2 running"},
		{"bad flag", []string{"-x"}, 2, nil, nil, "usage"},
		{"bad instance", []string{"-i", "a/b"}, 2, nil, nil, "-i"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tt.args, &out, &errb); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.code, errb.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out.String(), w) {
					t.Errorf("output has %q:\n%s", w, out.String())
				}
			}
			if !strings.Contains(errb.String(), tt.inStderr) {
				t.Errorf("stderr %q lacks %q", errb.String(), tt.inStderr)
			}
		})
	}
	var out bytes.Buffer
	if run([]string{"-f", path, "-json", "-t", "rx"}, &out, &out) != 0 {
		t.Fatal(out.String())
	}
	var js []jsonCounter
	if err := json.Unmarshal(out.Bytes(), &js); err != nil || len(js) != 1 || js[0].Total[1] != 150 || js[0].PerThread["1"][0] != 1 {
		t.Fatalf("json: %v %+v", err, js)
	}
}
