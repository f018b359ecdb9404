package bench

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// The shipped mix through smsfw with the shipped policy: each scenario ends
// the way the policy says it should. The thresholds are written here, not
// only in the file, so that loosening default.yaml cannot weaken the test.
func TestDefaultScenariosThroughDefaultPolicy(t *testing.T) {
	f, err := LoadScenarios("scenarios/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ScenarioRun{File: f, Duration: 3 * time.Second, Rate: 400}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.WriteTable(&out)
	t.Log("\n" + out.String())
	byName := map[string]ScenarioResult{}
	for _, r := range rep.Results {
		byName[r.Name] = r
		if r.Outcomes[OutLost] != 0 {
			t.Errorf("%s: %d lost", r.Name, r.Outcomes[OutLost])
		}
	}
	for _, c := range []struct {
		scenario, outcome string
		min               float64
		rule              string // a rule id that must have fired ("" none)
	}{
		{"otp", OutAccepted, 0.97, ""},
		{"notifications", OutAccepted, 0.97, ""},
		{"p2p-chat", OutAccepted, 0.95, ""},
		{"grey-route", OutFlagged, 0.95, "grey-route"},
		{"phishing", OutRejected, 0.9, "phishing-link"},
		{"pumping", OutDropped, 0.7, "sms-pumping"},
		{"long-messages", OutAccepted, 0.95, ""},
		{"mo-replies", OutDelivered, 0.95, ""},
		{"mo-opt-out", OutDelivered, 0.95, ""},
		{"sim-farm", OutRefused, 0.5, "mo-sim-farm"},
		{"receipts", OutDelivered, 0.95, ""},
		{"forged-receipts", OutRefused, 0.95, "fake-receipt"},
	} {
		r, ok := byName[c.scenario]
		if !ok {
			t.Errorf("%s: not in the report", c.scenario)
			continue
		}
		if r.Sent < 5 {
			t.Errorf("%s: only %d sent", c.scenario, r.Sent)
		}
		if got := r.Fraction(c.outcome); got < c.min {
			t.Errorf("%s: %s %.2f, want >= %.2f (%+v)", c.scenario, c.outcome, got, c.min, r)
		}
		if c.rule != "" && r.Rules[c.rule] == 0 {
			t.Errorf("%s: rule %s never fired (%v)", c.scenario, c.rule, r.Rules)
		}
	}
	if !rep.Met() {
		t.Errorf("expectations of default.yaml missed:\n%s", out.String())
	}
}

func TestParseScenariosErrors(t *testing.T) {
	const peers = "peers: [{system_id: acme, class: a2p}]\n"
	for _, c := range []struct{ name, yaml, want string }{
		{"unknown key", peers + "scenarios:\n  - {name: a, kind: mt, peer: acme, share: 1, senders: [X], destinations: ['#'], texts: [t], colour: red}\n", "x.yaml:3: field colour not found"},
		{"bad kind", peers + "scenarios:\n  - name: a\n    kind: sms\n", "x.yaml:4: scenario \"a\": kind \"sms\""},
		{"unknown peer", peers + "scenarios:\n  - name: a\n    kind: mt\n    peer: bob\n", "x.yaml:5: scenario \"a\": peer \"bob\" is not in peers"},
		{"no share", peers + "scenarios:\n  - {name: a, kind: mt, peer: acme, senders: [X], destinations: ['#'], texts: [t]}\n", "x.yaml:3: scenario \"a\": share must be positive"},
		{"bad pattern", peers + "scenarios:\n  - name: a\n    kind: mt\n    peer: acme\n    share: 1\n    senders: [X]\n    destinations: ['49{n:0}']\n    texts: [t]\n", "x.yaml:8: scenario \"a\": pattern \"49{n:0}\""},
		{"unbalanced", peers + "scenarios:\n  - name: a\n    kind: mt\n    peer: acme\n    share: 1\n    senders: [X]\n    destinations: ['1']\n    texts: ['{a|b']\n", "x.yaml:9: scenario \"a\": pattern \"{a|b\": '{' without '}'"},
		{"outcome of another kind", peers + "scenarios:\n  - name: a\n    kind: mo\n    peer: acme\n    share: 1\n    senders: ['1']\n    destinations: ['1']\n    texts: [t]\n    expect: {accepted: 0.9}\n", "x.yaml:10: scenario \"a\": outcome \"accepted\" is not one of a mo scenario's"},
		{"fraction", peers + "scenarios:\n  - name: a\n    kind: mt\n    peer: acme\n    share: 1\n    senders: ['1']\n    destinations: ['1']\n    texts: [t]\n    expect: {accepted: 95}\n", "x.yaml:10: scenario \"a\": expected fraction 95 outside (0, 1]"},
		{"bad class", "peers: [{system_id: acme, class: bulk}]\nscenarios: []\n", "x.yaml:1: peer class \"bulk\""},
		{"no scenarios", peers, "x.yaml: no scenarios"},
	} {
		_, err := ParseScenarios("x.yaml", []byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func TestExpand(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		pat  string
		n    uint64
		want func(string) bool
	}{
		{"49151####", 0, func(s string) bool { return len(s) == 9 && isDigits(s) && strings.HasPrefix(s, "49151") }},
		{"4917012{n:4}", 12345, func(s string) bool { return s == "49170122345" }},
		{"id {n}", 7, func(s string) bool { return s == "id 7" }},
		{"{a|b} x", 0, func(s string) bool { return s == "a x" || s == "b x" }},
	} {
		if got := expand(c.pat, rng, c.n); !c.want(got) {
			t.Errorf("expand(%q, %d) = %q", c.pat, c.n, got)
		}
	}
}

// Long texts leave as UDH segments of at most 153 septets (67 UCS-2
// characters), each tagged with the scenario.
func TestBuildMTSegments(t *testing.T) {
	for _, c := range []struct {
		text  string
		parts int
	}{
		{strings.Repeat("a", 160), 1},
		{strings.Repeat("a", 161), 2},
		{strings.Repeat("a", 459), 3},
		{strings.Repeat("ä€", 35), 1},
		{strings.Repeat("ж", 71), 2},
	} {
		if got := len(buildMT("Shop", "4915112345678", c.text, 3, 1)); got != c.parts {
			t.Errorf("%d chars: %d parts, want %d", len([]rune(c.text)), got, c.parts)
		}
	}
}
