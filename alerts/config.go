package alerts

import (
	"net/url"
	"time"

	"github.com/smsfw/smsfw/internal/yamlx"
	"github.com/smsfw/smsfw/mo"
)

// Config is the `alerts:` section: what is watched in the event store and
// where alerts go.
type Config struct {
	// ConsoleURL is the console's address as operators reach it; alerts
	// link to the page that shows what they are about.
	ConsoleURL string `yaml:"console_url"`
	// Interval is how often the store is checked (default 1m).
	Interval time.Duration `yaml:"interval"`
	Webhook  *Webhook      `yaml:"webhook"`
	Email    *Email        `yaml:"email"`
	Campaign Campaign      `yaml:"campaign"`
	RuleHits RuleHits      `yaml:"rule_hits"`
	Leakage  Leakage       `yaml:"leakage"`
}

// Webhook receives alerts as signed JSON POSTs (as MO pushes are signed).
type Webhook struct {
	URL        string `yaml:"url"`
	SecretFile string `yaml:"secret_file"`
}

// Email mails alerts through the smtp section's server.
type Email struct {
	To []string `yaml:"to"`
}

// Campaign: a campaign starts when MinEvents stored events share a text
// fingerprint within Window.
type Campaign struct {
	MinEvents int           `yaml:"min_events"`
	Window    time.Duration `yaml:"window"`
}

// RuleHits: a rule's hits jump when a full Window holds at least MinHits
// of its events and Factor times those of the window before.
type RuleHits struct {
	Window  time.Duration `yaml:"window"`
	Factor  float64       `yaml:"factor"`
	MinHits int           `yaml:"min_hits"`
}

// Leakage: the day's estimated grey-route loss (store.Leakage, every
// peer) passes PerDay (0: no leakage alert).
type Leakage struct {
	PerDay float64 `yaml:"per_day"`
}

// Defaults.
const (
	DefaultInterval          = time.Minute
	DefaultCampaignMinEvents = 100
	DefaultCampaignWindow    = 10 * time.Minute
	DefaultRuleHitsWindow    = 10 * time.Minute
	DefaultRuleHitsFactor    = 3.0
	DefaultRuleHitsMinHits   = 50
)

// WithDefaults fills the zero values.
func (c Config) WithDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Interval, DefaultInterval)
	def(&c.Campaign.Window, DefaultCampaignWindow)
	def(&c.RuleHits.Window, DefaultRuleHitsWindow)
	if c.Campaign.MinEvents == 0 {
		c.Campaign.MinEvents = DefaultCampaignMinEvents
	}
	if c.RuleHits.Factor == 0 {
		c.RuleHits.Factor = DefaultRuleHitsFactor
	}
	if c.RuleHits.MinHits == 0 {
		c.RuleHits.MinHits = DefaultRuleHitsMinHits
	}
	return c
}

// Validate checks the section at at (nil: no section); a relative
// secret_file is resolved against the configuration file's directory.
func (c *Config) Validate(at yamlx.At) error {
	if c == nil {
		return nil
	}
	probs := at.Problems(": ")
	if u, err := url.Parse(c.ConsoleURL); c.ConsoleURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		probs.Add("console_url", "want an http:// or https:// URL, not %q", c.ConsoleURL)
	}
	if c.Interval < 0 || (c.Interval > 0 && c.Interval < time.Second) {
		probs.Add("interval", "%s: want at least 1s", c.Interval)
	}
	if c.Webhook == nil && c.Email == nil {
		probs.Add("", "no destination: set webhook and/or email")
	}
	if w := c.Webhook; w != nil {
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			probs.Add("webhook.url", "want an http:// or https:// URL, not %q", w.URL)
		}
		if err := mo.ResolveSecret(&w.SecretFile, at.File, 1); err != nil {
			probs.Add("webhook.secret_file", "%v", err)
		}
	}
	if e := c.Email; e != nil {
		mo.CheckRecipients("email.to", e.To, probs.Add)
	}
	if c.Campaign.MinEvents < 0 || c.Campaign.Window < 0 || (c.Campaign.Window > 0 && c.Campaign.Window < time.Minute) {
		probs.Add("campaign", "min_events must not be negative, window at least 1m")
	}
	if r := c.RuleHits; r.MinHits < 0 || r.Window < 0 || (r.Window > 0 && r.Window < time.Minute) || r.Factor < 0 ||
		(r.Factor > 0 && r.Factor <= 1) {
		probs.Add("rule_hits", "min_hits must not be negative, window at least 1m, factor above 1")
	}
	if c.Leakage.PerDay < 0 {
		probs.Add("leakage.per_day", "%v must not be negative", c.Leakage.PerDay)
	}
	return probs.Err()
}

// CheckEmail reports alerts mailed without an smtp section.
func CheckEmail(c *Config, hasSMTP bool, at yamlx.At) error {
	if c == nil || c.Email == nil || hasSMTP {
		return nil
	}
	return at.Errorf("email", "%s: needs the smtp section (the mail server)", at.Path("email"))
}
