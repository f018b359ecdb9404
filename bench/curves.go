package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// CurveOptions size a cost-curve run.
type CurveOptions struct {
	Duration time.Duration // per point (default 1s)
	Warmup   time.Duration // per point (default 300ms)
	Log      io.Writer
	// Binary, when set, is an smsfw executable: memory is then also
	// measured for smsfw alone, in a child process.
	Binary string
}

// Point is one measurement on a curve.
type Point struct {
	X      int           `json:"x"`
	Target string        `json:"target"`
	Rate   float64       `json:"rate_per_s"`
	P99    time.Duration `json:"p99_ns"`
	Ratio  float64       `json:"ratio_to_relay"`
}

// Curve is throughput and p99 against one parameter.
type Curve struct {
	Name   string  `json:"name"`
	XLabel string  `json:"x_label"`
	Points []Point `json:"points"`
}

// Memory is resident memory of the whole benchmark process (load generator,
// simulator and proxies included), in MiB.
type Memory struct {
	IdleMiB      float64 `json:"idle_mib"`       // reference ruleset and a 1M-entry number list loaded, no traffic
	UnderLoadMiB float64 `json:"under_load_mib"` // peak while the ruleset target is loaded
	NumberList   int     `json:"number_list_entries"`
}

// CurveReport is a whole cost-curve run.
type CurveReport struct {
	Time   time.Time    `json:"time"`
	Curves []Curve      `json:"curves"`
	Memory Memory       `json:"memory"`
	Alone  *AloneMemory `json:"rss_alone,omitempty"`
}

// Curves measures throughput and p99 against sessions, window and ruleset
// size, and memory with the reference ruleset plus a 1M-entry number list.
// Every point runs the relay baseline beside the measured target.
func Curves(ctx context.Context, o CurveOptions) (*CurveReport, error) {
	if o.Duration == 0 {
		o.Duration = time.Second
	}
	if o.Warmup == 0 {
		o.Warmup = 300 * time.Millisecond
	}
	rep := &CurveReport{Time: time.Now().UTC()}
	// 4x3 + 3x3 + 4x2 points and the memory run, each warm-up + duration.
	per := o.Warmup + o.Duration
	plan := 30 * per
	if o.Binary != "" {
		plan += aloneSetup + per
	}
	prog := NewProgress(o.Log, plan)
	defer prog.Done()
	logf := prog.Logf
	measure := func(r *rig, target string, sessions, window int) (Result, error) {
		prog.Step(fmt.Sprintf("%s: %d sessions x window %d", target, sessions, window), per)
		return Run(ctx, Load{Addr: r.addrs[target], Sessions: sessions, Window: window, Duration: o.Duration, Warmup: o.Warmup,
			Progress: func(done uint64, _ time.Duration) { prog.Update(fmt.Sprintf("%d answered", done)) }})
	}
	point := func(c *Curve, r *rig, x, sessions, window int, targets ...string) error {
		base, err := measure(r, TargetRelay, sessions, window)
		if err != nil {
			return err
		}
		c.Points = append(c.Points, Point{X: x, Target: TargetRelay, Rate: base.Rate, P99: base.P99, Ratio: 1})
		for _, t := range targets {
			res, err := measure(r, t, sessions, window)
			if err != nil {
				return err
			}
			c.Points = append(c.Points, Point{X: x, Target: t, Rate: res.Rate, P99: res.P99, Ratio: res.Rate / base.Rate})
			logf("%s=%d %-12s %9.0f msg/s  %.2f of relay  p99 %v\n", c.XLabel, x, t, res.Rate, res.Rate/base.Rate, res.P99.Round(time.Microsecond))
		}
		return nil
	}

	r, err := newRig([]string{TargetRules}, 100, nil, Reference{})
	if err != nil {
		return nil, err
	}
	sessions := Curve{Name: "sessions", XLabel: "sessions"}
	for _, n := range []int{1, 4, 16, 64} {
		if err := point(&sessions, r, n, n, 100, TargetSMSFW, TargetRules); err != nil {
			r.close()
			return nil, err
		}
	}
	window := Curve{Name: "window", XLabel: "window"}
	for _, w := range []int{1, 10, 100} {
		if err := point(&window, r, w, 4, w, TargetSMSFW, TargetRules); err != nil {
			r.close()
			return nil, err
		}
	}
	r.close()
	rep.Curves = append(rep.Curves, sessions, window)

	size := Curve{Name: "ruleset", XLabel: "ruleset size"}
	for _, n := range []int{10, 1_000, 10_000, 100_000} {
		r, err := newRig([]string{TargetRules}, 100, nil, Reference{Keywords: n, Prefixes: n, Rules: min(max(n, 20), 1000)})
		if err != nil {
			return nil, err
		}
		err = point(&size, r, n, 4, 100, TargetRules)
		r.close()
		if err != nil {
			return nil, err
		}
	}
	rep.Curves = append(rep.Curves, size)

	// Memory: the reference ruleset with a 1,000,000-entry number list.
	runtime.GC()
	const numbers = 1_000_000
	r, err = newRig([]string{TargetRules}, 100, nil, Reference{Prefixes: numbers})
	if err != nil {
		return nil, err
	}
	defer r.close()
	runtime.GC()
	rep.Memory.NumberList = numbers
	rep.Memory.IdleMiB = rssMiB()
	stopPeak := samplePeak(func() (float64, error) { return rssMiB(), nil })
	_, err = measure(r, TargetRules, 4, 100)
	peak := stopPeak()
	if err != nil {
		return nil, err
	}
	rep.Memory.UnderLoadMiB = max(peak, rssMiB())
	logf("memory: %.0f MiB idle, %.0f MiB under load (reference ruleset + %d numbers; whole process)\n",
		rep.Memory.IdleMiB, rep.Memory.UnderLoadMiB, numbers)
	if o.Binary != "" {
		r.close() // the in-process targets would compete with the child for the cores
		prog.Step("smsfw alone: starting a child process", aloneSetup)
		if rep.Alone, err = MeasureAlone(ctx, AloneOptions{Binary: o.Binary, Sessions: 4, Window: 100, Duration: o.Duration, Progress: prog}); err != nil {
			return nil, err
		}
		logf("memory of smsfw alone: %.0f MiB idle, %.0f MiB under load\n", rep.Alone.IdleMiB, rep.Alone.UnderLoadMiB)
	}
	return rep, nil
}

