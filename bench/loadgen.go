// Package bench measures smsfw: an SMPP load generator (closed loop, or open
// loop at a fixed rate without coordinated omission), a plain TCP relay as
// the baseline, and a runner that puts the same load through each target in
// one run and reports ratios.
package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// Load describes one load run.
type Load struct {
	Addr     string
	Sessions int
	Window   int
	Duration time.Duration
	Warmup   time.Duration
	// Rate is the total target rate in messages per second; 0 is closed loop
	// (as fast as the windows allow).
	Rate     float64
	SystemID string
	Password string
	// PDU returns the submit_sm to send for session s, message i; nil sends a
	// fixed 40-character GSM text.
	PDU func(s int, i uint64) []byte
	// Progress, if set, is called about every 250ms with responses so far.
	Progress func(done uint64, elapsed time.Duration)
	// Grace is how long requests in flight at the end may take before
	// they count as lost (default 5s).
	Grace time.Duration
}

// Result is what a run measured after warm-up.
type Result struct {
	Sent      uint64        `json:"sent"`
	OK        uint64        `json:"ok"`
	Rejected  uint64        `json:"rejected"` // non-zero status
	Lost      uint64        `json:"lost"`     // no response (connection ended)
	Elapsed   time.Duration `json:"elapsed_ns"`
	Rate      float64       `json:"rate_per_s"`
	P50       time.Duration `json:"p50_ns"`
	P90       time.Duration `json:"p90_ns"`
	P99       time.Duration `json:"p99_ns"`
	P999      time.Duration `json:"p999_ns"`
	Max       time.Duration `json:"max_ns"`
	Unmatched int           `json:"unmatched"` // responses matching no request (duplicates)
	// Over the whole run, warm-up and the final drain included (the figures
	// above cover the measured time only): requests sent, and responses
	// received for them. Issued - Answered were never answered.
	Issued   uint64 `json:"issued"`
	Answered uint64 `json:"answered"`
	// CPU is the CPU time (user and system, every thread) the whole
	// process spent per response during the measured time: load generator,
	// simulator and target together. On a machine others share it moves
	// far less than the rate does: the rate depends on how much CPU the
	// process got, this on how much each message needs.
	CPU time.Duration `json:"cpu_per_msg_ns"`
}

func (r Result) String() string {
	return fmt.Sprintf("%.0f msg/s  p50 %v  p99 %v  p99.9 %v  max %v  cpu %v/msg  ok %d  rejected %d  lost %d",
		r.Rate, r.P50, r.P99, r.P999, r.Max, r.CPU, r.OK, r.Rejected, r.Lost)
}

// DefaultPDU is a 40-character GSM-7 submit_sm from session s's sender to
// one of 1024 scattered mobile numbers: bulk notification traffic, with
// keys spread the way counters and caches see them in production.
func DefaultPDU(s int, i uint64) []byte {
	n := (i%1024)*7919 + uint64(s)*104729
	return pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{SrcTON: 5, Src: fmt.Sprintf("BenchCo%d", s),
		DstTON: 1, DstNPI: 1, Dst: fmt.Sprintf("49151%08d", n%100_000_000),
		ShortMessage: []byte("Your verification code is 482913. Thanks")})
}

type sessionStats struct {
	mu        sync.Mutex
	hist      *hdrhistogram.Histogram
	ok, rej   uint64
	lost      uint64
	measuring atomic.Bool
	slots     chan struct{}
	done      atomic.Uint64 // responses and failures
	answered  atomic.Uint64 // responses
	issued    atomic.Uint64
}

func (st *sessionStats) onResp(r esme.Resp) {
	<-st.slots
	st.done.Add(1)
	if r.Err == nil {
		st.answered.Add(1)
	}
	if !st.measuring.Load() {
		return
	}
	st.mu.Lock()
	switch {
	case r.Err != nil:
		st.lost++
	case r.Status != 0:
		st.rej++
	default:
		st.ok++
		_ = st.hist.RecordValue(int64(r.Latency))
	}
	st.mu.Unlock()
}

