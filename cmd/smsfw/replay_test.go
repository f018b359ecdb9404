package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/app"
	"github.com/smsfw/smsfw/smpp/pdu"
	"github.com/smsfw/smsfw/store"
)

func TestReplay(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "events.db")
	policy := filepath.Join(dir, "candidate.yaml")
	if err := os.WriteFile(policy, []byte(`version: 1
default: allow
rules:
  - id: parcel-scam
    when: msg.text contains "parcel"
    action: block
`), 0o644); err != nil {
		t.Fatal(err)
	}
	raw := func(text string) [][]byte {
		return [][]byte{pdu.AppendSM(nil, pdu.SubmitSM, 1, &pdu.SMFields{SrcTON: 5, Src: "Shop", DstTON: 1, DstNPI: 1,
			Dst: "4915112345678", ShortMessage: []byte(text)})}
	}
	now := time.Now().UTC()
	evs := []*filter.Event{
		// Blocked by the live policy; the candidate lets it through.
		{ID: 1, Time: now.Add(-3 * time.Minute), Direction: "mt", Peer: "acme", Sender: "Shop", Action: "reject", RuleID: "spam-keyword", Text: "hello", Raw: raw("hello")},
		// A sample that went through; the candidate blocks it.
		{ID: 2, Time: now.Add(-2 * time.Minute), Direction: "mt", Peer: "acme", Sender: "Shop", Action: "allow", Sampled: true, Text: "your parcel is here", Raw: raw("your parcel is here")},
		// A monitor hit (went through) that stays allowed.
		{ID: 3, Time: now.Add(-time.Minute), Direction: "mt", Peer: "acme", Sender: "Shop", Action: "reject", Monitor: true, RuleID: "m", Text: "ok", Raw: raw("ok")},
		// Masked text: nothing to replay.
		{ID: 4, Time: now.Add(-time.Minute), Direction: "mt", Peer: "acme", Sender: "Shop", Action: "reject", RuleID: "x", TextMasked: true},
		// Older than --since.
		{ID: 5, Time: now.Add(-48 * time.Hour), Direction: "mt", Peer: "acme", Sender: "Shop", Action: "allow", Raw: raw("parcel")},
	}
	ctx := context.Background()
	st, err := store.Open(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Insert(ctx, evs); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()

	var out, errb bytes.Buffer
	if err := replayCmd([]string{"--rules", policy, "--db", db, "--format", "json"}, &out, &errb); err != nil {
		t.Fatalf("%v: %s", err, errb.String())
	}
	var sum app.ReplaySummary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Events != 4 || sum.Replayed != 3 || sum.SkippedRaw != 1 || sum.Changed != 2 || sum.Unchanged != 1 {
		t.Fatalf("summary %+v", sum)
	}
	if sum.Transitions["reject -> allow"] != 1 || sum.Transitions["allow -> reject"] != 1 {
		t.Fatalf("transitions %v", sum.Transitions)
	}
	if c := sum.Changes[1]; c.ID != 2 || c.NowRule != "parcel-scam" {
		t.Fatalf("changes %+v", sum.Changes)
	}

	out.Reset()
	if err := replayCmd([]string{"--rules", policy, "--db", db}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"4 events: 3 replayed, 1 unchanged, 2 changed", "allow -> reject", "reject (spam-keyword)", "reject (parcel-scam)"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestReplayBadArgs(t *testing.T) {
	for _, args := range [][]string{{}, {"--rules", "x.yaml"}, {"--rules", "x", "--db", "y", "--format", "xml"}, {"--rules", "x", "--db", "y", "--since", "yesterday"}} {
		var out, errb bytes.Buffer
		if err := replayCmd(args, &out, &errb); err == nil {
			t.Fatalf("%v: no error", args)
		}
	}
}
