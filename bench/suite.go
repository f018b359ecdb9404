package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/app"
	"github.com/smsfw/smsfw/internal/config"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/sim"
)

// Target names.
const (
	TargetDirect = "direct"      // straight to the simulator
	TargetRelay  = "relay"       // through a plain TCP relay: the baseline ratios refer to
	TargetSMSFW  = "smsfw"       // through smsfw, allow-all
	TargetRules  = "smsfw-rules" // through smsfw with the reference ruleset
)

// Suite runs the same load through each target in one process and run.
type Suite struct {
	Sessions int
	Window   int
	Duration time.Duration
	Warmup   time.Duration
	Rate     float64
	Targets  []string
	// Rounds repeats every target this many times, rotating the order, and
	// reports each target's median-throughput round (default 1): a fairer
	// comparison on a shared 2-core machine.
	Rounds int
	// Inspector for the smsfw target (nil: allow all).
	Inspector filter.Inspector
	// HalfRate adds the latency phase: open loop at half of the relay's
	// closed-loop rate through every target but direct, and each target's
	// p99 minus the relay's (needs the relay among Targets and Rate 0).
	HalfRate bool
	// Scale adds closed-loop throughput at other sessions x window shapes,
	// every target against the relay at the same shape (e.g. 64 x 10:
	// many sessions with small windows), reported beside the main shape.
	Scale []Shape
	// Binary, when set, is an smsfw executable to measure resident memory
	// of smsfw alone (a child process with the reference ruleset and a
	// 1M-entry number list, idle and under load).
	Binary string
	// Pinned, when set, is an smsfw executable for the pinned measurement:
	// the relay, allow-all and the ruleset each as a child process alone on
	// one core, the load generator on the others (MeasurePinned).
	Pinned string
	// PinnedProfileDir: CPU profiles of the pinned smsfw children (PinnedOptions.ProfileDir).
	PinnedProfileDir string
	// Inspection, when positive, is how many messages the reference
	// ruleset's chain inspects alone, without the proxy (MeasureInspection;
	// needs the ruleset among Targets).
	Inspection int
	// Progress output (a bar on a terminal, plain lines otherwise), may be nil.
	Log io.Writer
}

// Shape is a number of sessions and the window of each.
type Shape struct {
	Sessions int `json:"sessions"`
	Window   int `json:"window"`
}

func (sh Shape) String() string { return fmt.Sprintf("%dx%d", sh.Sessions, sh.Window) }

// ParseShapes parses a comma-separated list of SESSIONSxWINDOW.
func ParseShapes(list string) ([]Shape, error) {
	var out []Shape
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		var sh Shape
		if n, err := fmt.Sscanf(f, "%dx%d", &sh.Sessions, &sh.Window); err != nil || n != 2 || sh.Sessions <= 0 || sh.Window <= 0 ||
			fmt.Sprint(sh) != f {
			return nil, fmt.Errorf("bench: shape %q: want SESSIONSxWINDOW, e.g. 64x10", f)
		}
		out = append(out, sh)
	}
	return out, nil
}

// Throughput targets of issue 16, as ratios to the relay in the same run.
const (
	RatioTargetAllowAll = 0.9
	RatioTargetRules    = 0.6
)

// AddedP99Target is the latency budget smsfw may add at half of the
// maximum rate (ARCHITECTURE.md, issue 5).
const AddedP99Target = 250 * time.Microsecond

// HalfRateReport is the latency phase: every target at the same open-loop
// rate, half of the relay's closed-loop maximum.
type HalfRateReport struct {
	Rate    float64        `json:"rate"`
	Target  time.Duration  `json:"added_p99_target_ns"`
	Results []TargetResult `json:"results"` // AddedP99: p99 minus the relay's at this rate
	// Own: targets too slow for Rate, measured at half of their own maximum.
	Own []OwnHalfRate `json:"own_half_rate,omitempty"`
}

// OwnHalfRate is a target and the relay at half of the target's own
// closed-loop maximum.
type OwnHalfRate struct {
	Target   string        `json:"target"`
	Rate     float64       `json:"rate"`
	Result   Result        `json:"result"`
	Relay    Result        `json:"relay"`
	AddedP99 time.Duration `json:"added_p99_ns_vs_relay"`
}

