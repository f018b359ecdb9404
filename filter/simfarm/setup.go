package simfarm

import "github.com/smsfw/smsfw/filter"

const name = "sim_farm"

// Findings.
var (
	SIMFarm = filter.NewFlag(name, "sim_farm", "many MSISDNs sending one text to one short code")
	Senders = filter.NewCount(name, "mo_senders", "distinct MO senders of this text to this destination")
	MOSpam  = filter.NewFlag(name, "mo_spam", "one MO text from very many senders")
)

// Plugin registers the SIM-farm detector.
var Plugin = filter.Register(&filter.Plugin{
	Name:        name,
	MemoryShare: 20,
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
	*c = c.Defaults()
}

// Explain implements filter.Explainer.
func (d *Detector) Explain(_ *filter.Facts, det *filter.Detections, add func(string, ...any)) {
	if det.Has(SIMFarm) {
		add("sim_farm senders=%d", det.Count(Senders))
	}
	if det.Has(MOSpam) {
		add("mo_spam")
	}
}
