package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/r2go/r2/counters"
)

// fill makes counters like a two-thread daemon's with one interface per
// thread and returns the registry.
func fill(t *testing.T, path string, scale uint64) *counters.Registry {
	t.Helper()
	r, err := counters.Create(path, counters.Sizes{Entries: 256, Names: 8192, Values: 1024})
	if err != nil {
		t.Fatal(err)
	}
	r.PktByte(0, "IfNode:veth0/rx").AddN(int(10*scale), int(1000*scale))
	r.PktByte(0, "IfNode:veth0/tx").AddN(int(9*scale), int(900*scale))
	r.PktByte(1, "IfNode:veth1/rx").AddN(int(3*scale), int(300*scale))
	r.PktByte(0, "IPv4Fwd/forwarded").AddN(int(7*scale), int(700*scale))
	r.Counter(0, "IPv4Fwd/no_route").Add(2 * scale)
	r.Counter(1, "IPv4Fwd/no_route").Add(1 * scale)
	r.Counter(0, "IPv4Fwd/enq").Add(8 * scale)
	r.Counter(0, "EtherDecap:veth0/enq").Add(10 * scale)
	r.Counter(0, "IfNode:veth0/drv_rx_errors").Add(4 * scale)
	r.Counter(0, "Drop/pkts").Add(3 * scale)
	r.Counter(0, "Control/intf_vanished")
	r.PktByte(1, "Ext/seen").AddN(int(5*scale), int(50*scale))
	a := r.Array(1, "Ext/hist", 2)
	for range 6 * scale {
		a.Inc(0)
	}
	for range scale {
		a.Inc(1)
	}
	// The template graph's counters are not exported.
	r.Counter(-1, "IPv4Fwd/no_route")
	r.Counter(-1, "IPv4Fwd/enq")
	// The same name twice on one thread is one series, summed.
	r.Counter(1, "IPv4Fwd/no_route").Add(1 * scale)
	t.Cleanup(func() { r.Remove() })
	return r
}

const wantScheme = `
# HELP r2_counters Live counters in the counters file (all threads).
# TYPE r2_counters gauge
r2_counters 16
# HELP r2_dropped_packets_total Packets freed by the Drop node, all reasons (Drop/pkts); the reasons are r2_node_events_total.
# TYPE r2_dropped_packets_total counter
r2_dropped_packets_total{thread="0"} 3
# HELP r2_forwarded_bytes_total Bytes forwarded by an IP forwarding node (NODE/forwarded).
# TYPE r2_forwarded_bytes_total counter
r2_forwarded_bytes_total{node="IPv4Fwd",thread="0"} 700
# HELP r2_forwarded_packets_total Packets forwarded by an IP forwarding node (NODE/forwarded).
# TYPE r2_forwarded_packets_total counter
r2_forwarded_packets_total{node="IPv4Fwd",thread="0"} 7
# HELP r2_ifnode_rx_bytes_total Bytes received on an interface (IfNode:IF/rx).
# TYPE r2_ifnode_rx_bytes_total counter
r2_ifnode_rx_bytes_total{interface="veth0",thread="0"} 1000
r2_ifnode_rx_bytes_total{interface="veth1",thread="1"} 300
# HELP r2_ifnode_rx_packets_total Packets received on an interface (IfNode:IF/rx).
# TYPE r2_ifnode_rx_packets_total counter
r2_ifnode_rx_packets_total{interface="veth0",thread="0"} 10
r2_ifnode_rx_packets_total{interface="veth1",thread="1"} 3
# HELP r2_ifnode_tx_bytes_total Bytes transmitted on an interface (IfNode:IF/tx).
# TYPE r2_ifnode_tx_bytes_total counter
r2_ifnode_tx_bytes_total{interface="veth0",thread="0"} 900
# HELP r2_ifnode_tx_packets_total Packets transmitted on an interface (IfNode:IF/tx).
# TYPE r2_ifnode_tx_packets_total counter
r2_ifnode_tx_packets_total{interface="veth0",thread="0"} 9
# HELP r2_node_array_total Element index of an array counter NODE/WHAT.
# TYPE r2_node_array_total counter
r2_node_array_total{index="0",interface="",node="Ext",thread="1",what="hist"} 6
r2_node_array_total{index="1",interface="",node="Ext",thread="1",what="hist"} 1
# HELP r2_node_bytes_total Bytes of any other packets+bytes counter NODE/WHAT.
# TYPE r2_node_bytes_total counter
r2_node_bytes_total{interface="",node="Ext",thread="1",what="seen"} 50
# HELP r2_node_events_total Any other single-value counter NODE/WHAT.
# TYPE r2_node_events_total counter
r2_node_events_total{interface="",node="Control",thread="0",what="intf_vanished"} 0
r2_node_events_total{interface="",node="IPv4Fwd",thread="0",what="no_route"} 2
r2_node_events_total{interface="",node="IPv4Fwd",thread="1",what="no_route"} 2
r2_node_events_total{interface="veth0",node="IfNode",thread="0",what="drv_rx_errors"} 4
# HELP r2_node_enqueued_packets_total Packets queued to a node's dispatch vector (NODE/enq).
# TYPE r2_node_enqueued_packets_total counter
r2_node_enqueued_packets_total{interface="",node="IPv4Fwd",thread="0"} 8
r2_node_enqueued_packets_total{interface="veth0",node="EtherDecap",thread="0"} 10
# HELP r2_node_packets_total Packets of any other packets+bytes counter NODE/WHAT.
# TYPE r2_node_packets_total counter
r2_node_packets_total{interface="",node="Ext",thread="1",what="seen"} 5
# HELP r2_threads Forwarding threads that own counters.
# TYPE r2_threads gauge
r2_threads 2
# HELP r2_up 1 if the instance's counters file was read at this scrape, 0 if it is missing or unreadable (r2 not running).
# TYPE r2_up gauge
r2_up 1
`

