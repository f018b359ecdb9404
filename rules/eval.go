package rules

import (
	"fmt"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/lists"
	"github.com/smsfw/smsfw/filter/textscan"
	"github.com/smsfw/smsfw/internal/yamlx"
)

func skeletonKey(s string) string { return string(textscan.Skeleton(nil, []byte(s))) }

// detectors validates the detector settings and their list references.
func (c *compiler) detectors(p *Policy, s *Snapshot) error {
	d := &p.Detectors
	ref := func(path, name string, t lists.Type) error {
		if name == "" {
			return nil
		}
		if _, err := s.Lists.Get(name, t); err != nil {
			return c.errf(path, "%v", err)
		}
		return nil
	}
	for _, r := range []struct {
		path, name string
		t          lists.Type
	}{
		{"detectors.content.keywords", d.Content.Keywords, lists.Keywords},
		{"detectors.content.regexes", d.Content.Regexes, lists.Regexes},
		{"detectors.content.block_domains", d.Content.BlockDomains, lists.Domains},
		{"detectors.content.allow_domains", d.Content.AllowDomains, lists.Domains},
		{"detectors.content.brands", d.Content.Brands, lists.Keywords},
		{"detectors.pumping.premium_ranges", d.Pumping.PremiumRanges, lists.Prefixes},
	} {
		if err := ref(r.path, r.name, r.t); err != nil {
			return err
		}
	}
	for _, n := range []struct {
		path string
		v    int
	}{
		{"detectors.classification.fanout_recipients", d.Classification.FanoutRecipients},
		{"detectors.classification.sender_velocity", d.Classification.SenderVelocity},
		{"detectors.sender_id.lookalike_distance", d.SenderID.LookalikeDistance},
		{"detectors.campaign.distinct_senders", d.Campaign.DistinctSenders},
		{"detectors.campaign.fanout_recipients", d.Campaign.FanoutRecipients},
		{"detectors.pumping.premium_burst", d.Pumping.PremiumBurst},
		{"detectors.pumping.sequential_run", d.Pumping.SequentialRun},
		{"detectors.sim_farm.distinct_senders", d.SIMFarm.DistinctSenders},
		{"detectors.sim_farm.spam_senders", d.SIMFarm.SpamSenders},
		{"detectors.receipts.max_ids", d.Receipts.MaxIDs},
	} {
		if n.v < 0 {
			return c.errf(n.path, "%s must not be negative", n.path[len("detectors."):])
		}
	}
	if m := d.Memory.Total; m != 0 && (m < yamlx.MiB || m > 1024*yamlx.GiB) {
		return c.errf("detectors.memory.total", "memory.total %s outside [1MiB, 1024GiB]", m)
	}
	for _, m := range []struct {
		path string
		v    yamlx.ByteSize
	}{
		{"detectors.memory.classification", d.Memory.Classification},
		{"detectors.memory.campaign", d.Memory.Campaign},
		{"detectors.memory.pumping", d.Memory.Pumping},
		{"detectors.memory.sim_farm", d.Memory.SIMFarm},
		{"detectors.memory.rate_limits", d.Memory.RateLimits},
	} {
		if m.v != 0 && (m.v < 64*yamlx.KiB || m.v > 1024*yamlx.GiB) {
			return c.errf(m.path, "%s %s outside [64KiB, 1024GiB]", m.path[len("detectors."):], m.v)
		}
	}
	if d.SenderID.LookalikeDistance > 3 {
		return c.errf("detectors.sender_id.lookalike_distance", "sender_id.lookalike_distance above 3 matches unrelated names")
	}
	for _, w := range []struct {
		path string
		v    time.Duration
	}{
		{"detectors.classification.window", d.Classification.Window},
		{"detectors.campaign.window", d.Campaign.Window},
		{"detectors.pumping.window", d.Pumping.Window},
		{"detectors.sim_farm.window", d.SIMFarm.Window},
		{"detectors.receipts.remember", d.Receipts.Remember},
	} {
		if w.v < 0 {
			return c.errf(w.path, "%s must not be negative", w.path[len("detectors."):])
		}
	}
	return nil
}

// Decision is the outcome of the rules for one message.
type Decision struct {
	Verdict filter.Verdict
	// Monitor lists monitor-mode rules that matched (what they would have done).
	Monitor []*Rule
	// Rule is the deciding rule (nil: the default or a limit decided).
	Rule *Rule
	// Errors are rules whose evaluation failed (they are skipped).
	Errors []error
}

// Evaluate runs the rules in order: the first matching enforce rule decides;
// monitor rules that match are recorded and evaluation goes on. The VM is the
// caller's (one per goroutine: reusing it avoids an allocation per rule).
//
// env is the caller's (pooled): its Msg and Det are the message's facts and
// findings. Keeping it out of this frame keeps the evaluation allocation-free.
func (s *Snapshot) Evaluate(v *vm.VM, env *Env, dir filter.Direction, out *Decision) {
	mask := fired(env.Det)
	for _, r := range s.Rules {
		if r.Direction >= 0 && r.Direction != int(dir) {
			continue
		}
		if r.need != 0 && r.need&mask == 0 {
			continue // it needs a finding that did not fire
		}
		if r.native != nil {
			if !r.native(env).b {
				continue
			}
		} else {
			res, err := v.Run(r.prog, env)
			if err != nil {
				out.Errors = append(out.Errors, fmt.Errorf("rule %q: %w", r.ID, err))
				continue
			}
			if b, _ := res.(bool); !b {
				continue
			}
		}
		if r.Monitor {
			out.Monitor = append(out.Monitor, r)
			continue
		}
		out.Verdict = r.Verdict
		out.Rule = r
		return
	}
	out.Verdict = s.Default
}
