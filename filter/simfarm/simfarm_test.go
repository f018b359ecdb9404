package simfarm_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/filtertest"
	"github.com/smsfw/smsfw/filter/lists"
	"github.com/smsfw/smsfw/filter/simfarm"
	"github.com/smsfw/smsfw/filter/textscan"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()

func mo(sender, dest, text string) *filter.Facts {
	f := &filter.Facts{Direction: "mo", Peer: "shortcode-app", PeerClass: "enterprise", Class: filter.ClassMO,
		Sender: sender, SenderKind: filter.KindNumber, Dest: dest, Text: text, Segments: 1, DestCount: 1}
	if text != "" {
		f.Norm = string(textscan.Normalize(nil, []byte(text)))
		f.Fingerprint = textscan.Fingerprint([]byte(text))
	}
	return f
}

func num(i int) string { return fmt.Sprintf("4915100%06d", i) }

func newDetector(cfg simfarm.Config) *simfarm.Detector {
	cfg = cfg.Defaults()
	return simfarm.New(cfg, simfarm.Reuse(nil, cfg, testBytes))
}

func detect(d *simfarm.Detector, f *filter.Facts, now int64) filter.Detections {
	var det filter.Detections
	d.Detect(f, &det, now)
	return det
}

func TestDefaults(t *testing.T) {
	want := simfarm.Config{Window: 10 * time.Minute, DistinctSenders: 20, SpamSenders: 50, RangeSenders: 3}
	if got := (simfarm.Config{}).Defaults(); got != want {
		t.Fatalf("Defaults() = %+v", got)
	}
	set := simfarm.Config{Window: time.Second, DistinctSenders: 1, SpamSenders: 2, RangeSenders: 5}
	if got := set.Defaults(); got != set {
		t.Fatalf("Defaults() changed set values: %+v", got)
	}
}

// DistinctSenders MSISDNs sending one text to one short code is a SIM farm
// (inclusive threshold).
func TestSIMFarm(t *testing.T) {
	const n = 5
	d := newDetector(simfarm.Config{DistinctSenders: n, SpamSenders: 1000})
	now := t0
	vote := func(i int, dest string) filter.Detections { return detect(d, mo(num(i), dest, "VOTE 7 for Anna"), now) }
	for i := 1; i < n; i++ {
		if det := vote(i, "12345"); det.Has(simfarm.SIMFarm) || det.Count(simfarm.Senders) != i || det.Has(simfarm.MOSpam) {
			t.Fatalf("sender %d: %+v", i, det)
		}
	}
	if det := vote(1, "12345"); det.Has(simfarm.SIMFarm) || det.Count(simfarm.Senders) != n-1 {
		t.Fatalf("repeat sender: %+v", det)
	}
	if det := vote(n, "12345"); !det.Has(simfarm.SIMFarm) || det.Count(simfarm.Senders) != n {
		t.Fatalf("sender %d: %+v", n, det)
	}
	// Other short code: its own count.
	if det := vote(1, "54321"); det.Has(simfarm.SIMFarm) || det.Count(simfarm.Senders) != 1 {
		t.Fatalf("other short code: %+v", det)
	}
	// Other text to the same short code: its own count.
	if det := detect(d, mo(num(1), "12345", "STOP"), now); det.Has(simfarm.SIMFarm) || det.Count(simfarm.Senders) != 1 {
		t.Fatalf("other text: %+v", det)
	}
	// A long number is counted but is not a short code: no SIM farm.
	for i := 1; i <= 2*n; i++ {
		if det := vote(i, "4915112345678"); det.Has(simfarm.SIMFarm) || det.Count(simfarm.Senders) != i {
			t.Fatalf("long number, sender %d: %+v", i, det)
		}
	}
	// An 8-digit destination still counts as a short code.
	for i := 1; i <= n; i++ {
		if det := vote(i, "12345678"); det.Has(simfarm.SIMFarm) != (i == n) {
			t.Fatalf("8 digits, sender %d: %+v", i, det)
		}
	}
	// Tumbling window from the first sender.
	now = t0 + int64(10*time.Minute) - 1
	if det := vote(100, "12345"); !det.Has(simfarm.SIMFarm) || det.Count(simfarm.Senders) != n+1 {
		t.Fatalf("window ended early: %+v", det)
	}
	now = t0 + int64(10*time.Minute)
	if det := vote(101, "12345"); det.Has(simfarm.SIMFarm) || det.Count(simfarm.Senders) != 1 {
		t.Fatalf("after the window: %+v", det)
	}
}

// SpamSenders senders of one MO text, whatever the destinations, is MO spam.
func TestMOSpam(t *testing.T) {
	const n = 4
	d := newDetector(simfarm.Config{DistinctSenders: 1000, SpamSenders: n})
	for i := 1; i <= n+1; i++ {
		det := detect(d, mo(num(i), fmt.Sprintf("4917000%06d", i), "Cheap loans, reply YES"), t0)
		if det.Has(simfarm.MOSpam) != (i >= n) || det.Has(simfarm.SIMFarm) || det.Count(simfarm.Senders) != 1 {
			t.Fatalf("sender %d: %+v", i, det)
		}
	}
	// The same sender repeating to many destinations is not many senders.
	d = newDetector(simfarm.Config{DistinctSenders: 1000, SpamSenders: n})
	for i := 1; i <= 3*n; i++ {
		if det := detect(d, mo(num(1), fmt.Sprintf("4917000%06d", i), "Cheap loans, reply YES"), t0); det.Has(simfarm.MOSpam) {
			t.Fatalf("one sender flagged as spam at %d", i)
		}
	}
}