// TargetResult is one target's figures.
type TargetResult struct {
	Target string  `json:"target"`
	Result Result  `json:"result"`
	Ratio  float64 `json:"throughput_ratio_to_relay"`
	// AddedP99 is p99 minus the relay's p99.
	AddedP99 time.Duration `json:"added_p99_ns_vs_relay"`
}

// Report is a whole suite run.
type Report struct {
	Time     time.Time       `json:"time"`
	Sessions int             `json:"sessions"`
	Window   int             `json:"window"`
	Duration time.Duration   `json:"duration_ns"`
	Rate     float64         `json:"rate"`
	Rounds   int             `json:"rounds"`
	Results  []TargetResult  `json:"results"`
	HalfRate *HalfRateReport `json:"half_rate,omitempty"`
	// Scale: closed-loop throughput at the other shapes (Suite.Scale).
	Scale []ShapeReport `json:"scale,omitempty"`
	Alone *AloneMemory  `json:"rss_alone,omitempty"`
	// Pinned: the targets as child processes on a core of their own.
	Pinned *PinnedReport `json:"pinned,omitempty"`
	// PinnedSkipped says why the pinned measurement did not run.
	PinnedSkipped string `json:"pinned_skipped,omitempty"`
	// Inspection: the ruleset's inspection alone (Suite.Inspection).
	Inspection *InspectionReport `json:"inspection,omitempty"`
	// Targets: issue 16's targets met or missed (Verdicts).
	Targets []Verdict `json:"targets,omitempty"`
}

// ShapeReport is closed-loop throughput at one sessions x window shape.
type ShapeReport struct {
	Shape
	Results []TargetResult `json:"results"`
}

