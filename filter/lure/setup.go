package lure

import (
	"time"

	"github.com/smsfw/smsfw/filter"
)

const name = "lure"

// Findings.
var (
	Lure      = filter.NewFlag(name, "lure", "the text has a scam's structure: a story and a request (lure_score 3 or more)")
	Score     = filter.NewCount(name, "lure_score", "how much of a scam's structure the text has (0-5; textscan.LureScore)")
	Kind      = filter.NewText(name, "lure_kind", "the story: family_new_number, prize, job, account_threat, parcel, refund, code_theft, investment")
	Parts     = filter.NewText(name, "lure_parts", "the parts found, e.g. opener+new_number+lost_phone+answer")
	NewSender = filter.NewFlag(name, "new_sender", "an MT phone-number sender first seen less than new_sender_age ago")
)

// Config is the detectors.lure section.
type Config struct {
	// NewSenderAge: a sender first seen less than this long ago is new
	// (default 24h).
	NewSenderAge time.Duration `yaml:"new_sender_age"`
	// SenderMemory: how long a sender is remembered after its last
	// message (default 720h, 30 days).
	SenderMemory time.Duration `yaml:"sender_memory"`
}

// Defaults fills zero values.
func (c Config) Defaults() Config {
	if c.NewSenderAge == 0 {
		c.NewSenderAge = 24 * time.Hour
	}
	if c.SenderMemory == 0 {
		c.SenderMemory = 30 * 24 * time.Hour
	}
	return c
}

// Check implements filter.Settings.
func (c *Config) Check(k *filter.SettingsCheck) {
	k.NotNegative("new_sender_age", int64(c.NewSenderAge))
	k.NotNegative("sender_memory", int64(c.SenderMemory))
	*c = c.Defaults()
	if c.SenderMemory < c.NewSenderAge {
		k.Errorf("sender_memory", "lure.sender_memory (%s) must be at least new_sender_age (%s)", c.SenderMemory, c.NewSenderAge)
	}
}

// Plugin registers the lure detector.
var Plugin = filter.Register(&filter.Plugin{
	Name:        name,
	MemoryShare: 5,
	Settings:    func() filter.Settings { return &Config{} },
	Build: func(env *filter.BuildEnv) filter.Built {
		cfg := *env.Settings.(*Config)
		prev, _ := env.Prev.(*State)
		st := Reuse(prev, env.Budget)
		return filter.Built{Detector: New(cfg, st), State: st, Tables: st.Tables()}
	},
})

// Explain implements filter.Explainer.
func (d *Detector) Explain(_ *filter.Facts, det *filter.Detections, add func(string, ...any)) {
	if det.Count(Score) > 0 {
		add("lure=%s lure_score=%d parts=%s", det.Text(Kind), det.Count(Score), det.Text(Parts))
	}
	if det.Has(NewSender) {
		add("new_sender")
	}
}
