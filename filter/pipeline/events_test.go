package pipeline_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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
  - id: slow-down
    when: msg.text contains "slowly"
    action: throttle
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

// What one event keeps is bounded: text cut at TextMax with a marker (after
// masking, so the count survives), evidence at MaxEvidence, and no PDUs for
// a throttle verdict (the peer sends the message again).
func TestEventSizeCaps(t *testing.T) {
	long := "JACKPOT " + strings.Repeat("ä1", 30_000) // 90,008 bytes of UTF-8
	for _, tc := range []struct {
		name    string
		opts    pipeline.EventOptions
		text    string
		want    string // the kept text
		rawMax  int
		maxSize int
	}{
		{"default cap", pipeline.EventOptions{Enabled: true}, long,
			long[:pipeline.DefaultTextMax] + pipeline.TruncatedMarker + "81816 bytes]", 0, 12 << 10},
		{"configured cap, cut before a character", pipeline.EventOptions{Enabled: true, TextMax: 9, RawMax: 4096}, long,
			"JACKPOT " + pipeline.TruncatedMarker + "90000 bytes]", 4096, 2 << 10},
		{"masked after the cut", pipeline.EventOptions{Enabled: true, TextMax: 12, Text: pipeline.TextMaskDigits}, long,
			"JACKPOT ä#" + pipeline.TruncatedMarker + "89997 bytes]", 0, 2 << 10},
		{"short text kept whole", pipeline.EventOptions{Enabled: true, TextMax: 100}, "JACKPOT now", "JACKPOT now", 0, 2 << 10},
		{"throttle keeps no PDUs", pipeline.EventOptions{Enabled: true, RawMax: 4096}, "please go slowly", "please go slowly", -1, 2 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := eventChain(t, tc.opts)
			ev := inspectPayload(t, c, tc.text).Event
			if ev == nil {
				t.Fatal("no event")
			}
			if ev.Text != tc.want {
				t.Fatalf("text %q... (%d bytes), want %q... (%d bytes)", head(ev.Text), len(ev.Text), head(tc.want), len(tc.want))
			}
			if !utf8.ValidString(ev.Text) {
				t.Fatal("cut inside a character")
			}
			if ev.RawMax != tc.rawMax {
				t.Fatalf("RawMax %d, want %d", ev.RawMax, tc.rawMax)
			}
			if len(ev.Evidence) > pipeline.MaxEvidence+32 || len(ev.Highlight) > pipeline.MaxEvidence+32 {
				t.Fatalf("evidence %d, highlight %d bytes", len(ev.Evidence), len(ev.Highlight))
			}
			if n := ev.Size(); n > tc.maxSize || n < len(ev.Text) {
				t.Fatalf("Size() = %d, want <= %d", n, tc.maxSize)
			}
		})
	}
}

func head(s string) string { return s[:min(len(s), 40)] }

// inspectPayload inspects a submit_sm carrying Latin-1 text in
// message_payload (up to 64 KiB).
func inspectPayload(t *testing.T, c *pipeline.Chain, text string) filter.Verdict {
	t.Helper()
	raw := pdu.AppendSM(nil, pdu.SubmitSM, 1, &pdu.SMFields{SrcTON: 5, Src: "Shop", DstTON: 1, DstNPI: 1, Dst: "4915112345678",
		DataCoding: 0x03, TLVs: pdu.AppendTLV(nil, pdu.TagMessagePayload, latin1(text))})
	var m pdu.Message
	if err := pdu.ParseMessage(raw, &m); err != nil {
		t.Fatal(err)
	}
	v, err := c.Inspect(&filter.Request{Direction: filter.MT, Peer: "acme", Msg: &m, Time: time.Now().UnixNano()})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func latin1(s string) []byte {
	var b []byte
	for _, r := range s {
		b = append(b, byte(r))
	}
	return b
}