// Run executes the suite.
func (s Suite) Run(ctx context.Context) (*Report, error) {
	if len(s.Targets) == 0 {
		s.Targets = []string{TargetDirect, TargetRelay, TargetSMSFW}
	}
	r, err := newRig(s.Targets, s.Window, s.Inspector, Reference{})
	if err != nil {
		return nil, err
	}
	defer r.close()
	addrs := r.addrs

	rounds := max(s.Rounds, 1)
	rep := &Report{Time: time.Now().UTC(), Sessions: s.Sessions, Window: s.Window, Duration: s.Duration, Rate: s.Rate, Rounds: rounds}
	for _, name := range s.Targets {
		if _, ok := addrs[name]; !ok {
			return nil, fmt.Errorf("bench: unknown target %q", name)
		}
	}
	halfTargets := []string{}
	if s.HalfRate && s.Rate == 0 && slices.Contains(s.Targets, TargetRelay) {
		for _, t := range s.Targets {
			if t != TargetDirect {
				halfTargets = append(halfTargets, t)
			}
		}
	}
	per := s.Warmup + s.Duration
	plan := time.Duration(rounds*((1+len(s.Scale))*len(s.Targets)+len(halfTargets))) * per
	if s.Binary != "" {
		plan += aloneSetup + per
	}
	po := PinnedOptions{Binary: s.Pinned, Sessions: s.Sessions, Window: s.Window, Duration: s.Duration, Warmup: s.Warmup, Rounds: rounds, ProfileDir: s.PinnedProfileDir}
	if s.Pinned != "" {
		plan += pinnedPlan(po)
	}
	prog := NewProgress(s.Log, plan)
	defer prog.Done()

	var runShape func(targets []string, sh Shape, rate float64, phase string) (map[string][]Result, error)
	// runRounds runs every target rounds times in rotating order at rate (0:
	// closed loop) and returns each target's runs.
	main := Shape{Sessions: s.Sessions, Window: s.Window}
	runRounds := func(targets []string, rate float64, phase string) (map[string][]Result, error) {
		return runShape(targets, main, rate, phase)
	}
	runShape = func(targets []string, sh Shape, rate float64, phase string) (map[string][]Result, error) {
		all := map[string][]Result{}
		for round := 0; round < rounds; round++ {
			for k := range targets {
				name := targets[(k+round)%len(targets)]
				step := fmt.Sprintf("%sround %d/%d %s", phase, round+1, rounds, name)
				prog.Step(step, per)
				res, err := Run(ctx, Load{Addr: addrs[name], Sessions: sh.Sessions, Window: sh.Window, Duration: s.Duration,
					Warmup: s.Warmup, Rate: rate, Progress: func(done uint64, el time.Duration) {
						prog.Update(fmt.Sprintf("%d answered", done))
					}})
				if err != nil {
					return nil, fmt.Errorf("bench %s: %w", name, err)
				}
				prog.Logf("%-32s %s\n", step, res)
				all[name] = append(all[name], res)
			}
		}
		return all, nil
	}
	all, err := runRounds(s.Targets, s.Rate, "")
	if err != nil {
		return nil, err
	}
	// The median-throughput round of each target.
	rep.Results = ratios(medians(s.Targets, all, func(r Result) float64 { return r.Rate }))
	for _, sh := range s.Scale {
		all, err := runShape(s.Targets, sh, s.Rate, sh.String()+": ")
		if err != nil {
			return nil, err
		}
		rep.Scale = append(rep.Scale, ShapeReport{Shape: sh, Results: ratios(medians(s.Targets, all, func(r Result) float64 { return r.Rate }))})
	}
	if relay := find(rep.Results, TargetRelay); relay != nil {
		if len(halfTargets) > 0 {
			// Latency at a load the machine can carry: half of what the
			// relay moves flat out, the same rate for every target, open
			// loop so a slow target cannot slow the sender down.
			hr := &HalfRateReport{Rate: relay.Result.Rate / 2, Target: AddedP99Target}
			all, err := runRounds(halfTargets, hr.Rate, "half rate: ")
			if err != nil {
				return nil, err
			}
			// The median-p99 round of each target.
			hr.Results = medians(halfTargets, all, func(r Result) float64 { return float64(r.P99) })
			if base := find(hr.Results, TargetRelay); base != nil {
				for i := range hr.Results {
					r := &hr.Results[i]
					r.Ratio = r.Result.Rate / base.Result.Rate
					r.AddedP99 = r.Result.P99 - base.Result.P99
				}
			}
			// A target that cannot carry that rate (its closed-loop maximum
			// is below it, with a 10% margin: the reference ruleset on two
			// shared cores) is overloaded there and its p99 says nothing of
			// added latency; it is also measured at half of its own
			// maximum, beside the relay at the same rate.
			for _, t := range rep.Results {
				if t.Target == TargetRelay || t.Target == TargetDirect || !slices.Contains(halfTargets, t.Target) ||
					t.Result.Rate >= hr.Rate/0.9 {
					continue
				}
				own := OwnHalfRate{Target: t.Target, Rate: t.Result.Rate / 2}
				all, err := runRounds([]string{TargetRelay, t.Target}, own.Rate, fmt.Sprintf("half of %s's own rate: ", t.Target))
				if err != nil {
					return nil, err
				}
				m := medians([]string{TargetRelay, t.Target}, all, func(r Result) float64 { return float64(r.P99) })
				own.Relay, own.Result = m[0].Result, m[1].Result
				own.AddedP99 = own.Result.P99 - own.Relay.P99
				hr.Own = append(hr.Own, own)
			}
			rep.HalfRate = hr
		}
	}
	if s.Inspection > 0 && r.rules != nil {
		prog.Step(fmt.Sprintf("inspection alone: %d new one-time codes through the reference ruleset", s.Inspection), per)
		ir, err := MeasureInspection(r.rules, s.Inspection)
		if err != nil {
			return nil, err
		}
		prog.Logf("inspection alone: %v of CPU per message, %.2f allocations\n", ir.CPU, ir.Allocs)
		rep.Inspection = ir
	}
	if s.Binary != "" {
		prog.Step("smsfw alone: starting a child process with the reference ruleset and 1M numbers", aloneSetup)
		mem, err := MeasureAlone(ctx, AloneOptions{Binary: s.Binary, Sessions: s.Sessions, Window: s.Window,
			Duration: s.Duration, Progress: prog})
		if err != nil {
			return nil, err
		}
		prog.Logf("smsfw alone: %.0f MiB idle, %.0f MiB under load (target <= %d MiB)\n", mem.IdleMiB, mem.UnderLoadMiB, RSSTargetMiB)
		rep.Alone = mem
	}
	if s.Pinned != "" {
		po.Progress = prog
		pr, err := MeasurePinned(ctx, po)
		switch {
		case errors.Is(err, ErrTooFewCPUs):
			rep.PinnedSkipped = err.Error()
		case err != nil:
			return nil, err
		default:
			rep.Pinned = pr
		}
	}
	rep.Targets = rep.Verdicts()
	return rep, nil
}

