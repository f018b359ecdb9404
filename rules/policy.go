// Package rules is smsfw's policy: a YAML file with named lists, detector
// settings, a sender-ID registry, tariffs, ordered rules whose conditions are
// expr-lang expressions over message facts (msg.*) and detector findings
// (det.*), and rate limits. A file is strictly decoded, validated and
// compiled once into an immutable Snapshot; the Engine swaps snapshots
// atomically on reload and keeps the old one when a new file is bad.
package rules

import (
	"time"

	"github.com/smsfw/smsfw/internal/yamlx"
)

// Policy is the file as written.
type Policy struct {
	Version int `yaml:"version"`
	// Default is the explicit verdict when no rule decides: allow or flag.
	Default string `yaml:"default"`
	// Detectors tunes the detectors; zero values take the documented defaults.
	Detectors Detectors `yaml:"detectors"`
	// Lists are named lists referenced by detectors and rules.
	Lists map[string]*ListSpec `yaml:"lists"`
	// SenderRegistry protects sender IDs: only the listed peers may use them.
	SenderRegistry []*Protected `yaml:"sender_registry"`
	// Tariffs are prices per segment by class (a2p, p2p) and destination
	// country (ISO code, or "default"), for revenue leakage.
	Tariffs map[string]map[string]float64 `yaml:"tariffs"`
	// Rules are evaluated in order; the first decisive one wins.
	Rules []*RuleSpec `yaml:"rules"`
	// Limits are rate limits checked for messages the rules let through.
	Limits []*LimitSpec `yaml:"limits"`
}

// ListSpec is a named list, inline or from a file (one item per line).
type ListSpec struct {
	Type  string   `yaml:"type"`
	Items []string `yaml:"items"`
	File  string   `yaml:"file"`
}

// Protected is a sender-ID registry entry.
type Protected struct {
	Sender string   `yaml:"sender"`
	Peers  []string `yaml:"peers"`
}

// RuleSpec is one rule.
type RuleSpec struct {
	ID          string `yaml:"id"`
	Description string `yaml:"description"`
	// Direction restricts the rule to mt, mo or any (default).
	Direction string `yaml:"direction"`
	When      string `yaml:"when"`
	// Action: allow, block, drop, throttle, flag, quarantine.
	Action string `yaml:"action"`
	// Status answers block/throttle: an SMPP command_status such as 0x45.
	Status string `yaml:"status"`
	// Receipt for drop: none (default), delivered, failed.
	Receipt string `yaml:"receipt"`
	// Mode: enforce (default) or monitor (record what it would do, do nothing).
	Mode   string `yaml:"mode"`
	Reason string `yaml:"reason"`
}

// LimitSpec is a rate limit (GCRA): rate per second with a burst.
type LimitSpec struct {
	ID string `yaml:"id"`
	// Key: peer, sender, destination, sender_destination.
	Key       string  `yaml:"key"`
	Rate      float64 `yaml:"rate"`
	Burst     int     `yaml:"burst"`
	Direction string  `yaml:"direction"`
	Mode      string  `yaml:"mode"`
	Status    string  `yaml:"status"`
}

// Detectors are the detector settings.
type Detectors struct {
	Classification Classification `yaml:"classification"`
	SenderID       SenderID       `yaml:"sender_id"`
	Content        Content        `yaml:"content"`
	Campaign       Campaign       `yaml:"campaign"`
	Pumping        Pumping        `yaml:"pumping"`
	SIMFarm        SIMFarm        `yaml:"sim_farm"`
	Receipts       Receipts       `yaml:"receipts"`
	// Memory bounds the detectors' counter tables by bytes.
	Memory Memory `yaml:"memory"`
}

// Memory bounds the detectors' counter tables (the per-sender,
// per-destination, per-text and per-limit-key state) by estimated bytes
// (filter/counters: about 100 bytes a key for a rate limit, 180 for a
// velocity window, 370 for a distinct-count sketch). Total is shared by the
// detectors in the proportions of MemoryShares; a detector given a size of
// its own takes that instead of its share. A full table evicts the least
// recently used key of a sample (smsfw_filter_counter_evictions_total).
// Changing a detector's size on reload starts its counters afresh, as a new
// window does. Sizes are integers or take B, KiB, MiB, GiB.
type Memory struct {
	Total          yamlx.ByteSize `yaml:"total"` // default DefaultDetectorMemory
	Classification yamlx.ByteSize `yaml:"classification"`
	Campaign       yamlx.ByteSize `yaml:"campaign"`
	Pumping        yamlx.ByteSize `yaml:"pumping"`
	SIMFarm        yamlx.ByteSize `yaml:"sim_farm"`
	RateLimits     yamlx.ByteSize `yaml:"rate_limits"` // the limits: section
}

