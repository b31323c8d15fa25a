//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The operating utilities, built on first use (TestMain builds the others).
var obsBuild sync.Map // tool -> error

func tool(t *testing.T, name string) {
	t.Helper()
	v, _ := obsBuild.LoadOrStore(name, new(sync.Once))
	once := v.(*sync.Once)
	var err error
	once.Do(func() {
		out, e := exec.Command("go", "build", "-o", filepath.Join(bin, name), "github.com/r2go/r2/utils/"+name).CombinedOutput()
		if e != nil {
			err = fmt.Errorf("build %s: %v\n%s", name, e, out)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
		t.Fatalf("%s not built", name)
	}
}

// need fails the test if a command-line tool is missing.
func need(t *testing.T, cmd, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(cmd); err != nil {
		t.Fatalf("%s not found: install Debian package %s", cmd, pkg)
	}
}

// capture is a running r2cap.
type capture struct {
	cmd    *exec.Cmd
	stderr *syncBuf
	done   chan error
}

// startCap starts r2cap with args and waits until it captures.
func startCap(t *testing.T, d *daemon, args ...string) *capture {
	t.Helper()
	c := &capture{stderr: &syncBuf{}, done: make(chan error, 1)}
	c.cmd = exec.Command(filepath.Join(bin, "r2cap"), append([]string{"-i", d.instance}, args...)...)
	c.cmd.Stderr = c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() { c.cmd.Process.Kill() })
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(c.stderr.String(), "capturing") {
		select {
		case err := <-c.done:
			t.Fatalf("r2cap %v exited: %v\n%s", args, err, c.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("r2cap %v did not start:\n%s", args, c.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return c
}

// wait waits for r2cap to finish by itself.
func (c *capture) wait(t *testing.T) string {
	t.Helper()
	select {
	case err := <-c.done:
		if err != nil {
			t.Fatalf("r2cap: %v\n%s", err, c.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("r2cap did not finish:\n%s", c.stderr.String())
	}
	return c.stderr.String()
}

// tsharkFields reads a pcap file with tshark.
func tsharkFields(t *testing.T, file string, fields ...string) []string {
	t.Helper()
	args := []string{"-r", file, "-T", "fields"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command("tshark", args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("tshark %v: %v\n%s", args, err, errb.String())
	}
	s := strings.TrimSpace(out.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// TestOperate runs the operating utilities against a real daemon: r2cap
// captures a ping flow on a node's input and on an edge with filters and
// the result read by tshark equals what was sent; a killed r2cap's capture
// ends with its lease; r2graph's DOT renders and its edge counts follow
// the traffic; r2top shows the nodes the traffic crossed.
func TestOperate(t *testing.T) {
	need(t, "tshark", "tshark")
	need(t, "tcpdump", "tcpdump")
	need(t, "dot", "graphviz")
	for _, name := range []string{"r2cap", "r2graph", "r2top"} {
		tool(t, name)
	}
	tp := newTopo(t)
	d := startR2(t, uniqueInstance(t), "-threads", "1")
	attach(t, d, tp, 0, 0)
	pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 3) // neighbours resolved
	dir := t.TempDir()
	encapB := "EtherEncap:" + tp.RouterIfB

	t.Run("capture", func(t *testing.T) {
		icmp := filepath.Join(dir, "icmp.pcap")
		udp := filepath.Join(dir, "udp.pcap")
		edge := filepath.Join(dir, "edge.pcap")
		ci := startCap(t, d, "-c", "20", "-w", icmp, encapB, "icmp")
		cu := startCap(t, d, "-c", "5", "-w", udp, encapB, "udp")
		ce := startCap(t, d, "-c", "40", "-w", edge, "-from", "IPv4Fwd", "EncapMux")
		before := graphEdge(t, d, "IPv4Fwd", "EncapMux")
		pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 20)
		for i := 0; i < 5; i++ {
			// Bash's /dev/udp: a 2-byte datagram (h2 answers port unreachable).
			if out, err := tp.Exec(tp.H1NS, "bash", "-c", fmt.Sprintf("echo -n u%d > /dev/udp/10.2.0.1/%d", i, 40000+i)).CombinedOutput(); err != nil {
				t.Fatalf("udp send: %v %s", err, out)
			}
		}
		if s := ci.wait(t); !strings.Contains(s, "20 packets written") {
			t.Errorf("icmp capture: %s", s)
		}
		cu.wait(t)
		ce.wait(t)

		// What was sent: 20 echo requests from h1, 98 bytes, in order.
		var want []string
		for i := 1; i <= 20; i++ {
			want = append(want, fmt.Sprintf("98\t10.1.0.1\t10.2.0.1\t8\t%d", i))
		}
		got := tsharkFields(t, icmp, "frame.len", "ip.src", "ip.dst", "icmp.type", "icmp.seq")
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("icmp capture read by tshark:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// 2-byte datagrams ("u0"...): 44 bytes before the wire pads them.
		got = tsharkFields(t, udp, "frame.len", "ip.src", "udp.dstport", "icmp.type")
		for i, l := range got {
			if w := fmt.Sprintf("44\t10.1.0.1\t%d", 40000+i); strings.TrimRight(l, "\t") != w {
				t.Errorf("udp packet %d: %q, want %q", i, l, w)
			}
		}
		if len(got) != 5 {
			t.Errorf("udp capture: %d packets, want 5:\n%s", len(got), strings.Join(got, "\n"))
		}
		// The edge IPv4Fwd -> EncapMux carries both directions, each in
		// order (a reply may come after the next request: ping does not
		// wait for it).
		got = tsharkFields(t, edge, "frame.len", "ip.src", "icmp.type", "icmp.seq")
		if len(got) != 40 {
			t.Fatalf("edge capture: %d packets, want 40:\n%s", len(got), strings.Join(got, "\n"))
		}
		var reqs, reps []string
		for _, l := range got {
			if strings.Contains(l, "\t10.1.0.1\t8\t") {
				reqs = append(reqs, l)
			} else {
				reps = append(reps, l)
			}
		}
		for i := 0; i < 20; i++ {
			if i >= len(reqs) || reqs[i] != fmt.Sprintf("98\t10.1.0.1\t8\t%d", i+1) ||
				i >= len(reps) || reps[i] != fmt.Sprintf("98\t10.2.0.1\t0\t%d", i+1) {
				t.Fatalf("edge capture: want requests and replies 1 to 20 in order:\n%s", strings.Join(got, "\n"))
			}
		}
		if n := graphEdge(t, d, "IPv4Fwd", "EncapMux") - before; n < 40 {
			t.Errorf("r2graph: IPv4Fwd -> EncapMux grew by %d, want at least 40", n)
		}
	})

	t.Run("stdout to tcpdump", func(t *testing.T) {
		cmd := exec.Command("sh", "-c", fmt.Sprintf("%s -i %s -q -c 4 -w - IPv4Fwd icmp | tcpdump -n -r -",
			filepath.Join(bin, "r2cap"), d.instance))
		var out, errb syncBuf
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 2)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("r2cap | tcpdump: %v\n%s", err, errb.String())
		}
		if n := strings.Count(out.String(), "ICMP echo"); n != 4 {
			t.Errorf("tcpdump read %d echo packets, want 4:\n%s", n, out.String())
		}
	})

	t.Run("killed capture ends", func(t *testing.T) {
		var cs []*capture
		for i := 0; i < 8; i++ {
			cs = append(cs, startCap(t, d, "-w", os.DevNull, "L3Parse"))
		}
		if _, e, code := d.run("r2cap", "-c", "1", "L3Parse"); code != 1 || !strings.Contains(e, "capture slot") {
			t.Errorf("9th capture: exit %d %q, want busy", code, e)
		}
		for _, c := range cs {
			c.cmd.Process.Signal(syscall.SIGKILL)
			<-c.done
		}
		time.Sleep(6500 * time.Millisecond) // the 5 s lease
		if _, e, code := d.run("r2cap", "-T", "0.1", "L3Parse"); code != 0 {
			t.Errorf("capture after the leases ran out: exit %d %q", code, e)
		}
	})

	t.Run("graph", func(t *testing.T) {
		dot := d.must(t, "r2graph", "-dot")
		cmd := exec.Command("dot", "-Tsvg", "-o", os.DevNull)
		cmd.Stdin = strings.NewReader(dot)
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Fatalf("dot -Tsvg: %v %s\n%s", err, out, dot)
		}
		for _, n := range graphNodes(t, d) {
			if !strings.Contains(dot, fmt.Sprintf("%q [label=", n)) {
				t.Errorf("node %s not in the DOT", n)
			}
		}
	})

	t.Run("top", func(t *testing.T) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			tp.Ping(tp.H1NS, "10.2.0.1", 15, 100*time.Millisecond)
		}()
		out := d.must(t, "r2top", "-n", "1", "-json")
		<-done
		var r struct {
			Nodes []struct {
				Node     string  `json:"node"`
				Pkts     uint64  `json:"pkts"`
				NsPerPkt float64 `json:"ns_per_pkt"`
			} `json:"nodes"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("r2top -json: %v\n%s", err, out)
		}
		seen := map[string]bool{}
		for _, n := range r.Nodes {
			if n.Pkts > 0 && n.NsPerPkt > 0 {
				seen[n.Node] = true
			}
		}
		for _, n := range []string{"IPv4Fwd", "L3Parse", encapB, "EtherDecap:" + tp.RouterIfA} {
			if !seen[n] {
				t.Errorf("r2top shows no packets for %s:\n%s", n, out)
			}
		}
		// r2top switched the statistics off again.
		c1 := d.counter(t, "IPv4Fwd/rt_pkts")
		pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 3)
		if c2 := d.counter(t, "IPv4Fwd/rt_pkts"); c2 != c1 {
			t.Errorf("runtime statistics still on after r2top exited: %d -> %d", c1, c2)
		}
	})
}

type graphJSON struct {
	Nodes []struct {
		Name  string `json:"name"`
		Edges []struct {
			To   string `json:"to"`
			Pkts int64  `json:"pkts"`
		} `json:"edges"`
	} `json:"nodes"`
}

func readGraph(t *testing.T, d *daemon) graphJSON {
	t.Helper()
	var g graphJSON
	if out := d.must(t, "r2graph", "-json"); json.Unmarshal([]byte(out), &g) != nil {
		t.Fatalf("r2graph -json: %s", out)
	}
	return g
}

func graphNodes(t *testing.T, d *daemon) []string {
	var ns []string
	for _, n := range readGraph(t, d).Nodes {
		ns = append(ns, n.Name)
	}
	if len(ns) < 8 {
		t.Fatalf("graph has %d nodes: %v", len(ns), ns)
	}
	return ns
}

func graphEdge(t *testing.T, d *daemon, from, to string) int64 {
	t.Helper()
	for _, n := range readGraph(t, d).Nodes {
		if n.Name == from {
			for _, e := range n.Edges {
				if e.To == to {
					return e.Pkts
				}
			}
		}
	}
	t.Fatalf("no edge %s -> %s", from, to)
	return 0
}
