package simfarm

import (
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/lists"
)

const name = "sim_farm"

// Findings.
var (
	SIMFarm = filter.NewFlag(name, "sim_farm", "many MSISDNs sending one text to one short code")
	Senders = filter.NewCount(name, "mo_senders", "distinct MO senders of this text to this destination")
	MOSpam  = filter.NewFlag(name, "mo_spam", "one MO text from very many senders")
	Range   = filter.NewFlag(name, "sim_farm_range", "one text to one destination from several numbers of one block of 100, or beside such a block")
	// RangeSenders counts the senders of the text in the sender's block.
	RangeSenders = filter.NewCount(name, "sim_farm_range_senders", "distinct senders of this text to this destination in the sender's block of 100 numbers")
	OwnShortCode = filter.NewFlag(name, "own_short_code", "the destination is one of the operator's own short codes")
)

// Plugin registers the SIM-farm detector.
var Plugin = filter.Register(&filter.Plugin{
	Name:        name,
	MemoryShare: 15,
	Settings:    func() filter.Settings { return &Config{} },
	Build: func(env *filter.BuildEnv) filter.Built {
		cfg := *env.Settings.(*Config)
		prev, _ := env.Prev.(*State)
		st := Reuse(prev, cfg, env.Budget)
		return filter.Built{Detector: New(cfg, st), State: st, Tables: st.Tables()}
	},
})

// Check implements filter.Settings.
func (c *Config) Check(k *filter.SettingsCheck) {
	k.NotNegative("window", int64(c.Window))
	k.NotNegative("distinct_senders", int64(c.DistinctSenders))
	k.NotNegative("spam_senders", int64(c.SpamSenders))
	k.NotNegative("range_senders", int64(c.RangeSenders))
	c.own = k.List("own_short_codes", c.OwnShortCodes, lists.Senders)
	*c = c.Defaults()
}

// Explain implements filter.Explainer.
func (d *Detector) Explain(_ *filter.Facts, det *filter.Detections, add func(string, ...any)) {
	if det.Has(SIMFarm) {
		add("sim_farm senders=%d", det.Count(Senders))
	}
	if det.Has(Range) {
		add("sim_farm_range senders_in_block=%d", det.Count(RangeSenders))
	}
	if det.Has(MOSpam) {
		add("mo_spam")
	}
}