func quiet(string, ...any) {}

func TestScheme(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r2-test-counters")
	fill(t, path, 1)
	if err := testutil.CollectAndCompare(newCollector(path, quiet), strings.NewReader(wantScheme)); err != nil {
		t.Error(err)
	}
	// A checked collector: every metric matches a described Desc.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(newCollector(path, quiet))
	if _, err := reg.Gather(); err != nil {
		t.Errorf("pedantic gather: %v", err)
	}
}

func TestSplitName(t *testing.T) {
	tests := []struct{ name, node, intf, what string }{
		{"IfNode:veth0/rx", "IfNode", "veth0", "rx"},
		{"IPv4Fwd/no_route", "IPv4Fwd", "", "no_route"},
		{"EtherEncap:eth0:1/held", "EtherEncap", "eth0:1", "held"},
		{"Drop/pkts", "Drop", "", "pkts"},
		{"odd", "odd", "", ""},
		{"Bad\xff/x", "Bad?", "", "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, i, w := splitName(tt.name)
			if n != tt.node || i != tt.intf || w != tt.what {
				t.Errorf("splitName(%q) = %q %q %q, want %q %q %q", tt.name, n, i, w, tt.node, tt.intf, tt.what)
			}
		})
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	return string(b)
}

func has(t *testing.T, body string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(body, "\n"+l+"\n") {
			t.Errorf("metrics lack %q", l)
		}
	}
}

// TestRestart follows a daemon that stops (file removed), is down, and
// starts again with a new file (new inode, counters from zero).
func TestRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r2-test-counters")
	var logb bytes.Buffer
	srv := httptest.NewServer(newHandler(path, func(f string, a ...any) { fmt.Fprintf(&logb, f+"\n", a...) }))
	defer srv.Close()
	url := srv.URL + "/metrics"

	has(t, scrape(t, url), "r2_up 0")
	r := fill(t, path, 1)
	has(t, scrape(t, url), "r2_up 1", `r2_ifnode_rx_packets_total{interface="veth0",thread="0"} 10`)
	// Live values are read at each scrape.
	r.PktByte(0, "IfNode:veth2/rx").Add(64)
	has(t, scrape(t, url), `r2_ifnode_rx_packets_total{interface="veth2",thread="0"} 1`)
	r.Remove()
	body := scrape(t, url)
	has(t, body, "r2_up 0")
	if strings.Contains(body, "r2_ifnode") {
		t.Error("counters served while the file is gone")
	}
	fill(t, path, 5)
	has(t, scrape(t, url), "r2_up 1", `r2_ifnode_rx_packets_total{interface="veth0",thread="0"} 50`)
	for _, w := range []string{"counters unavailable", "reading counters from", "counters unavailable", "reading counters from"} {
		i := strings.Index(logb.String(), w)
		if i < 0 {
			t.Fatalf("log lacks %q in order:\n%s", w, logb.String())
		}
		logb.Next(i + len(w))
	}
}

