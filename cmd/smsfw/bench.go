package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/smsfw/smsfw/bench"
)

func benchCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("smsfw bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sessions := fs.Int("sessions", 4, "SMPP sessions")
	window := fs.Int("window", 100, "outstanding requests per session")
	duration := fs.Duration("duration", 5*time.Second, "measured time per target (--scenario: the run; --soak: the steady load)")
	warmup := fs.Duration("warmup", time.Second, "unmeasured warm-up per target")
	rate := fs.Float64("rate", 0, "open-loop rate in msg/s (0: closed loop; --scenario: total events/s; --soak: default 5000)")
	targets := fs.String("targets", "direct,relay,smsfw,smsfw-rules", "targets in order: direct, relay, smsfw (allow-all), smsfw-rules (reference ruleset)")
	scale := fs.String("scale", "", "also measure closed-loop throughput of every target at these SESSIONSxWINDOW shapes, comma-separated (e.g. 64x10,256x10)")
	rounds := fs.Int("rounds", 1, "repeat each target this many times (rotating order) and report the median")
	halfRate := fs.Bool("half-rate", true, "also measure added p99 at half of the relay's maximum rate (open loop, every target but direct)")
	rssAlone := fs.Bool("rss-alone", true, "also measure the RSS of smsfw alone (this binary as a child process, reference ruleset + 1M numbers)")
	jsonOut := fs.String("json", "", "write the report as JSON to this file")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	mutexProfile := fs.String("mutexprofile", "", "write a mutex contention profile of the whole run to this file")
	blockProfile := fs.String("blockprofile", "", "write a blocking profile of the whole run to this file (waits of 10 µs or more)")
	curves := fs.Bool("curves", false, "measure cost curves (sessions, window, ruleset size) and memory instead; writes curves.json and SVG charts to --out")
	out := fs.String("out", "bench/results", "directory for --curves output")
	scenario := fs.String("scenario", "", `run a traffic mix from a scenario file through smsfw with a policy and print the outcome per scenario ("default": the shipped bench/scenarios/default.yaml)`)
	policy := fs.String("policy", "", "policy for --scenario (default: the shipped deploy/rules/default.yaml)")
	soak := fs.Bool("soak", false, "soak: a steady open-loop --rate through smsfw (a child process) for --duration, counting lost and duplicated responses and sampling its RSS and goroutines")
	soakRules := fs.Bool("soak-rules", true, "--soak runs smsfw with the reference ruleset (false: allow-all)")
	pinned := fs.Bool("pinned", true, "also measure the relay, allow-all and the ruleset each as a child process alone on one core, the load generator on the others (throughput, and added p99 at half of the ruleset's maximum)")
	pinnedProfile := fs.String("pinned-profile", "", "directory for CPU profiles of the pinned smsfw children (one per phase and target)")
	serveRelay := fs.String("serve-relay", "", "serve a plain TCP relay to this upstream on a loopback port and log its address (the pinned measurement's baseline child)")
	inspection := fs.Int("inspection", 1_000_000, "also inspect this many new one-time codes with the reference ruleset's chain alone, without the proxy: CPU and allocations per inspection (0: skip)")
	grace := fs.Duration("grace", 5*time.Second, "--soak: how long requests unanswered at the end may take before they count as lost")
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *mutexProfile != "" {
		runtime.SetMutexProfileFraction(1)
		defer writeProfile("mutex", *mutexProfile, stderr)
	}
	if *blockProfile != "" {
		runtime.SetBlockProfileRate(int((10 * time.Microsecond).Nanoseconds()))
		defer writeProfile("block", *blockProfile, stderr)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	// smsfw alone is this very binary started as `smsfw run`.
	self := func() (string, error) {
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("cannot find this executable to run smsfw alone: %w", err)
		}
		return exe, nil
	}
	switch {
	case *serveRelay != "":
		return bench.ServeRelay(ctx, *serveRelay, stderr)
	case *scenario != "":
		return scenarioCmd(ctx, *scenario, *policy, fs, *rate, *duration, *jsonOut, stdout, stderr)
	case *soak:
		exe, err := self()
		if err != nil {
			return err
		}
		prog := bench.NewProgress(stderr, *duration+*grace+10*time.Second)
		rep, err := bench.Soak(ctx, bench.SoakOptions{Binary: exe, Duration: *duration, Rate: *rate, Sessions: *sessions,
			Window: *window, Grace: *grace, Reference: *soakRules, Progress: prog})
		prog.Done()
		if err != nil {
			return err
		}
		rep.WriteTable(stdout)
		if *jsonOut != "" {
			if err := rep.WriteJSON(*jsonOut); err != nil {
				return err
			}
		}
		if !rep.OK() {
			return fmt.Errorf("soak: %d lost, %d duplicated responses", rep.Lost, rep.Duplicated)
		}
		return nil
	case *curves:
		o := bench.CurveOptions{Duration: *duration, Warmup: *warmup, Log: stderr}
		if *rssAlone {
			exe, err := self()
			if err != nil {
				return err
			}
			o.Binary = exe
		}
		rep, err := bench.Curves(ctx, o)
		if err != nil {
			return err
		}
		rep.WriteTables(stdout)
		return rep.WriteFiles(*out)
	}
	shapes, err := bench.ParseShapes(*scale)
	if err != nil {
		return err
	}
	s := bench.Suite{Sessions: *sessions, Window: *window, Duration: *duration, Warmup: *warmup, Rate: *rate, Rounds: *rounds,
		Targets: strings.Split(*targets, ","), HalfRate: *halfRate, Scale: shapes, Inspection: *inspection, Log: stderr}
	if *rssAlone {
		exe, err := self()
		if err != nil {
			return err
		}
		s.Binary = exe
	}
	if *pinned {
		exe, err := self()
		if err != nil {
			return err
		}
		s.Pinned, s.PinnedProfileDir = exe, *pinnedProfile
	}
	rep, err := s.Run(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	rep.WriteTable(stdout)
	if *jsonOut != "" {
		return rep.WriteJSON(*jsonOut)
	}
	return nil
}

// writeProfile writes the named runtime profile to path; a failure is
// reported, not returned: the benchmark's own result stands.
func writeProfile(name, path string, stderr io.Writer) {
	f, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup(name).WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "smsfw bench: %s profile: %v\n", name, err)
	}
}

// scenarioCmd runs `smsfw bench --scenario FILE`. --rate and --duration
// override the file's only when given.
func scenarioCmd(ctx context.Context, file, policy string, fs *flag.FlagSet, rate float64, duration time.Duration,
	jsonOut string, stdout, stderr io.Writer) error {
	var (
		f   *bench.ScenarioFile
		err error
	)
	if file == "default" {
		f, err = bench.ParseScenarios("bench/scenarios/default.yaml (embedded)", bench.DefaultScenarios)
	} else {
		f, err = bench.LoadScenarios(file)
	}
	if err != nil {
		return err
	}
	run := bench.ScenarioRun{File: f, Policy: policy}
	if flagSet(fs, "rate") {
		run.Rate = rate
	}
	if flagSet(fs, "duration") {
		run.Duration = duration
	}
	d := f.Duration
	if run.Duration > 0 {
		d = run.Duration
	}
	run.Progress = bench.NewProgress(stderr, d)
	rep, err := run.Run(ctx)
	run.Progress.Done()
	if err != nil {
		return err
	}
	rep.WriteTable(stdout)
	if jsonOut != "" {
		if err := rep.WriteJSON(jsonOut); err != nil {
			return err
		}
	}
	if !rep.Met() {
		return fmt.Errorf("scenarios: some outcomes are not what %s expects", f.Path())
	}
	return nil
}
