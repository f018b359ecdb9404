package pipeline_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/pipeline"
	"github.com/smsfw/smsfw/mo/action"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// A rule's actions are handed over for the MO messages it decides: not
// for MT, not when an earlier rule or a rate limit decides, not for
// Explain (the console's and `rules test`'s dry runs).
func TestRuleActionsHandedOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(path, []byte(`version: 1
default: allow
rules:
  - id: spam
    when: msg.text contains "casino"
    action: block
  - id: opt-out
    direction: mo
    when: msg.text_norm contains "stop"
    action: allow
    actions:
      reply: {text: "Bye", from: "80080"}
limits:
  - {id: per-sender, key: sender, rate: 0.001, burst: 2, direction: mo}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	eng, err := rules.NewEngine(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []action.Trigger
	c, err := pipeline.New(pipeline.Options{Engine: eng, SyncNumbers: true, Actions: func(tr action.Trigger) { got = append(got, tr) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	req := func(dir filter.Direction, from, text string) *filter.Request {
		var m pdu.Message
		if err := pdu.ParseMessage(mt(from, "80080", text), &m); err != nil {
			t.Fatal(err)
		}
		return &filter.Request{Direction: dir, Peer: "acme", Msg: &m, Time: time.Now().UnixNano()}
	}
	cases := []struct {
		dir        filter.Direction
		from, text string
		rule       string
		handed     bool
	}{
		{filter.MO, "4917600000001", "STOP", "opt-out", true},
		{filter.MT, "4917600000001", "STOP", "", false},            // the rule is MO only
		{filter.MO, "4917600000002", "stop casino", "spam", false}, // an earlier rule decides
		{filter.MO, "4917600000001", "STOP", "opt-out", true},
		{filter.MO, "4917600000001", "STOP", "per-sender", false}, // the rate limit decides
	}
	for i, tc := range cases {
		before := len(got)
		v, _ := c.Inspect(req(tc.dir, tc.from, tc.text))
		if v.RuleID != tc.rule || (len(got) > before) != tc.handed {
			t.Fatalf("case %d: rule %q, handed %v", i, v.RuleID, len(got) > before)
		}
	}
	if _, _, _, err := c.Explain(req(filter.MO, "4917600000009", "STOP")); err != nil || len(got) != 2 {
		t.Fatalf("explain handed actions over: %d %v", len(got), err)
	}
	tr := got[0]
	if s := fmt.Sprint(tr.Rule, tr.Peer, tr.Sender, tr.Dest, tr.Text, tr.Action); s != "opt-outacme491760000000180080STOPallow" ||
		tr.Actions == nil || tr.Actions.Reply.Text != "Bye" {
		t.Fatalf("trigger %+v", tr)
	}
}
