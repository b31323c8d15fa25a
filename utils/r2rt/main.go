// Command r2rt manages a running R2's IPv4 and IPv6 routing tables through
// its Route API: add or delete one route, load many from a file, show the
// tables or the route an address takes.
//
//	r2rt route 3.1.1.1/32 2.1.1.1 veth_r2_2
//	r2rt route 2001:db8:9::/48 fe80::1 veth_r2_2
//	r2rt load routes.txt
//	r2rt show all
//	r2rt show 3.1.1.1
//
// Run r2rt --help for the whole syntax. Exit status: 0 ok, 1 refused or
// failed, 2 bad command line.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/r2go/r2/apis/route"
	"github.com/r2go/r2/r2/api"
	"github.com/r2go/r2/utils/internal/client"
)

const prog = "r2rt"

// maxChunk is the most routes load sends per add_batch call: 10000 IPv4
// routes take at most 860 kB on the wire, under the server's default 1 MiB
// frame limit.
const maxChunk = 10000

// maxBatchBytes bounds the wire size of one add_batch call, under the
// server's default 1 MiB frame limit with room for the message envelope:
// IPv6 routes are longer than IPv4 ones (10000 with long prefixes and next
// hops take about 1.2 MB), so a batch also ends when it reaches this size.
const maxBatchBytes = 900 << 10

// wireSize is about how many bytes e takes in a batch: four strings, each
// with a 3-byte field header and a 4-byte length, and the stop byte.
func wireSize(e *route.RouteEntry) int {
	return 4*7 + len(e.Prefix) + len(e.Nexthop) + len(e.Ifname) + len(e.Kind) + 1
}

// maxLineErrors is how many bad lines load reports before giving up.
const maxLineErrors = 20

const helpMain = `usage: r2rt [-i NAME | -s PATH | -a HOST:PORT] COMMAND

Manage R2's IPv4 and IPv6 routing tables.

Commands:
  r2rt route PREFIX NEXTHOP IFNAME [NEXTHOP IFNAME]... [--del]
                           add (or delete) a route (several paths: ECMP)
  r2rt show all [-json]    show every route
  r2rt show ADDRESS [-json]
                           show the route ADDRESS takes (longest match)
  r2rt load FILE [--del]   add (or delete) the routes listed in FILE

Run 'r2rt route --help' (and so on) for details.

Flags:
` + client.FlagsHelp + "\n"

const helpRoute = `usage: r2rt route PREFIX NEXTHOP IFNAME [--del]
       r2rt route PREFIX NEXTHOP[@WEIGHT] IFNAME NEXTHOP[@WEIGHT] IFNAME...
       r2rt route PREFIX --del

Add a route to PREFIX (e.g. 3.1.1.0/24 or 2001:db8:9::/48, host bits zero)
through the gateway NEXTHOP on interface IFNAME. NEXTHOP "-" makes a
connected route (the destination is on IFNAME's link). An IPv6 NEXTHOP may
be link-local (fe80::1, without %zone: IFNAME is the interface). With
--del, delete the route to PREFIX.

With several NEXTHOP IFNAME pairs the route is multipath (ECMP): R2
spreads flows over the paths by a hash of addresses, protocol and ports
(addresses only for fragments), in proportion to the weights (1..256,
default 1); a path whose interface is down gives its flows to the others.

Examples: r2rt route 3.1.1.1/32 2.1.1.1 veth_r2_2
          r2rt route 2001:db8:9::/48 fe80::1 veth_r2_2
          r2rt route 10.0.0.0/8 10.1.0.1 eth0 10.2.0.1@3 eth1
`

const helpShow = `usage: r2rt show all [-json]
       r2rt show ADDRESS [-json]

"all" lists both tables, IPv4 then IPv6 (fetched page by page); an address
such as 3.1.1.1 or 2001:db8:9::5 shows the route it takes (the longest
matching prefix).

  -json    print JSON: a route is an object with the keys prefix, nexthop
           ("" for none), ifname and kind (and for a multipath route
           paths: [{nexthop, ifname, weight}, ...]); "show all" prints
           {"routes": [ROUTE, ...], "total": N} (written as it is fetched),
           "show ADDRESS" prints one ROUTE
`

