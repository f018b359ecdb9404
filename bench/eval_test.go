package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"

	"github.com/smsfw/smsfw/bench/corpus"
	"github.com/smsfw/smsfw/deploy"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/smpp/pdu"
)

var (
	sampleOnce   sync.Once
	sampleReport *EvalReport
	sampleMsgs   []corpus.Message
	sampleErr    error
)

// evalSample runs the CI sample once for the tests that read it: the
// shipped policy with the operator's knowledge, compressed.
func evalSample(t *testing.T) (*EvalReport, []corpus.Message) {
	t.Helper()
	sampleOnce.Do(func() {
		if sampleMsgs, sampleErr = corpus.Load("corpus/sample.jsonl"); sampleErr != nil {
			return
		}
		sampleReport, sampleErr = Eval{Corpus: sampleMsgs, CorpusName: "corpus/sample.jsonl", Operator: "corpus/operator.yaml",
			Compressed: true}.Run(context.Background())
	})
	if sampleErr != nil {
		t.Fatal(sampleErr)
	}
	return sampleReport, sampleMsgs
}

// The sample through smsfw: every request answered, every message
// inspected and given one outcome, and the report's counts add up.
func TestEvalSample(t *testing.T) {
	rep, msgs := evalSample(t)
	var out bytes.Buffer
	rep.WriteTable(&out)
	t.Log("\n" + out.String())
	tot := rep.Totals
	if tot.Unanswered != 0 {
		t.Errorf("%d messages unanswered", tot.Unanswered)
	}
	if tot.Messages != len(msgs) || len(rep.Outcome) != len(msgs) {
		t.Fatalf("%d messages scored, %d outcomes, corpus has %d", tot.Messages, len(rep.Outcome), len(msgs))
	}
	if tot.Inspected != len(msgs) {
		t.Errorf("%d of %d messages inspected (verdicts not attributed?)", tot.Inspected, len(msgs))
	}
	known := []string{EvalPassed, EvalFlagged, EvalRejected, EvalRefused, EvalDropped, EvalQuarantined, EvalThrottled}
	want := map[string]*EvalScenario{}
	var legit, fraud, grey, legitStopped, legitFlagged, caught int
	for i, o := range rep.Outcome {
		m := &msgs[i]
		if !slices.Contains(known, o) {
			t.Errorf("line %d: outcome %q", i+1, o)
		}
		s := want[m.Scenario]
		if s == nil {
			s = &EvalScenario{Name: m.Scenario, Label: m.Label, Outcomes: map[string]int{}}
			want[m.Scenario] = s
		}
		s.Count++
		s.Outcomes[o]++
		stopped := Stopped(o)
		switch {
		case m.Label == corpus.Legit:
			legit++
			legitStopped += b2i(stopped)
			legitFlagged += b2i(o == EvalFlagged)
		case m.Label == corpus.GreyRoute:
			fraud++
			grey++
			caught += b2i(stopped || o == EvalFlagged)
		default:
			fraud++
			caught += b2i(stopped)
		}
	}
	if len(rep.Results) != len(want) {
		t.Errorf("%d scenarios in the report, %d in the corpus", len(rep.Results), len(want))
	}
	sum := 0
	for _, s := range rep.Results {
		w := want[s.Name]
		if w == nil {
			t.Errorf("scenario %s is not in the corpus", s.Name)
			continue
		}
		sum += s.Count
		if s.Count != w.Count || s.Label != w.Label {
			t.Errorf("%s: count %d label %s, corpus %d %s", s.Name, s.Count, s.Label, w.Count, w.Label)
		}
		if s.Stopped+s.Flagged+s.Passed+s.Unanswered != s.Count {
			t.Errorf("%s: stopped %d + flagged %d + passed %d + unanswered %d != %d", s.Name, s.Stopped, s.Flagged, s.Passed,
				s.Unanswered, s.Count)
		}
		n := 0
		for o, c := range s.Outcomes {
			n += c
			if c != w.Outcomes[o] {
				t.Errorf("%s: %d %s, the outcomes say %d", s.Name, c, o, w.Outcomes[o])
			}
		}
		if n != s.Count {
			t.Errorf("%s: outcomes add up to %d, not %d", s.Name, n, s.Count)
		}
		rules := 0
		for _, c := range s.Rules {
			rules += c
		}
		if rules != s.Stopped+s.Flagged {
			t.Errorf("%s: rules name %d messages, %d were stopped or flagged", s.Name, rules, s.Stopped+s.Flagged)
		}
	}
	if sum != len(msgs) {
		t.Errorf("scenarios add up to %d messages, not %d", sum, len(msgs))
	}
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"legit", tot.Legit, legit}, {"fraud", tot.Fraud, fraud}, {"grey route", tot.GreyRoute, grey},
		{"legit stopped", tot.LegitStopped, legitStopped}, {"legit flagged", tot.LegitFlagged, legitFlagged},
		{"caught", tot.Caught, caught},
	} {
		if c.got != c.want {
			t.Errorf("totals: %s %d, the outcomes say %d", c.name, c.got, c.want)
		}
	}
	fp := 0
	for _, g := range rep.FalsePositives {
		fp += g.Count
		if g.Example.Line < 1 || msgs[g.Example.Line-1].Label != corpus.Legit {
			t.Errorf("false positive group %+v: example is not a legitimate message", g)
		}
	}
	if fp > legitStopped+legitFlagged {
		t.Errorf("false positive groups hold %d messages, only %d legitimate ones were stopped or flagged", fp,
			legitStopped+legitFlagged)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// HeldoutCaughtFloor is the fraud caught on the held-out corpus that the
// shipped policy must not fall below: the 98% target, met there
// since the lure detector (98.88%, docs/evaluation.md).
const HeldoutCaughtFloor = TargetCaughtPct

// The targets on the two corpora, played whole through smsfw with the
// shipped policy and the operator's knowledge (about 15 s each with -race):
// the tuning corpus meets every target; the held-out one, never tuned on,
// meets the legitimate-traffic targets and the fraud floor.
func TestEvalTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("plays 52,000 messages")
	}
	for _, tc := range []struct {
		corpus string
		caught float64
	}{
		{"corpus/tuning.jsonl", TargetCaughtPct},
		{"corpus/heldout.jsonl", HeldoutCaughtFloor},
	} {
		t.Run(filepath.Base(tc.corpus), func(t *testing.T) {
			msgs, err := corpus.Load(tc.corpus)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Eval{Corpus: msgs, CorpusName: tc.corpus, Operator: "corpus/operator.yaml", Compressed: true}.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			tot := rep.Totals
			figures := strings.Join([]string{
				"fraud caught " + pctf(tot.CaughtPct) + fmt.Sprintf(" (want >= %g%%)", tc.caught),
				"legit stopped " + pctf(tot.LegitStoppedPct) + " (target <= 0.1%)",
				"legit flagged " + pctf(tot.LegitFlaggedPct) + " (target <= 1%)",
			}, ", ")
			t.Log(figures)
			if tot.Unanswered != 0 {
				t.Errorf("%d unanswered", tot.Unanswered)
			}
			if tot.CaughtPct < tc.caught {
				t.Errorf("fraud caught %.2f%% < %g%%", tot.CaughtPct, tc.caught)
			}
			if tot.LegitStoppedPct > TargetLegitStoppedPct {
				t.Errorf("legit stopped %.2f%% > %g%%", tot.LegitStoppedPct, TargetLegitStoppedPct)
			}
			if tot.LegitFlaggedPct > TargetLegitFlaggedPct {
				t.Errorf("legit flagged %.2f%% > %g%%", tot.LegitFlaggedPct, TargetLegitFlaggedPct)
			}
			if t.Failed() {
				var out bytes.Buffer
				rep.WriteTable(&out)
				t.Log("\n" + out.String())
			}
		})
	}
}

