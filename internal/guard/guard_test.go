package guard

import (
	"net/netip"
	"testing"
	"time"
)

func TestSource(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:1":           "192.0.2.7/32",
		"[::ffff:192.0.2.7]:1":  "192.0.2.7/32",
		"[2001:db8:1:2:3::4]:1": "2001:db8:1:2::/64",
		"not an address":        "invalid Prefix",
	} {
		if got := SourceOf(in).String(); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
	if Source(netip.Addr{}).IsValid() {
		t.Error("zero address has a source")
	}
}

func TestSampledLog(t *testing.T) {
	var s SampledLog
	if n, ok := s.Tick(time.Hour); !ok || n != 1 {
		t.Fatalf("first: %d %v", n, ok)
	}
	for i := 0; i < 5; i++ {
		if _, ok := s.Tick(time.Hour); ok {
			t.Fatal("logged again within the period")
		}
	}
	s.last.Store(0) // the period is over
	if n, ok := s.Tick(time.Hour); !ok || n != 6 {
		t.Fatalf("after the period: %d %v, want 6 occurrences", n, ok)
	}
}

func TestFailures(t *testing.T) {
	const window, lockout, threshold = time.Minute, 5 * time.Minute, 3
	var f Failures
	now := int64(time.Hour)
	f.Inflight = 2
	if f.Full(now, window, threshold) {
		t.Fatal("full with 2 under way, threshold 3")
	}
	f.Inflight = 0
	if f.Fail("a", now, window, lockout, threshold) || f.Fail("b", now, window, lockout, threshold) {
		t.Fatal("locked before the threshold")
	}
	f.Succeeded("a", now, window) // failures were for a and b: kept
	if f.N != 2 {
		t.Fatalf("a success for one name wiped mixed failures: %+v", f)
	}
	if !f.Fail("a", now, window, lockout, threshold) || !f.Locked(now) || f.N != 0 {
		t.Fatalf("third failure: %+v", f)
	}
	if f.Locked(now + int64(lockout)) {
		t.Fatal("still locked after the lockout")
	}
	var g Failures
	g.Fail("a", now, window, lockout, threshold)
	g.Succeeded("a", now, window)
	if g.N != 0 {
		t.Fatal("own failures not forgotten on success")
	}
	g.Fail("a", now, window, lockout, threshold)
	if g.Full(now+int64(2*window), window, 1) {
		t.Fatal("failures older than the window still count")
	}
}
