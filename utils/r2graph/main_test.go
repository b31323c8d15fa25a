package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/r2go/r2/apis/graphapi"
	"github.com/r2go/r2/r2/api"
	"github.com/r2go/r2/r2/api/apitest"
	"github.com/r2go/r2/r2/graph"
)

func runGraph(args ...string) (int, string, string) {
	var o, e strings.Builder
	code := run(args, &o, &e)
	return code, o.String(), e.String()
}

func serve(t *testing.T) (*apitest.Backend, string) {
	b := apitest.New()
	b.G.Nodes = append(append([]graph.NodeInfo(nil), apitest.DefaultNodes...),
		graph.NodeInfo{Name: `odd "name" \ here`, Rank: 1000, Edges: []graph.EdgeInfo{{To: "Drop", Pkts: 1}}})
	_, sock := apitest.Serve(t, b, api.Options{})
	return b, sock
}

// TestDOT checks that the DOT output parses with Graphviz's dot and
// contains every node and edge.
func TestDOT(t *testing.T) {
	b, sock := serve(t)
	code, out, e := runGraph("-s", sock, "-dot", "-t", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e)
	}
	if _, err := exec.LookPath("dot"); err != nil {
		t.Fatalf("dot not found: install Debian package graphviz (%v)", err)
	}
	CheckDOT(t, out, b.G.Nodes)
	if !strings.Contains(out, `"L3Parse" -> "EtherEncap:veth0" [label="[1] 10"]`) {
		t.Errorf("edge missing:\n%s", out)
	}
}

// CheckDOT renders dot with Graphviz and checks every node is there.
func CheckDOT(t *testing.T, dot string, nodes []graph.NodeInfo) {
	t.Helper()
	cmd := exec.Command("dot", "-Tsvg")
	cmd.Stdin = strings.NewReader(dot)
	var svg, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &svg, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("dot -Tsvg: %v: %s\n%s", err, stderr.String(), dot)
	}
	for _, n := range nodes {
		if !strings.Contains(dot, quote(n.Name)) {
			t.Errorf("node %s not in the DOT", n.Name)
		}
	}
	if !strings.Contains(svg.String(), "<svg") {
		t.Errorf("no SVG")
	}
}

func TestText(t *testing.T) {
	_, sock := serve(t)
	code, out, _ := runGraph("-s", sock)
	if code != 0 || !strings.Contains(out, "thread 0 of 2: 6 nodes, 9 edges") || !strings.Contains(out, "-> EtherDecap:veth0") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	code, out, _ = runGraph("-s", sock, "-z")
	if code != 0 || strings.Contains(out, "[0]") || strings.Count(out, "->") != 6 {
		t.Errorf("-z: exit %d:\n%s", code, out)
	}
	code, out, _ = runGraph("-s", sock, "-json")
	var g graphapi.ThreadGraph
	if code != 0 || json.Unmarshal([]byte(out), &g) != nil || len(g.Nodes) != 6 {
		t.Errorf("-json: exit %d:\n%s", code, out)
	}
}

func TestErrors(t *testing.T) {
	_, sock := serve(t)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no thread", []string{"-s", sock, "-t", "5"}, 1, "no thread 5"},
		{"negative thread", []string{"-s", sock, "-t", "-1"}, 2, "numbered from 0"},
		{"exclusive", []string{"-s", sock, "-dot", "-json"}, 2, "exclusive"},
		{"argument", []string{"-s", sock, "x"}, 2, "unexpected"},
		{"no daemon", []string{"-i", "nosuchinstance"}, 1, "is r2 running"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, e := runGraph(tc.args...)
			if code != tc.code || !strings.Contains(e, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d, %q", code, e, tc.code, tc.want)
			}
		})
	}
	if code, out, _ := runGraph("--help"); code != 0 || !strings.Contains(out, "usage: r2graph") {
		t.Errorf("--help: %d", code)
	}
}
