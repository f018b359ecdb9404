package pipeline_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/pipeline"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/smpp/pdu"
)

func eventChain(t *testing.T, ev pipeline.EventOptions) *pipeline.Chain {
	t.Helper()
	path := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(path, []byte(`version: 1
default: allow
lists:
  bad: {type: keywords, items: [jackpot]}
detectors:
  content: {keywords: bad}
rules:
  - id: spam
    when: det.keyword
    action: block
  - id: watch-codes
    when: msg.text contains "code"
    action: block
    mode: monitor
`), 0o644); err != nil {
		t.Fatal(err)
	}
	eng, err := rules.NewEngine(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pipeline.New(pipeline.Options{Engine: eng, Events: ev, SyncNumbers: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func inspect(t *testing.T, c *pipeline.Chain, from, text string) filter.Verdict {
	t.Helper()
	var m pdu.Message
	if err := pdu.ParseMessage(mt(from, "4915112345678", text), &m); err != nil {
		t.Fatal(err)
	}
	v, err := c.Inspect(&filter.Request{Direction: filter.MT, Peer: "acme", SystemID: "acme", Msg: &m, Time: time.Now().UnixNano()})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestEvents(t *testing.T) {
	tests := []struct {
		name       string
		opts       pipeline.EventOptions
		from, text string
		want       *filter.Event // nil: no event
	}{
		{"disabled", pipeline.EventOptions{}, "Shop", "JACKPOT 4711 now", nil},
		{"allowed, no sample", pipeline.EventOptions{Enabled: true}, "Shop", "hello", nil},
		{"blocked", pipeline.EventOptions{Enabled: true}, "Shop", "JACKPOT 4711 now",
			&filter.Event{Action: "reject", RuleID: "spam", Text: "JACKPOT 4711 now", Highlight: "jackpot", Sender: "Shop", Peer: "acme"}},
		{"masked digits", pipeline.EventOptions{Enabled: true, Text: pipeline.TextMaskDigits}, "Shop", "JACKPOT 4711 now",
			&filter.Event{Action: "reject", RuleID: "spam", Text: "JACKPOT #### now", TextMasked: true, Highlight: "jackpot", Sender: "Shop", Peer: "acme"}},
		{"no text", pipeline.EventOptions{Enabled: true, Text: pipeline.TextNone}, "Shop", "JACKPOT 4711 now",
			&filter.Event{Action: "reject", RuleID: "spam", TextMasked: true, Sender: "Shop", Peer: "acme"}},
		{"monitor hit on an allowed message", pipeline.EventOptions{Enabled: true}, "Shop", "your code 1234",
			&filter.Event{Action: "reject", RuleID: "watch-codes", Monitor: true, Text: "your code 1234", Sender: "Shop", Peer: "acme"}},
		{"sample of everything", pipeline.EventOptions{Enabled: true, SampleAllowed: 1}, "Shop", "hello",
			&filter.Event{Action: "allow", Sampled: true, Text: "hello", Sender: "Shop", Peer: "acme"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := eventChain(t, tc.opts)
			ev := inspect(t, c, tc.from, tc.text).Event
			if tc.want == nil {
				if ev != nil {
					t.Fatalf("unexpected event %+v", ev)
				}
				return
			}
			if ev == nil {
				t.Fatal("no event")
			}
			if ev.ID == 0 || ev.Time.IsZero() || ev.Fingerprint == 0 && tc.want.Text != "" || ev.Direction != "mt" || ev.Class == "" {
				t.Fatalf("event lacks facts: %+v", ev)
			}
			got := filter.Event{Action: ev.Action, RuleID: ev.RuleID, Monitor: ev.Monitor, Sampled: ev.Sampled, Text: ev.Text,
				TextMasked: ev.TextMasked, Highlight: ev.Highlight, Sender: ev.Sender, Peer: ev.Peer}
			if !reflect.DeepEqual(got, *tc.want) {
				t.Fatalf("event\n got %+v\nwant %+v", got, *tc.want)
			}
		})
	}
}

func TestOverrides(t *testing.T) {
	c := eventChain(t, pipeline.EventOptions{Enabled: true})
	spam := inspect(t, c, "Shop", "JACKPOT now")
	fp := spam.Event.Fingerprint
	past := time.Now().Add(-time.Hour)
	c.SetOverrides([]filter.Override{
		{ID: 1, Kind: filter.OverrideSenderFingerprint, Sender: "Shop", Fingerprint: fp, Action: filter.OverrideAllow},
		{ID: 2, Kind: filter.OverrideSender, Sender: "Evil", Action: filter.OverrideBlock},
		{ID: 3, Kind: filter.OverrideFingerprint, Fingerprint: fp, Action: filter.OverrideBlock},
		{ID: 4, Kind: filter.OverrideSender, Sender: "Old", Action: filter.OverrideBlock, Expires: &past},
	})
	tests := []struct {
		from, text string
		action     filter.Action
		rule       string
	}{
		{"Shop", "JACKPOT now", filter.Allow, ""},             // sender+fingerprint allow beats fingerprint block
		{"Other", "JACKPOT now", filter.Reject, "override-3"}, // the fingerprint alone blocks
		{"Evil", "hello", filter.Reject, "override-2"},
		{"Old", "hello", filter.Allow, ""}, // expired
		{"Shop", "JACKPOT again today", filter.Reject, "spam"},
	}
	for _, tc := range tests {
		v := inspect(t, c, tc.from, tc.text)
		if v.Action != tc.action || v.RuleID != tc.rule {
			t.Errorf("%s %q: %v %q, want %v %q", tc.from, tc.text, v.Action, v.RuleID, tc.action, tc.rule)
		}
	}
	c.SetOverrides(nil)
	if v := inspect(t, c, "Evil", "hello"); v.Action != filter.Allow {
		t.Fatalf("cleared overrides still apply: %v", v.Action)
	}
}
