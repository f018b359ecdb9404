package campaign_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/campaign"
	"github.com/smsfw/smsfw/filter/filtertest"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()

func facts(class, kind, sender, dest, text string) *filter.Facts {
	f := &filter.Facts{Direction: "mt", Peer: "p2pnet", PeerClass: "p2p", Class: class, Sender: sender, SenderKind: kind,
		Dest: dest, Segments: 1, DestCount: 1}
	return filtertest.SetText(f, text)
}

func num(i int) string { return fmt.Sprintf("4915100%06d", i) }
func dst(i int) string { return fmt.Sprintf("4917000%06d", i) }

func newDetector(cfg campaign.Config) *campaign.Detector {
	cfg = cfg.Defaults()
	return campaign.New(cfg, campaign.Reuse(nil, cfg, testBytes))
}

func detect(d *campaign.Detector, f *filter.Facts, now int64) filter.Detections {
	var det filter.Detections
	d.Detect(f, &det, now)
	return det
}

func TestDefaults(t *testing.T) {
	want := campaign.Config{Window: 10 * time.Minute, DistinctSenders: 10, FanoutRecipients: 30, RangeSenders: 3}
	if got := (campaign.Config{}).Defaults(); got != want {
		t.Fatalf("Defaults() = %+v", got)
	}
	set := campaign.Config{Window: time.Second, DistinctSenders: 2, FanoutRecipients: 3, RangeSenders: 4}
	if got := set.Defaults(); got != set {
		t.Fatalf("Defaults() changed set values: %+v", got)
	}
}

// One template from DistinctSenders distinct senders is a campaign: the
// threshold is inclusive.
func TestCampaign(t *testing.T) {
	const n = 4
	d := newDetector(campaign.Config{DistinctSenders: n, FanoutRecipients: 1000})
	now := t0
	spam := func(sender, dest int) filter.Detections {
		return detect(d, facts("p2p", filter.KindNumber, num(sender), dst(dest),
			fmt.Sprintf("You have won %d EUR! Claim with code %d", 100+sender, 9000+dest)), now)
	}
	for i := 1; i < n; i++ {
		if det := spam(i, i); det.Has(campaign.Campaign) || det.Count(campaign.Senders) != i {
			t.Fatalf("sender %d: campaign=%v senders=%d", i, det.Has(campaign.Campaign), det.Count(campaign.Senders))
		}
	}
	// The same sender again does not count.
	if det := spam(1, 50); det.Has(campaign.Campaign) || det.Count(campaign.Senders) != n-1 {
		t.Fatalf("repeat sender: %+v", det)
	}
	if det := spam(n, n); !det.Has(campaign.Campaign) || det.Count(campaign.Senders) != n {
		t.Fatalf("sender %d: campaign=%v senders=%d", n, det.Has(campaign.Campaign), det.Count(campaign.Senders))
	}
	if det := spam(n+1, n+1); !det.Has(campaign.Campaign) || det.Count(campaign.Senders) != n+1 {
		t.Fatalf("sender %d: %+v", n+1, det)
	}
	// Another text has its own count.
	if det := detect(d, facts("p2p", filter.KindNumber, num(1), dst(1), "see you at the station at 8"), now); det.Has(campaign.Campaign) || det.Count(campaign.Senders) != 1 {
		t.Fatalf("unrelated text: %+v", det)
	}
	// The sender set is a tumbling window anchored at its first sender.
	now = t0 + int64(10*time.Minute) - 1
	if det := spam(20, 20); !det.Has(campaign.Campaign) {
		t.Fatal("window ended early")
	}
	now = t0 + int64(10*time.Minute)
	if det := spam(21, 21); det.Has(campaign.Campaign) || det.Count(campaign.Senders) != 1 {
		t.Fatalf("after the window: %+v", det)
	}
}

// A bank sending one OTP template to many customers is one sender: no
// campaign, and an alphanumeric A2P sender is not counted for fan-out.
func TestLegitimateOTP(t *testing.T) {
	d := newDetector(campaign.Config{DistinctSenders: 3, FanoutRecipients: 3})
	for i := 0; i < 50; i++ {
		det := detect(d, facts("a2p", filter.KindAlphanumeric, "MyBank", dst(i), fmt.Sprintf("Your code is %06d", i*7919%1000000)), t0)
		if det.Has(campaign.Campaign) || det.Has(campaign.Fanout) || det.Count(campaign.Senders) != 1 || det.Count(campaign.FanoutRecipients) != 0 {
			t.Fatalf("message %d: %+v", i, det)
		}
	}
}

// One P2P sender writing to FanoutRecipients distinct recipients is a
// fan-out (inclusive); different texts, so no campaign is involved.
// One sender asking many people for something is fan-out; a greeting to
// many contacts is not.
func TestFanoutGreeting(t *testing.T) {
	d := newDetector(campaign.Config{DistinctSenders: 1000, FanoutRecipients: 5})
	for i := 1; i <= 50; i++ {
		if det := detect(d, facts("p2p", filter.KindNumber, num(1), dst(i), "Happy New Year! 🎉"), t0); det.Has(campaign.Fanout) {
			t.Fatalf("greeting %d flagged", i)
		}
	}
}

