package pipeline_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/smsfw/smsfw/bench/corpus"
	"github.com/smsfw/smsfw/deploy"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/pipeline"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/smpp/pdu"
	smstext "github.com/smsfw/smsfw/smpp/text"
)

// shippedWithRules is the shipped default policy (its detector settings
// and lists) with its rules replaced by rulesYAML, without the sections
// named in drop.
func shippedWithRules(t testing.TB, rulesYAML string, drop ...string) *rules.Engine {
	t.Helper()
	files := fstest.MapFS{}
	err := fs.WalkDir(deploy.Files, "rules", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(deploy.Files, path)
		files[path] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(files["rules/default.yaml"].Data, &doc); err != nil {
		t.Fatal(err)
	}
	var rs []any
	if err := yaml.Unmarshal([]byte(rulesYAML), &rs); err != nil {
		t.Fatal(err)
	}
	doc["rules"] = rs
	for _, k := range drop {
		delete(doc, k)
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	files["rules/default.yaml"] = &fstest.MapFile{Data: out}
	eng, err := rules.NewEngineSource(rules.FSSource(files, "rules/default.yaml"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// The plan: which detectors run for a policy.
func TestDetectorsRunForPolicy(t *testing.T) {
	always := []string{"classification", "grey_route"}
	for _, tc := range []struct {
		name, rules string
		want        []string
	}{
		{"no rules", `[]`, always},
		{"facts only", `[{id: r, when: 'msg.sender == "X" && msg.text_norm contains "win"', action: block}]`, always},
		{"a finding", `[{id: r, when: det.keyword, action: block}]`, append(slices.Clone(always), "content")},
		{"monitor rules count", `[{id: r, when: det.sim_farm, action: block, mode: monitor}]`, append(slices.Clone(always), "sim_farm")},
		{"a detector's detector", `[{id: r, when: det.lure, action: block}]`, append(slices.Clone(always), "campaign", "lure")},
		{"a fact a detector sets", `[{id: r, when: msg.dest_premium, action: block}]`, append(slices.Clone(always), "pumping")},
		{"det as a whole", `[{id: r, when: det.Fired != 0, action: flag}]`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := pipeline.New(pipeline.Options{Engine: shippedWithRules(t, tc.rules)})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			want := tc.want
			if want == nil {
				for _, pl := range pipeline.Order {
					want = append(want, pl.Name)
				}
			}
			if got := c.Running(); !sameSet(got, want) {
				t.Errorf("running %v, want %v", got, want)
			}
		})
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// A detector run alone for a policy that reads only its findings finds
// exactly what it finds with every detector running: the plan's Uses and
// Sets declarations are complete (a detector reading another's findings or
// a fact another sets without declaring it would differ here). Played
// over part of the labelled tuning corpus with the shipped policy's
// settings.
func TestSkippedDetectorsChangeNothing(t *testing.T) {
	msgs, err := corpus.Load("../../bench/corpus/tuning.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	// The first hours (every MT scenario) and the hours of the MO SIM
	// farms: a third of the corpus, so that eight passes stay quick
	// under the race detector.
	if len(msgs) > 21400 {
		msgs = append(msgs[:3000:3000], msgs[16400:21400]...)
	}
	raws := make([][]byte, len(msgs))
	for i, m := range msgs {
		raws[i] = corpusPDU(m)
	}
	all := playFindings(t, `[{id: all, when: det.Fired != 0, action: flag, mode: monitor}]`, msgs, raws)
	for _, pl := range pipeline.Order {
		if pl.Always {
			continue
		}
		var cond string
		for _, f := range filter.Findings() {
			if f.Owner == pl.Name {
				cond = map[filter.FindingKind]string{filter.KindFlag: "det.%s", filter.KindCount: "det.%s > 0",
					filter.KindAmount: "det.%s > 0", filter.KindText: `det.%s != ""`}[f.Kind]
				cond = fmt.Sprintf(cond, f.Name)
				break
			}
		}
		t.Run(pl.Name, func(t *testing.T) {
			alone := playFindings(t, fmt.Sprintf(`[{id: one, when: '%s', action: flag, mode: monitor}]`, cond), msgs, raws)
			fired := 0
			for i := range msgs {
				if alone[i][pl.Name] != all[i][pl.Name] {
					t.Fatalf("message %d (%s, %q): alone %q, with every detector %q", i, msgs[i].Scenario, msgs[i].Text,
						alone[i][pl.Name], all[i][pl.Name])
				}
				if strings.Contains(alone[i][pl.Name], "=true") {
					fired++
				}
			}
			t.Logf("%s: %d of %d messages with a flag raised, the same either way", pl.Name, fired, len(msgs))
		})
	}
}

// playFindings inspects msgs in order with the shipped policy's settings
// and rulesYAML, and returns each message's findings by detector.
func playFindings(t *testing.T, rulesYAML string, msgs []corpus.Message, raws [][]byte) []map[string]string {
	c, err := pipeline.New(pipeline.Options{Engine: shippedWithRules(t, rulesYAML), SyncNumbers: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).UnixNano()
	out := make([]map[string]string, len(msgs))
	var m pdu.Message
	for i, cm := range msgs {
		if err := pdu.ParseMessage(raws[i], &m); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		dir := filter.MT
		if cm.Direction == corpus.MO {
			dir = filter.MO
		}
		_, _, det, err := c.Explain(&filter.Request{Direction: dir, Peer: cm.Peer, PeerClass: cm.PeerClass, SystemID: cm.Peer,
			Msg: &m, Time: start + cm.OffsetMS*int64(time.Millisecond)})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = map[string]string{}
		for _, pl := range pipeline.Order {
			var b strings.Builder
			det.Each(pl.Name, func(f filter.Finding, v any) { fmt.Fprintf(&b, "%s=%v ", f.Name, v) })
			out[i][pl.Name] = b.String()
		}
	}
	return out
}

// corpusPDU is a corpus message as a submit_sm (MT) or deliver_sm (MO),
// its text in UCS-2 in message_payload (any script, any length).
func corpusPDU(m corpus.Message) []byte {
	tlv := pdu.AppendTLV(nil, pdu.TagMessagePayload, smstext.EncodeUCS2(nil, m.Text))
	id := pdu.SubmitSM
	if m.Direction == corpus.MO {
		id = pdu.DeliverSM
	}
	return pdu.AppendSM(nil, id, 1, &pdu.SMFields{SrcTON: byte(m.SenderTON), SrcNPI: byte(m.SenderNPI), Src: m.Sender,
		DstTON: 1, DstNPI: 1, Dst: m.Dest, DataCoding: 8, TLVs: tlv})
}

// BenchmarkPipelinePlan is the allow path (new OTP texts and numbers) with
// the shipped policy's detector settings and lists, under two rule sets:
// "every-detector" reads every detector's findings, "sender-rules" only
// facts (a sender block and a text rule), so only classification and the
// grey-route check run (the per-sender limits are left out: one sender
// sends them all). The difference is what a policy pays for the
// detectors it does not use when they are not skipped.
func BenchmarkPipelinePlan(b *testing.B) {
	for _, bc := range []struct{ name, rules string }{
		{"every-detector", `[{id: all, when: det.Fired != 0, action: flag, mode: monitor}]`},
		{"sender-rules", `[{id: spoof, when: 'msg.sender in ["PAYPA1", "DHL-INFO"]', action: block},
			{id: win, when: 'msg.text_norm contains "you have won"', action: block}]`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, err := pipeline.New(pipeline.Options{Engine: shippedWithRules(b, bc.rules, "limits")})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			s := newMessageStream(b, stageTexts[0].text, stageTexts[0].code)
			for i := range 1000 {
				_, _ = c.Inspect(s.next(1_000_000_000 - i))
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			for i := 0; i < b.N; i++ {
				if v, _ := c.Inspect(s.next(i)); v.Action != filter.Allow {
					b.Fatalf("got %v (%s)", v.Action, v.RuleID)
				}
			}
			reportCPU(b, cpu)
		})
	}
}

// A skipped detector's observer still observes: after a reload whose rules
// start reading the fake-receipt finding, the receipt of a message the
// SMSC accepted before the reload is genuine, not forged.
func TestSkippedObserverKeepsObserving(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	write := func(rules string) {
		if err := os.WriteFile(path, []byte("version: 1\ndefault: allow\nrules:\n"+rules), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("  - {id: spoof, when: 'msg.sender == \"PAYPA1\"', action: block}\n")
	eng, err := rules.NewEngine(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pipeline.New(pipeline.Options{Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if slices.Contains(c.Running(), "receipts") {
		t.Fatalf("receipts runs for a policy that does not read it: %v", c.Running())
	}
	now := time.Now()
	c.Accepted("acme", []byte("4711"), now.UnixNano())

	write("  - {id: fake-receipt, direction: mo, when: det.fake_receipt, action: block}\n")
	if err := eng.Reload(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id   string
		want filter.Action
	}{{"4711", filter.Allow}, {"4712", filter.Reject}} {
		raw := pdu.AppendReceipt(nil, 1, &pdu.Receipt{MessageID: tc.id, State: pdu.StateDelivered, SrcTON: 1, SrcNPI: 1,
			Src: "4915100000001", DstTON: 5, Dst: "Shop", Submitted: now, Done: now})
		var m pdu.Message
		if err := pdu.ParseMessage(raw, &m); err != nil {
			t.Fatal(err)
		}
		v, err := c.Inspect(&filter.Request{Direction: filter.MO, Peer: "acme", Msg: &m, Time: now.UnixNano()})
		if err != nil || v.Action != tc.want {
			t.Errorf("receipt for %s: %v (%s) %v, want %v", tc.id, v.Action, v.RuleID, err, tc.want)
		}
	}
}
