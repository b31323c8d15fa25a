//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/r2go/r2/r2/driver"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/procnet"
)

// TestShortRun runs the benchmark end to end in -short mode on a reduced
// set (64-byte rate over IPv4 and IPv6, idle ping, TCP over IPv6 and a
// slice of the table of both families, loaded through the API and followed
// from the kernel by r2follow; kernel and R2 AF_PACKET): it builds the
// binaries, creates namespaces, starts r2, r2follow, trafgen and iperf3. Only
// that results came out is checked, not their values.
func TestShortRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (network namespaces, veth, AF_PACKET): run as root")
	}
	for _, name := range sortedKeys(toolPackages) {
		if _, err := exec.LookPath(name); err != nil {
			t.Fatalf("%s not installed (Debian: %s; make test installs it): %v", name, toolPackages[name], err)
		}
	}
	dir := t.TempDir()
	jsonPath, svgPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.svg")
	var out, errb bytes.Buffer
	start := time.Now()
	code := run([]string{"-short", "-only", "udp64,ping-idle,udp6,tcp6,table,fanout-ping-load,follow", "-table-limit", "20000", "-variants", "kernel,afpacket",
		"-json", jsonPath, "-svg", svgPath}, &out, &errb)
	t.Logf("run took %v\nstdout:\n%s\nstderr:\n%s", time.Since(start).Round(time.Second), out.String(), errb.String())
	if code != exitOK {
		t.Fatalf("exit status %d", code)
	}
	for _, want := range []string{"UDP 64 B frames", "ping h1→h2, idle", "kernel", "R2 AF_PACKET", "×kernel", "delivered",
		"over IPv6", "IPv4 + IPv6"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q", want)
		}
	}

	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("JSON does not parse: %v", err)
	}
	got := map[string]*measResult{}
	for _, m := range rep.Measurements {
		got[m.ID] = m
	}
	if rep.Options.H2Sink != "tcx" || !strings.Contains(out.String(), "tcx program on h2's interface") {
		t.Errorf("h2's sink: options say %q; the table does not name the tcx sink", rep.Options.H2Sink)
	}
	for _, v := range []string{variantKernel, variantAFPacket} {
		u := got["udp64"]
		if u == nil || u.Variants[v] == nil {
			t.Fatalf("JSON has no udp64 result for %s", v)
		}
		st := u.Variants[v].Stats["pps"]
		if st == nil || st.Median <= 0 {
			t.Errorf("udp64 %s: no packets/s: %+v", v, u.Variants[v])
		}
		p := got["ping-idle"]
		if p == nil || p.Variants[v] == nil || p.Variants[v].Stats["rtt_median_us"] == nil {
			t.Errorf("ping-idle %s: no RTT", v)
		} else if v == variantAFPacket {
			// An idle router sleeps: far under a fifth of a CPU
			// unless a thread spins.
			if st := p.Variants[v].Stats["idle_cpu_pct"]; st == nil || st.Median < 0 || st.Median > 20 {
				t.Errorf("ping-idle %s: idle CPU %+v, want 0-20%%", v, st)
			}
		}
		for _, c := range []struct{ id, key string }{
			{"udp6", "pps"}, {"tcp6", "gbps"}, {"table", "routes6"}, {"table", "load_s"}, {"table", "mem_mib"},
			{"follow", "ready_s"}, {"follow", "pps_during"}, {"fanout-ping-load", "rtt_median_us"}, {"fanout-ping-load", "flood_pps"},
		} {
			m := got[c.id]
			if m == nil || m.Variants[v] == nil {
				t.Errorf("JSON has no %s result for %s", c.id, v)
				continue
			}
			if st := m.Variants[v].Stats[c.key]; st == nil || st.Median <= 0 {
				t.Errorf("%s %s: no %s: %+v", c.id, v, c.key, m.Variants[v])
			}
		}
	}
	for _, id := range []string{"udp6", "tcp6"} {
		k := "pps"
		if id == "tcp6" {
			k = "gbps"
		}
		if m := got[id]; m != nil {
			if st := m.Variants[variantAFPacket].Stats[k]; st != nil && st.Ratio == nil {
				t.Errorf("%s R2 AF_PACKET: no ratio to the kernel", id)
			}
		}
	}
	// R2 had every route the kernel had (ready_s is only recorded then),
	// and its and the follower's memory were read.
	if f := got["follow"]; f != nil && f.Variants[variantAFPacket] != nil {
		for _, k := range []string{"lag_s", "mem_mib", "follower_mib"} {
			if st := f.Variants[variantAFPacket].Stats[k]; st == nil || (k != "lag_s" && st.Median <= 0) {
				t.Errorf("follow R2 AF_PACKET: no %s: %+v", k, f.Variants[variantAFPacket])
			}
		}
	}
	if st := got["udp64"].Variants[variantAFPacket].Stats["pps"]; st != nil && st.Ratio == nil {
		t.Errorf("udp64 R2 AF_PACKET: no ratio to the kernel")
	}
	if len(rep.Setups) == 0 || rep.Setups[len(rep.Setups)-1].Drivers == nil {
		t.Errorf("no driver recorded for the R2 setup: %+v", rep.Setups)
	}

	svg, err := os.ReadFile(svgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := wellFormed(svg); err != nil {
		t.Errorf("SVG is not well-formed XML: %v", err)
	}
	if !bytes.Contains(svg, []byte("<rect")) || !bytes.Contains(svg, []byte("udp64")) {
		t.Errorf("SVG has no bars")
	}
}

