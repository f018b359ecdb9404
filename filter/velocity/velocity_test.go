package velocity_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/velocity"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()

const anyDir = -1

func facts(peer, sender, dest string) *filter.Facts {
	return &filter.Facts{Direction: "mt", Peer: peer, Sender: sender, SenderKind: filter.KindAlphanumeric, Dest: dest,
		Segments: 1, DestCount: 1, Class: filter.ClassA2P}
}

// check runs Check and returns the id of the enforced limit hit ("" if
// none) and the ids of the monitor-mode limits it reported.
func check(st *velocity.State, limits []velocity.Limit, f *filter.Facts, dir filter.Direction, now int64) (string, []string) {
	var mon []string
	l := velocity.Check(st, limits, f, dir, now, func(l *velocity.Limit) { mon = append(mon, l.ID) })
	if l == nil {
		return "", mon
	}
	return l.ID, mon
}

// A limit lets its burst through at once, then one message per 1/rate.
func TestBurstThenThrottle(t *testing.T) {
	st := velocity.NewState(testBytes)
	limits := []velocity.Limit{{ID: "peer-rate", Key: "peer", Rate: 2, Burst: 3, Direction: anyDir}}
	f := facts("acme", "Shop", "4915112345678")
	now := t0
	for i := 0; i < 3; i++ {
		if id, _ := check(st, limits, f, filter.MT, now); id != "" {
			t.Fatalf("message %d of the burst throttled", i)
		}
	}
	l := velocity.Check(st, limits, f, filter.MT, now, nil)
	if l != &limits[0] {
		t.Fatalf("over the burst: %v", l)
	}
	// A throttled message is not counted: after one emission interval
	// (500 ms) exactly one more conforms.
	now += int64(500*time.Millisecond) - 1
	if id, _ := check(st, limits, f, filter.MT, now); id == "" {
		t.Fatal("allowed before the interval")
	}
	now++
	if id, _ := check(st, limits, f, filter.MT, now); id != "" {
		t.Fatal("throttled after the interval")
	}
	if id, _ := check(st, limits, f, filter.MT, now); id == "" {
		t.Fatal("second message after one interval allowed")
	}
	// Idle for burst/rate: the whole burst is back.
	now += int64(1500 * time.Millisecond)
	for i := 0; i < 3; i++ {
		if id, _ := check(st, limits, f, filter.MT, now); id != "" {
			t.Fatalf("refilled burst, message %d throttled", i)
		}
	}
	if id, _ := check(st, limits, f, filter.MT, now); id == "" {
		t.Fatal("refill exceeded the burst")
	}
}

// Segments count: a 3-part message takes three of the burst, and a message
// with more segments than the burst never conforms.
func TestSegments(t *testing.T) {
	st := velocity.NewState(testBytes)
	limits := []velocity.Limit{{ID: "l", Key: "peer", Rate: 1, Burst: 4, Direction: anyDir}}
	f := facts("acme", "Shop", "4915112345678")
	f.Segments = 3
	if id, _ := check(st, limits, f, filter.MT, t0); id != "" {
		t.Fatal("3 of 4 throttled")
	}
	if id, _ := check(st, limits, f, filter.MT, t0); id != "l" {
		t.Fatal("6 of 4 allowed")
	}
	f.Segments = 1
	if id, _ := check(st, limits, f, filter.MT, t0); id != "" {
		t.Fatal("4 of 4 throttled")
	}
	big := facts("other", "Shop", "4915112345678")
	big.Segments = 5
	if id, _ := check(st, limits, big, filter.MT, t0+int64(time.Hour)); id != "l" {
		t.Fatal("5 segments through a burst of 4")
	}
}

