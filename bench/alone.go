package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/smsfw/smsfw/sim"
)

// RSSTargetMiB is the memory budget of smsfw with the reference ruleset and
// a 1,000,000-entry number list (issue 5).
const RSSTargetMiB = 256

// aloneSetup is the time planned for starting the child (progress estimate).
const aloneSetup = 15 * time.Second

// AloneMemory is the resident memory (VmRSS) of smsfw in a process of its
// own: no load generator or simulator in the figure.
type AloneMemory struct {
	Setup        string  `json:"setup"`
	NumberList   int     `json:"number_list_entries"`
	IdleMiB      float64 `json:"idle_mib"`       // policy loaded, sessions bound, no traffic
	UnderLoadMiB float64 `json:"under_load_mib"` // peak while under closed-loop load
	Rate         float64 `json:"rate_per_s"`     // the load's throughput
	TargetMiB    int     `json:"target_mib"`
}

// AloneOptions size MeasureAlone.
type AloneOptions struct {
	Binary   string // smsfw executable
	Sessions int
	Window   int
	Duration time.Duration // under load (default 3s)
	Numbers  int           // number-list entries (default 1,000,000)
	Progress *Progress
}

// MeasureAlone starts smsfw as a child process with the reference ruleset
// and a large number list in front of an in-process simulator, reads its
// VmRSS once it is idle with sessions bound, then samples it every 50 ms
// under closed-loop load and keeps the peak.
func MeasureAlone(ctx context.Context, o AloneOptions) (*AloneMemory, error) {
	if o.Duration == 0 {
		o.Duration = 3 * time.Second
	}
	if o.Numbers == 0 {
		o.Numbers = 1_000_000
	}
	o.Sessions, o.Window = max(o.Sessions, 1), max(o.Window, 1)
	policy, simAddr, stop, err := referenceRig("smsfw-alone-", Reference{Prefixes: o.Numbers})
	if err != nil {
		return nil, err
	}
	defer stop()
	child, err := StartChild(ctx, ChildOptions{Binary: o.Binary, Upstream: simAddr, Rules: policy})
	if err != nil {
		return nil, err
	}
	defer child.Stop()
	mem := &AloneMemory{NumberList: o.Numbers, TargetMiB: RSSTargetMiB,
		Setup: fmt.Sprintf("reference ruleset + %d-entry number list, %d sessions x window %d", o.Numbers, o.Sessions, o.Window)}

	// Idle: a short load binds the sessions and warms the caches the way a
	// running firewall has them, then the traffic stops and the figure
	// settles (the Go runtime returns freed memory lazily, so the idle
	// figure is read after a pause rather than right away).
	if _, err := Run(ctx, Load{Addr: child.SMPP, Sessions: o.Sessions, Window: o.Window, Duration: 300 * time.Millisecond}); err != nil {
		return nil, fmt.Errorf("smsfw alone: warm-up: %w", err)
	}
	select {
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if mem.IdleMiB, err = child.RSSMiB(); err != nil {
		return nil, err
	}
	o.Progress.Step("smsfw alone: under load", o.Duration)
	stopPeak := samplePeak(child.RSSMiB)
	res, err := Run(ctx, Load{Addr: child.SMPP, Sessions: o.Sessions, Window: o.Window, Duration: o.Duration,
		Warmup: 300 * time.Millisecond, Progress: func(uint64, time.Duration) {
			if v, err := child.RSSMiB(); err == nil {
				o.Progress.Update(fmt.Sprintf("RSS %.0f MiB", v))
			}
		}})
	mem.UnderLoadMiB = stopPeak()
	if err != nil {
		return nil, fmt.Errorf("smsfw alone: load: %w", err)
	}
	mem.Rate = res.Rate
	if child.Exited() {
		return nil, fmt.Errorf("smsfw alone: the child exited under load:\n%s", child.Tail())
	}
	return mem, nil
}

// samplePeak reads a memory figure every 50 ms until the returned stop is
// called, which returns the largest reading (failed readings are skipped).
func samplePeak(read func() (float64, error)) (stop func() float64) {
	done := make(chan struct{})
	peakc := make(chan float64, 1)
	go func() {
		peak := 0.0
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				peakc <- peak
				return
			case <-t.C:
				if v, err := read(); err == nil {
					peak = max(peak, v)
				}
			}
		}
	}()
	return func() float64 { close(done); return <-peakc }
}

// referenceRig writes the reference policy of ref into a temporary
// directory and serves a simulator that keeps no messages on a loopback
// port, for smsfw children; stop removes both.
func referenceRig(prefix string, ref Reference) (policy, simAddr string, stop func(), err error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", "", nil, err
	}
	if policy, err = WriteReference(dir, ref); err != nil {
		_ = os.RemoveAll(dir)
		return "", "", nil, err
	}
	srv := sim.New(sim.Config{Keep: -1}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", "", nil, err
	}
	go func() { _ = srv.Serve(ln) }()
	return policy, ln.Addr().String(), func() { srv.Close(); _ = os.RemoveAll(dir) }, nil
}
