package pipeline_test

import (
	"testing"
	"testing/fstest"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/classify"
	"github.com/smsfw/smsfw/filter/pipeline"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// Handsets read reserved data_coding values as the GSM 7-bit default
// alphabet (3GPP TS 23.038 clause 4), so the facts must too: a keyword in
// a message with a reserved coding is found, and so is one behind the
// compression bit, which no handset or SMSC in use implements.
func TestReservedCodingsAreInspected(t *testing.T) {
	c := eventChain(t, pipeline.EventOptions{Enabled: true})
	for _, tc := range []struct {
		dcs  byte
		ud   []byte
		want filter.Action
		text string
	}{
		{0x00, []byte("JACKPOT now"), filter.Reject, "JACKPOT now"},
		{0x0B, []byte("JACKPOT now"), filter.Reject, "JACKPOT now"}, // SMPP reserved
		{0x0C, []byte("JACKPOT now"), filter.Reject, "JACKPOT now"},
		{0x0F, []byte("JACKPOT now"), filter.Reject, "JACKPOT now"},
		{0x1C, []byte("JACKPOT now"), filter.Reject, "JACKPOT now"}, // 23.038 character set 11
		{0x30, []byte("JACKPOT now"), filter.Reject, "JACKPOT now"}, // compressed, class 0
		{0x80, []byte("JACKPOT now"), filter.Reject, "JACKPOT now"}, // reserved coding groups
		{0xBF, []byte("JACKPOT now"), filter.Reject, "JACKPOT now"},
		{0x80, []byte("hello"), filter.Allow, ""},
		{0x04, []byte("JACKPOT now"), filter.Allow, ""}, // 8-bit binary: not text
	} {
		raw := pdu.AppendSM(nil, pdu.SubmitSM, 1, &pdu.SMFields{SrcTON: 5, Src: "Shop", DstTON: 1, DstNPI: 1, Dst: "4915112345678",
			DataCoding: tc.dcs, ShortMessage: tc.ud})
		var m pdu.Message
		if err := pdu.ParseMessage(raw, &m); err != nil {
			t.Fatal(err)
		}
		v, err := c.Inspect(&filter.Request{Direction: filter.MT, Peer: "acme", Msg: &m, Time: time.Now().UnixNano()})
		if err != nil {
			t.Fatal(err)
		}
		if v.Action != tc.want {
			t.Errorf("data_coding 0x%02X: %v, want %v", tc.dcs, v.Action, tc.want)
		}
		if tc.text != "" && (v.Event == nil || v.Event.Text != tc.text || v.Event.DataCoding != int(tc.dcs)) {
			t.Errorf("data_coding 0x%02X: event %+v", tc.dcs, v.Event)
		}
	}
}

// The sender's number facts are looked up only when a rule or a detector
// reads them; Explain always shows them.
func TestSenderNumberFactsOnDemand(t *testing.T) {
	const reads = `version: 1
default: allow
rules:
  - id: gb-senders
    when: msg.sender_country == "GB"
    action: flag
`
	const ignores = `version: 1
default: allow
rules:
  - id: kw
    when: det.keyword
    action: block
`
	raw := pdu.AppendSM(nil, pdu.SubmitSM, 1, &pdu.SMFields{SrcTON: 1, SrcNPI: 1, Src: "447400123456",
		DstTON: 1, DstNPI: 1, Dst: "4915112345678", ShortMessage: []byte("see you at 8")})
	var m pdu.Message
	if err := pdu.ParseMessage(raw, &m); err != nil {
		t.Fatal(err)
	}
	req := &filter.Request{Direction: filter.MT, Peer: "acme", Msg: &m}
	reader := *classify.Plugin
	reader.Reads = []string{"sender_country"}
	for _, tc := range []struct {
		name   string
		policy string
		order  []*filter.Plugin
		want   string
	}{
		{"a rule reads it", reads, nil, "GB"},
		{"nothing reads it", ignores, nil, ""},
		{"a detector reads it", ignores, append([]*filter.Plugin{&reader}, pipeline.Order[1:]...), "GB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := chainFor(t, tc.policy, tc.order)
			if got := pipeline.NewStages(c).Facts(req).SenderCountry; got != tc.want {
				t.Errorf("inspected: sender_country %q, want %q", got, tc.want)
			}
			if _, f, _, _ := c.Explain(req); f.SenderCountry != "GB" {
				t.Errorf("explained: sender_country %q, want GB", f.SenderCountry)
			}
		})
	}
	if v, _ := chainFor(t, reads, nil).Inspect(req); v.Action != filter.Flag || v.RuleID != "gb-senders" {
		t.Errorf("rule on msg.sender_country: %v %s, want flag gb-senders", v.Action, v.RuleID)
	}
}

// chainFor is a chain over a policy text with the given detectors (nil:
// Order) that parses numbers before answering.
func chainFor(t *testing.T, policy string, order []*filter.Plugin) *pipeline.Chain {
	t.Helper()
	eng, err := rules.NewEngineSource(rules.FSSource(fstest.MapFS{"p.yaml": {Data: []byte(policy)}}, "p.yaml"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pipeline.New(pipeline.Options{Engine: eng, SyncNumbers: true, Detectors: order})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}