// Each key type groups messages differently.
func TestKeys(t *testing.T) {
	base := facts("acme", "Shop", "4915100000001")
	for _, tc := range []struct {
		key string
		// Whether a second message, changed as described, shares the first
		// message's bucket.
		otherSender, otherDest, otherPeer bool
	}{
		{"peer", true, true, false},
		{"sender", false, true, false},
		{"destination", true, false, true},
		{"sender_destination", false, false, true},
	} {
		t.Run(tc.key, func(t *testing.T) {
			for _, change := range []struct {
				name   string
				f      *filter.Facts
				shared bool
			}{
				{"same message", facts("acme", "Shop", "4915100000001"), true},
				{"other sender", facts("acme", "Bank", "4915100000001"), tc.otherSender},
				{"other destination", facts("acme", "Shop", "4915100000002"), tc.otherDest},
				{"other peer", facts("zeta", "Shop", "4915100000001"), tc.otherPeer},
			} {
				st := velocity.NewState(testBytes)
				limits := []velocity.Limit{{ID: "l", Key: tc.key, Rate: 1, Burst: 1, Direction: anyDir}}
				if id, _ := check(st, limits, base, filter.MT, t0); id != "" {
					t.Fatal("first message throttled")
				}
				id, _ := check(st, limits, change.f, filter.MT, t0)
				if shared := id != ""; shared != change.shared {
					t.Errorf("%s: shares the bucket %v, want %v", change.name, shared, change.shared)
				}
			}
		})
	}
}

// Limits count separately even with the same key type, and the first
// enforced limit exceeded is returned.
func TestSeveralLimits(t *testing.T) {
	st := velocity.NewState(testBytes)
	limits := []velocity.Limit{
		{ID: "wide", Key: "peer", Rate: 1, Burst: 5, Direction: anyDir},
		{ID: "narrow", Key: "peer", Rate: 1, Burst: 2, Direction: anyDir},
		{ID: "dest", Key: "destination", Rate: 1, Burst: 1, Direction: anyDir},
	}
	now := t0
	if id, _ := check(st, limits, facts("acme", "Shop", "4915100000001"), filter.MT, now); id != "" {
		t.Fatal(id)
	}
	if id, _ := check(st, limits, facts("acme", "Shop", "4915100000001"), filter.MT, now); id != "dest" {
		t.Fatalf("repeat destination: %q", id)
	}
	// An hour later every bucket is full again: distinct destinations run
	// into the narrower peer limit first.
	now += int64(time.Hour)
	for i, want := range []string{"", "", "narrow"} {
		if id, _ := check(st, limits, facts("acme", "Shop", fmt.Sprintf("49151000001%02d", i)), filter.MT, now); id != want {
			t.Fatalf("message %d: %q, want %q", i, id, want)
		}
	}
}

// Monitor-mode limits report through the callback and never throttle; the
// enforced limits after them still apply.
func TestMonitor(t *testing.T) {
	st := velocity.NewState(testBytes)
	limits := []velocity.Limit{
		{ID: "watch", Key: "peer", Rate: 1, Burst: 1, Direction: anyDir, Monitor: true},
		{ID: "enforce", Key: "peer", Rate: 1, Burst: 3, Direction: anyDir},
	}
	f := facts("acme", "Shop", "4915100000001")
	want := []struct {
		id  string
		mon int
	}{{"", 0}, {"", 1}, {"", 1}, {"enforce", 1}}
	for i, w := range want {
		id, mon := check(st, limits, f, filter.MT, t0)
		if id != w.id || len(mon) != w.mon || w.mon == 1 && mon[0] != "watch" {
			t.Fatalf("message %d: enforced %q monitor %v, want %q and %d report(s)", i, id, mon, w.id, w.mon)
		}
	}
}

// A limit restricted to one direction ignores the other.
func TestDirection(t *testing.T) {
	st := velocity.NewState(testBytes)
	limits := []velocity.Limit{
		{ID: "mt-only", Key: "peer", Rate: 1, Burst: 1, Direction: int(filter.MT)},
		{ID: "mo-only", Key: "destination", Rate: 1, Burst: 1, Direction: int(filter.MO)},
	}
	mt := facts("acme", "Shop", "4915100000001")
	mo := facts("acme", "4915100000009", "12345")
	mo.Direction = "mo"
	for i := 0; i < 2; i++ {
		want := ""
		if i == 1 {
			want = "mt-only"
		}
		if id, _ := check(st, limits, mt, filter.MT, t0); id != want {
			t.Fatalf("MT %d: %q", i, id)
		}
	}
	// MO is not held back by the exhausted MT limit, only by its own.
	if id, _ := check(st, limits, mo, filter.MO, t0); id != "" {
		t.Fatalf("MO: %q", id)
	}
	if id, _ := check(st, limits, mo, filter.MO, t0); id != "mo-only" {
		t.Fatalf("second MO: %q", id)
	}
}

