//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// report is everything a run found; it is what -json writes.
type report struct {
	Tool         string         `json:"tool"`
	Date         string         `json:"date"`
	Host         hostInfo       `json:"host"`
	Options      reportOptions  `json:"options"`
	Variants     []string       `json:"variants"`
	Measurements []*measResult  `json:"measurements"`
	Setups       []setupInfo    `json:"setups"`
	Notes        []string       `json:"notes,omitempty"`
	Elapsed      string         `json:"elapsed"`
	index        map[string]int // measurement ID → index
}

// hostInfo describes the machine and the tools used.
type hostInfo struct {
	CPUModel     string            `json:"cpu_model"`
	CPUs         int               `json:"cpus"`
	Kernel       string            `json:"kernel"`
	GoVersion    string            `json:"go_version"`
	GenCPU       int               `json:"generator_cpu"`
	FwdCPU       int               `json:"r2_forwarding_cpu"`
	Threads2CPUs string            `json:"r2_two_thread_cpus"`
	Tools        map[string]string `json:"tools"` // name → version line, or "missing"
	Binaries     map[string]string `json:"binaries,omitempty"`
	Table        string            `json:"table,omitempty"`
	LoadAvgStart string            `json:"loadavg_start"`
	LoadAvgEnd   string            `json:"loadavg_end"`
}

// reportOptions are the options of the run.
type reportOptions struct {
	Rounds     int      `json:"rounds"`
	Duration   string   `json:"duration"`
	Short      bool     `json:"short"`
	Only       []string `json:"only"`
	TableLimit int      `json:"table_limit,omitempty"`
	MTU        int      `json:"mtu,omitempty"`
	H2Sink     string   `json:"h2_sink"`
	FloodFlows int      `json:"flood_flows,omitempty"`
	FloodProto string   `json:"flood_proto,omitempty"`
	PingFirst  bool     `json:"ping_first,omitempty"`
	HostRPS    string   `json:"host_rps,omitempty"`
	RouterRPS  string   `json:"router_rps,omitempty"`
}

// measResult is one measurement's results for every variant.
type measResult struct {
	ID       string                    `json:"id"`
	Title    string                    `json:"title"`
	Metrics  []metricDef               `json:"metrics"`
	Variants map[string]*variantResult `json:"variants"`
}

// variantResult is one measurement on one router.
type variantResult struct {
	Rounds []roundResult        `json:"rounds,omitempty"`
	Stats  map[string]*stats    `json:"stats,omitempty"` // by metric key
	NA     string               `json:"na,omitempty"`    // why it could not be measured
	sample map[string][]float64 // values collected, by metric
}

// roundResult is one round's attempt.
type roundResult struct {
	Round  int                `json:"round"`
	Values map[string]float64 `json:"values,omitempty"`
	Notes  []string           `json:"notes,omitempty"`
	Error  string             `json:"error,omitempty"`
	NA     string             `json:"na,omitempty"`
}

// stats summarise a metric over the rounds.
type stats struct {
	N      int      `json:"n"`
	Median float64  `json:"median"`
	Min    float64  `json:"min"`
	Max    float64  `json:"max"`
	Ratio  *float64 `json:"ratio_to_kernel,omitempty"` // median / kernel's median
}

func newReport(o options, defs map[string]*measDef) *report {
	r := &report{Tool: "r2bench", Variants: o.variants, index: map[string]int{},
		Options: reportOptions{Rounds: o.rounds, Duration: o.duration.String(), Short: o.short, Only: o.only, TableLimit: o.tableLimit, MTU: o.mtu, H2Sink: o.h2Sink, FloodFlows: o.floodFlows, FloodProto: o.floodProto, PingFirst: o.pingFirst, HostRPS: o.hostRPS, RouterRPS: o.routerRPS}}
	for _, id := range o.only {
		d := defs[id]
		mr := &measResult{ID: id, Title: d.Title, Metrics: d.Metrics, Variants: map[string]*variantResult{}}
		for _, v := range o.variants {
			mr.Variants[v] = &variantResult{sample: map[string][]float64{}}
		}
		r.index[id] = len(r.Measurements)
		r.Measurements = append(r.Measurements, mr)
	}
	return r
}

