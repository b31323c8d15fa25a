// Command r2graph prints a forwarding thread's live graph: its nodes in run
// order, each node's next nodes by index and the packets pushed along each
// edge, as text, JSON, or Graphviz DOT (-dot; render with
// `r2graph -dot | dot -Tsvg > graph.svg`).
//
// Usage:
//
//	r2graph [-i NAME | -s PATH | -a HOST:PORT] [-t THREAD] [-dot | -json] [-z]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/r2go/r2/apis/graphapi"
	"github.com/r2go/r2/utils/internal/client"
)

const help = `usage: r2graph [-i NAME | -s PATH | -a HOST:PORT] [-t THREAD] [-dot | -json] [-z]

Print a forwarding thread's graph as the router runs it: nodes in run order
with the packets pushed into them (enq), and each node's edges by next index
(0 is Drop) with the packets pushed along them since the node was added.

` + client.FlagsHelp + `
  -t THREAD     the forwarding thread (default 0)
  -dot          Graphviz DOT: edges labelled with their packets, unused ones dashed
                (r2graph -dot | dot -Tsvg > graph.svg)
  -json         the API's answer as JSON
  -z            leave out edges that carried no packets
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := client.NewFlagSet("r2graph")
	var tgt client.Target
	tgt.AddFlags(fs)
	thread := fs.Int("t", 0, "")
	dot := fs.Bool("dot", false, "")
	asJSON := fs.Bool("json", false, "")
	nonzero := fs.Bool("z", false, "")
	pos, err := client.Parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, help)
		return client.ExitOK
	}
	if err != nil {
		return client.Usagef(stderr, "r2graph", "%v", err)
	}
	if len(pos) > 0 {
		return client.Usagef(stderr, "r2graph", "unexpected argument %q", pos[0])
	}
	if *dot && *asJSON {
		return client.Usagef(stderr, "r2graph", "-dot and -json are exclusive")
	}
	if *thread < 0 {
		return client.Usagef(stderr, "r2graph", "-t %d: threads are numbered from 0", *thread)
	}
	if err := tgt.Check(); err != nil {
		return client.Usagef(stderr, "r2graph", "%v", err)
	}
	c, err := client.Dial(tgt)
	if err != nil {
		fmt.Fprintf(stderr, "r2graph: %v\n", err)
		return client.ExitFail
	}
	defer c.Close()
	g, err := c.Graph.Graph(context.Background(), int32(*thread))
	if err != nil {
		return client.Fail(stderr, "r2graph", err)
	}
	if *nonzero {
		for _, n := range g.Nodes {
			var keep []*graphapi.Edge
			for _, e := range n.Edges {
				if e.Pkts > 0 {
					keep = append(keep, e)
				}
			}
			n.Edges = keep
		}
	}
	switch {
	case *asJSON:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(g)
	case *dot:
		writeDOT(stdout, g, *nonzero)
	default:
		writeText(stdout, g, *nonzero)
	}
	return client.ExitOK
}

func writeText(w io.Writer, g *graphapi.ThreadGraph, nonzero bool) {
	edges := 0
	for _, n := range g.Nodes {
		edges += len(n.Edges)
	}
	fmt.Fprintf(w, "thread %d of %d: %d nodes, %d edges\n", g.Thread, g.Threads, len(g.Nodes), edges)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, n := range g.Nodes {
		fmt.Fprintf(tw, "%s\trank %d\tenq %d\t\n", n.Name, n.Rank, n.Enq)
		for i, e := range n.Edges {
			idx := fmt.Sprintf("[%d]", i)
			if nonzero {
				idx = ""
			}
			fmt.Fprintf(tw, "  %s-> %s\t\t%d\t\n", idx, e.To, e.Pkts)
		}
	}
	tw.Flush()
}

// quote makes a DOT string literal.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

func writeDOT(w io.Writer, g *graphapi.ThreadGraph, nonzero bool) {
	fmt.Fprintf(w, "digraph %s {\n", quote(fmt.Sprintf("r2 thread %d", g.Thread)))
	fmt.Fprintln(w, "  rankdir=LR;")
	fmt.Fprintln(w, `  node [shape=box, fontname="monospace"];`)
	fmt.Fprintln(w, `  edge [fontname="monospace", fontsize=10];`)
	for _, n := range g.Nodes {
		attrs := ""
		if n.Name == "Drop" {
			attrs = ", style=filled, fillcolor=lightgrey"
		}
		fmt.Fprintf(w, "  %s [label=%s%s];\n", quote(n.Name), quote(fmt.Sprintf("%s\nenq %d", n.Name, n.Enq)), attrs)
	}
	for _, n := range g.Nodes {
		for i, e := range n.Edges {
			style := ""
			if e.Pkts == 0 {
				style = ", style=dashed, color=grey"
			}
			label := fmt.Sprint(e.Pkts)
			if !nonzero {
				label = fmt.Sprintf("[%d] %d", i, e.Pkts)
			}
			fmt.Fprintf(w, "  %s -> %s [label=%s%s];\n", quote(n.Name), quote(e.To), quote(label), style)
		}
	}
	fmt.Fprintln(w, "}")
}
