package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"text/tabwriter"
	"time"
)

// ErrTooFewCPUs: the pinned measurement needs a core for the target and
// at least one for the load generator and simulator.
var ErrTooFewCPUs = errors.New("bench: pinned measurement needs at least 2 CPUs")

// PinnedOptions size MeasurePinned.
type PinnedOptions struct {
	Binary   string // smsfw executable (children: `run`, and `bench --serve-relay`)
	Sessions int
	Window   int
	Duration time.Duration
	Warmup   time.Duration
	Rounds   int
	Progress *Progress
	// ProfileDir, when set, receives a CPU profile of each smsfw child's
	// first measured round in each phase (from its /debug/pprof/profile),
	// named pinned-<phase>-<target>.pprof.
	ProfileDir string
}

// PinnedResult is one target measured as a child process on its own core.
type PinnedResult struct {
	TargetResult
	// ChildCPU is the CPU time the target's process spent per answered
	// message (the load generator and simulator are not in it).
	ChildCPU time.Duration `json:"child_cpu_per_msg_ns"`
	// ChildBusy is the share of its core the target's process used while
	// measured: near 1 the target was the bottleneck; well below, the load
	// generator was, and the rate says little of the target.
	ChildBusy float64 `json:"child_busy"`
}

// PinnedReport is the relay, smsfw allow-all and smsfw with the reference
// ruleset, each a child process pinned to one core, the load generator and
// simulator pinned to the others: the closed-loop maximum of each, then
// open loop at half of the ruleset's maximum.
type PinnedReport struct {
	TargetCPU  int            `json:"target_cpu"`
	LoadCPUs   []int          `json:"load_cpus"`
	Closed     []PinnedResult `json:"closed_loop"`
	HalfRate   float64        `json:"half_rate"` // half of the ruleset's closed-loop maximum
	Half       []PinnedResult `json:"half_rate_results"`
	TargetP99  time.Duration  `json:"added_p99_target_ns"`
	RulesAdded time.Duration  `json:"rules_added_p99_ns"`
}

// pinnedPlan is the time planned per round (progress estimate).
func pinnedPlan(o PinnedOptions) time.Duration {
	return time.Duration(max(o.Rounds, 1)*6) * (o.Warmup + o.Duration)
}

// MeasurePinned runs the pinned measurement. On a shared machine the
// in-process figures mix the target's work with the load generator's on
// the same cores: every target's p99 there is a wait for a core. Here the
// target has a core of its own, so its added p99 and its throughput are
// its own (as far as the load generator keeps up: ChildBusy says so).
func MeasurePinned(ctx context.Context, o PinnedOptions) (_ *PinnedReport, err error) {
	cpus, err := allowedCPUs()
	if err != nil {
		return nil, err
	}
	if len(cpus) < 2 {
		return nil, ErrTooFewCPUs
	}
	rep := &PinnedReport{TargetCPU: cpus[len(cpus)-1], LoadCPUs: cpus[:len(cpus)-1], TargetP99: AddedP99Target}
	policy, simAddr, stop, err := referenceRig("smsfw-pinned-", Reference{})
	if err != nil {
		return nil, err
	}
	defer stop()

	// The load side keeps its cores for the whole measurement; restored after.
	all := cpus
	prevProcs := runtime.GOMAXPROCS(len(rep.LoadCPUs))
	if err := pinProcess(0, rep.LoadCPUs); err != nil {
		runtime.GOMAXPROCS(prevProcs)
		return nil, err
	}
	defer func() {
		runtime.GOMAXPROCS(prevProcs)
		if perr := pinProcess(0, all); perr != nil && err == nil {
			err = perr
		}
	}()

	env := []string{"GOMAXPROCS=1"}
	targets := []string{TargetRelay, TargetSMSFW, TargetRules}
	children := map[string]*Child{}
	defer func() {
		for _, c := range children {
			c.Stop()
		}
	}()
	for _, t := range targets {
		co := ChildOptions{Binary: o.Binary, Upstream: simAddr, Env: env}
		switch t {
		case TargetRelay:
			co.Relay = true
		case TargetRules:
			co.Rules = policy
		}
		c, err := StartChild(ctx, co)
		if err != nil {
			return nil, fmt.Errorf("pinned %s: %w", t, err)
		}
		children[t] = c
		if err := pinProcess(c.PID, []int{rep.TargetCPU}); err != nil {
			return nil, fmt.Errorf("pinned %s: %w", t, err)
		}
	}

	run := func(t string, rate float64, phase string, round int) (PinnedResult, error) {
		c := children[t]
		o.Progress.Step(fmt.Sprintf("pinned: %sround %d/%d %s", phase, round+1, max(o.Rounds, 1), t), o.Warmup+o.Duration)
		before, err := procCPU(c.PID)
		if err != nil {
			return PinnedResult{}, err
		}
		var prof chan error
		if o.ProfileDir != "" && round == 0 && c.Admin != "" {
			prof = make(chan error, 1)
			name := fmt.Sprintf("pinned-%s-%s.pprof", map[bool]string{true: "half", false: "closed"}[rate > 0], t)
			go func() { prof <- c.CPUProfile(ctx, o.Warmup, o.Duration, filepath.Join(o.ProfileDir, name)) }()
		}
		start := time.Now()
		res, err := Run(ctx, Load{Addr: c.SMPP, Sessions: o.Sessions, Window: o.Window, Duration: o.Duration, Warmup: o.Warmup,
			Rate: rate, Progress: func(done uint64, _ time.Duration) { o.Progress.Update(fmt.Sprintf("%d answered", done)) }})
		wall := time.Since(start)
		if err != nil {
			return PinnedResult{}, fmt.Errorf("pinned %s: %w", t, err)
		}
		after, err := procCPU(c.PID)
		if err != nil {
			return PinnedResult{}, err
		}
		if prof != nil {
			if err := <-prof; err != nil {
				return PinnedResult{}, fmt.Errorf("pinned %s: profile: %w", t, err)
			}
		}
		cpu := time.Duration(after-before) * time.Second / clockTick
		pr := PinnedResult{TargetResult: TargetResult{Target: t, Result: res}, ChildBusy: cpu.Seconds() / wall.Seconds()}
		if res.Answered > 0 {
			pr.ChildCPU = cpu / time.Duration(res.Answered)
		}
		o.Progress.Logf("pinned: %sround %d %-12s %s, child CPU %v/msg, busy %.0f%%\n", phase, round+1, t, res,
			pr.ChildCPU.Round(10*time.Nanosecond), 100*pr.ChildBusy)
		return pr, nil
	}
	rounds := func(rate float64, phase string) ([]PinnedResult, error) {
		got := map[string][]PinnedResult{}
		for round := 0; round < max(o.Rounds, 1); round++ {
			for k := range targets {
				t := targets[(k+round)%len(targets)]
				pr, err := run(t, rate, phase, round)
				if err != nil {
					return nil, err
				}
				got[t] = append(got[t], pr)
			}
		}
		var out []PinnedResult
		for _, t := range targets {
			rs := got[t]
			key := func(r PinnedResult) float64 { return r.Result.Rate }
			if rate > 0 {
				key = func(r PinnedResult) float64 { return float64(r.Result.P99) }
			}
			out = append(out, medianBy(rs, key))
		}
		return out, nil
	}
	if rep.Closed, err = rounds(0, "closed loop: "); err != nil {
		return nil, err
	}
	relay, rules := rep.Closed[0], rep.Closed[2]
	for i := range rep.Closed {
		r := &rep.Closed[i]
		r.Ratio = r.Result.Rate / relay.Result.Rate
	}
	rep.HalfRate = rules.Result.Rate / 2
	if rep.Half, err = rounds(rep.HalfRate, "half rate: "); err != nil {
		return nil, err
	}
	for i := range rep.Half {
		r := &rep.Half[i]
		r.Ratio = r.Result.Rate / rep.Half[0].Result.Rate
		r.AddedP99 = r.Result.P99 - rep.Half[0].Result.P99
	}
	rep.RulesAdded = rep.Half[2].AddedP99
	return rep, nil
}