// ratios sets each result's throughput ratio and added p99 against the
// relay's among them (none without the relay).
func ratios(rs []TargetResult) []TargetResult {
	if relay := find(rs, TargetRelay); relay != nil {
		for i := range rs {
			r := &rs[i]
			r.Ratio = r.Result.Rate / relay.Result.Rate
			r.AddedP99 = r.Result.P99 - relay.Result.P99
		}
	}
	return rs
}

// medians picks, for each target, its median run by key.
func medians(targets []string, all map[string][]Result, key func(Result) float64) []TargetResult {
	var out []TargetResult
	for _, name := range targets {
		rs := all[name]
		sort.Slice(rs, func(i, j int) bool { return key(rs[i]) < key(rs[j]) })
		out = append(out, TargetResult{Target: name, Result: rs[len(rs)/2]})
	}
	return out
}

func find(rs []TargetResult, target string) *TargetResult {
	for i := range rs {
		if rs[i].Target == target {
			return &rs[i]
		}
	}
	return nil
}

// WriteTable prints the report as a table.
func (r *Report) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "%d sessions x window %d, %v per target, median of %d round(s)", r.Sessions, r.Window, r.Duration, r.Rounds)
	if r.Rate > 0 {
		fmt.Fprintf(w, ", open loop at %.0f msg/s", r.Rate)
	} else {
		fmt.Fprint(w, ", closed loop")
	}
	fmt.Fprintln(w)
	inflight := 0
	if r.Rate == 0 {
		inflight = r.Sessions * r.Window
	}
	writeResults(w, r.Results, inflight)
	for _, sh := range r.Scale {
		fmt.Fprintf(w, "\n%d sessions x window %d, closed loop\n", sh.Sessions, sh.Window)
		writeResults(w, sh.Results, sh.Sessions*sh.Window)
	}
	if inflight > 0 || len(r.Scale) > 0 {
		fmt.Fprintln(w, "\nin flight/rate: requests in flight over throughput, what Little's law makes the mean latency of a closed loop")
	}
	if hr := r.HalfRate; hr != nil {
		fmt.Fprintf(w, "\nlatency at half of the relay's maximum: open loop at %.0f msg/s, added p99 target <= %v\n", hr.Rate, hr.Target)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "target\tmsg/s\tp50\tp99\tp99.9\tadded p99\ttarget\t")
		for _, t := range hr.Results {
			added, verdict := "-", "-"
			if t.Target != TargetRelay {
				added = t.AddedP99.Round(time.Microsecond).String()
				verdict = "met"
				if t.AddedP99 > hr.Target {
					verdict = "MISSED"
				}
				if t.Result.Rate < 0.95*hr.Rate {
					verdict += " (overloaded)" // it could not carry the rate
				}
			}
			fmt.Fprintf(tw, "%s\t%.0f\t%v\t%v\t%v\t%s\t%s\t\n", t.Target, t.Result.Rate, t.Result.P50.Round(time.Microsecond),
				t.Result.P99.Round(time.Microsecond), t.Result.P999.Round(time.Microsecond), added, verdict)
		}
		_ = tw.Flush()
		for _, o := range hr.Own {
			verdict := "met"
			if o.AddedP99 > hr.Target {
				verdict = "MISSED"
			}
			fmt.Fprintf(w, "%s at half of its own maximum (%.0f msg/s): p99 %v, relay %v, added %v (%s)\n", o.Target, o.Rate,
				o.Result.P99.Round(time.Microsecond), o.Relay.P99.Round(time.Microsecond), o.AddedP99.Round(time.Microsecond), verdict)
		}
	}
	if r.Pinned != nil {
		r.Pinned.WriteTable(w)
	} else if r.PinnedSkipped != "" {
		fmt.Fprintf(w, "\npinned measurement skipped: %s\n", r.PinnedSkipped)
	}
	if ir := r.Inspection; ir != nil {
		fmt.Fprintf(w, "\ninspection alone (reference ruleset, %d one-time codes, each with a new code and a new destination): %v of CPU, %v wall, %.2f allocations per message; one clock read (%v here) per %d requests, as the proxy gives each PDU of a socket read the time of that read\n",
			ir.Messages, ir.CPU, ir.Wall, ir.Allocs, ir.ClockRead, readBatch)
	}
	writeVerdicts(w, r.Verdicts())
	if a := r.Alone; a != nil {
		verdict := "met"
		if a.UnderLoadMiB > RSSTargetMiB {
			verdict = "MISSED"
		}
		fmt.Fprintf(w, "\nRSS of smsfw alone (child process, %s): %.0f MiB idle, %.0f MiB under load at %.0f msg/s (target <= %d MiB: %s)\n",
			a.Setup, a.IdleMiB, a.UnderLoadMiB, a.Rate, RSSTargetMiB, verdict)
	}
}

