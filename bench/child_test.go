package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// smsfwBinary builds the smsfw command once per test binary: the test
// binary itself is not smsfw, and the memory and soak figures are of smsfw
// in a process of its own.
func smsfwBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "smsfw-bench-test-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "smsfw")
		binErr = BuildSMSFW(context.Background(), binPath)
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// A short soak: every request answered exactly once, and the child's
// memory, threads and goroutines sampled from its own process.
func TestSoakShort(t *testing.T) {
	var log bytes.Buffer
	rep, err := Soak(context.Background(), SoakOptions{Binary: smsfwBinary(t), Duration: 3 * time.Second, Rate: 1000,
		Sessions: 2, Window: 50, Every: time.Second, Grace: 3 * time.Second, Reference: true, Progress: NewProgress(&log, 0)})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.WriteTable(&out)
	t.Log("\n" + out.String())
	if !rep.OK() || rep.Sent == 0 || rep.Answered != rep.Sent {
		t.Fatalf("sent %d answered %d lost %d duplicated %d", rep.Sent, rep.Answered, rep.Lost, rep.Duplicated)
	}
	if len(rep.Samples) < 3 {
		t.Fatalf("%d samples", len(rep.Samples))
	}
	for _, s := range rep.Samples {
		if s.RSSMiB <= 0 || s.Goroutines <= 0 || s.Threads <= 0 {
			t.Fatalf("sample %+v", s)
		}
	}
	if !strings.Contains(rep.Process, "child process") || !strings.Contains(out.String(), "lost 0, duplicated 0") {
		t.Fatalf("report:\n%s", out.String())
	}
	if err := rep.WriteJSON(filepath.Join(t.TempDir(), "soak.json")); err != nil {
		t.Fatal(err)
	}
}

// RSS of smsfw alone is read from the child, idle and under load (a small
// number list here: the test checks the mechanism, not the figure).
func TestMeasureAlone(t *testing.T) {
	mem, err := MeasureAlone(context.Background(), AloneOptions{Binary: smsfwBinary(t), Sessions: 2, Window: 20,
		Duration: 500 * time.Millisecond, Numbers: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	if mem.IdleMiB <= 0 || mem.UnderLoadMiB <= 0 || mem.Rate <= 0 || mem.NumberList != 10_000 {
		t.Fatalf("%+v", mem)
	}
}

func TestChildStartFailure(t *testing.T) {
	_, err := StartChild(context.Background(), ChildOptions{Binary: smsfwBinary(t), Upstream: "127.0.0.1:1",
		Rules: filepath.Join(t.TempDir(), "missing.yaml")})
	if err == nil || !strings.Contains(err.Error(), "exited before listening") || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("error %v", err)
	}
}