// processCPU is the CPU time (user and system) the process has used so far,
// 0 where the system cannot tell.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Run applies the load and returns what it measured.
func Run(ctx context.Context, l Load) (Result, error) {
	if l.Sessions <= 0 {
		l.Sessions = 1
	}
	if l.Window <= 0 {
		l.Window = 1
	}
	if l.PDU == nil {
		// Prebuilt PDUs, cycled: Send patches the sequence number and copies
		// the bytes, so they can be reused.
		tmpl := make([][][]byte, l.Sessions)
		for s := range tmpl {
			for i := uint64(0); i < 1024; i++ {
				tmpl[s] = append(tmpl[s], DefaultPDU(s, i))
			}
		}
		l.PDU = func(s int, i uint64) []byte { return tmpl[s][i%1024] }
	}
	if l.SystemID == "" {
		l.SystemID = "bench"
	}
	clients := make([]*esme.Client, l.Sessions)
	stats := make([]*sessionStats, l.Sessions)
	for i := range clients {
		c, err := esme.Dial(ctx, l.Addr, esme.Options{SystemID: l.SystemID, Password: l.Password, SkipMessageID: true})
		if err != nil {
			for _, c := range clients[:i] {
				c.Close()
			}
			return Result{}, fmt.Errorf("bind session %d: %w", i, err)
		}
		clients[i] = c
		stats[i] = &sessionStats{hist: hdrhistogram.New(1, int64(time.Minute), 3), slots: make(chan struct{}, l.Window)}
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	runCtx, cancel := context.WithTimeout(ctx, l.Warmup+l.Duration)
	defer cancel()
	var sent atomic.Uint64
	var measStart time.Time
	var wg sync.WaitGroup
	startAt := time.Now()
	for i := range clients {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, st := clients[i], stats[i]
			var perSession float64
			if l.Rate > 0 {
				perSession = l.Rate / float64(l.Sessions)
			}
			var n uint64
			cb := st.onResp
			defer c.Flush() // nothing queued may stay behind
			var timer *time.Timer
			if perSession > 0 {
				timer = time.NewTimer(time.Hour)
				defer timer.Stop()
			}
			for runCtx.Err() == nil {
				if perSession > 0 {
					// Open loop: the schedule, not the responses, sets the pace.
					// Everything already due is queued and leaves in one write
					// (below, when the next message is not due yet): at
					// hundreds of thousands of messages a second a write per
					// message would make the generator the bottleneck, and a
					// timer cannot wake every few microseconds anyway.
					due := startAt.Add(time.Duration(float64(n) / perSession * float64(time.Second)))
					if d := time.Until(due); d > 0 {
						c.Flush()
						timer.Reset(d)
						select {
						case <-timer.C:
						case <-runCtx.Done():
							return
						}
					}
				}
				select {
				case st.slots <- struct{}{}:
				default:
					c.Flush() // the window is full: send what is queued, then wait
					select {
					case st.slots <- struct{}{}:
					case <-runCtx.Done():
						return
					case <-c.Done():
						return
					}
				}
				raw := l.PDU(i, n)
				if _, err := c.Queue(raw, cb); err != nil {
					<-st.slots
					return
				}
				n++
				st.issued.Add(1)
				if st.measuring.Load() {
					sent.Add(1)
				}
			}
		}(i)
	}
	// Warm up, then measure.
	warm := time.NewTimer(l.Warmup)
	select {
	case <-warm.C:
	case <-runCtx.Done():
	}
	measStart = time.Now()
	cpuStart := processCPU()
	for _, st := range stats {
		st.measuring.Store(true)
	}
	if l.Progress != nil {
		go func() {
			t := time.NewTicker(250 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-runCtx.Done():
					return
				case <-t.C:
					var d uint64
					for _, st := range stats {
						d += st.done.Load()
					}
					l.Progress(d, time.Since(measStart))
				}
			}
		}()
	}
	<-runCtx.Done()
	elapsed := time.Since(measStart)
	cpu := processCPU() - cpuStart
	for _, st := range stats {
		st.measuring.Store(false)
	}
	wg.Wait()
	// Let in-flight requests finish so none is counted lost by our own close.
	if l.Grace == 0 {
		l.Grace = 5 * time.Second
	}
	deadline := time.Now().Add(l.Grace)
	for _, c := range clients {
		for c.Pending() > 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	res := Result{Sent: sent.Load(), Elapsed: elapsed}
	h := hdrhistogram.New(1, int64(time.Minute), 3)
	for i, st := range stats {
		st.mu.Lock()
		res.OK += st.ok
		res.Rejected += st.rej
		res.Lost += st.lost
		h.Merge(st.hist)
		st.mu.Unlock()
		res.Unmatched += clients[i].Unmatched()
		res.Issued += st.issued.Load()
		res.Answered += st.answered.Load()
		res.Lost += uint64(clients[i].Pending())
	}
	if res.OK+res.Rejected == 0 {
		return res, errors.New("bench: no responses measured")
	}
	res.Rate = float64(res.OK+res.Rejected) / elapsed.Seconds()
	res.CPU = cpu / time.Duration(res.OK+res.Rejected)
	res.P50 = time.Duration(h.ValueAtQuantile(50))
	res.P90 = time.Duration(h.ValueAtQuantile(90))
	res.P99 = time.Duration(h.ValueAtQuantile(99))
	res.P999 = time.Duration(h.ValueAtQuantile(99.9))
	res.Max = time.Duration(h.Max())
	return res, nil
}