// CounterOwner names a detector that owns counter tables (also the
// detector label of the counter metrics).
type CounterOwner string

// The detectors with counter tables.
const (
	OwnerClassification CounterOwner = "classification"
	OwnerCampaign       CounterOwner = "campaign"
	OwnerPumping        CounterOwner = "pumping"
	OwnerSIMFarm        CounterOwner = "sim_farm"
	OwnerRateLimits     CounterOwner = "rate_limits"
)

// DefaultDetectorMemory is detectors.memory.total when not set.
const DefaultDetectorMemory = 256 * yamlx.MiB

// MemoryShares is each detector's part of detectors.memory.total, in
// percent: the detectors keyed by sender, destination or text get the most;
// pumping is keyed by peer.
var MemoryShares = []struct {
	Owner   CounterOwner
	Percent int64
}{
	{OwnerClassification, 25}, {OwnerCampaign, 30}, {OwnerSIMFarm, 20}, {OwnerPumping, 5}, {OwnerRateLimits, 20},
}

// Budget returns a detector's byte budget: its own size, or its share of
// the total.
func (m Memory) Budget(o CounterOwner) int64 {
	var own yamlx.ByteSize
	switch o {
	case OwnerClassification:
		own = m.Classification
	case OwnerCampaign:
		own = m.Campaign
	case OwnerPumping:
		own = m.Pumping
	case OwnerSIMFarm:
		own = m.SIMFarm
	case OwnerRateLimits:
		own = m.RateLimits
	}
	if own > 0 {
		return int64(own)
	}
	total := m.Total
	if total <= 0 {
		total = DefaultDetectorMemory
	}
	for _, s := range MemoryShares {
		if s.Owner == o {
			return int64(total) * s.Percent / 100
		}
	}
	return 0
}

// Classification thresholds.
type Classification struct {
	// FanoutRecipients: one fingerprint to more recipients than this in Window is A2P (default 20).
	FanoutRecipients int `yaml:"fanout_recipients"`
	// SenderVelocity: a numeric sender sending more segments than this in Window is beyond a consumer (default 60).
	SenderVelocity int           `yaml:"sender_velocity"`
	Window         time.Duration `yaml:"window"` // default 10m
}

// SenderID settings.
type SenderID struct {
	// LookalikeDistance is the edit distance on skeletons that counts as a lookalike (default 1; 0 = skeleton equality only).
	LookalikeDistance int `yaml:"lookalike_distance"`
}

// Content settings: list names.
type Content struct {
	Keywords     string `yaml:"keywords"`
	Regexes      string `yaml:"regexes"`
	BlockDomains string `yaml:"block_domains"`
	AllowDomains string `yaml:"allow_domains"`
	Brands       string `yaml:"brands"` // brand words: with a shortener link, phishing
}

// Campaign settings.
type Campaign struct {
	Window time.Duration `yaml:"window"` // default 10m
	// DistinctSenders: one fingerprint from at least this many senders is a campaign (default 10).
	DistinctSenders int `yaml:"distinct_senders"`
	// FanoutRecipients: one P2P sender to at least this many recipients (default 30).
	FanoutRecipients int `yaml:"fanout_recipients"`
}

// Pumping settings.
type Pumping struct {
	PremiumRanges string        `yaml:"premium_ranges"` // prefixes list of premium / high-cost ranges
	Window        time.Duration `yaml:"window"`         // default 1m
	PremiumBurst  int           `yaml:"premium_burst"`  // more segments than this to premium ranges per peer in Window (default 20)
	SequentialRun int           `yaml:"sequential_run"` // at least this many consecutive destination numbers (default 5)
	// NewCountryAfter: a peer's first message to a country counts as new only after this warm-up (default 24h).
	NewCountryAfter time.Duration `yaml:"new_country_after"`
}

// SIMFarm settings (MO).
type SIMFarm struct {
	Window          time.Duration `yaml:"window"`           // default 10m
	DistinctSenders int           `yaml:"distinct_senders"` // at least this many MSISDNs sending one text to one short code (default 20)
	SpamSenders     int           `yaml:"spam_senders"`     // one MO text from at least this many senders (default 50)
}

// Receipts settings.
type Receipts struct {
	// Remember is how long accepted message ids are remembered per peer (default 72h).
	Remember time.Duration `yaml:"remember"`
	// MaxIDs sizes the id filter: ids per remember period at ~1% false
	// positives (default 1,000,000; about 2 MiB per million). Read at start.
	MaxIDs int `yaml:"max_ids"`
}
