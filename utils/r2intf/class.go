package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/r2go/r2/apis/intf"
	"github.com/r2go/r2/utils/internal/client"
)

const helpQoS = `usage: r2intf IFNAME qos RATE | --del
       r2intf IFNAME class NAME PARENT [--qlimit N] [--leaf] [--fm1 M1 --fd D --fm2 M2]
                                 [--rm1 M1 --rd D --rm2 M2] [--um1 M1 --ud D --um2 M2]
       r2intf IFNAME class NAME --del
       r2intf IFNAME class show [-json]
       r2intf IFNAME rule add PRIO CLASS [--dscp N] [--src PFX] [--dst PFX] [--proto N]
                                 [--sport A[-B]] [--dport A[-B]]
       r2intf IFNAME rule del PRIO
       r2intf IFNAME default CLASS | --del

HFSC scheduling of IFNAME's output (see README, "QoS").

  qos RATE      the link rate in bits/s (suffixes k, M, G): the root class.
                Set it first. --del removes all QoS from IFNAME.
  class         add a class below PARENT ("root" for the top), or change an
                existing class's curves and queue limit. Curves: --f* link
                sharing, --r* real time (leaves), --u* upper limit; m1 and
                m2 in bits/s (k, M, G), d in ms; a curve given by --xm2 alone
                is a plain rate. --leaf makes a leaf (--qlimit packets,
                default 128). --del deletes the class (refused while it has
                children or a rule or the default uses it); its queued
                packets are freed and counted as its drops.
  class show    classes with sent packets and bytes, drops, queue length,
                and the scheduler's times (virtual time; eligible, deadline
                and fit time relative to now).
  rule add      classify packets matching every criterion given to leaf
                CLASS; the lowest PRIO that matches wins. --dscp 0-63,
                --src/--dst IPv4 or IPv6 prefix, --proto IP protocol,
                --sport/--dport port or range (TCP, UDP, SCTP, UDP-Lite).
  rule del      delete rule PRIO.
  default       send packets no rule matches to leaf CLASS. Scheduling is
                active while a default class is set; --del clears it.

Example: 50 Mbit/s shared 3:1, bulk capped at 20 Mbit/s, a low-delay leaf:
  r2intf eth1 qos 50M
  r2intf eth1 class voice root --leaf --rm1 10M --rd 5 --rm2 1M
  r2intf eth1 class web root --leaf --fm2 36M
  r2intf eth1 class bulk root --leaf --fm2 12M --um2 20M
  r2intf eth1 rule add 10 voice --dscp 46
  r2intf eth1 rule add 20 web --proto 6 --dport 80-443
  r2intf eth1 default bulk
`

// qosCmds are the commands class.go handles.
var qosCmds = map[string]bool{"qos": true, "class": true, "rule": true, "default": true}

// parseRate parses bits/s with an optional k, M or G suffix (powers of
// 1000), e.g. "50M".
func parseRate(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1e3, s[:len(s)-1]
	case strings.HasSuffix(s, "M"), strings.HasSuffix(s, "m"):
		mult, s = 1e6, s[:len(s)-1]
	case strings.HasSuffix(s, "G"), strings.HasSuffix(s, "g"):
		mult, s = 1e9, s[:len(s)-1]
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f*float64(mult) > 1e15 {
		return 0, fmt.Errorf("rate %q: want bits/s, e.g. 50000000 or 50M", s)
	}
	return int64(f * float64(mult)), nil
}

// parsePorts parses "A" or "A-B".
func parsePorts(s string) (lo, hi int32, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		b = a
	}
	x, err1 := strconv.ParseUint(a, 10, 16)
	y, err2 := strconv.ParseUint(b, 10, 16)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("port range %q: want A or A-B, 0 to 65535", s)
	}
	return int32(x), int32(y), nil
}