// wellFormed parses b as XML.
func wellFormed(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-rounds", "0"},
		{"-duration", "1ms"},
		{"-only", "bogus"},
		{"-only", ""},
		{"-variants", "kernel,quagga"},
		{"-threads2-cpus", "1"},
		{"-table-limit", "-1"},
		{"-mtu", "600"},
		{"-flood-rate", "-5"},
		{"-flood-flows", "0"},
		{"-flood-flows", "70000"},
		{"-flood-proto", "icmp"},
		{"-h2-sink", "nic"},
		{"-host-rps", "0"},
		{"-host-rps", "cpu0"},
		{"-router-rps", "0"},
		{"-router-rps", "x2"},
		{"-json", ""},
		{"-nosuchflag"},
		{"extra"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != exitUsage {
			t.Errorf("%q: exit %d, want %d (stderr %q)", args, code, exitUsage, errb.String())
		}
		if !strings.Contains(errb.String(), "usage: r2bench") {
			t.Errorf("%q: no usage text on stderr", args)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"--help"}, &out, &errb); code != exitOK || !strings.Contains(out.String(), "-only LIST") {
		t.Errorf("--help: exit %d, output %q", code, out.String())
	}
}

// reportOf is the (empty) report of a run with options o, and its table.
func reportOf(o options) (*report, string) {
	var out bytes.Buffer
	r := newReport(o, measurements())
	r.finish()
	printTable(&out, r)
	return r, out.String()
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-short", "-only", "udp,table", "-variants", "afpacket,kernel"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.rounds != 1 || o.duration != time.Second || o.tableLimit != shortTableLimit {
		t.Errorf("-short: rounds %d, duration %v, table limit %d", o.rounds, o.duration, o.tableLimit)
	}
	if strings.Join(o.only, ",") != "udp64,udp512,udp1500,table" {
		t.Errorf("-only: %v", o.only)
	}
	if o, err := parseFlags([]string{"-only", "table,ipv6"}, io.Discard); err != nil || strings.Join(o.only, ",") != "udp6,tcp6,table" {
		t.Errorf("-only table,ipv6: %v, %v", o.only, err)
	}
	if strings.Join(o.variants, ",") != "kernel,afpacket" {
		t.Errorf("-variants: %v", o.variants)
	}
	if o.pingFirst {
		t.Error("pings before the flood without -ping-first")
	}
	if o, err := parseFlags([]string{"-ping-first"}, io.Discard); err != nil || !o.pingFirst {
		t.Errorf("-ping-first: %v, %v", o.pingFirst, err)
	} else if r, out := reportOf(o); !r.Options.PingFirst || !strings.Contains(out, "-ping-first") {
		t.Errorf("-ping-first: the report does not say so:\n%s", out)
	}
	if o.hostRPS != "" {
		t.Error("host RPS without -host-rps")
	}
	if o, err := parseFlags([]string{"-host-rps", "1"}, io.Discard); err != nil || o.hostRPS != "1" {
		t.Errorf("-host-rps 1: %q, %v", o.hostRPS, err)
	} else if r, out := reportOf(o); r.Options.HostRPS != "1" || !strings.Contains(out, "-host-rps") {
		t.Errorf("-host-rps: the report does not say so:\n%s", out)
	}
	if o, err := parseFlags([]string{"-router-rps", "2"}, io.Discard); err != nil || o.routerRPS != "2" {
		t.Errorf("-router-rps 2: %q, %v", o.routerRPS, err)
	} else if r, out := reportOf(o); r.Options.RouterRPS != "2" || !strings.Contains(out, "-router-rps") {
		t.Errorf("-router-rps: the report does not say so:\n%s", out)
	}
	o, err = parseFlags([]string{"-short", "-rounds", "3", "-duration", "2s"}, io.Discard)
	if err != nil || o.rounds != 3 || o.duration != 2*time.Second || len(o.only) != len(allMeasurements) {
		t.Errorf("explicit flags with -short: %+v, %v", o, err)
	}
	// afpacket-base runs the -r2-base binary: one without the other is a
	// usage error, as is a path that is not an executable.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	o, err = parseFlags([]string{"-variants", "kernel,afpacket-base,afpacket", "-r2-base", exe}, io.Discard)
	if err != nil || strings.Join(o.variants, ",") != "kernel,afpacket,afpacket-base" || o.r2Base != exe {
		t.Errorf("-r2-base: %v, %v, %q", o.variants, err, o.r2Base)
	}
	o, err = parseFlags([]string{"-variants", "afxdp-base,kernel", "-r2-base", exe}, io.Discard)
	if err != nil || strings.Join(o.variants, ",") != "kernel,afxdp-base" {
		t.Errorf("-r2-base with afxdp-base: %v, %v", o.variants, err)
	}
	for _, args := range [][]string{
		{"-variants", "afpacket-base"},
		{"-variants", "afxdp-base"},
		{"-r2-base", exe},
		{"-variants", "afpacket-base", "-r2-base", t.TempDir()},
	} {
		if _, err := parseFlags(args, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("%q: err %v, want a usage error", args, err)
		}
	}
}

