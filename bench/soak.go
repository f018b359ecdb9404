package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/smsfw/smsfw/sim"
)

// SoakOptions describe a soak run.
type SoakOptions struct {
	Binary   string        // smsfw executable, run as a child process
	Duration time.Duration // steady load (default 1 min)
	Rate     float64       // open-loop msg/s (default 5,000)
	Sessions int           // default 4
	Window   int           // default 100
	// Grace is how long requests still unanswered at the end may take
	// before they count as lost (default 5s).
	Grace time.Duration
	// Every is the sampling interval of RSS and goroutines (default: 20
	// samples over the run, at least 1 s apart).
	Every time.Duration
	// Reference runs the child with the reference ruleset (else allow-all).
	Reference bool
	Progress  *Progress
}

// SoakSample is the child's state at one moment.
type SoakSample struct {
	At         time.Duration `json:"at_ns"`
	Answered   uint64        `json:"answered"`
	RSSMiB     float64       `json:"rss_mib"`
	Goroutines int           `json:"goroutines"`
	Threads    int           `json:"threads"`
}

// SoakReport is a soak run's outcome. Lost and Duplicated must be 0.
type SoakReport struct {
	Time     time.Time     `json:"time"`
	Process  string        `json:"process"` // what RSS and goroutines are of
	Policy   string        `json:"policy"`
	Duration time.Duration `json:"duration_ns"`
	Rate     float64       `json:"rate"`
	Sessions int           `json:"sessions"`
	Window   int           `json:"window"`
	Grace    time.Duration `json:"grace_ns"`
	// Sent requests; Answered got exactly one response; Lost got none by the
	// end of the run plus the grace period; Duplicated are responses for a
	// sequence number already answered (or never sent).
	Sent       uint64       `json:"sent"`
	Answered   uint64       `json:"answered"`
	Rejected   uint64       `json:"rejected"`
	Lost       uint64       `json:"lost"`
	Duplicated uint64       `json:"duplicated"`
	Result     Result       `json:"result"`
	Samples    []SoakSample `json:"samples"`
}

// OK reports whether nothing was lost or duplicated.
func (r *SoakReport) OK() bool { return r.Lost == 0 && r.Duplicated == 0 }

// Soak runs a steady open-loop rate through smsfw in a child process for a
// set time, checking that every request gets exactly one response, and
// samples the child's RSS (/proc/PID/status), OS threads and goroutines
// (go_goroutines from its /metrics) over time.
func Soak(ctx context.Context, o SoakOptions) (*SoakReport, error) {
	if o.Duration == 0 {
		o.Duration = time.Minute
	}
	if o.Rate == 0 {
		o.Rate = 5000
	}
	if o.Sessions == 0 {
		o.Sessions = 4
	}
	if o.Window == 0 {
		o.Window = 100
	}
	if o.Grace == 0 {
		o.Grace = 5 * time.Second
	}
	if o.Every == 0 {
		o.Every = max(o.Duration/20, time.Second)
	}
	rep := &SoakReport{Time: time.Now().UTC(), Duration: o.Duration, Rate: o.Rate, Sessions: o.Sessions, Window: o.Window,
		Grace: o.Grace, Policy: "allow-all"}
	simSrv := sim.New(sim.Config{Keep: -1}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() { _ = simSrv.Serve(ln) }()
	defer simSrv.Close()
	var policy string
	if o.Reference {
		dir, err := os.MkdirTemp("", "smsfw-soak-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if policy, err = WriteReference(dir, Reference{}); err != nil {
			return nil, err
		}
		rep.Policy = "reference ruleset"
	}
	o.Progress.Step("soak: starting smsfw", aloneSetup)
	child, err := StartChild(ctx, ChildOptions{Binary: o.Binary, Upstream: ln.Addr().String(), Rules: policy})
	if err != nil {
		return nil, err
	}
	defer child.Stop()
	rep.Process = fmt.Sprintf("smsfw child process (pid %d)", child.PID)

	var (
		mu       sync.Mutex
		finished bool
	)
	sample := func(at time.Duration, answered uint64) SoakSample {
		s := SoakSample{At: at, Answered: answered}
		s.RSSMiB, _ = child.RSSMiB()
		s.Threads, _ = child.Threads()
		s.Goroutines, _ = child.Goroutines(ctx)
		return s
	}
	rep.Samples = append(rep.Samples, sample(0, 0))
	o.Progress.Step(fmt.Sprintf("soak: %.0f msg/s for %v", o.Rate, o.Duration), o.Duration+o.Grace)
	next := o.Every
	res, err := Run(ctx, Load{Addr: child.SMPP, Sessions: o.Sessions, Window: o.Window, Duration: o.Duration, Rate: o.Rate,
		Grace: o.Grace, Progress: func(done uint64, el time.Duration) {
			if el < next {
				o.Progress.Update(fmt.Sprintf("%d answered", done))
				return
			}
			next += o.Every
			s := sample(el, done)
			mu.Lock()
			if !finished { // Run may return while a last sample is being taken
				rep.Samples = append(rep.Samples, s)
			}
			mu.Unlock()
			o.Progress.Update(fmt.Sprintf("%d answered, RSS %.0f MiB, %d goroutines", done, s.RSSMiB, s.Goroutines))
		}})
	if err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	mu.Lock()
	finished = true
	mu.Unlock()
	// The end: after the grace period, with every answer in.
	rep.Samples = append(rep.Samples, sample(res.Elapsed+o.Grace, res.Answered))
	rep.Result = res
	rep.Sent, rep.Answered, rep.Rejected = res.Issued, res.Answered, res.Rejected
	rep.Lost = res.Issued - min(res.Answered, res.Issued)
	rep.Duplicated = uint64(res.Unmatched)
	if child.Exited() {
		return rep, fmt.Errorf("soak: smsfw exited during the run:\n%s", child.Tail())
	}
	return rep, nil
}

// WriteTable prints the soak's verdict and samples.
func (r *SoakReport) WriteTable(w io.Writer) {
	verdict := "OK"
	if !r.OK() {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "soak: %.0f msg/s for %v through smsfw (%s), %d sessions x window %d; figures of the %s\n",
		r.Rate, r.Duration, r.Policy, r.Sessions, r.Window, r.Process)
	fmt.Fprintf(w, "sent %d, answered %d (%d rejected), lost %d, duplicated %d (grace %v): %s\n",
		r.Sent, r.Answered, r.Rejected, r.Lost, r.Duplicated, r.Grace, verdict)
	fmt.Fprintf(w, "latency p50 %v  p99 %v  p99.9 %v  max %v\n", r.Result.P50.Round(time.Microsecond),
		r.Result.P99.Round(time.Microsecond), r.Result.P999.Round(time.Microsecond), r.Result.Max.Round(time.Microsecond))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "t\tanswered\tRSS MiB\tgoroutines\tthreads\t")
	for _, s := range r.Samples {
		fmt.Fprintf(tw, "%v\t%d\t%.1f\t%d\t%d\t\n", s.At.Round(100*time.Millisecond), s.Answered, s.RSSMiB, s.Goroutines, s.Threads)
	}
	_ = tw.Flush()
}

// WriteJSON writes the report to path.
func (r *SoakReport) WriteJSON(path string) error {
	return writeJSON(path, r)
}
