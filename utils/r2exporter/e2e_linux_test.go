//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/r2go/r2/r2/api"
	"github.com/r2go/r2/r2/topo"
)

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startProc starts a command whose output goes to a buffer shown if the
// test fails, and stops it (SIGTERM, then SIGKILL) at cleanup.
func startProc(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	var out syncBuf
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(name), out.String())
		}
	})
	return cmd
}

// TestPrometheusEndToEnd runs the real daemon with traffic, the exporter
// and a real Prometheus server scraping it every second, and asks
// Prometheus' HTTP API for R2's receive counters.
func TestPrometheusEndToEnd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (make test runs as root): namespaces, veth, AF_PACKET")
	}
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus not found: install the Debian package prometheus (listed in .ci/deps)")
	}
	bin := t.TempDir()
	for _, pkg := range []string{"r2", "utils/r2intf", "utils/r2exporter"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(bin, filepath.Base(pkg)), "github.com/r2go/r2/"+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, out)
		}
	}
	instance := fmt.Sprintf("exp%d", os.Getpid()%100000)

	tp, err := topo.New(topo.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tp.Close(); err != nil {
			t.Errorf("topology cleanup: %v", err)
		}
	})
	r2 := startProc(t, filepath.Join(bin, "r2"), "-i", instance, "-c", "/dev/null")
	waitFor(t, "r2 API socket", func() bool {
		c, err := net.Dial("unix", api.SocketPath(instance))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	r2intf := func(args ...string) {
		out, err := exec.Command(filepath.Join(bin, "r2intf"), append([]string{"-i", instance}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("r2intf %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	r2intf(tp.RouterIfA, "add", "auto")
	r2intf(tp.RouterIfB, "add", "auto")
	r2intf(tp.RouterIfA, "ip", "10.1.0.2/24")
	r2intf(tp.RouterIfB, "ip", "10.2.0.2/24")
	if r, err := tp.Ping(tp.H1NS, "10.2.0.1", 5, 20*time.Millisecond); err != nil || r.Received != 5 {
		t.Fatalf("ping through r2: %+v, %v", r, err)
	}

	expAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startProc(t, filepath.Join(bin, "r2exporter"), "-i", instance, "-listen", expAddr)
	promAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: r2
    static_configs:
      - targets: ['%s']
`, expAddr)), 0o644)
	startProc(t, prom, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn")

	query := func(q string) []float64 {
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		var r struct {
			Status string
			Data   struct {
				Result []struct {
					Metric map[string]string
					Value  [2]any
				}
			}
		}
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		if json.Unmarshal(buf.Bytes(), &r) != nil || r.Status != "success" {
			return nil
		}
		var vs []float64
		for _, s := range r.Data.Result {
			str, _ := s.Value[1].(string)
			v, _ := strconv.ParseFloat(str, 64)
			if s.Metric["interface"] == tp.RouterIfA || s.Metric["interface"] == "" {
				vs = append(vs, v)
			}
		}
		return vs
	}
	var got []float64
	waitFor(t, "Prometheus to return r2_ifnode_rx_packets_total > 0", func() bool {
		got = query(`r2_ifnode_rx_packets_total{job="r2"}`)
		return len(got) > 0 && got[0] > 0
	})
	t.Logf("Prometheus: r2_ifnode_rx_packets_total{interface=%q} = %v", tp.RouterIfA, got)
	if up := query(`r2_up{job="r2"}`); len(up) != 1 || up[0] != 1 {
		t.Errorf("r2_up = %v, want [1]", up)
	}
	if up := query(`up{job="r2"}`); len(up) != 1 || up[0] != 1 {
		t.Errorf("Prometheus' up for the exporter = %v, want [1]", up)
	}

	// With the daemon stopped, a scrape still succeeds, with r2_up 0.
	r2.Process.Signal(syscall.SIGTERM)
	waitFor(t, "r2_up 0 after r2 stopped", func() bool {
		resp, err := http.Get("http://" + expAddr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode == 200 && strings.Contains(b.String(), "\nr2_up 0\n")
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