// TestReplacedFile: a new file appears at the path between two scrapes
// (the daemon restarted faster than the scrape interval).
func TestReplacedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r2-test-counters")
	var logb bytes.Buffer
	c := newCollector(path, func(f string, a ...any) { fmt.Fprintf(&logb, f+"\n", a...) })
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	r := fill(t, path, 1)
	if n, err := testutil.GatherAndCount(reg, "r2_ifnode_rx_packets_total"); err != nil || n != 2 {
		t.Fatalf("series = %d, %v; want 2", n, err)
	}
	// Keep the old file's inode busy so the new one cannot reuse it.
	old, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	r.Remove()
	fill(t, path, 2)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP r2_ifnode_rx_packets_total Packets received on an interface (IfNode:IF/rx).
# TYPE r2_ifnode_rx_packets_total counter
r2_ifnode_rx_packets_total{interface="veth0",thread="0"} 20
r2_ifnode_rx_packets_total{interface="veth1",thread="1"} 6
`), "r2_ifnode_rx_packets_total"); err != nil {
		t.Error(err)
	}
	if !strings.Contains(logb.String(), "replaced") {
		t.Errorf("replacement not noticed:\n%s", logb.String())
	}
}

// TestPromtool checks the real exposition, exporter's own metrics
// included, with promtool (Debian package prometheus).
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: install the Debian package prometheus (listed in .ci/deps)")
	}
	path := filepath.Join(t.TempDir(), "r2-test-counters")
	fill(t, path, 1)
	srv := httptest.NewServer(newHandler(path, quiet))
	defer srv.Close()
	body := scrape(t, srv.URL+"/metrics")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"--help"}, 0, "usage: r2exporter"},
		{"unknown flag", []string{"-x"}, 2, "flag provided but not defined"},
		{"argument", []string{"extra"}, 2, "unexpected argument"},
		{"bad instance", []string{"-i", "a/b"}, 2, "-i:"},
		{"remote refused", []string{"-listen", "0.0.0.0:9742"}, 2, "not a loopback address"},
		{"empty host refused", []string{"-listen", ":9742"}, 2, "not a loopback address"},
		{"bad address", []string{"-listen", "9742"}, 2, "-listen:"},
		{"bad port", []string{"-listen", "127.0.0.1:http2x"}, 2, "bad port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tt.args, &out, &errb, nil)
			if code != tt.code || !strings.Contains(out.String()+errb.String(), tt.want) {
				t.Errorf("run(%q) = %d, output %q; want %d and %q", tt.args, code, out.String()+errb.String(), tt.code, tt.want)
			}
		})
	}
	for _, ok := range []struct {
		addr   string
		remote bool
	}{{"127.0.0.1:9742", false}, {"[::1]:9742", false}, {"localhost:9742", false}, {"0.0.0.0:9742", true}, {":9742", true}} {
		if err := checkListen(ok.addr, ok.remote); err != nil {
			t.Errorf("checkListen(%q, %v): %v", ok.addr, ok.remote, err)
		}
	}
}

// TestServe runs the command on a free port and stops it.
func TestServe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r2-test-counters")
	fill(t, path, 1)
	stop := make(chan struct{})
	var errb syncBuf
	done := make(chan int, 1)
	go func() { done <- run([]string{"-f", path, "-listen", "127.0.0.1:0"}, io.Discard, &errb, stop) }()
	var addr string
	for i := 0; i < 200 && addr == ""; i++ {
		if _, a, ok := strings.Cut(errb.String(), "on http://"); ok {
			addr, _, _ = strings.Cut(a, "/")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if addr == "" {
		t.Fatalf("no listening address in the log: %s", errb.String())
	}
	has(t, scrape(t, "http://"+addr+"/metrics"), "r2_up 1")
	close(stop)
	if code := <-done; code != 0 {
		t.Errorf("exit %d: %s", code, errb.String())
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
