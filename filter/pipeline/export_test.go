package pipeline

import (
	"github.com/expr-lang/expr/vm"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/numbers"
	"github.com/smsfw/smsfw/filter/velocity"
	"github.com/smsfw/smsfw/rules"
)

// Stages runs the inspection's steps one at a time on one message, for the
// per-stage benchmarks and allocation guards (stages_test.go). Not safe for
// concurrent use.
type Stages struct {
	c  *Chain
	b  *built
	sc *scratch
	vm vm.VM
	// Dec is the last Evaluate's decision.
	Dec rules.Decision
}

// NewStages returns the stages of c's current policy.
func NewStages(c *Chain) *Stages {
	return &Stages{c: c, b: c.current(), sc: c.scratch.New().(*scratch)}
}

// Facts computes every fact of r (the whole facts step) and clears the findings.
func (s *Stages) Facts(r *filter.Request) *filter.Facts {
	s.c.buildFacts(r, s.sc, s.b.senderNumber)
	s.sc.det = filter.Detections{}
	return &s.sc.facts
}

// Detections are the findings of the last Facts and Detect calls.
func (s *Stages) Detections() *filter.Detections { return &s.sc.det }

// Text and Norm are the decoded and normalised text of the last Facts call.
func (s *Stages) Text() []byte { return s.sc.text }
func (s *Stages) Norm() []byte { return s.sc.norm }

// Fingerprint is the fingerprint step (with its cache) on a normalised text.
func (s *Stages) Fingerprint(norm []byte) uint64 { return s.c.fps.fingerprint(norm, s.sc.fpKey) }

// Number is the number step (with its caches) for one address.
func (s *Stages) Number(ton, npi byte, addr []byte) numbers.Info {
	var info numbers.Info
	s.c.numc.lookup(ton, npi, addr, &info)
	return info
}

// DetectorNames lists the chain's detectors in order.
func (s *Stages) DetectorNames() []string { return s.b.names }

// Detect runs detector i on the last Facts.
func (s *Stages) Detect(i int, now int64) {
	s.b.detectors[i].Detect(&s.sc.facts, &s.sc.det, now)
}

// Evaluate evaluates the policy's rules on the last facts and findings.
func (s *Stages) Evaluate(dir filter.Direction) filter.Verdict {
	s.Dec = rules.Decision{Errors: s.Dec.Errors[:0], Monitor: s.Dec.Monitor[:0]}
	s.sc.env = rules.Env{Msg: &s.sc.facts, Det: &s.sc.det}
	s.b.snap.Evaluate(&s.vm, &s.sc.env, dir, &s.Dec)
	return s.Dec.Verdict
}

// Limits checks the policy's rate limits for the last facts.
func (s *Stages) Limits(dir filter.Direction, now int64) bool {
	return velocity.Check(s.b.velocity, s.b.limits, &s.sc.facts, dir, now, func(*velocity.Limit) {}) != nil
}

// Count updates the chain's message and findings metrics.
func (s *Stages) Count() { s.c.m.count(0, &s.sc.facts, &s.sc.det) }
