package api_test

import (
	"strings"
	"testing"
	"time"

	"github.com/r2go/r2/apis/graphapi"
	"github.com/r2go/r2/r2/api"
	"github.com/r2go/r2/r2/api/apitest"
	"github.com/r2go/r2/r2/graph"
)

func TestGraphService(t *testing.T) {
	b := apitest.New()
	b.G.Packets = []graph.Record{{Time: time.Unix(5, 6), OrigLen: 60, Thread: 1, Data: []byte{1, 2, 3}}}
	_, path := apitest.Serve(t, b, api.Options{})
	c := dial(t, path)

	must(t, c.Graph.SetRuntime(ctx, true))
	if on, err := c.Graph.Runtime(ctx); err != nil || !on {
		t.Errorf("runtime = %v, %v", on, err)
	}
	g, err := c.Graph.Graph(ctx, 1)
	if err != nil || g.Thread != 1 || g.Threads != 2 || len(g.Nodes) != len(apitest.DefaultNodes) ||
		g.Nodes[2].Edges[1].To != "L3Parse" || g.Nodes[2].Edges[1].Pkts != 11 {
		t.Errorf("graph = %+v, %v", g, err)
	}

	spec := &graphapi.CaptureSpec{Node: "L3Parse", FromNode: "EtherDecap:veth0", LeaseMs: 3000, Snap: 100,
		Filter: []*graphapi.BpfInsn{{Code: 0x6, K: 0x40000}}}
	h, err := c.Graph.CaptureStart(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	got := b.G.Specs[0]
	if got.Node != "L3Parse" || got.From != "EtherDecap:veth0" || got.Snap != 100 || len(got.Filter) != 1 || got.Filter[0].K != 0x40000 || b.G.Leases[0] != 3*time.Second {
		t.Errorf("backend got %+v, lease %v", got, b.G.Leases[0])
	}
	batch, err := c.Graph.CaptureRead(ctx, h, 10)
	if err != nil || len(batch.Pkts) != 1 || batch.Pkts[0].TsNs != 5_000_000_006 || batch.Pkts[0].OrigLen != 60 ||
		batch.Pkts[0].Thread != 1 || string(batch.Pkts[0].Data) != "\x01\x02\x03" || batch.Matched != 1 {
		t.Errorf("read = %+v, %v", batch, err)
	}
	must(t, c.Graph.CaptureStop(ctx, h))
	if _, err := c.Graph.CaptureRead(ctx, h, 10); err == nil || !strings.Contains(why(t, err), "no such capture") {
		t.Errorf("read after stop: %v", err)
	}

	bad := []struct {
		name string
		spec *graphapi.CaptureSpec
		want string
	}{
		{"no node", &graphapi.CaptureSpec{LeaseMs: 5000}, "no node"},
		{"short lease", &graphapi.CaptureSpec{Node: "L3Parse", LeaseMs: 10}, "lease"},
		{"long lease", &graphapi.CaptureSpec{Node: "L3Parse", LeaseMs: 1 << 30}, "lease"},
		{"negative snap", &graphapi.CaptureSpec{Node: "L3Parse", LeaseMs: 5000, Snap: -1}, "snap"},
		{"big ring", &graphapi.CaptureSpec{Node: "L3Parse", LeaseMs: 5000, RingKb: 1 << 30}, "ring_kb"},
		{"bad opcode", &graphapi.CaptureSpec{Node: "L3Parse", LeaseMs: 5000, Filter: []*graphapi.BpfInsn{{Code: 0xffff}}}, "filter"},
		{"out of range", &graphapi.CaptureSpec{Node: "L3Parse", LeaseMs: 5000, Filter: []*graphapi.BpfInsn{{Code: 6, K: -1}}}, "out of range"},
		{"jump out", &graphapi.CaptureSpec{Node: "L3Parse", LeaseMs: 5000, Filter: []*graphapi.BpfInsn{{Code: 0x15, Jt: 9}, {Code: 6}}}, "filter"},
		{"no such node", &graphapi.CaptureSpec{Node: "Nope", LeaseMs: 5000}, "no such node"},
		{"long name", &graphapi.CaptureSpec{Node: strings.Repeat("x", 300), LeaseMs: 5000}, "node name"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Graph.CaptureStart(ctx, tc.spec)
			if err == nil || !strings.Contains(why(t, err), tc.want) {
				t.Errorf("got %v, want an error about %q", err, tc.want)
			}
		})
	}
	if _, err := c.Graph.Graph(ctx, 2); err == nil || !strings.Contains(why(t, err), "no thread 2") {
		t.Errorf("graph of thread 2: %v", err)
	}
	if _, err := c.Graph.CaptureRead(ctx, 1, 0); err == nil || !strings.Contains(why(t, err), "max") {
		t.Errorf("read of 0: %v", err)
	}
}
