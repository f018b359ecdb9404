package bench

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Progress shows how far a long benchmark run is. On a terminal it redraws
// one line in place (a bar, the step, the elapsed time and an estimate of
// what is left); anywhere else (a CI log, a file) it prints a plain line at
// most every Every, because carriage returns make a mess of logs.
//
// Written here rather than taken from a library: it is forty lines, and the
// benchmark should not pull a terminal-handling dependency into the binary.
// A nil *Progress does nothing, so callers need not check.
type Progress struct {
	w     io.Writer
	tty   bool
	every time.Duration
	total time.Duration // planned length of the whole run (0: unknown)
	start time.Time

	mu       sync.Mutex
	step     string
	done     time.Duration // planned time of the finished steps
	stepLen  time.Duration
	stepAt   time.Time
	lastLine time.Time
	drawn    bool
}

// NewProgress writes progress to w for a run planned to last total (0 when
// not known: no bar, no estimate). w is treated as a terminal when it is an
// *os.File on a character device.
func NewProgress(w io.Writer, total time.Duration) *Progress {
	if w == nil {
		return nil
	}
	return &Progress{w: w, tty: IsTerminal(w), every: 5 * time.Second, total: total, start: time.Now()}
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Step starts a named step planned to last d; the previous step counts as done.
func (p *Progress) Step(name string, d time.Duration) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stepAt.IsZero() {
		p.done += p.stepLen
	}
	p.step, p.stepLen, p.stepAt = name, d, time.Now()
	if !p.tty {
		fmt.Fprintf(p.w, "[%s] %s\n", fmtElapsed(time.Since(p.start)), name)
		p.lastLine = time.Now()
		return
	}
	p.draw("")
}

// Update redraws the current step with a status (a rate, a count...).
// Called often; it writes at most every 200 ms on a terminal, every Every
// otherwise.
func (p *Progress) Update(status string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	min := p.every
	if p.tty {
		min = 200 * time.Millisecond
	}
	if now.Sub(p.lastLine) < min {
		return
	}
	p.lastLine = now
	if !p.tty {
		fmt.Fprintf(p.w, "[%s] %s: %s\n", fmtElapsed(time.Since(p.start)), p.step, status)
		return
	}
	p.draw(status)
}

// Logf prints a line of its own (a result), above the bar on a terminal.
func (p *Progress) Logf(format string, args ...any) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, format, args...)
	if p.tty && p.drawn {
		p.draw("")
	}
}

// Done clears the bar.
func (p *Progress) Done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

// draw redraws the terminal line; p.mu is held.
func (p *Progress) draw(status string) {
	const width = 24
	el := time.Since(p.start)
	line := p.step
	if status != "" {
		line += "  " + status
	}
	if p.total > 0 {
		// Progress within the plan: finished steps plus the time spent in
		// this one (capped at its planned length, so overruns stall the bar
		// rather than overflow it).
		cur := min(time.Since(p.stepAt), p.stepLen)
		frac := min(float64(p.done+cur)/float64(p.total), 1)
		n := int(frac * width)
		left := time.Duration(float64(el)/max(frac, 1e-3)) - el
		line = fmt.Sprintf("[%s%s] %3.0f%%  %s elapsed, ~%s left  %s", strings.Repeat("#", n), strings.Repeat(".", width-n),
			frac*100, fmtElapsed(el), fmtElapsed(left), line)
	} else {
		line = fmt.Sprintf("%s  %s", fmtElapsed(el), line)
	}
	fmt.Fprintf(p.w, "\r\033[K%s", line)
	p.drawn = true
}

func fmtElapsed(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}
