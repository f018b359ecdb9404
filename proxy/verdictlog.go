package proxy

import (
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/filter"
)

// verdictBurst is how many verdict lines one rule logs a second; past it
// the rest of that second are counted and said in one line.
const verdictBurst = 10

// verdictLog samples the verdict lines per rule, so that a flood one rule
// refuses cannot flood the log, and a rare rule's lines are never lost
// among a frequent one's. Each line carries the event id that joins it to
// the event store.
type verdictLog struct {
	mu    sync.Mutex
	rules map[string]*ruleLines
	now   func() int64 // unix seconds (tests); nil: the clock
}

type ruleLines struct {
	sec     int64 // the second n and skipped count
	n       int
	skipped int
}

// log writes the verdict line of r unless its rule has had its lines this
// second; the first verdict of a new second also says how many lines of
// the rule the last busy second left out.
func (vl *verdictLog) log(log *zap.Logger, r *filter.Request, v *filter.Verdict) {
	ce := log.Check(zap.InfoLevel, "verdict")
	if ce == nil {
		return
	}
	vl.mu.Lock()
	sec := time.Now().Unix()
	if vl.now != nil {
		sec = vl.now()
	}
	if vl.rules == nil || len(vl.rules) > 10000 { // rule ids come from the policy: a bound for safety
		vl.rules = map[string]*ruleLines{}
	}
	e := vl.rules[v.RuleID]
	if e == nil {
		e = &ruleLines{sec: sec}
		vl.rules[v.RuleID] = e
	}
	skipped := 0
	if e.sec != sec {
		skipped, e.sec, e.n, e.skipped = e.skipped, sec, 0, 0
	}
	e.n++
	write := e.n <= verdictBurst
	if !write {
		e.skipped++
	}
	vl.mu.Unlock()
	if skipped > 0 {
		log.Info("verdict lines not logged (sampled per rule)", zap.String("rule", v.RuleID), zap.Int("count", skipped))
	}
	if !write {
		return
	}
	id := zap.Skip()
	if v.Event != nil {
		id = zap.Int64("event_id", v.Event.ID)
	}
	ce.Write(zap.Stringer("direction", r.Direction), zap.Stringer("action", v.Action), zap.String("rule", v.RuleID),
		zap.String("reason", v.Reason), zap.String("peer", r.Peer), id)
}
