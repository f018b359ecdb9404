package senderid

import "github.com/smsfw/smsfw/filter"

const name = "sender_id"

// Findings.
var (
	Spoofed   = filter.NewFlag(name, "sender_spoofed", "a protected sender ID from a peer not allowed to use it")
	Lookalike = filter.NewFlag(name, "sender_lookalike", "a near copy of a protected sender ID")
	Protected = filter.NewText(name, "protected_sender", "the registry entry involved")
	// NotAllowed: a sender ID the peer's peer_senders list does not hold.
	NotAllowed = filter.NewFlag(name, "sender_not_allowed", "a sender ID this aggregator is not registered to use (peer_senders)")
	// Registered: a protected sender ID from a peer registered for it (the
	// brand's own traffic on its contracted route).
	Registered = filter.NewFlag(name, "sender_registered", "a protected sender ID from a peer registered for it")
)

// Config is the detectors.sender_id section.
type Config struct {
	// LookalikeDistance is the edit distance on skeletons that counts as a
	// lookalike (default 1; "PAYPA1" vs "PayPal" after folding: 0, "PayPall": 1).
	LookalikeDistance int `yaml:"lookalike_distance"`
	// PeerSenders are the sender IDs each aggregator may use (peer name ->
	// IDs). A peer with a list sending an alphanumeric or short-code sender
	// not on it raises det.sender_not_allowed; peers without a list are not
	// checked.
	PeerSenders map[string][]string `yaml:"peer_senders"`
}

// Check implements filter.Settings.
func (c *Config) Check(k *filter.SettingsCheck) {
	k.NotNegative("lookalike_distance", int64(c.LookalikeDistance))
	if c.LookalikeDistance > 3 {
		k.Errorf("lookalike_distance", "sender_id.lookalike_distance above 3 matches unrelated names")
	}
	if c.LookalikeDistance == 0 {
		c.LookalikeDistance = 1
	}
}

// Plugin registers the sender-ID detector (the registry is the policy's
// sender_registry).
var Plugin = filter.Register(&filter.Plugin{
	Name:     name,
	Settings: func() filter.Settings { return &Config{} },
	Build: func(env *filter.BuildEnv) filter.Built {
		p := env.Policy
		cfg := env.Settings.(*Config)
		return filter.Built{Detector: New(p.Registry, p.RegistryNames, cfg.LookalikeDistance).WithPeerSenders(cfg.PeerSenders)}
	},
})

// Explain implements filter.Explainer.
func (d *Detector) Explain(f *filter.Facts, det *filter.Detections, add func(string, ...any)) {
	if det.Has(Spoofed) {
		add("sender_spoofed registry=%q", det.Text(Protected))
	}
	if det.Has(Lookalike) {
		add("sender_lookalike of=%q", det.Text(Protected))
	}
	if det.Has(NotAllowed) {
		add("sender_not_allowed sender=%q", f.Sender)
	}
}
