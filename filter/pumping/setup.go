package pumping

import (
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/lists"
)

const name = "pumping"

// Findings.
var (
	Pumping        = filter.NewFlag(name, "pumping", "artificially inflated traffic")
	PumpingWhy     = filter.NewText(name, "pumping_why", "premium_burst or sequential_destinations")
	PremiumBurst   = filter.NewCount(name, "premium_burst", "segments to premium ranges from this peer in the window")
	SequentialRun  = filter.NewCount(name, "sequential_run", "consecutive destination numbers")
	PremiumDests   = filter.NewCount(name, "premium_destinations", "distinct premium-range numbers this peer sent to in premium_window")
	NewDestCountry = filter.NewFlag(name, "new_dest_country", "a country this peer never sent to before")
)

// Plugin registers the pumping detector.
var Plugin = filter.Register(&filter.Plugin{
	Name:        name,
	MemoryShare: 5,
	Sets:        []string{"dest_premium"},
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
	c.Premium = k.List("premium_ranges", c.PremiumRanges, lists.Prefixes)
	k.NotNegative("window", int64(c.Window))
	k.NotNegative("premium_burst", int64(c.PremiumBurst))
	k.NotNegative("sequential_run", int64(c.SequentialRun))
	k.NotNegative("new_country_after", int64(c.NewCountryAfter))
	k.NotNegative("premium_destinations", int64(c.PremiumDestinations))
	k.NotNegative("premium_window", int64(c.PremiumWindow))
	*c = c.Defaults()
}

// Explain implements filter.Explainer.
func (d *Detector) Explain(f *filter.Facts, det *filter.Detections, add func(string, ...any)) {
	if det.Has(Pumping) {
		add("pumping=%s premium_burst=%d premium_destinations=%d sequential_run=%d", det.Text(PumpingWhy),
			det.Count(PremiumBurst), det.Count(PremiumDests), det.Count(SequentialRun))
	}
	if det.Has(NewDestCountry) {
		add("new_dest_country=%s", f.DestCountry)
	}
}