// runQoS handles the QoS commands; ok is false when args are another
// command (run handles those).
func runQoS(args []string, stdout, stderr io.Writer) (code int, ok bool) {
	var tgt client.Target
	fs := client.NewFlagSet(prog)
	tgt.AddFlags(fs)
	del := fs.Bool("del", false, "")
	asJSON := fs.Bool("json", false, "")
	leaf := fs.Bool("leaf", false, "")
	qlimit := fs.Int("qlimit", 0, "")
	curveFlags := map[string]*string{}
	for _, c := range []string{"f", "r", "u"} {
		for _, p := range []string{"m1", "d", "m2"} {
			curveFlags[c+p] = fs.String(c+p, "", "")
		}
	}
	dscp := fs.Int("dscp", -1, "")
	proto := fs.Int("proto", -1, "")
	src := fs.String("src", "", "")
	dst := fs.String("dst", "", "")
	sport := fs.String("sport", "", "")
	dport := fs.String("dport", "", "")
	pos, err := client.Parse(fs, args)
	if len(pos) < 2 || !qosCmds[pos[1]] {
		return 0, false
	}
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, helpQoS)
		return client.ExitOK, true
	}
	if err != nil {
		return client.Usagef(stderr, prog, "%v", err), true
	}
	if err := tgt.Check(); err != nil {
		return client.Usagef(stderr, prog, "%v", err), true
	}
	usage := func(format string, a ...any) (int, bool) { return client.Usagef(stderr, prog, format, a...), true }
	ifname, cmd, rest := pos[0], pos[1], pos[2:]
	allowed := map[string]bool{"i": true, "s": true, "a": true}
	var do func(c *intf.InterfaceClient) error
	ctx := context.Background()
	switch {
	case cmd == "qos":
		allowed["del"] = true
		switch {
		case *del && len(rest) == 0:
			do = func(c *intf.InterfaceClient) error { return c.SetQos(ctx, ifname, 0) }
		case !*del && len(rest) == 1:
			rate, err := parseRate(rest[0])
			if err != nil {
				return usage("%v", err)
			}
			if rate == 0 {
				return usage("rate 0: use --del to remove QoS")
			}
			do = func(c *intf.InterfaceClient) error { return c.SetQos(ctx, ifname, rate) }
		default:
			return usage("qos takes a rate (bits/s), or --del")
		}
	case cmd == "class" && len(rest) >= 1 && rest[0] == "show":
		allowed["json"] = true
		if len(rest) != 1 {
			return usage("class show takes no arguments")
		}
		do = func(c *intf.InterfaceClient) error { return showClasses(c, ifname, *asJSON, stdout) }
	case cmd == "class" && *del:
		allowed["del"] = true
		if len(rest) != 1 {
			return usage("class NAME --del takes only the class name")
		}
		do = func(c *intf.InterfaceClient) error { return c.DelClass(ctx, ifname, rest[0]) }
	case cmd == "class":
		for _, f := range []string{"leaf", "qlimit", "fm1", "fd", "fm2", "rm1", "rd", "rm2", "um1", "ud", "um2"} {
			allowed[f] = true
		}
		if len(rest) != 2 {
			return usage("class takes NAME and PARENT (\"root\" for the top)")
		}
		curves := &intf.Curves{}
		for _, x := range []struct {
			c   string
			out **intf.ServiceCurve
		}{{"f", &curves.FSc}, {"r", &curves.RSc}, {"u", &curves.USc}} {
			m1s, ds, m2s := *curveFlags[x.c+"m1"], *curveFlags[x.c+"d"], *curveFlags[x.c+"m2"]
			if m1s == "" && ds == "" && m2s == "" {
				continue
			}
			if m2s == "" {
				return usage("--%sm2 is required with --%sm1 or --%sd", x.c, x.c, x.c)
			}
			sc := &intf.ServiceCurve{}
			var err error
			if sc.M2, err = parseRate(m2s); err != nil {
				return usage("--%sm2: %v", x.c, err)
			}
			sc.M1 = sc.M2
			if m1s != "" {
				if sc.M1, err = parseRate(m1s); err != nil {
					return usage("--%sm1: %v", x.c, err)
				}
			}
			if ds != "" {
				d, err := strconv.ParseUint(ds, 10, 31)
				if err != nil {
					return usage("--%sd %q: want milliseconds", x.c, ds)
				}
				sc.D = int32(d)
			}
			*x.out = sc
		}
		if curves.FSc == nil && curves.RSc == nil && curves.USc == nil {
			return usage("class %s: give at least one curve (--fm2, --rm2 or --um2)", rest[0])
		}
		if *qlimit < 0 || *qlimit > 1<<20 {
			return usage("--qlimit %d: want a number of packets", *qlimit)
		}
		name, parent, isLeaf, ql := rest[0], rest[1], *leaf, int32(*qlimit)
		do = func(c *intf.InterfaceClient) error { return c.AddClass(ctx, ifname, name, parent, ql, isLeaf, curves) }
	case cmd == "rule" && len(rest) >= 1 && rest[0] == "add":
		for _, f := range []string{"dscp", "proto", "src", "dst", "sport", "dport"} {
			allowed[f] = true
		}
		if len(rest) != 3 {
			return usage("rule add takes PRIO and CLASS")
		}
		prio, err := strconv.ParseInt(rest[1], 10, 32)
		if err != nil {
			return usage("rule priority %q is not a number", rest[1])
		}
		r := &intf.ClassRule{Prio: int32(prio), Cls: rest[2], Dscp: int32(*dscp), Proto: int32(*proto), Src: *src, Dst: *dst}
		if *sport != "" {
			if r.SportLo, r.SportHi, err = parsePorts(*sport); err != nil {
				return usage("--sport: %v", err)
			}
		}
		if *dport != "" {
			if r.DportLo, r.DportHi, err = parsePorts(*dport); err != nil {
				return usage("--dport: %v", err)
			}
		}
		do = func(c *intf.InterfaceClient) error { return c.AddRule(ctx, ifname, r) }
	case cmd == "rule" && len(rest) == 2 && rest[0] == "del":
		prio, err := strconv.ParseInt(rest[1], 10, 32)
		if err != nil {
			return usage("rule priority %q is not a number", rest[1])
		}
		do = func(c *intf.InterfaceClient) error { return c.DelRule(ctx, ifname, int32(prio)) }
	case cmd == "rule":
		return usage("rule takes add PRIO CLASS [criteria] or del PRIO")
	case cmd == "default":
		allowed["del"] = true
		switch {
		case *del && len(rest) == 0:
			do = func(c *intf.InterfaceClient) error { return c.SetDefaultClass(ctx, ifname, "") }
		case !*del && len(rest) == 1:
			do = func(c *intf.InterfaceClient) error { return c.SetDefaultClass(ctx, ifname, rest[0]) }
		default:
			return usage("default takes a class name, or --del")
		}
	}
	var bad string
	fs.Visit(func(f *flag.Flag) {
		if !allowed[f.Name] && bad == "" {
			bad = f.Name
		}
	})
	if bad != "" {
		return usage("--%s does not go with '%s'", bad, strings.Join(pos[1:min(len(pos), 3)], " "))
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

// fmtRate prints bits/s compactly (50M, 1.5M, 64k).
func fmtRate(r int64) string {
	switch {
	case r >= 1e9 && r%1e7 == 0:
		return strconv.FormatFloat(float64(r)/1e9, 'f', -1, 64) + "G"
	case r >= 1e6 && r%1e4 == 0:
		return strconv.FormatFloat(float64(r)/1e6, 'f', -1, 64) + "M"
	case r >= 1e3 && r%10 == 0:
		return strconv.FormatFloat(float64(r)/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatInt(r, 10)
}

func fmtCurve(c *intf.ServiceCurve) string {
	if c == nil {
		return "-"
	}
	if c.M1 == c.M2 || c.D == 0 {
		return fmtRate(c.M2)
	}
	return fmt.Sprintf("%s/%dms/%s", fmtRate(c.M1), c.D, fmtRate(c.M2))
}

// fmtTime prints a scheduler time relative to now in ms, "-" when unset.
func fmtTime(t, now int64, set bool) string {
	if !set {
		return "-"
	}
	return strconv.FormatFloat(float64(t-now)/1e6, 'f', 3, 64)
}

// showClasses prints IFNAME's QoS: a header line, the classes, the rules.
func showClasses(c *intf.InterfaceClient, ifname string, asJSON bool, w io.Writer) error {
	q, err := c.ShowQos(context.Background(), ifname)
	if err != nil {
		return err
	}
	if asJSON {
		b, err := json.MarshalIndent(q, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s\n", b)
		return nil
	}
	state := "active"
	if !q.Active {
		state = "inactive (no default class)"
	}
	def := q.DefaultClass
	if def == "" {
		def = "-"
	}
	fmt.Fprintf(w, "%s: link %s bit/s, default %s, %s\n", q.Ifname, fmtRate(q.Rate), def, state)
	format := "%-12s %-10s %-4s %6s %-16s %-16s %-16s %10s %12s %7s %5s %9s %9s %9s %9s\n"
	fmt.Fprintf(w, format, "CLASS", "PARENT", "LEAF", "QLIMIT", "RT", "LS", "UL", "PKTS", "BYTES", "DROPS", "QLEN",
		"VT-MS", "ELIG-MS", "DEADL-MS", "FIT-MS")
	for _, k := range q.Classes {
		leaf, ql := "no", "-"
		if k.IsLeaf {
			leaf, ql = "yes", strconv.Itoa(int(k.Qlimit))
		}
		parent := k.Parent
		if parent == "" {
			parent = "-"
		}
		cv := k.Curves
		if cv == nil {
			cv = &intf.Curves{}
		}
		rt := k.IsLeaf && cv.RSc != nil && k.Qlen > 0
		vt := "-"
		if k.Active {
			vt = strconv.FormatFloat(float64(k.Vt)/1e6, 'f', 3, 64)
		}
		fmt.Fprintf(w, format, k.Name, parent, leaf, ql, fmtCurve(cv.RSc), fmtCurve(cv.FSc), fmtCurve(cv.USc),
			strconv.FormatInt(k.Pkts, 10), strconv.FormatInt(k.Bytes, 10), strconv.FormatInt(k.Drops, 10),
			strconv.Itoa(int(k.Qlen)), vt, fmtTime(k.Eligible, q.Now, rt), fmtTime(k.Deadline, q.Now, rt),
			fmtTime(k.Fit, q.Now, k.Active && cv.USc != nil))
	}
	if len(q.Rules) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	rformat := "%-6s %-12s %-40s %10s %12s\n"
	fmt.Fprintf(w, rformat, "RULE", "CLASS", "MATCH", "PKTS", "BYTES")
	for _, r := range q.Rules {
		var m []string
		if r.Dscp >= 0 {
			m = append(m, "dscp "+strconv.Itoa(int(r.Dscp)))
		}
		if r.Src != "" {
			m = append(m, "src "+r.Src)
		}
		if r.Dst != "" {
			m = append(m, "dst "+r.Dst)
		}
		if r.Proto >= 0 {
			m = append(m, "proto "+strconv.Itoa(int(r.Proto)))
		}
		if r.SportHi != 0 {
			m = append(m, fmt.Sprintf("sport %d-%d", r.SportLo, r.SportHi))
		}
		if r.DportHi != 0 {
			m = append(m, fmt.Sprintf("dport %d-%d", r.DportLo, r.DportHi))
		}
		if len(m) == 0 {
			m = append(m, "all")
		}
		fmt.Fprintf(w, rformat, strconv.Itoa(int(r.Prio)), r.Cls, strings.Join(m, " "),
			strconv.FormatInt(r.Pkts, 10), strconv.FormatInt(r.Bytes, 10))
	}
	return nil
}
