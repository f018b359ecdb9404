package bench

import (
	"strings"
	"testing"
	"time"
)

func TestCurveSVG(t *testing.T) {
	c := Curve{Name: "sessions", XLabel: "sessions", Points: []Point{
		{X: 1, Target: TargetRelay, Rate: 100000}, {X: 1, Target: TargetSMSFW, Rate: 90000},
		{X: 4, Target: TargetRelay, Rate: 400000, P99: time.Millisecond}, {X: 4, Target: TargetSMSFW, Rate: 350000},
	}}
	svg := c.SVG()
	if !strings.HasPrefix(svg, "<svg") || strings.Count(svg, "<polyline") != 2 || !strings.Contains(svg, ">smsfw<") ||
		!strings.Contains(svg, "throughput vs sessions") || !strings.HasSuffix(svg, "</svg>\n") {
		t.Fatalf("svg:\n%s", svg)
	}
}

func TestRSS(t *testing.T) {
	if rssMiB() <= 0 {
		t.Skip("no /proc/self/status here")
	}
}