// writeResults prints results as a table; with inflight (closed loop:
// sessions x window) it adds in-flight requests over the rate.
func writeResults(w io.Writer, rs []TargetResult, inflight int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "target\tmsg/s\tvs relay\tp50\tp99\tp99.9\tmax\tlost\tcpu/msg\t"
	if inflight > 0 {
		head += "in flight/rate\t"
	}
	fmt.Fprintln(tw, head)
	for _, t := range rs {
		ratio := "-"
		if t.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f", t.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%v\t%v\t%v\t%v\t%d\t%v\t", t.Target, t.Result.Rate, ratio,
			t.Result.P50.Round(time.Microsecond), t.Result.P99.Round(time.Microsecond),
			t.Result.P999.Round(time.Microsecond), t.Result.Max.Round(time.Microsecond), t.Result.Lost,
			t.Result.CPU.Round(10*time.Nanosecond))
		if inflight > 0 && t.Result.Rate > 0 {
			fmt.Fprintf(tw, "%v\t", time.Duration(float64(inflight)/t.Result.Rate*1e9).Round(time.Microsecond))
		}
		fmt.Fprintln(tw)
	}
	_ = tw.Flush()
}

// Verdict is one of issue 16's targets as this run measured it.
type Verdict struct {
	What   string  `json:"what"`
	Value  float64 `json:"value"`  // a ratio, or Unit
	Target float64 `json:"target"` // the least ratio, or the most of Unit
	// Unit is "" for a ratio (a floor), "µs" for a ceiling in microseconds.
	Unit string `json:"unit,omitempty"`
	Met  bool   `json:"met"`
	// CPURatio (throughput targets) is the relay's CPU per message over
	// the target's: the throughput ratio a machine that gives the process
	// all its cores would show, steadier than the rate when others share
	// them.
	CPURatio float64 `json:"cpu_ratio,omitempty"`
	Note     string  `json:"note,omitempty"`
}

// Verdicts are issue 16's targets met or missed in this run: throughput
// of allow-all and of the reference ruleset against the relay at every
// shape, and the added p99 at half rate with the ruleset.
func (r *Report) Verdicts() []Verdict {
	var out []Verdict
	shapes := append([]ShapeReport{{Shape: Shape{r.Sessions, r.Window}, Results: r.Results}}, r.Scale...)
	for _, tc := range []struct {
		target, name string
		min          float64
	}{{TargetSMSFW, "allow-all", RatioTargetAllowAll}, {TargetRules, "reference ruleset", RatioTargetRules}} {
		for _, sh := range shapes {
			if t := find(sh.Results, tc.target); t != nil && t.Ratio > 0 {
				v := Verdict{What: fmt.Sprintf("%s throughput at %v, vs relay", tc.name, sh.Shape), Value: t.Ratio,
					Target: tc.min, Met: t.Ratio >= tc.min}
				if relay := find(sh.Results, TargetRelay); relay != nil && t.Result.CPU > 0 {
					v.CPURatio = float64(relay.Result.CPU) / float64(t.Result.CPU)
				}
				out = append(out, v)
			}
		}
	}
	if hr := r.HalfRate; hr != nil {
		us := func(d time.Duration) float64 { return float64(d) / 1e3 }
		for _, t := range hr.Results {
			if t.Target != TargetRules {
				continue
			}
			v := Verdict{What: "added p99 at half rate, reference ruleset", Value: us(t.AddedP99), Target: us(hr.Target),
				Met: t.AddedP99 <= hr.Target}
			if t.Result.Rate < 0.95*hr.Rate {
				v.Note = "overloaded at the relay's half rate"
			}
			for _, o := range hr.Own {
				if o.Target == TargetRules {
					v.Value, v.Met = us(o.AddedP99), o.AddedP99 <= hr.Target
					v.Note = fmt.Sprintf("at half of its own maximum, %.0f msg/s", o.Rate)
				}
			}
			out = append(out, v)
		}
	}
	if r.Pinned != nil {
		out = append(out, r.Pinned.Verdicts()...)
	}
	if r.Inspection != nil {
		out = append(out, r.Inspection.Verdict())
	}
	return out
}