// Limiter state survives a reload (keys include the limit id): the same
// limit keeps its count, a changed rate or burst applies at once, and a
// renamed limit starts afresh.
func TestReload(t *testing.T) {
	st := velocity.NewState(testBytes)
	f := facts("acme", "Shop", "4915100000001")
	v1 := []velocity.Limit{{ID: "l", Key: "peer", Rate: 1, Burst: 2, Direction: anyDir}}
	check(st, v1, f, filter.MT, t0)
	check(st, v1, f, filter.MT, t0)
	v2 := []velocity.Limit{{ID: "l", Key: "peer", Rate: 1, Burst: 2, Direction: anyDir}}
	if id, _ := check(st, v2, f, filter.MT, t0); id != "l" {
		t.Fatal("count lost across the reload")
	}
	v3 := []velocity.Limit{{ID: "l", Key: "peer", Rate: 1, Burst: 3, Direction: anyDir}}
	if id, _ := check(st, v3, f, filter.MT, t0); id != "" {
		t.Fatal("larger burst not applied")
	}
	v4 := []velocity.Limit{{ID: "l2", Key: "peer", Rate: 1, Burst: 1, Direction: anyDir}}
	if id, _ := check(st, v4, f, filter.MT, t0); id != "" {
		t.Fatal("renamed limit inherited the count")
	}
}

func TestNoLimits(t *testing.T) {
	if l := velocity.Check(velocity.NewState(testBytes), nil, facts("a", "b", "c"), filter.MT, t0, nil); l != nil {
		t.Fatal(l.ID)
	}
}

func TestConcurrent(t *testing.T) {
	st := velocity.NewState(testBytes)
	limits := []velocity.Limit{{ID: "l", Key: "peer", Rate: 1, Burst: 100, Direction: anyDir}}
	allowed := make(chan int)
	for g := 0; g < 4; g++ {
		go func() {
			n := 0
			f := facts("acme", "Shop", "4915100000001")
			for i := 0; i < 50; i++ {
				if velocity.Check(st, limits, f, filter.MT, t0, nil) == nil {
					n++
				}
			}
			allowed <- n
		}()
	}
	total := 0
	for g := 0; g < 4; g++ {
		total += <-allowed
	}
	if total != 100 {
		t.Fatalf("%d allowed, want exactly the burst of 100", total)
	}
}

// A message refused by one limit does not use up the budget of the limits
// before it that admitted it.
func TestRefusedMessageKeepsEarlierBudget(t *testing.T) {
	st := velocity.NewState(testBytes)
	limits := []velocity.Limit{
		{ID: "sender", Key: "sender", Rate: 1, Burst: 5, Direction: anyDir},
		{ID: "dest", Key: "destination", Rate: 1, Burst: 1, Direction: anyDir},
	}
	// One message, then four repeats to the same number: refused by "dest".
	for i, want := range []string{"", "dest", "dest", "dest", "dest"} {
		if id, _ := check(st, limits, facts("acme", "Shop", "4915100000001"), filter.MT, t0); id != want {
			t.Fatalf("repeat %d: %q, want %q", i, id, want)
		}
	}
	// The sender has used one of five: four more to new numbers pass.
	for i, want := range []string{"", "", "", "", "sender"} {
		if id, _ := check(st, limits, facts("acme", "Shop", fmt.Sprintf("49151000002%02d", i)), filter.MT, t0); id != want {
			t.Fatalf("new number %d: %q, want %q", i, id, want)
		}
	}
}

// testBytes is the counters' memory budget in tests: room for thousands of
// keys.
const testBytes = 4 << 20
