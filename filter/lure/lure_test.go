package lure_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/campaign"
	"github.com/smsfw/smsfw/filter/filtertest"
	"github.com/smsfw/smsfw/filter/lure"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()

func facts(dir, kind, sender, text string) *filter.Facts {
	f := &filter.Facts{Direction: dir, Peer: "ic", PeerClass: "p2p", Class: "p2p", Sender: sender, SenderKind: kind,
		Dest: "4915112345678", Segments: 1, DestCount: 1}
	return filtertest.SetText(f, text)
}

func detect(d *lure.Detector, f *filter.Facts, now int64) filter.Detections {
	var det filter.Detections
	d.Detect(f, &det, now)
	return det
}

func TestDefaults(t *testing.T) {
	want := lure.Config{NewSenderAge: 24 * time.Hour, SenderMemory: 720 * time.Hour, WaveSenders: 3, WaveWindow: time.Hour}
	if got := (lure.Config{}).Defaults(); got != want {
		t.Fatalf("Defaults() = %+v", got)
	}
}

func TestFindings(t *testing.T) {
	d := lure.New(lure.Config{}, lure.Reuse(nil, lure.Config{}, 1<<20))
	cases := []struct {
		text  string
		lure  bool
		score int
		kind  string
	}{
		{"Hi Mum, my phone broke, this is my new number. Can you text me on WhatsApp?", true, 4, "family_new_number"},
		{"Hi mum it's me, new number. Can you do me a favour? Need to pay a bill", true, 4, "family_new_number"},
		{"URGENT: your account will be closed today. Call +447700900123 now.", true, 4, "account_threat"},
		{"Your package could not be delivered. Call +447700900123 to reschedule.", true, 3, "parcel"},
		{"Hi mum, can you pick me up at 6?", false, 0, ""},
		{"Can you grab milk on the way home?", false, 0, ""},
	}
	for _, c := range cases {
		det := detect(d, facts("mt", filter.KindNumber, "447700900123", c.text), t0)
		if det.Has(lure.Lure) != c.lure || det.Count(lure.Score) != c.score || det.Text(lure.Kind) != c.kind {
			t.Errorf("%q: lure=%v score=%d kind=%q parts=%q", c.text, det.Has(lure.Lure), det.Count(lure.Score), det.Text(lure.Kind), det.Text(lure.Parts))
		}
	}
}

// A number is new for new_sender_age after its first message, then known
// while it keeps writing within sender_memory; silent longer, it is new
// again. Only MT phone-number senders are tracked.
func TestNewSender(t *testing.T) {
	cfg := lure.Config{NewSenderAge: time.Hour, SenderMemory: 10 * time.Hour}
	d := lure.New(cfg, lure.Reuse(nil, cfg, 1<<20))
	at := func(h float64) int64 { return t0 + int64(h*float64(time.Hour)) }
	steps := []struct {
		h      float64
		sender string
		kind   string
		dir    string
		isNew  bool
	}{
		{0, "447700900001", filter.KindNumber, "mt", true},
		{0.5, "447700900001", filter.KindNumber, "mt", true},
		{0.99, "447700900001", filter.KindNumber, "mt", true},
		{1, "447700900001", filter.KindNumber, "mt", false},
		{5, "447700900001", filter.KindNumber, "mt", false},
		{1, "447700900002", filter.KindNumber, "mt", true},
		{14.9, "447700900001", filter.KindNumber, "mt", false}, // last seen at 5: remembered until 15
		{25, "447700900001", filter.KindNumber, "mt", true},    // silent 10h: forgotten
		{0, "PayPal", filter.KindAlphanumeric, "mt", false},
		{0, "4915112345678", filter.KindNumber, "mo", false},
	}
	for i, s := range steps {
		det := detect(d, facts(s.dir, s.kind, s.sender, "see you at 8"), at(s.h))
		if det.Has(lure.NewSender) != s.isNew {
			t.Errorf("step %d (%s at %vh): new_sender=%v, want %v", i, s.sender, s.h, det.Has(lure.NewSender), s.isNew)
		}
	}
}

// A lure text's first messages are remembered until the campaign detector
// has counted wave_senders senders of it; from then on each message of the
// wave is marked and its evidence names them.
func TestWave(t *testing.T) {
	d := lure.New(lure.Config{}, lure.Reuse(nil, lure.Config{}, 1<<20))
	text := "Hi Mum, this is my new number. Text me on WhatsApp"
	send := func(i, senders int, now int64) (filter.Detections, string) {
		f := facts("mt", filter.KindNumber, fmt.Sprintf("44770090%04d", i), text)
		f.Dest = fmt.Sprintf("4915112%06d", i)
		var det filter.Detections
		det.SetCount(campaign.Senders, senders) // as the campaign detector, before this one, counted
		d.Detect(f, &det, now)
		var ev []string
		d.Explain(f, &det, func(format string, args ...any) { ev = append(ev, fmt.Sprintf(format, args...)) })
		return det, strings.Join(ev, "; ")
	}
	for i := 1; i <= 2; i++ {
		if det, _ := send(i, i, t0+int64(i)*int64(time.Minute)); det.Has(lure.Wave) || det.Count(lure.WaveEarlier) != 0 {
			t.Fatalf("message %d: wave before wave_senders", i)
		}
	}
	det, ev := send(3, 3, t0+3*int64(time.Minute))
	if !det.Has(lure.Wave) || det.Count(lure.WaveEarlier) != 2 {
		t.Fatalf("third sender: wave=%v earlier=%d", det.Has(lure.Wave), det.Count(lure.WaveEarlier))
	}
	want := "lure_wave first_messages=447700900001>4915112000001@12:01:00,447700900002>4915112000002@12:02:00"
	if !strings.Contains(ev, want) {
		t.Fatalf("evidence %q lacks %q", ev, want)
	}
	// After the wave window the text starts afresh.
	if det, _ := send(9, 1, t0+2*int64(time.Hour)); det.Has(lure.Wave) {
		t.Fatal("wave after its window")
	}
}

// The state survives a rebuild with the same budget and wave window.
func TestReuse(t *testing.T) {
	st := lure.Reuse(nil, lure.Config{}, 1<<20)
	if lure.Reuse(st, lure.Config{WaveWindow: time.Hour, WaveSenders: 5}, 1<<20) != st {
		t.Fatal("same budget: state not reused")
	}
	if lure.Reuse(st, lure.Config{}, 2<<20) == st {
		t.Fatal("new budget: state reused")
	}
	if lure.Reuse(st, lure.Config{WaveWindow: time.Minute}, 1<<20) == st {
		t.Fatal("new wave window: state reused")
	}
}

func TestDetectAllocs(t *testing.T) {
	d := lure.New(lure.Config{}, lure.Reuse(nil, lure.Config{}, 1<<20))
	f := facts("mt", filter.KindNumber, "447700900123", "Kids are asleep finally. Wine at 9:15?")
	var det filter.Detections
	d.Detect(f, &det, t0)
	if n := testing.AllocsPerRun(100, func() { d.Detect(f, &det, t0) }); n != 0 {
		t.Fatalf("Detect allocates %v times per message", n)
	}
}
