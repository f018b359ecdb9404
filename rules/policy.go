// Package rules is smsfw's policy: a YAML file with named lists, detector
// settings, a sender-ID registry, tariffs, ordered rules whose conditions are
// expr-lang expressions over message facts (msg.*) and detector findings
// (det.*), and rate limits. A file is strictly decoded, validated and
// compiled once into an immutable Snapshot; the Engine swaps snapshots
// atomically on reload and keeps the old one when a new file is bad.
package rules

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/yamlx"
	"github.com/smsfw/smsfw/mo/action"
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
	// Actions run when the rule decides an MO message (direction: mo,
	// enforce mode): an automatic reply, a webhook, a mail; see
	// docs/policy.md and docs/mo.md.
	Actions *action.Actions `yaml:"actions"`
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

// Detectors is the detectors: section: one section per detector, named
// after it (detectors.campaign ...), whose settings the detector's own
// package declares, decodes strictly and checks (filter.Plugin); and
// memory, the counters' byte budget. Sections are kept as written here and
// decoded when the policy is compiled, so errors carry their lines.
type Detectors struct {
	sections map[string]*yaml.Node
	order    []string // as written
}

// UnmarshalYAML keeps each section's node.
func (d *Detectors) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: detectors must be a mapping of detector names to settings", n.Line)}}
	}
	d.sections = map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		d.sections[k] = n.Content[i+1]
		d.order = append(d.order, k)
	}
	return nil
}

// Memory bounds the detectors' counter tables (the per-sender,
// per-destination, per-text and per-limit-key state) by estimated bytes
// (filter/counters: about 100 bytes a key for a rate limit, 180 for a
// velocity window, 370 for a distinct-count sketch). Total is shared by the
// detectors that keep counters in the proportions of their MemoryShare
// (filter.Plugin) and the rate limits' RateLimitShare; a detector given a
// size of its own (memory.<detector>: 64MiB) takes that instead. A full
// table evicts the least recently used key of a sample
// (smsfw_filter_counter_evictions_total). Changing a detector's size on
// reload starts its counters afresh, as a new window does. Sizes are
// integers or take B, KiB, MiB, GiB.
type Memory struct {
	Total yamlx.ByteSize            // memory.total; default DefaultDetectorMemory
	Sizes map[string]yamlx.ByteSize // memory.<owner>
}

// RateLimitsOwner is the memory key and counter-metrics detector label of
// the limits: section's counters.
const RateLimitsOwner = "rate_limits"

// RateLimitShare is the limits' weight in memory.total, beside the
// detectors' MemoryShare.
const RateLimitShare = 20

// DefaultDetectorMemory is detectors.memory.total when not set.
const DefaultDetectorMemory = 256 * yamlx.MiB

// MemoryOwners returns the owners of counter tables with their weights:
// every registered detector with a memory share, and the rate limits.
func MemoryOwners() map[string]int64 {
	out := map[string]int64{RateLimitsOwner: RateLimitShare}
	for _, p := range filter.Plugins() {
		if p.MemoryShare > 0 {
			out[p.Name] = p.MemoryShare
		}
	}
	return out
}

// Budget returns an owner's byte budget: its own size, or its share of the
// total.
func (m Memory) Budget(owner string) int64 {
	if own := m.Sizes[owner]; own > 0 {
		return int64(own)
	}
	total := m.Total
	if total <= 0 {
		total = DefaultDetectorMemory
	}
	shares := MemoryOwners()
	var sum int64
	for _, w := range shares {
		sum += w
	}
	if sum == 0 {
		return 0
	}
	return int64(total) * shares[owner] / sum
}
