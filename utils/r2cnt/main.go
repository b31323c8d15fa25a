// Command r2cnt prints R2's counters. It maps the daemon's counters file
// (/dev/shm/r2-INSTANCE-counters) read-only and never talks to the daemon,
// so it is safe to run in a loop on a busy router.
//
// Usage:
//
//	r2cnt [-i INSTANCE | -f FILE] [-z] [-t] [-json] [PATTERN ...]
//
// PATTERNs select counters whose name contains any of them (e.g. "IfNode:",
// "no_route"). -z hides counters that are zero, -t adds per-thread values.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/api"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: r2cnt [-i INSTANCE | -f FILE] [-z] [-t] [-json] [PATTERN ...]\n\n"+
		"Print R2's counters from shared memory (read-only; the daemon is not asked).\n"+
		"PATTERNs keep counters whose name contains any of them.\n\n")
	fs.PrintDefaults()
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("r2cnt", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	instance := fs.String("i", "default", "r2 instance `name`")
	file := fs.String("f", "", "counters `file` (overrides -i)")
	nonzero := fs.Bool("z", false, "hide counters whose values are all zero")
	perThread := fs.Bool("t", false, "show per-thread values")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			usage(stdout, fs)
			return 0
		}
		fmt.Fprintf(stderr, "r2cnt: %v\n", err)
		usage(stderr, fs)
		return 2
	}
	path := *file
	if path == "" {
		if err := api.CheckInstance(*instance); err != nil {
			fmt.Fprintf(stderr, "r2cnt: -i: %v\n", err)
			return 2
		}
		path = counters.InstancePath(*instance)
	}
	es, err := counters.ReadFile(path)
	if err != nil {
		if os.IsNotExist(unwrapAll(err)) {
			fmt.Fprintf(stderr, "r2cnt: no counters at %s: is r2 running (instance %s)?\n", path, *instance)
		} else {
			fmt.Fprintf(stderr, "r2cnt: %v\n", err)
		}
		return 1
	}
	var out []counters.Total
	for _, t := range counters.Totals(es) {
		if len(fs.Args()) > 0 && !matches(t.Name, fs.Args()) {
			continue
		}
		if *nonzero && allZero(t.Sum) {
			continue
		}
		out = append(out, t)
	}
	if *asJSON {
		return printJSON(stdout, stderr, out, *perThread)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, t := range out {
		fmt.Fprintf(tw, "%s\t%s", t.Name, values(t.Kind, t.Sum))
		if *perThread {
			threads := make([]int, 0, len(t.PerThread))
			for th := range t.PerThread {
				threads = append(threads, th)
			}
			sort.Ints(threads)
			for _, th := range threads {
				fmt.Fprintf(tw, "\tt%d: %s", th, values(t.Kind, t.PerThread[th]))
			}
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	return 0
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func matches(name string, pats []string) bool {
	for _, p := range pats {
		if strings.Contains(name, p) {
			return true
		}
	}
	return false
}

func allZero(v []uint64) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

func values(k counters.Kind, v []uint64) string {
	switch {
	case k == counters.KindPktByte && len(v) == 2:
		return fmt.Sprintf("%d pkts %d bytes", v[0], v[1])
	case len(v) == 1:
		return fmt.Sprint(v[0])
	}
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return "[" + strings.Join(s, " ") + "]"
}

type jsonCounter struct {
	Name      string              `json:"name"`
	Kind      string              `json:"kind"`
	Total     []uint64            `json:"total"`
	PerThread map[string][]uint64 `json:"per_thread,omitempty"`
}

func printJSON(stdout, stderr io.Writer, ts []counters.Total, perThread bool) int {
	out := make([]jsonCounter, 0, len(ts))
	for _, t := range ts {
		j := jsonCounter{Name: t.Name, Kind: t.Kind.String(), Total: t.Sum}
		if perThread {
			j.PerThread = map[string][]uint64{}
			for th, v := range t.PerThread {
				j.PerThread[fmt.Sprint(th)] = v
			}
		}
		out = append(out, j)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintf(stderr, "r2cnt: %v\n", err)
		return 1
	}
	return 0
}