const helpLoad = `usage: r2rt load FILE [--del] [--chunk N]

Add (or with --del delete) the routes listed in FILE ("-" for stdin), one
per line:

  PREFIX NEXTHOP IFNAME    # NEXTHOP "-" for a connected route

Blank lines and text after '#' are ignored. The whole file is checked
first; if a line is bad, nothing is sent and the bad lines are reported as
FILE:LINE. Routes are then sent in batches of --chunk (default and at most
10000; fewer if they would not fit in one message), each added all or
nothing.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func help(pos []string) string {
	if len(pos) > 0 {
		switch pos[0] {
		case "route":
			return helpRoute
		case "show":
			return helpShow
		case "load":
			return helpLoad
		}
	}
	return helpMain
}

// run is r2rt with its arguments and output streams; it returns the exit
// status.
func run(args []string, stdout, stderr io.Writer) int {
	var tgt client.Target
	fs := client.NewFlagSet(prog)
	tgt.AddFlags(fs)
	del := fs.Bool("del", false, "")
	chunk := fs.Int("chunk", maxChunk, "")
	asJSON := fs.Bool("json", false, "")
	pos, err := client.Parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, help(pos))
		return client.ExitOK
	}
	if err != nil {
		return client.Usagef(stderr, prog, "%v", err)
	}
	if err := tgt.Check(); err != nil {
		return client.Usagef(stderr, prog, "%v", err)
	}
	if len(pos) == 0 {
		return client.Usagef(stderr, prog, "missing command: route, show or load")
	}
	cmd, args := pos[0], pos[1:]
	if client.Set(fs, "del") && cmd != "route" && cmd != "load" {
		return client.Usagef(stderr, prog, "--del only goes with 'route' and 'load'")
	}
	if client.Set(fs, "json") && cmd != "show" {
		return client.Usagef(stderr, prog, "--json only goes with 'show'")
	}
	if client.Set(fs, "chunk") && (cmd != "load" || *chunk < 1 || *chunk > maxChunk) {
		return client.Usagef(stderr, prog, "--chunk goes with 'load' and takes 1 to %d", maxChunk)
	}

	var do func(c *api.Client) error
	switch cmd {
	case "route":
		var e route.RouteEntry
		switch {
		case len(args) == 3:
			e = entry(args[0], args[1], args[2])
		case len(args) >= 5 && len(args)%2 == 1 && !*del:
			// A multipath route: PREFIX NEXTHOP[@WEIGHT] IFNAME ...
			e = route.RouteEntry{Prefix: args[0]}
			for i := 1; i < len(args); i += 2 {
				nh, w, _ := strings.Cut(args[i], "@")
				one := entry(args[0], nh, args[i+1])
				pe := &route.PathEntry{Nexthop: one.Nexthop, Ifname: one.Ifname}
				if w != "" {
					n, err := strconv.Atoi(w)
					if err != nil {
						return client.Usagef(stderr, prog, "bad weight %q in %q", w, args[i])
					}
					pe.Weight = int32(n)
				}
				e.Paths = append(e.Paths, pe)
			}
		case len(args) == 1 && *del:
			e = route.RouteEntry{Prefix: args[0]}
		default:
			return client.Usagef(stderr, prog, "route takes PREFIX NEXTHOP IFNAME, with more NEXTHOP IFNAME pairs for a multipath route")
		}
		do = func(c *api.Client) error {
			if *del {
				return c.Route.DelRoute(context.Background(), &e)
			}
			return c.Route.AddRoute(context.Background(), &e)
		}
	case "show":
		if len(args) != 1 {
			return client.Usagef(stderr, prog, "show takes \"all\" or one address")
		}
		switch {
		case args[0] == "all" && *asJSON:
			do = func(c *api.Client) error { return showAllJSON(c.Route, stdout) }
		case args[0] == "all":
			do = func(c *api.Client) error { return showAll(c.Route, stdout) }
		default:
			do = func(c *api.Client) error { return lookup(c.Route, args[0], *asJSON, stdout) }
		}
	case "load":
		if len(args) != 1 {
			return client.Usagef(stderr, prog, "load takes one file name (\"-\" for stdin)")
		}
		// Read and check the whole file before connecting.
		routes, lines, bad, err := readFile(args[0], *del)
		if err != nil {
			return client.Fail(stderr, prog, err)
		}
		if len(bad) > 0 {
			for _, b := range bad {
				fmt.Fprintln(stderr, b)
			}
			fmt.Fprintf(stderr, "%s: %s has errors; nothing was sent\n", prog, args[0])
			return client.ExitFail
		}
		do = func(c *api.Client) error { return load(c.Route, args[0], routes, lines, *chunk, *del, stdout, stderr) }
	default:
		return client.Usagef(stderr, prog, "unknown command %q: want route, show or load", cmd)
	}

	c, err := client.Dial(tgt)
	if err != nil {
		return client.Fail(stderr, prog, err)
	}
	defer c.Close()
	if err := do(c); err != nil {
		return client.Fail(stderr, prog, err)
	}
	return client.ExitOK
}

// entry makes the wire form of a route from the command line's words.
func entry(prefix, nexthop, ifname string) route.RouteEntry {
	if nexthop == "-" {
		nexthop = ""
	}
	return route.RouteEntry{Prefix: prefix, Nexthop: nexthop, Ifname: ifname}
}

// rowFormat's columns fit IPv4 routes and common IPv6 ones (a /64 or
// shorter, an EUI-64 link-local next hop); longer values push the row on.
const rowFormat = "%-24s %-25s %-15s %s\n"

func printRoute(w io.Writer, e *route.RouteEntry) {
	nh := e.Nexthop
	if nh == "" {
		nh = "-"
	}
	if len(e.Paths) > 1 {
		// A multipath route: one row per path, the prefix on the first.
		for i, p := range e.Paths {
			prefix, kind := e.Prefix, "multipath"
			if i > 0 {
				prefix, kind = "", ""
			}
			nh := p.Nexthop
			if nh == "" {
				nh = "-"
			}
			fmt.Fprintf(w, rowFormat, prefix, nh+"@"+strconv.Itoa(int(max(p.Weight, 1))), p.Ifname, kind)
		}
		return
	}
	fmt.Fprintf(w, rowFormat, e.Prefix, nh, e.Ifname, e.Kind)
}

// showAll prints the table, fetched a page at a time (the server picks the
// page size).
func showAll(c *route.RouteClient, w io.Writer) error {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	fmt.Fprintf(bw, rowFormat, "PREFIX", "NEXTHOP", "IFNAME", "KIND")
	var offset, total int64
	for {
		page, err := c.Show(context.Background(), offset, 0)
		if err != nil {
			return err
		}
		total = page.Total
		for _, e := range page.Routes {
			printRoute(bw, e)
		}
		offset += int64(len(page.Routes))
		if len(page.Routes) == 0 || offset >= total {
			break
		}
	}
	fmt.Fprintf(bw, "%d routes\n", offset)
	return nil
}

func lookup(c *route.RouteClient, addr string, asJSON bool, w io.Writer) error {
	e, err := c.Lookup(context.Background(), addr)
	if err != nil {
		return err
	}
	if asJSON {
		b, err := json.MarshalIndent(toJSON(e), "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	fmt.Fprintf(w, rowFormat, "PREFIX", "NEXTHOP", "IFNAME", "KIND")
	printRoute(w, e)
	return nil
}

// jsonRoute is the stable JSON form of a route (show -json), kept apart
// from the API's generated type so the two can evolve separately.
type jsonRoute struct {
	Prefix  string `json:"prefix"`
	Nexthop string `json:"nexthop"`
	Ifname  string `json:"ifname"`
	Kind    string `json:"kind"`
	// Paths lists a multipath route's paths (absent otherwise).
	Paths []jsonPath `json:"paths,omitempty"`
}

// jsonPath is one path of a multipath route.
type jsonPath struct {
	Nexthop string `json:"nexthop"`
	Ifname  string `json:"ifname"`
	Weight  int    `json:"weight"`
}

func toJSON(e *route.RouteEntry) jsonRoute {
	r := jsonRoute{Prefix: e.Prefix, Nexthop: e.Nexthop, Ifname: e.Ifname, Kind: e.Kind}
	for _, p := range e.Paths {
		r.Paths = append(r.Paths, jsonPath{Nexthop: p.Nexthop, Ifname: p.Ifname, Weight: int(max(p.Weight, 1))})
	}
	return r
}

// showAllJSON is showAll as one JSON object, {"routes": [...], "total": N},
// written route by route so a whole Internet table needs no more memory
// than a page.
func showAllJSON(c *route.RouteClient, w io.Writer) error {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	bw.WriteString("{\"routes\": [")
	var offset, total int64
	for {
		page, err := c.Show(context.Background(), offset, 0)
		if err != nil {
			return err
		}
		total = page.Total
		for i, e := range page.Routes {
			b, err := json.Marshal(toJSON(e))
			if err != nil {
				return err
			}
			if offset > 0 || i > 0 {
				bw.WriteByte(',')
			}
			bw.WriteString("\n  ")
			bw.Write(b)
		}
		offset += int64(len(page.Routes))
		if len(page.Routes) == 0 || offset >= total {
			break
		}
	}
	fmt.Fprintf(bw, "\n], \"total\": %d}\n", offset)
	return nil
}

// readFile reads and checks a route file. It returns the routes with, for
// each, its line number, or descriptions ("FILE:LINE: what") of bad lines.
func readFile(name string, del bool) (routes []*route.RouteEntry, lines []int, bad []string, err error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, nil, nil, err
		}
		defer f.Close()
		r = f
	}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		var err error
		if len(f) != 3 {
			err = fmt.Errorf("want PREFIX NEXTHOP IFNAME, got %d fields", len(f))
		} else {
			e := entry(f[0], f[1], f[2])
			if _, err = api.ParseRoute(e.Prefix, e.Nexthop, e.Ifname, "", del); err == nil {
				routes = append(routes, &e)
				lines = append(lines, n)
			}
		}
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s:%d: %v", name, n, err))
			if len(bad) == maxLineErrors {
				bad = append(bad, fmt.Sprintf("%s: too many errors", name))
				break
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %v", name, err)
	}
	if len(bad) > 0 {
		return nil, nil, bad, nil
	}
	return routes, lines, nil, nil
}

// load sends routes in batches and reports how it went.
func load(c *route.RouteClient, name string, routes []*route.RouteEntry, lines []int, chunk int, del bool, stdout, stderr io.Writer) error {
	verb, send := "loaded", c.AddBatch
	if del {
		verb, send = "deleted", c.DelBatch
	}
	start := time.Now()
	for i, j := 0, 0; i < len(routes); i = j {
		// The batch is routes[i:j]: at most chunk routes, at most
		// maxBatchBytes on the wire.
		for size := 0; j < len(routes) && j-i < chunk; j++ {
			if size += wireSize(routes[j]); size > maxBatchBytes && j > i {
				break
			}
		}
		if err := send(context.Background(), routes[i:j]); err != nil {
			fmt.Fprintf(stderr, "%s: %s lines %d-%d: %s\n", prog, name, lines[i], lines[j-1], client.Message(err))
			return fmt.Errorf("%s %d routes (those before line %d); the batch from line %d on and the rest were not",
				verb, i, lines[i], lines[i])
		}
	}
	d := time.Since(start)
	rate := ""
	if d > 0 && len(routes) > 0 {
		rate = fmt.Sprintf(" (%.0f routes/s)", float64(len(routes))/d.Seconds())
	}
	fmt.Fprintf(stdout, "%s %d routes from %s in %v%s\n", verb, len(routes), name, d.Round(time.Millisecond), rate)
	return nil
}
