//go:build linux

package main

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"os"
)

// chartRow is one bar group of the chart: a figure and its ratios.
type chartRow struct {
	label  string
	better string
	ratios map[string]*float64 // R2 variant → ratio (nil: none)
	why    map[string]string   // R2 variant → why there is no ratio
}

// Chart geometry.
const (
	svgWidth    = 1000
	svgLabelW   = 300 // label column
	svgPlotL    = svgLabelW + 20
	svgPlotR    = svgWidth - 170
	svgBarH     = 13
	svgRowGap   = 9
	svgTop      = 92
	svgMaxLog2  = 5 // the axis spans 1/32 .. 32
	svgAxisNote = 28
)

var variantColors = map[string]string{variantAFPacket: "#4c78a8", variantAFXDP: "#f58518", variantAFXDPHost: "#e45756"}

// chartRows collects the charted figures of the report.
func chartRows(r *report) ([]chartRow, []string) {
	var r2 []string
	for _, v := range r.Variants {
		if v != variantKernel {
			r2 = append(r2, v)
		}
	}
	var rows []chartRow
	for _, m := range r.Measurements {
		for _, d := range m.Metrics {
			if !d.Chart {
				continue
			}
			row := chartRow{label: m.ID + ": " + d.Label, better: d.Better, ratios: map[string]*float64{}, why: map[string]string{}}
			any := false
			for _, v := range r2 {
				vr := m.Variants[v]
				if st := vr.Stats[d.Key]; st != nil && st.Ratio != nil {
					row.ratios[v] = st.Ratio
					any = true
					continue
				}
				switch {
				case vr.NA != "":
					row.why[v] = "n/a"
				case vr.Stats[d.Key] != nil:
					row.why[v] = "no kernel figure"
				case firstError(vr) != "":
					row.why[v] = "error"
				default:
					row.why[v] = "not measured"
				}
			}
			if any || len(r2) > 0 {
				rows = append(rows, row)
			}
		}
	}
	return rows, r2
}

// xOf maps a ratio to the chart's x coordinate (log2 scale, clamped).
func xOf(ratio float64) float64 {
	l := math.Log2(ratio)
	l = math.Max(-svgMaxLog2, math.Min(svgMaxLog2, l))
	mid := float64(svgPlotL+svgPlotR) / 2
	half := float64(svgPlotR-svgPlotL) / 2
	return mid + l/svgMaxLog2*half
}

// renderSVG draws the ratios of R2's figures to the kernel's as horizontal
// bars on a logarithmic axis centred on 1 (equal to the kernel).
func renderSVG(r *report) []byte {
	rows, r2 := chartRows(r)
	var b bytes.Buffer
	groupH := len(r2)*svgBarH + svgRowGap
	if len(r2) == 0 {
		groupH = svgBarH + svgRowGap
	}
	height := svgTop + len(rows)*groupH + 60
	esc := html.EscapeString
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">
<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>
`, svgWidth, height, svgWidth, height, svgWidth, height)
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="16" font-weight="bold">R2 / Linux kernel forwarding: ratio of medians</text>
<text x="10" y="40" fill="#444">%s · %s (%d CPUs) · kernel %s · %d round(s) × %s</text>
<text x="10" y="56" fill="#444">Bars right of 1× mean R2's figure is larger than the kernel's (↑ higher is better, ↓ lower is better). Log scale, clamped to 1/32…32.</text>
`, esc(r.Date), esc(r.Host.CPUModel), r.Host.CPUs, esc(r.Host.Kernel), r.Options.Rounds, esc(r.Options.Duration))
	// Legend.
	lx := 10
	for _, v := range r2 {
		fmt.Fprintf(&b, `<rect x="%d" y="66" width="12" height="12" fill="%s"/><text x="%d" y="76">%s</text>
`, lx, variantColors[v], lx+16, esc(variantTitles[v]))
		lx += 140
	}
	plotTop := svgTop - 6
	plotBottom := svgTop + len(rows)*groupH
	// Grid and axis labels at powers of two.
	for e := -svgMaxLog2; e <= svgMaxLog2; e++ {
		x := xOf(math.Pow(2, float64(e)))
		stroke, w := "#dddddd", 1
		if e == 0 {
			stroke, w = "#333333", 2
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="%d"/>
`, x, plotTop, x, plotBottom, stroke, w)
		label := fmt.Sprintf("%g×", math.Pow(2, float64(e)))
		if e < 0 {
			label = fmt.Sprintf("1/%d", 1<<(-e))
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#444">%s</text>
`, x, plotBottom+16, label)
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#444">R2 / kernel</text>
`, xOf(1), plotBottom+svgAxisNote+4)
	one := xOf(1)
	for i, row := range rows {
		y0 := svgTop + i*groupH
		arrow := map[string]string{"higher": " ↑", "lower": " ↓"}[row.better]
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>
`, svgLabelW, y0+len(r2)*svgBarH/2+4, esc(row.label+arrow))
		for j, v := range r2 {
			y := y0 + j*svgBarH
			ratio := row.ratios[v]
			if ratio == nil {
				fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#888" font-size="10">%s: %s</text>
`, one+4, y+svgBarH-3, esc(variantTitles[v]), esc(row.why[v]))
				continue
			}
			x := xOf(*ratio)
			left, width := math.Min(x, one), math.Abs(x-one)
			if width < 1 {
				width = 1
			}
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s %s: %s</title></rect>
`, left, y+1, width, svgBarH-2, variantColors[v], esc(variantTitles[v]), esc(row.label), esc(ratioText(ratio)))
			// The figure goes right of the bar's end, or, for a bar
			// left of 1×, right of the 1× line, clear of the labels.
			tx := x + 4
			if *ratio < 1 {
				tx = one + 4
			}
			clamped := ""
			if math.Abs(math.Log2(*ratio)) > svgMaxLog2 {
				clamped = " (off scale)"
			}
			verdict, colour := "", "#000000"
			if math.Abs(math.Log2(*ratio)) >= 0.015 { // beyond ±1%: not a tie
				switch {
				case row.better == "higher" && *ratio > 1, row.better == "lower" && *ratio < 1:
					verdict, colour = "better", "#2e7d32"
				case row.better == "higher" && *ratio < 1, row.better == "lower" && *ratio > 1:
					verdict, colour = "worse", "#c62828"
				}
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10">%s%s <tspan fill="%s">%s</tspan></text>
`, tx, y+svgBarH-3, esc(ratioText(ratio)), clamped, colour, verdict)
		}
	}
	if len(rows) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#888">no ratios to draw</text>
`, svgPlotL, svgTop+12)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// writeSVG writes the chart to path.
func writeSVG(path string, r *report) error {
	if err := os.WriteFile(path, renderSVG(r), 0o644); err != nil {
		return fmt.Errorf("svg: %w", err)
	}
	return nil
}