func TestParseShow(t *testing.T) {
	out := `NAME            IFINDEX LINUX MAC               STATE   MTU THREAD DRIVER      RX-PKTS RX-DROPS    TX-PKTS TX-DROPS  ADDRESSES
r2abc-ra              0    12 8a:61:da:68:46:76 up     1500      0 afpacket         10        0         12        0  10.1.0.2/24
r2abc-rb              1    14 8a:61:da:68:46:77 down   1500      1 afxdp             0        0          0        0  -
`
	m, err := parseShow(out)
	if err != nil {
		t.Fatal(err)
	}
	if a := m["r2abc-ra"]; a.Driver != "afpacket" || a.Thread != 0 || !a.Up {
		t.Errorf("ra: %+v", a)
	}
	if b := m["r2abc-rb"]; b.Driver != "afxdp" || b.Thread != 1 || b.Up {
		t.Errorf("rb: %+v", b)
	}
	if _, err := parseShow("garbage\n"); err == nil {
		t.Error("no error for output without the expected columns")
	}
}

func TestParseProcNet(t *testing.T) {
	dev := []byte(`Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
r2x-h2: 6387221766 99800337    0    5    0     0          0         0     1286      17    0    3    0     0       0          0
`)
	s, err := parseNetDev(dev, "r2x-h2")
	if err != nil {
		t.Fatal(err)
	}
	if s.RxPackets != 99800337 || s.RxBytes != 6387221766 || s.RxDropped != 5 || s.TxPackets != 17 || s.TxDropped != 3 {
		t.Errorf("parseNetDev: %+v", s)
	}
	if _, err := parseNetDev(dev, "nope"); err == nil {
		t.Error("missing interface not reported")
	}
	snmp := []byte(`Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams
Ip: 2 64 99800322 0 99800320 0
Icmp: InMsgs InErrors
Icmp: 1 0
`)
	ip, err := procnet.ParseSNMP(snmp, "Ip")
	if err != nil {
		t.Fatal(err)
	}
	if ip["InAddrErrors"] != 99800320 || ip["InReceives"] != 99800322 {
		t.Errorf("parseSNMP: %v", ip)
	}
	snmp6 := parseSNMP6([]byte("Ip6InReceives                   \t11\nIp6InAddrErrors                 \t7\nIcmp6OutMsgs 3\n"))
	if snmp6["Ip6InAddrErrors"] != 7 || snmp6["Ip6InReceives"] != 11 {
		t.Errorf("parseSNMP6: %v", snmp6)
	}
}

