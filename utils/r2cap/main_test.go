package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/r2go/r2/r2/api"
	"github.com/r2go/r2/r2/api/apitest"
	"github.com/r2go/r2/r2/graph"
)

// frame is an Ethernet+IPv4 frame from 10.0.0.src with protocol proto and
// n bytes of payload.
func frame(src byte, proto byte, n int) []byte {
	f := make([]byte, 14+20+n)
	copy(f, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0})
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+n))
	ip[8], ip[9] = 64, proto
	copy(ip[12:], []byte{10, 0, 0, src, 10, 0, 1, 1})
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	return f
}

func serve(t *testing.T, recs []graph.Record) (*apitest.Backend, string) {
	b := apitest.New()
	b.G.Packets = recs
	_, sock := apitest.Serve(t, b, api.Options{})
	return b, sock
}

func records() []graph.Record {
	base := time.Unix(1700000000, 123456789)
	var rs []graph.Record
	for i := 0; i < 5; i++ {
		f := frame(byte(i+1), 1, 8+i)
		rs = append(rs, graph.Record{Time: base.Add(time.Duration(i) * time.Millisecond), OrigLen: len(f), Data: f})
	}
	return rs
}

func runCap(args ...string) (int, string, string) {
	var o, e strings.Builder
	code := run(args, &o, &e)
	return code, o.String(), e.String()
}

// TestPcap writes a capture of 3 of 5 packets and reads it back with tshark.
func TestPcap(t *testing.T) {
	b, sock := serve(t, records())
	file := filepath.Join(t.TempDir(), "x.pcap")
	code, _, e := runCap("-s", sock, "-c", "3", "-w", file, "-from", "IfNode:veth0", "EtherDecap:veth0")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e)
	}
	if !strings.Contains(e, "3 packets written; 5 matched, 0 lost") {
		t.Errorf("summary %q", e)
	}
	if len(b.G.Specs) != 1 || b.G.Specs[0].Node != "EtherDecap:veth0" || b.G.Specs[0].From != "IfNode:veth0" || b.G.Leases[0] != 5*time.Second {
		t.Errorf("spec %+v leases %v", b.G.Specs, b.G.Leases)
	}
	if len(b.G.Stopped) != 1 {
		t.Errorf("capture not stopped: %v", b.G.Stopped)
	}
	got := tshark(t, file, "-e", "frame.len", "-e", "ip.src", "-e", "frame.time_epoch")
	want := "42\t10.0.0.1\t1700000000.123456789\n43\t10.0.0.2\t1700000000.124456789\n44\t10.0.0.3\t1700000000.125456789\n"
	if got != want {
		t.Errorf("tshark read:\n%s\nwant\n%s", got, want)
	}
}

// tshark prints fields of a pcap file, one line per packet.
func tshark(t *testing.T, file string, fields ...string) string {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Fatalf("tshark not found: install Debian package tshark (%v)", err)
	}
	args := append([]string{"-r", file, "-T", "fields"}, fields...)
	cmd := exec.Command("tshark", args...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no user profile
	if err := cmd.Run(); err != nil {
		t.Fatalf("tshark: %v: %s", err, stderr.String())
	}
	return out.String()
}

// TestStdoutAndFilter writes pcap to stdout with a compiled filter.
func TestStdoutAndFilter(t *testing.T) {
	b, sock := serve(t, records())
	code, out, e := runCap("-s", sock, "-T", "0.2", "-w", "-", "-q", "L3Parse", "icmp", "and", "host", "10.0.0.1")
	if code != 0 || e != "" {
		t.Fatalf("exit %d: %s", code, e)
	}
	if len(out) != 24+5*16+42+43+44+45+46 || binary.LittleEndian.Uint32([]byte(out)) != pcapMagicNano {
		t.Errorf("pcap of %d bytes", len(out))
	}
	if len(b.G.Specs) != 1 || len(b.G.Specs[0].Filter) < 4 {
		t.Fatalf("no filter sent: %+v", b.G.Specs)
	}
}

func TestText(t *testing.T) {
	_, sock := serve(t, records())
	code, out, _ := runCap("-s", sock, "-c", "2", "L3Parse")
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, "IP 10.0.0.2 > 10.0.1.1 ICMP type 0 code 0 ttl 64") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

func TestErrors(t *testing.T) {
	_, sock := serve(t, nil)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no node", []string{"-s", sock}, 2, "which node"},
		{"unknown node", []string{"-s", sock, "-c", "1", "NoSuchNode"}, 1, "no such node"},
		{"bad filter", []string{"-s", sock, "L3Parse", "no", "such", "filter", "("}, 1, "filter"},
		{"negative", []string{"-s", sock, "-c", "-1", "L3Parse"}, 2, "negative"},
		{"no daemon", []string{"-i", "nosuchinstance", "L3Parse"}, 1, "is r2 running"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, e := runCap(tc.args...)
			if code != tc.code || !strings.Contains(e, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d, %q", code, e, tc.code, tc.want)
			}
		})
	}
	if code, out, _ := runCap("--help"); code != 0 || !strings.Contains(out, "usage: r2cap") {
		t.Errorf("--help: %d", code)
	}
}

func TestParseDD(t *testing.T) {
	p, err := parseDD("{ 0x28, 0, 0, 0x0000000c },\n{ 0x6, 0, 0, 0x00040000 },\n")
	if err != nil || len(p) != 2 || p[0].Code != 0x28 || p[0].K != 12 || p[1].K != 0x40000 {
		t.Errorf("%v %v", p, err)
	}
	if _, err := parseDD("garbage"); err == nil {
		t.Errorf("garbage parsed")
	}
}