// Ordinary MO traffic: people replying to different short codes and numbers.
func TestLegitimate(t *testing.T) {
	d := newDetector(simfarm.Config{})
	texts := []string{"YES", "STOP", "Hi, is the flat still available?", "Thanks, see you tomorrow", "HELP"}
	for i := 0; i < 200; i++ {
		det := detect(d, mo(num(i), fmt.Sprintf("%d", 10000+i%37), texts[i%len(texts)]), t0)
		if det.Has(simfarm.SIMFarm) || det.Has(simfarm.MOSpam) {
			t.Fatalf("message %d: %+v", i, det)
		}
	}
}

func TestIgnored(t *testing.T) {
	d := newDetector(simfarm.Config{DistinctSenders: 1, SpamSenders: 1})
	receipt := mo(num(1), "12345", "id:123 sub:001 dlvrd:001 stat:DELIVRD")
	receipt.Receipt, receipt.Class = true, filter.ClassReceipt
	mt := mo(num(1), "12345", "VOTE 7")
	mt.Direction, mt.Class = "mt", filter.ClassP2P
	empty := mo(num(1), "12345", "")
	for _, f := range []*filter.Facts{receipt, mt, empty} {
		for i := 0; i < 3; i++ {
			if det := detect(d, f, t0); det != (filter.Detections{}) {
				t.Fatalf("%+v: %+v", f, det)
			}
		}
	}
}

func TestReuse(t *testing.T) {
	cfg := simfarm.Config{DistinctSenders: 3, SpamSenders: 3, Window: time.Minute}.Defaults()
	st := simfarm.Reuse(nil, cfg, testBytes)
	for i := 1; i <= 2; i++ {
		detect(simfarm.New(cfg, st), mo(num(i), "12345", "VOTE B"), t0)
	}
	cfg2 := cfg
	cfg2.DistinctSenders, cfg2.SpamSenders = 3, 100
	if simfarm.Reuse(st, cfg2, testBytes) != st {
		t.Fatal("same window: state not reused")
	}
	if det := detect(simfarm.New(cfg2, st), mo(num(3), "12345", "VOTE B"), t0); !det.Has(simfarm.SIMFarm) || det.Has(simfarm.MOSpam) {
		t.Fatalf("counts lost across the reload: %+v", det)
	}
	cfg3 := cfg2
	cfg3.Window = 5 * time.Minute
	st3 := simfarm.Reuse(st, cfg3, testBytes)
	if st3 == st {
		t.Fatal("window changed: state reused")
	}
	if simfarm.Reuse(st3, cfg3, 2*testBytes) == st3 {
		t.Fatal("memory budget changed: state reused")
	}
	if det := detect(simfarm.New(cfg3, st3), mo(num(4), "12345", "VOTE B"), t0); det.Has(simfarm.SIMFarm) || det.Count(simfarm.Senders) != 1 {
		t.Fatalf("fresh state: %+v", det)
	}
}

func TestName(t *testing.T) {
	if n := newDetector(simfarm.Config{}).Name(); n != "sim_farm" {
		t.Fatalf("Name() = %q", n)
	}
}

// testBytes is the counters' memory budget in tests: room for thousands of
// keys.
const testBytes = 4 << 20

// Consecutive SIMs voting are a farm after range_senders of one block, and
// the next block is flagged from its first message; real viewers from all
// over the number plan voting the same are not, on the operator's own
// short code not even by volume.
func TestRangeAndOwnShortCodes(t *testing.T) {
	own, err := lists.Compile("own", lists.Senders, []string{"8844"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &simfarm.Config{OwnShortCodes: "own"}
	cfg.Check(&filter.SettingsCheck{Section: "detectors.sim_farm", Lists: lists.Set{"own": own},
		Report: func(k, m string) { t.Fatalf("%s: %s", k, m) }})
	d := simfarm.New(*cfg, simfarm.Reuse(nil, *cfg, 1<<20))
	vote := func(sender, dest string) filter.Detections {
		f := filtertest.SetText(&filter.Facts{Direction: "mo", Sender: sender, SenderKind: filter.KindNumber, Dest: dest, Segments: 1}, "VOTE 5")
		var det filter.Detections
		d.Detect(f, &det, t0)
		return det
	}
	for i := 0; i < 200; i++ { // viewers from all over the number plan
		det := vote(fmt.Sprintf("491%02d%08d", 50+i%30, i*7919), "8844")
		if det.Has(simfarm.Range) || det.Has(simfarm.SIMFarm) || det.Has(simfarm.MOSpam) || !det.Has(simfarm.OwnShortCode) {
			t.Fatalf("viewer %d: %+v", i, det)
		}
	}
	passed := 0
	for i := 0; i < 200; i++ { // a farm: 4915950581000 to 4915950581199
		if det := vote(fmt.Sprintf("4915950581%03d", i), "8844"); !det.Has(simfarm.Range) {
			passed++
		}
	}
	if passed != cfg.RangeSenders-1 {
		t.Fatalf("%d of the farm's 200 votes passed, want %d", passed, cfg.RangeSenders-1)
	}
	// Another short code, not the operator's: volume counts.
	var det filter.Detections
	for i := 0; i < cfg.DistinctSenders; i++ {
		det = vote(fmt.Sprintf("491%02d%08d", 50+i%30, i*7919), "99999")
	}
	if !det.Has(simfarm.SIMFarm) || det.Has(simfarm.OwnShortCode) {
		t.Fatalf("%d senders to a foreign short code: %+v", cfg.DistinctSenders, det)
	}
}