func TestRateBetween(t *testing.T) {
	t0 := time.Now()
	a1 := nsSnap{At: t0, If: ifStats{TxPackets: 100, TxDropped: 0}}
	a2 := nsSnap{At: t0, If: ifStats{RxPackets: 50}, InAddrErrors: 40, InAddrErrors6: 9}
	z1 := nsSnap{At: t0.Add(2 * time.Second), If: ifStats{TxPackets: 2100, TxDropped: 100}}
	z2 := nsSnap{At: t0.Add(2 * time.Second), If: ifStats{RxPackets: 1062}, InAddrErrors: 1040, InAddrErrors6: 9}
	r := rateBetween(a1, a2, z1, z2)
	if r.Delivered != 500 || r.Offered != 1050 || r.RxOther != 6 {
		t.Errorf("rate: %+v", r)
	}
	if want := 100 * (1 - 1000.0/2100); r.LossPct < want-1e-9 || r.LossPct > want+1e-9 {
		t.Errorf("loss %v, want %v", r.LossPct, want)
	}
	// With a sink at h2's interface the frames count there, not in h2's
	// IP counters, and still in its interface's received packets.
	a2 = nsSnap{At: t0, If: ifStats{RxPackets: 50}, InAddrErrors: 40, Sunk: 7}
	z2 = nsSnap{At: t0.Add(2 * time.Second), If: ifStats{RxPackets: 1062}, InAddrErrors: 41, Sunk: 1006}
	if r := rateBetween(a1, a2, z1, z2); r.Delivered != 500 || r.RxOther != 6 {
		t.Errorf("rate with a sink: %+v", r)
	}
}

