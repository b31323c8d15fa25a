package main

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"github.com/r2go/r2/apis/graphapi"
)

// Filters are tcpdump expressions compiled to classic BPF by tcpdump itself
// (`tcpdump -dd -y EN10MB EXPR`, which runs libpcap's compiler and opens no
// interface). No pure-Go compiler of the pcap filter language is kept up to
// date well enough to trust with the whole language (gopacket's pcap
// package is cgo around libpcap); libpcap's compiler is the reference, and
// its output is exactly the struct sock_filter the router's interpreter
// (golang.org/x/net/bpf) runs.

// compileFilter turns a tcpdump expression into BPF instructions.
func compileFilter(expr string) ([]*graphapi.BpfInsn, error) {
	path, err := exec.LookPath("tcpdump")
	if err != nil {
		return nil, errors.New("a filter needs tcpdump to compile it (Debian package tcpdump)")
	}
	cmd := exec.Command(path, "-dd", "-y", "EN10MB", expr)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("filter %q: %s", expr, msg)
	}
	return parseDD(out.String())
}

// parseDD parses tcpdump -dd output: one "{ code, jt, jf, k }," per line.
func parseDD(s string) ([]*graphapi.BpfInsn, error) {
	var prog []*graphapi.BpfInsn
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, ","), "}")
		line = strings.TrimPrefix(line, "{")
		f := strings.Split(line, ",")
		if len(f) != 4 {
			return nil, fmt.Errorf("unexpected tcpdump -dd line %q", line)
		}
		var v [4]int64
		for i := range f {
			x, err := strconv.ParseInt(strings.TrimSpace(f[i]), 0, 64)
			if err != nil {
				return nil, fmt.Errorf("unexpected tcpdump -dd line %q: %v", line, err)
			}
			v[i] = x
		}
		prog = append(prog, &graphapi.BpfInsn{Code: int32(v[0]), Jt: int32(v[1]), Jf: int32(v[2]), K: v[3]})
	}
	if len(prog) == 0 {
		return nil, errors.New("tcpdump -dd printed no program")
	}
	return prog, nil
}
