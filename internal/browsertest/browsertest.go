// Package browsertest drives Debian's Chromium (headless, through chromedp)
// for the console's browser tests: it finds the browser (skipping the test
// without it, failing under CI=true), records script errors and CSP
// violations, and offers the few steps the tests share.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Chromium returns the browser's path; without one the test skips, except
// under CI=true (.ci/run installs it), where that is a failure.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not installed (apt-get install chromium); required under CI=true")
	}
	t.Skip("chromium not installed (apt-get install chromium)")
	return ""
}

// Browser is one headless page for one test.
type Browser struct {
	t      testing.TB
	ctx    context.Context
	prefix string // screenshot file names

	mu       sync.Mutex
	problems []string
}

// New starts Chromium (1280x900) for t, bounded by timeout; it is closed
// when the test ends. Screenshots go to $SMSFW_SCREENSHOTS, named
// prefix+name.png.
func New(t testing.TB, prefix string, timeout time.Duration) *Browser {
	t.Helper()
	exe := Chromium(t)
	b := &Browser{t: t, prefix: prefix}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 900))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithListener(b.listen))
	t.Cleanup(func() { bcancel(); acancel(); cancel() })
	b.ctx = bctx
	return b
}

// listen records script errors and CSP violations (logged as errors).
func (b *Browser) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		msg := e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil {
			msg += " " + e.ExceptionDetails.Exception.Description
		}
		b.problems = append(b.problems, "exception: "+msg)
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError {
			b.problems = append(b.problems, "console.error")
		}
	case *log.EventEntryAdded:
		if e.Entry.Level == log.EntryLevelError {
			b.problems = append(b.problems, "log: "+e.Entry.Text)
		}
	}
}

// Context is the page's chromedp context.
func (b *Browser) Context() context.Context { return b.ctx }

// Do runs steps; on error it saves a screenshot and fails the test.
func (b *Browser) Do(name string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.Shot("failed-" + name)
		b.t.Fatalf("%s: %v", name, err)
	}
}

// Text is the text content of the first element matching sel.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// Count is the number of elements matching sel.
func (b *Browser) Count(sel string) int {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+strconv.Quote(sel)+`).length`))
	if err != nil {
		b.t.Fatalf("count %s: %v", sel, err)
	}
	return n
}

// Poll waits (20 s at most) until the JavaScript expression is true.
func Poll(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(20*time.Second))
}

// Shot saves a screenshot when $SMSFW_SCREENSHOTS names a directory.
func (b *Browser) Shot(name string) {
	dir := os.Getenv("SMSFW_SCREENSHOTS")
	if dir == "" {
		return
	}
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, b.prefix+name+".png"), buf, 0o644)
	}
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
	}
}

// CheckProblems fails the test if the page raised a script error or a CSP
// violation.
func (b *Browser) CheckProblems() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.problems) > 0 {
		b.t.Fatalf("browser reported problems: %v", b.problems)
	}
}
