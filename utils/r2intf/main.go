// Command r2intf attaches Linux interfaces to a running R2, gives them
// addresses and shows them, through R2's Interface API.
//
//	r2intf veth_r2_1 add 0 8a:61:da:68:46:76
//	r2intf veth_r2_1 ip 1.1.1.2/24
//	r2intf veth_r2_1 ip 2001:db8:1::2/64
//	r2intf show
//	r2intf veth_r2_2 neigh add 10.2.0.1 02:00:00:00:00:02
//	r2intf neigh show
//
// Run r2intf --help for the whole syntax. The command line's shape is checked
// here (exit status 2 if wrong); the values (names, addresses, MACs) are
// judged by R2, whose refusal is printed as is (exit status 1).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/r2go/r2/apis/intf"
	"github.com/r2go/r2/utils/internal/client"
)

const prog = "r2intf"

const helpMain = `usage: r2intf [-i NAME | -s PATH | -a HOST:PORT] COMMAND

Attach Linux interfaces to R2, give them addresses, and show them.

Commands:
  r2intf IFNAME add IFINDEX|auto [MAC] [--thread N | --threads N,M,...] [--driver afpacket|afxdp]
                              attach interface IFNAME
  r2intf IFNAME del           detach it
  r2intf IFNAME ip PREFIX [--del]
                              add (or delete) an address, e.g. 1.1.1.2/24
                              or 2001:db8:1::2/64
  r2intf IFNAME host-owned on|off
                              the Linux host owns the addresses: it answers
                              ARP, NDP and traffic to them, R2 only forwards
  r2intf IFNAME show [-json]  show one interface
  r2intf show [IFNAME] [-json]
                              show all interfaces (or one)
  r2intf IFNAME neigh add ADDR MAC | neigh del ADDR
                              set (or remove) a static neighbour
  r2intf [IFNAME] neigh show [-json]
                              R2's neighbours: learned, static, kernel, with
                              their state (r2intf neigh --help)
  r2intf IFNAME qos|class|rule|default ...
                              HFSC scheduling of IFNAME's output (r2intf IFNAME class --help)

Run 'r2intf IFNAME add --help' (and so on) for details.

Flags:
` + client.FlagsHelp + "\n"

const helpAdd = `usage: r2intf IFNAME add IFINDEX|auto [MAC] [--thread N | --threads LIST] [--driver NAME]

Attach the Linux interface IFNAME to R2.

  IFINDEX       R2's index for the interface (0 to 4095), or "auto" for a free one
  MAC           MAC address R2 uses on it (default: the Linux interface's)
  --thread N    forwarding thread that owns it (default: R2 picks)
  --threads LIST  serve it from these threads (e.g. 0,1), each with its own
                AF_PACKET socket in a fanout group, or with afxdp its own
                AF_XDP socket on one receive queue (a flow stays on one
                thread); the first owns it
  --driver NAME afpacket or afxdp (default: R2's default, afpacket)

Example: r2intf veth_r2_1 add 0 8a:61:da:68:46:76
`

const helpDel = `usage: r2intf IFNAME del

Detach IFNAME from R2; its addresses and routes go with it.
`

const helpIP = `usage: r2intf IFNAME ip PREFIX [--del]

Give IFNAME the address PREFIX (address and subnet length, e.g. 1.1.1.2/24
or 2001:db8:1::2/64), or with --del take it away. Every interface also has
its EUI-64 IPv6 link-local address (fe80::/64) from the moment it is
attached; more link-local addresses may be added.
`