func pctf(p float64) string { return fmt.Sprintf("%.2f%%", p) }

func TestEvalOutcome(t *testing.T) {
	for _, c := range []struct {
		name string
		dir  string
		st   evalState
		want string
	}{
		{"allowed", corpus.MT, evalState{segs: 1, answered: 1, inspected: true}, EvalPassed},
		{"flagged", corpus.MT, evalState{segs: 2, answered: 2, verdict: filter.Verdict{Action: filter.Flag}}, EvalFlagged},
		{"rejected", corpus.MT, evalState{segs: 1, answered: 1, status: 0x45, verdict: filter.Verdict{Action: filter.Reject}}, EvalRejected},
		{"refused MO", corpus.MO, evalState{segs: 1, answered: 1, status: 0x66, verdict: filter.Verdict{Action: filter.Reject}}, EvalRefused},
		{"dropped", corpus.MT, evalState{segs: 1, answered: 1, verdict: filter.Verdict{Action: filter.Drop}}, EvalDropped},
		{"quarantined without a store", corpus.MT, evalState{segs: 1, answered: 1, status: 0x45, verdict: filter.Verdict{Action: filter.Quarantine}}, EvalQuarantined},
		{"quarantined", corpus.MT, evalState{segs: 1, answered: 1, verdict: filter.Verdict{Action: filter.Quarantine}}, EvalQuarantined},
		{"throttled", corpus.MT, evalState{segs: 1, answered: 1, status: pdu.StatusThrottled, verdict: filter.Verdict{Action: filter.Throttle}}, EvalThrottled},
		{"throttled before inspection", corpus.MT, evalState{segs: 1, answered: 1, status: pdu.StatusThrottled}, EvalThrottled},
		{"one part unanswered", corpus.MT, evalState{segs: 3, answered: 2}, EvalUnanswered},
		{"connection lost", corpus.MT, evalState{segs: 1, answered: 1, failed: true}, EvalUnanswered},
		{"never sent", corpus.MO, evalState{}, EvalUnanswered},
	} {
		if got := c.st.outcome(c.dir); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestMergeFragment(t *testing.T) {
	const policy = `version: 1
default: allow
detectors:
  campaign: {window: 10m, distinct_senders: 10}
lists:
  brands: {type: keywords, items: [paypal]}
  premium: {type: prefixes, items: ["44900"]}
sender_registry:
  - {sender: PayPal, peers: [paypal-gw]}
rules:
  - {id: r, when: det.keyword, action: block}
`
	for _, c := range []struct {
		name, frag, err string
		check           func(t *testing.T, p map[string]any)
	}{
		{name: "lists, registry and detectors", frag: `
lists:
  brands: {type: keywords, items: [dhl]}
  short-codes: {type: senders, items: ["8844"]}
sender_registry:
  - {sender: PAYPAL, peers: [agg-a, paypal-gw]}
  - {sender: DHL, peers: [dhl-gw]}
detectors:
  campaign: {distinct_senders: 25}
`, check: func(t *testing.T, p map[string]any) {
			lists := p["lists"].(map[string]any)
			if got := lists["brands"].(map[string]any)["items"]; !slices.Equal(got.([]any), []any{"paypal", "dhl"}) {
				t.Errorf("brands %v", got)
			}
			if lists["short-codes"] == nil || lists["premium"] == nil {
				t.Errorf("lists %v", lists)
			}
			reg := p["sender_registry"].([]any)
			if len(reg) != 2 || !slices.Equal(reg[0].(map[string]any)["peers"].([]any), []any{"paypal-gw", "agg-a"}) {
				t.Errorf("registry %v", reg)
			}
			camp := p["detectors"].(map[string]any)["campaign"].(map[string]any)
			if camp["distinct_senders"] != 25 || camp["window"] != "10m" {
				t.Errorf("campaign %v", camp)
			}
			if len(p["rules"].([]any)) != 1 {
				t.Errorf("rules %v", p["rules"])
			}
		}},
		{name: "rules are the policy's", frag: "lists: {}\nrules: []\n", err: "op.yaml:2: \"rules\": an operator fragment has only"},
		{name: "type mismatch", frag: "lists:\n  brands: {type: domains, items: [x.com]}\n", err: `op.yaml:2: list "brands" is of type keywords in the policy, domains in the fragment`},
		{name: "list file", frag: "lists:\n  more: {type: keywords, file: more.txt}\n", err: `list "more": give a fragment's items inline`},
		{name: "registry shape", frag: "sender_registry:\n  - peers: [a]\n", err: "op.yaml:2: sender_registry[0]: want {sender, peers}"},
		{name: "not a mapping", frag: "- a\n", err: "op.yaml:1: want a mapping"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := mergeFragment([]byte(policy), "op.yaml", []byte(c.frag))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var p map[string]any
			if err := yaml.Unmarshal(out, &p); err != nil {
				t.Fatal(err)
			}
			c.check(t, p)
		})
	}
}

// The shipped policy with the shipped operator fragment compiles.
func TestEvalPolicyCompiles(t *testing.T) {
	src, desc, err := evalPolicy("", "corpus/operator.yaml")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := rules.ParseSource(src)
	if err != nil {
		t.Fatalf("%s: %v", desc, err)
	}
	if snap.Lists["operator-short-codes"] == nil {
		t.Errorf("%s: the fragment's lists are missing", desc)
	}
	if _, err := deploy.Files.Open(deploy.DefaultPolicyPath); err != nil {
		t.Fatal(err)
	}
}

// --config: its settings and classes are used, its credentials, upstreams
// and listeners replaced; a corpus peer it lacks or classes differently is
// an error.
func TestEvalConfig(t *testing.T) {
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), 4)
	if err != nil {
		t.Fatal(err)
	}
	msgs := []corpus.Message{
		{Direction: corpus.MT, Peer: "acme", PeerClass: "a2p", Sender: "Shop", SenderTON: 5, Dest: "4915112345678", Text: "Your code is 123456", OffsetMS: 0, Label: corpus.Legit, Scenario: "otp"},
		{Direction: corpus.MT, Peer: "acme", PeerClass: "a2p", Sender: "PAYPA1", SenderTON: 5, Dest: "4915112345679", Text: "Verify now", OffsetMS: 10, Label: corpus.Fraud, Scenario: "lookalike"},
		{Direction: corpus.MO, Peer: "acme", PeerClass: "a2p", Sender: "4915112345670", SenderTON: 1, SenderNPI: 1, Dest: "8844", Text: "STOP", OffsetMS: 20, Label: corpus.Legit, Scenario: "stop"},
	}
	for _, c := range []struct{ name, cfg, err string }{
		{"ok", "listen: 127.0.0.1:1\nupstreams:\n  s: {address: 10.0.0.1:2775}\nsegment_timeout: 2s\npeers:\n  - {system_id: acme, password_hash: \"" + string(hash) + "\", class: a2p, allowed_cidrs: [10.0.0.0/8]}\n", ""},
		{"missing peer", "upstreams:\n  s: {address: 10.0.0.1:2775}\npeers:\n  - {system_id: other, password: x, class: a2p}\n", "has no peers acme of the corpus"},
		{"other class", "upstreams:\n  s: {address: 10.0.0.1:2775}\npeers:\n  - {system_id: acme, password: x, class: p2p}\n", `peer acme has class "p2p", the corpus says "a2p"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".yaml")
			if err := os.WriteFile(path, []byte(c.cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			rep, err := Eval{Corpus: msgs, CorpusName: "inline", Config: path, Compressed: true}.Run(context.Background())
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rep.Totals.Unanswered != 0 || rep.Totals.Inspected != len(msgs) {
				t.Fatalf("totals %+v", rep.Totals)
			}
			if got := rep.Outcome; got[0] != EvalPassed || got[1] != EvalRejected || got[2] != EvalPassed {
				t.Errorf("outcomes %v, want passed, rejected (lookalike), passed (opt-out)", got)
			}
		})
	}
}

func TestEvalCorpusPeerClasses(t *testing.T) {
	msgs := []corpus.Message{
		{Direction: corpus.MT, Peer: "acme", PeerClass: "a2p", Sender: "Shop", SenderTON: 5, Dest: "1", Text: "a", Label: corpus.Legit, Scenario: "x"},
		{Direction: corpus.MT, Peer: "acme", PeerClass: "p2p", Sender: "Shop", SenderTON: 5, Dest: "1", Text: "a", Label: corpus.Legit, Scenario: "x"},
	}
	_, err := Eval{Corpus: msgs, CorpusName: "c.jsonl", Compressed: true}.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "c.jsonl line 2: peer acme is p2p here, a2p on an earlier line") {
		t.Fatalf("error %v", err)
	}
}
