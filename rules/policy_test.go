package rules

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/smsfw/smsfw/filter"
)

func TestInvalidPolicies(t *testing.T) {
	cases := map[string]string{
		"invalid-unknown-key.yaml":           "testdata/invalid-unknown-key.yaml:7: field colour not found in type rules.RuleSpec",
		"invalid-bad-regex.yaml":             "testdata/invalid-bad-regex.yaml:6: list \"bad\": error parsing regexp: missing closing ): `(unclosed`",
		"invalid-duplicate-id.yaml":          "testdata/invalid-duplicate-id.yaml:7: rule \"a\": duplicate id (also rules[0])",
		"invalid-unknown-list.yaml":          "testdata/invalid-unknown-list.yaml:5: rule \"a\": unknown list \"nowhere\"",
		"invalid-unknown-detector-list.yaml": "testdata/invalid-unknown-detector-list.yaml:5: unknown list \"missing\"",
		"invalid-unknown-field.yaml":         "testdata/invalid-unknown-field.yaml:5: rule \"a\": unknown finding det.nonsense (docs/policy.md lists the findings)",
		"invalid-action.yaml":                "testdata/invalid-action.yaml:6: rule \"a\": action must be allow, block, drop, throttle, flag or quarantine, not \"explode\"",
		"invalid-default.yaml":               "testdata/invalid-default.yaml:2: default must be allow or flag, not \"block\"",
		"invalid-status.yaml":                "testdata/invalid-status.yaml:7: rule \"a\": status \"0xZZ\" is not a number (e.g. 0x45)",
		"invalid-list-type.yaml":             "testdata/invalid-list-type.yaml:9: rule \"a\": matches_any needs a regexes list, \"kw\" is keywords",
		"invalid-limit-key.yaml":             "testdata/invalid-limit-key.yaml:5: limit \"l\": key must be peer, sender, destination or sender_destination",
		"invalid-version.yaml":               "testdata/invalid-version.yaml:1: version must be 1",
		"invalid-tariff.yaml":                "testdata/invalid-tariff.yaml:4: tariffs: price for a2p/default must be a finite number >= 0, not +Inf",
		"invalid-syntax-expr.yaml":           "testdata/invalid-syntax-expr.yaml:5: rule \"a\": unexpected token EOF (1:14)",
		"invalid-list-file-item.yaml":        "testdata/invalid-prefixes.txt:3: list \"nums\": \"4915x\" is not a digit prefix or a from-to range",
		"invalid-receipt.yaml":               "testdata/invalid-receipt.yaml:7: rule \"a\": receipt only goes with drop",
		"invalid-mode.yaml":                  "testdata/invalid-mode.yaml:7: rule \"a\": mode must be enforce or monitor, not \"shadow\"",
		"invalid-memory.yaml":                "testdata/invalid-memory.yaml:6: memory.campaign 1000 outside [64KiB, 1024GiB]",
		"invalid-memory-size.yaml":           "testdata/invalid-memory-size.yaml:5: byte size \"lots\": want an integer or a number with B, KiB, MiB or GiB",
		"invalid-actions-direction.yaml":     "testdata/invalid-actions-direction.yaml:7: rule \"stop\": actions need direction: mo (they answer and report MO messages)",
		"invalid-actions-email.yaml":         "testdata/invalid-actions-email.yaml:10: rule \"desk\": actions.email.to: \"not an address\": mail: no angle-addr",
		"invalid-actions-empty.yaml":         "testdata/invalid-actions-empty.yaml:8: rule \"desk\": actions: no action: set reply, webhook or email",
		"invalid-actions-monitor.yaml":       "testdata/invalid-actions-monitor.yaml:9: rule \"stop\": actions do not go with mode: monitor (a monitor rule does nothing)",
		"invalid-actions-per-route.yaml":     "testdata/invalid-actions-per-route.yaml:9: rule \"stop\": actions.reply.per_route: per_route is for mo_routes; a rule takes per_rule",
		"invalid-actions-reply-text.yaml":    "testdata/invalid-actions-reply-text.yaml:9: rule \"stop\": actions.reply.text: want a text of one SMS (160 GSM characters, 70 others), not \"\"",
		"invalid-actions-secret.yaml":        "testdata/invalid-actions-secret.yaml:11: rule \"tickets\": actions.webhook.secret_file: open testdata/no-such.key: no such file or directory",
		"invalid-actions-unknown.yaml":       "testdata/invalid-actions-unknown.yaml:9: field sms not found in type action.Actions",
		"invalid-actions-webhook-url.yaml":   "testdata/invalid-actions-webhook-url.yaml:10: rule \"tickets\": actions.webhook.url: want an http:// or https:// URL, not \"ftp://tickets.example/smsfw\"",
	}
	files, _ := filepath.Glob("testdata/invalid-*.yaml")
	if len(files) != len(cases) {
		t.Fatalf("%d files, %d cases", len(files), len(cases))
	}
	for _, f := range files {
		want, ok := cases[filepath.Base(f)]
		if !ok {
			t.Fatalf("no expectation for %s", f)
		}
		_, err := ParseFile(f)
		if err == nil {
			t.Errorf("%s: no error", f)
			continue
		}
		if err.Error() != want {
			t.Errorf("%s:\n got %s\nwant %s", f, err, want)
		}
		if !errors.Is(err, ErrPolicy) {
			t.Errorf("%s: not ErrPolicy: %T", f, err)
		}
	}
}