const helpShow = `usage: r2intf show [IFNAME] [-json]
       r2intf IFNAME show [-json]

Show R2's interfaces (or just IFNAME): index, Linux index, MAC, state, MTU,
owning thread, driver, packet and drop counts, and addresses (IPv4, IPv6
and link-local, comma-separated).

  -json         print a JSON array of objects with the keys name, ifindex,
                linux_index, mac, up, mtu, thread, driver, rx_pkts, rx_drops,
                tx_pkts, tx_drops and addrs (an array, possibly empty)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// help picks the help text for the command named in pos.
func help(pos []string) string {
	switch {
	case len(pos) >= 1 && pos[0] == "show":
		return helpShow
	case len(pos) < 2:
		return helpMain
	}
	switch pos[1] {
	case "add":
		return helpAdd
	case "del":
		return helpDel
	case "ip":
		return helpIP
	case "show":
		return helpShow
	}
	return helpMain
}

// run is r2intf with its arguments and output streams; it returns the exit
// status.
func run(args []string, stdout, stderr io.Writer) int {
	if code, ok := runQoS(args, stdout, stderr); ok {
		return code // qos, class, rule, default: class.go
	}
	if code, ok := runNeigh(args, stdout, stderr); ok {
		return code // neigh: neigh.go
	}
	var tgt client.Target
	fs := client.NewFlagSet(prog)
	tgt.AddFlags(fs)
	thread := fs.Int("thread", -1, "")
	threads := fs.String("threads", "", "")
	driver := fs.String("driver", "", "")
	del := fs.Bool("del", false, "")
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

	// Check the shape of the command line and build the call.
	var do func(c *intf.InterfaceClient) error
	cmd := ""
	switch {
	case len(pos) == 0:
		return client.Usagef(stderr, prog, "missing command")
	case pos[0] == "show":
		if len(pos) > 2 {
			return client.Usagef(stderr, prog, "show takes at most one interface name, got %q", pos[1:])
		}
		name := ""
		if len(pos) == 2 {
			name = pos[1]
		}
		cmd, do = "show", func(c *intf.InterfaceClient) error { return show(c, name, *asJSON, stdout) }
	case len(pos) == 1:
		return client.Usagef(stderr, prog, "missing command after %q: add, del, ip or show", pos[0])
	default:
		ifname, args := pos[0], pos[2:]
		cmd = pos[1]
		switch cmd {
		case "add":
			if len(args) < 1 || len(args) > 2 {
				return client.Usagef(stderr, prog, "add takes IFINDEX|auto and an optional MAC")
			}
			ifindex := -1
			if args[0] != "auto" {
				n, err := strconv.ParseInt(args[0], 10, 32)
				if err != nil {
					return client.Usagef(stderr, prog, "ifindex %q is not a number or \"auto\"", args[0])
				}
				ifindex = int(n)
			}
			mac := ""
			if len(args) == 2 {
				mac = args[1]
			}
			if *thread < -1 || *thread > 1<<20 {
				return client.Usagef(stderr, prog, "--thread %d: want a thread number", *thread)
			}
			if *threads != "" {
				if client.Set(fs, "thread") {
					return client.Usagef(stderr, prog, "--thread and --threads: give one")
				}
				var ts []int32
				for _, f := range strings.Split(*threads, ",") {
					n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
					if err != nil || n < 0 {
						return client.Usagef(stderr, prog, "--threads %q: want thread numbers, e.g. 0,1", *threads)
					}
					ts = append(ts, int32(n))
				}
				do = func(c *intf.InterfaceClient) error {
					return c.AddIfThreads(context.Background(), ifname, int32(ifindex), mac, ts, *driver)
				}
				break
			}
			do = func(c *intf.InterfaceClient) error {
				return c.AddIf(context.Background(), ifname, int32(ifindex), mac, int32(*thread), *driver)
			}
		case "del":
			if len(args) != 0 {
				return client.Usagef(stderr, prog, "del takes no arguments, got %q", args)
			}
			do = func(c *intf.InterfaceClient) error { return c.DelIf(context.Background(), ifname) }
		case "ip":
			if len(args) != 1 {
				return client.Usagef(stderr, prog, "ip takes one address, e.g. 1.1.1.2/24")
			}
			do = func(c *intf.InterfaceClient) error {
				if *del {
					return c.DelIP(context.Background(), ifname, args[0])
				}
				return c.AddIP(context.Background(), ifname, args[0])
			}
		case "host-owned":
			if len(args) != 1 || args[0] != "on" && args[0] != "off" {
				return client.Usagef(stderr, prog, "host-owned takes on or off")
			}
			on := args[0] == "on"
			do = func(c *intf.InterfaceClient) error { return c.SetHostOwned(context.Background(), ifname, on) }
		case "show":
			if len(args) != 0 {
				return client.Usagef(stderr, prog, "show takes no arguments after the interface name, got %q", args)
			}
			do = func(c *intf.InterfaceClient) error { return show(c, ifname, *asJSON, stdout) }
		default:
			return client.Usagef(stderr, prog, "unknown command %q: want add, del, ip, host-owned or show", cmd)
		}
	}
	for flagName, only := range map[string]string{"thread": "add", "threads": "add", "driver": "add", "del": "ip", "json": "show"} {
		if client.Set(fs, flagName) && cmd != only {
			return client.Usagef(stderr, prog, "--%s only goes with '%s'", flagName, only)
		}
	}

	c, err := client.Dial(tgt)
	if err != nil {
		return client.Fail(stderr, prog, err)
	}
	defer c.Close()
	if err := do(c.Interface); err != nil {
		return client.Fail(stderr, prog, err)
	}
	return client.ExitOK
}

// show prints interface name (or all) as a table, or as JSON.
func show(c *intf.InterfaceClient, name string, asJSON bool, w io.Writer) error {
	infos, err := c.Show(context.Background(), name)
	if err != nil {
		return err
	}
	if asJSON {
		return showJSON(infos, w)
	}
	// The driver column is as wide as its longest entry ("afxdp copy
	// (driver XDP)"); the others have fixed widths.
	dw := len("DRIVER")
	for _, i := range infos {
		dw = max(dw, len(i.Driver))
	}
	format := "%-15s %7s %5s %-17s %-5s %5s %6s %-" + strconv.Itoa(dw) + "s %10s %8s %10s %8s  %s\n"
	fmt.Fprintf(w, format, "NAME", "IFINDEX", "LINUX", "MAC", "STATE", "MTU", "THREAD", "DRIVER",
		"RX-PKTS", "RX-DROPS", "TX-PKTS", "TX-DROPS", "ADDRESSES")
	for _, i := range infos {
		state := "down"
		if i.Up {
			state = "up"
		}
		addrs := strings.Join(i.Addrs, ",")
		if addrs == "" {
			addrs = "-"
		}
		if i.HostOwned {
			addrs += " (host-owned)"
		}
		fmt.Fprintf(w, format, i.Name, strconv.Itoa(int(i.Ifindex)), strconv.Itoa(int(i.LinuxIndex)), i.Mac, state,
			strconv.Itoa(int(i.Mtu)), strconv.Itoa(int(i.Thread)), i.Driver,
			strconv.FormatInt(i.RxPkts, 10), strconv.FormatInt(i.RxDrops, 10),
			strconv.FormatInt(i.TxPkts, 10), strconv.FormatInt(i.TxDrops, 10), addrs)
	}
	return nil
}

// jsonIntf is the stable JSON form of an interface (show -json), kept apart
// from the API's generated type so the two can evolve separately.
type jsonIntf struct {
	Name       string   `json:"name"`
	Ifindex    int32    `json:"ifindex"`
	LinuxIndex int32    `json:"linux_index"`
	MAC        string   `json:"mac"`
	Up         bool     `json:"up"`
	MTU        int32    `json:"mtu"`
	Thread     int32    `json:"thread"`
	Driver     string   `json:"driver"`
	RxPkts     int64    `json:"rx_pkts"`
	RxDrops    int64    `json:"rx_drops"`
	TxPkts     int64    `json:"tx_pkts"`
	TxDrops    int64    `json:"tx_drops"`
	Addrs      []string `json:"addrs"`
}

func showJSON(infos []*intf.IfInfo, w io.Writer) error {
	out := make([]jsonIntf, 0, len(infos))
	for _, i := range infos {
		out = append(out, jsonIntf{Name: i.Name, Ifindex: i.Ifindex, LinuxIndex: i.LinuxIndex, MAC: i.Mac, Up: i.Up,
			MTU: i.Mtu, Thread: i.Thread, Driver: i.Driver, RxPkts: i.RxPkts, RxDrops: i.RxDrops,
			TxPkts: i.TxPkts, TxDrops: i.TxDrops, Addrs: append([]string{}, i.Addrs...)})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
