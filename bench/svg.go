package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

var svgColors = map[string]string{TargetRelay: "#777777", TargetSMSFW: "#1f77b4", TargetRules: "#d62728", TargetDirect: "#2ca02c"}

// SVG draws the curve's throughput per target as lines over the x values
// (evenly spaced: the x values are categories such as 1, 4, 16, 64).
// Written by hand: a chart of a few lines does not need a plotting library.
func (c Curve) SVG() string {
	const w, h, left, right, top, bottom = 640, 360, 80, 150, 40, 50
	var xs []int
	var targets []string
	maxY := 0.0
	for _, p := range c.Points {
		if !slices.Contains(xs, p.X) {
			xs = append(xs, p.X)
		}
		if !slices.Contains(targets, p.Target) {
			targets = append(targets, p.Target)
		}
		maxY = math.Max(maxY, p.Rate)
	}
	if maxY == 0 {
		maxY = 1
	}
	maxY *= 1.1
	px := func(i int) float64 {
		if len(xs) == 1 {
			return left + (w-left-right)/2
		}
		return left + float64(i)*float64(w-left-right)/float64(len(xs)-1)
	}
	py := func(v float64) float64 { return top + (h-top-bottom)*(1-v/maxY) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="14">throughput vs %s (msg/s)</text>`+"\n", left, c.XLabel)
	for i := 0; i <= 4; i++ {
		v := maxY * float64(i) / 4
		y := py(v)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>`+"\n", left, y, w-right, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%.0fk</text>`+"\n", left-6, y+4, v/1000)
	}
	for i, x := range xs {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n", px(i), h-bottom+18, x)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", (w-right+left)/2, h-10, c.XLabel)
	for ti, t := range targets {
		color := svgColors[t]
		if color == "" {
			color = "#9467bd"
		}
		var pts []string
		for i, x := range xs {
			for _, p := range c.Points {
				if p.X == x && p.Target == t {
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(i), py(p.Rate)))
				}
			}
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", color, strings.Join(pts, " "))
		for _, pt := range pts {
			xy := strings.Split(pt, ",")
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", xy[0], xy[1], color)
		}
		ly := top + 20*ti
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", w-right+15, ly, w-right+35, ly, color)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", w-right+40, ly+4, t)
	}
	b.WriteString("</svg>\n")
	return b.String()
}
