package bench

import (
	"context"
	"testing"
	"time"
)

// The suite runs end to end and every target answers everything it was sent.
func TestSuiteSmoke(t *testing.T) {
	rep, err := Suite{Sessions: 2, Window: 10, Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 3 {
		t.Fatalf("results %d", len(rep.Results))
	}
	for _, r := range rep.Results {
		if r.Result.OK == 0 || r.Result.Lost != 0 || r.Result.Rejected != 0 || r.Result.Unmatched != 0 {
			t.Fatalf("%s: %+v", r.Target, r.Result)
		}
		if r.Ratio <= 0 {
			t.Fatalf("%s: no ratio", r.Target)
		}
	}
}

func TestOpenLoopRate(t *testing.T) {
	rep, err := Suite{Sessions: 2, Window: 10, Duration: time.Second, Warmup: 200 * time.Millisecond, Rate: 2000,
		Targets: []string{TargetRelay, TargetSMSFW}}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		// Open loop sends on schedule: the measured rate is the asked rate, give or take.
		if r.Result.Rate < 1500 || r.Result.Rate > 2500 {
			t.Fatalf("%s: rate %.0f, asked 2000", r.Target, r.Result.Rate)
		}
	}
}
