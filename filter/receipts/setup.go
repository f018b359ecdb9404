package receipts

import (
	"time"

	"github.com/smsfw/smsfw/filter"
)

const name = "receipts"

// Findings.
var (
	Fake = filter.NewFlag(name, "fake_receipt", "a receipt for a message id never accepted for this peer")
	// Early: a receipt for an id not known yet while the peer has messages
	// awaiting the SMSC's answer (it may have overtaken its submit_sm_resp);
	// refuse it temporarily, never deliver it.
	Early = filter.NewFlag(name, "receipt_early", "a receipt for an id not known yet while answers are awaited")
)

// Config is the detectors.receipts section.
type Config struct {
	// Remember is how long accepted message ids are remembered per peer (default 72h).
	Remember time.Duration `yaml:"remember"`
	// MaxIDs sizes the id filter: ids per remember period at ~1% false
	// positives (default 1,000,000; about 2 MiB per million). Read at start.
	MaxIDs int `yaml:"max_ids"`
	// WarmUp: after a start that lost ids accepted before (a crash, or
	// the event store unreadable at start), receipts of unknown ids are
	// not judged for this long (default 30m; 0s: judged at once).
	WarmUp *time.Duration `yaml:"warm_up"`
}

// defaultWarmUp covers the receipts of most messages accepted just
// before a restart.
const defaultWarmUp = 30 * time.Minute

// DefaultMaxIDs is max_ids when the policy does not set it.
const DefaultMaxIDs = 1_000_000

// Check implements filter.Settings.
func (c *Config) Check(k *filter.SettingsCheck) {
	k.NotNegative("remember", int64(c.Remember))
	k.NotNegative("max_ids", int64(c.MaxIDs))
	if c.WarmUp != nil {
		k.NotNegative("warm_up", int64(*c.WarmUp))
	} else {
		d := defaultWarmUp
		c.WarmUp = &d
	}
	if c.Remember == 0 {
		c.Remember = 72 * time.Hour
	}
	if c.MaxIDs == 0 {
		c.MaxIDs = DefaultMaxIDs
	}
}

// Plugin registers the fake-receipt detector. Its id filter is sized once,
// from the first policy.
var Plugin = filter.Register(&filter.Plugin{
	Name:     name,
	Settings: func() filter.Settings { return &Config{} },
	Build: func(env *filter.BuildEnv) filter.Built {
		cfg := env.Settings.(*Config)
		st, _ := env.Prev.(*State)
		if st == nil {
			st = NewState(cfg.MaxIDs)
		}
		return filter.Built{Detector: NewWith(st, *cfg), State: st}
	},
})

// Explain implements filter.Explainer.
func (d *Detector) Explain(f *filter.Facts, det *filter.Detections, add func(string, ...any)) {
	if det.Has(Fake) {
		add("fake_receipt id=%q", f.ReceiptID)
	}
	if det.Has(Early) {
		add("receipt_early id=%q", f.ReceiptID)
	}
}
