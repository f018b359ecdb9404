package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
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
	duration := fs.Duration("duration", 5*time.Second, "measured time per target")
	warmup := fs.Duration("warmup", time.Second, "unmeasured warm-up per target")
	rate := fs.Float64("rate", 0, "open-loop rate in msg/s (0: closed loop)")
	targets := fs.String("targets", "direct,relay,smsfw,smsfw-rules", "targets in order: direct, relay, smsfw (allow-all), smsfw-rules (reference ruleset)")
	rounds := fs.Int("rounds", 1, "repeat each target this many times (rotating order) and report the median")
	jsonOut := fs.String("json", "", "write the report as JSON to this file")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	curves := fs.Bool("curves", false, "measure cost curves (sessions, window, ruleset size) and memory instead; writes curves.json and SVG charts to --out")
	out := fs.String("out", "bench/results", "directory for --curves output")
	if err := parse(fs, args); err != nil {
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
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if *curves {
		rep, err := bench.Curves(ctx, bench.CurveOptions{Duration: *duration, Warmup: *warmup, Log: stderr})
		if err != nil {
			return err
		}
		rep.WriteTables(stdout)
		return rep.WriteFiles(*out)
	}
	rep, err := bench.Suite{Sessions: *sessions, Window: *window, Duration: *duration, Warmup: *warmup, Rate: *rate, Rounds: *rounds,
		Targets: strings.Split(*targets, ","), Log: stderr}.Run(ctx)
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
