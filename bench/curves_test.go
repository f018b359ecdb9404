package bench

import (
	"os"
	"runtime"
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

// rssMiB reads this process's resident memory: it must see 64 MiB of
// touched pages appear.
func TestRSS(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc/self/status here")
	}
	before := rssMiB()
	if before < 1 || before > 1<<20 {
		t.Fatalf("RSS %.1f MiB: not a plausible reading", before)
	}
	b := make([]byte, 64<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	after := rssMiB()
	runtime.KeepAlive(b)
	if after-before < 48 {
		t.Fatalf("RSS %.1f -> %.1f MiB after touching 64 MiB", before, after)
	}
}