// record stores one round of measurement id on variant.
func (r *report) record(id, variant string, round int, values map[string]float64, notes []string, err error) {
	i, ok := r.index[id]
	if !ok {
		return
	}
	vr := r.Measurements[i].Variants[variant]
	if vr == nil {
		return
	}
	rr := roundResult{Round: round, Notes: notes}
	var na *naError
	switch {
	case errors.As(err, &na):
		rr.NA = na.reason
		if vr.NA == "" {
			vr.NA = na.reason
		}
	case err != nil:
		rr.Error = err.Error()
	}
	if len(values) > 0 {
		rr.Values = map[string]float64{}
		for k, v := range values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			rr.Values[k] = v
			vr.sample[k] = append(vr.sample[k], v)
		}
	}
	vr.Rounds = append(vr.Rounds, rr)
}

// finish computes the statistics and ratios.
func (r *report) finish() {
	for _, m := range r.Measurements {
		for _, vr := range m.Variants {
			vr.Stats = map[string]*stats{}
			for k, xs := range vr.sample {
				if len(xs) > 0 {
					vr.Stats[k] = summarize(xs)
				}
			}
			if len(vr.Stats) > 0 {
				vr.NA = "" // measured in some round after all
			}
		}
		k := m.Variants[variantKernel]
		noRatio := map[string]bool{}
		for _, d := range m.Metrics {
			noRatio[d.Key] = d.NoRatio
		}
		for v, vr := range m.Variants {
			if v == variantKernel || k == nil {
				continue
			}
			for key, st := range vr.Stats {
				if noRatio[key] {
					continue
				}
				if ks, ok := k.Stats[key]; ok && ks.Median != 0 {
					ratio := st.Median / ks.Median
					st.Ratio = &ratio
				}
			}
		}
	}
}

// summarize returns the median, min and max of xs.
func summarize(xs []float64) *stats {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return &stats{N: n, Median: med, Min: s[0], Max: s[n-1]}
}

