package pumping_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/lists"
	"github.com/smsfw/smsfw/filter/pumping"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()

func premium(t testing.TB) *lists.List {
	t.Helper()
	l, err := lists.Compile("premium", lists.Prefixes, []string{"44900", "49900", "882", "33899"})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func facts(peer, dest, country string) *filter.Facts {
	return &filter.Facts{Direction: "mt", Peer: peer, PeerClass: "a2p", Class: "a2p", Sender: "Shop",
		SenderKind: filter.KindAlphanumeric, Dest: dest, DestCountry: country, Segments: 1, DestCount: 1,
		Text: "Your code is 123456"}
}

func newDetector(t testing.TB, cfg pumping.Config) *pumping.Detector {
	cfg = cfg.Defaults()
	if cfg.Premium == nil {
		cfg.Premium = premium(t)
	}
	return pumping.New(cfg, pumping.Reuse(nil, cfg, testBytes))
}

func detect(d *pumping.Detector, f *filter.Facts, now int64) filter.Detections {
	var det filter.Detections
	d.Detect(f, &det, now)
	return det
}

func TestDefaults(t *testing.T) {
	got := pumping.Config{}.Defaults()
	if got.Window != time.Minute || got.PremiumBurst != 20 || got.SequentialRun != 5 || got.NewCountryAfter != 24*time.Hour || got.Premium != nil {
		t.Fatalf("Defaults() = %+v", got)
	}
	if got.PremiumDestinations != 3 || got.PremiumWindow != time.Hour {
		t.Fatalf("Defaults() = %+v", got)
	}
	set := pumping.Config{Window: time.Second, PremiumBurst: 1, SequentialRun: 2, NewCountryAfter: time.Hour,
		PremiumDestinations: 7, PremiumWindow: time.Minute}
	if got := set.Defaults(); got != set {
		t.Fatalf("Defaults() changed set values: %+v", got)
	}
}

// premiumDest returns premium numbers far enough apart not to form a
// sequential run.
func premiumDest(i int) string { return fmt.Sprintf("44900%07d", 1000*i) }

// More than PremiumBurst segments toward premium ranges from one peer in
// the window is pumping; exactly PremiumBurst is not.
func TestPremiumBurst(t *testing.T) {
	const burst = 6
	d := newDetector(t, pumping.Config{PremiumBurst: burst, Window: time.Minute, PremiumDestinations: 1000})
	now := t0
	send := func(peer string, i, segs int) (filter.Detections, *filter.Facts) {
		f := facts(peer, premiumDest(i), "GB")
		f.Segments = segs
		return detect(d, f, now), f
	}
	// 2 + 2 + 2 segments: at the threshold.
	for i := 1; i <= 3; i++ {
		det, f := send("acme", i, 2)
		if det.Has(pumping.Pumping) || det.Count(pumping.PremiumBurst) != 2*i || !f.DestPremium {
			t.Fatalf("message %d: %+v premium=%v", i, det, f.DestPremium)
		}
	}
	det, _ := send("acme", 4, 1)
	if !det.Has(pumping.Pumping) || det.Text(pumping.PumpingWhy) != pumping.WhyPremiumBurst || det.Count(pumping.PremiumBurst) != burst+1 {
		t.Fatalf("over the burst: %+v", det)
	}
	// Per peer.
	if det, _ := send("other", 5, 1); det.Has(pumping.Pumping) || det.Count(pumping.PremiumBurst) != 1 {
		t.Fatalf("other peer: %+v", det)
	}
	// Ordinary destinations are not counted and not premium.
	f := facts("acme", "4915112345678", "DE")
	if det := detect(d, f, now); det.Count(pumping.PremiumBurst) != 0 || det.Has(pumping.Pumping) || f.DestPremium {
		t.Fatalf("ordinary destination: %+v premium=%v", det, f.DestPremium)
	}
	// Every listed range counts.
	for _, dest := range []string{"49900123456", "882161234567", "33899123"} {
		f := facts("ranges", dest, "")
		if detect(d, f, now); !f.DestPremium {
			t.Errorf("%s not premium", dest)
		}
	}
	// The window slides in 6 s buckets: the burst still counts one
	// nanosecond before the minute is over, not after it.
	now = t0 + int64(time.Minute) - 1
	if det, _ := send("acme", 6, 1); !det.Has(pumping.Pumping) || det.Count(pumping.PremiumBurst) != burst+2 {
		t.Fatalf("before the window ended: %+v", det)
	}
	now = t0 + int64(time.Minute)
	if det, _ := send("acme", 7, 1); det.Has(pumping.Pumping) || det.Count(pumping.PremiumBurst) != 2 {
		t.Fatalf("after the window: %+v", det)
	}
}

// Legitimate traffic: an OTP service to random mobile numbers.
func TestLegitimate(t *testing.T) {
	d := newDetector(t, pumping.Config{})
	for i := 0; i < 200; i++ {
		dest := fmt.Sprintf("49151%08d", (i*7919*7919)%100000000)
		if det := detect(d, facts("acme", dest, "DE"), t0+int64(i)*int64(time.Second)); det.Has(pumping.Pumping) || det.Has(pumping.NewDestCountry) {
			t.Fatalf("message %d to %s: %+v", i, dest, det)
		}
	}
}

// SequentialRun consecutive destination numbers (step <= 10) is pumping.
func TestSequential(t *testing.T) {
	d := newDetector(t, pumping.Config{SequentialRun: 5, Window: time.Minute})
	now := t0
	for i := 1; i <= 5; i++ {
		det := detect(d, facts("acme", fmt.Sprintf("4915100000%03d", i*3), "DE"), now)
		if det.Count(pumping.SequentialRun) != i || det.Has(pumping.Pumping) != (i == 5) {
			t.Fatalf("number %d: %+v", i, det)
		}
		if i == 5 && det.Text(pumping.PumpingWhy) != pumping.WhySequential {
			t.Fatalf("why %q", det.Text(pumping.PumpingWhy))
		}
		now += int64(time.Second)
	}
	// A far number restarts the run.
	if det := detect(d, facts("acme", "4917099999999", "DE"), now); det.Count(pumping.SequentialRun) != 1 || det.Has(pumping.Pumping) {
		t.Fatalf("unrelated number: %+v", det)
	}
	// A gap longer than the window restarts it too.
	d = newDetector(t, pumping.Config{SequentialRun: 3, Window: time.Minute})
	now = t0
	detect(d, facts("acme", "4915100000001", "DE"), now)
	detect(d, facts("acme", "4915100000002", "DE"), now)
	now += int64(time.Minute) + 1
	if det := detect(d, facts("acme", "4915100000003", "DE"), now); det.Count(pumping.SequentialRun) != 1 || det.Has(pumping.Pumping) {
		t.Fatalf("after a gap: %+v", det)
	}
	// Runs are per peer.
	d = newDetector(t, pumping.Config{SequentialRun: 3})
	for i := 1; i <= 4; i++ {
		if det := detect(d, facts(fmt.Sprintf("peer%d", i), fmt.Sprintf("4915100000%03d", i), "DE"), t0); det.Count(pumping.SequentialRun) != 1 {
			t.Fatalf("peer %d: %+v", i, det)
		}
	}
	// Non-numeric destinations are not observed.
	if det := detect(d, facts("acme", "+4915100000001", "DE"), t0); det.Count(pumping.SequentialRun) != 0 {
		t.Fatalf("non-numeric: %+v", det)
	}
}

// Sequential premium numbers: both counted, pumping either way.
func TestPremiumAndSequential(t *testing.T) {
	d := newDetector(t, pumping.Config{SequentialRun: 3, PremiumBurst: 100})
	var det filter.Detections
	for i := 1; i <= 3; i++ {
		det = detect(d, facts("acme", fmt.Sprintf("4490000000%02d", i), "GB"), t0)
	}
	if !det.Has(pumping.Pumping) || det.Text(pumping.PumpingWhy) != pumping.WhySequential || det.Count(pumping.PremiumBurst) != 3 || det.Count(pumping.SequentialRun) != 3 {
		t.Fatalf("%+v", det)
	}
}

// A first message to a country is new only once the peer is established:
// more than 100 messages within NewCountryAfter.
func TestNewDestCountry(t *testing.T) {
	for _, tc := range []struct {
		before int
		want   bool
	}{{99, false}, {100, true}} {
		t.Run(fmt.Sprint(tc.before), func(t *testing.T) {
			d := newDetector(t, pumping.Config{})
			now := t0
			for i := 0; i < tc.before; i++ {
				if det := detect(d, facts("acme", fmt.Sprintf("49151%08d", i*1000), "DE"), now); det.Has(pumping.NewDestCountry) {
					t.Fatalf("message %d: DE new", i)
				}
				now += int64(time.Second)
			}
			// Message before+1 goes to France.
			if det := detect(d, facts("acme", "33612345678", "FR"), now); det.Has(pumping.NewDestCountry) != tc.want {
				t.Fatalf("after %d messages: new=%v", tc.before, det.Has(pumping.NewDestCountry))
			}
			// The second message to France is not new any more.
			if det := detect(d, facts("acme", "33612345000", "FR"), now); det.Has(pumping.NewDestCountry) {
				t.Fatal("second message to FR new")
			}
			// Nor is a country learnt during the warm-up.
			if det := detect(d, facts("acme", "49151777777", "DE"), now); det.Has(pumping.NewDestCountry) {
				t.Fatal("DE new")
			}
			// Messages without a country are not counted.
			if det := detect(d, facts("acme", "12345", ""), now); det.Has(pumping.NewDestCountry) {
				t.Fatal("empty country new")
			}
			// Countries are per peer: another peer is not established.
			if det := detect(d, facts("other", "34612345678", "ES"), now); det.Has(pumping.NewDestCountry) {
				t.Fatal("unestablished peer flagged")
			}
		})
	}
}

// A country the peer keeps sending to never becomes new again, however long
// the traffic lasts; one it stopped using for NewCountryAfter does.
func TestNewDestCountrySteadyTraffic(t *testing.T) {
	d := newDetector(t, pumping.Config{NewCountryAfter: 24 * time.Hour})
	now := t0
	// Three days of one message to DE every 5 minutes, one to AT every hour.
	for i := 0; i < 3*24*12; i++ {
		if det := detect(d, facts("acme", fmt.Sprintf("49151%08d", i*1000), "DE"), now); det.Has(pumping.NewDestCountry) && i > 0 {
			t.Fatalf("DE new again after %v", time.Duration(now-t0))
		}
		if i%12 == 0 {
			if det := detect(d, facts("acme", fmt.Sprintf("43664%07d", i*1000), "AT"), now); det.Has(pumping.NewDestCountry) && i > 0 {
				t.Fatalf("AT new again after %v", time.Duration(now-t0))
			}
		}
		now += int64(5 * time.Minute)
	}
	// AT idle for more than a day, DE traffic continues: AT is new again.
	for i := 0; i < 25*12; i++ {
		detect(d, facts("acme", fmt.Sprintf("49152%08d", i*1000), "DE"), now)
		now += int64(5 * time.Minute)
	}
	if det := detect(d, facts("acme", "43664999999", "AT"), now); !det.Has(pumping.NewDestCountry) {
		t.Fatal("AT unused for 25h not new")
	}
}

func TestIgnored(t *testing.T) {
	d := newDetector(t, pumping.Config{PremiumBurst: 1, SequentialRun: 1})
	mo := facts("acme", premiumDest(1), "GB")
	mo.Direction = "mo"
	noDest := facts("acme", "", "GB")
	for _, f := range []*filter.Facts{mo, noDest} {
		for i := 0; i < 3; i++ {
			if det := detect(d, f, t0); det != (filter.Detections{}) || f.DestPremium {
				t.Fatalf("%+v: %+v", f, det)
			}
		}
	}
	// No premium list: no premium findings.
	cfg := pumping.Config{}.Defaults()
	nd := pumping.New(cfg, pumping.Reuse(nil, cfg, testBytes))
	f := facts("acme", premiumDest(1), "GB")
	if det := detect(nd, f, t0); det.Count(pumping.PremiumBurst) != 0 || f.DestPremium {
		t.Fatalf("nil list: %+v", det)
	}
}

func TestReuse(t *testing.T) {
	cfg := pumping.Config{Premium: premium(t), PremiumBurst: 2}.Defaults()
	st := pumping.Reuse(nil, cfg, testBytes)
	for i := 0; i < 2; i++ {
		detect(pumping.New(cfg, st), facts("acme", premiumDest(i), "GB"), t0)
	}
	// New thresholds and list, same window and learning period: same state.
	cfg2 := cfg
	cfg2.PremiumBurst, cfg2.SequentialRun = 2, 10
	cfg2.Premium = premium(t)
	if pumping.Reuse(st, cfg2, testBytes) != st {
		t.Fatal("same windows: state not reused")
	}
	if det := detect(pumping.New(cfg2, st), facts("acme", premiumDest(5), "GB"), t0); !det.Has(pumping.Pumping) || det.Count(pumping.PremiumBurst) != 3 {
		t.Fatalf("counts lost across the reload: %+v", det)
	}
	cfg3 := cfg2
	cfg3.Window = 2 * time.Minute
	st3 := pumping.Reuse(st, cfg3, testBytes)
	if st3 == st {
		t.Fatal("window changed: state reused")
	}
	if det := detect(pumping.New(cfg3, st3), facts("acme", premiumDest(6), "GB"), t0); det.Count(pumping.PremiumBurst) != 1 {
		t.Fatalf("fresh state: %+v", det)
	}
	cfg4 := cfg2
	cfg4.NewCountryAfter = time.Hour
	if pumping.Reuse(st, cfg4, testBytes) == st {
		t.Fatal("learning period changed: state reused")
	}
	if pumping.Reuse(st, cfg2, 2*testBytes) == st {
		t.Fatal("memory budget changed: state reused")
	}
}

func TestName(t *testing.T) {
	if n := newDetector(t, pumping.Config{}).Name(); n != "pumping" {
		t.Fatalf("Name() = %q", n)
	}
}

// testBytes is the counters' memory budget in tests: room for thousands of
// keys.
const testBytes = 4 << 20

// Slow pumping stays under the burst: the third distinct premium number
// from one peer within premium_window is pumping, however slowly it comes;
// repeats of one number do not count, and another peer counts apart.
func TestPremiumDestinations(t *testing.T) {
	d := newDetector(t, pumping.Config{PremiumDestinations: 3, PremiumWindow: time.Hour})
	now := t0
	send := func(peer string, i int) filter.Detections {
		now += int64(5 * time.Minute) // far below any burst
		return detect(d, facts(peer, premiumDest(i), "GB"), now)
	}
	for i := 1; i <= 2; i++ {
		if det := send("acme", i); det.Has(pumping.Pumping) || det.Count(pumping.PremiumDests) != i {
			t.Fatalf("number %d: %+v", i, det)
		}
	}
	if det := send("acme", 1); det.Has(pumping.Pumping) {
		t.Fatal("a repeated number counted")
	}
	if det := send("other", 3); det.Has(pumping.Pumping) {
		t.Fatal("another peer counted with acme")
	}
	det := send("acme", 3)
	if !det.Has(pumping.Pumping) || det.Text(pumping.PumpingWhy) != pumping.WhyPremiumSpread {
		t.Fatalf("third number: %+v", det)
	}
	// An ordinary destination is not counted.
	if det := detect(d, facts("acme", "4915112345678", "DE"), now); det.Count(pumping.PremiumDests) != 0 || det.Has(pumping.Pumping) {
		t.Fatalf("ordinary number: %+v", det)
	}
}