// writeVerdicts prints issue 16's targets as this run measured them.
func writeVerdicts(w io.Writer, vs []Verdict) {
	if len(vs) == 0 {
		return
	}
	fmt.Fprintln(w, "\ntargets (ratios to the relay in this run; load generator, simulator and smsfw share the machine's cores):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, v := range vs {
		verdict := "met"
		if !v.Met {
			verdict = "MISSED"
		}
		value, target := fmt.Sprintf("%.2f", v.Value), fmt.Sprintf(">= %.2f", v.Target)
		switch {
		case strings.HasPrefix(v.What, "added p99"):
			value, target = fmt.Sprintf("%+.0f µs", v.Value), fmt.Sprintf("<= %.0f µs", v.Target)
		case v.Unit == "µs":
			value, target = fmt.Sprintf("%.2f µs", v.Value), fmt.Sprintf("<= %.2f µs", v.Target)
		}
		if v.Note != "" {
			verdict += " (" + v.Note + ")"
		}
		if v.CPURatio > 0 {
			verdict += fmt.Sprintf(" (by CPU per message: %.2f)", v.CPURatio)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", v.What, value, target, verdict)
	}
	_ = tw.Flush()
}

// WriteJSON writes the report to path.
func (r *Report) WriteJSON(path string) error {
	return writeJSON(path, r)
}

// writeJSON writes v as indented JSON to path, creating its directory.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// rig is a running set of targets: the simulator, a TCP relay in front of
// it, smsfw allow-all, and smsfw with a generated reference ruleset when
// asked for.
type rig struct {
	addrs   map[string]string
	closers []func()
	rules   filter.Inspector // the reference ruleset's chain, when started
}

// close stops everything; it may be called more than once.
func (r *rig) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
	r.closers = nil
}

func newRig(targets []string, window int, insp filter.Inspector, ref Reference) (_ *rig, err error) {
	r := &rig{addrs: map[string]string{}}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	listen := func() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
	simSrv := sim.New(sim.Config{Keep: -1}, nil)
	simLn, err := listen()
	if err != nil {
		return nil, err
	}
	go func() { _ = simSrv.Serve(simLn) }()
	r.closers = append(r.closers, simSrv.Close)
	simAddr := simLn.Addr().String()
	r.addrs[TargetDirect] = simAddr

	relayLn, err := listen()
	if err != nil {
		return nil, err
	}
	relay := NewRelay(relayLn, simAddr)
	r.closers = append(r.closers, relay.Close)
	r.addrs[TargetRelay] = relayLn.Addr().String()

	// smsfw as `smsfw run` builds it (internal/app), in pass-through mode
	// in front of the simulator, without admin address or event store.
	cfg, err := config.Parse("bench.yaml", fmt.Appendf(nil,
		// All load comes from loopback: no per-source connection cap.
		"default_window: %d\nmax_connections_per_source: 1048576\n", max(window, 100)))
	if err != nil {
		return nil, err
	}
	startSMSFW := func(name string, policy *rules.Source, insp filter.Inspector) error {
		o := app.Options{Config: cfg, Listen: "127.0.0.1:0", NoAdmin: true, Upstream: simAddr, Policy: policy, DB: "none",
			Logger: zap.NewNop(), WatchInterval: -1}
		if insp != nil {
			o.WrapInspector = func(filter.Inspector) filter.Inspector { return insp }
		}
		a, err := app.New(context.Background(), o)
		if err != nil {
			return err
		}
		a.Start()
		r.closers = append(r.closers, func() { _ = a.Shutdown(context.Background()) })
		r.addrs[name] = a.Addr()
		if name == TargetRules && a.Chain != nil {
			r.rules = a.Chain
		}
		return nil
	}
	if err := startSMSFW(TargetSMSFW, nil, insp); err != nil {
		return nil, err
	}
	if slices.Contains(targets, TargetRules) {
		dir, err := os.MkdirTemp("", "smsfw-reference-")
		if err != nil {
			return nil, err
		}
		r.closers = append(r.closers, func() { _ = os.RemoveAll(dir) })
		path, err := WriteReference(dir, ref)
		if err != nil {
			return nil, err
		}
		src := rules.FileSource(path)
		if err := startSMSFW(TargetRules, &src, nil); err != nil {
			return nil, err
		}
	}
	return r, nil
}