func TestShippedPolicies(t *testing.T) {
	s, err := ParseFile("../deploy/rules/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Rules) < 10 || len(s.Limits) < 1 || s.Default.Action != filter.Allow {
		t.Fatalf("%d rules", len(s.Rules))
	}
}

// The native evaluator agrees with the expr VM on every rule of the shipped
// policy, over a spread of facts and findings.
func TestNativeMatchesVM(t *testing.T) {
	s, err := ParseFile("../deploy/rules/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	extra := `version: 1
default: allow
lists:
  s: {type: senders, items: [Shop, PayPal]}
  d: {type: domains, items: [evil.com]}
  p: {type: prefixes, items: ["4490"]}
  k: {type: keywords, items: [win]}
  r: {type: regexes, items: ['(?i)code \d+']}
rules:
  - {id: a, when: 'in_list(msg.sender, "s") && !det.keyword', action: flag}
  - {id: b, when: 'in_list(msg.domain, "d") || in_list(msg.dest, "p")', action: flag}
  - {id: c, when: 'contains_any(msg.text_norm, "k") or matches_any(msg.text, "r")', action: flag}
  - {id: d, when: 'msg.segments >= 2 && msg.url_count < 3 && det.leakage_amount > 0.01', action: flag}
  - {id: e, when: 'msg.sender_kind != "number" and det.premium_burst > 5', action: flag}
  - {id: f, when: 'msg.sender < "M" && msg.dcs == 8', action: flag}
  - {id: g, when: 'len(msg.text) > 10', action: flag}
  - {id: h, when: 'msg.sender in ["Shop", "PAYPAL"] || msg.segments in [3, 4]', action: flag}
  - {id: i, when: 'msg.sender not in ["Shop"] && msg.text_norm contains "win"', action: flag}
  - {id: j, when: 'msg.text startsWith "Your" || msg.dest endsWith "001" || det.lure_kind contains "theft"', action: flag}
  - {id: k, when: '"p2p" == msg.class || msg.direction != "mo" && msg.sender_kind == "number"', action: flag}
  - {id: l, when: 'msg.sender == "Shop" && det.lure_kind != "code_theft"', action: flag}
`
	s2, err := Parse("extra.yaml", []byte(extra))
	if err != nil {
		t.Fatal(err)
	}
	if s2.Rules[6].native != nil {
		t.Fatal("len() should run on the VM")
	}
	for _, r := range s2.Rules[7:] {
		if r.native == nil {
			t.Errorf("rule %s runs on the VM", r.ID)
		}
	}
	facts := []filter.Facts{
		{Sender: "Shop", SenderKind: "alphanumeric", Text: "Your code 1234", Norm: "your code 1234", Segments: 1, Class: "a2p", Direction: "mt"},
		{Sender: "4917600000", SenderKind: "number", Dest: "449001", Text: "you win", Norm: "you win", Segments: 3, URLCount: 1, FirstDomain: "evil.com", DataCoding: 8, Class: "p2p", Direction: "mt"},
		{Sender: "PAYPAL", SenderKind: "alphanumeric", Text: "", Direction: "mo", Class: "mo", Receipt: true},
		{Sender: "Other", SenderKind: "alphanumeric", Text: "a win", Norm: "a win", Dest: "4917", Segments: 1, Direction: "mt"},
	}
	dets := []filter.Detections{{}, filter.Found("keyword", true, "leakage_amount", 0.5, "premium_burst", 9, "grey_route", true),
		filter.Found("fake_receipt", true, "phishing", true, "campaign", true, "sim_farm", true, "pumping", true, "fanout", true,
			"lure_kind", "code_theft")}
	var v vm.VM
	for _, snap := range []*Snapshot{s, s2} {
		for _, r := range snap.Rules {
			if r.native == nil {
				continue
			}
			for i := range facts {
				for j := range dets {
					env := &Env{Msg: &facts[i], Det: &dets[j]}
					want, err := v.Run(r.prog, env)
					if err != nil {
						t.Fatal(err)
					}
					if got := r.native(env).b; got != want.(bool) {
						t.Errorf("rule %s facts %d det %d: native %v, vm %v", r.ID, i, j, got, want)
					}
				}
			}
		}
	}
}

// A message with no finding fired is evaluated over the rules that need
// none: the same decisions as over every rule.
func TestEvaluateWithoutFindings(t *testing.T) {
	s, err := ParseFile("../deploy/rules/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !s.bareReady || len(s.bare) == 0 || len(s.bare) == len(s.Rules) {
		t.Fatalf("%d of %d rules need no finding", len(s.bare), len(s.Rules))
	}
	all := *s
	all.bareReady = false
	facts := []filter.Facts{
		{Sender: "Shop", SenderKind: "alphanumeric", Text: "Your code 1234", Norm: "your code 1234", Segments: 1, Class: "a2p", Direction: "mt"},
		{Sender: "4917600000", SenderKind: "number", Dest: "449001", Text: "you win", Norm: "you win", Segments: 9, URLCount: 1, FirstDomain: "evil.com", DataCoding: 8, Class: "p2p", Direction: "mt"},
		{Sender: "PAYPAL", SenderKind: "alphanumeric", Direction: "mo", Class: "mo", Receipt: true},
	}
	var v vm.VM
	for i := range facts {
		for _, dir := range []filter.Direction{filter.MT, filter.MO} {
			det := filter.Detections{}
			var got, want Decision
			s.Evaluate(&v, &Env{Msg: &facts[i], Det: &det}, dir, &got)
			all.Evaluate(&v, &Env{Msg: &facts[i], Det: &det}, dir, &want)
			if got.Verdict != want.Verdict || got.Rule != want.Rule || !slices.Equal(got.Monitor, want.Monitor) {
				t.Errorf("facts %d %v: %+v, over every rule %+v", i, dir, got, want)
			}
		}
	}
}

func TestEngineReloadKeepsOldOnError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.yaml")
	good := "version: 1\ndefault: allow\nrules:\n  - {id: a, when: det.keyword, action: block}\n"
	if err := os.WriteFile(path, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := e.Snapshot()
	if err := os.WriteFile(path, []byte("version: 1\ndefault: allow\nrules: [{id: a, when: 'det.', action: block}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(); err == nil {
		t.Fatal("bad policy accepted")
	}
	if e.Snapshot() != first {
		t.Fatal("bad reload replaced the snapshot")
	}
	if v := gaugeValue(t, e.Metrics()); v != 0 {
		t.Fatalf("last_reload_successful = %v", v)
	}
	if err := os.WriteFile(path, []byte(good+"  - {id: b, when: det.regex, action: flag}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(); err != nil || len(e.Snapshot().Rules) != 2 {
		t.Fatalf("good reload: %v", err)
	}
	if v := gaugeValue(t, e.Metrics()); v != 1 {
		t.Fatalf("last_reload_successful = %v", v)
	}
	// A policy the program cannot serve (Check: rule actions without what
	// they need) is refused like a bad file.
	e.Check = func(s *Snapshot) error { return s.RuleError(s.Rules[0], "no smtp") }
	second := e.Snapshot()
	if err := e.Reload(); err == nil || err.Error() != path+`:4: rule "a": no smtp` || e.Snapshot() != second {
		t.Fatalf("refused reload: %v", err)
	}
}

func FuzzParsePolicy(f *testing.F) {
	if b, err := os.ReadFile("../deploy/rules/default.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("version: 1\ndefault: allow\nrules: [{id: a, when: 'det.keyword && msg.segments > 2', action: block, status: '0x45'}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if err == nil && s == nil {
			t.Fatal("nil snapshot without error")
		}
	})
}

func TestMemoryBudgets(t *testing.T) {
	s, err := Parse("p.yaml", []byte(`version: 1
default: allow
detectors:
  memory:
    total: 1GiB
    campaign: 100MiB
`))
	if err != nil {
		t.Fatal(err)
	}
	m := s.Memory
	var sum int64
	for _, w := range MemoryOwners() {
		sum += w
	}
	if sum != 100 {
		t.Fatalf("shares add up to %d%%", sum)
	}
	for o, want := range map[string]int64{
		"campaign":       100 << 20,     // its own
		"classification": (1 << 30) / 4, // 25% of the total
		RateLimitsOwner:  (1 << 30) / 5,
		"unknown":        0,
	} {
		if got := m.Budget(o); got != want {
			t.Errorf("Budget(%s) = %d, want %d", o, got, want)
		}
	}
	if got := (Memory{}).Budget("pumping"); got != int64(DefaultDetectorMemory)*5/100 {
		t.Errorf("default pumping budget %d", got)
	}
}

// A rule's actions compile: the webhook's secret file is read relative to
// the policy (in its source), the rule keeps its actions, the snapshot
// lists them.
func TestRuleActions(t *testing.T) {
	fsys := fstest.MapFS{
		"pol/policy.yaml": {Data: []byte(`version: 1
default: allow
rules:
  - id: opt-out
    direction: mo
    when: msg.text_norm == "stop"
    action: allow
    actions:
      reply: {text: "You will get no more messages from us.", from: "80080", per_sender: 24h, per_rule: 10}
      webhook: {url: "https://tickets.example.net/smsfw", secret_file: keys/tickets.key}
      email: {to: ["optout@example.net"], digest: 5m}
  - id: plain
    when: "true"
    action: allow
`)},
		"pol/keys/tickets.key": {Data: []byte("ticket-secret\n")},
	}
	s, err := ParseSource(FSSource(fsys, "pol/policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	a := s.Rules[0].Actions
	if a == nil || a.Reply.PerRule != 10 || a.Reply.PerSender != 24*time.Hour || string(a.Webhook.Secret()) != "ticket-secret" ||
		a.Webhook.SecretFile != "pol/keys/tickets.key" || a.Email.Digest != 5*time.Minute || s.Rules[1].Actions != nil {
		t.Fatalf("actions %+v", a)
	}
	if all := s.Actions(); len(all) != 1 || all["opt-out"] != a {
		t.Fatalf("snapshot actions %v", all)
	}
	if err := s.RuleError(s.Rules[0], "actions.email needs the smtp section"); err.Error() != `pol/policy.yaml:4: rule "opt-out": actions.email needs the smtp section` {
		t.Fatalf("rule error %q", err)
	}
}

// ReadsFact names the facts the rules read, and every fact when a rule
// uses msg otherwise than by a constant name.
func TestReadsFact(t *testing.T) {
	for _, tc := range []struct {
		when       string
		reads, not []string
	}{
		{`msg.sender_country == "DE"`, []string{"sender_country"}, []string{"sender_type", "dest_country"}},
		{`msg.words <= 3 && contains_any(msg.text_norm, "kw")`, []string{"words", "text_norm"}, []string{"sender_valid"}},
		{`det.keyword`, nil, []string{"sender_country", "words"}},
		{`msg["sender_type"] == "mobile"`, []string{"sender_type"}, []string{"sender_valid"}},
		{`msg != nil && det.keyword`, []string{"sender_valid", "sender_type"}, nil}, // msg as a whole: every fact
	} {
		s, err := Parse("p.yaml", []byte("version: 1\ndefault: allow\nlists:\n  kw: {type: keywords, items: [stop]}\nrules:\n  - id: r\n    when: '"+
			strings.ReplaceAll(tc.when, "'", "''")+"'\n    action: flag\n"))
		if err != nil {
			t.Fatalf("%s: %v", tc.when, err)
		}
		for _, n := range tc.reads {
			if !s.ReadsFact(n) {
				t.Errorf("%s: does not read %s", tc.when, n)
			}
		}
		for _, n := range tc.not {
			if s.ReadsFact(n) {
				t.Errorf("%s: reads %s", tc.when, n)
			}
		}
	}
	s, err := ParseFile("../deploy/rules/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"sender_country", "sender_type", "sender_valid"} {
		if s.ReadsFact(n) {
			t.Errorf("the default policy reads %s", n)
		}
	}
}

// Every msg.* accessor reads, through its offset, the value reflection
// reads from the field of that name (distinct values in every field).
func TestAccessorsMatchReflect(t *testing.T) {
	var f filter.Facts
	rv := reflect.ValueOf(&f).Elem()
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		fv := rv.Field(i)
		if !fv.CanSet() {
			continue
		}
		switch fv.Kind() {
		case reflect.Bool:
			fv.SetBool(i%2 == 0)
		case reflect.Int, reflect.Int32, reflect.Int64:
			fv.SetInt(int64(1000 + i))
		case reflect.Uint32, reflect.Uint64:
			fv.SetUint(uint64(2000 + i))
		case reflect.Float64:
			fv.SetFloat(float64(i) + 0.5)
		case reflect.String:
			fv.SetString(fmt.Sprintf("field-%d", i))
		}
	}
	env := &Env{Msg: &f, Det: &filter.Detections{}}
	n := 0
	for i := 0; i < rt.NumField(); i++ {
		sf := rt.Field(i)
		name := sf.Tag.Get("expr")
		a, ok := accessors["msg."+name]
		if !ok {
			continue
		}
		n++
		got := a.fn()(env)
		fv := rv.Field(i)
		var want val
		switch fv.Kind() {
		case reflect.Bool:
			want = val{k: kBool, b: fv.Bool()}
		case reflect.Int, reflect.Int32, reflect.Int64:
			want = val{k: kInt, n: float64(fv.Int())}
		case reflect.Uint32, reflect.Uint64:
			want = val{k: kInt, n: float64(fv.Uint())}
		case reflect.Float64:
			want = val{k: kFloat, n: fv.Float()}
		case reflect.String:
			want = val{k: kString, s: fv.String()}
		}
		if got != want {
			t.Errorf("msg.%s: got %+v, want %+v", name, got, want)
		}
	}
	if n < 30 {
		t.Fatalf("only %d accessors", n)
	}
}