func TestFanout(t *testing.T) {
	const n = 5
	d := newDetector(campaign.Config{DistinctSenders: 1000, FanoutRecipients: n})
	now := t0
	send := func(sender, dest int) filter.Detections {
		return detect(d, facts("p2p", filter.KindNumber, num(sender), dst(dest), fmt.Sprintf("hello friend %c, see gift-deal.com", 'a'+dest%26)), now)
	}
	for i := 1; i < n; i++ {
		if det := send(1, i); det.Has(campaign.Fanout) || det.Count(campaign.FanoutRecipients) != i {
			t.Fatalf("recipient %d: %+v", i, det)
		}
	}
	if det := send(1, 1); det.Has(campaign.Fanout) || det.Count(campaign.FanoutRecipients) != n-1 {
		t.Fatalf("repeat recipient: %+v", det)
	}
	if det := send(1, n); !det.Has(campaign.Fanout) || det.Count(campaign.FanoutRecipients) != n {
		t.Fatalf("recipient %d: %+v", n, det)
	}
	// Another sender starts at 1.
	if det := send(2, 1); det.Has(campaign.Fanout) || det.Count(campaign.FanoutRecipients) != 1 {
		t.Fatalf("other sender: %+v", det)
	}
	// A numeric sender classified A2P (say, by velocity) still counts.
	for i := 1; i <= n; i++ {
		det := detect(d, facts("a2p", filter.KindNumber, num(3), dst(i), "call me on +49 151 23456789"), now)
		if det.Has(campaign.Fanout) != (i == n) {
			t.Fatalf("numeric A2P sender, recipient %d: %+v", i, det)
		}
	}
	// A P2P-classified alphanumeric sender counts too.
	for i := 1; i <= n; i++ {
		det := detect(d, facts("p2p", filter.KindAlphanumeric, "Bob", dst(i), "pay 20 EUR today"), now)
		if det.Has(campaign.Fanout) != (i == n) {
			t.Fatalf("p2p alphanumeric sender, recipient %d: %+v", i, det)
		}
	}
	// No text: recipients are still counted, nothing is flagged (it asks
	// for nothing).
	if det := detect(d, facts("p2p", filter.KindNumber, num(1), dst(100), ""), now); det.Has(campaign.Fanout) || det.Count(campaign.FanoutRecipients) != n+1 || det.Count(campaign.Senders) != 0 {
		t.Fatalf("empty text: %+v", det)
	}
	// Window expiry restarts the recipient set.
	now = t0 + int64(10*time.Minute)
	if det := send(1, 200); det.Has(campaign.Fanout) || det.Count(campaign.FanoutRecipients) != 1 {
		t.Fatalf("after the window: %+v", det)
	}
}

func TestIgnored(t *testing.T) {
	d := newDetector(campaign.Config{DistinctSenders: 1, FanoutRecipients: 1})
	mo := facts("mo", filter.KindNumber, num(1), "12345", "VOTE A")
	mo.Direction = "mo"
	empty := facts("p2p", filter.KindEmpty, "", dst(1), "VOTE A")
	for _, f := range []*filter.Facts{mo, empty} {
		if det := detect(d, f, t0); det != (filter.Detections{}) {
			t.Errorf("%+v: %+v", f, det)
		}
	}
}

func TestReuse(t *testing.T) {
	cfg := campaign.Config{Window: time.Minute, DistinctSenders: 3, FanoutRecipients: 3}.Defaults()
	st := campaign.Reuse(nil, cfg, testBytes)
	d := campaign.New(cfg, st)
	text := "Claim your prize now at prize-claim.com"
	for i := 0; i < 2; i++ {
		detect(d, facts("p2p", filter.KindNumber, num(i), dst(i), text), t0)
	}
	// New thresholds, same window: same state, counts kept.
	cfg2 := cfg
	cfg2.DistinctSenders, cfg2.FanoutRecipients = 3, 50
	st2 := campaign.Reuse(st, cfg2, testBytes)
	if st2 != st {
		t.Fatal("same window: state not reused")
	}
	if det := detect(campaign.New(cfg2, st2), facts("p2p", filter.KindNumber, num(2), dst(2), text), t0); !det.Has(campaign.Campaign) || det.Count(campaign.Senders) != 3 {
		t.Fatalf("counts lost across the reload: %+v", det)
	}
	// A new window: a new state.
	cfg3 := cfg2
	cfg3.Window = 2 * time.Minute
	st3 := campaign.Reuse(st2, cfg3, testBytes)
	if st3 == st2 {
		t.Fatal("window changed: state reused")
	}
	if campaign.Reuse(st3, cfg3, 2*testBytes) == st3 {
		t.Fatal("memory budget changed: state reused")
	}
	if det := detect(campaign.New(cfg3, st3), facts("p2p", filter.KindNumber, num(3), dst(3), text), t0); det.Has(campaign.Campaign) || det.Count(campaign.Senders) != 1 {
		t.Fatalf("fresh state: %+v", det)
	}
}

func TestName(t *testing.T) {
	if n := newDetector(campaign.Config{}).Name(); n != "campaign" {
		t.Fatalf("Name() = %q", n)
	}
}

// testBytes is the counters' memory budget in tests: room for thousands of
// keys.
const testBytes = 4 << 20

// Short personal notes with a number are not campaigns however many people
// write them; a crafted lure with one is.
func TestShortNoteWithNumber(t *testing.T) {
	d := newDetector(campaign.Config{DistinctSenders: 3})
	for i := 1; i <= 10; i++ {
		if det := detect(d, facts("p2p", filter.KindNumber, num(i*1000), dst(i), fmt.Sprintf("Ruf mich an: 0151 %07d", i)), t0); det.Has(campaign.Campaign) {
			t.Fatalf("note %d flagged", i)
		}
	}
	var det filter.Detections
	for i := 1; i <= 3; i++ {
		det = detect(d, facts("p2p", filter.KindNumber, num(i*1000), dst(i), fmt.Sprintf("URGENT: your account will be closed today. Call +44 7811 %06d now.", i)), t0)
	}
	if !det.Has(campaign.Campaign) {
		t.Fatal("lure from three phones not a campaign")
	}
}
