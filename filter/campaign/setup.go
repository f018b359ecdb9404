package campaign

import "github.com/smsfw/smsfw/filter"

const name = "campaign"

// Findings.
var (
	Campaign         = filter.NewFlag(name, "campaign", "one fingerprint from many senders")
	Senders          = filter.NewCount(name, "campaign_senders", "distinct senders of this fingerprint in the window")
	Fanout           = filter.NewFlag(name, "fanout", "one P2P sender to many recipients")
	FanoutRecipients = filter.NewCount(name, "fanout_recipients", "distinct recipients of this sender in the window")
	Range            = filter.NewFlag(name, "campaign_range", "one text from several numbers of one block of 100 (consecutive SIMs)")
	RangeSenders     = filter.NewCount(name, "campaign_range_senders", "distinct senders of this text in the sender's block of 100 numbers")
)

// Plugin registers the campaign detector.
var Plugin = filter.Register(&filter.Plugin{
	Name:        name,
	MemoryShare: 30,
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
	k.NotNegative("fanout_recipients", int64(c.FanoutRecipients))
	k.NotNegative("range_senders", int64(c.RangeSenders))
	*c = c.Defaults()
}

// Explain implements filter.Explainer.
func (d *Detector) Explain(_ *filter.Facts, det *filter.Detections, add func(string, ...any)) {
	if det.Has(Campaign) {
		add("campaign senders=%d", det.Count(Senders))
	}
	if det.Has(Range) {
		add("campaign_range senders_in_block=%d", det.Count(RangeSenders))
	}
	if det.Has(Fanout) {
		add("fanout recipients=%d", det.Count(FanoutRecipients))
	}
}
