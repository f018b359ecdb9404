package bench

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The pinned measurement runs the relay and both smsfw targets as child
// processes on the last CPU, the load on the others, and gives this
// process its CPUs back afterwards.
func TestMeasurePinned(t *testing.T) {
	before, err := allowedCPUs()
	if err != nil {
		t.Skipf("no CPU affinity here: %v", err)
	}
	dir := t.TempDir()
	var log bytes.Buffer
	rep, err := MeasurePinned(context.Background(), PinnedOptions{Binary: smsfwBinary(t), Sessions: 2, Window: 20,
		Duration: 400 * time.Millisecond, Warmup: 100 * time.Millisecond, Rounds: 1, Progress: NewProgress(&log, 0), ProfileDir: dir})
	if errors.Is(err, ErrTooFewCPUs) {
		t.Skipf("%v (this machine allows CPUs %v)", err, before)
	}
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	after, err := allowedCPUs()
	if err != nil || !slices.Equal(before, after) {
		t.Fatalf("CPUs after the measurement %v (%v), before %v", after, err, before)
	}
	if rep.TargetCPU != before[len(before)-1] || slices.Contains(rep.LoadCPUs, rep.TargetCPU) {
		t.Fatalf("target on CPU %d, load on %v", rep.TargetCPU, rep.LoadCPUs)
	}
	for _, phase := range [][]PinnedResult{rep.Closed, rep.Half} {
		if got := len(phase); got != 3 {
			t.Fatalf("%d results, want relay, smsfw, smsfw-rules", got)
		}
		for _, r := range phase {
			if r.Result.Rate <= 0 || r.Result.Lost != 0 || r.ChildCPU <= 0 || r.ChildBusy <= 0 || r.ChildBusy > 1.5 {
				t.Errorf("%s: rate %.0f, lost %d, child CPU %v per message, busy %.2f", r.Target, r.Result.Rate, r.Result.Lost,
					r.ChildCPU, r.ChildBusy)
			}
		}
	}
	if rep.Closed[0].Ratio != 1 || rep.HalfRate != rep.Closed[2].Result.Rate/2 {
		t.Errorf("relay ratio %.2f, half rate %.0f of the ruleset's %.0f", rep.Closed[0].Ratio, rep.HalfRate, rep.Closed[2].Result.Rate)
	}
	if vs := rep.Verdicts(); len(vs) != 3 || !strings.Contains(vs[2].What, "added p99") {
		t.Errorf("verdicts %+v", vs)
	}
	var out bytes.Buffer
	rep.WriteTable(&out)
	t.Log("\n" + out.String())
	for _, name := range []string{"pinned-closed-smsfw.pprof", "pinned-closed-smsfw-rules.pprof", "pinned-half-smsfw-rules.pprof"} {
		if fileSize(t, dir, name) == 0 {
			t.Errorf("no profile %s", name)
		}
	}
}

func fileSize(t *testing.T, dir, name string) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(dir, name))
	if err != nil {
		return 0
	}
	return fi.Size()
}
