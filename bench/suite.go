package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/pipeline"
	"github.com/smsfw/smsfw/proxy"
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
	// Progress output (a line per target and progress dots), may be nil.
	Log io.Writer
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
	Time     time.Time      `json:"time"`
	Sessions int            `json:"sessions"`
	Window   int            `json:"window"`
	Duration time.Duration  `json:"duration_ns"`
	Rate     float64        `json:"rate"`
	Rounds   int            `json:"rounds"`
	Results  []TargetResult `json:"results"`
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
	all := map[string][]Result{}
	for _, name := range s.Targets {
		if _, ok := addrs[name]; !ok {
			return nil, fmt.Errorf("bench: unknown target %q", name)
		}
	}
	for round := 0; round < rounds; round++ {
		for k := range s.Targets {
			name := s.Targets[(k+round)%len(s.Targets)]
			if s.Log != nil {
				fmt.Fprintf(s.Log, "round %d %-8s ", round+1, name)
			}
			last := time.Duration(0)
			res, err := Run(ctx, Load{Addr: addrs[name], Sessions: s.Sessions, Window: s.Window, Duration: s.Duration,
				Warmup: s.Warmup, Rate: s.Rate, Progress: func(done uint64, el time.Duration) {
					if s.Log != nil && el-last >= time.Second {
						last = el
						fmt.Fprint(s.Log, ".")
					}
				}})
			if err != nil {
				return nil, fmt.Errorf("bench %s: %w", name, err)
			}
			if s.Log != nil {
				fmt.Fprintf(s.Log, " %s\n", res)
			}
			all[name] = append(all[name], res)
		}
	}
	for _, name := range s.Targets {
		rs := all[name]
		sort.Slice(rs, func(i, j int) bool { return rs[i].Rate < rs[j].Rate })
		rep.Results = append(rep.Results, TargetResult{Target: name, Result: rs[len(rs)/2]})
	}
	var relayRes *Result
	for i := range rep.Results {
		if rep.Results[i].Target == TargetRelay {
			relayRes = &rep.Results[i].Result
		}
	}
	if relayRes != nil {
		for i := range rep.Results {
			r := &rep.Results[i]
			r.Ratio = r.Result.Rate / relayRes.Rate
			r.AddedP99 = r.Result.P99 - relayRes.P99
		}
	}
	return rep, nil
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
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tmsg/s\tvs relay\tp50\tp99\tp99.9\tmax\tlost\t")
	for _, t := range r.Results {
		ratio := "-"
		if t.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f", t.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%v\t%v\t%v\t%v\t%d\t\n", t.Target, t.Result.Rate, ratio,
			t.Result.P50.Round(time.Microsecond), t.Result.P99.Round(time.Microsecond),
			t.Result.P999.Round(time.Microsecond), t.Result.Max.Round(time.Microsecond), t.Result.Lost)
	}
	_ = tw.Flush()
}

// WriteJSON writes the report to path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
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
}

func (r *rig) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
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

	startProxy := func(name string, insp filter.Inspector) error {
		px, err := proxy.New(proxy.Options{Upstream: simAddr, Inspector: insp, Logger: zap.NewNop(),
			Config: &proxy.Config{DefaultWindow: max(window, 100)}})
		if err != nil {
			return err
		}
		ln, err := listen()
		if err != nil {
			return err
		}
		go func() { _ = px.Serve(ln) }()
		r.closers = append(r.closers, func() { _ = px.Close() })
		r.addrs[name] = ln.Addr().String()
		return nil
	}
	if err := startProxy(TargetSMSFW, insp); err != nil {
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
		eng, err := rules.NewEngine(path, nil, nil)
		if err != nil {
			return nil, err
		}
		chain, err := pipeline.New(pipeline.Options{Engine: eng})
		if err != nil {
			return nil, err
		}
		r.closers = append(r.closers, chain.Close)
		if err := startProxy(TargetRules, chain); err != nil {
			return nil, err
		}
	}
	return r, nil
}