// rssMiB reads VmRSS from /proc/self/status (0 where there is none).
func rssMiB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// WriteTables prints each curve as a table.
func (r *CurveReport) WriteTables(w io.Writer) {
	for _, c := range r.Curves {
		fmt.Fprintf(w, "\n%s\n", c.XLabel)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "x\ttarget\tmsg/s\tvs relay\tp99\t")
		for _, p := range c.Points {
			fmt.Fprintf(tw, "%d\t%s\t%.0f\t%.2f\t%v\t\n", p.X, p.Target, p.Rate, p.Ratio, p.P99.Round(time.Microsecond))
		}
		_ = tw.Flush()
	}
	fmt.Fprintf(w, "\nmemory (whole process): %.0f MiB idle, %.0f MiB under load, reference ruleset + %d-entry number list\n",
		r.Memory.IdleMiB, r.Memory.UnderLoadMiB, r.Memory.NumberList)
	if a := r.Alone; a != nil {
		fmt.Fprintf(w, "memory of smsfw alone (child process): %.0f MiB idle, %.0f MiB under load (target <= %d MiB)\n",
			a.IdleMiB, a.UnderLoadMiB, a.TargetMiB)
	}
}

// WriteFiles writes curves.json and one SVG chart per curve into dir.
func (r *CurveReport) WriteFiles(dir string) error {
	if err := writeJSON(filepath.Join(dir, "curves.json"), r); err != nil {
		return err
	}
	for _, c := range r.Curves {
		if err := os.WriteFile(filepath.Join(dir, "curve-"+c.Name+".svg"), []byte(c.SVG()), 0o644); err != nil {
			return err
		}
	}
	return nil
}
