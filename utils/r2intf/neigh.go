package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/r2go/r2/apis/intf"
	"github.com/r2go/r2/utils/internal/client"
)

const helpNeigh = `usage: r2intf IFNAME neigh add ADDR MAC [--kernel]
       r2intf IFNAME neigh del ADDR
       r2intf [IFNAME] neigh show [-json]

R2's neighbours (ARP for IPv4, neighbour discovery for IPv6).

  add           set the MAC of ADDR (IPv4 or IPv6, on a connected subnet of
                IFNAME, or IPv6 link-local) on IFNAME: a static neighbour,
                used at once, never aged or re-asked for, not overwritten
                by learning. --kernel marks it as the kernel follower's
                (r2follow adds and removes those; an operator rarely wants it).
  del           remove R2's neighbour ADDR on IFNAME, whatever its kind
                (a learned one is asked for again when next used).
  show          every neighbour (or IFNAME's): address, MAC, kind (learned,
                static, kernel), state (static; reachable: confirmed in the
                last 30 s; stale: older, re-asked when used; incomplete:
                being resolved; failed: did not answer, multipath routes
                avoid it) and age in seconds.
  -json         print a JSON array of objects with the keys ifname, addr,
                mac ("" while incomplete or failed), kind, state and age_ms

Example: r2intf eth1 neigh add 10.2.0.1 02:00:00:00:00:02
`

// runNeigh runs the neigh commands; ok is false when args are not one.
func runNeigh(args []string, stdout, stderr io.Writer) (code int, ok bool) {
	var tgt client.Target
	fs := client.NewFlagSet(prog)
	tgt.AddFlags(fs)
	asJSON := fs.Bool("json", false, "")
	kernel := fs.Bool("kernel", false, "")
	pos, err := client.Parse(fs, args)
	var ifname string
	switch {
	case len(pos) >= 1 && pos[0] == "neigh":
		pos = pos[1:]
	case len(pos) >= 2 && pos[1] == "neigh":
		ifname, pos = pos[0], pos[2:]
	default:
		return 0, false
	}
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, helpNeigh)
		return client.ExitOK, true
	}
	usage := func(format string, a ...any) (int, bool) { return client.Usagef(stderr, prog, format, a...), true }
	if err != nil {
		return usage("%v", err)
	}
	if err := tgt.Check(); err != nil {
		return usage("%v", err)
	}
	if len(pos) == 0 {
		return usage("neigh: missing command: add, del or show")
	}
	ctx := context.Background()
	var do func(c *intf.InterfaceClient) error
	cmd, rest := pos[0], pos[1:]
	switch cmd {
	case "add":
		switch {
		case ifname == "":
			return usage("neigh add needs the interface: r2intf IFNAME neigh add ADDR MAC")
		case len(rest) != 2:
			return usage("neigh add takes ADDR and MAC, e.g. 10.2.0.1 02:00:00:00:00:02")
		}
		kind := "static"
		if *kernel {
			kind = "kernel"
		}
		do = func(c *intf.InterfaceClient) error { return c.AddNeighbour(ctx, ifname, rest[0], rest[1], kind) }
	case "del":
		switch {
		case ifname == "":
			return usage("neigh del needs the interface: r2intf IFNAME neigh del ADDR")
		case len(rest) != 1:
			return usage("neigh del takes ADDR")
		}
		do = func(c *intf.InterfaceClient) error { return c.DelNeighbour(ctx, ifname, rest[0]) }
	case "show":
		if len(rest) != 0 {
			return usage("neigh show takes no arguments, got %q", rest)
		}
		do = func(c *intf.InterfaceClient) error { return showNeighbours(c, ifname, *asJSON, stdout) }
	default:
		return usage("neigh: unknown command %q: want add, del or show", cmd)
	}
	if client.Set(fs, "json") && cmd != "show" {
		return usage("--json only goes with 'neigh show'")
	}
	if client.Set(fs, "kernel") && cmd != "add" {
		return usage("--kernel only goes with 'neigh add'")
	}
	c, err := client.Dial(tgt)
	if err != nil {
		return client.Fail(stderr, prog, err), true
	}
	defer c.Close()
	if err := do(c.Interface); err != nil {
		return client.Fail(stderr, prog, err), true
	}
	return client.ExitOK, true
}

// jsonNeigh is the stable JSON form of a neighbour (neigh show -json).
type jsonNeigh struct {
	Ifname string `json:"ifname"`
	Addr   string `json:"addr"`
	MAC    string `json:"mac"`
	Kind   string `json:"kind"`
	State  string `json:"state"`
	AgeMs  int64  `json:"age_ms"`
}

func showNeighbours(c *intf.InterfaceClient, ifname string, asJSON bool, w io.Writer) error {
	ns, err := c.ShowNeighbours(context.Background(), ifname)
	if err != nil {
		return err
	}
	if asJSON {
		out := make([]jsonNeigh, 0, len(ns))
		for _, n := range ns {
			out = append(out, jsonNeigh{Ifname: n.Ifname, Addr: n.Addr, MAC: n.Mac, Kind: n.Kind, State: n.State, AgeMs: n.AgeMs})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	const format = "%-15s %-39s %-17s %-8s %-10s %s\n"
	fmt.Fprintf(w, format, "INTERFACE", "ADDRESS", "MAC", "KIND", "STATE", "AGE")
	for _, n := range ns {
		mac := n.Mac
		if mac == "" {
			mac = "-"
		}
		age := (time.Duration(n.AgeMs) * time.Millisecond).Round(100 * time.Millisecond)
		fmt.Fprintf(w, format, n.Ifname, n.Addr, mac, n.Kind, n.State, fmt.Sprintf("%.1fs", age.Seconds()))
	}
	return nil
}
