package classify

import (
	"strings"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/lists"
)

// Business is the kind of business text recognised on first sight (otp,
// marketing, notification), "" when none: det.business_text.
var Business = filter.NewText("classification", "business_text", "the kind of business text recognised from its words: otp, marketing or notification")

// Origin is where an MO came from, when home_prefixes is set: home (the
// operator's own subscriber) or foreign.
var Origin = filter.NewText("classification", "mo_origin", "where an MO came from: home (the operator's own ranges) or foreign")

// MO origins.
const (
	OriginHome    = "home"
	OriginForeign = "foreign"
)

// Plugin registers the classifier: detectors.classification.
var Plugin = filter.Register(&filter.Plugin{
	Name: "classification",
	// The class (msg.class) is read by other detectors, the metrics and
	// every event, whatever the rules read.
	Always:      true,
	Sets:        []string{"class"},
	MemoryShare: 25,
	Settings:    func() filter.Settings { return &Config{} },
	Build: func(env *filter.BuildEnv) filter.Built {
		cfg := *env.Settings.(*Config)
		prev, _ := env.Prev.(*State)
		st := Reuse(prev, cfg, env.Budget)
		var brands []string
		if cfg.brands != nil {
			brands = append(brands, cfg.brands.Items...)
		}
		for _, name := range env.Policy.RegistryNames {
			brands = append(brands, name)
		}
		return filter.Built{Detector: New(cfg, st).WithBrands(brands), State: st, Tables: st.Tables()}
	},
})

// Check implements filter.Settings.
func (c *Config) Check(k *filter.SettingsCheck) {
	k.NotNegative("fanout_recipients", int64(c.FanoutRecipients))
	k.NotNegative("sender_velocity", int64(c.SenderVelocity))
	k.NotNegative("window", int64(c.Window))
	c.brands = k.List("brands", c.Brands, lists.Keywords)
	c.home = k.List("home_prefixes", c.HomePrefixes, lists.Prefixes)
	*c = c.Defaults()
}

// Explain implements filter.Explainer: the class and why.
func (d *Detector) Explain(f *filter.Facts, _ *filter.Detections, add func(string, ...any)) {
	add("class=%s(%s)", f.Class, strings.Join(filter.ReasonNames(f.ClassReasons), ","))
}
