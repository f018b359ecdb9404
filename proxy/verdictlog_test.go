package proxy

import (
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/smsfw/smsfw/filter"
)

// Verdict lines are sampled per rule: the first verdictBurst of a rule a
// second, each with its event id; the next second says how many were left
// out; a rare rule is logged whatever a frequent one does.
func TestVerdictLinesSampledPerRule(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	log := zap.New(core)
	sec := int64(100)
	vl := &verdictLog{now: func() int64 { return sec }}
	r := &filter.Request{Direction: filter.MT, Peer: "acme"}
	emit := func(rule string, n int) {
		for i := 0; i < n; i++ {
			vl.log(log, r, &filter.Verdict{Action: filter.Reject, RuleID: rule, Event: &filter.Event{ID: int64(1000 + i)}})
		}
	}
	emit("flood", 25)
	emit("rare", 1)
	sec++
	emit("flood", 1)
	cases := []struct {
		msg, rule string
		want      int
	}{
		{"verdict", "flood", verdictBurst + 1},
		{"verdict", "rare", 1},
		{"verdict lines not logged (sampled per rule)", "flood", 1},
	}
	for _, c := range cases {
		got := logs.FilterMessage(c.msg).FilterField(zap.String("rule", c.rule)).All()
		if len(got) != c.want {
			t.Errorf("%s %s: %d lines, want %d", c.msg, c.rule, len(got), c.want)
		}
	}
	skipped := logs.FilterMessage("verdict lines not logged (sampled per rule)").All()
	if len(skipped) != 1 || skipped[0].ContextMap()["count"] != int64(25-verdictBurst) {
		t.Errorf("left-out line: %+v", skipped)
	}
	first := logs.FilterMessage("verdict").All()[0].ContextMap()
	if first["event_id"] != int64(1000) {
		t.Errorf("verdict line without its event id: %v", first)
	}
}