func TestReportAndRendering(t *testing.T) {
	o := options{rounds: 3, duration: time.Second, only: []string{"udp64", "table"}, variants: allVariants}
	defs := measurements()
	r := newReport(o, defs)
	for round, k := range []float64{100, 200, 300} {
		r.record("udp64", variantKernel, round+1, map[string]float64{"pps": k * 1000, "loss_pct": 0}, nil, nil)
		r.record("udp64", variantAFPacket, round+1, map[string]float64{"pps": k * 500, "loss_pct": 3}, []string{"a note"}, nil)
		r.record("udp64", variantAFXDP, round+1, nil, nil, &naError{reason: "no AF_XDP here"})
		r.record("table", variantKernel, round+1, nil, nil, errors.New("table missing"))
	}
	r.finish()
	st := r.Measurements[0].Variants[variantAFPacket].Stats["pps"]
	if st.Median != 100000 || st.Min != 50000 || st.Max != 150000 || st.Ratio == nil || *st.Ratio != 0.5 {
		t.Errorf("stats: %+v", st)
	}
	if r.Measurements[0].Variants[variantAFPacket].Stats["loss_pct"].Ratio != nil {
		t.Error("loss has a ratio")
	}
	var out bytes.Buffer
	printTable(&out, r)
	for _, want := range []string{"100.0 [50.0–150.0]", "0.50×", "n/a [", "no AF_XDP here", "error [", "table missing", "a note"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	svg := renderSVG(r)
	if err := wellFormed(svg); err != nil {
		t.Errorf("SVG: %v", err)
	}
	if !bytes.Contains(svg, []byte("0.50×")) {
		t.Errorf("SVG lacks the ratio label")
	}
}

func TestChurnPrefixes(t *testing.T) {
	seen := map[string]bool{}
	for k := 0; k < churnSets; k++ {
		for _, p := range churnPrefixes(k) {
			if !strings.HasPrefix(p.String(), "198.18.") && !strings.HasPrefix(p.String(), "198.19.") {
				t.Fatalf("churn prefix %s outside 198.18.0.0/15", p)
			}
			if seen[p.String()] {
				t.Fatalf("churn prefix %s twice", p)
			}
			seen[p.String()] = true
		}
	}
}

func TestParseSoftnetDrops(t *testing.T) {
	got, err := parseSoftnetDrops([]byte("0000a1b2 00000003 00000000 00000000\n00000010 0000000a 00000001 00000000\n"))
	if err != nil || got != 13 {
		t.Errorf("parseSoftnetDrops = %d, %v; want 13", got, err)
	}
	if _, err := parseSoftnetDrops([]byte("0000a1b2\n")); err == nil {
		t.Error("a short line parsed")
	}
}

// ringsNote counts each ring's frames and tells whether the pings had a
// ring of their own.
func TestRingsNote(t *testing.T) {
	k := func(i int) string { return names.IfNodeCounter("ra", driver.RxRingCounter(i)) }
	before := map[string]uint64{k(0): 100, k(1): 5}
	apart := map[string]uint64{k(0): 900100, k(1): 505}
	if got, want := ringsNote("ra", before, apart, 500), "frames per receive ring of ra: 900000 / 500; the pings had a ring apart from the flood's"; got != want {
		t.Errorf("apart: %q, want %q", got, want)
	}
	shared := map[string]uint64{k(0): 900600, k(1): 8}
	if got := ringsNote("ra", before, shared, 500); !strings.Contains(got, "900500 / 3; the pings shared the flood's ring") {
		t.Errorf("shared: %q", got)
	}
	// Four rings, two unused: the pings had the second.
	four := map[string]uint64{k(0): 2974087, k(1): 400, k(2): 0, k(3): 0}
	if got := ringsNote("ra", map[string]uint64{}, four, 400); !strings.Contains(got, "2974087 / 400 / 0 / 0; the pings had a ring apart") {
		t.Errorf("four rings: %q", got)
	}
	// The flood in ring 2, the pings with it.
	four = map[string]uint64{k(0): 3, k(1): 0, k(2): 2974087, k(3): 0}
	if got := ringsNote("ra", map[string]uint64{}, four, 400); !strings.Contains(got, "the pings shared the flood's ring") {
		t.Errorf("four rings, shared: %q", got)
	}
	// A flood of many flows over all four rings.
	four = map[string]uint64{k(0): 2055563, k(1): 297474, k(2): 290637, k(3): 286438}
	if got := ringsNote("ra", map[string]uint64{}, four, 300); !strings.Contains(got, "the flood spread over several rings") {
		t.Errorf("four rings, many flows: %q", got)
	}
	if got := ringsNote("ra", map[string]uint64{}, map[string]uint64{k(0): 7}, 500); got != "" {
		t.Errorf("one ring: %q, want nothing", got)
	}
}

// TestFloodPacket: one flow from port 9, or N flows counting the source
// port from 1024; a 0-byte payload has no fill(); TCP segments carry ACK.
func TestFloodPacket(t *testing.T) {
	for _, tc := range []struct {
		proto      string
		pay, flows int
		want       string
	}{
		{"udp", 18, 1, "{\n  L3,\n  udp(sp=9, dp=9),\n  fill(0x00, 18)\n}\n"},
		{"udp", 18, 4096, "{\n  L3,\n  udp(sp=dinc(1024, 5119), dp=9),\n  fill(0x00, 18)\n}\n"},
		{"udp", 0, 2, "{\n  L3,\n  udp(sp=dinc(1024, 1025), dp=9)\n}\n"},
		{"tcp", 6, 1, "{\n  L3,\n  tcp(sp=9, dp=9, seq=1, ackseq=1, ack, win=512),\n  fill(0x00, 6)\n}\n"},
		{"tcp", 0, 3, "{\n  L3,\n  tcp(sp=dinc(1024, 1026), dp=9, seq=1, ackseq=1, ack, win=512)\n}\n"},
	} {
		if got := floodPacket("L3", tc.proto, tc.pay, tc.flows); got != tc.want {
			t.Errorf("floodPacket(%s, %d, %d) = %q, want %q", tc.proto, tc.pay, tc.flows, got, tc.want)
		}
	}
}

// TestXDPModeVariant: afxdp-skb is a variant that runs R2 on AF_XDP with
// -afxdp-mode skb; the other variants pass no mode.
func TestXDPModeVariant(t *testing.T) {
	o, err := parseFlags([]string{"-variants", "kernel,afxdp-skb"}, io.Discard)
	if err != nil || strings.Join(o.variants, ",") != "kernel,afxdp-skb" {
		t.Fatalf("-variants kernel,afxdp-skb: %v, %v", o.variants, err)
	}
	for _, v := range []string{variantAFXDPSKB, variantAFXDPDrv} {
		if !isXDP(v) || variantTitles[v] == "" {
			t.Errorf("%s: isXDP %v, title %q", v, isXDP(v), variantTitles[v])
		}
	}
	args := strings.Join(r2Flags{Threads: 1, XDPMode: "skb"}.args(), " ")
	if !strings.Contains(args, "-afxdp-mode skb") {
		t.Errorf("args %q lack -afxdp-mode skb", args)
	}
	if args := strings.Join(r2Flags{Threads: 1}.args(), " "); strings.Contains(args, "afxdp-mode") {
		t.Errorf("args %q name a mode", args)
	}
}

// TestControlCPUsVariant: afpacket-ctl runs R2 on AF_PACKET with
// -control-cpus on the generators' CPU when the forwarding threads are
// pinned, and passes none otherwise (r2 refuses control CPUs alone).
func TestControlCPUsVariant(t *testing.T) {
	o, err := parseFlags([]string{"-variants", "kernel,afpacket-ctl"}, io.Discard)
	if err != nil || strings.Join(o.variants, ",") != "kernel,afpacket-ctl" {
		t.Fatalf("-variants kernel,afpacket-ctl: %v, %v", o.variants, err)
	}
	if isXDP(variantAFPacketCtl) || variantTitles[variantAFPacketCtl] == "" {
		t.Errorf("afpacket-ctl: isXDP %v, title %q", isXDP(variantAFPacketCtl), variantTitles[variantAFPacketCtl])
	}
	b := &bench{genCPU: 0, fwdCPU: 1}
	if got := b.controlCPUs(r2Flags{Threads: 1, CPUs: "1"}); got != "0" {
		t.Errorf("control CPUs beside forwarding CPU 1: %q, want 0", got)
	}
	if got := b.controlCPUs(r2Flags{Threads: 1}); got != "" {
		t.Errorf("control CPUs without pinned forwarding threads: %q, want none", got)
	}
	if args := strings.Join(r2Flags{Threads: 1, CPUs: "1", ControlCPUs: "0"}.args(), " "); !strings.Contains(args, "-cpus 1 -control-cpus 0") {
		t.Errorf("args %q lack -control-cpus 0", args)
	}
	if args := strings.Join(r2Flags{Threads: 1, CPUs: "1"}.args(), " "); strings.Contains(args, "control-cpus") {
		t.Errorf("args %q name control CPUs", args)
	}
}
