// Package testutil holds what smsfw's tests share: waiting on a condition
// instead of sleeping, checking that a condition holds for a while,
// checking the errors of invalid configuration files, and replacing a
// watched file at once.
package testutil

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smsfw/smsfw/internal/yamlx"
)

// poll is how often conditions are checked.
const poll = 5 * time.Millisecond

// Eventually waits until cond is true, failing the test with what when it
// is not within d. Tests wait on conditions, never on sleeps.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(poll)
	}
}

// Consistently checks that cond stays true for d: the one honest way to
// assert that something does not happen (a refused message that must not
// reach the SMSC, a window that must not be exceeded).
func Consistently(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !cond() {
			t.Fatalf("%s: stopped holding", what)
		}
		time.Sleep(poll)
	}
}

// InvalidConfigs loads every testdata/invalid-*.yaml of the package with
// load and checks its error: exactly want[base name] (every problem,
// "file:line: message"), wrapping yamlx.ErrConfig. A file without an
// expectation, or an expectation without a file, fails the test.
func InvalidConfigs(t *testing.T, load func(path string) error, want map[string]string) {
	t.Helper()
	files, _ := filepath.Glob("testdata/invalid-*.yaml")
	if len(files) != len(want) {
		t.Fatalf("%d invalid files, %d cases", len(files), len(want))
	}
	for _, f := range files {
		w, ok := want[filepath.Base(f)]
		if !ok {
			t.Fatalf("no expectation for %s", f)
		}
		err := load(f)
		if err == nil {
			t.Fatalf("%s: no error", f)
		}
		if err.Error() != w {
			t.Errorf("%s:\n got %s\nwant %s", f, err, w)
		}
		if !errors.Is(err, yamlx.ErrConfig) {
			t.Errorf("%s: not ErrConfig", f)
		}
	}
}

// ReplaceFile writes content to name the way editors and deployment tools
// do: a temporary file renamed over it, so that a watcher never reads half
// a file.
func ReplaceFile(t testing.TB, name, content string) {
	t.Helper()
	if err := os.WriteFile(name+".tmp", []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(name+".tmp", name); err != nil {
		t.Fatal(err)
	}
}

// Await polls cond every interval until it holds or ctx ends; then the
// test fails with cond's last explanation. For conditions on external
// processes (Kannel's HTTP status, a child's log), which explain why they
// do not hold yet and are too dear to poll every few milliseconds.
func Await(ctx context.Context, t testing.TB, every time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	start := time.Now()
	var last string
	for {
		ok, why := cond()
		if ctx.Err() == nil || last == "" {
			// A poll cut short by the deadline explains nothing; keep
			// the previous explanation.
			last = why
		}
		if ok {
			if why != "" {
				what += ": " + why
			}
			t.Logf("ok after %v: %s", time.Since(start).Round(time.Millisecond), what)
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %v waiting for %s: %s", time.Since(start).Round(time.Millisecond), what, last)
		case <-time.After(every):
		}
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for
// programs that must be told their port (Kannel, redis-server) rather than
// report the one the kernel chose.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
