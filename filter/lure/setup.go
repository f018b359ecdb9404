package lure

import (
	"fmt"
	"strings"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/counters"
)

const name = "lure"

// Findings.
var (
	Lure      = filter.NewFlag(name, "lure", "the text has a scam's structure: a story and a request (lure_score 3 or more)")
	Score     = filter.NewCount(name, "lure_score", "how much of a scam's structure the text has (0-5; textscan.LureScore)")
	Kind      = filter.NewText(name, "lure_kind", "the story: family_new_number, prize, job, account_threat, parcel, refund, code_theft, investment")
	Parts     = filter.NewText(name, "lure_parts", "the parts found, e.g. opener+new_number+lost_phone+answer")
	NewSender = filter.NewFlag(name, "new_sender", "an MT phone-number sender first seen less than new_sender_age ago")
	// Wave: a lure text (lure_score 2 or more) whose fingerprint has
	// wave_senders or more senders (det.campaign_senders); WaveEarlier: how
	// many of its first messages, sent before, the evidence names.
	Wave        = filter.NewFlag(name, "lure_wave", "a lure text from wave_senders or more phone numbers in the campaign window")
	WaveEarlier = filter.NewCount(name, "lure_wave_earlier", "the wave's first messages, sent before it was recognised, named in the evidence (at most 4)")
)

// Config is the detectors.lure section.
type Config struct {
	// NewSenderAge: a sender first seen less than this long ago is new
	// (default 24h).
	NewSenderAge time.Duration `yaml:"new_sender_age"`
	// SenderMemory: how long a sender is remembered after its last
	// message (default 720h, 30 days).
	SenderMemory time.Duration `yaml:"sender_memory"`
	// WaveSenders: a lure text from this many phone numbers
	// (det.campaign_senders) is a wave (default 3).
	WaveSenders int `yaml:"wave_senders"`
	// WaveWindow: how long the first messages of a lure text are
	// remembered, from the first (default 1h; match
	// detectors.campaign.window).
	WaveWindow time.Duration `yaml:"wave_window"`
}

// Defaults fills zero values.
func (c Config) Defaults() Config {
	if c.NewSenderAge == 0 {
		c.NewSenderAge = 24 * time.Hour
	}
	if c.SenderMemory == 0 {
		c.SenderMemory = 30 * 24 * time.Hour
	}
	if c.WaveSenders == 0 {
		c.WaveSenders = 3
	}
	if c.WaveWindow == 0 {
		c.WaveWindow = time.Hour
	}
	return c
}

// Check implements filter.Settings.
func (c *Config) Check(k *filter.SettingsCheck) {
	k.NotNegative("new_sender_age", int64(c.NewSenderAge))
	k.NotNegative("sender_memory", int64(c.SenderMemory))
	k.NotNegative("wave_senders", int64(c.WaveSenders))
	k.NotNegative("wave_window", int64(c.WaveWindow))
	*c = c.Defaults()
	if c.SenderMemory < c.NewSenderAge {
		k.Errorf("sender_memory", "lure.sender_memory (%s) must be at least new_sender_age (%s)", c.SenderMemory, c.NewSenderAge)
	}
}

// Plugin registers the lure detector.
var Plugin = filter.Register(&filter.Plugin{
	Name:        name,
	MemoryShare: 5,
	Uses:        []string{"campaign"}, // det.campaign_senders
	Settings:    func() filter.Settings { return &Config{} },
	Build: func(env *filter.BuildEnv) filter.Built {
		cfg := *env.Settings.(*Config)
		prev, _ := env.Prev.(*State)
		st := Reuse(prev, cfg, env.Budget)
		return filter.Built{Detector: New(cfg, st), State: st, Tables: st.Tables()}
	},
})

// Explain implements filter.Explainer.
func (d *Detector) Explain(f *filter.Facts, det *filter.Detections, add func(string, ...any)) {
	if det.Count(Score) > 0 {
		add("lure=%s lure_score=%d parts=%s", det.Text(Kind), det.Count(Score), det.Text(Parts))
	}
	if det.Has(NewSender) {
		add("new_sender")
	}
	if n := det.Count(WaveEarlier); n > 0 {
		// The wave's first messages: held or refused by a rule, or
		// delivered (a delivered message cannot be recalled): named here
		// so that analysts find them and their senders.
		var recs [counters.FirstsMax]counters.FirstRecord
		n = d.st.firsts.Get(f.Fingerprint, &recs, d.lastNow.Load())
		var b strings.Builder
		for i, r := range recs[:n] {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%d>%d@%s", r.A, r.B, time.Unix(0, r.At).UTC().Format("15:04:05"))
		}
		add("lure_wave first_messages=%s", b.String())
	}
}
