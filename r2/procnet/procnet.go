// Package procnet parses the counter files of /proc/net that the
// benchmark tool and the tests read: /proc/net/snmp and /proc/net/netstat
// hold each protocol's counters as a pair of lines, "Proto: names..." and
// "Proto: values...".
package procnet

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// ParseSNMP returns the counters of one protocol's line pair ("Ip", "Tcp",
// or in /proc/net/netstat "TcpExt") of /proc/net/snmp or netstat text.
func ParseSNMP(b []byte, proto string) (map[string]uint64, error) {
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