// writeJSON writes the report to path.
func writeJSON(path string, r *report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("json: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	return nil
}

// fmtValue formats v for metric d.
func fmtValue(d metricDef, v float64) string {
	scale := d.Scale
	if scale == 0 {
		scale = 1
	}
	return fmt.Sprintf("%.*f", d.Digits, v/scale)
}

// cellText formats a statistic: "median" or "median [min–max]".
func cellText(d metricDef, st *stats) string {
	med := fmtValue(d, st.Median)
	lo, hi := fmtValue(d, st.Min), fmtValue(d, st.Max)
	if st.N < 2 || lo == hi {
		return med
	}
	return fmt.Sprintf("%s [%s–%s]", med, lo, hi)
}

func ratioText(r *float64) string {
	if r == nil {
		return ""
	}
	switch {
	case *r >= 100:
		return fmt.Sprintf("%.0f×", *r)
	case *r >= 10:
		return fmt.Sprintf("%.1f×", *r)
	}
	return fmt.Sprintf("%.2f×", *r)
}

// footnotes numbers distinct texts.
type footnotes struct {
	texts []string
	num   map[string]int
}

func (f *footnotes) ref(text string) string {
	if f.num == nil {
		f.num = map[string]int{}
	}
	n, ok := f.num[text]
	if !ok {
		f.texts = append(f.texts, text)
		n = len(f.texts)
		f.num[text] = n
	}
	return fmt.Sprintf("[%d]", n)
}

// printTable writes the results as an aligned text table, then the
// footnotes (why a cell is n/a or failed) and the notes of every round.
func printTable(w io.Writer, r *report) {
	h := r.Host
	fmt.Fprintf(w, "\nR2 benchmark, %s\n", r.Date)
	fmt.Fprintf(w, "CPU: %s (%d CPUs); kernel %s; %d round(s) of %s per measurement%s\n",
		h.CPUModel, h.CPUs, h.Kernel, r.Options.Rounds, r.Options.Duration, map[bool]string{true: " (-short)", false: ""}[r.Options.Short])
	fmt.Fprintf(w, "Traffic generators (trafgen, iperf3) on CPU %d; R2's forwarding thread on CPU %d (two threads: -cpus %s);\n"+
		"the kernel forwards in softirq context, mostly on the sending CPU.\n",
		h.GenCPU, h.FwdCPU, h.Threads2CPUs)
	if r.Options.MTU != 1500 && r.Options.MTU != 0 {
		fmt.Fprintf(w, "MTU %d on every veth end.\n", r.Options.MTU)
	}
	proto := "UDP"
	if r.Options.FloodProto == "tcp" {
		proto = "TCP"
		fmt.Fprintf(w, "Floods, the udp rows' too, are TCP segments with ACK set (-flood-proto tcp).\n")
	}
	if r.Options.FloodFlows > 1 {
		fmt.Fprintf(w, "Floods are %d %s flows (-flood-flows).\n", r.Options.FloodFlows, proto)
	}
	if r.Options.PingFirst {
		fmt.Fprintf(w, "Pings beside a flood began before it (pings for a second first, -ping-first).\n")
	}
	if r.Options.HostRPS != "" {
		fmt.Fprintf(w, "The hosts' receive work is steered to CPU mask %s (-host-rps), not left on the sending CPU.\n", r.Options.HostRPS)
	}
	if r.Options.RouterRPS != "" {
		fmt.Fprintf(w, "The router's receive work is steered to CPU mask %s (-router-rps), not left on the sending CPU.\n", r.Options.RouterRPS)
	}
	switch r.Options.H2Sink {
	case "tcx":
		fmt.Fprintf(w, "Floods are dropped and counted by a tcx program on h2's interface (-h2-sink tcx).\n")
	case "stack":
		fmt.Fprintf(w, "Floods are dropped by h2's IP layer and counted in its InAddrErrors (-h2-sink stack).\n")
	}
	fmt.Fprintf(w, "Load average (1/5/15 min) at start %s, at end %s: other work on the machine disturbs the figures.\n", h.LoadAvgStart, h.LoadAvgEnd)
	fmt.Fprintf(w, "Cells: median [min–max] over the rounds; ×kernel = median / kernel's median; ↑ higher is better, ↓ lower is better.\n\n")

	var fn footnotes
	withRatio := slices.Contains(r.Variants, variantKernel)
	header := []string{"", "unit"}
	for _, v := range r.Variants {
		header = append(header, variantTitles[v])
		if v != variantKernel && withRatio {
			header = append(header, "×kernel")
		}
	}
	var lines [][]string // nil entries in a line mean "title line"
	lines = append(lines, header)
	for _, m := range r.Measurements {
		lines = append(lines, []string{m.Title})
		for _, d := range m.Metrics {
			arrow := map[string]string{"higher": " ↑", "lower": " ↓"}[d.Better]
			line := []string{"  " + d.Label + arrow, d.Unit}
			for _, v := range r.Variants {
				vr := m.Variants[v]
				var cell, ratio string
				switch st := vr.Stats[d.Key]; {
				case st != nil:
					cell, ratio = cellText(d, st), ratioText(st.Ratio)
				case d.R2Only && v == variantKernel:
					cell = "—"
				case vr.NA != "":
					cell = "n/a " + fn.ref(fmt.Sprintf("%s: n/a: %s", variantTitles[v], vr.NA))
				case firstError(vr) != "":
					cell = "error " + fn.ref(fmt.Sprintf("%s, %s: %s", variantTitles[v], m.ID, firstError(vr)))
				case len(vr.Rounds) == 0:
					cell = "not run"
				default:
					cell = "—"
				}
				line = append(line, cell)
				if v != variantKernel && withRatio {
					line = append(line, ratio)
				}
			}
			lines = append(lines, line)
		}
	}
	// Column widths over the table lines (titles span the row).
	widths := make([]int, len(header))
	for i, l := range lines {
		if len(l) == 1 && i > 0 {
			continue
		}
		for c, s := range l {
			widths[c] = max(widths[c], utf8.RuneCountInString(s))
		}
	}
	for i, l := range lines {
		if len(l) == 1 && i > 0 {
			fmt.Fprintln(w, l[0])
			continue
		}
		var sb strings.Builder
		for c, s := range l {
			pad := widths[c] - utf8.RuneCountInString(s)
			sb.WriteString(s)
			if c < len(l)-1 {
				sb.WriteString(strings.Repeat(" ", pad+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(sb.String(), " "))
	}
	if len(fn.texts) > 0 {
		fmt.Fprintln(w)
		for i, t := range fn.texts {
			fmt.Fprintf(w, "[%d] %s\n", i+1, t)
		}
	}
	// Notes, the same text of several rounds said once.
	type noteKey struct{ id, variant, text string }
	var order []noteKey
	rounds := map[noteKey][]int{}
	add := func(k noteKey, round int) {
		if _, ok := rounds[k]; !ok {
			order = append(order, k)
		}
		rounds[k] = append(rounds[k], round)
	}
	for _, m := range r.Measurements {
		for _, v := range r.Variants {
			for _, rr := range m.Variants[v].Rounds {
				for _, n := range rr.Notes {
					add(noteKey{m.ID, v, n}, rr.Round)
				}
				if rr.Error != "" && len(m.Variants[v].Stats) > 0 {
					add(noteKey{m.ID, v, "error: " + rr.Error}, rr.Round)
				}
			}
		}
	}
	var notes []string
	for _, k := range order {
		notes = append(notes, fmt.Sprintf("%s, %s, %s: %s", k.id, variantTitles[k.variant], roundsText(rounds[k]), k.text))
	}
	notes = append(notes, r.Notes...)
	if len(notes) > 0 {
		fmt.Fprintln(w, "\nNotes:")
		for _, n := range notes {
			fmt.Fprintln(w, "  - "+n)
		}
	}
	// Drivers, by setup, the same configuration of several rounds once.
	var dorder []string
	drounds := map[string][]int{}
	for _, s := range r.Setups {
		if len(s.Drivers) == 0 {
			continue
		}
		var ds []string
		for _, k := range sortedKeys(s.Drivers) {
			side := k
			switch {
			case strings.HasSuffix(k, "-ra"):
				side = "h1 side"
			case strings.HasSuffix(k, "-rb"):
				side = "h2 side"
			}
			ds = append(ds, fmt.Sprintf("%s %s (thread %d)", side, s.Drivers[k], s.Threads[k]))
		}
		key := fmt.Sprintf("%s on %s: %s", s.Group, variantTitles[s.Variant], strings.Join(ds, ", "))
		if _, ok := drounds[key]; !ok {
			dorder = append(dorder, key)
		}
		drounds[key] = append(drounds[key], s.Round)
	}
	if len(dorder) > 0 {
		fmt.Fprintln(w, "\nDrivers active in R2 (r2intf show):")
		for _, d := range dorder {
			fmt.Fprintf(w, "  %s, %s\n", d, roundsText(drounds[d]))
		}
	}
	fmt.Fprintf(w, "\nTotal time: %s\n", r.Elapsed)
}

// roundsText says "round 2" or "rounds 1, 2, 3".
func roundsText(rs []int) string {
	if len(rs) == 1 {
		return fmt.Sprintf("round %d", rs[0])
	}
	var ss []string
	for _, r := range rs {
		ss = append(ss, fmt.Sprint(r))
	}
	return "rounds " + strings.Join(ss, ", ")
}

// firstError returns the first round error of vr, if any.
func firstError(vr *variantResult) string {
	for _, rr := range vr.Rounds {
		if rr.Error != "" {
			return fmt.Sprintf("round %d: %s", rr.Round, rr.Error)
		}
	}
	return ""
}