// medianBy returns the element of rs with the median key.
func medianBy(rs []PinnedResult, key func(PinnedResult) float64) PinnedResult {
	s := slices.Clone(rs)
	slices.SortStableFunc(s, func(a, b PinnedResult) int { return cmp.Compare(key(a), key(b)) })
	return s[len(s)/2]
}

// WriteTable prints the pinned measurement.
func (p *PinnedReport) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "\npinned: each target a child process alone on CPU %d (GOMAXPROCS=1), load generator and simulator on CPUs %v\n",
		p.TargetCPU, p.LoadCPUs)
	write := func(rs []PinnedResult, added bool) {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "target\tmsg/s\tvs relay\tp50\tp99\tadded p99\ttarget's CPU/msg\ttarget's core busy\t")
		for _, r := range rs {
			a := "-"
			if added && r.Target != TargetRelay {
				a = r.AddedP99.Round(time.Microsecond).String()
			}
			fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%v\t%v\t%s\t%v\t%.0f%%\t\n", r.Target, r.Result.Rate, r.Ratio,
				r.Result.P50.Round(time.Microsecond), r.Result.P99.Round(time.Microsecond), a,
				r.ChildCPU.Round(10*time.Nanosecond), 100*r.ChildBusy)
		}
		_ = tw.Flush()
	}
	fmt.Fprintln(w, "closed loop:")
	write(p.Closed, false)
	fmt.Fprintf(w, "open loop at half of the ruleset's maximum (%.0f msg/s), added p99 target <= %v:\n", p.HalfRate, p.TargetP99)
	write(p.Half, true)
}

// Verdicts are issue 16's targets as the pinned measurement gives them.
func (p *PinnedReport) Verdicts() []Verdict {
	var out []Verdict
	for _, tc := range []struct {
		i    int
		name string
		min  float64
	}{{1, "allow-all", RatioTargetAllowAll}, {2, "reference ruleset", RatioTargetRules}} {
		r := p.Closed[tc.i]
		v := Verdict{What: fmt.Sprintf("%s throughput, pinned, vs relay", tc.name), Value: r.Ratio, Target: tc.min, Met: r.Ratio >= tc.min}
		if r.ChildCPU > 0 {
			v.CPURatio = float64(p.Closed[0].ChildCPU) / float64(r.ChildCPU)
		}
		if p.Closed[0].ChildBusy < 0.9 {
			v.Note = fmt.Sprintf("the relay's core %.0f%% busy: the load generator limits it", 100*p.Closed[0].ChildBusy)
		}
		out = append(out, v)
	}
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	out = append(out, Verdict{What: "added p99 at half rate, reference ruleset, pinned", Value: us(p.RulesAdded),
		Target: us(p.TargetP99), Met: p.RulesAdded <= p.TargetP99,
		Note: fmt.Sprintf("at half of its own maximum, %.0f msg/s", p.HalfRate)})
	return out
}
